//! The word-count corpus of the bag benchmark: text files of words drawn from a fixed
//! vocabulary with a Zipf distribution, fully determined by a seed.
//!
//! ```
//! use blockwork::bag::corpus;
//! let dir = tempfile::tempdir()?;
//! let a = corpus::generate(dir.path(), 20_000, 2, corpus::SEED)?;
//! assert_eq!(a.len(), 2);
//! let first = std::fs::read(&a[0])?;
//! corpus::generate(dir.path(), 20_000, 2, corpus::SEED)?;
//! assert_eq!(std::fs::read(&a[0])?, first); // same seed, same bytes
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, ErrorKind, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Number of distinct words.
pub const VOCABULARY: usize = 10_000;
/// Exponent of the Zipf distribution: the word of rank `r` has weight `r^-ZIPF_EXPONENT`.
pub const ZIPF_EXPONENT: f64 = 1.0;
/// The seed of the benchmark corpus.
pub const SEED: u64 = 0x5EED_B0C5;
/// Most words on one line.
const MAX_LINE_WORDS: u64 = 16;

/// SplitMix64: a small, fast, well-mixed generator, enough for test data.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The words and their Zipf sampler.
#[derive(Clone, Debug)]
pub struct Vocabulary {
    words: Vec<String>,
    /// `cdf[r]`: probability of a rank `<= r`; the last is 1.
    cdf: Vec<f64>,
}

impl Vocabulary {
    /// `size` distinct lowercase words of 2 to 10 letters from `seed`, ranked in the
    /// order generated.
    pub fn new(size: usize, seed: u64) -> Vocabulary {
        let mut rng = SplitMix::new(seed);
        let mut seen = HashSet::with_capacity(size);
        let mut words = Vec::with_capacity(size);
        while words.len() < size {
            let len = 2 + rng.below(9) as usize;
            let w: String = (0..len)
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect();
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let weights: Vec<f64> = (1..=size)
            .map(|r| (r as f64).powf(-ZIPF_EXPONENT))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Vocabulary { words, cdf }
    }

    /// The words, most frequent first.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// A word drawn from the Zipf distribution.
    pub fn sample(&self, rng: &mut SplitMix) -> &str {
        let u = rng.next_f64();
        let r = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.words.len() - 1);
        &self.words[r]
    }
}

/// Writes `files` files `part-NN.txt` into `dir` (created if missing), about
/// `total_bytes` in all, of lines of 1 to 16 words separated by single spaces. The same
/// arguments always write the same bytes. Returns the paths in order. Each file is written
/// as [`write_atomically`](crate::files::write_atomically) does: a failure leaves no partial
/// file, a FIFO or device at a file's path is refused, and errors name the path.
pub fn generate(dir: &Path, total_bytes: u64, files: usize, seed: u64) -> Result<Vec<PathBuf>> {
    if files == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a corpus needs at least one file",
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", dir.display())))?;
    let vocab = Vocabulary::new(VOCABULARY, seed);
    let mut paths = Vec::with_capacity(files);
    for f in 0..files {
        let path = dir.join(format!("part-{f:02}.txt"));
        let target = total_bytes / files as u64
            + u64::from(f as u64 == files as u64 - 1) * (total_bytes % files as u64);
        let mut rng = SplitMix::new(seed ^ (f as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        crate::files::write_atomically(&path, |w| {
            let mut written = 0u64;
            let mut line = String::with_capacity(256);
            while written < target {
                line.clear();
                for i in 0..1 + rng.below(MAX_LINE_WORDS) {
                    if i > 0 {
                        line.push(' ');
                    }
                    line.push_str(vocab.sample(&mut rng));
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
                written += line.len() as u64;
            }
            Ok(())
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// The benchmark's word count over the files matching `pattern` (a glob): the files' lines
/// read in runs of whole lines ([`TextFiles::line_blocks`](super::TextFiles::line_blocks)),
/// one partition per file, the words of each run (split on ASCII whitespace by
/// [`for_each_word`](super::for_each_word)) counted in place as borrowed byte slices, the
/// per-partition tables merged in a tree, then the `k` most frequent words with their counts.
///
/// ```
/// use blockwork::{Sequential, bag::corpus};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("part-00.txt"), "a b a\nc a b\n")?;
/// let pattern = format!("{}/part-*.txt", dir.path().display());
/// let top = corpus::top_words(&pattern, 2, &Sequential::new())?;
/// assert_eq!(top, vec![("a".to_string(), 3), ("b".to_string(), 2)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn top_words<E: crate::Executor + ?Sized>(
    pattern: &str,
    k: usize,
    exec: &E,
) -> Result<Vec<(String, usize)>> {
    use super::{Bag, Counter, TextFiles, for_each_word};
    let blocks: Bag<String> = TextFiles::glob(pattern)?.line_blocks()?;
    let counts = blocks.frequencies_by(|text: &String, words: &mut Counter<[u8]>| {
        for_each_word(text.as_bytes(), |w| words.add(w))
    });
    let top = counts.topk(k, |&(_, n)| n).compute(exec)?;
    // The words come from UTF-8 text cut at ASCII bytes: they are UTF-8.
    Ok(top
        .into_iter()
        .map(|(w, n)| (String::from_utf8_lossy(&w).into_owned(), n))
        .collect())
}
