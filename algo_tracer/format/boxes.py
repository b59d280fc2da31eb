"""Reading and decoding the registry's boxes (on-chain format v1, docs/onchain-format.md).

Verification reads boxes straight from algod or the Indexer and decodes them here, without the
generated client, so a verifier depends on the documented bytes only.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from algosdk import encoding
from algosdk.error import AlgodHTTPError

from algo_tracer.errors import NetworkError, VerificationError
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


def read_box(algod: Any, app_id: int, key: bytes) -> tuple[bytes, int] | None:
    """A box's value and the round algod read it at, or None when the box does not exist."""
    try:
        box = algod.application_box_by_name(app_id, key)
    except AlgodHTTPError as exc:
        if exc.code == 404:
            return None
        raise NetworkError(f"reading box {key.hex()} of app {app_id} failed: {exc}",
                           fix="check the app id and the network") from exc
    except (OSError, TimeoutError) as exc:
        raise NetworkError(f"algod could not be reached: {exc}",
                           fix="check ALGOD_SERVER/ALGOD_PORT (LocalNet: `algo-tracer "
                           "localnet status`)") from exc
    return base64.b64decode(box["value"]), int(box.get("round", 0))
