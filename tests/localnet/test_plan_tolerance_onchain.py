"""A reproduction records the tolerance the original's plan declared: from the manifest, or read
from the chain when the reproducer has only the original's id (then the original's metric
values are unknown and metrics compare by digest); the verifier re-derives it."""

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
    for name, reproduces in (("with-manifest", original.summary.manifest_path),
                             ("id-only", original.id_text)):
        with other.experiment(name, reproduces=reproduces) as again:
            again.trace_params({"C": 1.0})
            again.trace_metrics({"accuracy": 0.905})  # 0.005 away: within 0.01
    algorand = owner.settings.algorand
    report = attach_reproductions(algorand, verify_experiment(
        algorand, owner.settings.app_id, original.id_text))
    assert report.ok and report.reproduced_by is not None
    rows = report.reproduced_by.reproductions
    assert [r.status for r in rows] == ["verified", "verified"], [r.problems for r in rows]
    assert all(r.comparison is not None and r.comparison.tolerance == 0.01 for r in rows)
    assert [r.matched for r in rows] == [True, False]  # by id only, values are not known
    assert report.reproduced_by.independent_accounts == 1

    with pytest.raises(InputError, match="follows its original's plan"):
        other.experiment("no-own-plan", reproduces=original.id_text, plan={"metric": "x"})
