"""The writer's exactly-once protocol, offline, against an in-memory registry that injects faults.

`FakeChain` models the ledger and the ExperimentRegistry app as far as the writer relies on them
(algo_tracer.record.registry_protocol): a group lands atomically or not at all, in a block of its
own; a transaction id lands once; a lease is held until the transaction's last valid round; the
contract checks the expected stage and anchor index, "experiment exists" and "experiment sealed",
and that the caller owns the experiment. `FakeRegistry` is our `WriterRegistry` over that chain
(a fake of our interface, not of algod), reached through a network that injects one `Fault`.

Each scenario journals an experiment in two phases (stages, note-path and private records, a
seal), settles it through a fault, and checks the chain against the journal: every journaled
record landed exactly once, in journal order; every stage once, at its index; one create, one
seal. A scenario either retries with the same Writer (as `BackgroundWriter` does) or treats the
fault as a crash and finishes with a new Writer over the same journal file (`algo-tracer
resume`). The tests on the fake's own rules at the end make sure it is a strict judge.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import enum
import functools
import hashlib
import inspect
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from algosdk import account, logic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner

from algo_tracer.errors import AlgoTracerError, ContractError, NetworkError
from algo_tracer.format import notes
from algo_tracer.format.boxes import Header, Stage
from algo_tracer.format.merkle import merkle_root
from algo_tracer.format.records import NoteRecord, RecordKind, derive_salt, encode_leaf
from algo_tracer.network.registry import Confirmed, Registry, SignedGroup
from algo_tracer.record.journal import CONFIRMED, ExperimentRow, Journal
from algo_tracer.record.registry_protocol import WriterRegistry
from algo_tracer.record.writer import BackgroundWriter, Writer

APP_ID = 1001
GENESIS_ID = "fakenet-v1"
GENESIS_HASH = base64.b64encode(hashlib.sha256(b"fakenet").digest()).decode()
WINDOW = 1000  # validity window of a signed group, in rounds (as algod suggests)
EXP = hashlib.sha256(b"experiment").digest()
DEPOSIT = 50_000
MAX_ATTEMPTS = 12


# -- the chain --------------------------------------------------------------------------------


class Refused(Exception):
    """The chain refused a group: nothing of it landed. `code` is the contract's error text."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Anchor:
    index: int
    root: bytes
    count: int
    first_round: int
    last_round: int
    round: int


@dataclass(frozen=True)
class AppState:
    """One experiment's boxes, as the contract keeps them."""

    owner: str
    metadata_digest: bytes
    created_round: int
    head: bytes
    stages: tuple[Stage, ...] = ()
    anchors: tuple[Anchor, ...] = ()
    sealed: bool = False
    final_digest: bytes = bytes(32)
    sealed_round: int = 0


@dataclass(frozen=True)
class Block:
    round: int
    txids: tuple[str, ...]
    notes: tuple[bytes, ...]  # the notes of the group's payments, in group order


def _u64(value: bytes) -> int:
    return int.from_bytes(value, "big")


class FakeChain:
    """The ledger plus the registry app: one block per group, every rule checked."""

    def __init__(self) -> None:
        self.round = 1_000
        self.app_address: str = logic.get_application_address(APP_ID)
        self.experiments: dict[bytes, AppState] = {}
        self.blocks: list[Block] = []
        self.refusals: list[str] = []
        self.pool: list[SignedGroup] = []  # accepted by a node, not in a block yet
        self._txids: set[str] = set()
        self._leases: dict[tuple[str, bytes], int] = {}  # (sender, lease) -> held until round

    def deliver(self, group: SignedGroup) -> Block:
        """Evaluate `group` in a new block: it lands whole, or `Refused` and nothing changes."""
        try:
            return self._evaluate(group)
        except Refused as exc:
            self.refusals.append(exc.reason)
            raise

    def land_pool(self) -> None:
        """Groups a node accepted earlier land now (or are refused, as any group can be)."""
        pool, self.pool = self.pool, []
        for group in pool:
            with contextlib.suppress(Refused):
                self.deliver(group)

    def _evaluate(self, group: SignedGroup) -> Block:
        rnd = self.round + 1
        txns = [s.transaction for s in group.signed]
        unsigned = [copy.copy(t) for t in txns]
        for t in unsigned:
            t.group = None
        if len(txns) > 1 and any(t.group != transaction.calculate_group_id(unsigned)
                                 for t in txns):
            raise Refused("the group id does not match the group: not one atomic group")
        seen: set[str] = set()
        leases: dict[tuple[str, bytes], int] = {}
        apply: Callable[[], Confirmed] | None = None
        for signed, txn in zip(group.signed, txns, strict=True):
            txid = signed.get_txid()
            if not txn.first_valid_round <= rnd <= txn.last_valid_round:
                raise Refused(f"txn {txid} is not valid in round {rnd} "
                              f"({txn.first_valid_round}..{txn.last_valid_round})")
            if txid in self._txids or txid in seen:
                raise Refused(f"transaction already in ledger: {txid}")
            seen.add(txid)
            if txn.lease:
                key = (txn.sender, bytes(txn.lease))
                if max(self._leases.get(key, -1), leases.get(key, -1)) >= rnd:
                    raise Refused(f"transaction {txid} using an overlapping lease")
                leases[key] = txn.last_valid_round
            if isinstance(txn, transaction.ApplicationCallTxn):
                apply = self._contract(txn, txns, rnd, txid)
        if apply is None:
            raise Refused("a registry group holds one registry call")
        confirmed = apply()
        self._txids |= seen
        self._leases.update(leases)
        self.round = rnd
        block = Block(rnd, tuple(s.get_txid() for s in group.signed),
                      tuple(bytes(t.note) for t in txns
                            if isinstance(t, transaction.PaymentTxn) and t.note))
        self.blocks.append(block)
        assert confirmed.round == rnd
        return block

    def _contract(self, call: transaction.ApplicationCallTxn,
                  group: list[transaction.Transaction], rnd: int,
                  txid: str) -> Callable[[], Confirmed]:
        """Check the call against the app's state; return what applies it (nothing applied yet)."""
        if call.index != APP_ID:
            raise Refused(f"call to app {call.index}, the registry is {APP_ID}")
        method, eid, *args = [bytes(a) for a in call.app_args]
        state = self.experiments.get(eid)

        def fail(code: str) -> Refused:
            return Refused(f"logic eval error: {code}", code=code)

        def paid() -> None:
            if not any(isinstance(t, transaction.PaymentTxn) and t.receiver == self.app_address
                       and t.sender == call.sender and t.amt >= DEPOSIT for t in group):
                raise fail("underpaid")

        def writable() -> AppState:
            if state is None:
                raise fail("unknown experiment")
            if state.owner != call.sender:
                raise fail("not owner")
            if state.sealed:
                raise fail("experiment sealed")
            return state

        def commit(new: AppState) -> Callable[[], Confirmed]:
            def run() -> Confirmed:
                self.experiments[eid] = new
                return Confirmed(txid=txid, round=rnd, head=new.head)
            return run

        def fold(head: bytes, *parts: bytes) -> bytes:
            return hashlib.sha256(head + method + b"".join(parts)).digest()

        if method == b"create_experiment":
            (metadata_digest,) = args
            if state is not None:
                raise fail("experiment exists")
            paid()
            return commit(AppState(call.sender, metadata_digest, rnd,
                                   fold(eid, call.sender.encode(), metadata_digest)))
        if method == b"record_stage":
            index, kind, digest = _u64(args[0]), args[1][0], args[2]
            current = writable()
            if index < len(current.stages):
                raise fail("stale stage index")
            if index > len(current.stages):
                raise fail("future stage index")
            paid()
            stage = Stage(index, kind, digest, rnd)
            return commit(replace(current, stages=(*current.stages, stage),
                                  head=fold(current.head, *args)))
        if method == b"anchor_batch":
            index, root = _u64(args[0]), args[1]
            count, first, last = _u64(args[2]), _u64(args[3]), _u64(args[4])
            if count == 0:
                raise fail("record count must be nonzero")
            if first > last:
                raise fail("first round after last round")
            if first > rnd:
                raise fail("first round in future")
            current = writable()
            if index < len(current.anchors):
                raise fail("stale anchor index")
            if index > len(current.anchors):
                raise fail("future anchor index")
            anchor = Anchor(index, root, count, first, last, rnd)
            return commit(replace(current, anchors=(*current.anchors, anchor),
                                  head=fold(current.head, *args)))
        if method == b"seal":
            (final_digest,) = args
            current = writable()
            return commit(replace(current, sealed=True, final_digest=final_digest,
                                  sealed_round=rnd, head=fold(current.head, final_digest)))
        raise Refused(f"unknown method {method!r}")

    # -- reads (what algod's box reads return) -------------------------------------------------

    def header(self, experiment_id: bytes) -> Header | None:
        s = self.experiments.get(experiment_id)
        if s is None:
            return None
        return Header(owner=s.owner, created_round=s.created_round,
                      created_timestamp=1_700_000_000 + s.created_round, sealed=s.sealed,
                      stage_count=len(s.stages), anchor_count=len(s.anchors),
                      anchored_records=sum(a.count for a in s.anchors),
                      metadata_digest=s.metadata_digest, head=s.head,
                      final_digest=s.final_digest, sealed_round=s.sealed_round)

    def landed_txids(self) -> set[str]:
        return set(self._txids)


# -- the network between the writer and the chain: faults --------------------------------------


class Fault(enum.Enum):
    LOST_RESPONSE = "the group landed; its confirmation never reached the writer"
    TIMEOUT_AFTER_LANDING = "the group landed; the writer timed out waiting as rounds passed"
    DUPLICATED_SEND = "the group reached the chain twice; the writer got the duplicate's refusal"
    REJECTED = "the send was refused outright; nothing landed"
    LANDS_LATE = "outcome unknown; the group lands only after the writer has looked again"


@dataclass(frozen=True)
class Write:
    """Which write a group carries: the method, its index (stage, anchor), whether it has notes."""

    method: str
    index: int | None
    with_notes: bool


def describe(group: SignedGroup) -> Write:
    call = group.signed[group.app_call].transaction
    assert isinstance(call, transaction.ApplicationCallTxn)
    method = bytes(call.app_args[0]).decode()
    index = _u64(call.app_args[2]) if method in ("record_stage", "anchor_batch") else None
    with_notes = any(isinstance(s.transaction, transaction.PaymentTxn) and s.transaction.note
                     for s in group.signed)
    return Write(method, index, with_notes)


TARGETS: dict[str, Callable[[Write], bool]] = {
    "create": lambda w: w.method == "create_experiment",
    "stage": lambda w: w.method == "record_stage",
    "note anchor": lambda w: w.method == "anchor_batch" and w.with_notes,
    "private anchor": lambda w: w.method == "anchor_batch" and not w.with_notes,
    "seal": lambda w: w.method == "seal",
    "every write": lambda w: True,
}


@dataclass
class FaultPlan:
    """`fault` on the first send of the first write `target` picks ("every write": of each)."""

    fault: Fault
    target: str
    hit: list[Write] = field(default_factory=list)

    def take(self, write: Write) -> Fault | None:
        if not TARGETS[self.target](write) or write in self.hit:
            return None
        if self.hit and self.target != "every write":
            return None
        self.hit.append(write)
        return self.fault


@dataclass(frozen=True)
class Owner:
    address: str
    signer: AccountTransactionSigner

    @classmethod
    def new(cls) -> Owner:
        key, address = account.generate_account()
        return cls(address, AccountTransactionSigner(key))


class FakeRegistry:
    """Our `WriterRegistry` over a `FakeChain`, behind a network that injects `plan`'s fault."""

    def __init__(self, chain: FakeChain, owner: Owner, plan: FaultPlan | None = None) -> None:
        self.chain = chain
        self.owner = owner
        self.plan = plan

    @property
    def app_address(self) -> str:
        return self.chain.app_address

    def header(self, experiment_id: bytes) -> Header | None:
        return self.chain.header(experiment_id)

    def stages(self, experiment_id: bytes, count: int) -> list[Stage]:
        state = self.chain.experiments.get(experiment_id)
        return list(state.stages[:count]) if state else []

    def prepare_create(self, experiment_id: bytes, metadata_digest: bytes) -> SignedGroup:
        return self._sign(self._deposit(), self._call(b"create_experiment", experiment_id,
                                                      metadata_digest))

    def prepare_stage(self, experiment_id: bytes, index: int, kind: int,
                      digest: bytes) -> SignedGroup:
        return self._sign(self._deposit(), self._call(
            b"record_stage", experiment_id, struct.pack(">Q", index), bytes([kind]), digest))

    def prepare_anchor(self, experiment_id: bytes, index: int, root: bytes, count: int,
                       notes: list[bytes], leases: list[bytes]) -> SignedGroup:
        sp = self._params()
        call = self._call(b"anchor_batch", experiment_id, struct.pack(">Q", index), root,
                          struct.pack(">Q", count), struct.pack(">Q", sp.first),
                          struct.pack(">Q", sp.last), sp=sp)
        payments = [transaction.PaymentTxn(self.owner.address, sp, self.owner.address, 0,
                                           note=note, lease=lease)
                    for note, lease in zip(notes, leases, strict=True)]
        return self._sign(call, *payments)

    def prepare_seal(self, experiment_id: bytes, final_digest: bytes) -> SignedGroup:
        return self._sign(self._call(b"seal", experiment_id, final_digest))

    def submit(self, group: SignedGroup) -> Confirmed:
        self.chain.land_pool()  # what a node accepted earlier lands before anything sent now
        fault = self.plan.take(describe(group)) if self.plan else None
        if fault is Fault.REJECTED:
            raise NetworkError("algod rejected the transaction group: (injected) txn dead",
                               fix="the journal keeps the write for `resume`")
        if fault is Fault.LANDS_LATE:
            self.chain.pool.append(group)
            self.chain.round += 3  # the writer's wait ended while rounds went by
            raise NetworkError(f"transaction {group.txids[group.app_call]} was sent, but its "
                               "confirmation could not be read: (injected) connection reset")
        block = self._deliver(group)
        if fault is Fault.LOST_RESPONSE:
            raise NetworkError(f"transaction {group.txids[group.app_call]} was sent, but its "
                               "confirmation could not be read: (injected) connection reset")
        if fault is Fault.TIMEOUT_AFTER_LANDING:
            self.chain.round += WINDOW
            raise NetworkError(f"transaction {group.txids[group.app_call]} was not confirmed "
                               f"by round {group.last_valid}: (injected)")
        if fault is Fault.DUPLICATED_SEND:
            self._deliver(group)  # must be refused: the writer gets this answer, not the first
            raise AssertionError("the chain let the same signed group land twice")
        state = self.chain.experiments[describe_experiment(group)]
        return Confirmed(txid=group.txids[group.app_call], round=block.round, head=state.head)

    def _deliver(self, group: SignedGroup) -> Block:
        try:
            return self.chain.deliver(group)
        except Refused as exc:
            if exc.code is not None:
                raise ContractError(f"the registry rejected the call: {exc.code}",
                                    code=exc.code) from exc
            raise NetworkError(f"algod rejected the transaction group: {exc.reason}") from exc

    def _params(self) -> transaction.SuggestedParams:
        return transaction.SuggestedParams(fee=1_000, first=self.chain.round,
                                           last=self.chain.round + WINDOW, gh=GENESIS_HASH,
                                           gen=GENESIS_ID, flat_fee=True, min_fee=1_000)

    def _deposit(self) -> transaction.PaymentTxn:
        return transaction.PaymentTxn(self.owner.address, self._params(), self.app_address,
                                      DEPOSIT)

    def _call(self, method: bytes, *args: bytes,
              sp: transaction.SuggestedParams | None = None) -> transaction.ApplicationCallTxn:
        return transaction.ApplicationNoOpTxn(self.owner.address, sp or self._params(), APP_ID,
                                              app_args=[method, *args])

    def _sign(self, *txns: transaction.Transaction) -> SignedGroup:
        grouped = transaction.assign_group_id(list(txns)) if len(txns) > 1 else list(txns)
        signed = self.owner.signer.sign_transactions(grouped, list(range(len(grouped))))
        assert all(isinstance(s, transaction.SignedTransaction) for s in signed)
        app_call = next(i for i, t in enumerate(grouped)
                        if isinstance(t, transaction.ApplicationCallTxn))
        call = grouped[app_call]
        return SignedGroup(signed=[s for s in signed
                                   if isinstance(s, transaction.SignedTransaction)],
                           app_call=app_call, first_valid=call.first_valid_round,
                           last_valid=call.last_valid_round)


def describe_experiment(group: SignedGroup) -> bytes:
    call = group.signed[group.app_call].transaction
    assert isinstance(call, transaction.ApplicationCallTxn)
    return bytes(call.app_args[1])


# -- scenarios ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One experiment traced into a journal file, settled by a Writer that may crash."""

    path: Path
    chain: FakeChain
    owner: Owner
    plan: FaultPlan | None
    resume_after_fault: bool
    journal: Journal = field(init=False)
    writer: Writer = field(init=False)
    processes: int = 0
    errors: list[AlgoTracerError] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.journal = Journal(self.path)
        self.journal.add_experiment(ExperimentRow(
            EXP, "exactly-once", APP_ID, GENESIS_HASH, GENESIS_ID, self.owner.address,
            {"seed": 7}, hashlib.sha256(b"metadata").digest(), hashlib.sha256(b"salt").digest(),
            str(self.path.parent), "creating", None, None, None, None, None))
        self.writer = self._new_writer()

    def _new_writer(self) -> Writer:
        self.processes += 1
        registry: WriterRegistry = FakeRegistry(self.chain, self.owner, self.plan)
        return Writer(self.journal, registry, EXP)

    def crash_and_restart(self) -> None:
        """The process dies; a new one opens the same journal file (`algo-tracer resume`)."""
        self.writer.record_log.close()
        self.journal.close()
        self.journal = Journal(self.path)
        self.writer = self._new_writer()

    def log(self, records: list[tuple[int, float, bool]]) -> None:
        """`log_metric`'s path: append to the pending log the writer ingests (one RecordLog
        for both, as in `Experiment`: its lock orders appends and the writer's rotations)."""
        for seq, value, private in records:
            self.writer.record_log.append(seq, RecordKind.METRIC, "loss", seq, value, private)

    def settle(self, *, final: bool, seal: bool = False) -> None:
        """Settle until nothing fails; network errors are retried (or crash the process)."""
        for _ in range(MAX_ATTEMPTS):
            try:
                self.writer.settle(flush=True, final=final, seal=seal)
                return
            except NetworkError as exc:
                self.errors.append(exc)
                if self.resume_after_fault:
                    self.crash_and_restart()
        pytest.fail(f"settle did not finish in {MAX_ATTEMPTS} attempts: {self.errors[-3:]}")


PUBLIC_1 = 1_500  # phase 1: seq 0..1499 on the note path (two note groups)
PRIVATE_A = range(1_500, 1_510)  # phase 2: private, public, private runs
PUBLIC_2 = range(1_510, 1_600)
PRIVATE_B = range(1_600, 1_605)
TOTAL = 1_605
FINAL_DIGEST = hashlib.sha256(b"final").digest()


def trace(run: Run) -> None:
    """Journal and settle the whole experiment: two phases, then the seal."""
    run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
    run.journal.add_stage(EXP, 2, "code", hashlib.sha256(b"code").digest(), {})
    run.log([(seq, 1.0 / (seq + 1), False) for seq in range(PUBLIC_1)])
    run.settle(final=False)

    run.journal.add_stage(EXP, 3, "data:train", hashlib.sha256(b"data").digest(), {})
    run.log([(seq, float(seq), True) for seq in PRIVATE_A])
    run.log([(seq, -float(seq), False) for seq in PUBLIC_2])
    run.log([(seq, seq / 7, True) for seq in PRIVATE_B])
    run.journal.update_experiment(EXP, final_digest=FINAL_DIGEST)
    run.settle(final=True, seal=True)


def assert_exactly_once(chain: FakeChain, journal: Journal) -> None:
    """The chain holds the journal: every write once, every record once, in journal order."""
    row = journal.experiment(EXP)
    state = chain.experiments[EXP]
    header = chain.header(EXP)
    assert header is not None
    assert (state.owner, state.metadata_digest) == (row.owner, row.metadata_digest)
    assert row.status == "sealed" and row.create_round == state.created_round
    assert state.sealed and state.final_digest == FINAL_DIGEST
    assert row.seal_round == state.sealed_round

    stages = journal.stages(EXP)
    assert [(s.index, s.kind, s.digest) for s in state.stages] == [
        (s.idx, s.kind, s.digest) for s in stages], "stages doubled, lost or out of order"
    assert all(s.status == CONFIRMED and s.round == c.round
               for s, c in zip(stages, state.stages, strict=True))

    batches = journal.batches(EXP)
    assert [(a.index, a.root, a.count) for a in state.anchors] == [
        (b.idx, b.root, b.count) for b in batches], "anchors doubled, lost or out of order"
    assert all(b.status == CONFIRMED for b in batches)
    assert all(b.round in (None, a.round) for b, a in zip(batches, state.anchors, strict=True))
    assert header.anchored_records == TOTAL

    records = {r.seq: (r, private) for r, private in journal.records(EXP)}
    assert sorted(records) == list(range(TOTAL))
    decoded = [notes.decode_note(n) for block in chain.blocks for n in block.notes]
    assert len({(d.anchor_index, d.position) for d in decoded}) == len(decoded), "a note twice"
    seq = 0  # the batches cover seq 0.. back to back, each in one anchor
    for batch in batches:
        assert batch.first_seq == seq
        run = [records[s][0] for s in range(seq, seq + batch.count)]
        assert {records[s][1] for s in range(seq, seq + batch.count)} == {batch.private}
        if batch.private:  # only the root is on chain: it must be the root of these records
            assert merkle_root([encode_leaf(r, salt=derive_salt(row.salt_key, r.seq))
                                for r in run]) == batch.root
        else:  # the notes on chain carry exactly these records
            on_chain = notes.group_records(d for d in decoded if d.anchor_index == batch.idx)
            assert list(on_chain) == run
            assert merkle_root([encode_leaf(r) for r in on_chain]) == batch.root
        seq += batch.count
    assert seq == TOTAL
    on_chain_seqs = sorted(r.seq for d in decoded for r in d.records)
    assert on_chain_seqs == sorted(s for s, (_, private) in records.items() if not private)

    assert journal.outstanding(EXP) == 0


def new_run(tmp_path: Path, plan: FaultPlan | None, *, resume: bool) -> Run:
    return Run(tmp_path / "state" / "journal.sqlite", FakeChain(), Owner.new(), plan, resume)


def distinct_writes(chain: FakeChain) -> int:
    state = chain.experiments[EXP]
    return 2 + len(state.stages) + len(state.anchors)  # the create and the seal


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.name.lower())
@pytest.mark.parametrize("resume", [False, True], ids=["retry", "crash+resume"])
def test_every_record_lands_exactly_once_through_a_fault(
    tmp_path: Path, fault: Fault, target: str, resume: bool
) -> None:
    plan = FaultPlan(fault, target)
    run = new_run(tmp_path, plan, resume=resume)

    trace(run)

    assert plan.hit, f"the fault never fired for target {target!r}"
    if target == "every write":
        assert len(plan.hit) == distinct_writes(run.chain)
    assert len(run.errors) == len(plan.hit)  # one failed settle per fault, no more
    if fault is Fault.DUPLICATED_SEND:  # the chain saw the copy and refused it
        assert sum("already in ledger" in r for r in run.chain.refusals) == len(plan.hit)
    assert_exactly_once(run.chain, run.journal)
    if resume:
        assert run.processes == 1 + len(plan.hit)


def test_without_faults_each_write_is_one_group(tmp_path: Path) -> None:
    run = new_run(tmp_path, None, resume=False)

    trace(run)

    assert_exactly_once(run.chain, run.journal)
    assert len(run.chain.blocks) == distinct_writes(run.chain) and not run.chain.refusals
    assert [len(a.root) for a in run.chain.experiments[EXP].anchors] == [32] * 5
    stats = run.writer.stats
    assert (stats.groups, stats.deposits) == (len(run.chain.blocks), 4 * DEPOSIT)


@pytest.mark.parametrize(
    "fault",
    [pytest.param(f, marks=pytest.mark.xfail(
        reason="after 'an earlier send already landed' the journal keeps the txids (and the "
        "validity window) of the resend that was refused, not of the group that landed; "
        "verification step 'manifest batch N names transaction X' then flags the batch",
        strict=True)) if f is Fault.LANDS_LATE else f for f in Fault],
    ids=lambda f: f.name.lower())
def test_the_journal_names_the_transactions_that_landed(tmp_path: Path, fault: Fault) -> None:
    run = new_run(tmp_path, FaultPlan(fault, "every write"), resume=False)

    trace(run)

    landed = run.chain.landed_txids()
    row = run.journal.experiment(EXP)
    named = [row.create_txid, row.seal_txid, *(s.txid for s in run.journal.stages(EXP)),
             *(t for b in run.journal.batches(EXP) for t in b.txids)]
    assert [t for t in named if t not in landed] == []


@pytest.mark.parametrize("write", ["stage", "anchor", "seal"])
def test_a_refusal_other_than_already_landed_is_raised_and_nothing_is_confirmed(
    tmp_path: Path, write: str
) -> None:
    # `resume` signing with another account than the experiment's owner: "not owner" is not
    # "an earlier send already landed", so the writer must stop, not mark the write confirmed.
    run = new_run(tmp_path, None, resume=False)
    run.settle(final=True)  # the owner creates the experiment
    if write == "stage":
        run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
    elif write == "anchor":
        run.log([(seq, float(seq), False) for seq in range(10)])
    else:
        run.journal.update_experiment(EXP, final_digest=FINAL_DIGEST)
    stranger = Writer(run.journal, FakeRegistry(run.chain, Owner.new()), EXP,
                      run.writer.record_log)

    with pytest.raises(ContractError) as err:
        stranger.settle(seal=write == "seal")

    assert err.value.code == "not owner"
    assert run.journal.outstanding(EXP) == (0 if write == "seal" else 1)
    assert run.journal.experiment(EXP).status in ("open", "sealing")
    assert all(s.status != CONFIRMED for s in run.journal.stages(EXP))
    assert all(b.status != CONFIRMED for b in run.journal.batches(EXP))
    assert len(run.chain.blocks) == 1  # the create, nothing else


def test_background_writer_rides_out_a_fault_and_drains(tmp_path: Path) -> None:
    plan = FaultPlan(Fault.LANDS_LATE, "note anchor")
    run = new_run(tmp_path, plan, resume=False)
    seen: list[Exception] = []
    background = BackgroundWriter(run.writer, flush_interval=0.05, on_error=seen.append)
    try:
        run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
        run.journal.add_stage(EXP, 2, "code", hashlib.sha256(b"code").digest(), {})
        run.journal.add_stage(EXP, 3, "data:train", hashlib.sha256(b"data").digest(), {})
        run.log([(seq, 1.0 / (seq + 1), False) for seq in range(PUBLIC_1)])
        run.log([(seq, float(seq), True) for seq in PRIVATE_A])
        run.log([(seq, -float(seq), False) for seq in PUBLIC_2])
        run.log([(seq, seq / 7, True) for seq in PRIVATE_B])
        background.notify()
        background.drain(timeout=30)
    finally:
        background.close()
    run.journal.update_experiment(EXP, final_digest=FINAL_DIGEST)
    run.writer.settle(seal=True)

    assert plan.hit and len(seen) == 1 and isinstance(seen[0], NetworkError)
    assert_exactly_once(run.chain, run.journal)


# -- the registry and the fake both are WriterRegistry ------------------------------------------


def _protocol_members() -> list[str]:
    return sorted(n for n in vars(WriterRegistry) if not n.startswith("_"))


@pytest.mark.parametrize("implementation", [Registry, FakeRegistry])
def test_registry_and_fake_have_exactly_the_protocol_signatures(implementation: type) -> None:
    for name in _protocol_members():
        wanted = vars(WriterRegistry)[name]
        found = inspect.getattr_static(implementation, name)
        if isinstance(wanted, property):
            assert isinstance(found, property | functools.cached_property), name
            continue
        assert inspect.signature(found) == inspect.signature(wanted), name


def test_the_protocol_is_what_the_writer_uses() -> None:
    source = inspect.getsource(Writer)
    used = {name for name in _protocol_members() if f"self.registry.{name}" in source}
    assert used == set(_protocol_members())


# -- the fake's own rules: it must refuse what the network and the contract refuse -------------


@pytest.fixture
def opened(tmp_path: Path) -> tuple[FakeChain, FakeRegistry]:
    chain = FakeChain()
    registry = FakeRegistry(chain, Owner.new())
    registry.submit(registry.prepare_create(EXP, bytes(32)))
    return chain, registry


def test_the_fake_refuses_a_second_create(opened: tuple[FakeChain, FakeRegistry]) -> None:
    chain, registry = opened
    chain.round += 1
    with pytest.raises(ContractError) as err:
        registry.submit(registry.prepare_create(EXP, bytes(32)))
    assert err.value.code == "experiment exists"


def test_the_fake_lands_a_stage_only_at_its_expected_index(
    opened: tuple[FakeChain, FakeRegistry]
) -> None:
    chain, registry = opened
    group = registry.prepare_stage(EXP, 0, 1, bytes(32))
    registry.submit(group)

    with pytest.raises(NetworkError, match="already in ledger"):
        registry.submit(group)  # the same signed bytes again
    with pytest.raises(ContractError) as stale:
        registry.submit(registry.prepare_stage(EXP, 0, 1, bytes(32)))  # re-signed, new round
    with pytest.raises(ContractError) as future:
        registry.submit(registry.prepare_stage(EXP, 2, 1, bytes(32)))

    assert (stale.value.code, future.value.code) == ("stale stage index", "future stage index")
    header = chain.header(EXP)
    assert header is not None and header.stage_count == 1


def test_a_note_group_lands_whole_or_not_at_all_and_leases_hold(
    opened: tuple[FakeChain, FakeRegistry]
) -> None:
    chain, registry = opened
    records = [NoteRecord(i, RecordKind.METRIC, "loss", i, float(i)) for i in range(300)]
    packed = notes.pack_notes(EXP, 0, records)
    registry.submit(registry.prepare_anchor(EXP, 0, packed.root, packed.count,
                                            list(packed.notes), packed.leases()))
    blocks = len(chain.blocks)

    with pytest.raises(ContractError) as stale:
        registry.submit(registry.prepare_anchor(EXP, 0, packed.root, packed.count,
                                                list(packed.notes), packed.leases()))
    # anchor 1 itself is fine, but its notes reuse anchor 0's leases: the whole group is refused
    with pytest.raises(NetworkError, match="overlapping lease"):
        registry.submit(registry.prepare_anchor(EXP, 1, packed.root, packed.count,
                                                list(packed.notes), packed.leases()))

    assert stale.value.code == "stale anchor index"
    assert len(chain.blocks) == blocks and len(chain.experiments[EXP].anchors) == 1
    assert sum(len(b.notes) for b in chain.blocks) == len(packed.notes)


def test_the_fake_refuses_writes_after_the_seal_and_from_strangers(
    opened: tuple[FakeChain, FakeRegistry]
) -> None:
    chain, registry = opened
    stranger = FakeRegistry(chain, Owner.new())
    with pytest.raises(ContractError) as not_owner:
        stranger.submit(stranger.prepare_stage(EXP, 0, 1, bytes(32)))
    registry.submit(registry.prepare_seal(EXP, FINAL_DIGEST))
    with pytest.raises(ContractError) as sealed:
        registry.submit(registry.prepare_seal(EXP, FINAL_DIGEST))

    assert (not_owner.value.code, sealed.value.code) == ("not owner", "experiment sealed")
