"""Packs an experiment's unbatched records into batches: note groups and private Merkle batches.

Records go into batches in sequence order, each batch holding one leading run of one path:
public records as the notes of one anchor group (`notes.pack_notes`, at most
`notes.MAX_NOTES_PER_GROUP` notes), private records as one salted Merkle root of at most
`PRIVATE_BATCH` of them. Each batch is journaled (`Journal.add_batch`) before it is handed on, so
its index, records and root are fixed before anything is signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from algo_tracer.errors import JournalError
from algo_tracer.format import notes
from algo_tracer.format.merkle import merkle_root
from algo_tracer.format.records import NoteRecord, derive_salt, encode_leaf
from algo_tracer.record.journal import Journal

#: Records anchored per private batch (one app call): 0.1 µA per record at 1,000 µA a call.
PRIVATE_BATCH = 10_000


@dataclass(frozen=True)
class NewBatch:
    idx: int
    first_seq: int
    count: int
    root: bytes
    packed: notes.PackedNotes | None  # the notes of a public batch; None for a private one


def new_batches(journal: Journal, experiment_id: bytes, *, first_idx: int, flush: bool,
                final: bool) -> Iterator[NewBatch]:
    """Journal and yield the next batches, from anchor index `first_idx` on.

    flush=False lets a partly filled note group wait for more records; final=False lets
    private records wait until PRIVATE_BATCH of them can share one anchor.
    """
    next_idx = first_idx
    # Records are read from the journal once per pass, PRIVATE_BATCH at a time, and groups
    # are packed from that buffer: re-reading (and re-decoding) the pending records for every
    # group cost more than signing and sending it.
    pending: list[tuple[NoteRecord, bool]] = []
    more = True
    while True:
        if more and len(pending) < PRIVATE_BATCH:
            fresh = (journal.records(experiment_id, pending[-1][0].seq + 1, PRIVATE_BATCH)
                     if pending else journal.unbatched_records(experiment_id, PRIVATE_BATCH))
            more = len(fresh) == PRIVATE_BATCH
            pending += fresh
        if not pending:
            return
        private = pending[0][1]
        same = next((i for i, (_, p) in enumerate(pending) if p != private), len(pending))
        run = [rec for rec, _ in pending[:min(same, PRIVATE_BATCH)]]  # leading run of one path
        packed: notes.PackedNotes | None = None
        if private:
            if len(run) < PRIVATE_BATCH and not final:
                return
            salt_key = journal.experiment(experiment_id).salt_key
            root, count = merkle_root([encode_leaf(r, salt=derive_salt(salt_key, r.seq))
                                       for r in run]), len(run)
        else:
            packed = notes.pack_notes(experiment_id, next_idx, run)
            full = len(packed.notes) >= notes.MAX_NOTES_PER_GROUP
            if not flush and packed.count == len(run) and not full:
                return  # a partly filled group waits for more records
            root, count = packed.root, packed.count
        idx = journal.add_batch(experiment_id, private=private, first_seq=run[0].seq,
                                count=count, root=root, first_round=0, last_round=0)
        if idx != next_idx:
            raise JournalError(f"batch {idx} was packed as anchor {next_idx}",
                               fix="this is a bug in algo-tracer; please report it")
        yield NewBatch(idx, run[0].seq, count, root, packed)
        pending = pending[count:]
        next_idx += 1
