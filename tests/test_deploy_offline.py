"""algo-tracer's side of a registry deploy, offline: the Indexer wait comes first, and a failure
of smart_contracts' deploy (its own DeployError) becomes our error with its fix.

The deploy itself runs on LocalNet in tests/localnet/test_deploy.py and test_cli.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from algokit_utils import AlgorandClient, OnUpdate

from algo_tracer.cli import main
from algo_tracer.errors import (
    AlgoTracerError,
    ConfigError,
    InsufficientFundsError,
    NetworkError,
)
from algo_tracer.network import deploy
from smart_contracts.experiment_registry import deploy_config
from smart_contracts.experiment_registry.deploy_config import DeployError, DeployFailure

DEPLOYER = "DEPLOYERADDRESS"


def fake_algorand(*, indexer: bool = True) -> AlgorandClient:
    client = SimpleNamespace(indexer_if_present=object() if indexer else None, algod=object())
    algorand: Any = SimpleNamespace(client=client)
    return algorand


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the deploy did, in order; the network calls are stubbed."""
    done: list[str] = []
    monkeypatch.setattr(deploy, "last_round", lambda algorand: 42)
    monkeypatch.setattr(deploy, "wait_for_round",
                        lambda indexer, target, **kw: done.append(f"wait for round {target}"))

    def deployed(algorand: AlgorandClient, deployer: str, on_update: OnUpdate) -> int:
        done.append(f"deploy by {deployer} ({on_update.name})")
        return 1234

    monkeypatch.setattr(deploy_config, "deploy_registry", deployed)
    return done


def test_the_indexer_is_caught_up_before_the_deploy_looks_for_an_earlier_one(
    calls: list[str],
) -> None:
    assert deploy.deploy_registry(fake_algorand(), DEPLOYER, OnUpdate.AppendApp) == 1234
    assert calls == ["wait for round 42", f"deploy by {DEPLOYER} (AppendApp)"]


def test_no_indexer_no_deploy(calls: list[str]) -> None:
    with pytest.raises(ConfigError, match="no Indexer is configured") as err:
        deploy.deploy_registry(fake_algorand(indexer=False), DEPLOYER, OnUpdate.AppendApp)
    assert "INDEXER_SERVER" in str(err.value) and calls == []


@pytest.mark.parametrize(("reason", "error", "words"), [
    ("underfunded", InsufficientFundsError, ["cannot pay to deploy", DEPLOYER,
                                             "ALGO_TRACER_APP_ID"]),
    ("program changed", ConfigError, ["REGISTRY_ON_UPDATE=append", "new registry app"]),
    ("unreachable", NetworkError, ["the node is down", "ALGOD_SERVER", "INDEXER_SERVER"]),
    ("refused", NetworkError, ["the node is down", "ALGOD_SERVER"]),
])
def test_a_deploy_failure_becomes_our_error_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], reason: DeployFailure,
    error: type[AlgoTracerError], words: list[str],
) -> None:
    def failing(algorand: AlgorandClient, deployer: str, on_update: OnUpdate) -> int:
        raise DeployError("the node is down", reason=reason)

    monkeypatch.setattr(deploy_config, "deploy_registry", failing)
    with pytest.raises(error) as err:
        deploy.deploy_registry(fake_algorand(), DEPLOYER, OnUpdate.Fail)
    assert type(err.value) is error and err.value.fix
    assert all(w in err.value.diagnostics() for w in words), err.value.diagnostics()
    assert isinstance(err.value.__cause__, DeployError)


def test_deploy_command_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, calls: list[str],
) -> None:
    monkeypatch.setattr(deploy_config, "deployer_from_environment", lambda algorand: DEPLOYER)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)
    assert deploy.deploy_from_environment(fake_algorand(), is_localnet=False) == 1234
    monkeypatch.setenv("REGISTRY_ON_UPDATE", "append")
    assert deploy.deploy_from_environment(fake_algorand(), is_localnet=False) == 1234
    assert calls[1::2] == [f"deploy by {DEPLOYER} (Fail)", f"deploy by {DEPLOYER} (AppendApp)"]

    monkeypatch.setenv("REGISTRY_ON_UPDATE", "update")
    with pytest.raises(ConfigError, match="must be 'append' or 'fail'") as err:
        deploy.deploy_from_environment(fake_algorand(), is_localnet=True)
    assert "REGISTRY_ON_UPDATE=append" in str(err.value)


def test_deploy_command_off_localnet_needs_a_deployer_mnemonic(
    monkeypatch: pytest.MonkeyPatch, calls: list[str],
) -> None:
    monkeypatch.delenv("DEPLOYER_MNEMONIC", raising=False)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)
    monkeypatch.setattr(deploy_config, "is_localnet", lambda algorand: False)
    with pytest.raises(ConfigError, match="DEPLOYER_MNEMONIC is not set") as err:
        deploy.deploy_from_environment(fake_algorand(), is_localnet=False)
    assert "export DEPLOYER_MNEMONIC" in str(err.value) and calls == []


def test_deploy_command_with_no_node_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ALGOD_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")
    code: int | str | None
    try:
        code = main(["deploy"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "127.0.0.1" in capsys.readouterr().err


def test_algokit_commands_run_the_project_interpreter_without_an_active_venv() -> None:
    """`algokit project deploy localnet` runs the `.algokit.toml` command from the project
    directory, resolving a bare executable on PATH (algokit-cli core/utils.resolve_command_path):
    a bare `python` there is not the .venv one unless it is activated."""
    import shlex
    import shutil
    import subprocess
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    config = tomllib.loads((root / ".algokit.toml").read_text())
    commands = [config["project"]["deploy"]["command"]] + [
        c for entry in config["project"]["run"].values() for c in entry["commands"]]
    bare_path = "/usr/bin:/bin"  # no .venv/bin, as in a shell where nothing is activated
    for command in commands:
        program, *_ = shlex.split(command)
        assert program not in ("python", "python3"), command
    deploy_args = shlex.split(config["project"]["deploy"]["command"])
    assert deploy_args[-3:] == ["-m", "smart_contracts", "deploy"]

    # Run it as algokit would, with the deploy arguments swapped for an import of what they need.
    program = shutil.which(deploy_args[0], path=bare_path) or deploy_args[0]
    done = subprocess.run([program, *deploy_args[1:-3], "-c",
                           "import algokit_utils, smart_contracts.experiment_registry"],
                          cwd=root, env={"PATH": bare_path, "HOME": str(Path.home())},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_one_rule_the_tracer_uses_the_deployers_registry_as_deploy_does(
    monkeypatch: pytest.MonkeyPatch, calls: list[str],
) -> None:
    from algo_tracer.network.settings import registry_app_id

    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)
    monkeypatch.setattr(deploy_config, "deployer_from_environment", lambda algorand: DEPLOYER)

    assert registry_app_id(fake_algorand(), is_localnet=True, genesis_id="dockernet-v1") == 1234
    assert deploy.deploy_from_environment(fake_algorand(), is_localnet=True) == 1234

    # Tracer.from_environment() and `algo-tracer deploy`: the same deployer, the same call.
    assert calls[1::2] == [f"deploy by {DEPLOYER} (AppendApp)"] * 2


def test_off_localnet_the_tracer_needs_the_app_id_and_never_deploys(
    monkeypatch: pytest.MonkeyPatch, calls: list[str],
) -> None:
    from algo_tracer.network.settings import registry_app_id

    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    with pytest.raises(ConfigError, match="ALGO_TRACER_APP_ID is not set") as err:
        registry_app_id(fake_algorand(), is_localnet=False, genesis_id="testnet-v1.0")
    assert "algo-tracer deploy" in (err.value.fix or "") and calls == []


def test_deploy_prints_the_app_id_and_the_rule_and_flags_another_app_id(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    from algo_tracer.network.settings import REGISTRY_RULE

    monkeypatch.setattr("algo_tracer.network.settings.algorand_from_environment",
                        lambda: (fake_algorand(), "dockernet-v1", "h", True))
    monkeypatch.setattr(deploy_config, "deployer_from_environment", lambda algorand: DEPLOYER)
    monkeypatch.delenv("REGISTRY_ON_UPDATE", raising=False)
    monkeypatch.setenv("ALGO_TRACER_APP_ID", "1002")

    assert main(["deploy"]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == ["registry: app 1234 on dockernet-v1 (genesis hash h)",
                                f"({REGISTRY_RULE})"]
    assert "ALGO_TRACER_APP_ID=1002 names another app" in err
