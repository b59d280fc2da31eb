"""Moves journaled writes to the chain, in order, exactly once.

`settle()` is the whole protocol and is also what `resume` runs after a crash:

1. the experiment's create, then every stage, every batch of high-volume records and the seal,
   each in journal order;
2. before sending a write whose earlier submission has an unknown outcome, ask the chain whether
   its index landed (`header().stage_count > idx` and so on) and mark it confirmed if so;
3. sign (the signed group and its transaction ids go to the journal first), send, wait for
   confirmation, record the round. A write submitted before whose validity window is still open
   is not signed again: its journaled bytes are sent again, so whichever copy lands (the first
   may still be in a node's pool) carries the transaction ids the journal names.

Stages and batches are pipelined, sent and confirmed in journal order with up to `max_in_flight`
unconfirmed, so several land in one block: algod admits a group to its pool by evaluating it on
top of the groups pending there, so stage k+1 passes the expected-index check behind stage k.
When a send is refused, nothing more is sent: the groups in flight before it are waited out,
then the refusal is raised (the caller retries; the next pass re-reads the header), or, for a
contract refusal those groups may have caused, the pass starts again from the journal. A failed
confirmation stops the pass; the next one settles the groups in flight from the header. The
create goes alone. The seal goes last, right behind the writes in flight: it names the stage and
anchor counts it closes (`seal_after`), so the contract keeps it from landing before them, and
its v2 manifest digest leaves out where writes land, so it is known before they are confirmed.

Nothing can land twice: stages and anchors carry the expected index, so a second landing fails
in the contract; a note group is atomic with its anchor, and its payments carry leases.

The writer sees the registry only through `WriterRegistry` (registry_protocol), which `Registry`
satisfies; tests/test_writer_exactly_once.py runs this protocol offline against an in-memory
registry that injects faults. `BackgroundWriter` runs `settle` on a thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from algo_tracer.errors import (
    AlgoTracerError,
    AlreadySubmittedError,
    ContractError,
    JournalError,
    NetworkError,
)
from algo_tracer.format import notes
from algo_tracer.format.stage_notes import stage_note_for
from algo_tracer.network.registry import Confirmed, SignedGroup
from algo_tracer.record.batch_packing import PRIVATE_BATCH, new_batches
from algo_tracer.record.journal import CONFIRMED, SUBMITTED, BatchRow, Journal
from algo_tracer.record.pending_log import RecordLog
from algo_tracer.record.registry_protocol import WriterRegistry
from algo_tracer.record.write_stats import WriterStats

__all__ = ["MAX_IN_FLIGHT", "PRIVATE_BATCH", "Writer", "WriterStats"]

#: Groups sent and not yet confirmed, at most. A full note group carries ~1,400 metric records;
#: a group sent after block R is known lands in R+2 at the earliest (R+1 is already being
#: assembled), so 5,000 records/s at ~3 s blocks needs ~20 groups in flight, and a backlog
#: drains faster with more (measured on the realtime LocalNet, docs/benchmarks.md). 64 groups of
#: at most 16 transactions (~1.2 MB) stay far below a block (5 MiB) and algod's pool (75,000
#: transactions), so they never raise the fee, and they bound what a refusal makes us resend.
MAX_IN_FLIGHT = 64


@dataclass(frozen=True)
class _Write:
    """One stage, batch or the seal as the window handles it."""
    key: tuple[str, int]  # ("stage", idx), ("batch", idx) or ("seal", 0)
    sign: Callable[[], SignedGroup]  # prepare_* and journal its txids as SUBMITTED
    landed: str  # the contract's answer when an earlier send of this write already landed
    confirm: Callable[[Confirmed | None], None]  # journal CONFIRMED (None: read the chain)


class _StartOver(Exception):
    """A contract refusal the groups in flight may have caused: with them settled, start over."""


class Writer:
    """Settles one experiment's journal against the chain."""

    def __init__(self, journal: Journal, registry: WriterRegistry, experiment_id: bytes,
                 record_log: RecordLog | None = None, *, max_in_flight: int = MAX_IN_FLIGHT,
                 final_digest: Callable[[], bytes] | None = None) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")  # a bug
        self.journal = journal
        self.registry = registry
        self.id = experiment_id
        self.record_log = record_log or RecordLog(journal, experiment_id)
        self.max_in_flight = max_in_flight
        #: What the seal records, computed from the journal once every record is in a batch
        #: (the manifest's final digest); None: the journal must already hold it.
        self.final_digest = final_digest
        #: Set (from any thread, `request_seal`) when the experiment ends: the pass under way,
        #: or the next one, batches what is left and sends the seal behind it (`_pipeline`).
        self._seal_requested = threading.Event()
        self.stats = WriterStats()
        #: Records 0..batched_upto-1 are in journaled batches: `log_metric`'s back-pressure reads
        #: it (an int, so a read from the training thread needs no lock).
        last = journal.batches(experiment_id)[-1:]
        self.batched_upto = last[0].first_seq + last[0].count if last else 0

    @property
    def seal_requested(self) -> bool:
        return self._seal_requested.is_set()

    def request_seal(self) -> None:
        self._seal_requested.set()

    def settle(self, *, flush: bool = True, final: bool = True, seal: bool = False) -> None:
        """Send what is pending.

        flush=False lets a partly filled note group wait for more records; final=False lets
        private records wait until PRIVATE_BATCH of them can share one anchor.
        """
        if seal:
            self.request_seal()
        self.record_log.ingest()
        self._create()
        for _ in range(3):  # after a start-over the refused write goes first: it cannot recur
            with contextlib.suppress(_StartOver):
                self._pipeline(flush=flush, final=final)
                break
        else:
            raise JournalError("the chain kept refusing writes sent behind others",
                               fix="run `algo-tracer resume`; report it if it persists")

    # -- steps ---------------------------------------------------------------------------------

    def _create(self) -> None:
        row = self.journal.experiment(self.id)
        if row.status != "creating":
            return
        header = self.registry.header(self.id)
        if header is None:
            group = self._still_valid(row.create_signed)
            if group is None:
                group = self.registry.prepare_create(self.id, row.metadata_digest)
                self.journal.update_experiment(self.id, create_txid=group.txids[group.app_call],
                                               create_signed=group.to_bytes())
            done = self._send_unless_landed(group, "experiment exists")
            if done is not None:
                self.journal.update_experiment(self.id, status="open", create_round=done.round)
                return
            header = self.registry.header(self.id)
            if header is None:
                raise _pending_only("the create")
        if header is None or (header.owner, header.metadata_digest) != (row.owner,
                                                                          row.metadata_digest):
            raise JournalError(
                f"experiment id {self.id.hex()} is registered on chain by someone else",
                fix="start the experiment again: a new id is drawn for every run")
        self.journal.update_experiment(self.id, status="open", create_round=header.created_round)

    def _writes(self, *, flush: bool, final: bool,
                sent: set[tuple[str, int]] | None = None) -> Iterator[_Write]:
        """Stages, then batches, not yet confirmed nor in `sent` (the window of this pass)."""
        sent = sent or set()
        yield from self._stages(sent)
        yield from self._batches(flush=flush, final=final, sent=sent)

    def _final_writes(self, sent: set[tuple[str, int]]) -> Iterator[_Write]:
        """Everything left, then the seal: once the last batch is journaled, the final digest
        is known (it leaves out where the writes land, docs/manifest), so the seal is signed
        and goes right behind the writes still in flight."""
        self.record_log.ingest()
        yield from self._writes(flush=True, final=True, sent=sent)
        yield from self._seal_write()

    def _stages(self, sent: set[tuple[str, int]]) -> Iterator[_Write]:
        todo = [s for s in self.journal.stages(self.id)
                if s.status != CONFIRMED and ("stage", s.idx) not in sent]
        if not todo:
            return
        header = self.registry.header(self.id) if any(s.status == SUBMITTED for s in todo) else None
        json_scheme = self.journal.experiment(self.id).json_scheme  # the notes' version byte
        for stage in todo:
            if header is not None and header.stage_count > stage.idx:
                self._confirm_landed_stage(stage.idx, stage.kind, stage.digest)
                continue
            yield self._stage_write(stage.idx, stage.kind, stage.digest,
                                    self._still_valid(stage.signed),
                                    note=stage_note_for(self.id, stage.kind, stage.detail,
                                                        json_scheme))

    def _stage_write(self, idx: int, kind: int, digest: bytes,
                     sent: SignedGroup | None = None, note: bytes | None = None) -> _Write:
        def sign() -> SignedGroup:
            if sent is not None:
                return sent
            group = self.registry.prepare_stage(self.id, idx, kind, digest, note)
            self.journal.set_stage(self.id, idx, status=SUBMITTED,
                                   txid=group.txids[group.app_call], signed=group.to_bytes())
            return group

        def confirm(done: Confirmed | None) -> None:
            if done is None:
                self._confirm_landed_stage(idx, kind, digest)
            else:
                self.journal.set_stage(self.id, idx, status=CONFIRMED, round=done.round)

        return _Write(("stage", idx), sign, "stale stage index", confirm)

    def _confirm_landed_stage(self, idx: int, kind: int, digest: bytes) -> None:
        found = self.registry.stages(self.id, idx + 1)[idx:]
        if not found:
            raise _pending_only(f"stage {idx}")
        (landed,) = found
        if (landed.kind, landed.digest) != (kind, digest):
            raise JournalError(
                f"stage {idx} on chain (kind {landed.kind}, digest {landed.digest.hex()}) differs "
                "from the journal's: two processes wrote to the same experiment",
                fix="trace each experiment from one process; the chain's record stands")
        self.journal.set_stage(self.id, idx, status=CONFIRMED, round=landed.round)

    def _batches(self, *, flush: bool, final: bool,
                 sent: set[tuple[str, int]]) -> Iterator[_Write]:
        batches = self.journal.batches(self.id)
        header = (self.registry.header(self.id)
                  if any(b.status == SUBMITTED and ("batch", b.idx) not in sent
                         for b in batches) else None)
        for batch in batches:
            if batch.status == CONFIRMED or ("batch", batch.idx) in sent:
                continue
            if batch.status == SUBMITTED and header is not None and header.anchor_count > batch.idx:
                self.journal.set_batch(self.id, batch.idx, status=CONFIRMED)
                continue
            yield self._resend_batch(batch)
        for new in new_batches(self.journal, self.id, first_idx=len(batches), flush=flush,
                               final=final):
            self.batched_upto = new.first_seq + new.count
            yield self._batch_write(new.idx, new.root, new.count, new.packed)

    def _resend_batch(self, batch: BatchRow) -> _Write:
        """A batch journaled earlier and not on chain (`_batches` asked): rebuild its group."""
        packed = None
        if not batch.private:
            records = [r for r, _ in self.journal.records(self.id, batch.first_seq, batch.count)]
            packed = notes.pack_notes(self.id, batch.idx, records)
            if (packed.count, packed.root) != (batch.count, batch.root):
                raise JournalError(f"batch {batch.idx} repacks to {packed.count} records with "
                                   "another root than the journal's",
                                   fix="this is a bug in algo-tracer; please report it")
        return self._batch_write(batch.idx, batch.root, batch.count, packed,
                                 self._still_valid(batch.signed))

    def _still_valid(self, signed: bytes | None) -> SignedGroup | None:
        """A journaled group that may still land (its last valid round is ahead), else None:
        sent again as is, the transaction ids in the journal stay those of whichever copy lands;
        once its window has passed it never lands, and a new group is signed."""
        if signed is None:
            return None
        group = SignedGroup.from_bytes(signed)
        return group if self.registry.last_round() < group.last_valid else None

    def _batch_write(self, idx: int, root: bytes, count: int, packed: notes.PackedNotes | None,
                     sent: SignedGroup | None = None) -> _Write:
        """Anchor batch `idx`: with its notes in the same group (note path) or alone (private)."""
        notes_, leases = (list(packed.notes), list(packed.leases())) if packed else ([], [])

        def sign() -> SignedGroup:
            if sent is not None:
                return sent
            group = self.registry.prepare_anchor(self.id, idx, root, count, notes_, leases)
            self.journal.set_batch(self.id, idx, status=SUBMITTED, txids=group.txids,
                                   first_round=group.first_valid, last_round=group.last_valid,
                                   signed=group.to_bytes())
            return group

        def confirm(done: Confirmed | None) -> None:
            if done is None:
                header = self.registry.header(self.id)
                if header is None or header.anchor_count <= idx:
                    raise _pending_only(f"batch {idx}")
            self.journal.set_batch(self.id, idx, status=CONFIRMED,
                                   round=done.round if done is not None else None)

        return _Write(("batch", idx), sign, "stale anchor index", confirm)

    def _seal_write(self) -> Iterator[_Write]:
        row = self.journal.experiment(self.id)
        if row.status == "sealed":
            return
        header = self.registry.header(self.id)
        if header is not None and header.sealed:
            self.journal.update_experiment(self.id, status="sealed", seal_round=header.sealed_round)
            return
        final_digest = row.final_digest
        if final_digest is None:
            if self.final_digest is None:
                raise JournalError("the seal has no final digest yet",
                                   fix="this is a bug in algo-tracer; please report it")
            final_digest = self.final_digest()
            self.journal.update_experiment(self.id, final_digest=final_digest)
        sent = self._still_valid(row.seal_signed) if row.status == "sealing" else None
        # Every stage and batch is journaled by now (`_final_writes`): these are the counts.
        stage_count, anchor_count = len(self.journal.stages(self.id)), len(
            self.journal.batches(self.id))

        def sign() -> SignedGroup:
            if sent is not None:
                return sent
            group = self.registry.prepare_seal(self.id, final_digest, stage_count=stage_count,
                                               anchor_count=anchor_count)
            self.journal.update_experiment(self.id, status="sealing",
                                           seal_txid=group.txids[group.app_call],
                                           seal_signed=group.to_bytes())
            return group

        def confirm(done: Confirmed | None) -> None:
            if done is not None:
                seal_round = done.round
            else:
                header = self.registry.header(self.id)
                if header is None or not header.sealed:
                    raise _pending_only("the seal")
                seal_round = header.sealed_round
            self.journal.update_experiment(self.id, status="sealed", seal_round=seal_round)

        yield _Write(("seal", 0), sign, "experiment sealed", confirm)

    def outstanding(self) -> bool:
        """Anything journaled or logged that is not confirmed on chain yet (the seal too, once
        it is requested)."""
        return (self.record_log.pending() or self.journal.outstanding(self.id) > 0
                or (self.seal_requested and self.journal.experiment(self.id).status != "sealed"))

    def _pipeline(self, *, flush: bool, final: bool) -> None:
        """Send the writes in journal order with up to `max_in_flight` unconfirmed; confirm in
        order. A seal requested while the window is being confirmed joins this pass at once;
        `seal_after` goes behind the groups in flight like any write (module docstring)."""
        window: deque[tuple[_Write, SignedGroup]] = deque()
        sent: set[tuple[str, int]] = set()
        sealing = False
        writes = self._writes(flush=flush, final=final)
        while True:
            for write in writes:
                if len(window) >= self.max_in_flight:
                    self._confirm(*window.popleft())
                group = write.sign()
                try:
                    if write.key[0] == "seal" and not self.registry.seals_after_counts:
                        # A plain `seal` (an app deployed before `seal_after`) checks no
                        # counts: it could land before, or without, a write in flight.
                        while window:
                            self._confirm(*window.popleft())
                    self.registry.send(group)
                except AlreadySubmittedError:
                    pass  # these bytes were sent before and are pending or landed: wait for them
                except AlgoTracerError as exc:
                    behind = bool(window)
                    while window:  # the earlier groups first: a failure of theirs is the cause
                        self._confirm(*window.popleft())
                    if isinstance(exc, ContractError) and exc.code == write.landed:
                        write.confirm(None)  # an earlier send of this write (unknown outcome)
                        continue
                    if behind and isinstance(exc, ContractError):
                        raise _StartOver from exc
                    raise
                window.append((write, group))
                sent.add(write.key)
            if self.seal_requested and not sealing:
                sealing = True
                writes = self._final_writes(sent)
                continue
            if not window:
                return
            if sealing:
                self._confirm(*window.popleft())
                continue
            write, group = window[0]  # a seal requested meanwhile cuts this wait short
            done = self.registry.wait_unless(group, self._seal_requested)
            if done is not None:
                window.popleft()
                self._record(write, group, done)

    def _confirm(self, write: _Write, group: SignedGroup) -> None:
        self._record(write, group, self.registry.wait(group))

    def _record(self, write: _Write, group: SignedGroup, done: Confirmed) -> None:
        self.stats.count(group, done, stage=write.key[0] == "stage",
                         app_address=self.registry.app_address)
        write.confirm(done)

    def _send_unless_landed(self, group: SignedGroup, landed: str) -> Confirmed | None:
        """Send `group` alone and wait; None when the contract answers `landed`: an earlier send
        of the same write (a retry after an unknown outcome) landed; settle from the chain."""
        try:
            self.registry.send(group)
        except AlreadySubmittedError:
            pass  # these bytes were sent before and are pending or landed: wait for them
        except ContractError as exc:
            if exc.code != landed:
                raise
            return None
        done = self.registry.wait(group)
        self.stats.count(group, done, app_address=self.registry.app_address)
        return done

def _pending_only(write: str) -> NetworkError:
    """The contract called `write` a repeat, yet no block holds it: the earlier send is in the
    node's pool, which may still drop it, so nothing is confirmed before the chain shows it."""
    return NetworkError(f"{write} is pending on the node, not in a block yet",
                        fix="nothing to do: the writer retries; or run `algo-tracer resume`")
