//! A structured arbitrary DAG run on `Sequential` and `Pool`: results and freeing must agree.
//! The checks live in `blockwork::testing::fuzz_dag_differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blockwork::testing::fuzz_dag_differential(data));
