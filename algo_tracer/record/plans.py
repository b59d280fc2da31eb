"""Recording a plan as an experiment's first stage, and revealing a private one later.

A private plan's plan and salt are saved, readable by the owner only, at
``<state dir>/plans/<experiment id>.json`` (`PlanReveal`); nothing of them goes to the journal,
the manifest or the chain until `reveal_plan` sends them in a stage note (a 0-ALGO self-payment
from the experiment's owner, docs/studies.md). The reveal file can also be published as is:
`algo-tracer verify --plan-reveal FILE` checks it against the commitment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.plan import PlanReveal, describe_plan
from algo_tracer.errors import InputError
from algo_tracer.format.ids import format_id
from algo_tracer.format.stage_notes import MAX_DETAIL_BYTES, encode_stage_note
from algo_tracer.hashing import json_encoder
from algo_tracer.network.registry import Registry
from algo_tracer.record.journal import Journal

__all__ = ["Revealed", "plan_stage", "reveal_path", "reveal_plan"]


@dataclass(frozen=True)
class Revealed:
    experiment_id: str
    txid: str
    round: int


def reveal_path(state_dir: Path, experiment_id: bytes) -> Path:
    return state_dir / "plans" / f"{format_id(experiment_id)}.json"


def plan_stage(state_dir: Path, experiment_id: bytes, plan: dict[str, Any], *,
               private: bool, json_scheme: int) -> tuple[bytes, dict[str, Any]]:
    """(digest, detail) of the plan stage under the experiment's JSON scheme; a private plan's
    reveal is saved first (0600)."""
    digest, detail, opened = describe_plan(plan, private=private, scheme=json_scheme)
    if private:
        PlanReveal(experiment_id=format_id(experiment_id), json_scheme=json_scheme,
                   **opened).write(reveal_path(state_dir, experiment_id))
    return digest, detail


def reveal_plan(journal: Journal, registry: Registry, state_dir: Path,
                experiment_id: bytes) -> Revealed:
    """Publish a private plan on chain: its plan and salt in a stage note of kind PLAN."""
    text = format_id(experiment_id)
    stage = next((s for s in journal.stages(experiment_id) if s.kind == StageKind.PLAN), None)
    if stage is None:
        raise InputError(f"experiment {text} has no plan", fix="give the id of an experiment "
                         "or study traced with plan=... and private_plan=True")
    if "plan" in stage.detail:
        raise InputError(f"the plan of experiment {text} is public already (it is on chain)",
                         fix="nothing to do: verification reads it")
    if stage.status != "confirmed":
        raise InputError(f"the plan of experiment {text} is not on chain yet",
                         fix="let the experiment's writes land (or `algo-tracer resume`), then "
                         "reveal it")
    path = reveal_path(state_dir, experiment_id)
    reveal = PlanReveal.read(path)
    if reveal.commitment() != stage.digest:
        raise InputError(f"{path} does not open the commitment recorded for experiment {text}",
                         fix="the file was edited or belongs to another run: restore it")
    opened = {"plan": reveal.plan, "salt": reveal.salt}
    # The note's version names the JSON scheme the commitment was made under (note-format §10).
    size = len(json_encoder(reveal.json_scheme)(opened))
    if size > MAX_DETAIL_BYTES:
        raise InputError(f"the plan of experiment {text} is too long for a transaction note "
                         f"({size} bytes, at most {MAX_DETAIL_BYTES})",
                         fix=f"publish {path} itself; anyone checks it with `algo-tracer "
                         "verify --plan-reveal FILE`")
    group = registry.prepare_note(encode_stage_note(StageKind.PLAN, experiment_id, opened,
                                                    reveal.json_scheme))
    done = registry.submit(group)
    return Revealed(text, done.txid, done.round)
