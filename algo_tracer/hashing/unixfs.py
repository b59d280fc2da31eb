"""IPFS content ids computed here, equal to what ``ipfs add --cid-version 1`` prints (docs/ipfs.md).

Example:
    >>> from algo_tracer.hashing.unixfs import cid_of_bytes, parse_cid
    >>> cid_of_bytes(b"")
    'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    >>> parse_cid("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku").codec_name
    'raw'

Pure code: no node, no network. The settings are kubo's defaults (v0.42.0, pinned; the same in
v0.43.1) with CIDv1: files in fixed 256 KiB chunks (``size-262144``), each chunk a ``raw``
block, larger files a balanced tree of dag-pb/UnixFS nodes of at most 174 links; directories
are UnixFS directory nodes, HAMT-sharded above kubo's size threshold (``_hamt``). Files are
streamed: memory holds one chunk and at most 174 pending links per tree level, whatever the
file's size.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from algo_tracer.errors import InputError
from algo_tracer.hashing._cid import RAW, Cid, cid_bytes, cid_text, parse_cid
from algo_tracer.hashing._dag_pb import Block, directory_node, file_node, symlink_node
from algo_tracer.hashing._files import (
    DEFAULT_IGNORE,
    OnBytes,
    _file_error,
    _ignore_matcher,
    _nfc,
    _utf8_path,
)
from algo_tracer.hashing._hamt import HAMT_THRESHOLD, hamt_directory, needs_hamt

#: Says whether an entry is left out, from its NFC name and relative path (`_ignore_matcher`).
type _Matcher = Callable[[str, str], bool]

#: kubo's default chunker, ``size-262144`` (``Import.UnixFSChunker``).
CHUNK_SIZE = 262_144
#: kubo's default links per file node (``Import.UnixFSFileMaxLinks``, boxo's DefaultLinksPerBlock).
MAX_LINKS = 174


class CidHasher:
    """The CID of bytes fed in pieces: ``feed`` them as they stream, then ``finish``.

    The fetcher checks content against its CID this way while writing it to disk. Pieces may be
    of any size; the chunk boundaries are the file's, not the pieces'.

    Example:
        >>> h = CidHasher()
        >>> h.feed(b"hello ")
        >>> h.feed(b"world")
        >>> h.finish() == cid_of_bytes(b"hello world")
        True
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        # _levels[k]: finished blocks at depth k (0 = leaves) not yet under a parent; a level
        # is wrapped into a parent only when a 175th block arrives or at finish, so the tree
        # has kubo's balanced shape (every leaf at the same depth).
        self._levels: list[list[Block]] = [[]]
        self._leaves = 0
        self._result: str | None = None
        self.size = 0
        """Bytes fed so far."""

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add the next bytes of the content."""
        if self._result is not None:
            raise InputError("CidHasher.feed after finish", fix="use a new CidHasher per content")
        view = memoryview(data).cast("B")
        self.size += len(view)
        start = 0
        if self._buf:
            start = min(len(view), CHUNK_SIZE - len(self._buf))
            self._buf += view[:start]
            if len(self._buf) < CHUNK_SIZE:
                return
            self._leaf(self._buf)
            self._buf = bytearray()
        while len(view) - start >= CHUNK_SIZE:
            self._leaf(view[start:start + CHUNK_SIZE])
            start += CHUNK_SIZE
        self._buf += view[start:]

    def _leaf(self, chunk: bytes | bytearray | memoryview) -> None:
        self._push(0, self._leaf_block(chunk))
        self._leaves += 1

    def _leaf_block(self, chunk: bytes | bytearray | memoryview) -> Block:
        """A chunk as a raw block (its CID is its SHA-256)."""
        n = len(chunk)
        return Block(cid_bytes(RAW, hashlib.sha256(chunk).digest()), n, n)

    def _push(self, depth: int, block: Block) -> None:
        if depth == len(self._levels):
            self._levels.append([])
        level = self._levels[depth]
        if len(level) == MAX_LINKS:
            self._push(depth + 1, file_node(level))
            self._levels[depth] = level = []
        level.append(block)

    def _finish_block(self) -> Block:
        """The root block (CID, Tsize, size): what a directory links to."""
        if self._buf or self._leaves == 0:  # an empty file is one empty raw block, as in kubo
            self._leaf(self._buf)
            self._buf = bytearray()
        depth = 0
        while True:
            level = self._levels[depth]
            if depth == len(self._levels) - 1 and len(level) == 1:
                root = level[0]
                break
            self._levels[depth] = []
            self._push(depth + 1, file_node(level))
            depth += 1
        self._result = cid_text(root.cid)
        self._levels = [[root]]  # finish() again returns the same
        return root

    def finish(self) -> str:
        """The CID text (base32 CIDv1)."""
        if self._result is None:
            self._finish_block()
        assert self._result is not None
        return self._result


def cid_of_bytes(data: bytes | bytearray | memoryview) -> str:
    """The CID ``ipfs add --cid-version 1`` gives a file holding `data`."""
    hasher = CidHasher()
    hasher.feed(data)
    return hasher.finish()


def _file_block(path: str, progress: OnBytes | None) -> Block:
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if size < CHUNK_SIZE:  # most files of a big directory: one read, one raw block
                data = f.read(CHUNK_SIZE)
                if len(data) < CHUNK_SIZE:  # else it grew meanwhile: stream it
                    if progress is not None:
                        progress(len(data))
                    return CidHasher()._leaf_block(data)
                f.seek(0)
            hasher = CidHasher()
            buf = bytearray(CHUNK_SIZE)
            view = memoryview(buf)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                hasher.feed(view[:n])
                if progress is not None:
                    progress(n)
    except OSError as exc:
        raise _file_error(path, exc) from exc
    return hasher._finish_block()


def cid_of_file(path: str | os.PathLike[str], progress: OnBytes | None = None) -> str:
    """The CID ``ipfs add --cid-version 1 FILE`` prints, streamed in constant memory.

    Args:
        path: A regular file.
        progress: Called with the byte count of each chunk read.

    Raises:
        InputError: If the file is missing, a directory or unreadable.
    """
    return cid_text(_file_block(os.fspath(path), progress).cid)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One entry of a directory as IPFS holds it: what `cid_of_directory` covers.

    A client that adds a directory through kubo's RPC API sends exactly these (parents before
    their children), so that the CID kubo answers is the one computed here.
    """

    path: str
    """Relative, ``/``-separated, each name as it is on disk (not Unicode-normalised)."""
    kind: Literal["file", "directory", "symlink"]
    source: str
    """The entry's path on this machine."""
    target: str | None = None
    """A symlink's text (never followed); None otherwise."""


def _children(
    directory: str, prefix: str, ignored: _Matcher
) -> list[tuple[os.DirEntry[str], str, Literal["file", "directory", "symlink"]]]:
    """(entry, NFC relative path, kind) of what a directory contributes, sorted by name.

    The one place that decides what is left out: the same rules as `hash_directory`.
    """
    try:
        with os.scandir(directory) as it:
            listing = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise InputError(
            f"cannot list {directory}: {exc.strerror}", fix="fix permissions or ignore it"
        ) from exc
    out: list[tuple[os.DirEntry[str], str, Literal["file", "directory", "symlink"]]] = []
    for entry in listing:
        nfc = _nfc(entry.name)
        rel = prefix + nfc
        if ignored(nfc, rel):
            continue
        _utf8_path(entry.name)
        kind: Literal["file", "directory", "symlink"]
        if entry.is_symlink():
            kind = "symlink"
        elif entry.is_dir(follow_symlinks=False):
            kind = "directory"
        elif entry.is_file(follow_symlinks=False):
            kind = "file"
        else:
            raise InputError(
                f"{entry.path} is not a regular file, directory or symlink; IPFS cannot hold it",
                fix=f"exclude it with ignore=[{rel!r}]",
            )
        out.append((entry, rel, kind))
    return out


def _directory_block(
    directory: str, prefix: str, ignored: _Matcher, progress: OnBytes | None
) -> Block:
    entries: list[tuple[bytes, Block]] = []
    for entry, rel, kind in _children(directory, prefix, ignored):
        if kind == "symlink":
            block = symlink_node(_utf8_path(os.readlink(entry.path)))
        elif kind == "directory":
            block = _directory_block(entry.path, rel + "/", ignored, progress)
        else:
            block = _file_block(entry.path, progress)
        # kubo stores the name as it is on disk, not normalised
        entries.append((_utf8_path(entry.name), block))
    if needs_hamt(entries):
        return hamt_directory(entries)
    return directory_node(entries)


def _matcher(ignore: Iterable[str], default_ignore: bool) -> _Matcher:
    patterns = tuple(ignore if not isinstance(ignore, str) else [ignore])
    if not all(isinstance(p, str) and p.strip("/") for p in patterns):
        raise InputError(f"ignore must be non-empty glob strings, got {patterns!r}")
    if default_ignore:
        patterns = DEFAULT_IGNORE + patterns
    return _ignore_matcher(patterns)


def _check_directory(root: str) -> None:
    if not os.path.isdir(root):
        what = "a file" if os.path.exists(root) else "missing"
        raise InputError(f"{root} is {what}, not a directory", fix="use cid_of_file() for a file")


def directory_entries(
    path: str | os.PathLike[str], *, ignore: Iterable[str] = (), default_ignore: bool = True
) -> Iterator[StoredEntry]:
    """What `cid_of_directory` covers, parents before children (for adding it to a node).

    Raises:
        InputError: As `cid_of_directory`.
    """
    root = os.fspath(path)
    _check_directory(root)
    ignored = _matcher(ignore, default_ignore)
    stack = [(root, "", "")]
    while stack:
        directory, prefix, disk_prefix = stack.pop()
        for entry, rel, kind in _children(directory, prefix, ignored):
            disk_rel = disk_prefix + entry.name
            target = os.readlink(entry.path) if kind == "symlink" else None
            yield StoredEntry(disk_rel, kind, entry.path, target)
            if kind == "directory":
                stack.append((entry.path, rel + "/", disk_rel + "/"))


def cid_of_directory(
    path: str | os.PathLike[str],
    progress: OnBytes | None = None,
    *,
    ignore: Iterable[str] = (),
    default_ignore: bool = True,
) -> str:
    """The CID ``ipfs add -r --hidden --cid-version 1 DIR`` prints for the directory.

    What is included follows `algo_tracer.hashing.hash_directory`, so that the content stored
    under this CID is exactly what the directory's SHA-256 digest covers: hidden files are
    included (hence ``--hidden``), `DEFAULT_IGNORE` and `ignore` are left out (a tree without
    such entries gives kubo's CID), symlinks are stored as symlinks and never followed. Unlike
    the digest, empty directories are part of the CID, as in kubo (``--empty-dirs``, default).

    Args:
        path: The directory (it may itself be a symlink to one).
        progress: Called with the byte count of each chunk read.
        ignore: Extra glob patterns, as in `hash_directory`.
        default_ignore: Also leave out `DEFAULT_IGNORE`.

    Raises:
        InputError: If the path is not a directory, or an entry is unreadable, special (FIFO,
            socket, device) or not UTF-8.
    """
    root = os.fspath(path)
    _check_directory(root)
    try:
        block = _directory_block(root, "", _matcher(ignore, default_ignore), progress)
    except RecursionError as exc:  # one Python frame per level: hundreds of levels deep
        raise InputError(
            f"{root} is nested too deeply to compute its IPFS CID here",
            fix="store a shallower tree (or an archive of it)",
        ) from exc
    return cid_text(block.cid)


def cid_of_path(
    path: str | os.PathLike[str],
    progress: OnBytes | None = None,
    *,
    ignore: Iterable[str] = (),
    default_ignore: bool = True,
) -> str:
    """`cid_of_directory` for a directory, `cid_of_file` for a regular file.

    Raises:
        InputError: If the path does not exist or is neither a file nor a directory.
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        return cid_of_directory(p, progress, ignore=ignore, default_ignore=default_ignore)
    if not os.path.exists(p):
        raise InputError(f"no such file or directory: {p}", fix="check the path")
    if stat.S_ISREG(os.stat(p).st_mode):
        return cid_of_file(p, progress)
    raise InputError(f"{p} is not a regular file or directory", fix="give a file or a directory")


def same_content(a: str | Cid, b: str | Cid) -> bool:
    """Whether two CIDs name the same block (a CIDv0 and its CIDv1 do; base is irrelevant).

    Raises:
        CidError: If either is not a valid CID.
    """
    ca = a if isinstance(a, Cid) else parse_cid(a)
    cb = b if isinstance(b, Cid) else parse_cid(b)
    return ca.binary == cb.binary


__all__ = [
    "CHUNK_SIZE",
    "HAMT_THRESHOLD",
    "MAX_LINKS",
    "Cid",
    "CidHasher",
    "StoredEntry",
    "cid_of_bytes",
    "cid_of_directory",
    "cid_of_file",
    "cid_of_path",
    "directory_entries",
    "parse_cid",
    "same_content",
]
