"""LocalNet behaviour that needs no running network: port conflicts, unknown services, layout."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import LocalNet, Ports
from algo_tracer.localnet.layout import GENESIS_ID, conduit_yaml, network_template

FREE_PORTS = Ports(algod=24001, kmd=24002, follower=28081, gossip=30000, postgres=25443,
                   indexer=28980)


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
