//! Blocked arrays end to end: create, combine, slice, reduce, multiply, store and load.
//!
//! ```text
//! cargo run --release --example arrays
//! ```

use blockwork::Pool;
use blockwork::array::{ArrayContext, BlockData, Boundary, DType, Idx};
use ndarray::{ArrayD, IxDyn};

/// The elements of a 1-d result as `[a, b, ...]`, each with `digits` decimals.
fn list(a: &ArrayD<f64>, digits: usize) -> String {
    let items: Vec<String> = a.iter().map(|v| format!("{v:.digits$}")).collect();
    format!("[{}]", items.join(", "))
}

fn main() -> blockwork::Result<()> {
    let pool = Pool::new(2)?;
    let ctx = ArrayContext::new();

    // An ndarray cut into 3 x 4 blocks, and a random array from a seed.
    let a = ArrayD::from_shape_fn(IxDyn(&[6, 8]), |i| (i[0] * 8 + i[1]) as f64);
    let x = ctx.from_ndarray(&a, [3, 4])?;
    let r = ctx.random(&[6, 8], [2, 8], 42)?;

    // Elementwise chains fuse into one task per block, whatever the operands' chunks.
    let y = x.mul(0.5)?.add(&r)?.sqrt()?;
    println!(
        "fused graph: {} nodes for {} blocks",
        y.graph()?.len(),
        y.chunks().nblocks()
    );
    let row = y
        .index(&[Idx::Int(0), Idx::slice(None, Some(3), 1)])?
        .compute::<f64>(&pool)?;
    println!("y[0, :3] = {}", list(&row, 4));

    // Reductions over all axes or some, NumPy style.
    println!(
        "mean {}, std {:.4}",
        x.mean(None)?.compute_scalar(&pool)?.as_f64(),
        x.std(None, 1)?.compute_scalar(&pool)?.as_f64()
    );
    println!(
        "column sums {}",
        list(&x.sum(Some(0))?.compute::<f64>(&pool)?, 0)
    );
    println!(
        "argmax of r: {}",
        r.argmax(None)?.compute_scalar(&pool)?.as_f64()
    );

    // Slicing with negative steps across blocks, transpose, matmul.
    let rev = x.index(&[Idx::slice(None, None, -2), Idx::Ellipsis])?;
    println!("every other row, reversed: shape {:?}", rev.shape());
    let gram = x.t().matmul(&x)?;
    println!(
        "x.T @ x: shape {:?}, element [0, 0] {}",
        gram.shape(),
        gram.index(&[Idx::Int(0), Idx::Int(0)])?
            .compute_scalar(&pool)?
            .as_f64()
    );

    // Blockwise functions with halos.
    let smooth = x.map_overlap("box3", &[1, 1], Boundary::Reflect, |b, _| match b {
        BlockData::F64(e) => {
            let s = ArrayD::from_shape_fn(e.raw_dim(), |i| {
                let (r, c) = (
                    i[0].clamp(1, e.shape()[0] - 2),
                    i[1].clamp(1, e.shape()[1] - 2),
                );
                e.slice(ndarray::s![r - 1..=r + 1, c - 1..=c + 1]).sum() / 9.0
            });
            Ok(BlockData::F64(s.into_dyn()))
        }
        _ => Err("expected f64".into()),
    })?;
    println!(
        "smoothed corner {:.4}",
        smooth
            .index(&[Idx::Int(0), Idx::Int(0)])?
            .compute_scalar(&pool)?
            .as_f64()
    );

    // Store to .npy block by block, read it back memory-mapped.
    let path = std::env::temp_dir().join("blockwork-example.npy");
    y.astype(DType::F32)?.to_npy(&path, &pool)?;
    let back = ctx.from_npy(&path, 4)?;
    println!(
        "read back {:?} of shape {:?}, sum {:.4}",
        back.dtype(),
        back.shape(),
        back.sum(None)?.compute_scalar(&pool)?.as_f64()
    );
    std::fs::remove_file(&path).ok();
    Ok(())
}
