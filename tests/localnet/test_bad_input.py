"""Bad input on a live network: refused with the fix, nothing on chain, nothing journaled."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest
from algosdk import account, mnemonic

from algo_tracer import ConfigError, InputError, InsufficientFundsError, Tracer


def _journal_rows(state: Path) -> int:
    db = state / "journal.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                   for t in ("experiments", "stages", "records", "batches"))


def test_unfunded_account_is_refused_with_the_amount_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Tracer.from_environment(state_dir=tmp_path / "funded").settings.app_id
    key, address = account.generate_account()
    monkeypatch.setenv("ALGO_TRACER_MNEMONIC", mnemonic.from_private_key(key))
    monkeypatch.setenv("ALGO_TRACER_APP_ID", str(registry))
    tracer = Tracer.from_environment(state_dir=tmp_path)

    with pytest.raises(InsufficientFundsError, match=r"needs 88500 µALGO") as err:
        tracer.experiment("unfunded")

    assert address in str(err.value) and "send at least" in str(err.value)
    assert _journal_rows(tmp_path) == 0
    # algod answers JSON (a dict) unless asked for msgpack, so the bytes half of its type is moot.
    info = cast(dict[str, Any], tracer.settings.algorand.client.algod.account_info(address))
    assert info["amount"] == 0 and info.get("total-apps-opted-in", 0) == 0


def test_unfunded_deployer_cannot_deploy_a_registry_and_is_told_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry is the deployer's (settings.REGISTRY_RULE), never the recording account's:
    # a fresh, unfunded deployer has none yet and cannot pay to create it.
    key, address = account.generate_account()
    monkeypatch.setenv("DEPLOYER_MNEMONIC", mnemonic.from_private_key(key))
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)

    with pytest.raises(InsufficientFundsError, match="cannot pay to deploy") as err:
        Tracer.from_environment(state_dir=tmp_path)

    assert address in str(err.value) and "ALGO_TRACER_APP_ID" in str(err.value)
    assert _journal_rows(tmp_path) == 0


def test_bad_mnemonic_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = " ".join(["abandon"] * 25)
    monkeypatch.setenv("ALGO_TRACER_MNEMONIC", words)

    with pytest.raises(ConfigError, match="not a valid 25-word") as err:
        Tracer.from_environment(state_dir=tmp_path)

    assert "abandon" not in err.value.diagnostics()
    assert _journal_rows(tmp_path) == 0


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: t.experiment("x" * 300), "at most 200 bytes"),
    (lambda t: t.experiment("   "), "non-empty"),
])
def test_oversize_or_empty_experiment_names_are_refused(
    tmp_path: Path, call, message: str
) -> None:
    tracer = Tracer.from_environment(state_dir=tmp_path)

    with pytest.raises(InputError, match=message):
        call(tracer)

    assert _journal_rows(tmp_path) == 0


def test_oversize_metric_name_and_value_are_refused_before_journaling(tmp_path: Path) -> None:
    tracer = Tracer.from_environment(state_dir=tmp_path)
    exp = tracer.experiment("bad-metrics", output_dir=tmp_path / "out")
    before = _journal_rows(tmp_path)

    with pytest.raises(InputError, match="255"):
        exp.log_metric("n" * 300, 1.0)
    with pytest.raises(InputError):
        exp.log_metric("loss", "not a number")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        exp.log_metric("loss", 1.0, step=-1)

    assert _journal_rows(tmp_path) == before
    exp.finish()


def test_numpy_steps_and_one_value_arrays_are_metrics_and_a_refused_value_keeps_the_step(
        tmp_path: Path) -> None:
    import numpy as np

    tracer = Tracer.from_environment(state_dir=tmp_path)
    exp = tracer.experiment("numpy-metrics", output_dir=tmp_path / "out")
    # numpy values on purpose: log_metric takes numpy numbers and 0-d arrays at run time
    # (see its docstring), while its annotation names only the Python types.
    for step in np.arange(3):
        exp.log_metric("loss", np.float32(0.5) / (step + 1), step=step)  # type: ignore[arg-type]
    exp.log_metric("acc", np.array(0.75))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"x.item\(\) for a one-value array"):
        exp.log_metric("acc", np.array([0.8, 0.9]))  # type: ignore[arg-type]
    exp.log_metric("acc", 0.8)  # the refused value did not take step 1
    summary = exp.finish()

    assert summary.note_records == 5
    records = [r for r, _private in tracer.journal.records(exp.id)]
    assert [(r.name, r.step, r.value) for r in records] == [
        ("loss", 0, 0.5), ("loss", 1, 0.25), ("loss", 2, pytest.approx(1 / 6)),
        ("acc", 0, 0.75), ("acc", 1, 0.8)]
