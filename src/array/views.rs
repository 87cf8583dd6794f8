//! Views: transpose, slicing, indexing and other reshuffles that read each output block
//! from one block of the input.
