"""Deploying the registry to LocalNet the two documented ways, as a user would, in subprocesses.

`python -m smart_contracts deploy` and `algokit project deploy localnet` both run
smart_contracts/experiment_registry/deploy_config.py. A run prints
"ExperimentRegistry <Create|Nothing|...>: app id <n>, ..."; a second run must find the app the
first one created (through the Indexer) instead of creating another one.

Most tests deploy from a fresh account given as DEPLOYER_MNEMONIC, so that the first run really
creates an app and nothing another user of the shared LocalNet deployed interferes; one test uses
the KMD "DEPLOYER" wallet fallback that a plain LocalNet deploy relies on.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from algokit_utils import AlgoAmount, AlgorandClient, SigningAccount
from algosdk import mnemonic, wordlist

from algo_tracer.format import chain
from smart_contracts.artifacts.experiment_registry.experiment_registry_client import APP_SPEC

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
_RESULT = re.compile(r"ExperimentRegistry (\w+): app id (\d+), address (\w+) \(deployer (\w+)\)")
_WORDS = frozenset(wordlist.word_list_raw().split())


@dataclass(frozen=True)
class Deployed:
    operation: str  # Create, Nothing, ...
    app_id: int
    app_address: str
    deployer: str
    output: str


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "DEPLOYER_MNEMONIC" and not k.startswith("REGISTRY_ON_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _run(command: list[str], env: dict[str, str]) -> Deployed:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output}"
    assert_no_mnemonic(output)
    found = _RESULT.findall(output)
    assert len(found) == 1, f"expected one deploy result line in:\n{output}"
    operation, app_id, address, deployer = found[0]
    return Deployed(operation, int(app_id), address, deployer, output)


def smart_contracts_deploy(env: dict[str, str]) -> Deployed:
    return _run([sys.executable, "-m", "smart_contracts", "deploy"], env)


def algokit_deploy(env: dict[str, str]) -> Deployed:
    return _run([str(VENV_BIN / "algokit"), "--skip-version-check", "project", "deploy",
                 "localnet", "--non-interactive"], env)


def assert_no_mnemonic(output: str) -> None:
    """No run of 25 consecutive mnemonic words (an Algorand account mnemonic) in `output`."""
    run = 0
    for token in re.findall(r"[A-Za-z]+", output):
        run = run + 1 if token.lower() in _WORDS else 0
        assert run < 25, f"a 25-word mnemonic was printed:\n{output}"


@pytest.fixture
def fresh_deployer(algorand: AlgorandClient) -> tuple[SigningAccount, str]:
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=5))
    return account, mnemonic.from_private_key(account.private_key)


def assert_is_the_funded_registry(algorand: AlgorandClient, deployed: Deployed,
                                  deployer: str) -> None:
    algod = algorand.client.algod
    # algod answers JSON (dicts) unless asked for msgpack, so the bytes half of its type is moot.
    app = cast(dict[str, Any], algod.application_info(deployed.app_id))
    assert app["params"]["creator"] == deployer
    assert APP_SPEC.byte_code is not None  # the compiled app spec carries its programs
    assert base64.b64decode(app["params"]["approval-program"]) == base64.b64decode(
        APP_SPEC.byte_code.approval)
    account = cast(dict[str, Any], algod.account_info(deployed.app_address))
    assert account["amount"] >= chain.ACCOUNT_MIN_BALANCE


def test_deploy_creates_the_registry_then_reuses_it(
    algorand: AlgorandClient, fresh_deployer: tuple[SigningAccount, str]
) -> None:
    account, words = fresh_deployer
    env = _env(DEPLOYER_MNEMONIC=words)

    first = smart_contracts_deploy(env)
    second = smart_contracts_deploy(env)  # right away: the Indexer may still be behind

    assert (first.operation, first.deployer) == ("Create", account.address)
    assert (second.operation, second.app_id) == ("Nothing", first.app_id)
    assert words not in first.output + second.output
    assert_is_the_funded_registry(algorand, first, account.address)


def test_algokit_project_deploy_localnet_deploys_the_same_registry(
    algorand: AlgorandClient, fresh_deployer: tuple[SigningAccount, str]
) -> None:
    account, words = fresh_deployer
    env = _env(DEPLOYER_MNEMONIC=words)

    first = algokit_deploy(env)
    second = smart_contracts_deploy(env)

    assert (first.operation, first.deployer) == ("Create", account.address)
    assert (second.operation, second.app_id) == ("Nothing", first.app_id)
    assert words not in first.output + second.output
    assert_is_the_funded_registry(algorand, first, account.address)


def test_deploy_without_a_mnemonic_uses_the_kmd_deployer_wallet_idempotently(
    algorand: AlgorandClient,
) -> None:
    first = smart_contracts_deploy(_env())
    second = algokit_deploy(_env())

    assert first.operation in {"Create", "Nothing"}  # the wallet may have deployed before
    assert (second.operation, second.app_id, second.deployer) == (
        "Nothing", first.app_id, first.deployer)
    assert_is_the_funded_registry(algorand, first, first.deployer)


def algo_tracer_deploy(env: dict[str, str]) -> Deployed:
    return _run([str(VENV_BIN / "algo-tracer"), "deploy"], env)


@pytest.mark.parametrize("deployer", ["fresh DEPLOYER_MNEMONIC", "KMD wallet DEPLOYER"])
def test_every_way_in_names_the_same_registry(
    algorand: AlgorandClient, fresh_deployer: tuple[SigningAccount, str], deployer: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One registry per network (issue 15, settings.REGISTRY_RULE): `python -m smart_contracts
    deploy`, `algo-tracer deploy`, `algokit project deploy localnet` and
    Tracer.from_environment() find one app, and the tracer records into it from its own
    account (before, the tracer deployed a second registry from ALGO_TRACER)."""
    from algo_tracer import Tracer
    from algo_tracer.network.settings import REGISTRY_RULE

    account, words = fresh_deployer
    extra = {"DEPLOYER_MNEMONIC": words} if deployer.startswith("fresh") else {}
    env = {k: v for k, v in _env(**extra).items() if k != "ALGO_TRACER_APP_ID"}

    by_script = smart_contracts_deploy(env)
    by_cli = algo_tracer_deploy(env)
    by_algokit = algokit_deploy(env)
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)
    if extra:
        monkeypatch.setenv("DEPLOYER_MNEMONIC", words)
    else:
        monkeypatch.delenv("DEPLOYER_MNEMONIC", raising=False)
    tracer = Tracer.from_environment(state_dir=tmp_path)

    assert {by_cli.app_id, by_algokit.app_id, tracer.settings.app_id} == {by_script.app_id}
    assert by_cli.operation == by_algokit.operation == "Nothing"
    assert f"registry: app {by_script.app_id} on " in by_cli.output
    assert REGISTRY_RULE in by_cli.output
    if extra:
        assert by_script.deployer == account.address
    assert tracer.settings.account.address != by_script.deployer  # records as ALGO_TRACER

    summary = tracer.experiment("one-registry", output_dir=tmp_path / "out").finish()
    assert summary.app_id == by_script.app_id
