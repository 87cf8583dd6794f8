//! Non-temporal ("streaming") stores for output blocks larger than the caches: the lines go
//! to memory without first being read in for ownership, so writing a block costs its bytes
//! once instead of twice, and the block does not push the inputs out of the cache.

/// Output blocks of at least this many bytes are written with streaming stores: far more
/// than a core's L2, so the block would leave the cache before anyone read it anyway.
pub(crate) const STREAM_MIN_BYTES: usize = 4 << 20;

/// Copies `src` into `dst` (the shorter length of the two) with streaming stores where the
/// target has them (x86_64: SSE2's `movntdq`, 16 bytes at a time, the unaligned ends copied
/// plainly). Call [`fence`] before anyone else may read `dst`.
#[inline]
pub(crate) fn copy<T: Copy>(src: &[T], dst: &mut [T]) {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    let size = std::mem::size_of::<T>();
    #[cfg(target_arch = "x86_64")]
    if size > 0 && size <= 16 && 16 % size == 0 && std::mem::align_of::<T>() == size {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        // Elements before the first 16-byte boundary of `dst` (whole elements: `dst` is
        // aligned to `size`, which divides 16), then 16-byte pieces, then the rest.
        let head = (dst.as_ptr().align_offset(16)).min(n);
        dst[..head].copy_from_slice(&src[..head]);
        let per = 16 / size;
        let body = (n - head) / per;
        let (s, d) = (src[head..].as_ptr(), dst[head..].as_mut_ptr());
        for i in 0..body {
            // SAFETY: piece `i` covers elements `head + i * per ..` up to `+ per`, inside
            // both slices since `head + body * per <= n`; `d` is 16-byte aligned (from
            // `align_offset`) and so is every piece after it, as `_mm_stream_si128` needs;
            // the source load needs no alignment; `T` is `Copy`, so moving its bytes is
            // moving its values; SSE2 is part of every x86_64 CPU.
            unsafe {
                let v = _mm_loadu_si128(s.add(i * per).cast::<__m128i>());
                _mm_stream_si128(d.add(i * per).cast::<__m128i>(), v);
            }
        }
        let done = head + body * per;
        dst[done..].copy_from_slice(&src[done..]);
        return;
    }
    dst.copy_from_slice(src);
}

/// Orders the streaming stores made so far before any later store (x86_64's `sfence`), so
/// that a block is complete in memory before it is handed to another thread.
#[inline]
pub(crate) fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` only orders this thread's stores; SSE is part of every x86_64 CPU.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

#[cfg(test)]
mod tests {
    use super::{copy, fence};

    #[test]
    fn copies_every_element_at_every_alignment() {
        // Every start offset and length around the 16-byte pieces, for each element size.
        fn check<T: Copy + PartialEq + std::fmt::Debug>(make: impl Fn(usize) -> T, zero: T) {
            let src: Vec<T> = (0..100).map(&make).collect();
            for start in 0..4 {
                for len in 0..40 {
                    let mut dst = [zero; 100];
                    copy(&src[start..start + len], &mut dst[start..start + len]);
                    fence();
                    for (i, d) in dst.iter().enumerate() {
                        let want = if (start..start + len).contains(&i) {
                            src[i]
                        } else {
                            zero
                        };
                        assert_eq!(*d, want, "start {start} len {len} at {i}");
                    }
                }
            }
        }
        check(|i| i as f64 + 0.5, 0.0f64);
        check(|i| i as f32 + 0.5, 0.0f32);
        check(|i| i as i64 + 1, 0i64);
        check(|i| i as i32 + 1, 0i32);
        check(|i| i % 3 == 0, false);
    }

    #[test]
    fn copies_the_shorter_length() {
        let mut dst = [0.0f64; 3];
        copy(&[1.0, 2.0, 3.0, 4.0, 5.0], &mut dst);
        assert_eq!(dst, [1.0, 2.0, 3.0]);
    }
}
