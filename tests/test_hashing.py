"""Behaviour of algo_tracer.hashing (scheme algotrace-hash/v1, specified in docs/hashing.md)."""

from __future__ import annotations

import doctest
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algo_tracer import hashing
from algo_tracer.errors import InputError
from algo_tracer.hashing import (
    DEFAULT_IGNORE,
    DOMAIN_TAGS,
    SCHEME,
    Digest,
    canonical_json,
    dataframe_column_digests,
    digest_of,
    hash_any,
    hash_array,
    hash_bytes,
    hash_dataframe,
    hash_directory,
    hash_file,
    hash_model,
    hash_params,
    hash_path,
)

VECTORS_DIR = Path(__file__).parent / "vectors"
VECTORS = json.loads((VECTORS_DIR / "hashing-v1.json").read_text(encoding="utf-8"))


def _load_cases() -> Any:
    spec = importlib.util.spec_from_file_location(
        "hashing_v1_cases", VECTORS_DIR / "hashing_v1_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _load_cases()


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS["vectors"] if v["name"] == name)


def _tagged_sha256(tag: str, body: bytes) -> bytes:
    return hashlib.sha256(tag.encode() + b"\x00" + body).digest()


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(8, "little") + b


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_known_answer_vector_is_reproduced(vector: dict[str, Any]) -> None:
    assert CASES.compute(vector["kind"], vector["input"]) == {
        k: v for k, v in vector.items() if k not in ("name", "kind", "input")
    }


def test_vector_file_names_the_scheme_and_its_domain_tags() -> None:
    assert VECTORS["scheme"] == SCHEME == "algotrace-hash/v1"
    assert VECTORS["domain_tags"] == dict(DOMAIN_TAGS)
    assert VECTORS["default_ignore"] == list(DEFAULT_IGNORE)


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["vectors"] if "preimage_hex" in v], ids=lambda v: v["name"]
)
def test_vector_digest_is_sha256_of_tag_nul_preimage(vector: dict[str, Any]) -> None:
    tag = {
        "hash_bytes": vector["input"].get("domain"),
        "directory": DOMAIN_TAGS["directory"],
        "array": DOMAIN_TAGS["array"],
        "dataframe": DOMAIN_TAGS["dataframe"],
    }[vector["kind"]]
    expected = _tagged_sha256(tag, bytes.fromhex(vector["preimage_hex"]))
    assert vector["digest"] == f"sha256:{expected.hex()}"
    for column in vector.get("columns", {}).values():
        body = bytes.fromhex(column["preimage_hex"])
        assert (
            column["digest"]
            == f"sha256:{_tagged_sha256(DOMAIN_TAGS['dataframe-column'], body).hex()}"
        )


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["vectors"] if v["kind"] == "file"], ids=lambda v: v["name"]
)
def test_file_vectors_equal_plain_hashlib_sha256_of_the_content(vector: dict[str, Any]) -> None:
    content = CASES.file_content(vector["input"])
    assert vector["digest"] == "sha256:" + hashlib.sha256(content).hexdigest()


def test_params_vectors_equal_stdlib_sorted_compact_json() -> None:
    for vector in (v for v in VECTORS["vectors"] if v["kind"] == "params"):
        obj = json.loads(vector["input"]["json"])
        reference = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert vector["canonical_utf8"] == reference, vector["name"]
        body = reference.encode()
        assert (
            vector["digest"] == "sha256:" + _tagged_sha256("algotrace-hash/v1/params", body).hex()
        )


def test_directory_vector_matches_a_hand_built_manifest() -> None:
    def rec(kind: str, path: str, value: str, size: int) -> bytes:
        return f"{kind}\0{path}\0{value}\0{size}\n".encode()

    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    expected = b"".join(
        [  # sorted by UTF-8 bytes; ignored: .git, __pycache__, *.pyc, .DS_Store, *.log, data/raw/*
            rec("file", "a.txt", sha(b"hello\n"), 6),
            rec("file", "caf\u00e9.txt", sha(b"nfc"), 3),
            rec("symlink", "link-to-a", "a.txt", 5),
            rec("file", "new\nline.txt", sha(b"n"), 1),
            rec("file", "sub/b.bin", sha(bytes.fromhex("00010203ff")), 5),
            rec("file", "sub/deeper/c.csv", sha(b"x,y\n1,2\n"), 8),
            rec("symlink", "sub/outside", "../../etc/passwd", 16),
            rec("file", "with space.txt", sha(b""), 0),
        ]
    )
    vector = _vector("directory-tree")
    assert bytes.fromhex(vector["preimage_hex"]) == expected
    assert vector["digest"] == "sha256:" + _tagged_sha256(DOMAIN_TAGS["directory"], expected).hex()
    assert _vector("directory-tree-nfd-name")["digest"] == vector["digest"]


def test_array_vector_matches_a_hand_built_preimage() -> None:
    body = _lp(b"<i8") + _u64(2) + _u64(2) + _u64(3) + b"".join(_u64(i) for i in range(6))
    assert _vector("array-int64-2x3")["preimage_hex"] == body.hex()
    assert _vector("array-int64-2x3-fortran")["digest"] == _vector("array-int64-2x3")["digest"]
    assert (
        _vector("array-int32-big-endian")["digest"]
        == _vector("array-int32-little-endian")["digest"]
    )
    assert (
        _vector("array-float64-nan-payload")["digest"]
        == _vector("array-float64-specials")["digest"]
    )


def test_dataframe_vector_matches_a_hand_built_preimage() -> None:
    column = _lp(b'"x"') + _lp(b"<i8") + _u64(1) + _u64(2) + _u64(1) + _u64(2)
    column_digest = _tagged_sha256("algotrace-hash/v1/dataframe-column", column)
    frame = _u64(2) + _u64(1) + column_digest
    vector = _vector("dataframe-single-int64")
    assert vector["columns"]['"x"']["preimage_hex"] == column.hex()
    assert (
        vector["digest"] == "sha256:" + _tagged_sha256("algotrace-hash/v1/dataframe", frame).hex()
    )


def test_module_docstring_examples_run() -> None:
    result = doctest.testmod(hashing)
    assert result.attempted >= 3 and result.failed == 0


def test_importing_and_hashing_files_or_params_does_not_import_numpy_or_pandas(
    tmp_path: Path,
) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x")
    code = (
        "import sys; from algo_tracer import hashing as h; "
        f"h.hash_file({str(f)!r}); h.hash_directory({str(tmp_path)!r}); h.hash_params({{'a': 1}}); "
        "h.digest_of(b'x'); "
        "bad = [m for m in ('numpy', 'pandas', 'sklearn', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- Digest


def test_digest_renders_as_sha256_hex_and_parses_back_with_its_kind() -> None:
    d = hash_params({"a": 1})
    assert str(d) == f"sha256:{d.hex}" and len(d.hex) == 64
    assert Digest.parse(str(d), kind="params") == d
    assert Digest.parse(str(d).upper().replace("SHA256", "sha256"), kind="params") == d
    assert Digest.parse(str(d)) != d  # the kind is part of equality
    assert Digest.parse(str(d)).kind == "unknown"
    assert "params" in repr(d)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256:",
        "sha1:" + "00" * 20,
        "sha256:" + "0" * 63,
        "sha256:zz" + "0" * 62,
        "00" * 32,
        "sha256:" + "00 " * 31 + "00",
    ],
)
def test_digest_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(InputError, match="sha256:"):
        Digest.parse(text)


def test_digest_requires_32_bytes_and_a_kind() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        Digest("file", b"\x00" * 31)
    with pytest.raises(InputError, match="kind"):
        Digest("", b"\x00" * 32)
    # a bytearray on purpose: the field says bytes, and __post_init__ turns a bytearray into one
    assert Digest("file", bytearray(32)).value == bytes(32)  # type: ignore[arg-type]


def test_digests_of_different_kinds_are_never_equal() -> None:
    assert Digest("file", bytes(32)) != Digest("directory", bytes(32))


# --------------------------------------------------------------------------- hash_bytes


def test_hash_bytes_is_sha256_of_tag_nul_data_with_the_domain_as_default_kind() -> None:
    d = hash_bytes("algotrace/v1/manifest", b"abc")
    assert d.value == hashlib.sha256(b"algotrace/v1/manifest\x00abc").digest()
    assert d.kind == "algotrace/v1/manifest"
    assert hash_bytes("algotrace/v1/manifest", b"abc", kind="manifest").kind == "manifest"


def test_hash_bytes_separates_domains() -> None:
    assert hash_bytes("a/b", b"x").value != hash_bytes("a/c", b"x").value


@pytest.mark.parametrize("domain", ["", "has space", "caf\u00e9", "nul\x00", 5])
def test_hash_bytes_rejects_bad_domain_tags(domain: Any) -> None:
    with pytest.raises(InputError, match="domain tag"):
        hash_bytes(domain, b"x")


def test_hash_bytes_rejects_text() -> None:
    with pytest.raises(InputError, match=r"encode"):
        hash_bytes("a/b", "text")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


@pytest.fixture
def random_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(np.random.default_rng(0).bytes(700_001))
    return path


def test_file_digest_is_what_sha256sum_prints(random_file: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    out = subprocess.run(
        ["sha256sum", str(random_file)], capture_output=True, text=True, check=True
    )
    assert str(hash_file(random_file)) == "sha256:" + out.stdout.split()[0]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 1 << 18, 1 << 20, 10_000_000])
def test_file_digest_does_not_depend_on_the_chunk_size(random_file: Path, chunk_size: int) -> None:
    expected = hashlib.sha256(random_file.read_bytes()).digest()
    if chunk_size == 1:
        small = random_file.with_name("small.bin")
        small.write_bytes(random_file.read_bytes()[:3000])
        assert hash_file(small, chunk_size=1).value == hashlib.sha256(small.read_bytes()).digest()
        return
    assert hash_file(random_file, chunk_size=chunk_size).value == expected


def test_file_digest_is_the_same_from_a_path_a_str_a_file_object_and_bytes(
    random_file: Path,
) -> None:
    content = random_file.read_bytes()
    expected = hash_file(random_file)
    assert hash_file(str(random_file)) == expected
    with random_file.open("rb") as f:
        assert hash_file(f) == expected
    assert hash_file(io.BytesIO(content)) == expected
    assert digest_of(content) == expected == digest_of(bytearray(content))
    assert expected.kind == "file"


@pytest.mark.parametrize("position", [0, 350_000, 700_000])
def test_one_changed_byte_changes_the_file_digest(random_file: Path, position: int) -> None:
    before = hash_file(random_file)
    content = bytearray(random_file.read_bytes())
    content[position] ^= 0x01
    random_file.write_bytes(content)
    assert hash_file(random_file) != before


def test_file_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        hash_file(tmp_path / "missing")
    with pytest.raises(InputError, match="is a directory"):
        hash_file(tmp_path)
    with pytest.raises(InputError, match="binary mode"):
        hash_file(io.StringIO("text"))
    with pytest.raises(InputError, match="chunk_size"):
        hash_file(tmp_path / "x", chunk_size=0)
    with pytest.raises(InputError, match="path or a binary file object"):
        hash_file(42)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_256_MiB_file_is_hashed_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    size = 256 << 20
    with path.open("wb") as f:  # sparse: costs no disk, reads as zeros
        f.truncate(size)
        f.seek(size - 1)
        f.write(b"\x01")
    peak_rss = [0]
    stop = threading.Event()
    linux = Path("/proc/self/status").exists()

    def sample() -> None:
        while not stop.is_set():
            peak_rss[0] = max(peak_rss[0], _rss_bytes())
            time.sleep(0.005)

    base_rss = _rss_bytes() if linux else 0
    sampler = threading.Thread(target=sample, daemon=True)
    if linux:
        sampler.start()
    tracemalloc.start()
    try:
        digest = hash_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        stop.set()
    if linux:
        sampler.join()
    h = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(255):
        h.update(zeros)
    h.update(zeros[:-1] + b"\x01")
    assert digest.value == h.digest()
    assert peak < 2 << 20, f"traced peak {peak} bytes"
    if linux:
        assert peak_rss[0] - base_rss < 32 << 20, (
            f"RSS grew by {(peak_rss[0] - base_rss) >> 20} MiB"
        )


# --------------------------------------------------------------------------- directories


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    return root


FILES = {
    "a.txt": b"hello\n",
    "sub/b.bin": b"\x00\x01",
    "sub/deep/c.csv": b"x,y\n1,2\n",
    "z.txt": b"z",
}


def test_directory_digest_does_not_depend_on_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _tree(tmp_path / "one", FILES)
    two = _tree(tmp_path / "two", dict(reversed(list(FILES.items()))))
    expected = hash_directory(one).digest
    assert hash_directory(two).digest == expected

    real_scandir = os.scandir

    class Reversed:
        def __init__(self, path: str) -> None:
            self.entries = list(real_scandir(path))[::-1]

        def __enter__(self) -> list[os.DirEntry[str]]:
            return self.entries

        def __exit__(self, *exc: object) -> None:
            return None

    # the os module itself, which hashing._files calls scandir on
    monkeypatch.setattr(os, "scandir", Reversed)
    assert hash_directory(one).digest == expected


def test_directory_digest_does_not_depend_on_workers_or_chunk_size(tmp_path: Path) -> None:
    files = {f"f{i:03}.bin": bytes([i]) * (i * 997) for i in range(60)}
    files |= {f"large{i}.bin": bytes([i]) * ((1 << 20) + i) for i in range(6)}  # thread-pool path
    root = _tree(tmp_path, files)
    listing = hash_directory(root, workers=1)
    assert hash_directory(root, workers=2) == listing  # 6 large files > 2 * workers open slots
    assert hash_directory(root, workers=7) == listing
    assert hash_directory(root, chunk_size=4099).digest == listing.digest
    sizes = {e.path: e.size for e in listing.entries}
    assert sizes["large5.bin"] == (1 << 20) + 5
    assert listing.entries[-1].digest == digest_of(files["large5.bin"])


def test_directory_listing_gives_per_file_digests_and_sizes(tmp_path: Path) -> None:
    listing = hash_directory(_tree(tmp_path, FILES))
    assert [e.path for e in listing.entries] == ["a.txt", "sub/b.bin", "sub/deep/c.csv", "z.txt"]
    a = listing.entries[0]
    assert a.type == "file" and a.size == 6 and a.digest == digest_of(b"hello\n")
    assert listing.digest.kind == "directory"
    assert hash_path(tmp_path) == listing.digest
    assert digest_of(tmp_path) == listing.digest == digest_of(str(tmp_path))


def test_one_changed_byte_in_one_file_changes_the_directory_and_diff_names_it(
    tmp_path: Path,
) -> None:
    root = _tree(tmp_path, FILES)
    before = hash_directory(root)
    (root / "sub/b.bin").write_bytes(b"\x00\x02")
    after = hash_directory(root)
    assert after.digest != before.digest
    diff = before.diff(after)
    assert len(diff) == 1 and diff[0].startswith("changed: sub/b.bin: expected sha256:")


def test_added_removed_and_renamed_files_change_the_directory_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    before = hash_directory(root)
    (root / "new.txt").write_bytes(b"")
    (root / "z.txt").unlink()
    after = hash_directory(root)
    assert before.diff(after) == ["added: new.txt", "removed: z.txt"]
    (root / "new.txt").rename(root / "new2.txt")
    assert hash_directory(root).digest != after.digest


def test_empty_directories_are_ignored(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    before = hash_directory(root).digest
    (root / "empty" / "nested").mkdir(parents=True)
    assert hash_directory(root).digest == before


def test_symlinks_are_recorded_with_their_target_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    root = _tree(tmp_path / "root", FILES)
    (root / "out").symlink_to(outside)
    (root / "to-sub").symlink_to("sub", target_is_directory=True)
    (root / "dangling").symlink_to("nowhere")
    listing = hash_directory(root)
    links = {e.path: e for e in listing.entries if e.type == "symlink"}
    assert set(links) == {"out", "to-sub", "dangling"}
    assert links["out"].target == str(outside) and links["out"].digest is None
    assert not any(e.path.startswith("to-sub/") for e in listing.entries)

    outside.write_bytes(b"changed outside the tree")
    assert hash_directory(root).digest == listing.digest
    (root / "dangling").unlink()
    (root / "dangling").symlink_to("elsewhere")
    assert hash_directory(root).digest != listing.digest


def test_a_file_replaced_by_a_symlink_to_equal_content_changes_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", FILES)
    before = hash_directory(root).digest
    (tmp_path / "copy.txt").write_bytes(FILES["a.txt"])
    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to(tmp_path / "copy.txt")
    assert hash_directory(root).digest != before


def test_a_symlinked_root_is_followed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", FILES)
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    assert hash_directory(tmp_path / "alias").digest == hash_directory(root).digest


def test_default_ignores_skip_vcs_caches_and_os_litter(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    before = hash_directory(root).digest
    _tree(
        root,
        {
            ".git/HEAD": b"ref",
            "sub/__pycache__/m.cpython-312.pyc": b"\x00",
            "stray.pyc": b"\x00",
            ".DS_Store": b"\x00",
            "sub/.ipynb_checkpoints/n.ipynb": b"{}",
            ".algo-tracer/journal.sqlite": b"wal",
        },
    )
    assert hash_directory(root).digest == before
    included = {e.path for e in hash_directory(root, default_ignore=False).entries}
    assert {".git/HEAD", "stray.pyc", ".DS_Store"} <= included
    assert ".git" in DEFAULT_IGNORE


def test_ignore_patterns_match_names_at_any_depth_or_whole_paths(tmp_path: Path) -> None:
    root = _tree(tmp_path, FILES)
    before = hash_directory(root).digest
    _tree(
        root,
        {"run.log": b"1", "sub/deep/x.log": b"2", "data/raw/big.bin": b"3", "wandb/run/f": b"4"},
    )
    assert hash_directory(root, ignore=["*.log", "data/raw/*", "wandb"]).digest == before
    assert hash_directory(root, ignore="*.log").digest != before  # a single str is one pattern
    kept = {e.path for e in hash_directory(root, ignore=["raw/*"]).entries}
    assert "data/raw/big.bin" in kept  # patterns with "/" are anchored at the root
    assert hash_directory(root, ignore=["/data/raw/*", "*.log", "wandb"]).digest == before


def test_ignore_patterns_must_be_non_empty_strings(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="glob"):
        hash_directory(tmp_path, ignore=[""])
    with pytest.raises(InputError, match="glob"):
        hash_directory(tmp_path, ignore=[3])  # type: ignore[list-item]


def test_paths_are_nfc_normalised(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "caf\u00e9.txt")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    a = _tree(tmp_path / "a", {nfc: b"x"})
    b = _tree(tmp_path / "b", {nfd: b"x"})
    assert hash_directory(a).digest == hash_directory(b).digest
    assert hash_directory(b).entries[0].path == nfc


def test_names_colliding_after_nfc_are_refused(tmp_path: Path) -> None:
    nfc = "caf\u00e9.txt"
    _tree(tmp_path, {nfc: b"x", unicodedata.normalize("NFD", nfc): b"y"})
    with pytest.raises(InputError, match="NFC"):
        hash_directory(tmp_path)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 names")
def test_non_utf8_names_are_refused_with_a_fix(tmp_path: Path) -> None:
    try:
        fd = os.open(os.fsencode(tmp_path) + b"/bad-\xff.txt", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("file system refuses non-UTF-8 names")
    os.close(fd)
    with pytest.raises(InputError, match="not valid UTF-8") as err:
        hash_directory(tmp_path)
    assert "ignore" in str(err.value)
    assert hash_directory(tmp_path, ignore=["bad-*"]).entries == ()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_special_files_are_refused_naming_the_ignore_fix(tmp_path: Path) -> None:
    _tree(tmp_path, FILES)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match=r"not a regular file.*\n  fix: .*ignore=\['pipe'\]"):
        hash_directory(tmp_path)
    assert (
        hash_directory(tmp_path, ignore=["pipe"]).digest
        == hash_directory(_tree(tmp_path / "x", FILES)).digest
    )


def test_unreadable_files_are_reported_with_the_ignore_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, FILES)

    real_open = os.open

    def denied(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("a.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    # the os module itself, which hashing._files calls open on (works when tests run as root)
    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(InputError, match=r"permission denied.*\n  fix: .*ignore="):
        hash_directory(root)


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_an_error_mid_walk_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, {f"large{i}.bin": b"x" * (1 << 20) for i in range(6)} | {"zz.txt": b"z"})
    real_open = os.open
    opened = [0]

    def failing(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened[0] += 1
        if opened[0] == 7:  # the last file, whatever the listing order: large ones are pending
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "open", failing)  # the os module, which hashing._files uses
    with pytest.raises(InputError, match="permission denied"):
        hash_directory(root, workers=2)
    monkeypatch.undo()
    assert len(os.listdir("/proc/self/fd")) == before


def test_hash_directory_and_hash_path_reject_what_they_cannot_hash(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"x")
    with pytest.raises(InputError, match="not a directory"):
        hash_directory(f)
    with pytest.raises(InputError, match="no such file or directory"):
        hash_path(tmp_path / "missing")
    with pytest.raises(InputError, match="workers"):
        hash_directory(_tree(tmp_path / "d", FILES), workers=0)
    assert hash_path(f) == digest_of(b"x")


def test_empty_directory_has_the_digest_of_the_empty_manifest(tmp_path: Path) -> None:
    assert hash_directory(tmp_path).digest.value == _tagged_sha256(DOMAIN_TAGS["directory"], b"")


# --------------------------------------------------------------------------- params


def test_params_digest_ignores_key_order_at_every_depth() -> None:
    a = {"lr": 0.1, "opt": {"name": "adam", "betas": [0.9, 0.99]}, "epochs": 3}
    b = {"epochs": 3, "opt": {"betas": [0.9, 0.99], "name": "adam"}, "lr": 0.1}
    assert hash_params(a) == hash_params(b) == digest_of(b)
    assert hash_params(a).kind == "params"


def test_params_tuples_equal_lists_and_numpy_scalars_equal_python_values() -> None:
    assert hash_params({"s": (1, 2)}) == hash_params({"s": [1, 2]})
    assert canonical_json(
        {"i": np.int64(3), "f": np.float64(0.5), "b": np.bool_(True), "h": np.float32(0.25)}
    ) == (b'{"b":true,"f":0.5,"h":0.25,"i":3}')


def test_params_distinguish_int_float_bool_and_string() -> None:
    digests = {hash_params({"x": v}) for v in (1, 1.0, True, "1", None, [1])}
    assert len(digests) == 6


def test_canonical_json_format() -> None:
    assert canonical_json({"b": [1.0, 1e16, 1e-05, -0.0], "a": "\u00e9\n"}) == (
        '{"a":"\u00e9\\n","b":[1.0,1e+16,1e-05,-0.0]}'.encode()
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_params_refuse_nan_and_infinity_naming_where_and_how(value: Any) -> None:
    with pytest.raises(InputError, match=r"at \$\.opt\.eps\[1\].*\n  fix: .*'nan'"):
        hash_params({"opt": {"eps": [0.1, value]}})


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({1: "a"}, "keys must be str"),
        ({"s": {1, 2}}, r"builtins\.set at \$\.s"),
        ({"p": Path("x")}, "PosixPath|WindowsPath"),
        ({"t": "\ud800"}, "lone surrogate"),
        ({"d": b"bytes"}, "builtins.bytes"),
    ],
)
def test_params_refuse_values_without_a_canonical_json_form(value: Any, match: str) -> None:
    with pytest.raises(InputError, match=match):
        hash_params(value)


def test_params_refuse_circular_references() -> None:
    a: dict[str, Any] = {}
    a["self"] = a
    with pytest.raises(InputError, match="circular"):
        canonical_json(a)
    shared = [1]
    assert canonical_json({"a": shared, "b": shared}) == b'{"a":[1],"b":[1]}'


# --------------------------------------------------------------------------- arrays


def test_array_digest_ignores_memory_layout_and_byte_order() -> None:
    a = np.arange(24, dtype=np.int64).reshape(4, 6)
    expected = hash_array(a)
    assert hash_array(np.asfortranarray(a)) == expected
    assert hash_array(a.astype(">i8")) == expected
    strided = np.zeros((4, 12), dtype=np.int64)
    strided[:, ::2] = a
    assert hash_array(strided[:, ::2]) == expected
    assert expected.kind == "array" and digest_of(a) == expected


def test_large_non_contiguous_arrays_hash_like_their_contiguous_copy() -> None:
    big = np.random.default_rng(1).random((2, 1_300_000))  # each row > the 4 MiB chunk
    view = big[:, ::2]
    assert hash_array(view) == hash_array(np.ascontiguousarray(view))
    flat = np.random.default_rng(2).random(3_000_000)
    assert hash_array(flat[::3]) == hash_array(flat[::3].copy())


@pytest.mark.parametrize(
    "other",
    [
        np.arange(6, dtype=np.int32).reshape(2, 3),
        np.arange(6, dtype=np.int64).reshape(3, 2),
        np.arange(6, dtype=np.int64).reshape(6),
        np.arange(6, dtype=np.float64).reshape(2, 3),
        np.array([[0, 1, 2], [3, 4, 6]], dtype=np.int64),
    ],
    ids=["int32", "transposed-shape", "flat", "float64", "one-value"],
)
def test_array_digest_is_sensitive_to_dtype_shape_and_values(other: Any) -> None:
    assert hash_array(np.arange(6, dtype=np.int64).reshape(2, 3)) != hash_array(other)


def test_every_nan_hashes_as_the_canonical_nan_but_negative_zero_is_kept() -> None:
    nans = np.array(
        [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001], dtype=np.uint64
    ).view(np.float64)
    assert all(np.isnan(nans))
    assert hash_array(nans) == hash_array(np.full(3, np.nan))
    assert hash_array(np.array([complex(np.nan, 1)])) == hash_array(np.array([complex(-np.nan, 1)]))
    assert hash_array(np.array([0.0])) != hash_array(np.array([-0.0]))


def test_bool_arrays_are_normalised_to_zero_and_one() -> None:
    odd = np.array([2, 0, 1], dtype=np.uint8).view(np.bool_)
    assert hash_array(odd) == hash_array(np.array([True, False, True]))


def test_object_arrays_hash_the_same_with_and_without_the_pandas_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [
        np.array(["a", None, "bc", np.nan, "\u00e9"], dtype=object),
        np.array(["ascii", "only"], dtype=object),
        np.array([None, None], dtype=object),
        np.array(["x", 1, 2.5, True, b"b", None], dtype=object),
    ]
    fast = [hash_array(a) for a in cases]
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert [hash_array(a) for a in cases] == fast


def test_object_values_are_unambiguous() -> None:
    pairs = [
        (["ab", "c"], ["a", "bc"]),
        ([""], [None]),
        ([1], ["1"]),
        ([1], [1.0]),
        ([True], [1]),
        ([b"a"], ["a"]),
    ]
    for left, right in pairs:
        assert hash_array(np.array(left, dtype=object)) != hash_array(
            np.array(right, dtype=object)
        ), (left, right)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), "structured"),
        (np.ma.masked_array([1, 2], mask=[False, True]), "masked"),
        (np.array(["a"], dtype=np.dtypes.StringDType()), "StringDType"),
        (np.array([{"a": 1}], dtype=object), "builtins.dict"),
    ],
)
def test_arrays_without_a_canonical_byte_form_are_refused(array: Any, match: str) -> None:
    with pytest.raises(InputError, match=match):
        hash_array(array)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize == 8, reason="longdouble is float64 here")
def test_extended_precision_floats_are_refused() -> None:
    with pytest.raises(InputError, match="extended-precision"):
        hash_array(np.zeros(2, dtype=np.longdouble))


# --------------------------------------------------------------------------- DataFrames


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5, dtype=np.int64),
            "f": [0.5, np.nan, 2.0, -1.0, 3.25],
            "s": ["a", None, "bc", "\u00e9", ""],
            "b": [True, False, True, True, False],
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "c": pd.Categorical(["x", "y", "x", None, "y"]),
            "t": pd.to_datetime(["2020-01-01", None, "2021-06-01", "1969-07-20", "2000-01-01"]),
            "z": pd.to_datetime(["2020-01-01"] * 5).tz_localize("Europe/Berlin"),
            "o": pd.Series(["a", 1, 2.5, None, True], dtype=object),
        }
    )


def test_dataframe_digest_ignores_column_order(frame: pd.DataFrame) -> None:
    expected = hash_dataframe(frame)
    assert hash_dataframe(frame[list(reversed(frame.columns))]) == expected
    assert hash_dataframe(frame[sorted(frame.columns)]) == expected
    assert expected.kind == "dataframe" and digest_of(frame) == expected


def test_dataframe_digest_ignores_the_index(frame: pd.DataFrame) -> None:
    expected = hash_dataframe(frame)
    assert hash_dataframe(frame.set_axis([10, 3, 7, 1, 0])) == expected
    assert hash_dataframe(frame.set_axis(pd.date_range("2020", periods=5))) == expected
    assert hash_dataframe(frame.iloc[::-1].iloc[::-1]) == expected


def test_dataframe_digest_ignores_block_layout() -> None:
    values = np.arange(12, dtype=np.float64).reshape(4, 3)
    from_2d = pd.DataFrame(values, columns=["a", "b", "c"])
    from_dict = pd.DataFrame({k: values[:, i].copy() for i, k in enumerate("abc")})
    assert hash_dataframe(from_2d) == hash_dataframe(from_dict)


def test_dataframe_digest_is_sensitive_to_values_rows_dtypes_and_names(frame: pd.DataFrame) -> None:
    base = hash_dataframe(frame)
    changed_value = frame.copy()
    changed_value.loc[2, "f"] = 2.0000000001
    swapped = frame.iloc[[1, 0, 2, 3, 4]]
    int32 = frame.astype({"i": "int32"})
    renamed = frame.rename(columns={"i": "j"})
    changed_str = frame.copy()
    changed_str.loc[4, "s"] = " "
    null_vs_empty = frame.copy()
    null_vs_empty.loc[4, "s"] = None
    tz = frame.assign(z=frame["z"].dt.tz_convert("UTC"))
    unit = frame.assign(t=frame["t"].dt.as_unit("ns"))
    categories = frame.assign(c=frame["c"].cat.add_categories(["unused"]))
    fewer_rows = frame.iloc[:4]
    variants = [
        changed_value,
        swapped,
        int32,
        renamed,
        changed_str,
        null_vs_empty,
        tz,
        categories,
        fewer_rows,
    ]
    if frame["t"].dt.unit != "ns":
        variants.append(unit)
    digests = {hash_dataframe(v) for v in variants}
    assert base not in digests and len(digests) == len(variants)


def test_column_digests_say_which_column_changed(frame: pd.DataFrame) -> None:
    before = dataframe_column_digests(frame)
    changed = frame.copy()
    changed.loc[0, "n"] = 100
    after = dataframe_column_digests(changed)
    assert [c for c in before if before[c] != after[c]] == ["n"]
    assert all(d.kind == "dataframe-column" for d in after.values())


def test_data_under_a_missing_value_mask_does_not_matter() -> None:
    mask = np.array([False, True])
    a = pd.DataFrame({"x": pd.arrays.IntegerArray(np.array([1, 0]), mask)})
    b = pd.DataFrame({"x": pd.arrays.IntegerArray(np.array([1, 12345]), mask)})
    assert hash_dataframe(a) == hash_dataframe(b)


def test_missing_values_share_one_null_marker_in_object_columns() -> None:
    a = pd.DataFrame({"o": pd.Series(["x", None], dtype=object)})
    b = pd.DataFrame({"o": pd.Series(["x", np.nan], dtype=object)})
    c = pd.DataFrame({"o": pd.Series(["x", pd.NA], dtype=object)})
    assert hash_dataframe(a) == hash_dataframe(b) == hash_dataframe(c)


def test_string_dtypes_are_part_of_the_digest() -> None:
    values = ["a", None]
    kinds = [
        pd.Series(values, dtype=object),
        pd.Series(values, dtype="string"),
        pd.Series(values, dtype="str"),
    ]
    assert len({hash_dataframe(pd.DataFrame({"s": s})) for s in kinds}) == 3


def test_string_storage_backend_does_not_change_the_digest() -> None:
    pytest.importorskip("pyarrow")
    values = ["a", None, "\u00e9"]
    for dtype in ("string", "str"):
        python = pd.DataFrame(
            {
                "s": pd.Series(
                    values,
                    dtype=pd.StringDtype("python", na_value=pd.NA if dtype == "string" else np.nan),
                )
            }
        )
        arrow = pd.DataFrame(
            {
                "s": pd.Series(
                    values,
                    dtype=pd.StringDtype(
                        "pyarrow", na_value=pd.NA if dtype == "string" else np.nan
                    ),
                )
            }
        )
        assert hash_dataframe(python) == hash_dataframe(arrow)


def test_pyarrow_backed_columns_are_refused_with_a_conversion_fix() -> None:
    pytest.importorskip("pyarrow")
    with pytest.raises(InputError, match=r"column 'x'.*int64\[pyarrow\].*\n  fix: .*pyarrow"):
        hash_dataframe(pd.DataFrame({"x": pd.Series([1, 2], dtype="int64[pyarrow]")}))


def test_integer_and_string_column_labels_differ() -> None:
    assert hash_dataframe(pd.DataFrame({0: [1]})) != hash_dataframe(pd.DataFrame({"0": [1]}))
    multi = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)]))
    assert hash_dataframe(multi) == hash_dataframe(multi[[("a", 2), ("a", 1)]])


def test_object_columns_with_values_that_cannot_be_encoded_are_refused_naming_column_and_row() -> (
    None
):
    df = pd.DataFrame(
        {
            "ok": [1, 2],
            "when": pd.Series(
                ["2020-01-01", __import__("datetime").date(2020, 1, 2)], dtype=object
            ),
        }
    )
    with pytest.raises(
        InputError, match=r"column 'when'.*datetime\.date.*row position 1.*\n  fix: .*to_datetime"
    ):
        hash_dataframe(df)


def test_strings_that_are_not_valid_unicode_are_refused_naming_the_column() -> None:
    df = pd.DataFrame({"s": pd.Series(["ok", "bad\ud800"], dtype=object)})
    with pytest.raises(InputError, match=r"column 's'.*row position 1.*Unicode"):
        hash_dataframe(df)


@pytest.mark.parametrize(
    ("frame_", "match"),
    [
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate column label"),
        (pd.DataFrame({float("nan"): [1]}), "column label"),
        (pd.DataFrame({"p": pd.period_range("2020", periods=2, freq="D")}), r"column 'p'.*period"),
        (pd.DataFrame({"s": pd.arrays.SparseArray([0, 1])}), r"column 's'.*Sparse"),
        (pd.DataFrame({"iv": pd.interval_range(0, 2)}), "interval"),
    ],
    ids=["duplicate", "nan-label", "period", "sparse", "interval"],
)
def test_frames_without_a_canonical_encoding_are_refused(frame_: pd.DataFrame, match: str) -> None:
    with pytest.raises(InputError, match=match):
        hash_dataframe(frame_)


def test_hash_dataframe_refuses_a_series_with_the_to_frame_fix() -> None:
    with pytest.raises(InputError, match="to_frame"):
        hash_dataframe(pd.Series([1]))


# --------------------------------------------------------------------------- models


def _xy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((80, 4))
    return x, (x[:, 0] + x[:, 1] > 1).astype(int)


def test_sklearn_model_digest_is_deterministic_and_sensitive_to_params_and_data() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    a = hash_model(LogisticRegression(C=1.0).fit(x, y))
    assert (
        a
        == hash_model(LogisticRegression(C=1.0).fit(x, y))
        == digest_of(LogisticRegression().fit(x, y))
    )
    assert a.kind == "sklearn-model"
    assert hash_model(LogisticRegression(C=0.5).fit(x, y)) != a
    assert hash_model(LogisticRegression(C=1.0).fit(*_xy(1))) != a
    assert hash_model(LogisticRegression(C=1.0)) != a  # unfitted


def test_sklearn_model_digest_does_not_change_when_the_model_is_used() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KernelDensity

    x, y = _xy()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    kde = KernelDensity().fit(x)
    before = (hash_model(forest), hash_model(kde))
    forest.predict(x)
    kde.score_samples(x)
    assert (hash_model(forest), hash_model(kde)) == before


def test_sklearn_pipelines_and_nan_params_are_hashed() -> None:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _xy()
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(x, y)
    assert hash_model(pipe) == hash_model(
        make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(x, y)
    )
    gb = GradientBoostingClassifier(n_estimators=3, random_state=0)
    assert hash_model(gb.fit(x, y)) == hash_model(
        GradientBoostingClassifier(n_estimators=3, random_state=0).fit(x, y)
    )


def test_sklearn_lambdas_are_refused_naming_the_attribute() -> None:
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(InputError, match=r"FunctionTransformer\.func.*lambda"):
        hash_model(FunctionTransformer(func=lambda v: v))
    assert hash_model(FunctionTransformer(func=np.log1p)).kind == "sklearn-model"


def test_a_saved_model_is_hashed_as_its_file_or_directory(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"weights")
    assert hash_model(f) == digest_of(b"weights")
    assert hash_model(tmp_path) == hash_directory(tmp_path).digest


def test_unsupported_models_are_refused() -> None:
    with pytest.raises(InputError, match="saved model path"):
        hash_model(object())


def test_torch_state_dicts_are_hashed_by_sorted_key_dtype_shape_and_bytes() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    state = model.state_dict()
    d = hash_model(model)
    assert d.kind == "torch-state-dict" and d == hash_model(state) == digest_of(model)
    reordered = dict(reversed(list(state.items())))
    assert hash_model(reordered) == d
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert digest_of(t) == hash_array(t.numpy())
    with torch.no_grad():
        model[0].weight[0, 0] += 1
    assert hash_model(model) != d
    assert hash_model({"w": torch.zeros(2, dtype=torch.bfloat16)}) != hash_model(
        {"w": torch.zeros(2, dtype=torch.float16)}
    )


def _fake_torch() -> Any:
    """The slice of the torch API that hashing uses, backed by numpy (torch is optional)."""
    import types

    torch = types.ModuleType("torch")

    class Dtype:
        def __init__(self, name: str, np_dtype: str | None) -> None:
            self.name, self.np_dtype = name, np_dtype

        def __str__(self) -> str:
            return f"torch.{self.name}"

    class Tensor:
        is_sparse = False
        is_quantized = False

        def __init__(self, data: Any, dtype: Dtype) -> None:
            self.data, self.dtype = np.asarray(data), dtype

        shape = property(lambda self: self.data.shape)

        def detach(self) -> Tensor:
            return self

        cpu = resolve_conj = resolve_neg = contiguous = detach

        def numpy(self) -> Any:
            if self.dtype.np_dtype is None:
                raise TypeError(f"Got unsupported ScalarType {self.dtype.name}")
            return self.data.astype(self.dtype.np_dtype)

        def reshape(self, *shape: int) -> Tensor:
            return Tensor(self.data.reshape(*shape), self.dtype)

        def view(self, dtype: Dtype) -> Tensor:
            return Tensor(np.ascontiguousarray(self.data).view(np.uint8), dtype)

    class Module:
        def __init__(self, state: dict[str, Tensor]) -> None:
            self._state = state

        def state_dict(self) -> dict[str, Tensor]:
            return dict(self._state)

    torch.Tensor = Tensor  # type: ignore[attr-defined]
    torch.nn = types.SimpleNamespace(Module=Module)  # type: ignore[attr-defined]
    torch.uint8 = Dtype("uint8", "uint8")  # type: ignore[attr-defined]
    torch.float32 = Dtype("float32", "float32")  # type: ignore[attr-defined]
    torch.bfloat16 = Dtype("bfloat16", None)  # type: ignore[attr-defined]
    return torch


def test_torch_code_path_against_a_stand_in_module(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = _fake_torch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    w = torch.Tensor(np.arange(6).reshape(2, 3), torch.float32)
    b = torch.Tensor(np.zeros(2), torch.float32)
    d = hash_model(torch.nn.Module({"w": w, "b": b}))
    assert d.kind == "torch-state-dict"
    assert hash_model({"b": b, "w": w}) == d == digest_of({"w": w, "b": b})  # keys are sorted
    expected = _u64(2)
    for key, t in (("b", b), ("w", w)):
        expected += _lp(key.encode()) + hash_array(t.numpy()).value
    assert d.value == _tagged_sha256(DOMAIN_TAGS["torch-state-dict"], expected)
    assert digest_of(w) == hash_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    raw = torch.Tensor(np.array([1, 2], dtype=np.uint16), torch.bfloat16)
    body = _lp(b"torch:bfloat16") + _u64(1) + _u64(2) + np.array([1, 2], dtype="<u2").tobytes()
    assert digest_of(raw).value == _tagged_sha256(DOMAIN_TAGS["array"], body)
    with pytest.raises(InputError, match=r"state_dict entry 'n' is a int, not a tensor"):
        hash_model({"w": w, "n": 3})
    with pytest.raises(InputError, match="saved model path"):
        hash_model({"n": 3})  # no tensor at all: not a state_dict


# --------------------------------------------------------------------------- dispatch


def test_digest_of_refuses_unsupported_types_listing_what_is_supported() -> None:
    for value in [42, 1.5, {1, 2}, [1, 2], object(), None]:
        with pytest.raises(InputError, match="supported: a file or directory path") as err:
            digest_of(value)
        assert "DataFrame" in str(err.value) and "ndarray" in str(err.value)


def test_a_series_hashes_as_its_one_column_frame_whatever_its_index() -> None:
    y = pd.Series([0, 2, 1], name="target", index=[10, 11, 12])

    assert digest_of(y) == hash_dataframe(y.to_frame()) == digest_of(y.reset_index(drop=True))
    assert digest_of(y).kind == "dataframe"
    assert digest_of(y) != digest_of(y.rename("label"))  # the name is the column label
    assert digest_of(y) != digest_of(pd.Series([0, 2, 2], name="target"))
    unnamed = pd.Series([1.5, 2.5])
    assert digest_of(unnamed) == hash_dataframe(pd.DataFrame({0: [1.5, 2.5]}))


def test_digest_of_a_missing_path_string_is_an_error_not_text_hashing() -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        digest_of("not a file path")


def test_hash_any_is_digest_of() -> None:
    assert hash_any is digest_of


def test_file_hashing_reports_every_byte_read_to_progress(random_file: Path) -> None:
    seen: list[int] = []

    by_path = hash_file(random_file, chunk_size=1 << 16, progress=seen.append)
    assert sum(seen) == random_file.stat().st_size and len(seen) > 1
    seen.clear()
    with random_file.open("rb") as f:
        assert hash_file(f, progress=seen.append) == by_path
    assert sum(seen) == random_file.stat().st_size


def test_directory_hashing_reports_every_byte_from_every_worker(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    sizes = [0, 10, 3 << 20, 5 << 20, 4096]  # two files take the thread pool's path
    for i, size in enumerate(sizes):
        (tmp_path / f"f{i}").write_bytes(rng.bytes(size))
    counted = 0
    lock = threading.Lock()

    def progress(n: int) -> None:
        nonlocal counted
        with lock:
            counted += n

    plain = hash_directory(tmp_path, workers=4)
    assert hash_directory(tmp_path, workers=4, progress=progress) == plain
    assert counted == sum(sizes)
