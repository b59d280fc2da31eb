"""A study's appends against the in-memory chain of test_writer_exactly_once: each finished
trial exactly once, from threads, and the sealed trials nobody appended (offline)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from algokit_utils import AlgorandClient, SigningAccount
from algosdk import account
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from test_writer_exactly_once import APP_ID, FakeChain, FakeRegistry, Owner

from algo_tracer import InputError, Tracer
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.study import RESULT_STAGE, result_for
from algo_tracer.format.stage_notes import decode_stage_note
from algo_tracer.network.settings import Settings
from algo_tracer.record.manifest_builder import build_manifest
from algo_tracer.record.study import Study
from algo_tracer.stages import rehash_detail


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tracer, FakeChain]:
    key, address = account.generate_account()
    settings = Settings(algorand=AlgorandClient.default_localnet(),
                        account=SigningAccount(private_key=key), app_id=APP_ID,
                        state_dir=tmp_path / "state", is_localnet=True, genesis_id="fake-v1",
                        genesis_hash="ZmFrZQ==")
    tracer = Tracer(settings, output_root=tmp_path / "runs")
    chain = FakeChain()
    tracer.registry = FakeRegistry(chain, Owner(address, AccountTransactionSigner(key)))
    monkeypatch.setattr("algo_tracer.record.tracer.check_funds", lambda settings: None)
    return tracer, chain


def _run_trial(study: Study, value: float) -> None:
    with study.trial() as trial:
        trial.trace_params({"v": value})
        trial.report(value)


def test_trials_finishing_in_threads_are_each_appended_once_and_the_best_is_selected(
        offline: tuple[Tracer, FakeChain]) -> None:
    tracer, chain = offline
    study = tracer.study("threads", objective="acc", direction="maximize", n_trials=8,
                         plan={"metric": "acc", "direction": "maximize", "n_trials": 8})
    values = [0.1, 0.7, 0.3, 0.9, 0.2, 0.8, 0.4, 0.6]
    threads = [threading.Thread(target=_run_trial, args=(study, v)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = study.finish()
    assert summary.selection.trials == 8 and summary.selection.value == 0.9
    recorded = study.trials()
    assert sorted(r.number for r in recorded) == list(range(8))
    assert len({r.experiment for r in recorded}) == 8
    manifest = build_manifest(tracer.journal, study.id)
    on_chain = chain.experiments[study.id].stages
    assert [(s.kind, s.digest.hex()) for s in on_chain] == [
        (int(s.kind), s.digest) for s in manifest.stages]
    assert [s.kind for s in manifest.stages][:2] == [StageKind.PLAN, StageKind.STUDY]
    assert manifest.format == "algo-tracer-manifest/v3"  # RFC 8785 for every JSON value
    for entry in manifest.stages:  # every detail re-hashes to its digest, by the format's scheme
        assert rehash_detail(entry, manifest.json_scheme).digest == entry.digest


def test_linking_stages_carry_their_detail_in_the_call_note(
        offline: tuple[Tracer, FakeChain]) -> None:
    tracer, chain = offline
    study = tracer.study("notes", objective="acc", direction="minimize")
    _run_trial(study, 0.5)
    study.finish()
    notes = [decode_stage_note(note) for b in chain.blocks for note in b.call_notes]
    kinds = sorted(n.kind for n in notes if n is not None)
    assert kinds == [StageKind.STUDY, StageKind.TRIAL_OF, StageKind.TRIAL, StageKind.SELECTION]
    # A new study's notes say RFC 8785 in their version byte (docs/note-format.md §10).
    assert {n.scheme for n in notes if n is not None} == {2}


def test_a_sealed_trial_nobody_appended_is_appended_when_the_study_finishes(
        offline: tuple[Tracer, FakeChain]) -> None:
    tracer, _ = offline
    study = tracer.study("reconcile", objective="acc", direction="maximize")
    _run_trial(study, 0.4)
    orphan = study.trial()
    result = result_for("complete", 0.95)  # what Trial.finish records, then seals, then appends
    orphan.experiment.trace_digest(StageKind.CUSTOM, RESULT_STAGE, result.digest(),
                                   result.detail())
    orphan.experiment.finish()  # sealed without its append (as if killed right there)
    summary = study.finish()
    assert summary.selection.trials == 2
    assert summary.selection.selected == orphan.experiment.id_text
    assert study.finish() is summary  # finishing again changes nothing


def test_resume_leaves_open_studies_alone_and_refuses_to_seal_one_as_an_experiment(
        offline: tuple[Tracer, FakeChain]) -> None:
    tracer, _ = offline
    study = tracer.study("open", objective="acc", direction="maximize")
    assert tracer.resume() == []
    assert tracer.journal.experiment(study.id).status == "open"
    with pytest.raises(InputError, match="is a study"):
        tracer.resume(study.id)
    assert tracer.load_study(study.id_text).finish().selection.trials == 0
