"""The realtime LocalNet profile on real programs: blocks come on their own at the consensus pace.

Kept out of tests/localnet/ on purpose: that folder's autouse fixture starts (or reuses) the DevMode
LocalNet, and this test must neither need nor touch it. It starts the realtime profile in its own
directory and on its own ports, and stops it afterwards only if it was not running before.
"""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from algokit_utils import AlgoAmount, AlgoClientNetworkConfig, AlgorandClient, PaymentParams

from algo_tracer.localnet import GENESIS_ID, REALTIME, TOKEN, LocalNet, LocalnetStatus

pytestmark = pytest.mark.localnet

BLOCKS_MEASURED = 4
INDEXER_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def realtime(realtime_net: LocalNet) -> LocalnetStatus:
    return realtime_net.status()


@pytest.fixture(scope="module")
def algorand(realtime: LocalnetStatus) -> AlgorandClient:
    ports = REALTIME.ports
    client = AlgorandClient.from_config(
        algod_config=AlgoClientNetworkConfig("http://localhost", TOKEN, ports.algod),
        indexer_config=AlgoClientNetworkConfig("http://localhost", TOKEN, ports.indexer),
        kmd_config=AlgoClientNetworkConfig("http://localhost", TOKEN, ports.kmd),
    )
    client.set_suggested_params_cache_timeout(0)
    return client


def test_realtime_profile_starts_as_a_localnet_on_its_own_ports(realtime: LocalnetStatus) -> None:
    assert realtime.healthy, realtime.model_dump_json(indent=2)
    assert (realtime.mode, realtime.profile) == ("native", "realtime")
    assert realtime.algod_url == "http://localhost:4101"
    # algokit-utils must still see a LocalNet: KMD and the dispenser depend on it.
    assert realtime.genesis_id == GENESIS_ID


def test_rounds_advance_on_their_own_at_the_consensus_pace(algorand: AlgorandClient) -> None:
    algod = algorand.client.algod
    # Line up with a fresh block first, so the measurement spans whole block intervals.
    first = cast(dict[str, Any], algod.status())["last-round"]
    first = cast(dict[str, Any], algod.status_after_block(first))["last-round"]
    started = time.monotonic()
    last = first
    while last < first + BLOCKS_MEASURED:  # no transaction is sent meanwhile
        last = cast(dict[str, Any], algod.status_after_block(last))["last-round"]
    per_block = (time.monotonic() - started) / (last - first)

    print(f"\nrealtime LocalNet: {per_block:.2f} s per block over {last - first} blocks "
          f"(rounds {first}..{last})")
    assert 1.0 < per_block < 10.0


def test_payment_confirms_and_reaches_the_indexer(algorand: AlgorandClient) -> None:
    dispenser = algorand.account.localnet_dispenser()  # KMD + genesis "Wallet1", as on LocalNet
    receiver = algorand.account.random()

    result = algorand.send.payment(PaymentParams(
        sender=dispenser.address, receiver=receiver.address, amount=AlgoAmount(algo=1)))

    confirmation = cast(dict[str, Any], result.confirmation)
    assert confirmation["confirmed-round"] > 0
    deadline = time.monotonic() + INDEXER_TIMEOUT_S
    while True:
        found = cast(dict[str, Any], algorand.client.indexer.search_transactions(
            txid=result.tx_id))["transactions"]
        if found:
            break
        assert time.monotonic() < deadline, f"the Indexer did not see {result.tx_id} in time"
        time.sleep(0.5)
    assert found[0]["confirmed-round"] == confirmation["confirmed-round"]
    assert found[0]["payment-transaction"]["amount"] == 1_000_000
