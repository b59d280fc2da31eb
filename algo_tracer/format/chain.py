"""The registry's hash chain and storage arithmetic in plain Python (on-chain format v1).

The ExperimentRegistry contract folds every write into a running SHA-256 "head". This module
recomputes the same heads from the same inputs, so a client can predict the head a call will
return and a verifier can replay events or box contents and compare with the head on chain.
It also holds the box layout constants and the storage-deposit (MBR) formulas the client needs
to size its payments. docs/onchain-format.md is the specification; this module and the contract
(`smart_contracts/experiment_registry/contract.py`) must agree with it byte for byte.

    >>> head = genesis_head(bytes(32), bytes(32), bytes(32))
    >>> head = fold_stage(head, 0, 1, bytes(32), 1234)
    >>> len(head), stage_mbr(0), stage_mbr(1)
    (32, 33700, 16400)

Pure: no network, no algopy.
"""

from __future__ import annotations

import hashlib

from algo_tracer.errors import InputError

#: Version of the on-chain layout described in docs/onchain-format.md.
FORMAT_VERSION = 1
DIGEST_SIZE = 32

GENESIS_TAG = b"algotrace/v1/genesis"
TAG_STAGE = b"\x01"
TAG_ANCHOR = b"\x02"
TAG_SEAL = b"\x03"

#: Header box key: HEADER_KEY_PREFIX + id (33 bytes); value HEADER_SIZE bytes.
HEADER_KEY_PREFIX = b"h"
HEADER_KEY_SIZE = 33
HEADER_SIZE = 177
#: Page box key: PAGE_KEY_PREFIX + id + uint32 page (37 bytes); value k * STAGE_RECORD_SIZE bytes.
PAGE_KEY_PREFIX = b"s"
PAGE_KEY_SIZE = 37
#: kind (1) + digest (32) + round (8).
STAGE_RECORD_SIZE = 41
#: Records per page box: header + a full page (177 + 1,968 B) fit two 2,048 B box references.
PAGE_CAPACITY = 48

STATUS_OPEN = 0
STATUS_SEALED = 1

#: Consensus BoxFlatMinBalance: µA locked per box.
BOX_FLAT_MBR = 2_500
#: Consensus BoxByteMinBalance: µA locked per byte of box key + value.
BOX_BYTE_MBR = 400
#: Minimum balance of any account, including the app account before it holds boxes.
ACCOUNT_MIN_BALANCE = 100_000

_UINT64_MAX = 2**64 - 1


def box_mbr(key_size: int, value_size: int) -> int:
    """µA locked by one box: 2,500 + 400 * (key + value bytes)."""
    return BOX_FLAT_MBR + BOX_BYTE_MBR * (key_size + value_size)


def header_box_mbr() -> int:
    """Deposit paid with `create_experiment` (86,500 µA)."""
    return box_mbr(HEADER_KEY_SIZE, HEADER_SIZE)


def stage_mbr(stage_index: int) -> int:
    """Deposit paid with `record_stage` for stage `stage_index`.

    Every record adds 41 value bytes (16,400 µA); the first record of a page also creates the
    page box and pays its flat fee and key bytes (2,500 + 400 * 37 = 17,300 µA), 33,700 µA in all.
    """
    _check_uint64("stage_index", stage_index)
    mbr = BOX_BYTE_MBR * STAGE_RECORD_SIZE
    if stage_index % PAGE_CAPACITY == 0:
        mbr += BOX_FLAT_MBR + BOX_BYTE_MBR * PAGE_KEY_SIZE
    return mbr


def header_key(experiment_id: bytes) -> bytes:
    """Box name of the experiment's header."""
    _check_digest("experiment_id", experiment_id)
    return HEADER_KEY_PREFIX + experiment_id


def stage_location(stage_index: int) -> tuple[int, int]:
    """(page number, byte offset in the page box) of stage `stage_index`."""
    _check_uint64("stage_index", stage_index)
    page, slot = divmod(stage_index, PAGE_CAPACITY)
    return page, slot * STAGE_RECORD_SIZE


def page_key(experiment_id: bytes, page: int) -> bytes:
    """Box name of page `page` of the experiment's stage records."""
    _check_digest("experiment_id", experiment_id)
    if not 0 <= page < 2**32:
        raise InputError(f"page must fit in uint32, got {page}")
    return PAGE_KEY_PREFIX + experiment_id + page.to_bytes(4, "big")


def genesis_head(experiment_id: bytes, owner_pk: bytes, metadata_digest: bytes) -> bytes:
    """Head after `create_experiment`: sha256(GENESIS_TAG || id || owner || metadata_digest)."""
    _check_digest("experiment_id", experiment_id)
    _check_digest("owner_pk", owner_pk)
    _check_digest("metadata_digest", metadata_digest)
    return hashlib.sha256(GENESIS_TAG + experiment_id + owner_pk + metadata_digest).digest()


def fold_stage(head: bytes, index: int, kind: int, digest: bytes, round: int) -> bytes:
    """Head after stage `index`: sha256(head || 0x01 || index || kind || digest || round)."""
    _check_digest("head", head)
    _check_digest("digest", digest)
    if not 1 <= kind <= 255:
        raise InputError(f"stage kind must be 1..255, got {kind}")
    return hashlib.sha256(
        head + TAG_STAGE + _u64("index", index) + bytes([kind]) + digest + _u64("round", round)
    ).digest()


def fold_anchor(
    head: bytes, index: int, root: bytes, count: int, first_round: int, last_round: int
) -> bytes:
    """Head after anchor `index`.

    sha256(head || 0x02 || index || root || count || first_round || last_round)
    """
    _check_digest("head", head)
    _check_digest("root", root)
    if count == 0:
        raise InputError("an anchored batch must hold at least one record")
    if first_round > last_round:
        raise InputError(f"first_round {first_round} is after last_round {last_round}")
    return hashlib.sha256(
        head
        + TAG_ANCHOR
        + _u64("index", index)
        + root
        + _u64("count", count)
        + _u64("first_round", first_round)
        + _u64("last_round", last_round)
    ).digest()


def fold_seal(head: bytes, final_digest: bytes, round: int) -> bytes:
    """Head after `seal`: sha256(head || 0x03 || final_digest || round)."""
    _check_digest("head", head)
    _check_digest("final_digest", final_digest)
    return hashlib.sha256(head + TAG_SEAL + final_digest + _u64("round", round)).digest()


def _check_digest(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != DIGEST_SIZE:
        raise InputError(f"{name} must be {DIGEST_SIZE} bytes, got {value!r:.80}")


def _check_uint64(name: str, value: int) -> None:
    if not 0 <= value <= _UINT64_MAX:
        raise InputError(f"{name} must fit in uint64, got {value}")


def _u64(name: str, value: int) -> bytes:
    _check_uint64(name, value)
    return value.to_bytes(8, "big")


__all__ = [
    "ACCOUNT_MIN_BALANCE",
    "BOX_BYTE_MBR",
    "BOX_FLAT_MBR",
    "DIGEST_SIZE",
    "FORMAT_VERSION",
    "GENESIS_TAG",
    "HEADER_KEY_PREFIX",
    "HEADER_KEY_SIZE",
    "HEADER_SIZE",
    "PAGE_CAPACITY",
    "PAGE_KEY_PREFIX",
    "PAGE_KEY_SIZE",
    "STAGE_RECORD_SIZE",
    "STATUS_OPEN",
    "STATUS_SEALED",
    "TAG_ANCHOR",
    "TAG_SEAL",
    "TAG_STAGE",
    "box_mbr",
    "fold_anchor",
    "fold_seal",
    "fold_stage",
    "genesis_head",
    "header_box_mbr",
    "header_key",
    "page_key",
    "stage_location",
    "stage_mbr",
]
