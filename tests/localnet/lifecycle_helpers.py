"""Clients, environment and payments for a LocalNet on ports of its own (`second_network`)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from algokit_utils import AlgoAmount, AlgoClientNetworkConfig, AlgorandClient, PaymentParams

from algo_tracer.localnet import LocalNet, Ports


def client_for(ports: Ports) -> AlgorandClient:
    token = "a" * 64
    client = AlgorandClient.from_config(
        algod_config=AlgoClientNetworkConfig("http://localhost", token, ports.algod),
        indexer_config=AlgoClientNetworkConfig("http://localhost", token, ports.indexer),
        kmd_config=AlgoClientNetworkConfig("http://localhost", token, ports.kmd),
    )
    client.set_suggested_params_cache_timeout(0)
    return client


def use_network(net: LocalNet, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point everything read from the environment (the tracer, the CLI) at `net` only: its
    algod, Indexer and KMD, no registry app id and no endpoint lists of the shared network."""
    ports = net.ports
    for name, value in {"ALGOD_SERVER": "http://localhost", "ALGOD_PORT": str(ports.algod),
                        "ALGOD_TOKEN": "a" * 64, "INDEXER_SERVER": "http://localhost",
                        "INDEXER_PORT": str(ports.indexer), "INDEXER_TOKEN": "a" * 64,
                        "KMD_PORT": str(ports.kmd)}.items():
        monkeypatch.setenv(name, value)
    for name in ("ALGO_TRACER_APP_ID", "ALGO_TRACER_ALGOD_SERVERS", "ALGO_TRACER_INDEXER_SERVERS"):
        monkeypatch.delenv(name, raising=False)


def pay_note(client: AlgorandClient, note: bytes) -> int:
    """A 0-ALGO self-payment from the dispenser carrying `note`; its confirmed round."""
    dispenser = client.account.localnet_dispenser()
    result = client.send.payment(PaymentParams(
        sender=dispenser.address, receiver=dispenser.address, amount=AlgoAmount(micro_algo=0),
        note=note))
    # The confirmation is algod's JSON answer (a dict), never msgpack bytes.
    return cast(dict[str, Any], result.confirmation)["confirmed-round"]
