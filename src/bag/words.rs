//! Splitting text into words at ASCII whitespace, 64 bytes at a time: a whitespace mask per
//! 64-byte chunk (SSE2 compares on x86_64), then the words' starts and ends from its bit
//! transitions, without a branch per byte. The one `unsafe` block is the vector load.

/// Bytes per mask.
const CHUNK: usize = 64;

/// Calls `f` with each word of `text`: the maximal runs of bytes that are not ASCII
/// whitespace (space, `\t`, `\n`, `\x0C`, `\r`), in order; the same words as
/// [`str::split_ascii_whitespace`]. Words of UTF-8 text are UTF-8, since they start and end
/// at ASCII bytes.
///
/// ```
/// use blockwork::bag::for_each_word;
/// let mut words = Vec::new();
/// for_each_word(b"  one\ttwo\r\nthree ", |w| words.push(w.to_vec()));
/// assert_eq!(words, [&b"one"[..], b"two", b"three"]);
/// ```
#[inline]
pub fn for_each_word(text: &[u8], mut f: impl FnMut(&[u8])) {
    // `start`: where the open word began, or `None` between words.
    let mut start: Option<usize> = None;
    // Whether the byte before the current chunk was whitespace (text begins after some).
    let mut prev_ws = 1u64;
    let mut base = 0;
    let (chunks, rest) = text.as_chunks::<CHUNK>();
    for c in chunks {
        words_in(text, base, mask(c), &mut prev_ws, &mut start, &mut f);
        base += CHUNK;
    }
    if !rest.is_empty() {
        // Pad with whitespace: a word running to the end of the text ends there.
        let mut c = [b' '; CHUNK];
        c[..rest.len()].copy_from_slice(rest);
        words_in(text, base, mask(&c), &mut prev_ws, &mut start, &mut f);
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

/// One chunk's words: bit `i` of `ws` says whether byte `base + i` is whitespace.
#[inline(always)]
fn words_in(
    text: &[u8],
    base: usize,
    ws: u64,
    prev_ws: &mut u64,
    start: &mut Option<usize>,
    f: &mut impl FnMut(&[u8]),
) {
    let before = (ws << 1) | *prev_ws;
    // A word starts where a byte is not whitespace and the one before it is, and ends
    // (exclusive) where a byte is whitespace and the one before it is not.
    let mut starts = !ws & before;
    let mut ends = ws & !before;
    *prev_ws = ws >> (CHUNK - 1);
    loop {
        match *start {
            Some(s) => {
                if ends == 0 {
                    return;
                }
                let e = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                // A padded chunk may end the last word past the text's end.
                f(&text[s..e.min(text.len())]);
                *start = None;
            }
            None => {
                if starts == 0 {
                    return;
                }
                *start = Some(base + starts.trailing_zeros() as usize);
                starts &= starts - 1;
            }
        }
    }
}

/// Bit `i` set when `c[i]` is ASCII whitespace: 9 `\t`, 10 `\n`, 12 `\x0C`, 13 `\r` or 32
/// (11, the vertical tab, is not, as in [`u8::is_ascii_whitespace`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask(c: &[u8; CHUNK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
    };
    let mut m = 0u64;
    for k in 0..CHUNK / 16 {
        // SAFETY: `c` holds CHUNK bytes, and bytes 16k..16k+16 lie inside it for every
        // k < CHUNK / 16; `_mm_loadu_si128` needs no alignment; the other intrinsics only
        // compute on registers, and SSE2, all they need, is part of every x86_64 CPU.
        let word = unsafe {
            let v: __m128i = _mm_loadu_si128(c.as_ptr().add(16 * k).cast());
            // b - 9 <= 4 (unsigned): 9..=13; minus 11; or 32.
            let d = _mm_sub_epi8(v, _mm_set1_epi8(9));
            let range = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(4)), d);
            let vt = _mm_cmpeq_epi8(v, _mm_set1_epi8(11));
            let space = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
            _mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(vt, range), space))
        };
        m |= u64::from(word as u16) << (16 * k);
    }
    m
}

/// Bit `i` set when `c[i]` is ASCII whitespace (as [`u8::is_ascii_whitespace`]).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn mask(c: &[u8; CHUNK]) -> u64 {
    let mut m = 0u64;
    for (i, &b) in c.iter().enumerate() {
        m |= u64::from(b.is_ascii_whitespace()) << i;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::for_each_word;

    fn words(text: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for_each_word(text, |w| out.push(w.to_vec()));
        out
    }

    /// The reference: `split_ascii_whitespace` over the same bytes (as Latin-1 free ASCII).
    fn reference(text: &[u8]) -> Vec<Vec<u8>> {
        text.split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn matches_split_ascii_whitespace() {
        // Every byte that matters around the chunk boundaries, pseudo-random texts of
        // lengths 0..300 from an alphabet heavy in whitespace (and vertical tab, which is
        // not whitespace here, as in `u8::is_ascii_whitespace`).
        let alphabet = b"ab \t\n\r\x0c\x0bxyz\xc3\xa9  ";
        let mut state = 7u64;
        for len in 0..300 {
            for _ in 0..8 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                assert_eq!(words(&text), reference(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn mask_matches_is_ascii_whitespace() {
        // Every byte value at every position of a chunk.
        for shift in 0..64 {
            let bytes: Vec<u8> = (0..256).map(|i| ((i + shift) % 256) as u8).collect();
            for c in bytes.as_chunks::<64>().0 {
                let m = super::mask(c);
                for (i, b) in c.iter().enumerate() {
                    assert_eq!(m >> i & 1 == 1, b.is_ascii_whitespace(), "byte {b}");
                }
            }
        }
    }

    #[test]
    fn words_across_chunks_and_at_the_ends() {
        let long = vec![b'w'; 200];
        assert_eq!(words(&long), vec![long.clone()]);
        let mut t = vec![b' '; 63];
        t.extend_from_slice(b"ab");
        t.extend(vec![b' '; 64]);
        t.push(b'c');
        assert_eq!(words(&t), vec![b"ab".to_vec(), b"c".to_vec()]);
        assert!(words(b"").is_empty());
        assert!(words(b" \n\t ").is_empty());
        // `str::split_ascii_whitespace` agrees on a real text.
        let s = "the quick\tbrown  fox\r\njumps\x0cover the lazy dog ";
        let want: Vec<Vec<u8>> = s
            .split_ascii_whitespace()
            .map(|w| w.as_bytes().to_vec())
            .collect();
        assert_eq!(words(s.as_bytes()), want);
    }
}
