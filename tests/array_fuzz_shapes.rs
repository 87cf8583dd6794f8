//! Sweeps of inputs through the checks of the `array_shapes` fuzz target (its corpus and
//! regression inputs are replayed by `tests/fuzz_corpus.rs`; `fuzz/README.md` says how to run
//! the fuzzer itself).

/// Every input of up to three bytes, and a sweep of longer ones, through the checks.
#[test]
fn array_shapes_short_inputs() {
    for a in 0..=255u8 {
        blockwork::array::fuzz_array_shapes(&[a]);
        for b in (0..=255u8).step_by(7) {
            blockwork::array::fuzz_array_shapes(&[a, b]);
            blockwork::array::fuzz_array_shapes(&[a % 8, 1, b, 0, 1, b, 0, 4]);
        }
    }
}

/// A fixed pseudo-random sweep of inputs, biased towards the bytes that pick huge lengths.
#[test]
fn array_shapes_pseudo_random_inputs() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 14) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 4 == 0 {
                    240 + (r >> 8) as u8 % 9
                } else {
                    (r >> 8) as u8
                }
            })
            .collect();
        blockwork::array::fuzz_array_shapes(&bytes);
    }
}
