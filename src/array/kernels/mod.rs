//! Kernels: the loops that compute blocks. Each writes into a buffer it is given, checks
//! shapes once at entry, and allocates nothing per element.

pub(crate) mod eval;
pub(crate) mod ops;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod walk;
