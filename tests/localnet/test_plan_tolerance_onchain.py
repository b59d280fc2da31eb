"""A reproduction compares metrics within the tolerance the original's plan declared, read from
the chain when the reproducer has only the original's id; a claim with another one is forged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from algokit_utils import AlgoAmount

from algo_tracer import InputError, Tracer
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.reproductions import attach_reproductions


def _other(base: Tracer, root: Path) -> Tracer:
    algorand = base.settings.algorand
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=5))
    settings = dataclasses.replace(base.settings, account=account, state_dir=root / "state")
    return Tracer(settings, output_root=root / "runs")


def test_a_reproduction_by_id_uses_the_tolerance_the_original_plan_declared(
        localnet: object, tmp_path: Path) -> None:
    owner = Tracer.from_environment(state_dir=tmp_path / "owner", output_root=tmp_path / "runs")
    with owner.experiment("tolerant", plan={"metric": "accuracy", "tolerance": 0.01}) as original:
        original.trace_params({"C": 1.0})
        original.trace_metrics({"accuracy": 0.90})
    other = _other(owner, tmp_path / "other")
    with other.experiment("tolerant-again", reproduces=original.id_text) as again:  # id only
        again.trace_params({"C": 1.0})
        again.trace_metrics({"accuracy": 0.905})  # 0.005 away: within 0.01
    algorand = owner.settings.algorand
    report = attach_reproductions(algorand, verify_experiment(
        algorand, owner.settings.app_id, original.id_text))
    assert report.ok and report.reproduced_by is not None
    (row,) = report.reproduced_by.reproductions
    assert row.status == "verified", row.problems
    assert row.comparison is not None and row.comparison.tolerance == 0.01
    assert row.matched and report.reproduced_by.independent_accounts == 1

    with pytest.raises(InputError, match="follows its original's plan"):
        other.experiment("no-own-plan", reproduces=original.id_text, plan={"metric": "x"})
