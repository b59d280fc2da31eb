"""Reproductions on the real node: recorded by other accounts and the owner, found from the
original alone, each verified; forged claims detected; bad originals refused (issue 17)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from algokit_utils import AlgoAmount, AlgorandClient, PaymentParams, SigningAccount

from algo_tracer import InputError, Manifest, Tracer, format_id
from algo_tracer.cli import main
from algo_tracer.documents.reproduction import Claim
from algo_tracer.errors import ConfigError
from algo_tracer.format.claim_notes import claim_note_prefix, encode_claim_notes
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.reproductions import attach_reproductions


def _account(algorand: AlgorandClient) -> SigningAccount:
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=5))
    return account


def _tracer(base: Tracer, root: Path, account: SigningAccount | None = None) -> Tracer:
    settings = base.settings if account is None else dataclasses.replace(
        base.settings, account=account)
    return Tracer(dataclasses.replace(settings, state_dir=root / "state"),
                  output_root=root / "runs")


def _run(tracer: Tracer, name: str, *, accuracy: float, reproduces: Any = None,
         crash: bool = False) -> Any:
    exp = tracer.experiment(name, seed=7, reproduces=reproduces)
    with exp:
        exp.trace_params({"C": 1.0, "max_iter": 200})
        exp.trace_data("train", b"sepal,petal\n5.1,1.4\n")
        if crash:
            raise RuntimeError("the re-run crashed before training")
        model = exp.output_dir / "model.bin"
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"model bytes: the same training gives the same bytes")
        exp.trace_model(model)
        exp.trace_metrics({"accuracy": accuracy, "f1": 0.5})
    return exp


def _verify(algorand: AlgorandClient, app_id: int, experiment_id: str) -> dict[str, Any]:
    report = verify_experiment(algorand, app_id, experiment_id)
    attach_reproductions(algorand, report)
    return json.loads(report.model_dump_json())


@pytest.fixture(scope="module")
def owner_tracer(localnet, tmp_path_factory: pytest.TempPathFactory) -> Tracer:
    return Tracer.from_environment(state_dir=tmp_path_factory.mktemp("owner-state"),
                                   output_root=tmp_path_factory.mktemp("owner-runs"))


@pytest.fixture(scope="module")
def reproduced(owner_tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An original, two reproductions by two other accounts and one by its owner."""
    algorand = owner_tracer.settings.algorand
    original = _run(owner_tracer, "original", accuracy=0.95)
    manifest = original.summary.manifest_path
    others = [_tracer(owner_tracer, tmp_path_factory.mktemp(f"other{i}"), _account(algorand))
              for i in range(2)]
    # One reproducer has the original's manifest (labels, metric values), one only its id.
    first = _run(others[0], "again", accuracy=0.95, reproduces=manifest)
    second = _run(others[1], "again", accuracy=0.95, reproduces=original.id_text)
    own = _run(_tracer(owner_tracer, tmp_path_factory.mktemp("own")), "mine", accuracy=0.95,
               reproduces=manifest)
    return {"original": original, "reproductions": [first, second, own], "others": others}


def test_reproductions_by_two_accounts_and_the_owner_are_found_from_the_original_alone(
        owner_tracer: Tracer, reproduced: dict[str, Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    original = reproduced["original"]
    first, second, own = reproduced["reproductions"]

    # verify ORIGINAL --json: only the original's id and app are given.
    code = main(["verify", original.id_text, "--app-id", str(original.app_id), "--json", "-q"])
    report = json.loads(capsys.readouterr().out)

    found = report["reproduced_by"]
    rows = {r["experiment_id"]: r for r in found["reproductions"]}
    assert code == 0 and report["ok"]
    assert set(rows) == {first.id_text, second.id_text, own.id_text}
    assert all(r["status"] == "verified" and r["matched"] for r in rows.values())
    assert [rows[e.id_text]["self_reproduction"] for e in (first, second, own)] == [
        False, False, True]
    assert rows[own.id_text]["recorder"] == original.row.owner
    assert {rows[first.id_text]["recorder"], rows[second.id_text]["recorder"]} == {
        t.settings.account.address for t in reproduced["others"]}
    assert found["independent_accounts"] == 2 and found["self_reproductions"] == 1
    assert found["badge"].startswith("reproduced by 2 independent accounts: ")
    assert "(and 1 by the owner, weaker evidence)" in found["badge"]
    # The match table, by label with the manifest, by kind and order with the id only.
    by_label = rows[first.id_text]["comparison"]
    assert [(r["label"], r["status"]) for r in by_label["rows"]] == [
        ("seed", "equal"), ("params", "equal"), ("data:train", "equal"), ("model", "equal"),
        ("metrics", "equal")]
    assert {m["name"]: (m["original"], m["reproduction"], m["within"])
            for m in by_label["metrics"]} == {"accuracy": (0.95, 0.95, True),
                                              "f1": (0.5, 0.5, True)}
    by_order = rows[second.id_text]["comparison"]
    assert by_order["by_order"] and [r["label"] for r in by_order["rows"]][:2] == [
        "seed#0", "params#0"]
    assert all(r["sealed_round"] and r["claim_round"] >= r["sealed_round"]
               for r in rows.values())

    main(["show", original.id_text, "--app-id", str(original.app_id), "-q"])
    shown = capsys.readouterr().out
    assert "reproduced by: reproduced by 2 independent accounts" in shown
    assert f"{own.id_text} by the owner (self-reproduction, weaker)" in shown


def test_a_tampered_comparison_and_a_copied_claim_are_reported_and_not_counted(
        owner_tracer: Tracer, reproduced: dict[str, Any], tmp_path: Path) -> None:
    algorand = owner_tracer.settings.algorand
    original = _run(owner_tracer, "tamper-original", accuracy=0.9)
    reproducer = _account(algorand)
    honest = _run(_tracer(owner_tracer, tmp_path / "r", reproducer), "honest", accuracy=0.8,
                  reproduces=original.summary.manifest_path)
    claim = Claim.model_validate(json.loads(
        (honest.output_dir / "reproduction-claim.json").read_text())["claim"])
    assert not claim.comparison.matched()  # 0.8 against 0.9, exact: an honest "no"

    # The reproducer re-posts its claim saying the accuracy matched (a forged comparison)...
    metrics = [m.model_copy(update={"reproduction": 0.9, "difference": 0.0, "within": True})
               if m.name == "accuracy" else m for m in claim.comparison.metrics]
    forged = claim.model_copy(update={"comparison": claim.comparison.model_copy(
        update={"metrics": metrics})})
    _post(algorand, reproducer, original.id, honest.id, forged)
    # ...a stranger copies the honest claim under its own name, and another points a claim at
    # an app that is no registry (reported, never an error of the original's verification).
    _post(algorand, _account(algorand), original.id, honest.id, claim)
    _post(algorand, _account(algorand), original.id, honest.id, claim.model_copy(update={
        "reproduction": claim.reproduction.model_copy(update={"app_id": 2**40})}))

    report = _verify(algorand, original.app_id, original.id_text)
    rows = report["reproduced_by"]["reproductions"]
    statuses = sorted((r["status"], r["claim_sender"] == reproducer.address) for r in rows)
    assert statuses == [("forged", False), ("forged", True), ("invalid", False),
                        ("verified", True)]
    forged_row = next(r for r in rows if r["status"] == "forged" and
                      r["claim_sender"] == reproducer.address)
    assert any("comparison stage digest" in p for p in forged_row["problems"])
    copied = next(r for r in rows if r["status"] == "forged" and r is not forged_row)
    assert any("not by the reproduction's owner" in p for p in copied["problems"])
    invalid = next(r for r in rows if r["status"] == "invalid")
    assert any(f"application {2**40} does not exist" in p for p in invalid["problems"])
    assert report["reproduced_by"]["independent_accounts"] == 0  # the honest one did not match
    warnings = [f for f in report["findings"] if f["code"] == "reproduction_forged"]
    assert len(warnings) == 2 and all(f["severity"] == "warning" for f in warnings)
    assert report["ok"]  # strangers' claims never fail the original itself


def _post(algorand: AlgorandClient, sender: SigningAccount, original_id: bytes,
          reproduction_id: bytes, claim: Claim) -> None:
    composer = algorand.new_group()
    for note in encode_claim_notes(original_id, reproduction_id, claim.to_json()):
        composer.add_payment(PaymentParams(sender=sender.address, signer=sender.signer,
                                           receiver=sender.address,
                                           amount=AlgoAmount(micro_algo=0), note=note))
    composer.send()


def test_a_crashing_rerun_seals_the_reproduction_as_failed_with_what_was_compared(
        owner_tracer: Tracer, reproduced: dict[str, Any], tmp_path: Path) -> None:
    algorand = owner_tracer.settings.algorand
    original = reproduced["original"]
    tracer = _tracer(owner_tracer, tmp_path, _account(algorand))
    with pytest.raises(RuntimeError, match="crashed"):
        _run(tracer, "crashing", accuracy=0.95, reproduces=original.id_text, crash=True)

    report = _verify(algorand, original.app_id, original.id_text)
    [row] = [r for r in report["reproduced_by"]["reproductions"]
             if r["recorder"] == tracer.settings.account.address]
    statuses = {r["label"]: r["status"] for r in row["comparison"]["rows"]}
    assert row["status"] == "verified" and not row["matched"]
    assert row["outcome"] == "failed: RuntimeError"
    assert statuses["params#0"] == statuses["data#0"] == "equal"
    assert statuses["model#0"] == statuses["metrics#0"] == "missing"


def test_an_interrupted_reproduction_is_compared_sealed_and_claimed_by_resume(
        owner_tracer: Tracer, reproduced: dict[str, Any], tmp_path: Path) -> None:
    original = reproduced["original"]
    tracer = _tracer(owner_tracer, tmp_path, _account(owner_tracer.settings.algorand))
    with pytest.raises(KeyboardInterrupt), tracer.experiment(
            "interrupted", reproduces=original.summary.manifest_path) as exp:
        exp.trace_params({"C": 1.0, "max_iter": 200})
        raise KeyboardInterrupt

    [summary] = tracer.resume()

    manifest = Manifest.read(summary.manifest_path)
    comparison = manifest.stages[-1].detail["comparison"]
    assert summary.sealed and manifest.stages[0].kind == 20 and manifest.stages[-1].kind == 21
    assert comparison["outcome"] == "interrupted"
    assert (exp.output_dir / "reproduction-claim.json").exists()


def test_unknown_unsealed_and_other_network_originals_are_refused_before_anything_is_recorded(
        owner_tracer: Tracer, reproduced: dict[str, Any], tmp_path: Path) -> None:
    tracer = _tracer(owner_tracer, tmp_path)
    with pytest.raises(InputError, match=r"there is no experiment .* nothing to reproduce"):
        tracer.experiment("x", reproduces=format_id(os.urandom(32)))

    left = tracer.experiment("left-open")
    left.trace_params({"a": 1})
    assert left._background is not None
    left._background.drain()  # the create and the stage are on chain; the seal is not
    with pytest.raises(InputError, match="is not sealed"):
        tracer.experiment("x", reproduces=left.id_text)
    left.finish()

    manifest = Manifest.read(reproduced["original"].summary.manifest_path)
    elsewhere = manifest.model_copy(update={"genesis_hash": base64.b64encode(
        bytes(32)).decode()})
    with pytest.raises(ConfigError, match=r"original experiment .* is from"):
        tracer.experiment("x", reproduces=elsewhere)
    edited = manifest.model_copy(update={"name": "edited"})
    with pytest.raises(InputError, match=r"not the one experiment .* was sealed with"):
        tracer.experiment("x", reproduces=edited)
    assert [row.name for row in tracer.journal.experiments()] == ["left-open"]


def test_claim_notes_are_found_by_one_note_prefix_query(
        owner_tracer: Tracer, reproduced: dict[str, Any]) -> None:
    from algo_tracer.network.indexer import iter_transactions, require_indexer

    original = reproduced["original"]
    prefix = claim_note_prefix(original.id)
    found = list(iter_transactions(require_indexer(owner_tracer.settings.algorand),
                                   note_prefix=prefix))
    senders = {t["sender"] for t in found}
    assert {r.row.owner for r in reproduced["reproductions"]} <= senders
    assert all(base64.b64decode(t["note"]).startswith(b"algotrace:r\x01" + original.id)
               for t in found)


SCRIPT = """
import sys
from pathlib import Path
from algo_tracer import Tracer

with Tracer.from_environment().experiment("scripted", output_dir=Path(sys.argv[1])) as exp:
    exp.trace_params({"C": 1.0, "max_iter": 200})
    exp.trace_data("train", b"sepal,petal\\n5.1,1.4\\n")
    if sys.argv[2] == "crash":
        raise SystemExit("the re-run crashed")
"""


def test_reproduce_runs_the_script_as_a_reproduction_of_a_proof_bundles_original(
        owner_tracer: Tracer, reproduced: dict[str, Any], tmp_path: Path) -> None:
    import subprocess
    import sys

    from algosdk import mnemonic

    original = reproduced["original"]
    account = _account(owner_tracer.settings.algorand)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_TRACER_")}
    env |= {"ALGO_TRACER_DIR": str(tmp_path / "state"),
            "ALGO_TRACER_MNEMONIC": mnemonic.from_private_key(account.private_key)}
    (tmp_path / "train.py").write_text(SCRIPT)
    bundle = tmp_path / "bundle.json"
    assert main(["export", original.id_text, "--manifest", str(original.summary.manifest_path),
                 "-o", str(bundle), "-q"]) == 0
    cli = [str(Path(sys.executable).parent / "algo-tracer"), "reproduce", "--of", str(bundle),
           "--", sys.executable, str(tmp_path / "train.py")]

    ok = subprocess.run([*cli, str(tmp_path / "ok"), "ok"], env=env, cwd=tmp_path,
                        capture_output=True, text=True, timeout=600)
    crashed = subprocess.run([*cli, str(tmp_path / "crash"), "crash"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    unknown = subprocess.run([*cli[:3], format_id(os.urandom(32)), *cli[4:], "x", "ok"],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)

    assert ok.returncode == 0, ok.stderr
    assert f"reproducing experiment {original.id_text}" in ok.stderr
    assert crashed.returncode == 2 and "sealed the reproduction as failed" in crashed.stderr
    assert unknown.returncode == 2 and "nothing to reproduce" in unknown.stderr
    assert not (tmp_path / "x").exists()
    report = _verify(owner_tracer.settings.algorand, original.app_id, original.id_text)
    mine = {r["outcome"]: r for r in report["reproduced_by"]["reproductions"]
            if r["recorder"] == account.address}
    assert set(mine) == {"completed", "failed: SystemExit"}
    assert all(r["status"] == "verified" for r in mine.values())
    by_label = {r["label"]: r["status"] for r in mine["completed"]["comparison"]["rows"]}
    assert by_label["params"] == by_label["data:train"] == "equal"  # labels: the bundle's manifest
    assert by_label["model"] == "missing" and not mine["completed"]["matched"]


def test_a_claim_sent_again_by_resume_lands_once(
        owner_tracer: Tracer, reproduced: dict[str, Any]) -> None:
    from algo_tracer.network.indexer import iter_transactions, require_indexer

    first = reproduced["reproductions"][0]
    reproducer = reproduced["others"][0]
    marker = first.output_dir / "reproduction-claim.json"
    sent = json.loads(marker.read_text())["txids"]
    marker.unlink()  # as if the process died between sending the claim and noting it

    [summary] = reproducer.resume(first.id)

    again = json.loads(marker.read_text())
    claims = [t for t in iter_transactions(require_indexer(owner_tracer.settings.algorand),
                                           note_prefix=claim_note_prefix(
                                               reproduced["original"].id))
              if base64.b64decode(t["note"])[44:76] == first.id]
    assert summary.sealed and sent and again["txids"] is None  # the ledger refused a copy
    assert sorted(t["id"] for t in claims) == sorted(sent)
