"""What deploy does when the contract changed (the network part needs LocalNet), and that the
deploy script stands alone: smart_contracts imports nothing from algo_tracer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from algokit_utils import OnUpdate
from algosdk import account, mnemonic

from smart_contracts.experiment_registry import deploy_config
from smart_contracts.experiment_registry.deploy_config import DeployError, on_update_policy

ROOT = Path(__file__).resolve().parents[2]


def test_a_changed_contract_becomes_a_new_app_on_localnet() -> None:
    assert on_update_policy(is_localnet=True, choice=None) is OnUpdate.AppendApp


def test_a_changed_contract_stops_the_deploy_elsewhere() -> None:
    assert on_update_policy(is_localnet=False, choice=None) is OnUpdate.Fail


@pytest.mark.parametrize(
    ("choice", "policy"), [("append", OnUpdate.AppendApp), ("fail", OnUpdate.Fail)]
)
def test_the_policy_can_be_chosen_explicitly(choice: str, policy: OnUpdate) -> None:
    assert on_update_policy(is_localnet=False, choice=choice) is policy
    assert on_update_policy(is_localnet=True, choice=choice) is policy


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(DeployError, match="REGISTRY_ON_UPDATE must be 'append' or 'fail'") as err:
        on_update_policy(is_localnet=True, choice="update")
    assert err.value.reason == "setting"


def test_the_deploy_command_exits_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m smart_contracts deploy` (and `algokit project deploy`) print the reason, no
    # traceback: deploy() turns a DeployError into SystemExit(message).
    monkeypatch.setenv("REGISTRY_ON_UPDATE", "update")
    key, _ = account.generate_account()
    monkeypatch.setenv("DEPLOYER_MNEMONIC", mnemonic.from_private_key(key))
    monkeypatch.setattr(deploy_config, "is_localnet", lambda algorand: True)
    with pytest.raises(SystemExit, match="REGISTRY_ON_UPDATE must be 'append' or 'fail'"):
        deploy_config.deploy()


def test_a_bad_deployer_mnemonic_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = " ".join(["zoo"] * 25)
    monkeypatch.setenv("DEPLOYER_MNEMONIC", words)
    with pytest.raises(SystemExit) as err:
        deploy_config.deploy()
    assert "DEPLOYER_MNEMONIC is not a valid" in str(err.value.code)
    assert "zoo" not in str(err.value.code) and err.value.__cause__ is not None
    assert "zoo" not in str(err.value.__cause__)


@pytest.mark.parametrize(("error", "reason"), [
    (Exception("Transaction failed: TransactionPool.Remember: overspend (account X)"),
     "underfunded"),
    (ValueError("Update detected and on_update=Fail, stopping deployment."), "program changed"),
    (ConnectionRefusedError("[Errno 111] Connection refused"), "unreachable"),
    (Exception("Transaction failed: logic eval error"), "refused"),
])
def test_deploy_failures_are_told_apart(error: Exception, reason: str) -> None:
    assert deploy_config._failure(error) == reason


def test_smart_contracts_imports_nothing_from_algo_tracer() -> None:
    code = ("import sys, smart_contracts.__main__\n"
            "import smart_contracts.experiment_registry.deploy_config\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'algo_tracer'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    sources = [p for p in (ROOT / "smart_contracts").rglob("*.py") if "artifacts" not in p.parts]
    imports = re.compile(r"^\s*(from|import)\s+algo_tracer\b", re.MULTILINE)
    assert [p for p in sources if imports.search(p.read_text())] == []
