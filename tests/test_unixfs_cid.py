"""IPFS content ids computed by algo_tracer.hashing.unixfs equal what the real kubo prints.

The expected CIDs in tests/vectors/ipfs-cid-v1.json come from kubo itself
(tests/vectors/ipfs_cid_cases.py says how); nothing in this file computes them.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import base58
import pytest

from algo_tracer.errors import CidError, InputError
from algo_tracer.hashing import unixfs
from algo_tracer.hashing._hamt import murmur3_64
from algo_tracer.hashing.unixfs import (
    CHUNK_SIZE,
    CidHasher,
    cid_of_bytes,
    cid_of_directory,
    cid_of_file,
    cid_of_path,
    directory_entries,
    parse_cid,
    same_content,
)

VECTORS_DIR = Path(__file__).parent / "vectors"
VECTORS = json.loads((VECTORS_DIR / "ipfs-cid-v1.json").read_text(encoding="utf-8"))


def _load_cases() -> Any:
    spec = importlib.util.spec_from_file_location(
        "ipfs_cid_cases", VECTORS_DIR / "ipfs_cid_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _load_cases()
FILES = [v for v in VECTORS["files"] if not v["slow"]]
SLOW_FILES = [v for v in VECTORS["files"] if v["slow"]]
DIRECTORIES = VECTORS["directories"]


def test_the_vectors_cover_every_case_and_came_from_kubo():
    assert VECTORS["kubo"].startswith("0.4")
    names = {c["name"] for c in CASES.FILE_CASES + CASES.SLOW_FILE_CASES + CASES.DIRECTORY_CASES}
    assert names == {v["name"] for v in VECTORS["files"] + DIRECTORIES}
    assert all(v["cid"].startswith("baf") for v in VECTORS["files"] + DIRECTORIES)


@pytest.mark.parametrize("vector", FILES, ids=[v["name"] for v in FILES])
def test_a_file_gets_the_cid_kubo_prints(vector, tmp_path):
    path = tmp_path / "f"
    CASES.write_content(path, vector["content"])
    seen: list[int] = []
    assert cid_of_file(path, progress=seen.append) == vector["cid"]
    assert sum(seen) == path.stat().st_size
    assert cid_of_path(str(path)) == vector["cid"]


@pytest.mark.parametrize("vector", FILES, ids=[v["name"] for v in FILES])
def test_bytes_fed_in_odd_pieces_get_the_same_cid(vector):
    data = CASES.content_bytes(vector["content"])
    assert cid_of_bytes(data) == vector["cid"]
    hasher = CidHasher()
    view = memoryview(data)
    pos, sizes = 0, [1, 7, CHUNK_SIZE - 8, CHUNK_SIZE, 3 * CHUNK_SIZE + 5, 65_536]
    i = 0
    while pos < len(view):
        step = sizes[i % len(sizes)]
        hasher.feed(view[pos:pos + step])
        pos += step
        i += 1
    hasher.feed(b"")
    assert hasher.size == len(data)
    assert hasher.finish() == vector["cid"]
    assert hasher.finish() == vector["cid"]  # finishing twice answers the same


class _ZeroChunksHashedOnce(CidHasher):
    """Hashes the all-zero chunk once and reuses its block: 7.9 GB of SHA-256 would take
    half a minute or more, and what this vector checks is the tree above the leaves."""

    def __init__(self, zeros: bytes) -> None:
        super().__init__()
        self.zeros = zeros
        self.zero_block = super()._leaf_block(zeros)

    def _leaf_block(self, chunk):
        # Every full chunk fed is a view of `zeros` (checked by identity: comparing 256 KiB
        # views byte by byte would cost more than hashing them).
        if len(chunk) == CHUNK_SIZE and getattr(chunk, "obj", None) is self.zeros:
            return self.zero_block
        return super()._leaf_block(chunk)


@pytest.mark.parametrize("vector", SLOW_FILES, ids=[v["name"] for v in SLOW_FILES])
def test_a_file_needing_three_layers_gets_the_cid_kubo_prints(vector):
    # 7.9 GB of zeros, fed from one zero chunk: nothing is written to disk.
    size = vector["content"]["zeros"]
    raw = bytes(CHUNK_SIZE)
    zeros = memoryview(raw)
    hasher = _ZeroChunksHashedOnce(raw)
    for _ in range(size // CHUNK_SIZE):
        hasher.feed(zeros)
    hasher.feed(zeros[:size % CHUNK_SIZE])
    assert hasher.finish() == vector["cid"]


@pytest.mark.parametrize("vector", DIRECTORIES, ids=[v["name"] for v in DIRECTORIES])
def test_a_directory_gets_the_cid_kubo_prints(vector, tmp_path):
    root = CASES.build_directory(vector, tmp_path / "tree")
    seen: list[int] = []
    assert cid_of_directory(root, progress=seen.append) == vector["cid"]
    assert sum(seen) == sum(p.lstat().st_size for p in root.rglob("*") if p.is_file()
                            and not p.is_symlink())
    assert cid_of_path(root) == vector["cid"]


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS["files"] + DIRECTORIES if v["name"] == name)


def test_what_the_directory_digest_ignores_is_left_out_of_the_cid(tmp_path):
    vector = _vector("dir-nested")
    root = CASES.build_directory(vector, tmp_path / "tree")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "sub" / "__pycache__").mkdir()
    (root / "sub" / "__pycache__" / "m.cpython-312.pyc").write_bytes(b"\x00")
    (root / "run.log").write_text("noise")
    assert cid_of_directory(root, ignore=["*.log"]) == vector["cid"]
    assert cid_of_directory(root) != vector["cid"]  # run.log is not ignored by default
    assert cid_of_directory(root, ignore=["*.log"], default_ignore=False) != vector["cid"]


def test_a_changed_byte_anywhere_changes_the_cid(tmp_path):
    vector = _vector("dir-nested")
    root = CASES.build_directory(vector, tmp_path / "tree")
    big = root / "sub" / "big.bin"
    data = bytearray(big.read_bytes())
    data[CHUNK_SIZE + 1] ^= 1
    big.write_bytes(bytes(data))
    assert cid_of_directory(root) != vector["cid"]


def test_a_file_cid_streams_in_flat_memory(tmp_path):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        for i in range(200):  # 200 chunks: two layers of nodes
            f.write(bytes([i]) * CHUNK_SIZE)
    tracemalloc.start()
    try:
        cid_of_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK_SIZE, f"peak {peak} bytes for a {path.stat().st_size}-byte file"


def test_bad_paths_are_refused_with_the_fix(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        cid_of_path(tmp_path / "missing")
    with pytest.raises(InputError, match="no such file"):
        cid_of_file(tmp_path / "missing")
    with pytest.raises(InputError, match="not a directory"):
        cid_of_directory(Path(__file__))
    fifo = tmp_path / "d" / "pipe"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file, directory or symlink") as info:
        cid_of_directory(fifo.parent)
    assert "ignore=['pipe']" in str(info.value)
    assert cid_of_directory(fifo.parent, ignore=["pipe"]) == _vector("dir-empty")["cid"]
    with pytest.raises(InputError, match="is not a regular file or directory"):
        cid_of_path(fifo)


def test_feeding_after_finish_is_refused():
    hasher = CidHasher()
    hasher.finish()
    with pytest.raises(InputError, match="new CidHasher"):
        hasher.feed(b"x")


def test_murmur3_matches_the_reference_vectors():
    # MurmurHash3_x64_128 (seed 0) of the well-known pangram: e34bbc7bbc071b6c 7a433ca9c49a9347;
    # boxo keeps the first 64 bits, big-endian.
    assert murmur3_64(b"The quick brown fox jumps over the lazy dog").hex() == "e34bbc7bbc071b6c"
    assert murmur3_64(b"").hex() == "0000000000000000"


# --------------------------------------------------------------------------- parsing


def test_a_cid_parses_and_prints_back_the_same():
    for vector in VECTORS["files"] + DIRECTORIES:
        cid = parse_cid(vector["cid"])
        assert str(cid) == vector["cid"]
        assert cid.version == 1
        assert cid.codec_name == ("raw" if vector["cid"].startswith("bafk") else "dag-pb")


def test_other_spellings_of_the_same_cid_are_the_same_content():
    text = _vector("dir-nested")["cid"]
    cid = parse_cid(text)
    upper = "B" + text[1:].upper()
    z = "z" + base58.b58encode(cid.binary).decode()
    f = "f" + cid.binary.hex()
    v0 = base58.b58encode(b"\x12\x20" + cid.digest).decode()
    assert v0.startswith("Qm")
    for other in (upper, z, f, v0, f"  {text}\n"):
        assert same_content(text, other), other
        assert str(parse_cid(other)) == text
    assert parse_cid(v0).version == 0
    assert not same_content(text, _vector("dir-empty")["cid"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("bafy!!!", "not valid multibase"),
        ("bafybeig", "carries 0 digest bytes, not 32"),
        ("bafyb", "cut short or malformed in its multihash code"),
        ("xyz", "multibase prefix 'x'"),
        ("f0255122000", "version 2"),
        # dag-cbor (0x71): not UnixFS.
        ("f01711220" + "00" * 32, "codec 0x71"),
        # sha2-512 multihash.
        ("f01701340" + "00" * 64, "hash 0x13"),
        ("f017012200102", "carries 2 digest bytes, not 32"),
        ("Qm" + "1" * 44, "CIDv0"),
    ],
)
def test_malformed_cids_are_refused_with_the_problem_named(text, message):
    with pytest.raises(CidError, match=message) as info:
        parse_cid(text)
    assert info.value.fix


def test_a_cid_must_be_text():
    with pytest.raises(CidError, match="a CID is text, got bytes"):
        parse_cid(b"bafy")  # type: ignore[arg-type]  # the wrong type on purpose


def test_a_huge_bad_cid_is_not_repeated_whole():
    with pytest.raises(CidError) as info:
        parse_cid("b" + "!" * 10_000)
    assert len(str(info.value)) < 400


def test_the_module_examples_run():
    result = doctest.testmod(unixfs)
    assert result.attempted >= 2 and result.failed == 0



def test_directory_entries_list_what_the_cid_covers_parents_first(tmp_path):
    case = next(c for c in CASES.DIRECTORY_CASES if c["name"] == "dir-symlinks-and-hidden")
    root = CASES.build_directory(case, tmp_path / "t")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("x")
    entries = list(directory_entries(root))
    assert [(e.path, e.kind, e.target) for e in entries] == [
        (".config", "directory", None),
        (".hidden", "file", None),
        ("dangling", "symlink", "../nowhere/at all"),
        ("data.csv", "file", None),
        ("link-to-data", "symlink", "data.csv"),
        (".config/settings.json", "file", None),
    ]
    assert entries[0].source == str(root / ".config")
    names = {e.path for e in directory_entries(root, ignore=[".*"])}
    assert names == {"dangling", "data.csv", "link-to-data"}


def test_directory_entries_keep_names_as_they_are_on_disk(tmp_path):
    case = next(c for c in CASES.DIRECTORY_CASES if c["name"] == "dir-unicode-names")
    root = CASES.build_directory(case, tmp_path / "t")
    paths = {e.path for e in directory_entries(root)}
    assert "cafe\u0301.txt" in paths  # NFD stays NFD: kubo stores the bytes on disk
    assert "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt" in paths


def test_a_path_that_is_a_symlink_is_computed_for_its_target(tmp_path):
    vector = _vector("file-hello")
    target = tmp_path / "hello.txt"
    CASES.write_content(target, vector["content"])
    (tmp_path / "link").symlink_to(target)
    assert cid_of_path(tmp_path / "link") == vector["cid"]
    tree = CASES.build_directory(_vector("dir-nested"), tmp_path / "tree")
    (tmp_path / "tree-link").symlink_to(tree)
    assert cid_of_path(tmp_path / "tree-link") == _vector("dir-nested")["cid"]



def test_a_tree_too_deep_for_the_stack_is_refused_with_a_message(tmp_path):
    # 1,200 levels (2,400 bytes of path, under Linux's 4,096) against Python's 1,000 frames.
    deep = tmp_path / "root"
    level = str(deep)
    os.mkdir(level)
    for _ in range(1200):  # os.makedirs would itself recurse past the limit
        level = os.path.join(level, "d")
        os.mkdir(level)
    try:
        with pytest.raises(InputError, match="nested too deeply") as info:
            cid_of_directory(deep)
        assert "shallower" in str(info.value)
    finally:  # removed bottom-up here: a recursive rmtree could hit the same limit
        while level != str(deep.parent):
            os.rmdir(level)
            level = os.path.dirname(level)
