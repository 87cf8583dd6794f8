//! An arbitrary index expression on a small blocked array, compared with NumPy's rules. The
//! checks live in `blockwork::array::fuzz_array_index`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blockwork::array::fuzz_array_index(data));
