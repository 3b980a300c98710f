"""``fivelens.count_tokens`` gives exactly Python ``tiktoken``'s counts.

``tiktoken`` downloads its vocabulary files at first use, which cannot happen here; the same
files ship inside the ``tiktoken-rs`` crate (a dependency of the benchmarks, so cargo has it),
and are put where ``tiktoken`` looks for its cache (``TIKTOKEN_CACHE_DIR``, file named after the
SHA-1 of the download URL; ``tiktoken`` checks their SHA-256 before use).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import fivelens
from conftest import REPO

URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def tiktoken_rs_assets() -> Path:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--manifest-path", str(REPO / "Cargo.toml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for package in json.loads(out)["packages"]:
        if package["name"] == "tiktoken-rs":
            return Path(package["manifest_path"]).parent / "assets"
    raise AssertionError("tiktoken-rs is not in the workspace's dependencies")


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assets = tiktoken_rs_assets()
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, url in URLS.items():
        shutil.copy(assets / f"{name}.tiktoken", cache / hashlib.sha1(url.encode()).hexdigest())
    return cache


def corpus() -> list[str]:
    lines = (REPO / "tests" / "data" / "token_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def test_counts_equal_python_tiktoken(tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
    import tiktoken

    texts = corpus()
    assert len(texts) > 300
    for name, model in (("o200k_base", "gpt-4o"), ("cl100k_base", "gpt-4")):
        enc = tiktoken.get_encoding(name)
        assert tiktoken.encoding_for_model(model).name == name
        for text in texts:
            expected = len(enc.encode_ordinary(text))
            assert fivelens.count_tokens(text, encoding=name) == expected, (name, text)
            assert fivelens.count_tokens(text, model) == expected, (model, text)
    # Long input (the GIL is released for it) counts the same.
    long_text = "\n".join(texts)
    assert fivelens.count_tokens(long_text, "gpt-4o") == len(
        tiktoken.get_encoding("o200k_base").encode_ordinary(long_text)
    )
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tiktoken_cache)
