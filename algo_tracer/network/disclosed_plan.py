"""A plan as the chain discloses it: a public plan's stage note, or the owner's reveal."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from algokit_utils import AlgorandClient

from algo_tracer.documents.plan import opens_commitment
from algo_tracer.format.stage_notes import decode_stage_note, stage_note_prefix
from algo_tracer.hashing import JSON_SCHEMES
from algo_tracer.network.indexer import iter_transactions, wait_for_indexer

__all__ = ["Disclosure", "find_disclosure", "read_plan"]

_PLAN = 11  # documents.manifest.StageKind.PLAN


@dataclass(frozen=True)
class Disclosure:
    """What the chain says of a plan's commitment."""

    plan: dict[str, Any] | None  # the plan, from the first of the owner's notes that opens it
    txid: str | None = None
    round: int | None = None
    refuted: bool = False  # an owner's note about it that does not open it (a wrong reveal)


def find_disclosure(algorand: AlgorandClient, experiment_id: bytes, owner: str,
                    commitment: bytes, recorded_round: int, *,
                    timeout: float = 60.0) -> Disclosure:
    """The stage notes of kind PLAN about the experiment sent by `owner` (its plan stage's call,
    or a later reveal): the first that opens `commitment`, and whether one before it did not.
    One Indexer note-prefix query per note version (docs/note-format.md §10), once the Indexer
    has reached the round the plan was recorded in (a lagging Indexer is a NetworkError, never
    "no plan"). Each note opens the commitment by the JSON scheme its version byte names."""
    indexer = wait_for_indexer(algorand, recorded_round, timeout=timeout)
    refuted = False
    found = [t for scheme in JSON_SCHEMES
             for t in iter_transactions(indexer, address=owner, address_role="sender",
                                        note_prefix=stage_note_prefix(_PLAN, experiment_id,
                                                                      scheme))]
    found.sort(key=lambda t: (t.get("confirmed-round", 0), t.get("intra-round-offset", 0)))
    for t in found:
        if t.get("sender") != owner:
            continue
        note = decode_stage_note(base64.b64decode(t.get("note") or ""))
        if note is not None and opens_commitment(note.detail, commitment, note.scheme):
            return Disclosure(dict(note.detail["plan"]), t["id"], int(t["confirmed-round"]),
                              refuted)
        refuted = True
    return Disclosure(None, refuted=refuted)


def read_plan(algorand: AlgorandClient, experiment_id: bytes, owner: str, commitment: bytes,
              recorded_round: int, *, timeout: float = 60.0) -> dict[str, Any] | None:
    """The experiment's plan as the chain discloses it (`find_disclosure`); None when never."""
    return find_disclosure(algorand, experiment_id, owner, commitment, recorded_round,
                           timeout=timeout).plan
