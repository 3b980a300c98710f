"""Token counting from Python: ``fivelens.count_tokens`` against ``tiktoken`` on a 2,000-token
text (both are Rust BPE underneath), counts checked identical, for both vocabularies.

``tiktoken``'s vocabulary files come from the ``tiktoken-rs`` crate in cargo's registry (no
download; ``tiktoken`` checks their SHA-256). Usage: python tokens.py [--json OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def tiktoken_cache() -> str:
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--manifest-path", str(REPO / "Cargo.toml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assets = next(
        Path(p["manifest_path"]).parent / "assets" for p in json.loads(meta)["packages"] if p["name"] == "tiktoken-rs"
    )
    cache = tempfile.mkdtemp(prefix="tiktoken-cache-")
    for name in ("o200k_base", "cl100k_base"):
        shutil.copy(assets / f"{name}.tiktoken", Path(cache) / hashlib.sha1(URL.format(name).encode()).hexdigest())
    return cache


def text_of(tokens: int, count: object) -> str:
    lines = (REPO / "tests" / "data" / "token_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    out = ""
    i = 0
    while count(out) < tokens:  # type: ignore[operator]
        out += json.loads(lines[i % len(lines)])["text"] + "\n"
        i += 1
    return out


def per_call_us(fn: object, rounds: int = 7, n: int = 300) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()  # type: ignore[operator]
        samples.append((time.perf_counter_ns() - t0) / n / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ["TIKTOKEN_CACHE_DIR"] = tiktoken_cache()
    import tiktoken

    import fivelens

    result: dict[str, object] = {}
    for name in ("o200k_base", "cl100k_base"):
        enc = tiktoken.get_encoding(name)
        text = text_of(2000, lambda t, enc=enc: len(enc.encode_ordinary(t)))
        expected = len(enc.encode_ordinary(text))
        assert fivelens.count_tokens(text, encoding=name) == expected
        ours = per_call_us(lambda text=text, name=name: fivelens.count_tokens(text, encoding=name))
        theirs = per_call_us(lambda text=text, enc=enc: len(enc.encode_ordinary(text)))
        result[name] = {"tokens": expected, "fivelens_us": ours, "tiktoken_us": theirs, "ratio": ours / theirs}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
