//! Arrays of arbitrary, possibly huge, shapes through broadcasting, elementwise operations,
//! reshape, concatenate, stack, transpose, reductions and rechunking. The checks live in
//! `blockwork::array::fuzz_array_shapes`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blockwork::array::fuzz_array_shapes(data));
