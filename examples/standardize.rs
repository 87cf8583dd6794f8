//! A small numeric application, written the way a user would: standardize the columns of a
//! data matrix held by the application, then compute the covariance of the standardized
//! columns and a corner of them in one run, and fit a line through the covariance's first
//! row with an ordinary function called lazily.
//!
//! ```text
//! cargo run --release --example standardize
//! ```

use blockwork::array::{ArrayContext, Reduction};
use blockwork::ndarray::{Array2, Axis, Ix2};
use blockwork::{Pool, compute, delayed, s};

/// Least-squares slope of `ys` against `0, 1, 2, ...`.
fn slope(ys: Vec<f64>) -> f64 {
    let n = ys.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - mx) * (y - my))
        .sum();
    let sxx: f64 = (0..ys.len()).map(|i| (i as f64 - mx).powi(2)).sum();
    sxy / sxx
}

fn main() -> blockwork::Result<()> {
    let pool = Pool::new(2)?;
    let ctx = ArrayContext::new();
    let data = Array2::from_shape_fn((20_000, 6), |(i, j)| {
        ((i * 31 + j * 7) % 101) as f64 / 10.0 + (i % (j + 2)) as f64
    });

    // The application's matrix, read in place in blocks of 5000 rows.
    let x = ctx.from_shared(data.clone().into_shared(), [5_000, 6])?;
    let columns = Reduction::axis(Some(0)).keepdims(true);
    let z = (&x - &x.mean(columns.clone())?) / &x.std(columns, 1)?;
    let cov = z.t().matmul(&z)? / (data.nrows() - 1) as f64;
    let corner = z.slice(s![..3, ..2])?;

    // Both results in one run, as 2-d ndarrays: `z` is computed once for the two.
    let (cov, corner) = compute(
        (&cov.typed::<f64, Ix2>()?, &corner.typed::<f64, Ix2>()?),
        &pool,
    )?;
    println!("covariance of the standardized columns:");
    for row in cov.outer_iter() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:6.3}")).collect();
        println!("  {}", cells.join(" "));
    }
    println!(
        "z[:3, :2] = {:?}",
        corner.as_slice().expect("standard layout")
    );

    // A reference computed directly with ndarray.
    let mean = data.mean_axis(Axis(0)).expect("rows");
    let std = data.std_axis(Axis(0), 1.0);
    let zr = (&data - &mean) / &std;
    let want = zr.t().dot(&zr) / (data.nrows() - 1) as f64;
    let worst = cov
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("largest difference from ndarray: {worst:.2e}");
    assert!(worst < 1e-9);

    // An ordinary function over a result, called lazily.
    let first_row: Vec<f64> = cov.row(0).to_vec();
    let fit = delayed!(slope(first_row));
    println!("slope of the first row: {:.4}", fit.compute(&pool)?);
    Ok(())
}
