"""HAMT-sharded UnixFS directories: what kubo makes of a directory with very many entries.

Private module: import from `algo_tracer.hashing.unixfs`; names here carry no stability promise.

kubo v0.42.0 (boxo v0.40.0; the same in kubo v0.43.1 / boxo v0.43.0:
``ipld/unixfs/io/directory.go`` and ``ipld/unixfs/hamt``) with its default settings: a
directory becomes a HAMT when the sum over its entries of ``len(name) + len(binary CID)``
exceeds 262,144 bytes (``Import.UnixFSHAMTDirectorySizeThreshold`` 256KiB,
``Import.UnixFSHAMTDirectorySizeEstimation`` "links"; a directory exactly at the threshold stays
plain). The shard has fanout 256 (``Import.UnixFSHAMTDirectoryMaxFanout``): each level takes
the next byte of the big-endian first 64 bits of MurmurHash3 x64-128 (seed 0) of the entry
name; a slot holding one entry links to it as ``"%02X" % slot + name``, a slot holding several
links to a sub-shard named ``"%02X" % slot``. The shard's UnixFS data is ``Type=HAMTShard,
Data=bitfield, hashType=0x22 (murmur3), fanout=256``, the bitfield big-endian with bit ``slot``
set for every used slot and leading zero bytes dropped (go-bitfield).
"""

from __future__ import annotations

from collections.abc import Sequence

from algo_tracer.errors import InputError
from algo_tracer.hashing._dag_pb import T_HAMT_SHARD, Block, dag_pb_block, unixfs_data

#: Above this many bytes of ``len(name) + len(CID)`` over its entries, a directory is a HAMT.
HAMT_THRESHOLD = 262_144
#: Slots per shard (kubo's default ``Import.UnixFSHAMTDirectoryMaxFanout``).
FANOUT = 256
#: Multicodec code of murmur3-x64-64, the hash named in every shard.
MURMUR3 = 0x22

_M64 = (1 << 64) - 1
_C1 = 0x87C37B91114253D5
_C2 = 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def murmur3_64(data: bytes) -> bytes:
    """The first 64 bits of MurmurHash3 x64-128 (seed 0), big-endian, as boxo's HAMT uses them
    (spaolacci/murmur3 ``New64().Sum(nil)``)."""
    h1 = h2 = 0
    n = len(data)
    end = n - n % 16
    for i in range(0, end, 16):
        k1 = int.from_bytes(data[i:i + 8], "little")
        k2 = int.from_bytes(data[i + 8:i + 16], "little")
        h1 ^= _rotl((k1 * _C1) & _M64, 31) * _C2 & _M64
        h1 = (_rotl(h1, 27) + h2) & _M64
        h1 = (h1 * 5 + 0x52DCE729) & _M64
        h2 ^= _rotl((k2 * _C2) & _M64, 33) * _C1 & _M64
        h2 = (_rotl(h2, 31) + h1) & _M64
        h2 = (h2 * 5 + 0x38495AB5) & _M64
    tail = data[end:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= _rotl((k2 * _C2) & _M64, 33) * _C1 & _M64
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= _rotl((k1 * _C1) & _M64, 31) * _C2 & _M64
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _M64
    return h1.to_bytes(8, "big")


def needs_hamt(entries: Sequence[tuple[bytes, Block]]) -> bool:
    """Whether kubo shards a directory of these entries (its "links" size estimate)."""
    return sum(len(name) + len(block.cid) for name, block in entries) > HAMT_THRESHOLD


def _shard(entries: list[tuple[bytes, Block, bytes]], depth: int) -> Block:
    if depth == len(entries[0][2]):
        names = ", ".join(repr(name.decode("utf-8", "replace")) for name, _, _ in entries[:3])
        raise InputError(
            f"names {names} have the same 64-bit HAMT hash; kubo cannot shard them either",
            fix="rename one of them",
        )
    slots: dict[int, list[tuple[bytes, Block, bytes]]] = {}
    for entry in entries:
        slots.setdefault(entry[2][depth], []).append(entry)
    links: list[tuple[bytes, Block]] = []
    bitfield = 0
    for slot in sorted(slots):
        bitfield |= 1 << slot
        group = slots[slot]
        prefix = b"%02X" % slot
        if len(group) == 1:
            links.append((prefix + group[0][0], group[0][1]))
        else:
            links.append((prefix, _shard(group, depth + 1)))
    data = unixfs_data(
        T_HAMT_SHARD,
        data=bitfield.to_bytes(FANOUT // 8, "big").lstrip(b"\x00"),
        hash_type=MURMUR3,
        fanout=FANOUT,
    )
    return dag_pb_block(links, data)


def hamt_directory(entries: Sequence[tuple[bytes, Block]]) -> Block:
    """The root shard of a HAMT directory holding `entries` (name, block)."""
    return _shard([(name, block, murmur3_64(name)) for name, block in entries], 0)


__all__ = ["FANOUT", "HAMT_THRESHOLD", "MURMUR3", "hamt_directory", "murmur3_64", "needs_hamt"]
