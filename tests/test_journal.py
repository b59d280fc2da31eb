"""The journal file: its schema version, and journals written by earlier versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from algo_tracer.errors import JournalError
from algo_tracer.record.journal import CONFIRMED, SCHEMA_VERSION, SUBMITTED, Journal

EXP = bytes(range(32))

# The tables as version 1 (algo-tracer before the signed groups were kept) created them.
_V1 = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '1');
CREATE TABLE experiments (id BLOB PRIMARY KEY, name TEXT NOT NULL, app_id INTEGER NOT NULL,
    genesis_hash TEXT NOT NULL, genesis_id TEXT NOT NULL, owner TEXT NOT NULL,
    metadata TEXT NOT NULL, metadata_digest BLOB NOT NULL, salt_key BLOB NOT NULL,
    output_dir TEXT NOT NULL, status TEXT NOT NULL, create_txid TEXT, create_round INTEGER,
    final_digest BLOB, seal_txid TEXT, seal_round INTEGER, created_at REAL NOT NULL);
CREATE TABLE stages (experiment_id BLOB NOT NULL, idx INTEGER NOT NULL, kind INTEGER NOT NULL,
    label TEXT NOT NULL, digest BLOB NOT NULL, detail TEXT NOT NULL, status TEXT NOT NULL,
    txid TEXT, round INTEGER, PRIMARY KEY (experiment_id, idx));
CREATE TABLE records (experiment_id BLOB NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    name TEXT NOT NULL, step INTEGER NOT NULL, value TEXT NOT NULL, private INTEGER NOT NULL,
    batch INTEGER, PRIMARY KEY (experiment_id, seq));
CREATE TABLE batches (experiment_id BLOB NOT NULL, idx INTEGER NOT NULL,
    private INTEGER NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL,
    root BLOB NOT NULL, first_round INTEGER NOT NULL, last_round INTEGER NOT NULL,
    status TEXT NOT NULL, txids TEXT, round INTEGER, PRIMARY KEY (experiment_id, idx));
"""


def _v1_journal(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(_V1)
    db.execute("INSERT INTO experiments VALUES (?,'x',1,'g','dockernet-v1','owner','{}',?,?,"
               "'.','open','TX',5,NULL,NULL,NULL,0)", (EXP, bytes(32), bytes(32)))
    db.execute("INSERT INTO stages VALUES (?,0,1,'environment',?,'{}','submitted','T0',NULL)",
               (EXP, bytes(32)))
    db.execute("INSERT INTO batches VALUES (?,0,1,0,3,?,10,20,'confirmed','[\"A\"]',12)",
               (EXP, bytes(32)))
    db.commit()
    db.close()


def test_a_journal_of_the_previous_version_is_upgraded_in_place_and_keeps_its_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    _v1_journal(path)

    journal = Journal(path)

    row = journal.experiment(EXP)
    assert (row.status, row.create_txid, row.create_round) == ("open", "TX", 5)
    assert (row.create_signed, row.seal_signed) == (None, None)
    assert row.json_scheme == 1  # recorded before RFC 8785: its JSON values stay canonical JSON
    (stage,) = journal.stages(EXP)
    assert (stage.status, stage.txid, stage.signed) == (SUBMITTED, "T0", None)
    (batch,) = journal.batches(EXP)
    assert (batch.status, batch.txids, batch.round, batch.signed) == (CONFIRMED, ["A"], 12, None)
    journal.set_stage(EXP, 0, status=SUBMITTED, txid="T1", signed=b"group")
    assert journal.stages(EXP)[0].signed == b"group"
    journal.close()
    (version,) = sqlite3.connect(path).execute("SELECT v FROM meta WHERE k='schema'").fetchone()
    assert int(version) == SCHEMA_VERSION


def test_a_journal_of_a_newer_version_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET v=? WHERE k='schema'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()

    with pytest.raises(JournalError) as err:
        Journal(path)

    assert f"schema version {SCHEMA_VERSION + 1}" in err.value.message
    assert "ALGO_TRACER_DIR" in (err.value.fix or "")


def test_record_values_come_back_from_the_journal_exactly(tmp_path: Path) -> None:
    import math

    from algo_tracer.format.records import RecordKind
    from algo_tracer.record.journal import ExperimentRow

    journal = Journal(tmp_path / "journal.sqlite")
    journal.add_experiment(ExperimentRow(EXP, "x", 1, "g", "dockernet-v1", "owner", {},
                                         bytes(32), bytes(32), ".", "open", None, None, None,
                                         None, None))
    values: list[float | str] = [1e-05, 0.1 + 0.2, 1e300, -0.0, math.inf, -math.inf, math.nan,
                                 "12.5", '"quoted"', ""]
    journal.add_records(EXP, [[i, int(RecordKind.TEXT if isinstance(v, str) else
                                      RecordKind.METRIC), "m", i, v, False]
                              for i, v in enumerate(values)])

    back = [r.value for r, _ in journal.records(EXP)]

    assert [type(v) for v in back] == [type(v) for v in values]
    assert [repr(v) for v in back] == [repr(v) for v in values]  # -0.0 and nan included


def test_experiments_filtered_by_a_metadata_value_are_exactly_those_that_carry_it(
    tmp_path: Path,
) -> None:
    from algo_tracer.record.journal import ExperimentRow

    journal = Journal(tmp_path / "journal.sqlite")
    metadata: list[dict[str, object]] = [{"study": "S1"}, {"study": "S2"}, {}, {"study": "S1"},
                                         {"other": "S1"}, {"study": 1}]
    for i, meta in enumerate(metadata):
        journal.add_experiment(ExperimentRow(bytes([i]) * 32, f"e{i}", 1, "g", "dockernet-v1",
                                             "owner", meta, bytes(32), bytes(32), ".", "open",
                                             None, None, None, None, None))

    found = journal.experiments(metadata=("study", "S1"))

    assert [row.name for row in found] == ["e0", "e3"]  # in creation order
    assert journal.experiments(metadata=("study", "S3")) == []


@pytest.mark.parametrize(("scheme", "fmt"), [(1, "algo-tracer-manifest/v2"),
                                             (2, "algo-tracer-manifest/v3")])
def test_the_journal_keeps_each_experiments_json_scheme_and_its_manifest_format_follows(
        tmp_path: Path, scheme: int, fmt: str) -> None:
    from algo_tracer.record.journal import ExperimentRow
    from algo_tracer.record.manifest_builder import build_manifest

    journal = Journal(tmp_path / "journal.sqlite")
    journal.add_experiment(ExperimentRow(EXP, "x", 1, "g", "dockernet-v1", "A" * 58, {},
                                         bytes(32), bytes(32), ".", "open", None, None, None,
                                         None, None, json_scheme=scheme))

    assert journal.experiment(EXP).json_scheme == scheme
    manifest = build_manifest(journal, EXP)
    assert (manifest.format, manifest.json_scheme) == (fmt, scheme)
