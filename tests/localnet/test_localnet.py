"""The local network behaves like AlgoKit LocalNet: same tools, same APIs, a working indexer."""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any, cast

import pytest
from algokit_utils import AlgoAmount, AlgorandClient, PaymentParams
from algosdk import transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from lifecycle_helpers import client_for, pay_note

from algo_tracer.cli import main
from algo_tracer.localnet import GENESIS_ID, LocalNet, LocalnetStatus
from algo_tracer.network.indexer import iter_transactions, wait_for_round


def test_funded_account_sends_payment_whose_note_reads_back(algorand: AlgorandClient) -> None:
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=1))
    note = b"algotrace:test/" + secrets.token_bytes(8)

    result = algorand.send.payment(PaymentParams(
        sender=account.address, receiver=account.address, amount=AlgoAmount(micro_algo=0),
        note=note))

    assert result.tx_id is not None  # a single sent transaction always has its id
    # algod answers JSON (a dict) unless asked for msgpack, so the bytes half of its type is moot.
    confirmed = cast(dict[str, Any], algorand.client.algod.pending_transaction_info(result.tx_id))
    assert base64.b64decode(confirmed["txn"]["txn"]["note"]) == note
    assert confirmed["confirmed-round"] > 0


def test_indexer_finds_payment_by_note_prefix(algorand: AlgorandClient) -> None:
    dispenser = algorand.account.localnet_dispenser()
    prefix = b"algotrace:prefix-" + secrets.token_hex(4).encode()
    result = algorand.send.payment(PaymentParams(
        sender=dispenser.address, receiver=dispenser.address, amount=AlgoAmount(micro_algo=0),
        note=prefix + b"/payload"))
    # The confirmation is algod's JSON answer (a dict), never msgpack bytes.
    confirmation = cast(dict[str, Any], result.confirmation)
    wait_for_round(algorand.client.indexer, confirmation["confirmed-round"],
                   algod=algorand.client.algod)

    found = list(iter_transactions(algorand.client.indexer, note_prefix=prefix))

    assert [t["id"] for t in found] == [result.tx_id]


def test_indexer_search_returns_every_page_past_a_thousand_matches(
    algorand: AlgorandClient,
) -> None:
    dispenser = algorand.account.localnet_dispenser()
    algod = algorand.client.algod
    prefix = b"pagination-" + secrets.token_hex(4).encode()
    params = algod.suggested_params()
    signer = AccountTransactionSigner(dispenser.private_key)
    sent: set[str] = set()
    count = 1_050
    for start in range(0, count, 16):
        # Annotated as the base class: the signer takes a list[Transaction] (list is invariant).
        txns: list[transaction.Transaction] = [
            transaction.PaymentTxn(dispenser.address, params, dispenser.address, 0,
                                   note=prefix + f"/{i}".encode())
            for i in range(start, min(start + 16, count))]
        transaction.assign_group_id(txns)
        algod.send_transactions(signer.sign_transactions(txns, list(range(len(txns)))))
        sent.update(t.get_txid() for t in txns)
    last = transaction.wait_for_confirmation(algod, txns[-1].get_txid(), 10)
    wait_for_round(algorand.client.indexer, last["confirmed-round"], algod=algod)

    found = [t["id"] for t in iter_transactions(algorand.client.indexer, note_prefix=prefix)]

    assert len(found) == count
    assert set(found) == sent


def test_status_json_reports_health_rounds_genesis_and_versions(
    localnet: LocalnetStatus, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ.setdefault("ALGO_TRACER_LOCALNET", "native")

    code = main(["localnet", "status", "--json"])

    status = json.loads(capsys.readouterr().out)
    assert code == 0
    assert status["healthy"] is True
    assert status["genesis_id"] == GENESIS_ID
    assert status["last_round"] >= 0
    assert status["indexer_round"] is not None and status["indexer_lag"] >= 0
    # ipfs is listed even when kubo cannot be had (down, with its reason: docs/ipfs.md)
    assert {s["name"] for s in status["services"]} == {
        "algod", "follower", "kmd", "postgres", "conduit", "indexer", "ipfs"}
    assert set(status["versions"]) == {"go_algorand", "conduit", "indexer", "kubo"}


def _genesis_hash(client: AlgorandClient) -> str:
    # algod's versions() answers JSON (a dict); the bytes half of its declared type is msgpack only.
    return cast(dict[str, Any], client.client.algod.versions())["genesis_hash_b64"]


def test_stop_and_start_keep_the_chain_and_the_indexer_catches_up(second_network: LocalNet) -> None:
    net = second_network
    net.start()
    client = client_for(net.ports)
    genesis = _genesis_hash(client)
    before = pay_note(client, b"lifecycle/before-restart")

    ipfs = {"ipfs"} if net.kubo.unavailable() is None else set()  # optional (docs/ipfs.md)
    assert set(net.stop()) == {"algod", "follower", "kmd", "postgres", "conduit", "indexer",
                               *ipfs}
    assert net.stop() == []  # stopping twice is harmless
    assert net.start().healthy

    assert _genesis_hash(client) == genesis
    after = pay_note(client, b"lifecycle/after-restart")
    assert after > before
    wait_for_round(client.client.indexer, after, algod=client.client.algod)
    notes = [base64.b64decode(t["note"]) for t in
             iter_transactions(client.client.indexer, note_prefix=b"lifecycle/")]
    assert notes == [b"lifecycle/before-restart", b"lifecycle/after-restart"]


def test_reset_gives_a_fresh_chain(second_network: LocalNet) -> None:
    net = second_network
    net.start()
    client = client_for(net.ports)
    genesis = _genesis_hash(client)
    pay_note(client, b"reset/old-chain")

    status = net.reset()

    assert status.healthy
    assert _genesis_hash(client) != genesis
    assert status.last_round == 0
    assert list(iter_transactions(client.client.indexer, note_prefix=b"reset/")) == []


def test_the_ipfs_node_starts_stops_and_serves_with_its_network(second_network: LocalNet,
                                                                 tmp_path) -> None:
    from algo_tracer.hashing.unixfs import cid_of_path
    from algo_tracer.network.ipfs import IpfsClient, IpfsSettings

    net = second_network
    status = net.start()
    ipfs = next(s for s in status.services if s.name == "ipfs")
    assert status.healthy  # with or without IPFS: it is optional
    if net.kubo.unavailable() is not None:  # kubo cannot be built here: said, with the reason
        assert not ipfs.healthy and ipfs.fix and ipfs.fix.startswith("optional, not available")
        pytest.skip(f"kubo cannot be built here: {net.kubo.unavailable()}")
    assert ipfs.healthy and ipfs.pid is not None
    assert status.ipfs_api_url == f"http://127.0.0.1:{net.ports.ipfs_api}"
    assert (net.state_dir / "ipfs" / "config").exists()  # its own repository
    config = json.loads((net.state_dir / "ipfs" / "config").read_text())
    assert config["Addresses"]["Swarm"] == [] and config["Bootstrap"] == []
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(300_000))
    node = IpfsClient(IpfsSettings(api=status.ipfs_api_url))
    assert node.add(model, None) == cid_of_path(model)
    assert b"".join(node.cat(cid_of_path(model))) == model.read_bytes()

    assert "ipfs" in net.stop()
    assert next(s for s in net.status().services if s.name == "ipfs").pid is None
    assert next(s for s in net.start().services if s.name == "ipfs").healthy
    assert b"".join(node.cat(cid_of_path(model))) == model.read_bytes()  # the repo persists
