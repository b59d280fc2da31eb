"""Decoding the registry's boxes (on-chain format v1, docs/onchain-format.md).

Verification reads boxes straight from algod (`algo_tracer.network.algod.read_box`) or the
Indexer and decodes them here, without the generated client, so a verifier depends on the
documented bytes only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from algosdk import encoding

from algo_tracer.errors import VerificationError
from algo_tracer.format import chain

_HEADER = struct.Struct(">32sQQBQQQ32s32s32sQ")
assert _HEADER.size == chain.HEADER_SIZE
_STAGE = struct.Struct(">B32sQ")
assert _STAGE.size == chain.STAGE_RECORD_SIZE


@dataclass(frozen=True)
class Header:
    owner: str
    created_round: int
    created_timestamp: int
    sealed: bool
    stage_count: int
    anchor_count: int
    anchored_records: int
    metadata_digest: bytes
    head: bytes
    final_digest: bytes
    sealed_round: int


@dataclass(frozen=True)
class Stage:
    index: int
    kind: int
    digest: bytes
    round: int


def decode_header(value: bytes) -> Header:
    if len(value) != chain.HEADER_SIZE:
        raise VerificationError(f"header box holds {len(value)} bytes, format v1 has "
                                f"{chain.HEADER_SIZE}", fix="is this an ExperimentRegistry app?")
    (owner, created_round, created_ts, status, stages, anchors, records, metadata, head, final,
     sealed_round) = _HEADER.unpack(value)
    return Header(encoding.encode_address(owner), created_round, created_ts,
                  status == chain.STATUS_SEALED, stages, anchors, records, metadata, head, final,
                  sealed_round)


def decode_page(page: int, value: bytes) -> list[Stage]:
    full = chain.PAGE_CAPACITY * chain.STAGE_RECORD_SIZE
    if len(value) % chain.STAGE_RECORD_SIZE or len(value) > full:
        raise VerificationError(f"stage page {page} holds {len(value)} bytes, not a whole number "
                                f"of {chain.STAGE_RECORD_SIZE}-byte records",
                                fix="is this an ExperimentRegistry app?")
    base = page * chain.PAGE_CAPACITY
    return [Stage(base + i, *_STAGE.unpack_from(value, i * chain.STAGE_RECORD_SIZE))
            for i in range(len(value) // chain.STAGE_RECORD_SIZE)]
