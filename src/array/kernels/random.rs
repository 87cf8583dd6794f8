//! The counter-based generator behind `random`: each value is a pure function of the seed
//! and the element's linear position in the whole array.
//!
//! Value `i` of a stream with key `k` is SplitMix64's output function applied to
//! `k + (i + 1) * GAMMA` (the golden-ratio increment): exactly the `i`-th output of a
//! SplitMix64 generator seeded with `k`, a generator that passes BigCrush. Because a value
//! depends only on `(seed, i)`, results do not depend on the chunking, on the order blocks
//! run in, or on the number of threads. Keys are derived from the seed by one more mixing
//! step, with a distinct constant per stream (the two uniforms of a normal draw).

/// SplitMix64's increment: 2^64 divided by the golden ratio, odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Stafford's "Mix13").
#[inline(always)]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of stream `stream` for `seed`.
pub(crate) fn key(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_add(0x5851_F42D_4C95_7F2D)))
}

/// The raw 64 random bits at position `i`.
#[inline(always)]
pub(crate) fn bits(key: u64, i: u64) -> u64 {
    mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// A double uniform on `[0, 1)` from the top 52 bits (exponent trick: no int-to-float
/// conversion, so it vectorises on any x86-64).
#[inline(always)]
pub(crate) fn unit(b: u64) -> f64 {
    f64::from_bits(0x3FF0_0000_0000_0000 | (b >> 12)) - 1.0
}

/// `out[j] = lo + scale * U(base + j * delta)`.
#[inline]
pub(crate) fn uniform_into(key: u64, base: u64, delta: u64, lo: f64, scale: f64, out: &mut [f64]) {
    if delta == 1 {
        #[cfg(target_arch = "x86_64")]
        if avx512_usable() {
            // SAFETY: the CPU has AVX-512F, AVX-512DQ and AVX-512VL, checked just above:
            // every feature `uniform_avx512` is compiled for.
            unsafe { uniform_avx512(key, base, lo, scale, out) };
            return;
        }
        uniform_contiguous(key, base, lo, scale, out);
    } else {
        for (j, o) in out.iter_mut().enumerate() {
            let i = base.wrapping_add((j as u64).wrapping_mul(delta));
            *o = lo + scale * unit(bits(key, i));
        }
    }
}

/// Whether the CPU has every feature [`uniform_avx512`] is compiled for.
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx512_usable() -> bool {
    all_avx512_features(
        std::arch::is_x86_feature_detected!("avx512f"),
        std::arch::is_x86_feature_detected!("avx512dq"),
        std::arch::is_x86_feature_detected!("avx512vl"),
    )
}

/// The AVX-512 path needs F, DQ and VL together (the `target_feature` list of
/// [`uniform_avx512`]); any one missing rules it out.
#[cfg(target_arch = "x86_64")]
#[inline]
fn all_avx512_features(f: bool, dq: bool, vl: bool) -> bool {
    f && dq && vl
}

/// The contiguous case, written so the loop has no cross-iteration dependency.
#[inline(always)]
fn uniform_contiguous(key: u64, base: u64, lo: f64, scale: f64, out: &mut [f64]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = lo + scale * unit(bits(key, base.wrapping_add(j as u64)));
    }
}

/// [`uniform_contiguous`] compiled for AVX-512, where 64-bit multiplies vectorise
/// (`vpmullq`); without it they are emulated with three 32-bit multiplies each.
#[cfg(target_arch = "x86_64")]
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512DQ and AVX-512VL.
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn uniform_avx512(key: u64, base: u64, lo: f64, scale: f64, out: &mut [f64]) {
    uniform_contiguous(key, base, lo, scale, out)
}

/// `out[j]` normal with `mean` and `std` at position `base + j * delta` (Box-Muller on two
/// independent streams).
pub(crate) fn normal_into(
    k1: u64,
    k2: u64,
    base: u64,
    delta: u64,
    mean: f64,
    std: f64,
    out: &mut [f64],
) {
    for (j, o) in out.iter_mut().enumerate() {
        let i = base.wrapping_add((j as u64).wrapping_mul(delta));
        let u1 = 1.0 - unit(bits(k1, i)); // in (0, 1]: ln is finite
        let u2 = unit(bits(k2, i));
        *o = mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    }
}

/// `out[j]` uniform on the integers `[lo, lo + range)` (multiply-shift; the bias is below
/// `range / 2^64`).
pub(crate) fn integers_into(key: u64, base: u64, delta: u64, lo: i64, range: u64, out: &mut [i64]) {
    for (j, o) in out.iter_mut().enumerate() {
        let i = base.wrapping_add((j as u64).wrapping_mul(delta));
        let r = ((bits(key, i) as u128 * range as u128) >> 64) as u64;
        *o = lo.wrapping_add(r as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sequential_splitmix() {
        // A plain SplitMix64 generator, written out, gives the same stream.
        let k = key(42, 0);
        let mut state = k;
        for i in 0..100u64 {
            state = state.wrapping_add(GAMMA);
            assert_eq!(bits(k, i), mix64(state));
        }
    }

    #[test]
    fn uniform_moments() {
        let mut v = vec![0.0; 100_000];
        uniform_into(key(7, 0), 0, 1, 0.0, 1.0, &mut v);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mut w = vec![0.0; 1000];
        uniform_into(key(7, 0), 10, 1, 0.0, 1.0, &mut w);
        assert_eq!(&w[..], &v[10..1010]);
        uniform_contiguous(key(7, 0), 10, 0.0, 1.0, &mut w);
        assert_eq!(&w[..], &v[10..1010]);
        let mut strided = vec![0.0; 10];
        uniform_into(key(7, 0), 5, 3, 0.0, 1.0, &mut strided);
        assert!(strided.iter().enumerate().all(|(j, &x)| x == v[5 + 3 * j]));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod avx512_tests {
    use super::*;

    #[test]
    fn avx512_path_needs_every_feature_it_is_compiled_for() {
        for mask in 0..8u8 {
            let (f, dq, vl) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
            assert_eq!(all_avx512_features(f, dq, vl), mask == 7, "{f} {dq} {vl}");
        }
        let want = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl");
        assert_eq!(avx512_usable(), want);
        // Both paths give the same numbers.
        let mut fast = vec![0.0; 37];
        uniform_into(7, 11, 1, -1.0, 2.0, &mut fast);
        let mut slow = vec![0.0; 37];
        uniform_contiguous(7, 11, -1.0, 2.0, &mut slow);
        assert_eq!(fast, slow);
    }
}
