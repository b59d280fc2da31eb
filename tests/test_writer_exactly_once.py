"""The writer's exactly-once protocol, offline, against an in-memory registry that injects faults.

`FakeChain` models the ledger and the ExperimentRegistry app as far as the writer relies on them
(algo_tracer.record.registry_protocol): a group lands atomically or not at all; a node's pool
admits a group only if it lands on top of the groups pending there (in arrival order, as algod
evaluates them), and a block takes the pool once `block_size` groups wait (1: a block per group,
as on DevMode) or when the writer waits; a transaction id lands once; a lease is held until the
transaction's last valid round; the contract checks the expected stage and anchor index,
"experiment exists" and "experiment sealed", and that the caller owns the experiment.
`FakeRegistry` is our `WriterRegistry` over that chain (a fake of our interface, not of algod),
reached through a network that injects one `Fault`.

Each scenario journals an experiment in two phases (stages, note-path and private records, a
seal), settles it through a fault, and checks the chain against the journal: every journaled
record landed exactly once, in journal order; every stage once, at its index; one create, one
seal. A scenario either retries with the same Writer (as `BackgroundWriter` does) or treats the
fault as a crash and finishes with a new Writer over the same journal file (`algo-tracer
resume`). The scenarios run the sequential writer (`max_in_flight=1`: each fault fails one
settle) and, again, the pipelined one (`test_pipelined_*`: 8 groups in flight, blocks of 4, so a
fault hits a group in the middle of a window), plus pipelining's own cases: groups sharing
blocks in journal order, a failed middle group, a crash with groups in flight. The tests on the
fake's own rules at the end make sure it is a strict judge.
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
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from algosdk import account, logic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner

from algo_tracer.errors import (
    AlgoTracerError,
    AlreadySubmittedError,
    ContractError,
    NetworkError,
)
from algo_tracer.format import notes
from algo_tracer.format.boxes import Header, Stage
from algo_tracer.format.merkle import merkle_root
from algo_tracer.format.records import NoteRecord, RecordKind, derive_salt, encode_leaf
from algo_tracer.network.registry import Confirmed, Registry, SignedGroup
from algo_tracer.record.background_writer import BackgroundWriter
from algo_tracer.record.journal import CONFIRMED, ExperimentRow, Journal
from algo_tracer.record.registry_protocol import WriterRegistry
from algo_tracer.record.writer import Writer

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
    notes: tuple[bytes, ...]  # the notes of the groups' payments, in block order
    calls: tuple[str, ...] = ()  # the registry call of each group, in block order
    call_notes: tuple[bytes, ...] = ()  # the notes the registry calls carry (stage notes)


def _u64(value: bytes) -> int:
    return int.from_bytes(value, "big")


class FakeChain:
    """The ledger plus the registry app behind one node's transaction pool, every rule checked.

    `send` admits a group to the pool only if it would land on top of the groups pending there
    (algod evaluates pool transactions in arrival order, each on the state the earlier ones
    leave); otherwise it is `Refused` and nothing changes. A block forms once `block_size`
    groups are pending (1, the default: every group in a block of its own, as on DevMode) or
    on `tick()`; it evaluates the pool again in arrival order, and a group that fails then is
    dropped from the pool, never half applied.
    """

    def __init__(self, block_size: int = 1) -> None:
        self.round = 1_000
        self.block_size = block_size
        self.app_address: str = logic.get_application_address(APP_ID)
        self.experiments: dict[bytes, AppState] = {}
        self.blocks: list[Block] = []
        self.refusals: list[str] = []
        self.pool: list[SignedGroup] = []  # admitted by the node, not in a block yet
        self.late: list[SignedGroup] = []  # sent, held up on the way to the node
        self.evict: set[str] = set()  # registry calls the node drops from its pool at the block
        self.confirmed: dict[str, Confirmed] = {}  # registry call txid -> its confirmation
        self.dropped: dict[str, str] = {}  # registry call txid -> why its block dropped it
        self._txids: set[str] = set()
        self._leases: dict[tuple[str, bytes], int] = {}  # (sender, lease) -> held until round

    def send(self, group: SignedGroup) -> None:
        """Admit `group` to the pool (a block forms when it is full), or `Refused`."""
        shadow = self._pending_state()
        try:
            shadow._apply(group, self.round + 1)
        except Refused as exc:
            self.refusals.append(exc.reason)
            raise
        self.pool.append(group)
        self.dropped.pop(group.txids[group.app_call], None)  # the same bytes, sent again
        if len(self.pool) >= self.block_size:
            self.tick()

    def tick(self) -> Block | None:
        """The next block: the pool's groups in arrival order, each on top of those before."""
        pool, self.pool = self.pool, []
        rnd = self.round + 1
        landed: list[tuple[SignedGroup, Confirmed]] = []
        for group in pool:
            call = group.txids[group.app_call]
            try:
                if call in self.evict:
                    self.evict.discard(call)  # once: the same bytes sent again may land
                    raise Refused(f"txn {call} dropped from the pool (injected)")
                done = self._apply(group, rnd)
            except Refused as exc:
                self.refusals.append(exc.reason)
                self.dropped[call] = exc.reason
                continue
            self.confirmed[call] = done
            landed.append((group, done))
        if not landed:
            return None
        self.round = rnd
        block = Block(rnd, tuple(t for g, _ in landed for t in g.txids),
                      tuple(bytes(s.transaction.note) for g, _ in landed for s in g.signed
                            if isinstance(s.transaction, transaction.PaymentTxn)
                            and s.transaction.note),
                      tuple(d.txid for _, d in landed),
                      tuple(bytes(s.transaction.note) for g, _ in landed for s in g.signed
                            if isinstance(s.transaction, transaction.ApplicationCallTxn)
                            and s.transaction.note))
        self.blocks.append(block)
        return block

    def land_late(self) -> None:
        """Groups held up on the way reach the node now (and are admitted or refused)."""
        late, self.late = self.late, []
        for group in late:
            with contextlib.suppress(Refused):
                self.send(group)

    def _pending_state(self) -> FakeChain:
        """A copy of the chain with the pool applied: what algod checks a new group against."""
        shadow = copy.copy(self)
        shadow.experiments, shadow._txids = dict(self.experiments), set(self._txids)
        shadow._leases = dict(self._leases)
        for group in self.pool:
            with contextlib.suppress(Refused):
                shadow._apply(group, self.round + 1)
        return shadow

    def _apply(self, group: SignedGroup, rnd: int) -> Confirmed:
        """Apply `group` in round `rnd`: whole, or `Refused` and nothing changes."""
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
        assert confirmed.round == rnd
        return confirmed

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
        if method in (b"seal", b"seal_after"):
            final_digest = args[0]
            current = writable()
            if method == b"seal_after":
                if _u64(args[1]) != len(current.stages):
                    raise fail("stage count differs")
                if _u64(args[2]) != len(current.anchors):
                    raise fail("anchor count differs")
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
    DUPLICATED_SEND = "the group reached the chain twice; the writer got the duplicate's answer"
    REJECTED = "the send was refused outright; nothing landed"
    LANDS_LATE = "outcome unknown; the group lands only after the writer has looked again"
    DROPPED_FROM_POOL = "the node accepted the group, then dropped it: it never lands"


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
    "seal": lambda w: w.method in ("seal", "seal_after"),
    "stage 1": lambda w: w.method == "record_stage" and w.index == 1,
    "stage 2": lambda w: w.method == "record_stage" and w.index == 2,
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
        self.faults: dict[str, Fault] = {}  # registry call txid -> the fault its wait meets
        self.old_app = False  # an app deployed before seal_after: only the plain seal

    @property
    def seals_after_counts(self) -> bool:
        return not self.old_app

    @property
    def app_address(self) -> str:
        return self.chain.app_address

    def last_round(self) -> int:
        return self.chain.round

    def header(self, experiment_id: bytes) -> Header | None:
        return self.chain.header(experiment_id)

    def stages(self, experiment_id: bytes, count: int) -> list[Stage]:
        state = self.chain.experiments.get(experiment_id)
        return list(state.stages[:count]) if state else []

    def prepare_create(self, experiment_id: bytes, metadata_digest: bytes) -> SignedGroup:
        return self._sign(self._deposit(), self._call(b"create_experiment", experiment_id,
                                                      metadata_digest))

    def prepare_stage(self, experiment_id: bytes, index: int, kind: int,
                      digest: bytes, note: bytes | None = None) -> SignedGroup:
        return self._sign(self._deposit(), self._call(
            b"record_stage", experiment_id, struct.pack(">Q", index), bytes([kind]), digest,
            note=note))

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

    def prepare_seal(self, experiment_id: bytes, final_digest: bytes, *, stage_count: int,
                     anchor_count: int) -> SignedGroup:
        if not self.seals_after_counts:  # an app deployed before seal_after
            return self._sign(self._call(b"seal", experiment_id, final_digest))
        return self._sign(self._call(b"seal_after", experiment_id, final_digest,
                                     struct.pack(">Q", stage_count),
                                     struct.pack(">Q", anchor_count)))

    def send(self, group: SignedGroup) -> None:
        self.chain.land_late()  # what was held up on the way reaches the node first
        fault = self.plan.take(describe(group)) if self.plan else None
        call = group.txids[group.app_call]
        if fault is Fault.REJECTED:
            raise NetworkError("algod rejected the transaction group: (injected) txn dead",
                               fix="the journal keeps the write for `resume`")
        if fault is Fault.DROPPED_FROM_POOL:
            self.chain.evict.add(call)  # admitted now, dropped when its block forms
        if fault is Fault.LANDS_LATE:
            self.chain.late.append(group)
        else:
            self._send(group)
        if fault is Fault.DUPLICATED_SEND:
            self._send(group)  # must be refused: the writer gets this answer, not the first
            raise AssertionError("the chain let the same signed group land twice")
        if fault is not None:
            self.faults[call] = fault

    def wait(self, group: SignedGroup) -> Confirmed:
        call = group.txids[group.app_call]
        fault = self.faults.pop(call, None)
        if fault is Fault.LANDS_LATE:
            self.chain.round += 3  # the writer's wait ended while rounds went by
            raise NetworkError(f"transaction {call} was sent, but its confirmation could not "
                               "be read: (injected) connection reset")
        if any(g.txids == group.txids for g in self.chain.pool):
            self.chain.tick()  # time passes: the next block
        if fault is Fault.LOST_RESPONSE:
            raise NetworkError(f"transaction {call} was sent, but its confirmation could not "
                               "be read: (injected) connection reset")
        if fault is Fault.TIMEOUT_AFTER_LANDING:
            self.chain.round += WINDOW
            raise NetworkError(f"transaction {call} was not confirmed by round "
                               f"{group.last_valid}: (injected)")
        if call in self.chain.dropped:
            raise NetworkError(f"algod accepted transaction {call}, then dropped it: "
                               f"{self.chain.dropped[call]}")
        if call not in self.chain.confirmed:
            raise NetworkError(f"transaction {call} is not pending and not confirmed")
        return self.chain.confirmed[call]

    def wait_unless(self, group: SignedGroup, interrupt: threading.Event) -> Confirmed | None:
        return None if interrupt.is_set() else self.wait(group)

    def submit(self, group: SignedGroup) -> Confirmed:
        self.send(group)
        return self.wait(group)

    def _send(self, group: SignedGroup) -> None:
        try:
            self.chain.send(group)
        except Refused as exc:
            if exc.code is not None:
                raise ContractError(f"the registry rejected the call: {exc.code}",
                                    code=exc.code) from exc
            if "already in ledger" in exc.reason:  # as Registry._translate answers it
                raise AlreadySubmittedError(f"transaction group already pending or confirmed "
                                            f"({exc.reason})") from exc
            raise NetworkError(f"algod rejected the transaction group: {exc.reason}") from exc

    def _params(self) -> transaction.SuggestedParams:
        return transaction.SuggestedParams(fee=1_000, first=self.chain.round,
                                           last=self.chain.round + WINDOW, gh=GENESIS_HASH,
                                           gen=GENESIS_ID, flat_fee=True, min_fee=1_000)

    def _deposit(self) -> transaction.PaymentTxn:
        return transaction.PaymentTxn(self.owner.address, self._params(), self.app_address,
                                      DEPOSIT)

    def _call(self, method: bytes, *args: bytes, sp: transaction.SuggestedParams | None = None,
              note: bytes | None = None) -> transaction.ApplicationCallTxn:
        return transaction.ApplicationNoOpTxn(self.owner.address, sp or self._params(), APP_ID,
                                              app_args=[method, *args], note=note)

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
    # 1: the sequential writer, where each fault fails exactly one settle. With a wider window
    # a fault on a group in flight stops the pass before the groups sent after it are waited
    # for, so one failed settle can cover several faults (test_pipelined_* below).
    max_in_flight: int = 1
    old_app: bool = False  # a registry deployed before seal_after

    def __post_init__(self) -> None:
        self.journal = Journal(self.path)
        self.journal.add_experiment(ExperimentRow(
            EXP, "exactly-once", APP_ID, GENESIS_HASH, GENESIS_ID, self.owner.address,
            {"seed": 7}, hashlib.sha256(b"metadata").digest(), hashlib.sha256(b"salt").digest(),
            str(self.path.parent), "creating", None, None, None, None, None))
        self.writer = self._new_writer()

    def _new_writer(self) -> Writer:
        self.processes += 1
        fake = FakeRegistry(self.chain, self.owner, self.plan)
        fake.old_app = self.old_app
        registry: WriterRegistry = fake
        return Writer(self.journal, registry, EXP, max_in_flight=self.max_in_flight)

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
            self.chain.tick()  # time passes before the retry (a no-op when the pool is empty)
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


def new_run(tmp_path: Path, plan: FaultPlan | None, *, resume: bool, max_in_flight: int = 1,
            block_size: int = 1) -> Run:
    return Run(tmp_path / "state" / "journal.sqlite", FakeChain(block_size), Owner.new(), plan,
               resume, max_in_flight=max_in_flight)


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
    if fault is Fault.DUPLICATED_SEND:  # the chain saw the copy and refused it; the writer
        # knows that answer means "pending or landed" and waits: no pass fails
        assert sum("already in ledger" in r for r in run.chain.refusals) == len(plan.hit)
        assert run.errors == []
    else:
        assert len(run.errors) == len(plan.hit)  # one failed settle per fault, no more
    assert_exactly_once(run.chain, run.journal)
    if resume:
        assert run.processes == 1 + len(run.errors)


def test_without_faults_each_write_is_one_group(tmp_path: Path) -> None:
    run = new_run(tmp_path, None, resume=False)

    trace(run)

    assert_exactly_once(run.chain, run.journal)
    assert len(run.chain.blocks) == distinct_writes(run.chain) and not run.chain.refusals
    assert [len(a.root) for a in run.chain.experiments[EXP].anchors] == [32] * 5
    stats = run.writer.stats
    assert (stats.groups, stats.deposits) == (len(run.chain.blocks), 4 * DEPOSIT)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.name.lower())
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
    registry.submit(registry.prepare_seal(EXP, FINAL_DIGEST, stage_count=0, anchor_count=0))
    with pytest.raises(ContractError) as sealed:
        registry.submit(registry.prepare_seal(EXP, FINAL_DIGEST, stage_count=0, anchor_count=0))

    assert (not_owner.value.code, sealed.value.code) == ("not owner", "experiment sealed")


# -- the pipelined writer: several groups in flight, many groups per block ----------------------

WIDE = 8  # the window of the pipelined scenarios: every write of `trace`'s phase 1 at once


def landed_writes(run: Run) -> list[tuple[int, list[tuple[str, int]]]]:
    """Each block after the create: its round and its writes, ("stage" | "batch", index)."""
    by_call = {s.txid: ("stage", s.idx) for s in run.journal.stages(EXP)}
    by_call |= {b.txids[0]: ("batch", b.idx) for b in run.journal.batches(EXP)}  # call first
    return [(b.round, [by_call[c] for c in b.calls if c in by_call]) for b in run.chain.blocks]


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.name.lower())
@pytest.mark.parametrize("resume", [False, True], ids=["retry", "crash+resume"])
def test_pipelined_every_record_lands_exactly_once_through_a_fault(
    tmp_path: Path, fault: Fault, target: str, resume: bool
) -> None:
    # Blocks of 4 groups, 8 in flight: a fault hits a group in the middle of a window.
    plan = FaultPlan(fault, target)
    run = new_run(tmp_path, plan, resume=resume, max_in_flight=WIDE, block_size=4)

    trace(run)

    assert plan.hit, f"the fault never fired for target {target!r}"
    # A fault on a group in flight stops the pass: the faults of groups sent behind it surface
    # as the chain's answer on the next pass instead, so one failed settle may cover several.
    # A retry may also find an earlier send still pending in a block not yet formed: the writer
    # confirms nothing until the chain shows it, and fails that settle to come back later.
    faults = [e for e in run.errors if "pending on the node" not in str(e)]
    if fault is Fault.DUPLICATED_SEND:  # "already in ledger" for a copy: waited for, no failure
        assert faults == []
    else:
        assert 1 <= len(faults) <= len(plan.hit)
        if target != "every write":
            assert len(faults) == 1
    assert_exactly_once(run.chain, run.journal)


def test_pipelined_writes_share_blocks_in_journal_order(tmp_path: Path) -> None:
    # Blocks form only when the writer waits (time passes): all that is in flight lands at once.
    run = new_run(tmp_path, None, resume=False, max_in_flight=WIDE, block_size=10_000)

    trace(run)

    assert_exactly_once(run.chain, run.journal)
    assert not run.chain.refusals
    blocks = landed_writes(run)
    # the create; phase 1: 2 stages + 2 note groups; phase 2: a stage + 3 batches, and the
    # seal behind them in the same block (not two confirmations later)
    assert [writes for _, writes in blocks] == [
        [], [("stage", 0), ("stage", 1), ("batch", 0), ("batch", 1)],
        [("stage", 2), ("batch", 2), ("batch", 3), ("batch", 4)]]
    assert run.journal.experiment(EXP).seal_round == blocks[-1][0]
    stats = run.writer.stats
    assert stats.groups == 10 and stats.most_groups_per_block() == 5
    assert stats.groups_per_round == {blocks[0][0]: 1, blocks[1][0]: 4, blocks[2][0]: 5}
    assert stats.stages_per_round == {blocks[1][0]: 2, blocks[2][0]: 1}


def test_a_window_never_holds_more_than_max_in_flight(tmp_path: Path) -> None:
    run = new_run(tmp_path, None, resume=False, max_in_flight=3, block_size=10_000)

    trace(run)

    assert_exactly_once(run.chain, run.journal)
    assert run.writer.stats.most_groups_per_block() == 3
    assert [len(w) for _, w in landed_writes(run)] == [0, 3, 1, 3, 1]  # the seal in the last


def five_stages(run: Run) -> None:
    for i in range(5):
        run.journal.add_stage(EXP, 1, f"stage {i}", hashlib.sha256(b"%d" % i).digest(), {})


@pytest.mark.parametrize("fault", [Fault.DROPPED_FROM_POOL, Fault.REJECTED],
                         ids=lambda f: f.name.lower())
def test_a_failed_middle_group_gets_everything_after_it_sent_again_exactly_once(
    tmp_path: Path, fault: Fault
) -> None:
    plan = FaultPlan(fault, "stage 1")
    run = new_run(tmp_path, plan, resume=False, max_in_flight=WIDE, block_size=10_000)
    run.settle(final=True)  # the create
    five_stages(run)

    run.settle(final=True)

    assert len(plan.hit) == 1 and len(run.errors) == 1
    assert [w for _, w in landed_writes(run)] == [
        [], [("stage", 0)], [("stage", 1), ("stage", 2), ("stage", 3), ("stage", 4)]]
    state = run.chain.experiments[EXP]
    assert [(s.index, s.digest) for s in state.stages] == [
        (s.idx, s.digest) for s in run.journal.stages(EXP)]
    assert all(s.status == CONFIRMED for s in run.journal.stages(EXP))
    if fault is Fault.DROPPED_FROM_POOL:  # 2..4 were in flight behind it: the block refused them
        assert sum("future stage index" in r for r in run.chain.refusals) == 3
    else:  # refused on sending: nothing was sent behind it
        assert not run.chain.refusals


class ProcessKilled(Exception):
    """The writer's process dies here (nothing of the writer runs after it)."""


class KilledWhileWaiting(FakeRegistry):
    def wait(self, group: SignedGroup) -> Confirmed:
        if describe(group).method != "create_experiment":
            raise ProcessKilled
        return super().wait(group)


@pytest.mark.parametrize("pending", ["some landed, some dropped", "landing after the restart"])
def test_a_crash_with_groups_in_flight_resumes_exactly_once(tmp_path: Path, pending: str) -> None:
    run = new_run(tmp_path, None, resume=True, max_in_flight=WIDE, block_size=10_000)
    run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
    run.journal.add_stage(EXP, 2, "code", hashlib.sha256(b"code").digest(), {})
    run.journal.add_stage(EXP, 3, "data:train", hashlib.sha256(b"data").digest(), {})
    run.log([(seq, 1.0 / (seq + 1), False) for seq in range(PUBLIC_1)])
    run.log([(seq, float(seq), True) for seq in PRIVATE_A])
    run.log([(seq, -float(seq), False) for seq in PUBLIC_2])
    run.log([(seq, seq / 7, True) for seq in PRIVATE_B])
    run.journal.update_experiment(EXP, final_digest=FINAL_DIGEST)
    run.writer = Writer(run.journal, KilledWhileWaiting(run.chain, run.owner), EXP,
                        run.writer.record_log, max_in_flight=WIDE)

    with pytest.raises(ProcessKilled):
        run.writer.settle(final=True, seal=True)

    assert len(run.chain.pool) == WIDE  # 3 stages and 5 batches in flight, none confirmed
    if pending == "some landed, some dropped":
        stage_1, batch_3 = run.chain.pool[1], run.chain.pool[6]
        run.chain.evict |= {stage_1.txids[stage_1.app_call], batch_3.txids[batch_3.app_call]}
        run.chain.tick()  # stage 0 and batches 0-2 land; stages 1-2 and batches 3-4 do not
        state = run.chain.experiments[EXP]
        assert (len(state.stages), len(state.anchors)) == (1, 3)
    run.crash_and_restart()
    run.settle(final=True, seal=True)

    assert_exactly_once(run.chain, run.journal)


def test_a_contract_refusal_behind_groups_in_flight_starts_the_pass_over(tmp_path: Path) -> None:
    # A node that refuses stage 2 once although stage 1 is pending before it (as after a pool
    # reshuffle): the writer settles stages 0-1, reads the header again and sends 2-4 after.
    class Reshuffled(FakeRegistry):
        refused = False

        def send(self, group: SignedGroup) -> None:
            if describe(group) == Write("record_stage", 2, False) and not self.refused:
                self.refused = True
                raise ContractError("the registry rejected the call: future stage index",
                                    code="future stage index")
            super().send(group)

    run = new_run(tmp_path, None, resume=False, max_in_flight=WIDE, block_size=10_000)
    run.settle(final=True)
    five_stages(run)
    run.writer = Writer(run.journal, Reshuffled(run.chain, run.owner), EXP,
                        run.writer.record_log, max_in_flight=WIDE)

    run.settle(final=True)

    assert not run.errors
    assert [w for _, w in landed_writes(run)] == [
        [], [("stage", 0), ("stage", 1)], [("stage", 2), ("stage", 3), ("stage", 4)]]
    assert all(s.status == CONFIRMED for s in run.journal.stages(EXP))


def test_batched_upto_follows_the_journaled_batches_and_survives_a_restart(tmp_path: Path) -> None:
    # log_metric's back-pressure counts unsent records as seq - batched_upto: it must move with
    # every batch the writer journals, and a new writer over the same journal must start there.
    run = new_run(tmp_path, None, resume=False, max_in_flight=4)
    run.log([(seq, 1.0 / (seq + 1), False) for seq in range(3000)])
    assert run.writer.batched_upto == 0
    run.settle(final=True)
    assert run.writer.batched_upto == 3000
    run.crash_and_restart()
    assert run.writer.batched_upto == 3000


@pytest.mark.parametrize(("plan", "max_in_flight", "block_size"), [
    (FaultPlan(Fault.LANDS_LATE, "note anchor"), 1, 1),
    (FaultPlan(Fault.DROPPED_FROM_POOL, "stage 1"), WIDE, 4),  # pipelined
], ids=["sequential", "pipelined"])
def test_background_writer_rides_out_a_fault_and_drains(
        tmp_path: Path, plan: FaultPlan, max_in_flight: int, block_size: int) -> None:
    run = new_run(tmp_path, plan, resume=False, max_in_flight=max_in_flight,
                  block_size=block_size)
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

    assert plan.hit and seen and all(isinstance(e, NetworkError) for e in seen)
    if max_in_flight == 1:
        assert len(seen) == 1  # sequential: the one fault fails exactly one settle
    assert_exactly_once(run.chain, run.journal)


@pytest.mark.parametrize("window", ["open", "passed"])
def test_a_write_with_an_unknown_outcome_is_sent_again_as_the_same_bytes_while_it_can_land(
    tmp_path: Path, window: str
) -> None:
    run = new_run(tmp_path, FaultPlan(Fault.LANDS_LATE, "stage"), resume=False)
    run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
    with pytest.raises(NetworkError):
        run.writer.settle(final=True)  # the stage's group is held up on the way
    (first,) = run.journal.stages(EXP)
    assert first.status == "submitted" and first.signed is not None
    if window == "passed":  # it never arrives, and it can no longer land: a new group is signed
        run.chain.late.clear()
        run.chain.round = SignedGroup.from_bytes(first.signed).last_valid

    run.writer.settle(final=True)

    (stage,) = run.journal.stages(EXP)
    assert stage.status == CONFIRMED
    assert (stage.txid == first.txid) is (window == "open")
    assert stage.txid in run.chain.landed_txids()
    assert len(run.chain.experiments[EXP].stages) == 1


def test_a_signed_group_survives_the_journal_byte_for_byte(tmp_path: Path) -> None:
    registry = FakeRegistry(FakeChain(), Owner.new())
    records = [NoteRecord(i, RecordKind.METRIC, "loss", i, float(i)) for i in range(300)]
    packed = notes.pack_notes(EXP, 0, records)
    group = registry.prepare_anchor(EXP, 0, packed.root, packed.count, list(packed.notes),
                                    packed.leases())

    again = SignedGroup.from_bytes(group.to_bytes())

    assert again.txids == group.txids and again.app_call == group.app_call
    assert (again.first_valid, again.last_valid) == (group.first_valid, group.last_valid)
    assert [s.dictify() for s in again.signed] == [s.dictify() for s in group.signed]


def test_an_app_without_seal_after_gets_its_seal_only_once_everything_is_confirmed(
    tmp_path: Path,
) -> None:
    run = new_run(tmp_path, None, resume=False, max_in_flight=WIDE, block_size=10_000)
    run.old_app = True
    run.writer = run._new_writer()

    trace(run)

    assert_exactly_once(run.chain, run.journal)
    blocks = landed_writes(run)
    assert [w for _, w in blocks][-2:] == [
        [("stage", 2), ("batch", 2), ("batch", 3), ("batch", 4)], []]  # the seal: a block later
    assert run.journal.experiment(EXP).seal_round == blocks[-1][0]


@pytest.mark.parametrize("resume", [False, True], ids=["retry", "crash+resume"])
def test_a_seal_sent_behind_a_stage_that_is_dropped_does_not_land_without_it(
    tmp_path: Path, resume: bool
) -> None:
    plan = FaultPlan(Fault.DROPPED_FROM_POOL, "stage 2")  # the last stage; the seal behind it
    run = new_run(tmp_path, plan, resume=resume, max_in_flight=WIDE, block_size=10_000)

    trace(run)

    assert plan.hit
    assert any("stage count differs" in r for r in run.chain.refusals)  # the block refused it
    assert_exactly_once(run.chain, run.journal)  # then both landed, the seal last
    state = run.chain.experiments[EXP]
    assert state.sealed_round >= state.stages[2].round


def test_a_seal_requested_while_a_pass_waits_goes_out_behind_its_groups_in_flight(
    tmp_path: Path,
) -> None:
    # finish() on the training thread while the writer thread waits for the window: the wait
    # is cut short, the rest is batched and the seal sent at once, in the same block.
    class FinishedMeanwhile(FakeRegistry):
        writer: Writer | None = None

        def wait_unless(self, group: SignedGroup,
                        interrupt: threading.Event) -> Confirmed | None:
            if self.writer is not None and not interrupt.is_set():
                self.writer.request_seal()  # what Experiment.finish() does
            return super().wait_unless(group, interrupt)

    run = new_run(tmp_path, None, resume=False, max_in_flight=WIDE, block_size=10_000)
    run.settle(final=True)  # the create
    registry = FinishedMeanwhile(run.chain, run.owner)
    run.writer = Writer(run.journal, registry, EXP, run.writer.record_log, max_in_flight=WIDE,
                        final_digest=lambda: FINAL_DIGEST)
    registry.writer = run.writer
    five_stages(run)
    run.log([(seq, float(seq), False) for seq in range(100)])

    run.writer.settle(flush=False, final=False)  # a background pass: no seal asked for yet

    row = run.journal.experiment(EXP)
    assert row.status == "sealed" and row.final_digest == FINAL_DIGEST
    blocks = landed_writes(run)
    assert [w for _, w in blocks][-1] == [("stage", i) for i in range(5)] + [("batch", 0)]
    assert row.seal_round == blocks[-1][0]


def test_a_seal_the_chain_does_not_confirm_in_time_is_left_journaled_and_settled_later(
    tmp_path: Path,
) -> None:
    from algo_tracer import SealTimeoutError

    class Down(FakeRegistry):  # the node stopped answering
        def send(self, group: SignedGroup) -> None:
            raise NetworkError("cannot reach algod: (injected) connection refused")

    run = new_run(tmp_path, None, resume=False)
    run.settle(final=True)  # the create
    run.journal.add_stage(EXP, 1, "environment", hashlib.sha256(b"env").digest(), {})
    run.log([(seq, float(seq), False) for seq in range(300)])
    run.journal.update_experiment(EXP, final_digest=FINAL_DIGEST)
    down = Writer(run.journal, Down(run.chain, run.owner), EXP, run.writer.record_log)
    background = BackgroundWriter(down, flush_interval=0.05)

    with pytest.raises(SealTimeoutError):
        background.seal(timeout=0.5)
    background.close(raising=False)

    assert run.journal.experiment(EXP).status != "sealed" and not run.chain.pool
    run.writer = Writer(run.journal, FakeRegistry(run.chain, run.owner), EXP,
                        run.writer.record_log)
    run.writer.settle(flush=True, final=True, seal=True)  # `algo-tracer resume`, node back
    state = run.chain.experiments[EXP]
    assert state.sealed and len(state.stages) == 1
    assert sum(a.count for a in state.anchors) == 300
