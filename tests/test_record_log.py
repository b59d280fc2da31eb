"""The log_metric hot path: appended lines reach the journal exactly once, even after a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from algo_tracer.format.records import RecordKind
from algo_tracer.record.journal import ExperimentRow, Journal
from algo_tracer.record.pending_log import RecordLog

EXP = bytes(range(32))


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.sqlite")
    j.add_experiment(ExperimentRow(EXP, "x", 1, "g", "dockernet-v1", "owner", {}, bytes(32),
                                   bytes(32), str(tmp_path), "open", None, None, None, None,
                                   None))
    return j


def _seqs(journal: Journal) -> list[int]:
    return [r.seq for r, _ in journal.records(EXP)]


def test_appended_records_reach_the_journal_in_one_ingest(journal: Journal) -> None:
    log = RecordLog(journal, EXP)
    for seq in range(100):
        log.append(seq, RecordKind.METRIC, "loss", seq, 1.0 / (seq + 1), seq % 2 == 0)

    assert log.pending() and _seqs(journal) == []
    assert log.ingest() == 100

    records = journal.records(EXP)
    assert _seqs(journal) == list(range(100)) and not log.pending()
    assert records[3][0].value == 0.25 and records[3][1] is False and records[4][1] is True
    assert list(journal.path.parent.glob("pending-*")) == []  # nothing left behind


def test_log_left_by_a_killed_process_is_replayed_without_doubles(journal: Journal) -> None:
    first = RecordLog(journal, EXP)
    for seq in range(10):
        first.append(seq, RecordKind.METRIC, "loss", seq, float(seq), False)
    first.ingest()
    for seq in range(10, 15):
        first.append(seq, RecordKind.METRIC, "loss", seq, float(seq), False)
    # Killed after a rename but before the rows were committed: the rotated file stays behind,
    # holding rows of which some are already in the journal.
    leftover = first.path.with_name(first.path.name + ".999.1")
    os.replace(first.path, leftover)
    with leftover.open("a") as f:
        f.write('[3,1,"loss",3,3.0,0]\n')

    assert RecordLog(journal, EXP).ingest() == 6

    assert _seqs(journal) == list(range(15))


def test_torn_last_line_was_never_acknowledged_and_is_dropped(journal: Journal) -> None:
    log = RecordLog(journal, EXP)
    log.append(0, RecordKind.METRIC, "loss", 0, 0.5, False)
    with log.path.open("a") as f:
        f.write('[1,1,"loss",1,0.')  # a write cut by a power loss

    assert log.ingest() == 1
    assert _seqs(journal) == [0]


def test_appends_after_an_ingest_go_to_a_fresh_log(journal: Journal) -> None:
    log = RecordLog(journal, EXP)
    log.append(0, RecordKind.METRIC, "a", 0, 1.0, False)
    log.ingest()
    log.append(1, RecordKind.METRIC, "a", 1, 2.0, False)
    log.append(2, RecordKind.TEXT, "note", 0, "done", False)

    assert log.ingest() == 2
    log.close()
    assert _seqs(journal) == [0, 1, 2] and journal.records(EXP)[2][0].value == "done"
