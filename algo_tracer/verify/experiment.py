"""Verify a traced experiment against the chain, and gate a rerun on drift.

    >>> from algo_tracer.network.settings import algorand_from_environment
    >>> from algo_tracer.verify.experiment import verify_experiment
    >>> algorand, *_ = algorand_from_environment()
    >>> report = verify_experiment(algorand, app_id, "GRZK4RZv...", manifest="manifest.json",
    ...                            artifacts_dir="outputs/")                   # doctest: +SKIP
    >>> report.ok, [(s.label, s.status) for s in report.stages]               # doctest: +SKIP

`verify_experiment` reads the header and stage boxes from algod, every event of the experiment
from the Indexer's application logs, and every note transaction carrying the experiment's note
prefix, after waiting until the Indexer has caught up with the round the boxes were read at (so
a lagging Indexer is reported as a network error, never as a missing record). The checks are
the numbered steps of docs/verification.md (see `algo_tracer.verify.checks`).

`check_reproducible` compares data, code and environment with a manifest *before* retraining
and raises `ReproducibilityError` with a readable diff (algo_tracer.verify.drift) when they drifted.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from algokit_utils import AlgorandClient
from algosdk.error import AlgodHTTPError

from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot
from algo_tracer.documents.manifest import Manifest, StageEntry, StageKind
from algo_tracer.errors import ConfigError, InputError, NetworkError, ReproducibilityError
from algo_tracer.format import chain, notes
from algo_tracer.format.boxes import decode_header, decode_page, read_box
from algo_tracer.format.events import BatchAnchored, decode_event
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.network.indexer import (
    iter_application_logs,
    iter_transactions,
    wait_for_round,
)
from algo_tracer.progress import Progress, track
from algo_tracer.verify.checks import ChainTxn, Evidence, run_checks
from algo_tracer.verify.drift import Drift, diff_code, diff_digests, diff_environments, format_drift
from algo_tracer.verify.local_copies import local_digest
from algo_tracer.verify.report import CheckRow, VerificationReport

__all__ = ["check_reproducible", "gather_evidence", "verify_experiment"]

NETWORK_TRUST = ("that algod and the Indexer report the chain faithfully (export a proof bundle "
                 "to check every transaction against its block header)")


def verify_experiment(
    algorand: AlgorandClient,
    app_id: int,
    experiment_id: bytes | str,
    *,
    manifest: Manifest | str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    data: Mapping[str, Any] | None = None,
    indexer_timeout: float = 60,
    progress: Progress | None = None,
) -> VerificationReport:
    """Check one experiment of registry `app_id`; see docs/verification.md for the steps.

    Args:
        algorand: A client with algod and an Indexer (no signing account is needed).
        app_id: The ExperimentRegistry app.
        experiment_id: The 32-byte id, or its base58 / hex text.
        manifest: The run's manifest (or its path): enables the seal, private-record and
            per-stage manifest checks.
        artifacts_dir: Where to find the traced files (matched by base name) to re-hash them.
        data: Objects to re-hash for stages that cannot be read from disk, by stage name
            (``{"train": df}``).
        indexer_timeout: Seconds to wait for the Indexer to catch up.
        progress: Shows long Indexer scans and re-hashing (`algo_tracer.progress.Progress`;
            None is silent).

    Returns:
        The report; `report.ok` is False when anything failed (`raise_for_failure()` raises).

    Raises:
        InputError: a malformed id, or a manifest of another experiment.
        NetworkError: algod or the Indexer unreachable, or the Indexer does not catch up.
    """
    started = time.monotonic()
    eid = experiment_id if isinstance(experiment_id, bytes) else parse_id(experiment_id)
    manifest = _load_manifest(manifest, eid)
    ev = gather_evidence(algorand, app_id, eid, indexer_timeout=indexer_timeout,
                         progress=progress)
    indexer_round = ev.data_round
    report = VerificationReport(experiment_id=format_id(eid), app_id=app_id,
                                genesis_id=ev.genesis_id, source="network",
                                data_round=indexer_round)
    if ev.header is not None:
        # (0) Sources: the Indexer has every round up to the one the boxes were read at.
        report.checks.append(CheckRow(
            step=0, name="sources", status="pass",
            detail=f"boxes read at round {indexer_round}, the Indexer has reached it; "
                   f"{len(ev.app_txns)} registry calls, {len(ev.note_txns)} note transactions"))
    run_checks(ev, report, manifest=manifest,
               artifacts_dir=Path(artifacts_dir) if artifacts_dir is not None else None,
               data=data, progress=progress)
    report.not_checked.append(NETWORK_TRUST)
    report.elapsed_seconds = round(time.monotonic() - started, 3)
    return report.finalize()


def gather_evidence(algorand: AlgorandClient, app_id: int, experiment_id: bytes, *,
                    indexer_timeout: float = 60,
                    progress: Progress | None = None) -> Evidence:
    """Read boxes (algod) and the experiment's transactions (Indexer) as of one round.

    `Evidence.data_round` is the round the boxes were read at (None when the experiment does
    not exist); the Indexer has been waited for until it reached that round.
    """
    algod = algorand.client.algod
    versions = cast(dict[str, Any], _algod(algod.versions, "report its version"))
    genesis = {"genesis_id": versions["genesis_id"], "genesis_hash": versions["genesis_hash_b64"]}
    key = chain.header_key(experiment_id)
    box = read_box(algod, app_id, key)
    if box is None:
        _algod(lambda: _app_exists(algod, app_id), "look the application up")
        return Evidence(experiment_id, app_id, None, **genesis)
    header, at_round = decode_header(box[0]), box[1]
    boxes = {key: box[0]}
    stages = []
    for page in range((header.stage_count + chain.PAGE_CAPACITY - 1) // chain.PAGE_CAPACITY):
        key = chain.page_key(experiment_id, page)
        value = read_box(algod, app_id, key)
        boxes[key] = value[0] if value else b""
        stages.extend(decode_page(page, boxes[key]))
    stages = stages[:header.stage_count]

    indexer = _indexer(algorand)
    wait_for_round(indexer, at_round, algod=algod, timeout=indexer_timeout, on_behind=None
                   if progress is None else lambda r: progress.say(
                       f"the Indexer is at round {r}; waiting up to {indexer_timeout:.0f}s for "
                       f"round {at_round}"))
    rounds = {"min_round": header.created_round, "max_round": at_round}

    event_logs: dict[str, tuple[bytes, ...]] = {}
    with track(progress, "Indexer: registry events", unit="txns") as count:
        for entry in iter_application_logs(indexer, app_id, **rounds):
            count()
            logs = tuple(base64.b64decode(x) for x in entry.get("logs") or [])
            if any(decode_event(x) is not None and x[4:36] == experiment_id for x in logs):
                event_logs[entry["txid"]] = logs
    app_txns = []
    with track(progress, "Indexer: registry calls", unit="txns") as count:
        for t in iter_transactions(indexer, application_id=app_id, **rounds):
            count()
            if t["id"] in event_logs:
                app_txns.append(_chain_txn(t, logs=event_logs[t["id"]]))
    for txid in event_logs.keys() - {t.txid for t in app_txns}:  # e.g. an inner transaction
        app_txns += [_chain_txn(t, logs=event_logs[txid])
                     for t in iter_transactions(indexer, txid=txid)]

    prefix = notes.experiment_note_prefix(experiment_id)
    note_txns = []
    with track(progress, "Indexer: note transactions", unit="txns") as count:
        for t in iter_transactions(indexer, note_prefix=prefix, max_round=at_round):
            count()
            note_txns.append(_chain_txn(t))
    owner_groups = {t.group for t in note_txns if t.sender == header.owner}
    groups: dict[bytes, list[ChainTxn]] = {}
    for txn in app_txns:
        anchors = [e for e in map(decode_event, txn.logs) if isinstance(e, BatchAnchored)]
        if anchors and txn.group and txn.group not in owner_groups:
            groups[txn.group] = [_chain_txn(t) for t in iter_transactions(
                indexer, group_id=txn.group, min_round=txn.round, max_round=txn.round)]
    return Evidence(experiment_id, app_id, header, stages, app_txns, note_txns, groups,
                    boxes=boxes, data_round=at_round, **genesis)


def check_reproducible(
    manifest: Manifest | str | os.PathLike[str],
    *,
    data: Mapping[str, Any] | None = None,
    code: str | os.PathLike[str] | None = None,
    environment: bool | str | os.PathLike[str] | None = None,
) -> list[Drift]:
    """Raise `ReproducibilityError` before retraining if data, code or environment drifted.

    Args:
        manifest: The recorded run's manifest (or its path).
        data: Name -> DataFrame / array / path, compared with the manifest's `data:<name>`
            stages. Column order and re-saving an identical file do not count as drift.
        code: A path inside the code to compare with the code stage (git commit + changes).
        environment: True (current directory) or a project directory: packages, Python and
            lock files compared with the environment stage.

    Returns:
        The warnings (informational drift such as another CPU), when nothing fatal drifted.

    Raises:
        ReproducibilityError: listing what changed (which file, column, package and version).
        InputError: a stage asked for is not in the manifest.
    """
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(Path(manifest))
    drifts: list[Drift] = []
    for name, value in (data or {}).items():
        entry = next((s for s in m.stages if s.label in (f"data:{name}", name)), None)
        if entry is None:
            known = ", ".join(s.label for s in m.stages if s.kind == StageKind.DATA) or "none"
            drifts.append(Drift(component="data", item=name, message=f"{name}: not in the "
                                f"recorded run (its data stages: {known})"))
            continue
        local = local_digest(entry, artifacts_dir=None, data={name: value})
        if local.error or local.digest is None:
            drifts.append(Drift(component="data", item=name, recorded=f"sha256:{entry.digest}",
                                message=f"{name}: {local.error or 'cannot be hashed'}"))
            continue
        drifts += diff_digests("data", name, f"sha256:{entry.digest}", f"sha256:{local.digest}",
                               detail=local.notes)
    if code is not None:
        entry = _single(m, StageKind.CODE)
        recorded = CodeSnapshot.model_validate(entry.detail)
        drifts += _detail_digest(entry, recorded.digest().hex)
        drifts += diff_code(recorded, path=code)
    if environment:
        entry = _single(m, StageKind.ENVIRONMENT)
        recorded_env = EnvironmentSnapshot.model_validate(entry.detail)
        drifts += _detail_digest(entry, recorded_env.digest().hex)
        project = None if environment is True else environment
        drifts += diff_environments(recorded_env, project_dir=project)
    if any(d.severity == "error" for d in drifts):
        raise ReproducibilityError(
            f"this run would not reproduce experiment {m.experiment_id} ({m.name}):\n"
            + format_drift(drifts),
            fix="restore the recorded data, code and packages (or trace a new experiment)")
    return drifts


def _single(m: Manifest, kind: StageKind) -> StageEntry:
    entry = next((s for s in m.stages if s.kind == kind), None)
    if entry is None:
        raise InputError(f"the manifest of {m.experiment_id} has no {kind.name.lower()} stage",
                         fix=f"trace it with exp.trace_{kind.name.lower()}() in the run")
    return entry


def _detail_digest(entry: StageEntry, computed: str) -> list[Drift]:
    if computed == entry.digest:
        return []
    return [Drift(component=entry.kind.name.lower(), item="manifest", recorded=entry.digest,
                  current=computed, message=f"the manifest's {entry.label} snapshot does not "
                  "hash to its recorded digest (the manifest was edited)")]


def _load_manifest(manifest: Manifest | str | os.PathLike[str] | None,
                   eid: bytes) -> Manifest | None:
    if manifest is None:
        return None
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(Path(manifest))
    if parse_id(m.experiment_id) != eid:
        raise InputError(f"the manifest is for experiment {m.experiment_id}, not "
                         f"{format_id(eid)}", fix="give the manifest of this experiment")
    return m


def _chain_txn(t: dict[str, Any], *, logs: tuple[bytes, ...] = ()) -> ChainTxn:
    group, note = t.get("group"), t.get("note")
    return ChainTxn(txid=t["id"], round=int(t["confirmed-round"]),
                    intra=int(t.get("intra-round-offset", 0)), sender=t["sender"],
                    group=base64.b64decode(group) if group else None,
                    time=t.get("round-time"), note=base64.b64decode(note) if note else None,
                    logs=logs, app_id=(t.get("application-transaction") or {}).get(
                        "application-id"))


def _indexer(algorand: AlgorandClient) -> Any:
    try:
        return algorand.client.indexer
    except Exception as exc:  # algokit-utils raises a bare ValueError without an indexer
        raise ConfigError("no Indexer is configured, and verification needs one",
                          fix="set INDEXER_SERVER, INDEXER_PORT and INDEXER_TOKEN") from exc


def _algod[T](call: Callable[[], T], what: str) -> T:
    try:
        return call()
    except (AlgodHTTPError, OSError, TimeoutError) as exc:
        raise NetworkError(f"algod could not {what}: {exc}",
                           fix="check ALGOD_SERVER/ALGOD_PORT/ALGOD_TOKEN (LocalNet: "
                           "`algo-tracer localnet status`)") from exc


def _app_exists(algod: Any, app_id: int) -> None:
    try:
        algod.application_info(app_id)
    except AlgodHTTPError as exc:
        if exc.code == 404:
            raise ConfigError(f"application {app_id} does not exist on this network",
                              fix="check --app-id / ALGO_TRACER_APP_ID and ALGOD_SERVER") from exc
        raise


