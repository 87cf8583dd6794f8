//! Arbitrary bytes as a spec file read with a small value budget and run unguarded: builtins
//! that grow, compare or convert values must stay within the budget or fail with `TooLarge`.
//! The checks live in `blockwork::spec::fuzz_spec_budget`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blockwork::spec::fuzz_spec_budget(data));
