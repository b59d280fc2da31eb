"""The checks of docs/verification.md, steps 1-8, over evidence already fetched (internal).

`run_checks` is pure: it sees the chain only through an `Evidence` value, which
`algo_tracer.verify.evidence` builds from algod and the Indexer and `algo_tracer.verify.bundle`
from the proven transactions of a bundle. The two sources are therefore judged by exactly the
same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algosdk import encoding

from algo_tracer.documents.manifest import (
    MANIFEST_FORMAT_V1,
    Manifest,
    StageKind,
    metadata_digest,
)
from algo_tracer.errors import InputError
from algo_tracer.format import chain
from algo_tracer.format.events import (
    BatchAnchored,
    ExperimentCreated,
    StageRecorded,
    decode_event,
)
from algo_tracer.format.records import NoteRecord
from algo_tracer.hashing import JSON_SCHEME_V1
from algo_tracer.progress import Progress
from algo_tracer.verify.batch_checks import check_batches
from algo_tracer.verify.check_run import CheckRun, Evidence, when
from algo_tracer.verify.local_copies import local_digest
from algo_tracer.verify.report import (
    StageRow,
    StageStatus,
    VerificationReport,
)


def run_checks(ev: Evidence, report: VerificationReport, *, manifest: Manifest | None,
               artifacts_dir: Path | None, data: Mapping[str, Any] | None,
               progress: Progress | None = None,
               records: list[NoteRecord] | None = None) -> None:
    """Append the checks, stage rows, batch rows and findings of steps 1-8 to `report`; the
    records the chain proves are appended to `records`, when given."""
    run = CheckRun(ev, report, manifest, records=records)
    if not _step1_header(run):
        return
    _step2_replay(run)
    _step3_stages(run)
    check_batches(run)
    _step7_seal(run)
    _step8_stage_rows(run, artifacts_dir, data, progress)
    c = report.counts
    c.stages, c.events, c.anchors = len(ev.stages), len(run.events), len(run.anchors)
    c.note_transactions = len(ev.note_txns)


def _step1_header(run: CheckRun) -> bool:
    # (1) The header box exists; the owner and identity agree with the manifest.
    h, m = run.ev.header, run.manifest
    if h is None:
        run.check(1, "header", [f"no experiment {run.report.experiment_id} in app "
                                f"{run.ev.app_id} (check the app id and the network)"], "")
        if m is not None:
            for s in m.stages:
                run.report.stages.append(StageRow(
                    index=None, label=s.label, kind=s.kind.name.lower(),
                    status=StageStatus.MISSING_ON_CHAIN, manifest_digest=s.digest,
                    message="the experiment is not on chain"))
        return False
    r = run.report
    r.owner, r.sealed, r.head = h.owner, h.sealed, h.head.hex()
    problems = []
    if m is not None:
        pairs = [("owner", m.owner, h.owner), ("app id", m.app_id, run.ev.app_id),
                 ("metadata digest", m.metadata_digest, h.metadata_digest.hex())]
        if run.ev.genesis_hash is not None:
            pairs.append(("genesis hash", m.genesis_hash, run.ev.genesis_hash))
        problems = [f"manifest {what} {a} differs from the chain's {b}"
                    for what, a, b in pairs if a != b]
        problems += _metadata_problems(m)
    run.check(1, "header", problems,
              f"owner {h.owner}, created in round {h.created_round}, "
              f"{'sealed' if h.sealed else 'open'}, {h.stage_count} stages, "
              f"{h.anchor_count} anchors, {h.anchored_records} anchored records")
    return True


def _metadata_problems(m: Manifest) -> list[str]:
    """The manifest's name and metadata against its metadata digest, hashed by the JSON scheme
    its format names (docs/onchain-format.md §0): an edited name or metadata fails step 1."""
    try:
        digest = metadata_digest(m.name, m.metadata, m.json_scheme).hex()
    except InputError as exc:
        return [f"the manifest's metadata cannot be hashed: {exc.message}"]
    if digest == m.metadata_digest:
        return []
    return [f"the manifest's name and metadata hash to {digest[:16]}… under JSON scheme "
            f"v{m.json_scheme} ({m.format}), not to its metadata digest "
            f"{m.metadata_digest[:16]}…: they were edited"]


def _step2_replay(run: CheckRun) -> None:
    # (2) Replay every event in chain order with the chain folds; compare with the box head.
    h = run.ev.header
    assert h is not None
    eid = run.ev.experiment_id
    for txn in sorted(run.ev.app_txns, key=lambda t: (t.round, t.intra)):
        for log in txn.logs:
            event = decode_event(log)
            if event is not None and event.experiment_id == eid:
                run.events.append((txn, event))
    problems: list[str] = []
    head = chain.genesis_head(eid, encoding.decode_address(h.owner), h.metadata_digest)
    stages = anchors = records = 0
    head_broken = False
    if not run.events or not isinstance(run.events[0][1], ExperimentCreated):
        problems.append("the first event is not ExperimentCreated")
    for position, (txn, event) in enumerate(run.events):
        where = f"{event.name} in {txn.txid} (round {txn.round})"
        if txn.sender != h.owner:
            problems.append(f"{where} was sent by {txn.sender}, not the owner")
            run.find(2, "error", "event_sender", f"{where} was sent by a non-owner", txn)
        if event.round != txn.round:
            problems.append(f"{where} claims round {event.round}")
        if run.sealed is not None:
            problems.append(f"{where} comes after the seal")
        try:
            if isinstance(event, ExperimentCreated):
                if position:
                    problems.append(f"{where}: a second ExperimentCreated")
                if (event.owner, event.metadata_digest, event.round, event.timestamp) != (
                        h.owner, h.metadata_digest, h.created_round, h.created_timestamp):
                    problems.append(f"{where} disagrees with the header box")
            elif isinstance(event, StageRecorded):
                if event.index != stages:
                    problems.append(f"{where}: stage index {event.index}, expected {stages}")
                head = chain.fold_stage(head, event.index, event.kind, event.digest, event.round)
                run.stage_events[event.index] = (txn, event)
                stages += 1
            elif isinstance(event, BatchAnchored):
                if event.index != anchors:
                    problems.append(f"{where}: anchor index {event.index}, expected {anchors}")
                head = chain.fold_anchor(head, event.index, event.merkle_root,
                                         event.record_count, event.first_round, event.last_round)
                run.anchors.append((txn, event))
                anchors += 1
                records += event.record_count
            else:
                head = chain.fold_seal(head, event.final_digest, event.round)
                if (event.stage_count, event.anchor_count, event.anchored_records) != (
                        stages, anchors, records):
                    problems.append(f"{where} counts {event.stage_count} stages, "
                                    f"{event.anchor_count} anchors, {event.anchored_records} "
                                    f"records; the events hold {stages}, {anchors}, {records}")
                run.sealed = (txn, event)
        except InputError as exc:
            problems.append(f"{where}: {exc.message}")
        if event.head != head and not head_broken:
            head_broken = True
            problems.append(f"{where}: the event's head {event.head.hex()[:16]}… is not the "
                            f"replayed head {head.hex()[:16]}…")
    if head != h.head:
        problems.append(f"the replayed head {head.hex()[:16]}… is not the header box's "
                        f"{h.head.hex()[:16]}… (events missing or altered)")
    for what, got, want in (("stages", stages, h.stage_count),
                            ("anchors", anchors, h.anchor_count),
                            ("anchored records", records, h.anchored_records)):
        if got != want:
            problems.append(f"the events hold {got} {what}, the header box {want}")
    sealed = run.sealed[1] if run.sealed else None
    if h.sealed != (sealed is not None) or (sealed is not None and (
            sealed.final_digest, sealed.round) != (h.final_digest, h.sealed_round)):
        problems.append("the seal event disagrees with the header box")
    r = run.report
    if run.events and isinstance(run.events[0][1], ExperimentCreated):
        first = run.events[0][0]
        r.created_round, r.created_time, r.created_txid = first.round, when(first), first.txid
    if run.sealed is not None:
        last = run.sealed[0]
        r.sealed_round, r.sealed_time, r.sealed_txid = last.round, when(last), last.txid
    run.check(2, "event replay", problems,
              f"{len(run.events)} events from the owner replay to the head {h.head.hex()[:16]}…")


def _step3_stages(run: CheckRun) -> None:
    # (3) The stage page boxes hold exactly the StageRecorded events.
    problems = []
    box = {s.index: s for s in run.ev.stages}
    for i in sorted(box.keys() | run.stage_events.keys()):
        s, pair = box.get(i), run.stage_events.get(i)
        if s is None or pair is None:
            problems.append(f"stage {i} is {'missing from the boxes' if s is None else 'a box '
                            'record without a StageRecorded event'}")
        elif (s.kind, s.digest, s.round) != (pair[1].kind, pair[1].digest, pair[1].round):
            problems.append(f"stage {i}: box record differs from its event")
    run.check(3, "stage boxes", problems, f"{len(box)} box records equal their events")

def _step7_seal(run: CheckRun) -> None:
    # (7) The sealed final digest is the manifest's own digest.
    h, m = run.ev.header, run.manifest
    assert h is not None
    if m is None:
        run.skip(7, "seal", "give the manifest to check the sealed final digest"
                 if h.sealed else "not sealed")
        return
    if not h.sealed:
        run.find(7, "warning", "not_sealed", "the experiment is not sealed, so the manifest "
                 "as a whole is not bound to the chain (run `algo-tracer resume`)")
        run.skip(7, "seal", "not sealed")
        return
    problems = []
    if m.final_digest() != h.final_digest:
        problems.append(f"the manifest digests to {m.final_digest().hex()[:16]}…, the chain "
                        f"sealed {h.final_digest.hex()[:16]}… (the manifest was edited)")
    if m.seal is not None and m.seal.final_digest != h.final_digest.hex():
        problems.append("the manifest's seal section names another final digest")
    if m.format != MANIFEST_FORMAT_V1:  # v2 seals what was written, not where it landed
        problems += _landing_problems(run, m)
    run.check(7, "seal", problems, f"sealed in round {h.sealed_round} with the manifest's "
              "digest")


def _landing_problems(run: CheckRun, m: Manifest) -> list[str]:
    """A v2 manifest's transaction ids and rounds (LANDING_FIELDS) against the chain's: its
    final digest leaves them out, so each is compared here instead."""
    said: list[tuple[str, object, object]] = []
    created = next((t for t, e in run.events if isinstance(e, ExperimentCreated)), None)
    if created is not None:
        said += [("create transaction", m.create_txid, created.txid),
                 ("create round", m.create_round, created.round)]
    for stage in m.stages:
        txn, event = run.stage_events.get(stage.index, (None, None))
        if txn is not None and event is not None:
            said += [(f"stage {stage.index} transaction", stage.txid, txn.txid),
                     (f"stage {stage.index} round", stage.round, event.round)]
    anchors = {e.index: (t, e) for t, e in run.anchors}
    for batch in m.batches:
        if batch.index in anchors:
            txn, anchor = anchors[batch.index]
            said += [(f"batch {batch.index} round", batch.round, txn.round),
                     (f"batch {batch.index} validity window", (batch.first_round,
                      batch.last_round), (anchor.first_round, anchor.last_round))]
    if run.sealed is not None and m.seal is not None:
        said += [("seal transaction", m.seal.txid, run.sealed[0].txid),
                 ("seal round", m.seal.round, run.sealed[1].round)]
    # None: not known when the manifest was written (e.g. a round a crash never saw); the
    # chain's value stands and is what the report shows.
    return [f"the manifest's {what} is {given}, the chain's is {actual}"
            for what, given, actual in said if given is not None and given != actual]


def _step8_stage_rows(run: CheckRun, artifacts_dir: Path | None,
                      data: Mapping[str, Any] | None, progress: Progress | None) -> None:
    # (8) Per stage: on-chain digest vs manifest digest vs local copy.
    m = run.manifest
    entries = {s.index: s for s in m.stages} if m else {}
    json_scheme = m.json_scheme if m is not None else JSON_SCHEME_V1
    for s in run.ev.stages:
        txn = run.stage_events.get(s.index, (None, None))[0]
        kind = StageKind(s.kind).name.lower() if s.kind in StageKind._value2member_map_ \
            else f"kind {s.kind}"
        chain_hex = s.digest.hex()
        row = StageRow(index=s.index, label=kind, kind=kind, status=StageStatus.RECORDED,
                       chain_digest=chain_hex, recorder=txn.sender if txn else None,
                       round=s.round, time=when(txn), txid=txn.txid if txn else None,
                       message="on chain")
        entry = entries.pop(s.index, None)
        if m is not None and entry is None:
            row.status, row.message = StageStatus.MISSING_LOCALLY, "not in the manifest"
        elif entry is not None:
            row.label, row.manifest_digest = entry.label, entry.digest
            local = local_digest(entry, artifacts_dir=artifacts_dir, data=data,
                                 progress=progress, json_scheme=json_scheme)
            row.local_digest, row.local_source = local.digest, local.source
            extra = "; ".join(local.notes)
            if entry.kind != s.kind or entry.digest != chain_hex:
                row.status = StageStatus.MISMATCH
                row.message = (f"manifest says {entry.kind.name.lower()} {entry.digest[:16]}…, "
                               f"chain has {kind} {chain_hex[:16]}…")
            elif local.error:
                row.status, row.message = StageStatus.MISMATCH, local.error
            elif local.digest is not None:
                same = local.digest == chain_hex
                row.status = StageStatus.MATCH if same else StageStatus.MISMATCH
                row.message = (f"{local.source} re-hashes to the on-chain digest" if same else
                               f"{local.source} hashes to {local.digest[:16]}…, chain has "
                               f"{chain_hex[:16]}…" + (f" ({extra})" if extra else ""))
            else:
                row.message = "on chain and in the manifest" + (f"; {extra}" if extra else "")
        run.report.stages.append(row)
    for entry in entries.values():
        never_sent = entry.txid is None
        run.report.stages.append(StageRow(
            index=None, label=entry.label, kind=entry.kind.name.lower(),
            status=StageStatus.NOT_ANCHORED if never_sent else StageStatus.MISSING_ON_CHAIN,
            manifest_digest=entry.digest, txid=entry.txid,
            message="never sent: run `algo-tracer resume`" if never_sent else
            f"the manifest's stage {entry.index} is not on chain"))
    failing = [f"{r.label}: {r.status.value}" for r in run.report.stages
               if r.status not in (StageStatus.MATCH, StageStatus.RECORDED)]
    matched = sum(r.status == StageStatus.MATCH for r in run.report.stages)
    run.check(8, "stages", failing, f"{len(run.report.stages)} stages, {matched} re-hashed "
              "locally and equal")
