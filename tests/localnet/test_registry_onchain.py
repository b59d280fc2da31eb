"""The ExperimentRegistry on the real local network (issue 4).

Every test here talks to algod (and where said, the Indexer) of the running LocalNet, through
the generated typed client and `algo_tracer.network.registry.Registry`. The module creates its own
app, so box listings and minimum balances are not disturbed by other tests on the shared network.

The full lifecycle (create, 50 stages across the page boundary at 48, a full note-path anchor,
seal) runs once, in the module fixture `journey`; several tests then check what it left behind:
the ABI returns, the boxes (algod and Indexer), the app account's real minimum balance and the
ARC-28 events. Each rejection test opens its own experiment.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from algokit_utils import (
    AlgoAmount,
    AlgorandClient,
    AppCallMethodCallParams,
    CommonAppCallParams,
    PaymentParams,
    SigningAccount,
)
from algosdk import encoding, error, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner, TransactionWithSigner
from algosdk.error import AlgodHTTPError

from algo_tracer.errors import ContractError, InsufficientFundsError, NetworkError
from algo_tracer.format import chain
from algo_tracer.format.boxes import decode_header, decode_page
from algo_tracer.format.notes import decode_note, experiment_note_prefix, group_records, pack_notes
from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.network.indexer import (
    iter_application_boxes,
    iter_application_logs,
    iter_transactions,
    wait_for_round,
)
from algo_tracer.network.registry import Registry, SignedGroup
from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
    APP_SPEC,
    CreateExperimentArgs,
    ExperimentRegistryClient,
    ExperimentRegistryFactory,
    GetExperimentArgs,
    GetStageArgs,
    RecordStageArgs,
)

STAGES = chain.PAGE_CAPACITY + 2  # 50: page 0 fills up, stage 48 opens page 1
ABI_RETURN = bytes.fromhex("151f7c75")

# -- fixtures -----------------------------------------------------------------------------------


def _funded(algorand: AlgorandClient, algo: int) -> SigningAccount:
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=algo))
    return account


@pytest.fixture(scope="module")
def owner(algorand: AlgorandClient) -> SigningAccount:
    return _funded(algorand, 20)


@pytest.fixture(scope="module")
def stranger(algorand: AlgorandClient) -> SigningAccount:
    return _funded(algorand, 2)


@pytest.fixture(scope="module")
def app(algorand: AlgorandClient, owner: SigningAccount) -> ExperimentRegistryClient:
    """A registry app of this module's own, created by `owner`, its account at 0.1 ALGO."""
    factory = algorand.client.get_typed_app_factory(ExperimentRegistryFactory,
                                                    default_sender=owner.address)
    client, _ = factory.send.create.bare()
    algorand.send.payment(PaymentParams(
        sender=owner.address, receiver=client.app_address,
        amount=AlgoAmount(micro_algo=chain.ACCOUNT_MIN_BALANCE)))
    return client


@pytest.fixture(scope="module")
def registry(algorand: AlgorandClient, app: ExperimentRegistryClient,
             owner: SigningAccount) -> Registry:
    return Registry(algorand, app.app_id, owner.address, owner.signer)


@pytest.fixture(scope="module")
def stranger_registry(algorand: AlgorandClient, app: ExperimentRegistryClient,
                      stranger: SigningAccount) -> Registry:
    return Registry(algorand, app.app_id, stranger.address, stranger.signer)


# -- helpers ------------------------------------------------------------------------------------


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def seal_group(registry: Registry, experiment_id: bytes, final_digest: bytes) -> SignedGroup:
    """The seal, naming the stage and anchor counts on record now (`seal_after`)."""
    header = registry.header(experiment_id)
    assert header is not None
    return registry.prepare_seal(experiment_id, final_digest, stage_count=header.stage_count,
                                 anchor_count=header.anchor_count)


def open_experiment(registry: Registry) -> bytes:
    experiment_id = secrets.token_bytes(32)
    registry.submit(registry.prepare_create(experiment_id, digest("metadata")))
    return experiment_id


def sign_group(algorand: AlgorandClient,
               items: list[AppCallMethodCallParams | PaymentParams]) -> SignedGroup:
    """Sign a hand-built group (e.g. with a payment of our choosing) for `Registry.submit`."""
    composer = algorand.new_group()
    for item in items:
        if isinstance(item, PaymentParams):
            composer.add_payment(item)
        else:
            composer.add_app_call_method_call(item)
    signed = composer.build().atc.gather_signatures()
    app_call = next(i for i, s in enumerate(signed)
                    if isinstance(s.transaction, transaction.ApplicationCallTxn))
    txn = signed[app_call].transaction
    # The composer's signers are plain account keys, so every transaction comes back as a plain
    # SignedTransaction, never a multisig or logicsig one (as in Registry.prepare_*).
    plain = cast(list[transaction.SignedTransaction], list(signed))
    return SignedGroup(signed=plain, app_call=app_call,
                       first_valid=txn.first_valid_round, last_valid=txn.last_valid_round)


def payment(algorand: AlgorandClient, sender: str, receiver: str,
            micro_algo: int) -> transaction.Transaction:
    return algorand.create_transaction.payment(PaymentParams(
        sender=sender, receiver=receiver, amount=AlgoAmount(micro_algo=micro_algo)))


def create_call(app: ExperimentRegistryClient, experiment_id: bytes,
                pay: transaction.Transaction | TransactionWithSigner) -> AppCallMethodCallParams:
    return app.params.create_experiment(
        CreateExperimentArgs(id=experiment_id, metadata_digest=digest("metadata"), payment=pay),
        params=CommonAppCallParams(box_references=[chain.header_key(experiment_id)]))


def stage_call(app: ExperimentRegistryClient, experiment_id: bytes, index: int,
               pay: transaction.Transaction) -> AppCallMethodCallParams:
    page, _ = chain.stage_location(index)
    return app.params.record_stage(
        RecordStageArgs(id=experiment_id, expected_index=index, kind=1,
                        digest=digest(f"stage {index}"), payment=pay),
        params=CommonAppCallParams(box_references=[chain.header_key(experiment_id),
                                                   chain.page_key(experiment_id, page)]))


def rejected(code: str, send: Callable[[], object]) -> None:
    with pytest.raises(ContractError) as caught:
        send()
    assert caught.value.code == code, caught.value


def algod_json(answer: dict[str, Any] | bytes) -> dict[str, Any]:
    """An algod answer as the JSON dict it is: algosdk types its methods `dict | bytes` because
    they return msgpack bytes only when asked for response_format="msgpack", which we never do."""
    return cast(dict[str, Any], answer)


def min_balance(algorand: AlgorandClient, address: str) -> int:
    return int(algod_json(algorand.client.algod.account_info(address))["min-balance"])


def algod_box(algorand: AlgorandClient, app_id: int, name: bytes) -> bytes:
    box = algod_json(algorand.client.algod.application_box_by_name(app_id, name))
    return base64.b64decode(box["value"])


def send_raw(algorand: AlgorandClient, account: SigningAccount,
             txn: transaction.Transaction) -> None:
    signer = AccountTransactionSigner(account.private_key)
    algorand.client.algod.send_transaction(signer.sign_transactions([txn], [0])[0])


# -- ARC-28 events, decoded from docs/onchain-format.md section 5 alone -------------------------


@dataclass(frozen=True)
class EventSpec:
    name: str
    signature: str
    selector: str  # as documented
    layout: str  # struct format of the fields after the selector
    fields: tuple[str, ...]


EVENT_SPECS = [
    EventSpec("ExperimentCreated", "ExperimentCreated(byte[32],address,byte[32],uint64,uint64,"
              "byte[32])", "3d33acc0", ">32s32s32sQQ32s",
              ("id", "owner", "metadata_digest", "round", "timestamp", "head")),
    EventSpec("StageRecorded", "StageRecorded(byte[32],uint64,uint8,byte[32],uint64,byte[32])",
              "f01e05b6", ">32sQB32sQ32s", ("id", "index", "kind", "digest", "round", "head")),
    EventSpec("BatchAnchored", "BatchAnchored(byte[32],uint64,byte[32],uint64,uint64,uint64,"
              "uint64,byte[32])", "7de81993", ">32sQ32sQQQQ32s",
              ("id", "index", "merkle_root", "record_count", "first_round", "last_round",
               "round", "head")),
    EventSpec("ExperimentSealed", "ExperimentSealed(byte[32],byte[32],uint64,uint64,uint64,"
              "uint64,byte[32])", "9f715f0d", ">32s32sQQQQ32s",
              ("id", "final_digest", "stage_count", "anchor_count", "anchored_records", "round",
               "head")),
]
_BY_SELECTOR = {bytes.fromhex(spec.selector): spec for spec in EVENT_SPECS}


def decode_event(log: bytes) -> tuple[str, dict] | None:
    spec = _BY_SELECTOR.get(log[:4])
    if spec is None:
        return None
    layout = struct.Struct(spec.layout)
    assert len(log) == 4 + layout.size, f"{spec.name} log of {len(log)} bytes"
    return spec.name, dict(zip(spec.fields, layout.unpack(log[4:]), strict=True))


# -- the lifecycle, run once --------------------------------------------------------------------


@dataclass
class Step:
    what: str  # "create", "stage", "anchor", "seal"
    index: int
    round: int
    returned_head: bytes  # ABI return of the call
    expected_head: bytes  # recomputed with algo_tracer.format.chain
    min_balance_delta: int  # of the app account, across this step


@dataclass
class Journey:
    experiment_id: bytes
    metadata_digest: bytes
    owner: str
    steps: list[Step] = field(default_factory=list)
    stages: list[tuple[int, bytes, int]] = field(default_factory=list)  # kind, digest, round
    notes: tuple[bytes, ...] = ()
    records: tuple[NoteRecord, ...] = ()
    anchor_txids: list[str] = field(default_factory=list)
    final_digest: bytes = b""

    @property
    def head(self) -> bytes:
        return self.steps[-1].expected_head

    @property
    def last_round(self) -> int:
        return self.steps[-1].round


@pytest.fixture(scope="module")
def journey(algorand: AlgorandClient, app: ExperimentRegistryClient, registry: Registry,
            owner: SigningAccount) -> Journey:
    """Create, 50 stages, one full note-path anchor, seal; everything observed on the way."""
    experiment_id = secrets.token_bytes(32)
    metadata = digest("journey metadata")
    trip = Journey(experiment_id, metadata, owner.address)
    owner_pk = encoding.decode_address(owner.address)
    before = min_balance(algorand, app.app_address)

    def observe(what: str, index: int, round_: int, returned: bytes, expected: bytes) -> None:
        nonlocal before
        after = min_balance(algorand, app.app_address)
        trip.steps.append(Step(what, index, round_, bytes(returned), expected, after - before))
        before = after

    # create, through the typed client's own send
    result = app.send.create_experiment(
        CreateExperimentArgs(id=experiment_id, metadata_digest=metadata,
                             payment=payment(algorand, owner.address, app.app_address,
                                             chain.header_box_mbr())),
        params=CommonAppCallParams(box_references=[chain.header_key(experiment_id)]))
    assert result.abi_return is not None  # create_experiment returns the genesis head
    observe("create", 0, algod_json(result.confirmation)["confirmed-round"],
            bytes(result.abi_return),
            chain.genesis_head(experiment_id, owner_pk, metadata))

    # stages 0..49, through the Registry wrapper (prepare, then submit)
    for i in range(STAGES):
        kind, stage_digest = i % 10 + 1, digest(f"journey stage {i}")
        confirmed = registry.submit(registry.prepare_stage(experiment_id, i, kind, stage_digest))
        trip.stages.append((kind, stage_digest, confirmed.round))
        observe("stage", i, confirmed.round, confirmed.head,
                chain.fold_stage(trip.head, i, kind, stage_digest, confirmed.round))

    # one full note-path group: the anchor call + 15 note payments
    records = [NoteRecord(seq=i, kind=RecordKind.METRIC, name="loss", step=i, value=1 / (i + 1))
               for i in range(4000)]
    packed = pack_notes(experiment_id, 0, records)
    group = registry.prepare_anchor(experiment_id, 0, packed.root, packed.count,
                                    list(packed.notes), packed.leases())
    assert len(group.signed) == 16
    confirmed = registry.submit(group)
    trip.notes, trip.records, trip.anchor_txids = packed.notes, packed.records, group.txids
    observe("anchor", 0, confirmed.round, confirmed.head,
            chain.fold_anchor(trip.head, 0, packed.root, packed.count, group.first_valid,
                              group.last_valid))

    trip.final_digest = digest("journey final")
    confirmed = registry.submit(seal_group(registry, experiment_id, trip.final_digest))
    observe("seal", 0, confirmed.round, confirmed.head,
            chain.fold_seal(trip.head, trip.final_digest, confirmed.round))
    return trip


# -- lifecycle ----------------------------------------------------------------------------------


def test_every_write_returns_the_head_recomputed_client_side(journey: Journey) -> None:
    assert [s.what for s in journey.steps] == ["create", *["stage"] * STAGES, "anchor", "seal"]
    for step in journey.steps:
        assert step.returned_head == step.expected_head, f"{step.what} {step.index}"
    rounds = [s.round for s in journey.steps]
    assert rounds == sorted(rounds)


def test_header_box_holds_the_recomputed_head_and_final_counters(
    journey: Journey, registry: Registry, app: ExperimentRegistryClient,
    algorand: AlgorandClient,
) -> None:
    header = decode_header(algod_box(algorand, app.app_id,
                                     chain.header_key(journey.experiment_id)))

    assert header.head == journey.head
    assert header.owner == journey.owner
    assert header.metadata_digest == journey.metadata_digest
    assert header.created_round == journey.steps[0].round
    assert header.stage_count == STAGES
    assert header.anchor_count == 1
    assert header.anchored_records == len(journey.records)
    assert header.sealed
    assert header.final_digest == journey.final_digest
    assert header.sealed_round == journey.last_round
    assert registry.header(journey.experiment_id) == header

    # the readonly ABI method (simulated by the typed client) agrees with the box
    view = app.send.get_experiment(GetExperimentArgs(id=journey.experiment_id)).abi_return
    assert view is not None
    assert bytes(view.head) == journey.head
    assert (view.owner, view.stage_count, view.anchor_count, view.status) == (
        journey.owner, STAGES, 1, chain.STATUS_SEALED)


def test_stage_records_fill_page_zero_then_open_page_one(
    journey: Journey, registry: Registry, app: ExperimentRegistryClient,
    algorand: AlgorandClient,
) -> None:
    page0 = algod_box(algorand, app.app_id, chain.page_key(journey.experiment_id, 0))
    page1 = algod_box(algorand, app.app_id, chain.page_key(journey.experiment_id, 1))
    assert len(page0) == chain.PAGE_CAPACITY * chain.STAGE_RECORD_SIZE  # 1,968: full
    assert len(page1) == (STAGES - chain.PAGE_CAPACITY) * chain.STAGE_RECORD_SIZE

    stages = decode_page(0, page0) + decode_page(1, page1)
    assert [(s.index, s.kind, s.digest, s.round) for s in stages] == [
        (i, *stage) for i, stage in enumerate(journey.stages)]
    assert registry.stages(journey.experiment_id, STAGES) == stages

    last = app.send.get_stage(GetStageArgs(id=journey.experiment_id,
                                           index=STAGES - 1)).abi_return
    assert last is not None
    assert (last.kind, bytes(last.digest), last.round) == journey.stages[-1]


def test_app_min_balance_grows_by_exactly_the_documented_deposits(journey: Journey) -> None:
    deltas = {(s.what, s.index): s.min_balance_delta for s in journey.steps}

    assert deltas["create", 0] == chain.header_box_mbr() == 86_500
    for i in range(STAGES):
        assert deltas["stage", i] == chain.stage_mbr(i), f"stage {i}"
    assert deltas["stage", 0] == deltas["stage", 48] == 33_700  # each opens a page box
    assert deltas["stage", 1] == deltas["stage", 47] == deltas["stage", 49] == 16_400
    assert deltas["anchor", 0] == 0
    assert deltas["seal", 0] == 0
    assert sum(deltas.values()) == 86_500 + 16_400 * STAGES + 17_300 * 2


def test_anchor_group_lands_its_notes_with_the_call(
    journey: Journey, algorand: AlgorandClient
) -> None:
    anchor = next(s for s in journey.steps if s.what == "anchor")
    wait_for_round(algorand.client.indexer, anchor.round, algod=algorand.client.algod)

    found = list(iter_transactions(algorand.client.indexer,
                                   note_prefix=experiment_note_prefix(journey.experiment_id)))

    assert sorted(t["id"] for t in found) == sorted(journey.anchor_txids[1:])
    assert {t["confirmed-round"] for t in found} == {anchor.round}
    assert len({t["group"] for t in found}) == 1
    notes = sorted((base64.b64decode(t["note"]) for t in found),
                   key=lambda n: decode_note(n).position)
    assert tuple(notes) == journey.notes
    assert group_records(decode_note(n) for n in notes) == journey.records


def test_indexer_lists_and_reads_the_same_boxes_as_algod(
    journey: Journey, app: ExperimentRegistryClient, algorand: AlgorandClient,
) -> None:
    indexer, algod = algorand.client.indexer, algorand.client.algod
    wait_for_round(indexer, int(algod_json(algod.status())["last-round"]), algod=algod)

    listed = set(iter_application_boxes(indexer, app.app_id))

    on_algod = {base64.b64decode(b["name"])
                for b in algod_json(algod.application_boxes(app.app_id))["boxes"]}
    assert listed == on_algod
    mine = {chain.header_key(journey.experiment_id),
            chain.page_key(journey.experiment_id, 0), chain.page_key(journey.experiment_id, 1)}
    assert mine <= listed
    for name in mine:
        value = base64.b64decode(indexer.application_box_by_name(app.app_id, name)["value"])
        assert value == algod_box(algorand, app.app_id, name), name
    header = base64.b64decode(indexer.application_box_by_name(
        app.app_id, chain.header_key(journey.experiment_id))["value"])
    assert decode_header(header).head == journey.head


def test_arc28_selectors_are_the_documented_ones() -> None:
    for spec in EVENT_SPECS:
        assert hashlib.new("sha512_256", spec.signature.encode()).digest()[:4].hex() == (
            spec.selector)
    assert APP_SPEC.events is not None  # the registry declares its ARC-28 events
    arc56 = {e.name: f"{e.name}({','.join(a.type for a in e.args)})" for e in APP_SPEC.events}
    assert arc56 == {spec.name: spec.signature for spec in EVENT_SPECS}


def test_indexer_logs_replay_the_events_to_the_on_chain_head(
    journey: Journey, app: ExperimentRegistryClient, algorand: AlgorandClient,
) -> None:
    indexer = algorand.client.indexer
    wait_for_round(indexer, journey.last_round, algod=algorand.client.algod)

    events: list[tuple[str, dict]] = []
    for entry in iter_application_logs(indexer, app.app_id, min_round=journey.steps[0].round):
        logs = [base64.b64decode(x) for x in entry["logs"]]
        decoded = decode_event(logs[0])
        if decoded is None or decoded[1]["id"] != journey.experiment_id:
            continue
        assert len(logs) == 2 and logs[1] == ABI_RETURN + decoded[1]["head"]
        events.append(decoded)

    assert [name for name, _ in events] == [
        "ExperimentCreated", *["StageRecorded"] * STAGES, "BatchAnchored", "ExperimentSealed"]
    owner_pk = encoding.decode_address(journey.owner)
    head = b""
    for (name, ev), step in zip(events, journey.steps, strict=True):
        if name == "ExperimentCreated":
            assert ev["owner"] == owner_pk and ev["metadata_digest"] == journey.metadata_digest
            head = chain.genesis_head(ev["id"], ev["owner"], ev["metadata_digest"])
        elif name == "StageRecorded":
            assert (ev["kind"], ev["digest"], ev["round"]) == journey.stages[ev["index"]]
            head = chain.fold_stage(head, ev["index"], ev["kind"], ev["digest"], ev["round"])
        elif name == "BatchAnchored":
            assert ev["record_count"] == len(journey.records)
            head = chain.fold_anchor(head, ev["index"], ev["merkle_root"], ev["record_count"],
                                     ev["first_round"], ev["last_round"])
        else:
            assert (ev["stage_count"], ev["anchor_count"], ev["anchored_records"]) == (
                STAGES, 1, len(journey.records))
            assert ev["final_digest"] == journey.final_digest
            head = chain.fold_seal(head, ev["final_digest"], ev["round"])
        assert ev["round"] == step.round, name
        assert ev["head"] == head == step.expected_head, name
    header = decode_header(algod_box(algorand, app.app_id,
                                     chain.header_key(journey.experiment_id)))
    assert head == header.head


# -- who may write ------------------------------------------------------------------------------


def test_another_account_cannot_append_anchor_or_seal(
    registry: Registry, stranger_registry: Registry
) -> None:
    experiment_id = open_experiment(registry)
    before = registry.header(experiment_id)

    rejected("not owner", lambda: stranger_registry.submit(
        stranger_registry.prepare_stage(experiment_id, 0, 1, digest("intruder"))))
    rejected("not owner", lambda: stranger_registry.submit(
        stranger_registry.prepare_anchor(experiment_id, 0, digest("root"), 1, [], [])))
    rejected("not owner", lambda: stranger_registry.submit(
        seal_group(stranger_registry, experiment_id, digest("final"))))

    assert registry.header(experiment_id) == before


def test_recreating_an_existing_experiment_is_rejected(
    registry: Registry, stranger_registry: Registry
) -> None:
    experiment_id = open_experiment(registry)
    before = registry.header(experiment_id)

    rejected("experiment exists",
             lambda: registry.submit(registry.prepare_create(experiment_id, digest("again"))))
    rejected("experiment exists", lambda: stranger_registry.submit(
        stranger_registry.prepare_create(experiment_id, digest("squatter"))))

    assert registry.header(experiment_id) == before


def test_writes_to_an_unknown_experiment_are_rejected(registry: Registry) -> None:
    unknown = secrets.token_bytes(32)
    rejected("unknown experiment",
             lambda: registry.submit(registry.prepare_stage(unknown, 0, 1, digest("x"))))
    assert registry.header(unknown) is None


# -- expected indexes ---------------------------------------------------------------------------


def test_stage_index_must_be_exactly_the_next_one(registry: Registry) -> None:
    experiment_id = open_experiment(registry)
    registry.submit(registry.prepare_stage(experiment_id, 0, 1, digest("stage 0")))

    rejected("stale stage index", lambda: registry.submit(
        registry.prepare_stage(experiment_id, 0, 1, digest("stage 0 retried"))))
    rejected("future stage index", lambda: registry.submit(
        registry.prepare_stage(experiment_id, 2, 1, digest("stage 2 too early"))))
    rejected("future stage index", lambda: registry.submit(
        registry.prepare_stage(experiment_id, 48, 1, digest("next page too early"))))

    header = registry.header(experiment_id)
    assert header is not None and header.stage_count == 1
    assert [s.digest for s in registry.stages(experiment_id, 1)] == [digest("stage 0")]


def test_a_confirmed_group_sent_again_does_not_land_twice(registry: Registry) -> None:
    experiment_id = open_experiment(registry)
    group = registry.prepare_stage(experiment_id, 0, 1, digest("once"))
    registry.submit(group)

    with pytest.raises(NetworkError, match="already in ledger"):
        registry.submit(group)  # the very same signed transactions
    rejected("stale stage index", lambda: registry.submit(
        registry.prepare_stage(experiment_id, 0, 1, digest("once"))))  # re-signed retry
    header = registry.header(experiment_id)
    assert header is not None and header.stage_count == 1


@pytest.mark.parametrize("failure", [
    error.ConfirmationTimeoutError("Wait for transaction id X timed out"),
    error.TransactionRejectedError("Transaction rejected: pool error"),
], ids=["timeout", "dropped"])
def test_unknown_outcome_after_sending_is_a_network_error_and_the_chain_tells(
    failure: Exception, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group is really sent; only the wait for its confirmation fails."""
    experiment_id = open_experiment(registry)
    group = registry.prepare_stage(experiment_id, 0, 1, digest("stage 0"))

    def fail(*args: object, **kwargs: object) -> dict:
        raise failure

    monkeypatch.setattr(transaction, "wait_for_confirmation", fail)
    with pytest.raises(NetworkError, match=group.txids[group.app_call]) as caught:
        registry.submit(group)
    assert "resume" in (caught.value.fix or "")
    monkeypatch.undo()

    transaction.wait_for_confirmation(registry.algorand.client.algod, group.txids[-1], 10)
    header = registry.header(experiment_id)
    assert header is not None and header.stage_count == 1  # it landed: resume would see that


def test_anchor_index_must_be_exactly_the_next_one(registry: Registry) -> None:
    experiment_id = open_experiment(registry)
    registry.submit(registry.prepare_anchor(experiment_id, 0, digest("root 0"), 3, [], []))

    rejected("stale anchor index", lambda: registry.submit(
        registry.prepare_anchor(experiment_id, 0, digest("root 0"), 3, [], [])))
    rejected("future anchor index", lambda: registry.submit(
        registry.prepare_anchor(experiment_id, 2, digest("root 2"), 3, [], [])))

    header = registry.header(experiment_id)
    assert header is not None
    assert (header.anchor_count, header.anchored_records) == (1, 3)


# -- deposits -----------------------------------------------------------------------------------


def test_header_deposit_one_microalgo_short_is_rejected(
    algorand: AlgorandClient, app: ExperimentRegistryClient, registry: Registry,
    owner: SigningAccount,
) -> None:
    experiment_id = secrets.token_bytes(32)
    short = chain.header_box_mbr() - 1

    rejected("underpaid", lambda: registry.submit(sign_group(algorand, [create_call(
        app, experiment_id, payment(algorand, owner.address, app.app_address, short))])))
    assert registry.header(experiment_id) is None

    registry.submit(sign_group(algorand, [create_call(
        app, experiment_id, payment(algorand, owner.address, app.app_address, short + 1))]))
    assert registry.header(experiment_id) is not None


@pytest.mark.parametrize("index", [0, 1], ids=["page-opening", "in-page"])
def test_stage_deposit_one_microalgo_short_is_rejected(
    index: int, algorand: AlgorandClient, app: ExperimentRegistryClient, registry: Registry,
    owner: SigningAccount,
) -> None:
    experiment_id = open_experiment(registry)
    for i in range(index):
        registry.submit(registry.prepare_stage(experiment_id, i, 1, digest(f"stage {i}")))
    short = chain.stage_mbr(index) - 1

    rejected("underpaid", lambda: registry.submit(sign_group(algorand, [stage_call(
        app, experiment_id, index, payment(algorand, owner.address, app.app_address, short))])))

    registry.submit(sign_group(algorand, [stage_call(
        app, experiment_id, index, payment(algorand, owner.address, app.app_address,
                                           short + 1))]))
    header = registry.header(experiment_id)
    assert header is not None and header.stage_count == index + 1


def test_deposit_paid_to_another_receiver_is_rejected(
    algorand: AlgorandClient, app: ExperimentRegistryClient, registry: Registry,
    owner: SigningAccount,
) -> None:
    experiment_id = secrets.token_bytes(32)
    rejected("payment receiver is not app", lambda: registry.submit(sign_group(
        algorand, [create_call(app, experiment_id, payment(
            algorand, owner.address, owner.address, chain.header_box_mbr()))])))

    experiment_id = open_experiment(registry)
    rejected("payment receiver is not app", lambda: registry.submit(sign_group(
        algorand, [stage_call(app, experiment_id, 0, payment(
            algorand, owner.address, owner.address, chain.stage_mbr(0)))])))


def test_deposit_paid_by_another_account_is_rejected(
    algorand: AlgorandClient, app: ExperimentRegistryClient, registry: Registry,
    stranger: SigningAccount,
) -> None:
    experiment_id = secrets.token_bytes(32)
    deposit = TransactionWithSigner(payment(algorand, stranger.address, app.app_address,
                                            chain.header_box_mbr()), stranger.signer)

    rejected("payment sender is not caller", lambda: registry.submit(sign_group(
        algorand, [create_call(app, experiment_id, deposit)])))
    assert registry.header(experiment_id) is None


def test_account_that_cannot_pay_the_deposit_gets_insufficient_funds(
    algorand: AlgorandClient, app: ExperimentRegistryClient,
) -> None:
    poor = algorand.account.random()
    spendable = 50_000  # below the 86,500 µA header deposit
    algorand.send.payment(PaymentParams(
        sender=algorand.account.localnet_dispenser().address, receiver=poor.address,
        amount=AlgoAmount(micro_algo=chain.ACCOUNT_MIN_BALANCE + spendable)))
    poor_registry = Registry(algorand, app.app_id, poor.address, poor.signer)
    experiment_id = secrets.token_bytes(32)

    with pytest.raises(InsufficientFundsError) as caught:
        poor_registry.submit(poor_registry.prepare_create(experiment_id, digest("metadata")))

    need = chain.header_box_mbr() + 2 * 1_000  # deposit + two minimum fees
    assert f"cannot pay {need} µA" in str(caught.value)
    assert poor_registry.header(experiment_id) is None


# -- sealed, immutable, no local state ----------------------------------------------------------


def test_sealed_experiment_rejects_every_write(registry: Registry) -> None:
    experiment_id = open_experiment(registry)
    registry.submit(registry.prepare_stage(experiment_id, 0, 1, digest("stage 0")))
    registry.submit(seal_group(registry, experiment_id, digest("final")))
    sealed = registry.header(experiment_id)
    assert sealed is not None and sealed.sealed

    rejected("experiment sealed", lambda: registry.submit(
        registry.prepare_stage(experiment_id, 1, 1, digest("late stage"))))
    rejected("experiment sealed", lambda: registry.submit(
        registry.prepare_anchor(experiment_id, 0, digest("late root"), 1, [], [])))
    rejected("experiment sealed", lambda: registry.submit(
        seal_group(registry, experiment_id, digest("second final"))))

    assert registry.header(experiment_id) == sealed


_CREATE_EXPERIMENT = bytes.fromhex("17fae2fd")  # a real method selector, for the routed variant


@pytest.mark.parametrize("args", [[], [_CREATE_EXPERIMENT]], ids=["bare", "with-selector"])
@pytest.mark.parametrize("action", ["update", "delete"])
def test_creator_cannot_update_or_delete_the_app(
    action: str, args: list[bytes], algorand: AlgorandClient, app: ExperimentRegistryClient,
    owner: SigningAccount,
) -> None:
    algod = algorand.client.algod
    before = algod_json(algod.application_info(app.app_id))["params"]
    params = algod.suggested_params()
    txn: transaction.Transaction
    if action == "update":
        assert APP_SPEC.byte_code is not None  # the compiled app spec carries its programs
        approval = base64.b64decode(APP_SPEC.byte_code.approval)
        clear = base64.b64decode(APP_SPEC.byte_code.clear)
        txn = transaction.ApplicationUpdateTxn(owner.address, params, app.app_id, approval,
                                               clear, app_args=args)
    else:
        txn = transaction.ApplicationDeleteTxn(owner.address, params, app.app_id, app_args=args)

    with pytest.raises(AlgodHTTPError, match=r"rejected by ApprovalProgram|assert failed"):
        send_raw(algorand, owner, txn)

    assert algod_json(algod.application_info(app.app_id))["params"] == before


@pytest.mark.parametrize("args", [[], [_CREATE_EXPERIMENT]], ids=["bare", "with-selector"])
def test_opt_in_is_rejected(
    args: list[bytes], algorand: AlgorandClient, app: ExperimentRegistryClient,
    stranger: SigningAccount,
) -> None:
    algod = algorand.client.algod
    txn = transaction.ApplicationOptInTxn(stranger.address, algod.suggested_params(),
                                          app.app_id, app_args=args)

    with pytest.raises(AlgodHTTPError, match=r"rejected by ApprovalProgram|assert failed"):
        send_raw(algorand, stranger, txn)

    with pytest.raises(AlgodHTTPError) as caught:
        algod.account_application_info(stranger.address, app.app_id)
    assert caught.value.code == 404


def test_seal_after_lands_only_with_the_counts_on_record_and_stages_may_be_in_flight(
    registry: Registry,
) -> None:
    assert registry.seals_after_counts  # the app as built from this checkout
    experiment_id = open_experiment(registry)
    registry.submit(registry.prepare_stage(experiment_id, 0, 1, digest("stage 0")))

    rejected("stage count differs", lambda: registry.submit(registry.prepare_seal(
        experiment_id, digest("final"), stage_count=2, anchor_count=0)))
    rejected("anchor count differs", lambda: registry.submit(registry.prepare_seal(
        experiment_id, digest("final"), stage_count=1, anchor_count=1)))
    # Stage 1 pending in the node's pool: a seal naming it is admitted behind it.
    stage = registry.prepare_stage(experiment_id, 1, 1, digest("stage 1"))
    seal = registry.prepare_seal(experiment_id, digest("final"), stage_count=2, anchor_count=0)
    registry.send(stage)
    registry.send(seal)
    done = registry.wait(seal)

    header = registry.header(experiment_id)
    assert header is not None and header.sealed and header.stage_count == 2
    assert header.sealed_round == done.round >= registry.wait(stage).round
