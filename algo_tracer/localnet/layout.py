"""The network AlgoKit LocalNet runs, written out for native processes.

Same template (DevMode, a relay "data" node holding three funded wallets and a "follower" node for
conduit), same genesis id (`dockernet-v1`, which algokit-utils recognises as LocalNet), same tokens
and host ports. Only the listen addresses differ: everything binds to 127.0.0.1. The realtime
profile (profiles.py) writes the same template with DevMode off, as `algokit localnet start
--no-dev` does, on its own ports, plus a second algod node ("algod2") that accepts transactions:
a non-relay, non-follower node without wallets, which reaches the relay over gossip, so two algod
endpoints serve one network (for ALGO_TRACER_ALGOD_SERVERS failover). go-algorand's template
validation allows that node only with DevMode off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TOKEN = "a" * 64  # LocalNet's well-known algod, kmd and indexer token: not a secret
NETWORK_NAME = "dockernet"  # genesis id "dockernet-v1", as AlgoKit's `goal network create -n`
GENESIS_ID = f"{NETWORK_NAME}-v1"
NUM_ROUNDS = 30000  # participation key range, as AlgoKit's image
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    algod: int = 4001
    kmd: int = 4002
    follower: int = 8081
    gossip: int = 10000
    postgres: int = 5443
    indexer: int = 8980
    algod2: int | None = None  # REST port of a second algod node of the network (None: no node)
    ipfs_api: int = 5011  # kubo's RPC API (algo_tracer.localnet.kubo)
    ipfs_gateway: int = 8011  # kubo's HTTP gateway

    def items(self) -> list[tuple[str, int]]:
        """The ports in use (a missing second node has none)."""
        return [(name, getattr(self, name)) for name in self.__dataclass_fields__
                if getattr(self, name) is not None]


SECOND_NODE = "algod2"  # the second algod node's name in the template (its directory) and service

PG_USER = PG_PASSWORD = "algorand"
PG_DATABASE = "indexerdb"


def network_template(dev_mode: bool = True, ports: Ports | None = None) -> dict:
    """AlgoKit's template. With `dev_mode` off the same online genesis wallets propose and vote
    with their participation keys (rounds 0..NUM_ROUNDS), so blocks come at the consensus pace.
    With `ports.algod2` set, a second node that accepts transactions joins the template; go-algorand
    refuses that with DevMode ("devmode configurations may only contain one relay and follower
    nodes"), so it is refused here first."""
    ports = ports or Ports()
    if dev_mode and ports.algod2 is not None:
        raise ValueError("a DevMode network has one relay and a follower only: no second algod "
                         "node")
    follower_override = {
        "EnableFollowMode": True,
        "EndpointAddress": f"{HOST}:{ports.follower}",
        "MaxAcctLookback": 64,
        "CatchupParallelBlocks": 64,
        "CatchupBlockValidateMode": 3,
    }
    nodes: list[dict] = [
        {
            "Name": "data",
            "IsRelay": True,
            "Wallets": [
                {"Name": f"Wallet{i}", "ParticipationOnly": False} for i in (1, 2, 3)
            ],
        },
        {
            "Name": "follower",
            "IsRelay": False,
            "ConfigJSONOverride": json.dumps(follower_override),
        },
    ]
    if ports.algod2 is not None:
        # No wallets, no participation keys: it only relays what it accepts to the proposer.
        nodes.append({
            "Name": SECOND_NODE,
            "IsRelay": False,
            "ConfigJSONOverride": json.dumps({"EndpointAddress": f"{HOST}:{ports.algod2}"}),
        })
    return {
        "Genesis": {
            "NetworkName": "followermodenet",
            "RewardsPoolBalance": 0,
            "FirstPartKeyRound": 0,
            "LastPartKeyRound": NUM_ROUNDS,
            "Wallets": [
                {"Name": "Wallet1", "Stake": 40, "Online": True},
                {"Name": "Wallet2", "Stake": 40, "Online": True},
                {"Name": "Wallet3", "Stake": 20, "Online": True},
            ],
            "DevMode": dev_mode,
        },
        "Nodes": nodes,
    }


def data_node_config(ports: Ports) -> dict:
    """Overrides for the relay node's config.json: AlgoKit's keys, bound to loopback."""
    return {
        "GossipFanout": 1,
        "EndpointAddress": f"{HOST}:{ports.algod}",
        "NetAddress": f"{HOST}:{ports.gossip}",
        "DNSBootstrapID": "",
        "IncomingConnectionsLimit": 1000,
        "DisableNetworking": False,
        "Archival": True,
        "EnableDeveloperAPI": True,
        "EnablePrivateNetworkAccessHeader": True,
        "DeadlockDetection": -1,
    }


def follower_node_config(ports: Ports) -> dict:
    return {
        "EndpointAddress": f"{HOST}:{ports.follower}",
        "DNSBootstrapID": "",
        "EnableDeveloperAPI": True,
        "DeadlockDetection": -1,
    }


def second_node_config(ports: Ports) -> dict:
    """The second algod node: not a relay (no NetAddress: it listens for no peers), not a
    follower, so it accepts transactions and gossips them to the relay it is pointed at."""
    assert ports.algod2 is not None
    return {
        "EndpointAddress": f"{HOST}:{ports.algod2}",
        "NetAddress": "",
        "DNSBootstrapID": "",
        "EnableFollowMode": False,
        "EnableDeveloperAPI": True,
        "DeadlockDetection": -1,
    }


def kmd_config(ports: Ports) -> dict:
    return {"address": f"{HOST}:{ports.kmd}", "allowed_origins": ["*"]}


def postgres_dsn(ports: Ports) -> str:
    return (
        f"host={HOST} port={ports.postgres} user={PG_USER} password={PG_PASSWORD} "
        f"dbname={PG_DATABASE} sslmode=disable"
    )


def conduit_yaml(ports: Ports) -> str:
    # retry-count 0 retries forever once the pipeline runs: in DevMode no block appears until a
    # transaction arrives. It does not cover the importer's start-up wait: see idle_chain.py.
    return f"""\
log-level: info
retry-count: 0
retry-delay: "1s"
hide-banner: true
metrics:
  mode: OFF
importer:
  name: algod
  config:
    mode: "follower"
    netaddr: "http://{HOST}:{ports.follower}"
    token: "{TOKEN}"
exporter:
  name: postgresql
  config:
    connection-string: "{postgres_dsn(ports)}"
    max-conn: 20
"""


def merge_json(path: Path, overrides: dict) -> None:
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(overrides)
    path.write_text(json.dumps(current, indent=2) + "\n")
