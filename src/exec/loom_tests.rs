//! Loom models of the executor's lock-free protocols (`RUSTFLAGS="--cfg loom"`).
