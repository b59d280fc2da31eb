"""The `algotrace:r` notes that announce a reproduction under the original's id (pure bytes).

A reproduction is found from the original alone with one indexed Indexer query: every claim
note starts with `claim_note_prefix(original_id)`, so `note-prefix` search on
`/v2/transactions` returns exactly the claims about that original. docs/note-format.md §11
fixes the layout:

    note = b"algotrace:r" || 0x01 (version) || original id (32) || reproduction id (32)
           || chunk index (1) || chunk count (1) || chunk

The chunks, in index order, are the zlib stream of the claim's canonical JSON (at most
`MAX_CHUNKS` notes of at most 1,024 bytes, sent in one atomic group). Each note's lease is
`claim_lease(reproduction id, index)`, so a resend within the validity window is refused by
the ledger instead of landing twice.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from algo_tracer.errors import InputError

__all__ = [
    "CLAIM_PREFIX",
    "MAX_CHUNKS",
    "ClaimChunk",
    "assemble_claim",
    "claim_lease",
    "claim_note_prefix",
    "decode_claim_note",
    "encode_claim_notes",
]

CLAIM_PREFIX = b"algotrace:r"
CLAIM_VERSION = 1
#: One atomic group holds 16 transactions; every one of them may carry a chunk.
MAX_CHUNKS = 16
MAX_NOTE = 1024
_HEAD = len(CLAIM_PREFIX) + 1 + 32 + 32 + 2
CHUNK_BYTES = MAX_NOTE - _HEAD
#: zlib output a claim may decompress to: bounds what a hostile note can make us allocate.
MAX_CLAIM_BYTES = 1 << 20
LEASE_DOMAIN = b"algotrace/v1/reproduction-claim\x00"


@dataclass(frozen=True)
class ClaimChunk:
    original_id: bytes
    reproduction_id: bytes
    index: int
    count: int
    data: bytes


def claim_note_prefix(original_id: bytes) -> bytes:
    """What every claim about `original_id` starts with (the Indexer `note-prefix`)."""
    _check_id(original_id)
    return CLAIM_PREFIX + bytes((CLAIM_VERSION,)) + original_id


def claim_lease(reproduction_id: bytes, index: int) -> bytes:
    """The 32-byte lease of chunk `index` of a reproduction's claim."""
    return hashlib.sha256(LEASE_DOMAIN + reproduction_id + bytes((index,))).digest()


def encode_claim_notes(original_id: bytes, reproduction_id: bytes, claim_json: bytes
                       ) -> list[bytes]:
    """The notes carrying `claim_json` (canonical JSON), compressed and cut into chunks."""
    _check_id(reproduction_id)
    packed = zlib.compress(claim_json, 9)
    chunks = [packed[i:i + CHUNK_BYTES] for i in range(0, len(packed), CHUNK_BYTES)]
    if len(chunks) > MAX_CHUNKS:
        raise InputError(f"the reproduction's comparison needs {len(chunks)} notes compressed, "
                         f"more than the {MAX_CHUNKS} of one transaction group",
                         fix="compare fewer stages or metrics in one experiment")
    head = claim_note_prefix(original_id) + reproduction_id
    return [head + bytes((i, len(chunks))) + chunk for i, chunk in enumerate(chunks)]


def decode_claim_note(note: bytes) -> ClaimChunk:
    """One claim note; `InputError` naming the byte offset when it is not one."""
    if not note.startswith(CLAIM_PREFIX):
        raise InputError("not a claim note: no 'algotrace:r' prefix at offset 0",
                         fix="only notes found under claim_note_prefix are claims")
    if len(note) < _HEAD:
        raise InputError(f"claim note of {len(note)} bytes is shorter than its {_HEAD}-byte "
                         "head", fix="the note was cut or is not a claim")
    at = len(CLAIM_PREFIX)
    if note[at] != CLAIM_VERSION:
        raise InputError(f"claim note version {note[at]} at offset {at} is not "
                         f"{CLAIM_VERSION}", fix="read it with a newer algo-tracer")
    original, reproduction = note[at + 1:at + 33], note[at + 33:at + 65]
    index, count = note[at + 65], note[at + 66]
    if not 0 < count <= MAX_CHUNKS or index >= count:
        raise InputError(f"claim note chunk {index} of {count} (offset {at + 65}) is out of "
                         f"range 1..{MAX_CHUNKS}", fix="the note is malformed")
    return ClaimChunk(original, reproduction, index, count, note[_HEAD:])


def assemble_claim(chunks: Iterable[ClaimChunk]) -> bytes:
    """The claim JSON from its chunks (any order, duplicates allowed if identical)."""
    by_index: dict[int, bytes] = {}
    counts = set()
    for c in chunks:
        counts.add(c.count)
        if by_index.setdefault(c.index, c.data) != c.data:
            raise InputError(f"two different chunks {c.index} of one claim",
                             fix="the claim is malformed")
    if len(counts) != 1:
        raise InputError(f"the claim's chunks disagree on their count ({sorted(counts)})",
                         fix="the claim is malformed")
    count = counts.pop()
    missing = sorted(set(range(count)) - by_index.keys())
    if missing:
        raise InputError(f"the claim lacks chunk(s) {missing} of {count}",
                         fix="the claim is incomplete")
    stream = zlib.decompressobj()
    try:
        out = stream.decompress(b"".join(by_index[i] for i in range(count)), MAX_CLAIM_BYTES)
    except zlib.error as exc:
        raise InputError(f"the claim's chunks are not a zlib stream: {exc}",
                         fix="the claim is malformed") from None
    if stream.unconsumed_tail or not stream.eof:
        raise InputError("the claim's zlib stream is truncated or larger than "
                         f"{MAX_CLAIM_BYTES} bytes", fix="the claim is malformed")
    return out


def _check_id(experiment_id: bytes) -> None:
    if len(experiment_id) != 32:
        raise InputError(f"an experiment id is 32 bytes, got {len(experiment_id)}",
                         fix="pass the decoded id (algo_tracer.format.ids.parse_id)")
