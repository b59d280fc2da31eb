"""Clients and payments for a LocalNet on ports of its own (`second_network`)."""

from __future__ import annotations

from typing import Any, cast

from algokit_utils import AlgoAmount, AlgoClientNetworkConfig, AlgorandClient, PaymentParams

from algo_tracer.localnet import Ports


def client_for(ports: Ports) -> AlgorandClient:
    token = "a" * 64
    client = AlgorandClient.from_config(
        algod_config=AlgoClientNetworkConfig("http://localhost", token, ports.algod),
        indexer_config=AlgoClientNetworkConfig("http://localhost", token, ports.indexer),
        kmd_config=AlgoClientNetworkConfig("http://localhost", token, ports.kmd),
    )
    client.set_suggested_params_cache_timeout(0)
    return client


def pay_note(client: AlgorandClient, note: bytes) -> int:
    """A 0-ALGO self-payment from the dispenser carrying `note`; its confirmed round."""
    dispenser = client.account.localnet_dispenser()
    result = client.send.payment(PaymentParams(
        sender=dispenser.address, receiver=dispenser.address, amount=AlgoAmount(micro_algo=0),
        note=note))
    # The confirmation is algod's JSON answer (a dict), never msgpack bytes.
    return cast(dict[str, Any], result.confirmation)["confirmed-round"]
