"""dag-pb blocks carrying UnixFS v1 data, byte for byte as kubo writes them (docs/ipfs.md).

Private module: import from `algo_tracer.hashing.unixfs`; names here carry no stability promise.

Two protobuf messages nested in each other (https://specs.ipfs.tech/unixfs/):

* ``PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }``, written Links first (the
  dag-pb canonical order, kubo's ``Import.UnixFSPBNodeFieldOrder`` default), each link as
  ``PBLink { bytes Hash = 1; string Name = 2; uint64 Tsize = 3; }`` with all three fields
  present, even an empty name (boxo's merkledag always writes them);
* ``Data { Type = 1; Data = 2; filesize = 3; repeated blocksizes = 4 (not packed);
  hashType = 5; fanout = 6 }`` inside ``PBNode.Data``, only the fields that are set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from algo_tracer.hashing._cid import DAG_PB, cid_bytes, varint

#: UnixFS ``Data.Type`` values.
T_DIRECTORY = 1
T_FILE = 2
T_SYMLINK = 4
T_HAMT_SHARD = 5


@dataclass(frozen=True, slots=True)
class Block:
    """A block as its parent links to it."""

    cid: bytes
    """Binary CIDv1."""
    tsize: int
    """``Tsize`` of a link to it: its own bytes plus the Tsize of every link it holds."""
    filesize: int = 0
    """For file blocks: the file bytes under it (``blocksizes`` of the parent)."""


def _field_bytes(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + varint(len(value)) + value


def unixfs_data(
    kind: int,
    *,
    data: bytes | None = None,
    filesize: int | None = None,
    blocksizes: Iterable[int] = (),
    hash_type: int | None = None,
    fanout: int | None = None,
) -> bytes:
    """The UnixFS ``Data`` message: the fields that are given, in field-number order."""
    out = bytearray(b"\x08" + varint(kind))
    if data is not None:
        out += _field_bytes(0x12, data)
    if filesize is not None:
        out += b"\x18" + varint(filesize)
    for size in blocksizes:
        out += b"\x20" + varint(size)
    if hash_type is not None:
        out += b"\x28" + varint(hash_type)
    if fanout is not None:
        out += b"\x30" + varint(fanout)
    return bytes(out)


def encode_node(links: Sequence[tuple[bytes, Block]], data: bytes) -> bytes:
    """A ``PBNode`` of `links` (name, target), in the order given, then `data`."""
    out = bytearray()
    for name, target in links:
        link = _field_bytes(0x0A, target.cid) + _field_bytes(0x12, name)
        link += b"\x18" + varint(target.tsize)
        out += _field_bytes(0x12, link)
    out += _field_bytes(0x0A, data)
    return bytes(out)


def dag_pb_block(links: Sequence[tuple[bytes, Block]], data: bytes, filesize: int = 0) -> Block:
    """Encode a node and return it as a `Block` (its CID and Tsize)."""
    encoded = encode_node(links, data)
    tsize = len(encoded) + sum(target.tsize for _, target in links)
    return Block(cid_bytes(DAG_PB, hashlib.sha256(encoded).digest()), tsize, filesize)


def file_node(children: Sequence[Block]) -> Block:
    """An intermediate node of a chunked file: unnamed links, the children's sizes in its data."""
    filesize = sum(c.filesize for c in children)
    data = unixfs_data(T_FILE, filesize=filesize, blocksizes=[c.filesize for c in children])
    return dag_pb_block([(b"", c) for c in children], data, filesize)


def directory_node(entries: Iterable[tuple[bytes, Block]]) -> Block:
    """A plain UnixFS directory: links sorted by name bytes, as dag-pb requires and Go sorts."""
    return dag_pb_block(sorted(entries, key=lambda e: e[0]), unixfs_data(T_DIRECTORY))


def symlink_node(target: bytes) -> Block:
    """A UnixFS symlink: the target text as data, no links (what ``ipfs add -r`` stores)."""
    return dag_pb_block([], unixfs_data(T_SYMLINK, data=target))


__all__ = [
    "T_DIRECTORY",
    "T_FILE",
    "T_HAMT_SHARD",
    "T_SYMLINK",
    "Block",
    "dag_pb_block",
    "directory_node",
    "encode_node",
    "file_node",
    "symlink_node",
    "unixfs_data",
]
