"""Reproductions without a node: the claim note codec, the comparison rule, tolerances, the
badge and the CLI's refusals (issue 17; the real-node tests are in tests/localnet/)."""

from __future__ import annotations

import os
import zlib

import pytest

from algo_tracer import InputError
from algo_tracer.cli import main
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.plan import declared_tolerance
from algo_tracer.documents.reproduction import (
    Binding,
    Claim,
    ExperimentRef,
    StageView,
    binding_detail,
    compare,
    detail_digest,
    summary_text,
)
from algo_tracer.format.claim_notes import (
    MAX_CHUNKS,
    assemble_claim,
    claim_lease,
    claim_note_prefix,
    decode_claim_note,
    encode_claim_notes,
)
from algo_tracer.hashing import hash_params
from algo_tracer.verify.reproduction_report import (
    ClaimStatus,
    ReproducedBy,
    ReproductionRow,
    badge_text,
    format_reproductions,
)

ORIGINAL, REPRO = bytes(range(32)), bytes(range(32, 64))
BINDING = Binding(experiment_id="orig", app_id=7, genesis_hash="g", owner="A" * 58,
                  final_digest="ab" * 32)


def _metrics(index: int, values: dict[str, float]) -> StageView:
    return StageView(index, StageKind.METRICS, hash_params(values).hex, "metrics", values,
                     {"metrics": values})


def _stages(accuracy: float, *, labels: bool = True, packages: str = "1.0") -> list[StageView]:
    env = {"packages": {"numpy": packages}}
    views = [StageView(0, StageKind.ENVIRONMENT, hash_params(env).hex, "environment", None, env),
             StageView(1, StageKind.DATA, "11" * 32, "data:train"),
             StageView(2, StageKind.MODEL, "22" * 32, "model"),
             _metrics(3, {"accuracy": accuracy})]
    if not labels:
        for v in views:
            v.label, v.metrics = None, None
    return views


# -- claim notes ---------------------------------------------------------------------------


def test_a_claim_travels_in_notes_under_the_originals_prefix_and_comes_back_whole() -> None:
    claim = os.urandom(3000).hex().encode()  # incompressible: several chunks
    notes = encode_claim_notes(ORIGINAL, REPRO, claim)
    chunks = [decode_claim_note(n) for n in reversed(notes)]

    assert len(notes) > 1 and all(len(n) <= 1024 for n in notes)
    assert all(n.startswith(claim_note_prefix(ORIGINAL)) for n in notes)
    assert {c.reproduction_id for c in chunks} == {REPRO}
    assert assemble_claim(chunks + chunks[:1]) == claim  # any order, an identical duplicate
    assert claim_lease(REPRO, 0) != claim_lease(REPRO, 1) != claim_lease(ORIGINAL, 1)


def test_malformed_claim_notes_are_refused_with_what_is_wrong() -> None:
    notes = encode_claim_notes(ORIGINAL, REPRO, os.urandom(3000).hex().encode())
    head = len(claim_note_prefix(ORIGINAL)) + 32
    with pytest.raises(InputError, match="version 2 at offset 11"):
        decode_claim_note(notes[0][:11] + b"\x02" + notes[0][12:])
    with pytest.raises(InputError, match="chunk 5 of 2"):
        decode_claim_note(notes[0][:head] + b"\x05\x02" + notes[0][head + 2:])
    with pytest.raises(InputError, match="shorter than"):
        decode_claim_note(b"algotrace:r\x01")
    with pytest.raises(InputError, match=r"lacks chunk\(s\) \[1, 2, 3\] of 4"):
        assemble_claim([decode_claim_note(notes[0])])
    bad = encode_claim_notes(ORIGINAL, REPRO, b"x")[0][:-3] + b"zzz"
    with pytest.raises(InputError, match=r"not a zlib stream|truncated"):
        assemble_claim([decode_claim_note(bad)])
    with pytest.raises(InputError, match=f"more than the {MAX_CHUNKS}"):
        encode_claim_notes(ORIGINAL, REPRO, os.urandom(20_000))


def test_a_claim_that_inflates_past_the_limit_is_refused() -> None:
    bomb = zlib.compress(b"\0" * (2 << 20), 9)
    note = claim_note_prefix(ORIGINAL) + REPRO + b"\x00\x01" + bomb
    with pytest.raises(InputError, match="larger than"):
        assemble_claim([decode_claim_note(note)])


# -- the comparison rule -------------------------------------------------------------------


def test_stages_are_compared_by_label_with_metric_differences() -> None:
    c = compare(_stages(0.95), _stages(0.95), binding=BINDING, outcome="completed",
                tolerance=None)
    assert [(r.label, r.status) for r in c.rows] == [
        ("environment", "equal"), ("data:train", "equal"), ("model", "equal"),
        ("metrics", "equal")]
    assert [(m.name, m.difference, m.within) for m in c.metrics] == [("accuracy", 0.0, True)]
    assert c.matched() and summary_text(c) == "environment, data, model match; accuracy equal"


def test_a_metric_within_the_plans_tolerance_matches_and_outside_it_does_not() -> None:
    plan = {"tolerance": {"accuracy": 0.01}}
    near = compare(_stages(0.95), _stages(0.955), binding=BINDING, outcome="completed",
                   tolerance=declared_tolerance(plan))
    far = compare(_stages(0.95), _stages(0.97), binding=BINDING, outcome="completed",
                  tolerance=declared_tolerance(plan))
    exact = compare(_stages(0.95), _stages(0.955), binding=BINDING, outcome="completed",
                    tolerance=declared_tolerance(None))

    assert near.rows[-1].status == "different" and near.matched()
    assert summary_text(near).endswith("accuracy within 0.01")
    assert not far.matched() and not far.metrics[0].within
    assert "off by 0.02" in summary_text(far)
    assert not exact.matched()


@pytest.mark.parametrize(("plan", "expected"), [
    (None, None), ({}, None), ({"tolerance": 0.001}, 0.001), ({"tolerance": 1}, 1.0),
    ({"tolerance": True}, None), ({"tolerance": -1}, None), ({"tolerance": "0.1"}, None),
    ({"tolerance": {"accuracy": 0.1, "loss": "x", "f1": -1}}, {"accuracy": 0.1}),
])
def test_the_tolerance_comes_from_the_plan_or_is_exact(plan, expected) -> None:
    assert declared_tolerance(plan) == expected


def test_changed_packages_missing_and_extra_stages_are_named() -> None:
    mine = [*_stages(0.95, packages="2.0")[:3],
            StageView(4, StageKind.ARTIFACT, "33" * 32, "artifact:plot")]
    c = compare(_stages(0.95), mine, binding=BINDING, outcome="failed: RuntimeError",
                tolerance=None)
    rows = {r.label: r for r in c.rows}

    assert rows["environment"].status == "different"
    assert rows["environment"].differences == ["package 'numpy' changed 1.0 -> 2.0"]
    assert rows["metrics"].status == "missing" and rows["artifact:plot"].status == "extra"
    assert not c.matched() and summary_text(c).endswith("re-run failed: RuntimeError")


def test_without_the_originals_labels_stages_are_matched_by_kind_and_order() -> None:
    c = compare(_stages(0.95, labels=False), _stages(0.95), binding=BINDING,
                outcome="completed", tolerance=None)
    assert c.by_order and [r.label for r in c.rows] == [
        "environment#0", "data#0", "model#0", "metrics#0"]
    # Equal digests are equal values: the reproducer's values stand for both.
    assert [(m.original, m.reproduction) for m in c.metrics] == [(0.95, 0.95)]


def test_bookkeeping_stages_are_not_compared_and_the_binding_digest_is_fixed() -> None:
    plan = StageView(0, 11, "44" * 32, "plan", detail={"plan": {"tolerance": 0.1}})
    bind = StageView(0, StageKind.REPRODUCES, detail_digest(binding_detail(BINDING)))
    c = compare([plan, *_stages(0.9)], [bind, *_stages(0.9)], binding=BINDING,
                outcome="completed", tolerance=None)
    assert [r.label for r in c.rows] == ["environment", "data:train", "model", "metrics"]
    assert detail_digest(binding_detail(BINDING)) == hash_params(
        {"reproduces": BINDING.model_dump(mode="json")}).hex


def test_a_claim_round_trips_through_its_canonical_json() -> None:
    c = compare(_stages(0.95), _stages(0.95), binding=BINDING, outcome="completed",
                tolerance=0.01)
    claim = Claim(reproduction=ExperimentRef(experiment_id="r", app_id=7), comparison=c)
    assert Claim.model_validate_json(claim.to_json()) == claim


# -- reporting -----------------------------------------------------------------------------


def _row(status: ClaimStatus, recorder: str, *, matched: bool = True, own: bool = False
         ) -> ReproductionRow:
    return ReproductionRow(experiment_id=f"r-{recorder}", recorder=recorder, status=status,
                           matched=matched, self_reproduction=own, summary="data match",
                           claim_round=5, problems=["why"] if status != "verified" else [])


def test_the_badge_counts_independent_accounts_and_leaves_out_what_is_not_verified() -> None:
    rows = [_row("verified", "B"), _row("verified", "B"), _row("verified", "C"),
            _row("verified", "A", own=True), _row("forged", "D"),
            _row("verified", "E", matched=False)]
    text, independent, own = badge_text(rows)
    assert (independent, own) == (2, 1)
    assert text == ("reproduced by 2 independent accounts: data match (and 1 by the owner, "
                    "weaker evidence); 1 reproduction(s) did not match; 1 claim(s) not counted "
                    "(forged, invalid or malformed)")
    assert badge_text([])[0] == "no reproduction found on chain"
    assert badge_text([_row("forged", "D")])[0] == (
        "no independent reproduction; 1 claim(s) not counted (forged, invalid or malformed)")


def test_the_reproduced_by_section_names_self_reproductions_and_problems() -> None:
    rows = [_row("verified", "B"), _row("verified", "A", own=True), _row("forged", "D")]
    text = format_reproductions(ReproducedBy(claims_found=3, independent_accounts=1,
                                             badge=badge_text(rows)[0], reproductions=rows))
    assert text.splitlines()[0].startswith("reproduced by: reproduced by 1 independent account")
    assert "r-A by the owner (self-reproduction, weaker)" in text
    assert "FORGED: r-D by D" in text and "problem: why" in text


def test_reproduce_needs_a_command_and_an_original(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--of", "x"]) == 2
    assert "no command to run" in capsys.readouterr().err
    assert main(["reproduce", "--", "python", "train.py"]) == 2
    assert "--of" in capsys.readouterr().err
