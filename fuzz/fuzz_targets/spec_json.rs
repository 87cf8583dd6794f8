//! Arbitrary bytes as a spec file: read, check, write back, and run small graphs on both
//! executors. The checks live in `blockwork::spec::fuzz_spec_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blockwork::spec::fuzz_spec_json(data));
