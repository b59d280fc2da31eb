"""Known-answer vectors for IPFS content ids: the inputs, how to build them, the generator.

Each expected CID in ``ipfs-cid-v1.json`` was printed by the real kubo (the version is in the
file) with ``ipfs add --only-hash --cid-version 1 -Q`` (files) or ``ipfs add --only-hash
--cid-version 1 -Q -r --hidden`` (directories), in a private repo made with
``ipfs init --profile test``; nothing here computes them.

Inputs are plain JSON so that another implementation can rebuild them:

* file ``content``: ``{"utf8": text}``, ``{"zeros": n}`` (n zero bytes) or
  ``{"shake256": seed, "size": n}`` (the first n bytes of SHAKE-256 of the UTF-8 seed).
* directory ``entries``: each has a ``path`` (``/``-separated, created with its parents) and one
  of ``content`` (as above), ``symlink`` (the link text) or ``dir: true`` (an empty
  directory). ``many``: ``{"count": n, "name": "fmt with {i}", "content": "fmt with {i}"}``
  adds n files named and filled (UTF-8) from the formats.

Regenerate with ``ALGO_TRACER_IPFS_BIN=/path/to/ipfs .venv/bin/python
tests/vectors/ipfs_cid_cases.py`` (about a minute; the slow case needs ~8 GB of sparse file).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("ipfs-cid-v1.json")
CHUNK = 262_144

FILE_CASES: list[dict[str, Any]] = [
    {"name": "file-empty", "content": {"utf8": ""}},
    {"name": "file-1-byte", "content": {"utf8": "a"}},
    {"name": "file-hello", "content": {"utf8": "hello world\n"}},
    {"name": "file-one-chunk-minus-1", "content": {"shake256": "c1", "size": CHUNK - 1}},
    {"name": "file-exactly-one-chunk", "content": {"shake256": "c2", "size": CHUNK}},
    {"name": "file-one-chunk-plus-1", "content": {"shake256": "c3", "size": CHUNK + 1}},
    {"name": "file-3-chunks", "content": {"shake256": "c4", "size": 3 * CHUNK - 7}},
    # 174 leaves fill one node exactly; one byte more needs a second layer.
    {"name": "file-174-chunks", "content": {"shake256": "c5", "size": 174 * CHUNK}},
    {"name": "file-174-chunks-plus-1", "content": {"shake256": "c6", "size": 174 * CHUNK + 1}},
    {"name": "file-two-layers", "content": {"shake256": "c7", "size": 400 * CHUNK + 12_345}},
    {"name": "file-zeros-two-layers", "content": {"zeros": 349 * CHUNK}},
]

#: Three layers need more than 174 * 174 chunks (7.9 GB): zeros, so that the file is sparse.
SLOW_FILE_CASES: list[dict[str, Any]] = [
    {"name": "file-zeros-three-layers", "content": {"zeros": 174 * 174 * CHUNK + 1}},
]

DIRECTORY_CASES: list[dict[str, Any]] = [
    {"name": "dir-empty", "entries": []},
    {"name": "dir-one-file", "entries": [{"path": "a.txt", "content": {"utf8": "a"}}]},
    {
        "name": "dir-nested",
        "entries": [
            {"path": "b.txt", "content": {"utf8": "bee\n"}},
            {"path": "a.txt", "content": {"utf8": "ay\n"}},
            {"path": "empty.bin", "content": {"utf8": ""}},
            {"path": "sub/big.bin", "content": {"shake256": "d1", "size": 2 * CHUNK + 3}},
            {"path": "sub/deeper/c.txt", "content": {"utf8": "sea\n"}},
            {"path": "sub/empty-dir", "dir": True},
            {"path": "Z-upper-sorts-first.txt", "content": {"utf8": "Z"}},
            {"path": "sub/a-b", "content": {"utf8": "dash"}},
            {"path": "sub/a.b", "content": {"utf8": "dot"}},
            {"path": "sub/a_b", "content": {"utf8": "underscore"}},
        ],
    },
    {
        "name": "dir-unicode-names",
        "entries": [
            {"path": "r\u00e9sum\u00e9.txt", "content": {"utf8": "NFC name"}},
            {"path": "cafe\u0301.txt", "content": {"utf8": "NFD name, stored as is"}},
            {"path": "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt", "content": {"utf8": "x"}},
            {"path": "emoji-\U0001f600", "content": {"utf8": "smile"}},
            {"path": "z", "content": {"utf8": "plain"}},
        ],
    },
    {
        "name": "dir-symlinks-and-hidden",
        "entries": [
            {"path": "data.csv", "content": {"utf8": "x,y\n1,2\n"}},
            {"path": "link-to-data", "symlink": "data.csv"},
            {"path": "dangling", "symlink": "../nowhere/at all"},
            {"path": ".hidden", "content": {"utf8": "hidden files are part of the digest"}},
            {"path": ".config/settings.json", "content": {"utf8": "{}"}},
        ],
    },
    # 1,024 entries of 220-byte names + 36-byte CIDs: exactly kubo's 256 KiB threshold (plain).
    {
        "name": "dir-at-hamt-threshold",
        "entries": [],
        "many": {"count": 1024, "name": "{i:04d}-" + "n" * 215, "content": "{i}"},
    },
    # One byte more (1,023 such entries and one with a 221-byte name): a HAMT, 256 slots at the
    # top, sub-shards where names collide in a slot.
    {
        "name": "dir-hamt-one-byte-over",
        "entries": [{"path": "y" * 221, "content": {"utf8": "the byte over"}}],
        "many": {"count": 1023, "name": "{i:04d}-" + "n" * 215, "content": "{i}"},
    },
    # 3,500 entries of 48-byte names in a subdirectory: ~14 a slot, so sub-shards, some nested.
    {
        "name": "dir-hamt-nested",
        "entries": [
            {"path": "README", "content": {"utf8": "a big directory inside a small one"}},
            {"path": "sub/empty", "dir": True},
        ],
        "many": {"count": 3500, "name": "images/img_{i:06d}_a-longer-name-like-a-camera-makes.jpg",
                 "content": "jpeg {i}"},
    },
]


def content_bytes(content: dict[str, Any]) -> bytes:
    """The bytes a ``content`` spec stands for (zeros are written sparse by `write_content`)."""
    if "utf8" in content:
        return str(content["utf8"]).encode("utf-8")
    if "zeros" in content:
        return bytes(int(content["zeros"]))
    return hashlib.shake_256(str(content["shake256"]).encode()).digest(int(content["size"]))


def write_content(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if "zeros" in content:
        with open(path, "wb") as f:
            f.truncate(int(content["zeros"]))  # sparse: 8 GB of zeros take no disk
    else:
        path.write_bytes(content_bytes(content))


def build_directory(case: dict[str, Any], root: Path) -> Path:
    """Create the case's tree under ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in case["entries"]:
        target = root / entry["path"]
        if entry.get("dir"):
            target.mkdir(parents=True, exist_ok=True)
        elif "symlink" in entry:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry["symlink"], target)
        else:
            write_content(target, entry["content"])
    many = case.get("many")
    if many:
        for i in range(int(many["count"])):
            target = root / many["name"].format(i=i)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(many["content"].format(i=i).encode("utf-8"))
    return root


def _kubo(ipfs: str, repo: str, *args: str) -> str:
    env = {**os.environ, "IPFS_PATH": repo}
    out = subprocess.run([ipfs, *args], env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def generate(ipfs: str, *, slow: bool = True) -> dict[str, Any]:
    """Ask kubo for every case's CID (``--only-hash``: nothing is stored, no daemon)."""
    with tempfile.TemporaryDirectory(prefix="ipfs-cid-vectors-") as tmp:
        repo = os.path.join(tmp, "repo")
        _kubo(ipfs, repo, "init", "--profile", "test", "-e")
        version = _kubo(ipfs, repo, "version", "--number")
        files = []
        for case in FILE_CASES + (SLOW_FILE_CASES if slow else []):
            path = Path(tmp) / case["name"]
            write_content(path, case["content"])
            cid = _kubo(ipfs, repo, "add", "--only-hash", "--cid-version", "1", "-Q", str(path))
            files.append({**case, "cid": cid, "slow": case in SLOW_FILE_CASES})
            path.unlink()
        directories = []
        for case in DIRECTORY_CASES:
            root = build_directory(case, Path(tmp) / "trees" / case["name"])
            cid = _kubo(ipfs, repo, "add", "--only-hash", "--cid-version", "1", "-Q", "-r",
                        "--hidden", str(root))
            directories.append({**case, "cid": cid})
    return {
        "description": "CIDs printed by kubo `ipfs add --only-hash --cid-version 1 -Q` "
                       "(directories: also `-r --hidden`), default settings; see "
                       "tests/vectors/ipfs_cid_cases.py and docs/ipfs.md",
        "kubo": version,
        "files": files,
        "directories": directories,
    }


if __name__ == "__main__":
    binary = os.environ.get("ALGO_TRACER_IPFS_BIN")
    if not binary:
        sys.exit("set ALGO_TRACER_IPFS_BIN to a kubo `ipfs` binary")
    data = generate(binary, slow="--fast" not in sys.argv)
    VECTORS_PATH.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS_PATH}: {len(data['files'])} files, {len(data['directories'])} dirs")
