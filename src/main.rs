//! The `blockwork` command-line tool.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    println!("blockwork {}", env!("CARGO_PKG_VERSION"));
}
