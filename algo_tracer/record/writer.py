"""Moves journaled writes to the chain, in order, exactly once.

`settle()` is the whole protocol and is also what `resume` runs after a crash:

1. the experiment's create, then every stage, every batch of high-volume records and the seal,
   each in journal order;
2. before sending a write whose earlier submission has an unknown outcome, ask the chain whether
   its index landed (`header().stage_count > idx` and so on) and mark it confirmed if so;
3. sign (transaction ids go to the journal first), send, wait for confirmation, record the round.

Nothing can land twice: stages and anchors carry the expected index, so a second landing fails
in the contract; a note group is atomic with its anchor, and its payments carry leases.

The writer sees the registry only through `WriterRegistry` (algo_tracer.record.registry_protocol),
which `algo_tracer.network.registry.Registry` satisfies; tests/test_writer_exactly_once.py runs
this protocol offline against an in-memory registry that injects faults.

`BackgroundWriter` runs `settle` on a thread so that a training loop only writes to the journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from algosdk.transaction import PaymentTxn

from algo_tracer.errors import AlgoTracerError, ContractError, JournalError, NetworkError
from algo_tracer.format import notes
from algo_tracer.format.merkle import merkle_root
from algo_tracer.format.records import NoteRecord, derive_salt, encode_leaf
from algo_tracer.network.registry import Confirmed, SignedGroup
from algo_tracer.record.journal import CONFIRMED, SUBMITTED, BatchRow, Journal
from algo_tracer.record.pending_log import RecordLog
from algo_tracer.record.registry_protocol import WriterRegistry

#: Records anchored per private batch (one app call): 0.1 µA per record at 1,000 µA a call.
PRIVATE_BATCH = 10_000


@dataclass
class WriterStats:
    groups: int = 0
    transactions: int = 0
    fees: int = 0
    deposits: int = 0


class Writer:
    """Settles one experiment's journal against the chain."""

    def __init__(self, journal: Journal, registry: WriterRegistry, experiment_id: bytes,
                 record_log: RecordLog | None = None) -> None:
        self.journal = journal
        self.registry = registry
        self.id = experiment_id
        self.record_log = record_log or RecordLog(journal, experiment_id)
        self.stats = WriterStats()

    def settle(self, *, flush: bool = True, final: bool = True, seal: bool = False) -> None:
        """Send what is pending.

        flush=False lets a partly filled note group wait for more records; final=False lets
        private records wait until PRIVATE_BATCH of them can share one anchor.
        """
        self.record_log.ingest()
        self._create()
        self._stages()
        self._batches(flush=flush, final=final)
        if seal:
            self._seal()

    # -- steps ---------------------------------------------------------------------------------

    def _create(self) -> None:
        row = self.journal.experiment(self.id)
        if row.status != "creating":
            return
        header = self.registry.header(self.id)
        if header is None:
            group = self.registry.prepare_create(self.id, row.metadata_digest)
            self.journal.update_experiment(self.id, create_txid=group.txids[group.app_call])
            done = self._send_unless_landed(group, "experiment exists")
            if done is not None:
                self.journal.update_experiment(self.id, status="open", create_round=done.round)
                return
            header = self.registry.header(self.id)
        if header is None or (header.owner, header.metadata_digest) != (row.owner,
                                                                          row.metadata_digest):
            raise JournalError(
                f"experiment id {self.id.hex()} is registered on chain by someone else",
                fix="start the experiment again: a new id is drawn for every run")
        self.journal.update_experiment(self.id, status="open", create_round=header.created_round)

    def _stages(self) -> None:
        todo = [s for s in self.journal.stages(self.id) if s.status != CONFIRMED]
        if not todo:
            return
        header = self.registry.header(self.id) if any(s.status == SUBMITTED for s in todo) else None
        for stage in todo:
            if header is not None and header.stage_count > stage.idx:
                self._confirm_landed_stage(stage.idx, stage.kind, stage.digest)
                continue
            group = self.registry.prepare_stage(self.id, stage.idx, stage.kind, stage.digest)
            self.journal.set_stage(self.id, stage.idx, status=SUBMITTED,
                                   txid=group.txids[group.app_call])
            done = self._send_unless_landed(group, "stale stage index")
            if done is None:
                self._confirm_landed_stage(stage.idx, stage.kind, stage.digest)
                continue
            self.journal.set_stage(self.id, stage.idx, status=CONFIRMED, round=done.round)

    def _confirm_landed_stage(self, idx: int, kind: int, digest: bytes) -> None:
        (landed,) = self.registry.stages(self.id, idx + 1)[idx:]
        if (landed.kind, landed.digest) != (kind, digest):
            raise JournalError(
                f"stage {idx} on chain (kind {landed.kind}, digest {landed.digest.hex()}) differs "
                "from the journal's: two processes wrote to the same experiment",
                fix="trace each experiment from one process; the chain's record stands")
        self.journal.set_stage(self.id, idx, status=CONFIRMED, round=landed.round)

    def _batches(self, *, flush: bool, final: bool) -> None:
        batches = self.journal.batches(self.id)
        for batch in batches:
            if batch.status != CONFIRMED:
                self._resend_batch(batch)
        next_idx = len(batches)
        while True:
            pending = self.journal.unbatched_records(self.id, PRIVATE_BATCH)
            if not pending:
                return
            private = pending[0][1]
            same = next((i for i, (_, p) in enumerate(pending) if p != private), len(pending))
            run = [rec for rec, _ in pending[:same]]  # the leading run of one path
            packed: notes.PackedNotes | None = None
            if private:
                if len(run) < PRIVATE_BATCH and not final:
                    return
                root, count = self._private_root(run), len(run)
            else:
                packed = notes.pack_notes(self.id, next_idx, run)
                if not flush and packed.count == len(run) and not _group_full(packed):
                    return  # a partly filled group waits for more records
                root, count = packed.root, packed.count
            idx = self.journal.add_batch(self.id, private=private, first_seq=run[0].seq,
                                         count=count, root=root, first_round=0, last_round=0)
            if idx != next_idx:
                raise JournalError(f"batch {idx} was packed as anchor {next_idx}",
                                   fix="this is a bug in algo-tracer; please report it")
            self._send_batch(idx, root, count, packed)
            next_idx += 1

    def _resend_batch(self, batch: BatchRow) -> None:
        """A batch journaled earlier: settle it from the chain, or rebuild its group and send."""
        if batch.status == SUBMITTED:
            header = self.registry.header(self.id)
            if header is not None and header.anchor_count > batch.idx:
                self.journal.set_batch(self.id, batch.idx, status=CONFIRMED)
                return
        packed = None
        if not batch.private:
            records = [r for r, _ in self.journal.records(self.id, batch.first_seq, batch.count)]
            packed = notes.pack_notes(self.id, batch.idx, records)
            if (packed.count, packed.root) != (batch.count, batch.root):
                raise JournalError(f"batch {batch.idx} repacks to {packed.count} records with "
                                   "another root than the journal's",
                                   fix="this is a bug in algo-tracer; please report it")
        self._send_batch(batch.idx, batch.root, batch.count, packed)

    def _private_root(self, records: list[NoteRecord]) -> bytes:
        salt_key = self.journal.experiment(self.id).salt_key
        return merkle_root([encode_leaf(r, salt=derive_salt(salt_key, r.seq)) for r in records])

    def _send_batch(self, idx: int, root: bytes, count: int,
                    packed: notes.PackedNotes | None) -> None:
        """Anchor batch `idx`: with its notes in the same group (note path) or alone (private)."""
        notes_, leases = (list(packed.notes), list(packed.leases())) if packed else ([], [])
        group = self.registry.prepare_anchor(self.id, idx, root, count, notes_, leases)
        self.journal.set_batch(self.id, idx, status=SUBMITTED, txids=group.txids,
                               first_round=group.first_valid, last_round=group.last_valid)
        done = self._send_unless_landed(group, "stale anchor index")
        self.journal.set_batch(self.id, idx, status=CONFIRMED,
                               round=done.round if done is not None else None)

    def _seal(self) -> None:
        row = self.journal.experiment(self.id)
        if row.status == "sealed":
            return
        if row.final_digest is None:
            raise JournalError("the seal has no final digest yet",
                               fix="this is a bug in algo-tracer; please report it")
        header = self.registry.header(self.id)
        if header is not None and header.sealed:
            self.journal.update_experiment(self.id, status="sealed", seal_round=header.sealed_round)
            return
        group = self.registry.prepare_seal(self.id, row.final_digest)
        self.journal.update_experiment(self.id, status="sealing",
                                       seal_txid=group.txids[group.app_call])
        done = self._send_unless_landed(group, "experiment sealed")
        if done is not None:
            seal_round: int | None = done.round
        else:
            header = self.registry.header(self.id)
            seal_round = header.sealed_round if header else None
        self.journal.update_experiment(self.id, status="sealed", seal_round=seal_round)

    def outstanding(self) -> bool:
        """Anything journaled or logged that is not confirmed on chain yet."""
        return self.record_log.pending() or self.journal.outstanding(self.id) > 0

    def _send_unless_landed(self, group: SignedGroup, landed: str) -> Confirmed | None:
        """Send `group`; None when the contract answers `landed`: an earlier send of the same
        write (a retry after an unknown outcome) is already on chain, so there is nothing to do
        but settle the journal from the chain."""
        try:
            return self._send(group)
        except ContractError as exc:
            if exc.code != landed:
                raise
            return None

    def _send(self, group: SignedGroup) -> Confirmed:
        done = self.registry.submit(group)
        self.stats.groups += 1
        self.stats.transactions += len(group.signed)
        self.stats.fees += sum(s.transaction.fee for s in group.signed)
        self.stats.deposits += sum(
            s.transaction.amt for s in group.signed
            if isinstance(s.transaction, PaymentTxn)
            and s.transaction.receiver == self.registry.app_address)
        return done


def _group_full(packed: notes.PackedNotes) -> bool:
    return len(packed.notes) >= notes.MAX_NOTES_PER_GROUP


class BackgroundWriter:
    """Runs `Writer.settle` on a thread; the training loop only writes to the journal.

    Errors that a retry can cure (network) are retried with backoff; any other error stops the
    thread and is raised to the caller at the next `drain()` or `close()`.
    """

    def __init__(self, writer: Writer, *, flush_interval: float = 5.0,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.writer = writer
        self.flush_interval = flush_interval
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = False
        self._draining = False
        self._error: BaseException | None = None
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="algo-tracer-writer", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def drain(self, timeout: float | None = None) -> None:
        """Wait until everything journaled so far is on chain (note groups flushed)."""
        self._raise()
        self._draining = True
        self.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._idle.wait(0.05):
            self._raise()
            if not self._thread.is_alive():
                break
            if deadline is not None and time.monotonic() > deadline:
                raise NetworkError(f"the chain did not take the pending writes within {timeout} s",
                                   fix="they stay in the journal: run `algo-tracer resume` later")
        self._raise()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        backoff = 0.5
        last = time.monotonic()
        while not self._stop:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            final = self._draining
            flush = final or time.monotonic() - last >= self.flush_interval
            try:
                self.writer.settle(flush=flush, final=final)
            except (NetworkError, OSError) as exc:
                if self._on_error:
                    self._on_error(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._wake.set()
                continue
            except (AlgoTracerError, Exception) as exc:
                self._error = exc
                self._idle.set()
                return
            backoff = 0.5
            if flush:
                last = time.monotonic()
            if final:
                if not self.writer.outstanding():
                    self._draining = False
                    self._idle.set()
                else:
                    self._wake.set()  # keep draining until nothing is outstanding
