"""LocalNet behaviour that needs no running network: port conflicts, unknown services, layout,
and the realtime profile's differences from the DevMode one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from algo_tracer.cli import main
from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import DEVMODE, REALTIME, TOKEN, LocalNet, Ports, idle_chain
from algo_tracer.localnet.layout import (
    GENESIS_ID,
    conduit_yaml,
    network_template,
    second_node_config,
)
from algo_tracer.localnet.network import SECOND_ALGOD
from algo_tracer.localnet.processes import Service

# The lifecycle tests' second network (tests/localnet/conftest.py), which the realtime ports avoid.
SECOND_PORTS = Ports(algod=14001, kmd=14002, follower=18081, gossip=20000, postgres=15443,
                     indexer=18980, ipfs_api=15011, ipfs_gateway=18011)

FREE_PORTS = Ports(algod=24001, kmd=24002, follower=28081, gossip=30000, postgres=25443,
                   indexer=28980, ipfs_api=25011, ipfs_gateway=28011)


def test_port_taken_by_another_program_is_reported_with_the_fix(tmp_path: Path) -> None:
    net = LocalNet(tmp_path / "state", FREE_PORTS, progress=lambda _: None)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", FREE_PORTS.kmd))
        squatter.listen()
        with pytest.raises(LocalnetError, match=r"port 24002 \(kmd\) .* already in use") as err:
            net.start()
    assert "ss -ltnp" in str(err.value)


def test_logs_of_an_unknown_service_name_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(LocalnetError, match=r"(?s)unknown service 'algodd'.*algod, follower"):
        LocalNet(tmp_path, FREE_PORTS).logs("algodd")


def test_network_template_matches_algokit_localnet() -> None:
    template = network_template()
    assert template["Genesis"]["DevMode"] is True
    assert [w["Stake"] for w in template["Genesis"]["Wallets"]] == [40, 40, 20]
    assert [n["Name"] for n in template["Nodes"]] == ["data", "follower"]
    assert '"EnableFollowMode": true' in template["Nodes"][1]["ConfigJSONOverride"]
    assert GENESIS_ID == "dockernet-v1"


def test_conduit_never_gives_up_on_an_idle_network() -> None:
    assert "retry-count: 0" in conduit_yaml(Ports())


# -- the realtime profile (DevMode off, its own ports and directory) -----------------------------

def test_realtime_template_is_algokit_localnet_without_devmode() -> None:
    dev, real = network_template(DEVMODE.dev_mode), network_template(REALTIME.dev_mode,
                                                                     REALTIME.ports)
    assert real["Genesis"]["DevMode"] is False
    # Everything else is AlgoKit's: the same online wallets now propose and vote.
    assert {**real["Genesis"], "DevMode": True} == dev["Genesis"]
    assert all(w["Online"] for w in real["Genesis"]["Wallets"])
    assert real["Nodes"][:1] == dev["Nodes"][:1]
    assert '"EndpointAddress": "127.0.0.1:8181"' in real["Nodes"][1]["ConfigJSONOverride"]


def test_realtime_ports_share_nothing_with_the_devmode_localnet_or_the_test_networks() -> None:
    taken = [p for ports in (DEVMODE.ports, SECOND_PORTS, FREE_PORTS) for _, p in ports.items()]
    realtime = [p for _, p in REALTIME.ports.items()]
    assert len(set(realtime)) == len(realtime)
    assert set(realtime).isdisjoint(taken)
    assert REALTIME.ports == Ports(algod=4101, kmd=4102, follower=8181, gossip=10100,
                                   postgres=5453, indexer=9080, algod2=4111, ipfs_api=5111,
                                   ipfs_gateway=8111)
    assert DEVMODE.ports.algod2 is None
    assert "algod2" not in dict(DEVMODE.ports.items())
    assert "http://127.0.0.1:8181" in conduit_yaml(REALTIME.ports)
    assert "port=5453" in conduit_yaml(REALTIME.ports)


def test_realtime_state_directory_sits_beside_the_devmode_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGO_TRACER_LOCALNET_DIR", str(tmp_path / "net"))
    monkeypatch.delenv("ALGO_TRACER_LOCALNET_REALTIME_DIR", raising=False)
    assert LocalNet(progress=lambda _: None).state_dir == tmp_path / "net"
    realtime = LocalNet(profile="realtime", progress=lambda _: None)
    assert realtime.state_dir == tmp_path / "net-realtime"
    assert realtime.ports == REALTIME.ports
    monkeypatch.setenv("ALGO_TRACER_LOCALNET_REALTIME_DIR", str(tmp_path / "rt"))
    assert LocalNet(profile=REALTIME, progress=lambda _: None).state_dir == tmp_path / "rt"


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(LocalnetError, match=r"(?s)unknown LocalNet profile 'fast'.*devmode.*"
                                            r"realtime"):
        LocalNet(profile="fast")


def test_cli_refuses_an_unknown_block_time_naming_the_option_and_choices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGO_TRACER_LOCALNET", "native")

    assert main(["localnet", "status", "--block-time", "fast"]) == 2

    err = capsys.readouterr().err
    assert "unknown --block-time 'fast'" in err
    assert "dev (DevMode" in err and "real (DevMode off" in err


@pytest.mark.parametrize("action", ["start", "stop", "reset"])
def test_a_profile_refuses_the_other_profiles_network(tmp_path: Path, action: str) -> None:
    data = tmp_path / "network" / "data"
    data.mkdir(parents=True)
    (data / "genesis.json").write_text(json.dumps({"devmode": True, "network": "dockernet"}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "algod.pid").write_text(f"{os.getpid()}\n")  # must survive untouched
    net = LocalNet(tmp_path, FREE_PORTS, progress=lambda _: None, profile="realtime")

    with pytest.raises(LocalnetError, match=r"holds a network with DevMode, not the realtime"):
        getattr(net, action)()

    assert (tmp_path / "run" / "algod.pid").exists()
    assert (data / "genesis.json").exists()


def test_a_pid_file_naming_the_same_program_in_another_directory_is_not_ours(
    tmp_path: Path,
) -> None:
    """Two profiles run the same programs: a recycled pid must not let one stop the other's."""
    ours = Service("sleeper", "sleep", tmp_path / "ours.pid", tmp_path / "ours.log",
                   owner_arg="997.5")
    theirs = Service("sleeper", "sleep", tmp_path / "theirs.pid", tmp_path / "theirs.log",
                     owner_arg="998.5")
    pid = theirs.spawn(["sleep", "998.5"])
    try:
        _wait_until_exec_completes(pid)
        (tmp_path / "ours.pid").write_text(f"{pid}\n")
        assert ours.pid() is None
        assert ours.stop() is False
        assert theirs.pid() == pid
    finally:
        assert theirs.stop() is True


def _wait_until_exec_completes(pid: int) -> None:
    # Popen returns once the child's close-on-exec pipe closes, which the kernel does before it
    # has copied the new argv; until then /proc/PID/cmdline reads empty, and the service treats
    # an empty argv as "cannot tell" (so, ours). That window made this test flaky under load.
    cmdline = Path(f"/proc/{pid}/cmdline")
    for _ in range(500):
        if cmdline.read_bytes():
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never showed its arguments")


def test_env_file_points_at_the_realtime_ports() -> None:
    env_file = Path(__file__).resolve().parents[1] / REALTIME.env_file
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values["ALGOD_PORT"] == str(REALTIME.ports.algod)
    assert values["INDEXER_PORT"] == str(REALTIME.ports.indexer)
    assert values["KMD_PORT"] == str(REALTIME.ports.kmd)
    assert values["ALGOD_TOKEN"] == values["INDEXER_TOKEN"] == TOKEN
    assert values == REALTIME.environment()  # the file and the code that tests use agree


# -- the realtime profile's second algod node (two endpoints of one network, for failover) -------

def test_realtime_template_adds_a_second_node_that_accepts_transactions() -> None:
    real = network_template(REALTIME.dev_mode, REALTIME.ports)
    assert [n["Name"] for n in real["Nodes"]] == ["data", "follower", SECOND_ALGOD]
    node = real["Nodes"][2]
    # Not a relay, not a follower, no wallets (so no participation keys): it only relays what it
    # accepts to the relay, whose wallets propose.
    assert node["IsRelay"] is False and "Wallets" not in node
    override = json.loads(node["ConfigJSONOverride"])
    assert override == {"EndpointAddress": "127.0.0.1:4111"}
    assert not override.get("EnableFollowMode", False)
    # The genesis (wallets, stakes, participation range) is the two-node template's.
    two_nodes = network_template(False, Ports(**{**REALTIME.ports.__dict__, "algod2": None}))
    assert real["Genesis"] == two_nodes["Genesis"]
    assert [n["Name"] for n in two_nodes["Nodes"]] == ["data", "follower"]


def test_second_node_config_listens_on_4111_for_clients_and_on_nothing_for_peers() -> None:
    config = second_node_config(REALTIME.ports)
    assert config["EndpointAddress"] == "127.0.0.1:4111"
    assert config["NetAddress"] == ""  # not a relay: no incoming gossip
    assert config["EnableFollowMode"] is False  # a follower would refuse transactions
    assert config["DNSBootstrapID"] == ""  # peers only from `-p` (the relay's gossip address)
    assert 4111 not in [p for _, p in DEVMODE.ports.items()]


def test_devmode_keeps_algokit_two_nodes_and_refuses_a_second_algod() -> None:
    """go-algorand's template validation: DevMode allows only a relay and followers."""
    assert [n["Name"] for n in network_template(DEVMODE.dev_mode, DEVMODE.ports)["Nodes"]] == [
        "data", "follower"]
    with pytest.raises(ValueError, match="no second algod node"):
        network_template(True, Ports(algod2=4111))
    assert SECOND_ALGOD not in LocalNet(progress=lambda _: None).services


def test_realtime_services_include_the_second_node_in_start_stop_status_and_logs(
    tmp_path: Path,
) -> None:
    ports = Ports(**{**FREE_PORTS.__dict__, "algod2": 24011})
    net = LocalNet(tmp_path, ports, progress=lambda _: None, profile="realtime")
    assert net.services == ("algod", "follower", SECOND_ALGOD, "kmd", "postgres", "conduit",
                            "indexer", "ipfs")
    status = net.status()  # nothing runs: every service down, the node listed
    assert [s.name for s in status.services] == list(net.services)
    assert (status.algod2_url, status.algod2_last_round) == ("http://localhost:24011", None)
    assert json.loads(status.model_dump_json())["algod2_url"] == "http://localhost:24011"
    assert f"==> {SECOND_ALGOD} (" in net.logs(SECOND_ALGOD)
    assert net.stop([SECOND_ALGOD]) == []
    assert LocalNet(tmp_path, FREE_PORTS, progress=lambda _: None).status().algod2_url is None


def test_cli_status_shows_the_second_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGO_TRACER_LOCALNET_REALTIME_DIR", str(tmp_path))
    monkeypatch.setattr("algo_tracer.localnet.network.get_json", lambda *a, **k: None)

    assert main(["localnet", "status", "--block-time", "real"]) == 2  # nothing runs here

    out = capsys.readouterr().out
    assert "algod2   http://localhost:4111" in out
    assert "    algod2    down" in out
    assert "  stopped: `algo-tracer localnet start --block-time real` starts it" in out
    assert "supervisor down" in out


def test_a_realtime_network_made_without_the_second_node_is_refused_with_the_reset_fix(
    tmp_path: Path,
) -> None:
    net = LocalNet(tmp_path, REALTIME.ports, progress=lambda _: None, profile="realtime")
    (net.data_dir).mkdir(parents=True)
    (net.data_dir / "genesis.json").write_text(json.dumps({"network": "dockernet"}))
    with pytest.raises(LocalnetError, match="created without the second algod node") as err:
        net._start_second_algod(binaries=None)  # type: ignore[arg-type]  # refused before use
    assert "localnet reset --block-time real" in str(err.value)


def test_env_file_offers_the_two_algod_endpoints_second_node_first() -> None:
    env_file = Path(__file__).resolve().parents[1] / REALTIME.env_file
    assert ("# ALGO_TRACER_ALGOD_SERVERS=http://localhost:4111,http://localhost:4101"
            in env_file.read_text().splitlines())


# -- conduit on an idle DevMode chain (idle_chain.py) --------------------------------------------

def _fake_goal(tmp_path: Path) -> Path:
    """A `goal` that records its arguments and succeeds."""
    goal = tmp_path / "goal"
    goal.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "goal.calls"}\n')
    goal.chmod(0o755)
    return goal


def _idle_network(tmp_path: Path, next_round: int | None) -> tuple[Path, Path]:
    data, conduit = tmp_path / "data", tmp_path / "conduit"
    data.mkdir()
    conduit.mkdir()
    (data / "genesis.json").write_text(json.dumps({"alloc": [
        {"addr": "FEESINK", "comment": "FeeSink"}, {"addr": "WALLETONE", "comment": "Wallet1"}]}))
    if next_round is not None:
        (conduit / "metadata.json").write_text(json.dumps({"next-round": next_round}))
    return data, conduit


@pytest.mark.parametrize(("chain_round", "next_round", "pays"), [
    (1258, 1259, True),    # idle: conduit would wait for round 1259 and give up
    (1259, 1259, False),   # the round exists: conduit starts at once
    (1258, None, False),   # conduit never ran: it starts from round 0
])
def test_conduit_gets_its_next_round_only_when_the_chain_lacks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chain_round: int, next_round: int | None,
    pays: bool,
) -> None:
    data, conduit = _idle_network(tmp_path, next_round)
    rounds = {"algod": chain_round}

    def last_round(port: int) -> int:
        return rounds["algod"]  # relay and follower alike: the follower keeps up here

    monkeypatch.setattr(idle_chain, "last_round", last_round)
    goal = _fake_goal(tmp_path)
    original_run = subprocess.run

    def run(*args, **kwargs):
        result = original_run(*args, **kwargs)
        rounds["algod"] += 1  # the payment makes a block
        return result

    monkeypatch.setattr(idle_chain.subprocess, "run", run)

    made = idle_chain.make_round_for_conduit(
        goal=goal, data_dir=data, conduit_dir=conduit, algod_port=1, follower_port=2,
        log_file=tmp_path / "next-round.log", progress=lambda _: None)

    assert made is pays
    calls = (tmp_path / "goal.calls").read_text() if pays else ""
    if pays:
        # A 0-ALGO self-payment from the dispenser wallet, through the network's own kmd.
        assert calls.split()[:9] == ["clerk", "send", "-a", "0", "-f", "WALLETONE", "-t",
                                     "WALLETONE", "-d"]
        assert "-w unencrypted-default-wallet" in calls
    else:
        assert not (tmp_path / "goal.calls").exists()
