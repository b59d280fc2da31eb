"""Plans, stage notes and a study's selection rule: the pure rules, offline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from algo_tracer.documents.manifest import StageEntry, StageKind
from algo_tracer.documents.plan import (
    PlanReveal,
    describe_plan,
    load_plan,
    plan_commitment,
    tolerance_for,
)
from algo_tracer.documents.study import (
    Selection,
    StudySpec,
    TrialOf,
    TrialRecord,
    result_for,
    select_best,
    trial_value,
)
from algo_tracer.errors import InputError
from algo_tracer.format.ids import format_id
from algo_tracer.format.stage_notes import (
    MAX_DETAIL_BYTES,
    decode_stage_note,
    encode_stage_note,
    stage_note_for,
    stage_note_prefix,
)
from algo_tracer.stages import rehash_detail

STUDY = bytes(range(32))
TRIAL = bytes(range(32, 64))
SPEC = StudySpec(objective="accuracy", direction="maximize", n_trials=4)


def _record(number: int, state: str, value: float | None) -> TrialRecord:
    return TrialRecord(experiment=format_id(bytes([number]) * 32), number=number,
                       state=state, value=value, final_digest="ab" * 32)  # type: ignore[arg-type]


# -- plans -------------------------------------------------------------------------------------


def test_plan_commitment_is_the_documented_salted_sha256() -> None:
    plan = {"metric": "accuracy", "direction": "maximize", "n_trials": 20}
    salt = bytes(32)
    body = b'{"direction":"maximize","metric":"accuracy","n_trials":20}'
    expected = hashlib.sha256(b"algotrace/v1/plan\x00" + salt + body).digest()
    assert plan_commitment(plan, salt) == expected


def test_a_private_plan_keeps_plan_and_salt_out_of_the_stage_detail() -> None:
    plan = {"metric": "loss", "direction": "minimize"}
    digest, detail, opened = describe_plan(plan, private=True)
    assert detail == {"private": True}
    assert plan_commitment(opened["plan"], bytes.fromhex(opened["salt"])) == digest
    public_digest, public_detail, _ = describe_plan(plan, private=False)
    assert public_detail["plan"] == plan and public_digest != digest  # a fresh salt each time


def test_a_public_plan_stage_rehashes_from_its_detail_and_a_private_one_says_why_not() -> None:
    digest, detail, _ = describe_plan({"metric": "f1"}, private=False)
    entry = StageEntry(index=0, kind=StageKind.PLAN, label="plan", digest=digest.hex(),
                       detail=detail)
    assert rehash_detail(entry).digest == digest.hex()
    edited = entry.model_copy(update={"detail": {**detail, "plan": {"metric": "accuracy"}}})
    assert rehash_detail(edited).digest != digest.hex()
    private = entry.model_copy(update={"detail": {"private": True}})
    assert "private plan" in rehash_detail(private).notes[0]


def test_plan_reveal_round_trips_through_its_file(tmp_path: Path) -> None:
    digest, _, opened = describe_plan({"metric": "f1"}, private=True)
    reveal = PlanReveal(experiment_id=format_id(STUDY), **opened)
    reveal.write(tmp_path / "reveal.json")
    assert (tmp_path / "reveal.json").stat().st_mode & 0o077 == 0  # the salt is the secret
    assert PlanReveal.read(tmp_path / "reveal.json").commitment() == digest


@pytest.mark.parametrize(("plan", "message"), [
    ({}, "non-empty mapping"),
    ({"direction": "up"}, "direction"),
    ({"n_trials": 0}, "n_trials"),
    ({"n_trials": True}, "n_trials"),
    ({"tolerance": -1}, "tolerance"),
    ({"tolerance": {"acc": "a lot"}}, "tolerance"),
    ({"metric": ""}, "metric"),
    ({"x": float("nan")}, "no canonical JSON form"),
])
def test_a_bad_plan_is_refused_with_what_is_wrong(plan: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_plan(plan)


def test_plans_are_read_from_json_and_toml_files(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps({"metric": "acc", "n_trials": 3}))
    (tmp_path / "plan.toml").write_text('metric = "acc"\nn_trials = 3\n')
    assert load_plan(tmp_path / "plan.json") == load_plan(tmp_path / "plan.toml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_plan(tmp_path / "bad.json")
    with pytest.raises(InputError, match="cannot read the plan file"):
        load_plan(tmp_path / "missing.json")


def test_tolerance_is_per_metric_or_global_and_exact_by_default() -> None:
    assert tolerance_for({"tolerance": 0.01}, "acc") == 0.01
    assert tolerance_for({"tolerance": {"acc": 0.02}}, "acc") == 0.02
    assert tolerance_for({"tolerance": {"acc": 0.02}}, "loss") == 0.0
    assert tolerance_for(None, "acc") == 0.0


# -- stage notes -------------------------------------------------------------------------------


def test_a_stage_note_round_trips_and_is_found_by_its_prefix() -> None:
    link = TrialOf(study=format_id(STUDY), app_id=1002, number=3)
    note = stage_note_for(TRIAL, StageKind.TRIAL_OF, link.detail())
    assert note is not None
    assert note.startswith(stage_note_prefix(StageKind.TRIAL_OF, STUDY))  # subject: the study
    decoded = decode_stage_note(note)
    assert decoded is not None and decoded.detail == link.detail()
    assert decoded.kind == StageKind.TRIAL_OF and decoded.subject == STUDY


def test_only_the_linking_stage_kinds_carry_notes() -> None:
    assert stage_note_for(TRIAL, StageKind.PARAMS, {"params": {}}) is None
    assert stage_note_for(TRIAL, StageKind.PLAN, {"private": True}) is None
    huge = {"search_space": {f"p{i}": list(range(20)) for i in range(50)}}
    assert stage_note_for(TRIAL, StageKind.STUDY, huge) is None  # optional: in the manifest
    record = _record(1, "complete", 0.5).detail()
    assert stage_note_for(TRIAL, StageKind.TRIAL, {**record, "pad": "x" * MAX_DETAIL_BYTES}) is None
    with pytest.raises(InputError, match="transaction note"):
        encode_stage_note(StageKind.TRIAL, TRIAL, {**record, "pad": "x" * MAX_DETAIL_BYTES})
    longest = Selection(objective="o" * 200, direction="minimize", trials=2**40, failed=2**40,
                        pruned=2**40, planned=2**40, selected=format_id(bytes(32) + b"")[:44],
                        selected_number=2**40, value=-1.2345678901234567e-300)
    assert stage_note_for(STUDY, StageKind.SELECTION, longest.detail()) is not None


@pytest.mark.parametrize("note", [
    b"algotrace:b\x01" + bytes(40),                     # a records note
    b"algotrace:s\x03\x0d" + STUDY + b"{}",              # an unknown version
    b"algotrace:s\x02\x0d" + STUDY + b'{"a":1.0}',       # version 2 but not RFC 8785
    b"algotrace:s\x01\x0d" + STUDY + b'{"b":1, "a":2}',  # not canonical JSON
    b"algotrace:s\x01\x0d" + STUDY + b"[1]",             # not an object
    b"algotrace:s\x01\x0d" + STUDY[:5],                  # truncated
])
def test_a_note_that_is_not_a_canonical_stage_note_is_ignored(note: bytes) -> None:
    assert decode_stage_note(note) is None


def test_encoded_stage_notes_are_canonical_json_behind_the_documented_head() -> None:
    note = encode_stage_note(StageKind.SELECTION, STUDY, {"b": 1, "a": [1.5, None]})
    assert note == b"algotrace:s\x01\x0f" + STUDY + b'{"a":[1.5,null],"b":1}'


# -- selection ---------------------------------------------------------------------------------


def test_the_selection_is_the_best_complete_trial_and_counts_the_others() -> None:
    records = [_record(0, "complete", 0.8), _record(1, "failed", None),
               _record(2, "complete", 0.9), _record(3, "pruned", None)]
    best = select_best(records, SPEC)
    assert (best.selected_number, best.value, best.trials, best.failed, best.pruned) == (
        2, 0.9, 4, 1, 1)
    lowest = select_best(records, SPEC.model_copy(update={"direction": "minimize"}))
    assert lowest.selected_number == 0


def test_a_tie_goes_to_the_trial_recorded_first_and_no_complete_trial_selects_none() -> None:
    tie = [_record(5, "complete", 0.9), _record(1, "complete", 0.9)]
    assert select_best(tie, SPEC).selected_number == 5
    none = select_best([_record(0, "failed", None)], SPEC)
    assert none.selected is None and none.value is None


def test_a_complete_trial_without_a_finite_value_is_recorded_as_failed() -> None:
    assert result_for("complete", float("nan")).state == "failed"
    assert result_for("complete", None).state == "failed"
    assert result_for("pruned", 0.3).value is None  # only complete trials carry a value
    assert result_for("complete", 0.5).value == 0.5


def test_objective_values_must_be_numbers() -> None:
    assert trial_value(1) == 1.0
    with pytest.raises(InputError, match="must be a number"):
        trial_value("0.9")
    with pytest.raises(InputError, match="must be a number"):
        trial_value(True)


def test_a_studys_report_shows_its_trials_as_text_and_escaped_html() -> None:
    from algo_tracer.verify.report import VerificationReport
    from algo_tracer.verify.report_html import report_html
    from algo_tracer.verify.report_text import format_report
    from algo_tracer.verify.study_report import PlanCheck, StudyCheck, TrialRow

    best = format_id(bytes([2]) * 32)
    report = VerificationReport(
        experiment_id=format_id(STUDY), app_id=1, source="network",
        plan=PlanCheck(state="committed", round=10, first_after="trial (0)",
                       first_after_round=12),
        study=StudyCheck(objective="<acc>", direction="maximize", planned=4, sealed=True,
                         selected=best, selected_number=2, value=0.9, trials=[
                             TrialRow(number=1, experiment=format_id(bytes([1]) * 32),
                                      state="failed", round=13),
                             TrialRow(number=2, experiment=best, state="complete", value=0.9,
                                      round=14)]))
    text = format_report(report)
    assert "plan fixed at round 10, before the first trial (0) at round 12" in text
    assert "best of 2 (1 failed, 0 pruned): trial 2, <acc> = 0.9; 4 were planned" in text
    html = report_html(report)
    assert "&lt;acc&gt;" in html and "<acc>" not in html
    assert best in html and "private, never revealed" in html
