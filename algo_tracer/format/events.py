"""Decoding of the registry's ARC-28 event logs (on-chain format v1, docs/onchain-format.md §5).

Every write to the ExperimentRegistry logs one event: a 4-byte selector followed by the ARC-4
encoding of its fields, all static, so each event has a fixed length. A verifier reads them from
the Indexer (`/v2/applications/{id}/logs`) or from the transaction's apply data in a block, and
replays them with `algo_tracer.format.chain`.

    >>> log = (STAGE_RECORDED + bytes(32) + (0).to_bytes(8, "big") + bytes([1]) + bytes(32)
    ...        + (7).to_bytes(8, "big") + bytes(32))
    >>> event = decode_event(log)
    >>> event.name, event.index, event.kind, event.round
    ('StageRecorded', 0, 1, 7)

Pure: no network.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from algosdk import encoding

__all__ = [
    "BATCH_ANCHORED",
    "EVENT_SELECTORS",
    "EXPERIMENT_CREATED",
    "EXPERIMENT_SEALED",
    "STAGE_RECORDED",
    "BatchAnchored",
    "Event",
    "ExperimentCreated",
    "ExperimentSealed",
    "StageRecorded",
    "decode_event",
    "event_experiment_id",
    "logs_registry_events",
]

#: First 4 bytes of SHA-512/256 of each event signature (docs/onchain-format.md §5).
EXPERIMENT_CREATED = bytes.fromhex("3d33acc0")
STAGE_RECORDED = bytes.fromhex("f01e05b6")
BATCH_ANCHORED = bytes.fromhex("7de81993")
EXPERIMENT_SEALED = bytes.fromhex("9f715f0d")
EVENT_SELECTORS = (EXPERIMENT_CREATED, STAGE_RECORDED, BATCH_ANCHORED, EXPERIMENT_SEALED)

_CREATED = struct.Struct(">32s32s32sQQ32s")
_STAGE = struct.Struct(">32sQB32sQ32s")
_ANCHOR = struct.Struct(">32sQ32sQQQQ32s")
_SEALED = struct.Struct(">32s32sQQQQ32s")


@dataclass(frozen=True)
class ExperimentCreated:
    experiment_id: bytes
    owner: str
    metadata_digest: bytes
    round: int
    timestamp: int
    head: bytes

    name = "ExperimentCreated"


@dataclass(frozen=True)
class StageRecorded:
    experiment_id: bytes
    index: int
    kind: int
    digest: bytes
    round: int
    head: bytes

    name = "StageRecorded"


@dataclass(frozen=True)
class BatchAnchored:
    experiment_id: bytes
    index: int
    merkle_root: bytes
    record_count: int
    first_round: int
    last_round: int
    round: int
    head: bytes

    name = "BatchAnchored"


@dataclass(frozen=True)
class ExperimentSealed:
    experiment_id: bytes
    final_digest: bytes
    stage_count: int
    anchor_count: int
    anchored_records: int
    round: int
    head: bytes

    name = "ExperimentSealed"


type Event = ExperimentCreated | StageRecorded | BatchAnchored | ExperimentSealed

_LAYOUTS = {
    EXPERIMENT_CREATED: _CREATED,
    STAGE_RECORDED: _STAGE,
    BATCH_ANCHORED: _ANCHOR,
    EXPERIMENT_SEALED: _SEALED,
}


def event_experiment_id(log: bytes) -> bytes | None:
    """The experiment id of a registry event log, or None if `log` is not one (cheap filter)."""
    layout = _LAYOUTS.get(bytes(log[:4]))
    if layout is None or len(log) != 4 + layout.size:
        return None
    return bytes(log[4:36])


def decode_event(log: bytes) -> Event | None:
    """The event in one app log entry; None for anything else (ABI returns, other apps' logs).

    A log with a known selector but the wrong length is not an event of format v1 and is
    also None: the caller reports the experiment's events as incomplete rather than guessing.
    """
    selector = bytes(log[:4])
    layout = _LAYOUTS.get(selector)
    if layout is None or len(log) != 4 + layout.size:
        return None
    fields = layout.unpack_from(log, 4)
    if selector == EXPERIMENT_CREATED:
        eid, owner, metadata, rnd, ts, head = fields
        return ExperimentCreated(eid, encoding.encode_address(owner), metadata, rnd, ts, head)
    if selector == STAGE_RECORDED:
        return StageRecorded(*fields)
    if selector == BATCH_ANCHORED:
        return BatchAnchored(*fields)
    return ExperimentSealed(*fields)


def logs_registry_events(approval_program: bytes) -> bool:
    """Whether an app's approval program can log every event of this format.

    What makes an app an ExperimentRegistry to a reader: the contract logs each event as its
    4-byte selector and the ARC-4 fields, so every selector is a byte constant of its program
    (any version of the contract that writes this format, not only today's build). An app
    without them cannot have written an experiment that verification could read.
    """
    return all(selector in approval_program for selector in EVENT_SELECTORS)
