"""Recording a reproduction: bind the sealed original first, compare before the seal, claim after.

    tracer.experiment("iris-again", reproduces="GRZK4RZv...")   # or a Manifest / manifest path
    ALGO_TRACER_REPRODUCES=GRZK4RZv... python train.py          # what `algo-tracer reproduce` sets

1. `resolve_original` reads the original's header and stages from algod (and its manifest, when
   given, for stage names, metric values and the plan) and refuses, before anything is
   journaled, an unknown, unsealed or other-network original, or a manifest that is not the
   one it was sealed with. Its stages are kept in the output directory (`ORIGINAL_FILE`) so
   that `resume` can still compare.
2. The reproduction's first stage (kind 20) is `binding_detail` of the `Binding`.
3. `record_comparison` (from `Experiment.finish`, so also for a crashed run and on `resume`)
   adds the kind-21 stage: `compare` of the original's stages with the journal's.
4. `send_claim` (after the seal) posts the claim notes under the original's id, once
   (`CLAIM_MARKER` records that they landed; leases stop a second landing in between).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from algo_tracer.documents.atomic import read_model, write_text_atomic
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.plan import declared_tolerance
from algo_tracer.documents.reproduction import (
    Binding,
    Claim,
    Comparison,
    ExperimentRef,
    StageView,
    binding_detail,
    compare,
    comparison_detail,
    detail_digest,
    plan_of,
)
from algo_tracer.errors import InputError, shorten
from algo_tracer.format.claim_notes import claim_lease, encode_claim_notes
from algo_tracer.format.ids import format_id, parse_app_id, parse_id
from algo_tracer.network.claims import send_claim_notes
from algo_tracer.network.disclosed_plan import read_plan
from algo_tracer.network.identity import Network, require_same_network
from algo_tracer.network.registry import Registry
from algo_tracer.network.settings import Settings
from algo_tracer.record.journal import Journal

__all__ = ["REPRODUCES_APP_VAR", "REPRODUCES_VAR", "Original", "Reproduces", "original_from",
           "record_comparison", "resolve_original", "send_claim", "start_reproduction"]

#: Set by `algo-tracer reproduce` for the script it runs: the original (id or manifest path).
REPRODUCES_VAR = "ALGO_TRACER_REPRODUCES"
REPRODUCES_APP_VAR = "ALGO_TRACER_REPRODUCES_APP_ID"
ORIGINAL_FILE = "reproduction-original.json"
CLAIM_MARKER = "reproduction-claim.json"

Reproduces = bytes | str | os.PathLike[str] | Manifest


class _OriginalStage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    kind: int
    digest: str
    label: str | None = None
    detail: dict[str, Any] = {}


class Original(BaseModel):
    """The original as the reproduction compares with it (kept as `ORIGINAL_FILE`)."""

    model_config = ConfigDict(extra="forbid")
    binding: Binding
    stages: list[_OriginalStage]

    def views(self) -> list[StageView]:
        return [StageView(s.index, s.kind, s.digest, s.label, _metrics(s.kind, s.detail),
                          s.detail) for s in self.stages]


def original_from(settings: Settings, reproduces: Reproduces | None,
                  app_id: int | None) -> Original | None:
    """`resolve_original` of `reproduces`, else of ALGO_TRACER_REPRODUCES (and its app id
    variable) when set, else None: not a reproduction."""
    if reproduces is None:
        reproduces = os.environ.get(REPRODUCES_VAR, "").strip() or None
        if reproduces is None:
            return None
        text = os.environ.get(REPRODUCES_APP_VAR, "").strip()
        if app_id is None and text:
            app_id = parse_app_id(text)
    return resolve_original(settings, reproduces, app_id)


def resolve_original(settings: Settings, reproduces: Reproduces,
                     app_id: int | None = None) -> Original:
    """The sealed original on this tracer's network; `InputError`/`ConfigError` otherwise."""
    manifest = _manifest(reproduces)
    eid = parse_id(manifest.experiment_id) if manifest else (
        reproduces if isinstance(reproduces, bytes) else parse_id(str(reproduces)))
    text = format_id(eid)
    if manifest is not None:
        require_same_network(f"the original experiment {text}",
                             Network(manifest.genesis_id, manifest.genesis_hash),
                             settings.network)
    app = app_id or (manifest.app_id if manifest else settings.app_id)
    registry = Registry(settings.algorand, app, settings.account.address,
                        settings.account.signer)
    header = registry.header(eid)
    where = f"app {app} on {settings.genesis_id} (genesis hash {settings.genesis_hash})"
    if header is None:
        raise InputError(f"there is no experiment {text} in {where}: nothing to reproduce",
                         fix="check the id, --app-id (the original's registry app) and that "
                         "ALGOD_SERVER is the network it was recorded on")
    if not header.sealed:
        raise InputError(f"experiment {text} is not sealed: only a sealed record can be "
                         "reproduced (nothing was recorded)",
                         fix="wait until its run ends, or ask its owner to run "
                         "`algo-tracer resume`")
    if manifest is not None and manifest.final_digest() != header.final_digest:
        raise InputError(f"the manifest given is not the one experiment {text} was sealed with "
                         "(its final digest differs from the chain's)",
                         fix="give the original's own manifest.json, or only its id")
    entries = {s.index: s for s in manifest.stages} if manifest else {}
    stages = []
    for s in registry.stages(eid, header.stage_count):
        entry = entries.get(s.index)
        detail = dict(entry.detail) if entry else {}
        if s.kind == StageKind.PLAN and "plan" not in detail:
            # Only an id, or a private plan: the plan as the chain discloses it (or none), the
            # same reading the verifier makes of the tolerance the comparison records.
            plan = read_plan(settings.algorand, eid, header.owner, s.digest, s.round)
            detail = detail if plan is None else {**detail, "plan": plan}
        stages.append(_OriginalStage(index=s.index, kind=s.kind, digest=s.digest.hex(),
                                     label=entry.label if entry else None, detail=detail))
    binding = Binding(experiment_id=text, app_id=app, genesis_hash=settings.genesis_hash,
                      owner=header.owner, final_digest=header.final_digest.hex())
    return Original(binding=binding, stages=stages)


def start_reproduction(original: Original, output_dir: Path,
                       stage: Callable[[StageKind, str | None, bytes, dict[str, Any]], object],
                       json_scheme: int) -> None:
    """Keep the original for the comparison, then record the binding as the first stage,
    hashed under the reproduction's JSON scheme."""
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / ORIGINAL_FILE, original.model_dump_json(indent=2) + "\n")
    detail = binding_detail(original.binding)
    stage(StageKind.REPRODUCES, None, bytes.fromhex(detail_digest(detail, json_scheme)), detail)


def record_comparison(journal: Journal, experiment_id: bytes, output_dir: Path, outcome: str,
                      stage: Callable[[StageKind, str | None, bytes, dict[str, Any]], object]
                      ) -> Comparison | None:
    """Add the comparison stage, unless this is no reproduction or it is already there."""
    rows = journal.stages(experiment_id)
    if not rows or rows[0].kind != StageKind.REPRODUCES:
        return None
    if any(r.kind == StageKind.COMPARISON for r in rows):
        return None
    recorded = [r.detail.get("outcome") for r in rows if r.kind == StageKind.CUSTOM
                and set(r.detail) == {"outcome"}]
    outcome = str(recorded[-1]) if recorded else outcome  # a resumed run keeps how it ended
    original = _read_original(output_dir)
    mine = [StageView(r.idx, r.kind, r.digest.hex(), r.label, _metrics(r.kind, r.detail),
                      r.detail) for r in rows]
    views = original.views()
    comparison = compare(views, mine, binding=original.binding, outcome=outcome,
                         tolerance=declared_tolerance(plan_of(views)))
    if not _fits(comparison, experiment_id, journal):
        # The explanatory lines are what can grow (long package lists): without them the
        # claim still says every status and metric, and fits the notes of one group.
        comparison = comparison.model_copy(update={"rows": [
            r.model_copy(update={"differences": []}) for r in comparison.rows]})
    detail = comparison_detail(comparison)
    digest = detail_digest(detail, journal.experiment(experiment_id).json_scheme)
    stage(StageKind.COMPARISON, None, bytes.fromhex(digest), detail)
    return comparison


def send_claim(settings: Settings, journal: Journal, experiment_id: bytes,
               output_dir: Path) -> list[str] | None:
    """Post the sealed reproduction's claim notes once; their txids (None: nothing to send)."""
    rows = journal.stages(experiment_id)
    if not rows or rows[0].kind != StageKind.REPRODUCES or (output_dir / CLAIM_MARKER).exists():
        return None
    found = [r for r in rows if r.kind == StageKind.COMPARISON]
    if not found:
        return None
    comparison = Comparison.model_validate(found[0].detail["comparison"])
    claim = _claim(comparison, experiment_id, journal)
    original_id = parse_id(comparison.original.experiment_id)
    try:
        notes = encode_claim_notes(original_id, experiment_id, claim.to_json())
    except InputError as exc:  # sealed already: say why it cannot be announced, do not fail
        print(f"algo-tracer: the reproduction {format_id(experiment_id)} is sealed, but its "
              f"claim cannot be posted: {exc.message}", file=sys.stderr)
        return None
    txids = send_claim_notes(settings.algorand, settings.account.address,
                             settings.account.signer, notes,
                             [claim_lease(experiment_id, i) for i in range(len(notes))])
    # None: the ledger refused a second copy (leases), so an earlier send landed or is pending.
    write_text_atomic(output_dir / CLAIM_MARKER, json.dumps(
        {"claim": claim.model_dump(mode="json"), "txids": txids}, indent=2) + "\n")
    return txids


def _claim(comparison: Comparison, experiment_id: bytes, journal: Journal) -> Claim:
    return Claim(reproduction=ExperimentRef(experiment_id=format_id(experiment_id),
                                            app_id=journal.experiment(experiment_id).app_id),
                 comparison=comparison)


def _fits(comparison: Comparison, experiment_id: bytes, journal: Journal) -> bool:
    claim = _claim(comparison, experiment_id, journal)
    try:
        encode_claim_notes(parse_id(comparison.original.experiment_id), experiment_id,
                           claim.to_json())
    except InputError:
        return False
    return True


def _manifest(reproduces: Reproduces) -> Manifest | None:
    if isinstance(reproduces, Manifest):
        return reproduces
    if isinstance(reproduces, bytes):
        return None
    path = Path(reproduces)
    text = str(reproduces)
    if path.suffix == ".json" or os.sep in text or path.is_file():
        if not path.is_file():
            raise InputError(f"the original's manifest {shorten(text)} does not exist",
                             fix="give the original's manifest.json, or its experiment id")
        return Manifest.read(path)
    return None


def _read_original(output_dir: Path) -> Original:
    return read_model(Original, output_dir / ORIGINAL_FILE, what="reproduction's original",
                      fix=f"restore {ORIGINAL_FILE} in {output_dir}, written when the "
                      "reproduction started")


def _metrics(kind: int, detail: dict[str, Any]) -> dict[str, Any] | None:
    metrics = detail.get("metrics") if kind == StageKind.METRICS else None
    return dict(metrics) if isinstance(metrics, dict) else None

