"""Steps 10 and 11 of docs/verification.md: the plan, and a study's trials and selection.

Both read what steps 1-8 gathered (`Evidence`) plus, through `algo_tracer.network`, what only
other experiments or later transactions hold: a private plan's reveal (a stage note sent by the
owner), each trial's boxes (sealed? the final digest the study recorded? naming the study
back?), and every experiment whose first stage names the study (one Indexer note-prefix query),
so a trial run outside the record is reported. The rules are those of
`algo_tracer.documents.study` and `algo_tracer.documents.plan`, which recording uses too.
"""

from __future__ import annotations

import base64
from typing import Any

from algokit_utils import AlgorandClient
from pydantic import ValidationError

from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.plan import PlanReveal, opens_commitment
from algo_tracer.documents.study import (
    RESULT_STAGE,
    StudySpec,
    TrialOf,
    TrialRecord,
    TrialResult,
    select_best,
)
from algo_tracer.format.boxes import Stage
from algo_tracer.format.events import StageRecorded, decode_event
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.format.stage_notes import decode_stage_note, stage_note_prefix
from algo_tracer.hashing import JSON_SCHEMES, hash_params, params_scheme
from algo_tracer.network.disclosed_plan import find_disclosure
from algo_tracer.network.indexer import iter_transactions, require_indexer
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.evidence import read_experiment_boxes
from algo_tracer.verify.report import CheckRow, Finding, VerificationReport
from algo_tracer.verify.study_report import PlanCheck, StudyCheck, TrialRow

__all__ = ["check_plan", "check_study", "noted_detail"]

_PLAN_STEP, _STUDY_STEP = 10, 11


def noted_detail(ev: Evidence, index: int, manifest: Manifest | None) -> dict[str, Any] | None:
    """A stage's detail from its stage note (whose hash, by the JSON scheme the note's version
    names, must be the stage's digest), else from the manifest (whose detail steps 3 and 8
    compared with the chain), else None."""
    stage = ev.stages[index]
    txn = ev.stage_calls.get(index, (None, None))[0]
    note = decode_stage_note(txn.note) if txn is not None and txn.note else None
    if note is not None and note.kind == stage.kind and note.subject == ev.experiment_id and (
            opens_commitment(note.detail, stage.digest, note.scheme)
            if stage.kind == StageKind.PLAN
            else hash_params(note.detail, params_scheme(note.scheme)).value == stage.digest):
        return note.detail
    if manifest is not None and index < len(manifest.stages):
        return manifest.stages[index].detail
    return None


def _recorded_as(detail: Any, digest: bytes) -> bool:
    """Whether a study detail the verifier rebuilt (a trial's link or result) is what `digest`
    records, under either JSON scheme. The trial chose its scheme when it was created, and the
    chain alone does not say which; trying both lets no one choose anything: the value is ours,
    and the schemes' domain tags differ, so a digest is the hash of this value under at most one
    of them (docs/hashing.md §13)."""
    return any(detail.digest(scheme) == digest for scheme in JSON_SCHEMES)


def check_plan(algorand: AlgorandClient, ev: Evidence, report: VerificationReport,
               manifest: Manifest | None, reveal: PlanReveal | None = None) -> None:
    """(10) A plan stage: first, and public, revealed by the owner, or only committed."""
    plans = [s for s in ev.stages if s.kind == StageKind.PLAN]
    if not plans or ev.header is None:
        return
    problems: list[str] = []
    plan = plans[0]
    if plan.index != 0 or len(plans) > 1:
        problems.append("the plan is not the experiment's first and only plan stage")
    detail = noted_detail(ev, plan.index, manifest) or {}
    check = PlanCheck(state="committed", round=plan.round)
    # The detail is the note's (already opened by its version's scheme) or the manifest's:
    # either scheme may open it, as in `_recorded_as` (distinct tags: no choice is gained).
    if "plan" in detail and "salt" in detail and any(
            opens_commitment(detail, plan.digest, scheme) for scheme in JSON_SCHEMES):
        check.state, check.plan = "public", detail["plan"]
    else:
        _find_reveal(algorand, ev, plan, check, reveal)
    after = [s for s in ev.stages if s.index > plan.index]
    first_anchor = min((t.round for t in ev.app_txns for e in map(decode_event, t.logs)
                        if e is not None and e.name == "BatchAnchored"), default=None)
    firsts = [(s.round, f"stage (index {s.index})") for s in after[:1]]
    if first_anchor is not None:
        firsts.append((first_anchor, "metric batch"))
    if firsts:
        check.first_after_round, check.first_after = min(firsts)
        if check.first_after_round < plan.round:
            problems.append(f"the plan (round {plan.round}) came after the first "
                            f"{check.first_after} (round {check.first_after_round})")
    report.plan = check
    if check.state == "mismatch":
        problems.append("a reveal sent by the owner does not open the plan's commitment")
    _row(report, _PLAN_STEP, "plan", problems, check.line())


def check_study(algorand: AlgorandClient, ev: Evidence, report: VerificationReport,
                manifest: Manifest | None) -> None:
    """(11) A study: every trial record resolves to a sealed trial naming the study back,
    each once; the plan and search precede the first trial; the selection is the best."""
    specs = [s for s in ev.stages if s.kind == StageKind.STUDY]
    if not specs or ev.header is None:
        return
    problems: list[str] = []
    try:
        spec = StudySpec.model_validate(noted_detail(ev, specs[0].index, manifest))
    except ValidationError:
        _row(report, _STUDY_STEP, "study", ["the study's search (stage "
             f"{specs[0].index}) cannot be read: no stage note and no manifest"], "")
        return
    sid = format_id(ev.experiment_id)
    check = StudyCheck(objective=spec.objective, direction=spec.direction,
                       planned=spec.n_trials, sealed=ev.header.sealed)
    records: list[TrialRecord] = []
    for stage in (s for s in ev.stages if s.kind == StageKind.TRIAL):
        try:
            record = TrialRecord.model_validate(noted_detail(ev, stage.index, manifest))
        except ValidationError:
            problems.append(f"trial record (stage {stage.index}) cannot be read")
            continue
        row = TrialRow(number=record.number, experiment=record.experiment, state=record.state,
                       value=record.value, round=stage.round)
        row.message = _check_trial(algorand, ev, spec, record, row, specs[0].round)
        row.ok = not row.message
        if record.experiment in {r.experiment for r in records}:
            row.ok, row.message = False, "recorded twice"
        if not row.ok:
            problems.append(f"trial {record.number} ({record.experiment}): {row.message}")
        records.append(record)
        check.trials.append(row)
    selections = [s for s in ev.stages if s.kind == StageKind.SELECTION]
    if selections:
        recorded = noted_detail(ev, selections[0].index, manifest) or {}
        best = select_best(records, spec)
        check.selected, check.selected_number, check.value = (
            recorded.get("selected"), recorded.get("selected_number"), recorded.get("value"))
        if best.detail() != recorded:
            problems.append(f"the selection names trial {recorded.get('selected_number')} "
                            f"({recorded.get('value')}); by its rule the recorded trials select "
                            f"trial {best.selected_number} ({best.value})")
    elif ev.header.sealed:
        problems.append("the study was sealed without a selection")
    check.outside = _outside(algorand, ev, {r.experiment for r in records})
    for trial in check.outside:
        problems.append(f"experiment {trial} names this study as a trial of it but is not "
                        "recorded in it (a trial run outside the record)")
    report.study = check
    started = [(t.created_round, t.number) for t in check.trials if t.created_round is not None]
    if report.plan is not None and started:  # what a study's plan must precede: its trials
        first_round, number = min(started)
        report.plan.first_after, report.plan.first_after_round = f"trial ({number})", first_round
        if first_round < (report.plan.round or 0):
            problems.append(f"trial {number} started (round {first_round}) before the plan")
        plan_row = next(c for c in report.checks if c.step == _PLAN_STEP)
        if plan_row.status == "pass":
            plan_row.detail = report.plan.line()
    if check.planned is not None and len(records) < check.planned and ev.header.sealed:
        report.findings.append(Finding(
            step=_STUDY_STEP, severity="warning", code="fewer_trials_than_planned",
            message=f"study {sid} recorded {len(records)} trials; its plan was "
                    f"{check.planned}"))
    _row(report, _STUDY_STEP, "study", problems, check.headline())


def _check_trial(algorand: AlgorandClient, ev: Evidence, spec: StudySpec, record: TrialRecord,
                 row: TrialRow, search_round: int) -> str:
    """What is wrong with one trial record ("" when nothing)."""
    found = read_experiment_boxes(algorand, ev.app_id, parse_id(record.experiment))
    if found is None:
        return "no such experiment in this app"
    header, stages, _, _ = found
    row.sealed_round = header.sealed_round if header.sealed else None
    row.created_round = header.created_round
    link = TrialOf(study=format_id(ev.experiment_id), app_id=ev.app_id, number=record.number)
    result = TrialResult(state=record.state, value=record.value)
    if not header.sealed or header.final_digest.hex() != record.final_digest:
        return "the trial is not sealed with the final digest the study recorded"
    if ev.header is not None and header.owner != ev.header.owner:
        return f"recorded by {header.owner}, not the study's owner"
    if not stages or stages[0].kind != StageKind.TRIAL_OF or not _recorded_as(link,
                                                                               stages[0].digest):
        return "its first stage does not name this study with this number"
    if not any(s.kind == StageKind.CUSTOM and _recorded_as(result, s.digest) for s in stages):
        return (f"its own {RESULT_STAGE} stage does not say {record.state}"
                f"{'' if record.value is None else f' with {spec.objective} {record.value:g}'}")
    if header.created_round < search_round:
        return f"it started (round {header.created_round}) before the study's search was fixed"
    if row.round is not None and header.sealed_round > row.round:
        return "the study recorded it before it was sealed"
    return ""


def _outside(algorand: AlgorandClient, ev: Evidence, recorded: set[str]) -> list[str]:
    indexer = require_indexer(algorand, needed_by="finding the trials of a study needs one")
    found = []
    # One query per note version: a trial names its study in its own JSON scheme.
    for t in (t for scheme in JSON_SCHEMES
              for t in iter_transactions(
                  indexer, note_prefix=stage_note_prefix(StageKind.TRIAL_OF, ev.experiment_id,
                                                         scheme),
                  application_id=ev.app_id, max_round=ev.data_round)):
        if ev.header is None or t["sender"] != ev.header.owner:
            continue  # anyone may name a study; only its owner's trials can be its trials
        for event in map(decode_event, _logs(t)):
            if isinstance(event, StageRecorded) and event.index == 0:
                trial = format_id(event.experiment_id)
                if trial not in recorded and _sealed_before(algorand, ev, event.experiment_id):
                    found.append(trial)
    return sorted(set(found))


def _sealed_before(algorand: AlgorandClient, ev: Evidence, trial_id: bytes) -> bool:
    """A trial counts as run outside the record once it is sealed while the study was open
    (an unsealed one may still be running, and is appended when it ends)."""
    found = read_experiment_boxes(algorand, ev.app_id, trial_id)
    if found is None or not found[0].sealed:
        return False
    return (ev.header is None or not ev.header.sealed
            or found[0].sealed_round <= ev.header.sealed_round)


def _find_reveal(algorand: AlgorandClient, ev: Evidence, plan: Stage, check: PlanCheck,
                 reveal: PlanReveal | None) -> None:
    if reveal is not None:
        if reveal.commitment() == plan.digest:
            check.state, check.plan = "revealed", reveal.plan
        else:
            check.state = "mismatch"
        return
    if ev.header is None:
        return
    found = find_disclosure(algorand, ev.experiment_id, ev.header.owner, plan.digest, plan.round)
    if found.plan is not None:
        check.state, check.plan = "revealed", found.plan
        check.revealed_round, check.revealed_txid = found.round, found.txid
    elif found.refuted:
        check.state = "mismatch"


def _logs(t: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(x) for x in t.get("logs") or []]


def _row(report: VerificationReport, step: int, name: str, problems: list[str],
         ok: str) -> None:
    report.checks.append(CheckRow(step=step, name=name, status="fail" if problems else "pass",
                                  detail="; ".join(problems[:5]) if problems else ok))
