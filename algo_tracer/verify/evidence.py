"""Gather an experiment's evidence from the chain: boxes from algod, transactions from the Indexer.

`gather_evidence` reads the header and stage boxes from algod, every event of the experiment
from the Indexer's application logs, and every note transaction carrying the experiment's note
prefix, after waiting until the Indexer has caught up with the round the boxes were read at (so
a lagging Indexer is reported as a network error, never as a missing record). All requests go
through `algo_tracer.network`; `algo_tracer.verify.checks` then judges the `Evidence`.
"""

from __future__ import annotations

import base64
from typing import Any

from algokit_utils import AlgorandClient

from algo_tracer.format import chain, notes
from algo_tracer.format.boxes import Header, Stage, decode_header, decode_page
from algo_tracer.format.events import BatchAnchored, decode_event
from algo_tracer.network.algod import genesis, read_box, require_registry
from algo_tracer.network.indexer import (
    iter_application_logs,
    iter_transactions,
    wait_for_indexer,
)
from algo_tracer.progress import Progress, track
from algo_tracer.verify.check_run import ChainTxn, Evidence

__all__ = ["chain_txn", "gather_evidence", "read_experiment_boxes"]


def gather_evidence(algorand: AlgorandClient, app_id: int, experiment_id: bytes, *,
                    indexer_timeout: float = 60,
                    progress: Progress | None = None) -> Evidence:
    """Read boxes (algod) and the experiment's transactions (Indexer) as of one round.

    `Evidence.data_round` is the round the boxes were read at (None when the experiment does
    not exist); the Indexer has been waited for until it reached that round.

    Raises:
        ConfigError: the app does not exist or is not an ExperimentRegistry, or no Indexer is
            configured.
        NetworkError: algod or the Indexer fails, or the Indexer does not catch up.
    """
    genesis_id, genesis_hash = genesis(algorand)
    found = read_experiment_boxes(algorand, app_id, experiment_id)
    if found is None:
        # No header box: an unknown experiment (a finding) only in a registry that exists.
        require_registry(algorand, app_id, where=f"{genesis_id} ({genesis_hash})",
                         fix="check --app-id / ALGO_TRACER_APP_ID (the registry's app id is "
                         "printed by `algo-tracer deploy`) and ALGOD_SERVER")
        return Evidence(experiment_id, app_id, None, genesis_id=genesis_id,
                        genesis_hash=genesis_hash)
    header, stages, at_round, boxes = found

    indexer = wait_for_indexer(algorand, at_round, timeout=indexer_timeout, on_behind=None
                               if progress is None else lambda r: progress.say(
                                   f"the Indexer is at round {r}; waiting up to "
                                   f"{indexer_timeout:.0f}s for round {at_round}"))
    rounds = {"min_round": header.created_round, "max_round": at_round}

    event_logs: dict[str, tuple[bytes, ...]] = {}
    with track(progress, "Indexer: registry events", unit="txns") as count:
        for entry in iter_application_logs(indexer, app_id, **rounds):
            count(1)
            logs = tuple(base64.b64decode(x) for x in entry.get("logs") or [])
            if any(decode_event(x) is not None and x[4:36] == experiment_id for x in logs):
                event_logs[entry["txid"]] = logs
    app_txns = []
    with track(progress, "Indexer: registry calls", unit="txns") as count:
        for t in iter_transactions(indexer, application_id=app_id, **rounds):
            count(1)
            if t["id"] in event_logs:
                app_txns.append(chain_txn(t, logs=event_logs[t["id"]]))
    for txid in event_logs.keys() - {t.txid for t in app_txns}:  # e.g. an inner transaction
        app_txns += [chain_txn(t, logs=event_logs[txid])
                     for t in iter_transactions(indexer, txid=txid)]

    prefix = notes.experiment_note_prefix(experiment_id)
    note_txns = []
    with track(progress, "Indexer: note transactions", unit="txns") as count:
        for t in iter_transactions(indexer, note_prefix=prefix, max_round=at_round):
            count(1)
            note_txns.append(chain_txn(t))
    owner_groups = {t.group for t in note_txns if t.sender == header.owner}
    groups: dict[bytes, list[ChainTxn]] = {}
    for txn in app_txns:
        anchors = [e for e in map(decode_event, txn.logs) if isinstance(e, BatchAnchored)]
        if anchors and txn.group and txn.group not in owner_groups:
            groups[txn.group] = [chain_txn(t) for t in iter_transactions(
                indexer, group_id=txn.group, min_round=txn.round, max_round=txn.round)]
    return Evidence(experiment_id, app_id, header, stages, app_txns, note_txns, groups,
                    boxes=boxes, data_round=at_round, genesis_id=genesis_id,
                    genesis_hash=genesis_hash)


def read_experiment_boxes(algorand: AlgorandClient, app_id: int, experiment_id: bytes
                          ) -> tuple[Header, list[Stage], int, dict[bytes, bytes]] | None:
    """(header, stages, round read at, raw boxes) of one experiment from algod; None when it
    has no header box."""
    key = chain.header_key(experiment_id)
    box = read_box(algorand, app_id, key)
    if box is None:
        return None
    header, at_round = decode_header(box[0]), box[1]
    boxes = {key: box[0]}
    stages: list[Stage] = []
    for page in range((header.stage_count + chain.PAGE_CAPACITY - 1) // chain.PAGE_CAPACITY):
        key = chain.page_key(experiment_id, page)
        value = read_box(algorand, app_id, key)
        boxes[key] = value[0] if value else b""
        stages.extend(decode_page(page, boxes[key]))
    return header, stages[:header.stage_count], at_round, boxes


def chain_txn(t: dict[str, Any], *, logs: tuple[bytes, ...] = ()) -> ChainTxn:
    group, note = t.get("group"), t.get("note")
    return ChainTxn(txid=t["id"], round=int(t["confirmed-round"]),
                    intra=int(t.get("intra-round-offset", 0)), sender=t["sender"],
                    group=base64.b64decode(group) if group else None,
                    time=t.get("round-time"), note=base64.b64decode(note) if note else None,
                    logs=logs, app_id=(t.get("application-transaction") or {}).get(
                        "application-id"))
