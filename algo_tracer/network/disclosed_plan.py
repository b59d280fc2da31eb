"""A plan as the chain discloses it: a public plan's stage note, or the owner's reveal."""

from __future__ import annotations

import base64
from typing import Any

from algokit_utils import AlgorandClient

from algo_tracer.documents.plan import opens_commitment
from algo_tracer.format.stage_notes import decode_stage_note, stage_note_prefix
from algo_tracer.network.indexer import iter_transactions, wait_for_indexer

__all__ = ["read_plan"]

_PLAN = 11  # documents.manifest.StageKind.PLAN


def read_plan(algorand: AlgorandClient, app_id: int, experiment_id: bytes, owner: str,
              commitment: bytes, recorded_round: int, *,
              timeout: float = 60.0) -> dict[str, Any] | None:
    """The experiment's plan: the first stage note of kind PLAN about it, sent by `owner` (its
    plan stage's call, or a later reveal), that opens `commitment`; None when never disclosed.
    One Indexer note-prefix query (docs/note-format.md §10), once the Indexer has reached the
    round the plan was recorded in (a lagging Indexer is a NetworkError, never "no plan")."""
    indexer = wait_for_indexer(algorand, recorded_round, timeout=timeout)
    for t in iter_transactions(indexer, note_prefix=stage_note_prefix(_PLAN, experiment_id),
                               address=owner, address_role="sender"):
        note = decode_stage_note(base64.b64decode(t.get("note") or ""))
        app = (t.get("application-transaction") or {}).get("application-id")
        if note is not None and app in (None, 0, app_id) and opens_commitment(note.detail,
                                                                              commitment):
            return dict(note.detail["plan"])
    return None
