"""Steps 4-6 of docs/verification.md: every anchored batch against its notes, its manifest
entry or its private records, and no stray note of the experiment (internal)."""

from __future__ import annotations

import bisect

from algo_tracer.documents.manifest import BatchEntry, Manifest, PrivateRecord
from algo_tracer.errors import InputError, VerificationError
from algo_tracer.format.events import BatchAnchored
from algo_tracer.format.merkle import merkle_root, verify_inclusion
from algo_tracer.format.notes import DecodedNote, decode_note, group_records
from algo_tracer.format.records import NoteRecord, RecordKind, encode_leaf
from algo_tracer.verify.check_run import ChainTxn, CheckRun, when
from algo_tracer.verify.report import BatchRow

__all__ = ["check_batches"]


def check_batches(run: CheckRun) -> None:
    # (4) Note batches: decode the group's notes, rebuild leaves and the root, seq contiguous.
    # (5) Notes with the experiment's prefix outside an anchored group, or from another sender.
    # (6) Private batches: the manifest's salted records prove inclusion in the anchored root.
    h, m, eid = run.ev.header, run.manifest, run.ev.experiment_id
    assert h is not None
    owner_notes: dict[bytes, list[ChainTxn]] = {}
    for n in run.ev.note_txns:
        if n.sender == h.owner and n.group is not None:
            owner_notes.setdefault(n.group, []).append(n)
    used: set[str] = set()
    note_problems: list[str] = []
    private_problems: list[str] = []
    manifest_batches = {b.index: b for b in m.batches} if m else {}
    private = sorted(m.private_records, key=lambda r: r.seq) if m else []
    private_seqs = [r.seq for r in private]
    seq = 0
    for txn, event in run.anchors:
        notes = owner_notes.get(txn.group, []) if txn.group else []
        mb = manifest_batches.get(event.index)
        row = BatchRow(index=event.index, record_count=event.record_count, first_seq=seq,
                       root=event.merkle_root.hex(), private=None, status="verified",
                       recorder=txn.sender, round=txn.round, time=when(txn), txid=txn.txid)
        problems = _manifest_batch(mb, m, event, txn, seq, private=not notes)
        if not event.first_round <= txn.round <= event.last_round:
            problems.append(f"anchor {event.index} landed in round {txn.round}, outside its "
                            f"window {event.first_round}..{event.last_round}")
        if notes:
            used.update(n.txid for n in notes)
            row.private = False
            found, records = _note_batch(eid, notes, event, seq)
            problems += found
            if not problems:
                run.report.counts.note_records += event.record_count
                if run.records is not None:
                    run.records.extend(records)
            note_problems += problems
        else:
            members = (run.ev.groups or {}).get(txn.group or b"", [])
            strays = [t for t in members if t.txid != txn.txid and t.note]
            if strays:
                problems.append(f"anchor {event.index}: its group carries {len(strays)} notes "
                                "that are not valid notes of this experiment")
            if m is None:
                row.status, row.message = "undisclosed", "no notes in the group: private records"
                run.report.counts.undisclosed_records += event.record_count
            else:
                row.private = True
                lo = bisect.bisect_left(private_seqs, seq)
                hi = bisect.bisect_left(private_seqs, seq + event.record_count)
                problems += _private_batch(run, private[lo:hi], event, seq)
            private_problems += problems
        if problems:
            row.status, row.message = "mismatch", problems[0]
        elif not row.message:
            row.message = f"{event.record_count} records verified"
        run.report.batches.append(row)
        seq += event.record_count
    for index in sorted(manifest_batches.keys() - {e.index for _, e in run.anchors}):
        note_problems.append(f"manifest batch {index} was never anchored on chain")
    run.check(4, "note batches", note_problems,
              f"{run.report.counts.note_records} records in "
              f"{sum(b.private is False for b in run.report.batches)} note batches rebuild "
              "their anchored roots, seq contiguous")
    _step5_stray_notes(run, used)
    if m is None and run.report.counts.undisclosed_records:
        run.skip(6, "private batches", f"{run.report.counts.undisclosed_records} private "
                 "records; give the manifest to check their proofs")
    elif not any(b.private for b in run.report.batches):
        run.check(6, "private batches", private_problems, "no private batches")
    else:
        run.check(6, "private batches", private_problems,
                  f"{run.report.counts.private_records} private records prove inclusion")


def _manifest_batch(mb: BatchEntry | None, m: Manifest | None, event: BatchAnchored,
                    txn: ChainTxn, seq: int, *, private: bool) -> list[str]:
    if m is None:
        return []
    if mb is None:
        return [f"anchor {event.index} is not in the manifest"]
    problems = []
    if mb.private != private:
        problems.append(f"manifest batch {mb.index} is {'private' if mb.private else 'notes'}, "
                        f"the chain's group has {'no ' if private else ''}notes")
    if (mb.root, mb.count, mb.first_seq) != (event.merkle_root.hex(), event.record_count, seq):
        problems.append(f"manifest batch {mb.index} (root {mb.root[:16]}…, {mb.count} records "
                        f"from seq {mb.first_seq}) differs from the anchor")
    if mb.txids and mb.txids[0] != txn.txid:
        problems.append(f"manifest batch {mb.index} names transaction {mb.txids[0]}, the anchor "
                        f"is {txn.txid}")
    return problems


def _note_batch(eid: bytes, notes: list[ChainTxn], event: BatchAnchored,
                seq: int) -> tuple[list[str], tuple[NoteRecord, ...]]:
    # The problems, else none and the records, which the anchored root then proves.
    decoded: list[DecodedNote] = []
    for n in notes:
        try:
            d = decode_note(n.note or b"")
        except InputError as exc:
            return [f"anchor {event.index}: note {n.txid} does not decode: {exc.message}"], ()
        if (d.experiment_id, d.anchor_index) != (eid, event.index):
            return [f"anchor {event.index}: note {n.txid} names anchor {d.anchor_index}"], ()
        decoded.append(d)
    try:
        records = group_records(decoded)
    except VerificationError as exc:
        return [exc.message], ()
    if len(records) != event.record_count:
        return [f"anchor {event.index}: the notes hold {len(records)} records, the anchor "
                f"counts {event.record_count}"], ()
    if records[0].seq != seq:
        return [f"anchor {event.index}: records start at seq {records[0].seq}, "
                f"expected {seq}"], ()
    root = merkle_root([encode_leaf(r) for r in records])
    if root != event.merkle_root:
        return [f"anchor {event.index}: the notes' Merkle root {root.hex()[:16]}… is not the "
                f"anchored {event.merkle_root.hex()[:16]}…"], ()
    return [], records


def _private_batch(run: CheckRun, records: list[PrivateRecord], event: BatchAnchored,
                   seq: int) -> list[str]:
    problems = []
    for r in records:
        try:
            record = NoteRecord(seq=r.seq, kind=RecordKind(r.kind), name=r.name, step=r.step,
                                value=r.value)
            verify_inclusion(encode_leaf(record, salt=bytes.fromhex(r.salt)), r.proof,
                             event.merkle_root, index=r.seq - seq, tree_size=event.record_count)
        except (ValueError, InputError, VerificationError) as exc:
            problems.append(f"private record {r.seq}: {getattr(exc, 'message', exc)}")
            continue
        run.report.counts.private_records += 1
        if run.records is not None:
            run.records.append(record)
    if len(records) < event.record_count:
        run.find(6, "info", "undisclosed", f"anchor {event.index}: the manifest discloses "
                 f"{len(records)} of {event.record_count} private records")
        run.report.counts.undisclosed_records += event.record_count - len(records)
    return problems


def _step5_stray_notes(run: CheckRun, used: set[str]) -> None:
    h = run.ev.header
    assert h is not None
    problems = []
    for n in run.ev.note_txns:
        if n.txid in used:
            continue
        try:
            d = decode_note(n.note or b"")
            claim = (f"claims anchor {d.anchor_index}, seq {d.first_seq}..{d.next_seq - 1}")
        except InputError as exc:
            claim = f"does not decode ({exc.message})"
        if n.sender != h.owner:
            run.report.counts.foreign_notes += 1
            run.find(5, "warning", "foreign_sender", f"note {n.txid} from {n.sender}, not the "
                     f"owner, {claim}; ignored (anyone can post a note with this prefix)", n)
        else:
            run.report.counts.not_anchored_notes += 1
            problems.append(f"note {n.txid} ({claim}) is outside any anchored batch")
            run.find(5, "error", "not_anchored", f"note {n.txid} from the owner {claim} but is "
                     "not in an anchored group: not counted as a record", n)
    run.check(5, "stray notes", problems,
              "no owner note outside an anchored group" + (
                  f"; {run.report.counts.foreign_notes} foreign notes ignored"
                  if run.report.counts.foreign_notes else ""))

