"""Generate the word-count corpus of perf/BENCHMARKS.md §3, deterministically.

16 text files whose words are drawn from a 10 000-word vocabulary with a Zipf distribution
(p(rank k) ~ 1/k), 8-16 words a line, fixed seed. The same arguments always give the same
bytes. A stamp file (corpus.json) makes a second call with the same arguments a no-op.

    python gen_corpus.py --out data/corpus-200MB --bytes 200e6
"""

import argparse
import json
import os
import string

import numpy as np

from common import int_arg

STAMP = "corpus.json"


def vocabulary(rng, size):
    """`size` distinct lowercase words, 3-12 letters; shorter words get the lower ranks."""
    letters = np.array(list(string.ascii_lowercase))
    words, seen = [], set()
    while len(words) < size:
        length = int(rng.integers(3, 13))
        word = "".join(letters[rng.integers(0, 26, length)])
        if word not in seen:
            seen.add(word)
            words.append(word)
    words.sort(key=len)  # stable: ties keep their generation order
    return words


def write_file(path, target_bytes, vocab, cdf, rng, batch=200_000):
    written = 0
    with open(path, "w", encoding="ascii", newline="\n") as f:
        while written < target_bytes:
            idx = np.searchsorted(cdf, rng.random(batch), side="right")
            words = vocab[idx].tolist()
            widths = rng.integers(8, 17, batch // 8).tolist()
            lines, pos = [], 0
            for w in widths:
                if pos + w > len(words):
                    break
                line = " ".join(words[pos:pos + w]) + "\n"
                pos += w
                if written + len(line) > target_bytes:
                    f.write("".join(lines))
                    return written
                lines.append(line)
                written += len(line)
            f.write("".join(lines))
    return written


def generate(out, total_bytes, files=16, vocab_size=10_000, seed=20261125):
    params = {"bytes": total_bytes, "files": files, "vocab": vocab_size, "seed": seed,
              "zipf_s": 1.0, "version": 1}
    stamp = os.path.join(out, STAMP)
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f).get("params") == params:
                return
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary(rng, vocab_size), dtype=object)
    weights = 1.0 / np.arange(1, vocab_size + 1)
    cdf = np.cumsum(weights) / weights.sum()
    cdf[-1] = 1.0
    sizes = [total_bytes // files + (1 if i < total_bytes % files else 0) for i in range(files)]
    actual = 0
    for i, size in enumerate(sizes):
        file_rng = np.random.default_rng([seed, i])
        actual += write_file(os.path.join(out, f"part-{i:02d}.txt"), size, vocab, cdf, file_rng)
    with open(stamp, "w") as f:
        json.dump({"params": params, "actual_bytes": actual}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--bytes", type=int_arg, default=200_000_000, help="total size")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args()
    generate(args.out, args.bytes, args.files, args.vocab, args.seed)


if __name__ == "__main__":
    main()
