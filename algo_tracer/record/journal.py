"""The local write-ahead journal: every record is written here before it is sent anywhere.

One SQLite database (WAL mode) per working directory holds, for each experiment, its stages, its
high-volume records, the batches those records were anchored in, and the seal, each with a status
that only moves forward:

    pending  ->  submitted (group signed, its bytes and ids kept)  ->  confirmed (round known)

A write that was submitted but never seen confirmed (crash, network cut) is resolved on resume
from the chain itself: the contract's expected-index check makes a second landing impossible, so
the resolver only has to ask "did index N land?" (see `algo_tracer.record.writer`). The signed
group itself is kept (`signed`) so that a retry within its validity window sends the very same
bytes: whichever copy lands, the transaction ids in the journal are the ones on chain.

WAL with synchronous=NORMAL survives the process being killed at any point (the data is in the OS
page cache before a call returns); it does not promise to survive a power cut. High-volume
records reach the journal through `algo_tracer.record.pending_log`, an append-only file per
experiment that the writer thread ingests in batches, with the same guarantee.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from algo_tracer.errors import JournalError
from algo_tracer.format.records import NoteRecord, RecordKind

SCHEMA_VERSION = 3
#: Each version's changes, applied in order to an older journal when it is opened.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE experiments ADD COLUMN create_signed BLOB",
        "ALTER TABLE experiments ADD COLUMN seal_signed BLOB",
        "ALTER TABLE stages ADD COLUMN signed BLOB",
        "ALTER TABLE batches ADD COLUMN signed BLOB"),
    # The JSON scheme of every JSON value the experiment hashes (hashing.JSON_SCHEMES): the
    # experiments of an older journal were all hashed under v1.
    3: ("ALTER TABLE experiments ADD COLUMN json_scheme INTEGER NOT NULL DEFAULT 1",),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    app_id INTEGER NOT NULL,
    genesis_hash TEXT NOT NULL,
    genesis_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    metadata TEXT NOT NULL,
    metadata_digest BLOB NOT NULL,
    salt_key BLOB NOT NULL,
    output_dir TEXT NOT NULL,
    status TEXT NOT NULL,
    create_txid TEXT, create_round INTEGER,
    final_digest BLOB, seal_txid TEXT, seal_round INTEGER,
    created_at REAL NOT NULL,
    create_signed BLOB, seal_signed BLOB,
    json_scheme INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS stages (
    experiment_id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    label TEXT NOT NULL,
    digest BLOB NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    txid TEXT, round INTEGER,
    signed BLOB,
    PRIMARY KEY (experiment_id, idx)
);
CREATE TABLE IF NOT EXISTS records (
    experiment_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value TEXT NOT NULL,
    private INTEGER NOT NULL,
    batch INTEGER,
    PRIMARY KEY (experiment_id, seq)
);
CREATE TABLE IF NOT EXISTS batches (
    experiment_id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    private INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    root BLOB NOT NULL,
    first_round INTEGER NOT NULL,
    last_round INTEGER NOT NULL,
    status TEXT NOT NULL,
    txids TEXT, round INTEGER,
    signed BLOB,
    PRIMARY KEY (experiment_id, idx)
);
"""

PENDING, SUBMITTED, CONFIRMED = "pending", "submitted", "confirmed"


@dataclass(frozen=True)
class ExperimentRow:
    id: bytes
    name: str
    app_id: int
    genesis_hash: str
    genesis_id: str
    owner: str
    metadata: dict[str, Any]
    metadata_digest: bytes
    salt_key: bytes
    output_dir: str
    status: str  # creating, open, finishing (finish() reached), sealing, sealed
    create_txid: str | None
    create_round: int | None
    final_digest: bytes | None
    seal_txid: str | None
    seal_round: int | None
    create_signed: bytes | None = None  # the signed groups as last sent (SignedGroup.to_bytes)
    seal_signed: bytes | None = None
    #: hashing.JSON_SCHEME_V1 or _V2: how every JSON value of the experiment is hashed.
    json_scheme: int = 1


@dataclass(frozen=True)
class StageRow:
    idx: int
    kind: int
    label: str
    digest: bytes
    detail: dict[str, Any]
    status: str
    txid: str | None
    round: int | None
    signed: bytes | None = None


@dataclass(frozen=True)
class BatchRow:
    idx: int
    private: bool
    first_seq: int
    count: int
    root: bytes
    first_round: int
    last_round: int
    status: str
    txids: list[str]
    round: int | None
    signed: bytes | None = None


class Journal:
    """Thread-safe access to the journal file (one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the training thread and the writer thread, serialized by a
        # Python lock: SQLite's own busy handler would sleep whole milliseconds on contention.
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)  # idempotent; executescript commits by itself
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}",
                               fix="check it is an algo-tracer journal and writable, or point "
                               "ALGO_TRACER_DIR elsewhere") from exc
        with self._tx() as db:
            row = db.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) < SCHEMA_VERSION:  # an older journal: upgraded in place, at once
                for version in range(int(row[0]) + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[version]:
                        db.execute(statement)
                db.execute("UPDATE meta SET v=? WHERE k='schema'", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise JournalError(
                    f"journal {path} has schema version {row[0]}, this algo-tracer reads "
                    f"version {SCHEMA_VERSION}",
                    fix="finish its experiments with the algo-tracer version that wrote it, "
                    "or point ALGO_TRACER_DIR at a new directory",
                )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- experiments ---------------------------------------------------------------------------

    def add_experiment(self, row: ExperimentRow) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO experiments VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,strftime('%s'),?,?,?)",
                (row.id, row.name, row.app_id, row.genesis_hash, row.genesis_id, row.owner,
                 json.dumps(row.metadata, sort_keys=True), row.metadata_digest, row.salt_key,
                 row.output_dir, row.status, row.create_txid, row.create_round,
                 row.final_digest, row.seal_txid, row.seal_round, row.create_signed,
                 row.seal_signed, row.json_scheme),
            )

    def experiment(self, experiment_id: bytes) -> ExperimentRow:
        with self._read() as db:
            row = db.execute("SELECT * FROM experiments WHERE id=?", (experiment_id,)).fetchone()
        if row is None:
            raise JournalError(f"experiment {experiment_id.hex()} is not in journal {self.path}",
                               fix="run from the directory the experiment was traced in, or set "
                               "ALGO_TRACER_DIR to its .algo-tracer directory")
        return _experiment(row)

    def experiments(self, *, unfinished: bool = False,
                    metadata: tuple[str, str] | None = None) -> list[ExperimentRow]:
        """Every experiment in creation order; `unfinished`: those with something left to send
        or confirm; `metadata=(key, value)`: those whose metadata maps `key` to `value` (a
        study's trials), filtered by SQLite rather than by decoding every row."""
        where: list[str] = []
        args: list[str] = []
        if unfinished:
            where.append("(status != 'sealed' OR id IN (SELECT experiment_id FROM stages "
                         "WHERE status != 'confirmed' UNION SELECT experiment_id FROM batches "
                         "WHERE status != 'confirmed' UNION SELECT experiment_id FROM records "
                         "WHERE batch IS NULL))")
        if metadata is not None:
            where.append("json_extract(metadata, ?) = ?")
            args += [f'$."{metadata[0]}"', metadata[1]]
        sql = "SELECT * FROM experiments"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as db:
            return [_experiment(r) for r in db.execute(sql + " ORDER BY created_at", args)]

    def update_experiment(self, experiment_id: bytes, **fields: Any) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE experiments SET {cols} WHERE id=?",
                       (*fields.values(), experiment_id))

    # -- stages --------------------------------------------------------------------------------

    def add_stage(self, experiment_id: bytes, kind: int, label: str, digest: bytes,
                  detail: dict[str, Any]) -> int:
        """Append a stage; its index is the next one in journal order."""
        with self._tx() as db:
            (idx,) = db.execute("SELECT COALESCE(MAX(idx)+1, 0) FROM stages WHERE experiment_id=?",
                                (experiment_id,)).fetchone()
            db.execute("INSERT INTO stages VALUES (?,?,?,?,?,?,?,NULL,NULL,NULL)",
                       (experiment_id, idx, kind, label, digest,
                        json.dumps(detail, sort_keys=True), PENDING))
        return int(idx)

    def stages(self, experiment_id: bytes) -> list[StageRow]:
        with self._read() as db:
            rows = db.execute(
                "SELECT idx, kind, label, digest, detail, status, txid, round, signed FROM stages "
                "WHERE experiment_id=? ORDER BY idx", (experiment_id,)).fetchall()
        return [StageRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8])
                for r in rows]

    def set_stage(self, experiment_id: bytes, idx: int, *, status: str, txid: str | None = None,
                  round: int | None = None, signed: bytes | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE stages SET status=?, txid=COALESCE(?, txid), "
                       "round=COALESCE(?, round), signed=COALESCE(?, signed) "
                       "WHERE experiment_id=? AND idx=?",
                       (status, txid, round, signed, experiment_id, idx))

    # -- high-volume records -------------------------------------------------------------------

    def add_records(self, experiment_id: bytes, rows: list[list[Any]]) -> None:
        """Insert [seq, kind, name, step, value, private] rows; rows already present are kept.

        Replaying a record log after a crash may offer rows a second time: they are ignored.
        """
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO records VALUES (?,?,?,?,?,?,?,NULL)",
                           [(experiment_id, r[0], r[1], r[2], r[3], json.dumps(r[4]), r[5])
                            for r in rows])

    def next_seq(self, experiment_id: bytes) -> int:
        with self._read() as db:
            (seq,) = db.execute("SELECT COALESCE(MAX(seq)+1, 0) FROM records "
                                "WHERE experiment_id=?", (experiment_id,)).fetchone()
        return int(seq)

    def unbatched_records(self, experiment_id: bytes,
                          limit: int) -> list[tuple[NoteRecord, bool]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT seq, kind, name, step, value, private FROM records WHERE experiment_id=?"
                " AND batch IS NULL ORDER BY seq LIMIT ?", (experiment_id, limit)).fetchall()
        return [(NoteRecord(r[0], RecordKind(r[1]), r[2], r[3], _value(r[4])), bool(r[5]))
                for r in rows]

    def records(self, experiment_id: bytes, first_seq: int = 0,
                count: int | None = None) -> list[tuple[NoteRecord, bool]]:
        last = first_seq + count if count is not None else 2**63 - 1  # SQLite INTEGER max
        with self._read() as db:
            rows = db.execute(
                "SELECT seq, kind, name, step, value, private FROM records WHERE experiment_id=?"
                " AND seq >= ? AND seq < ? ORDER BY seq", (experiment_id, first_seq, last)
            ).fetchall()
        return [(NoteRecord(r[0], RecordKind(r[1]), r[2], r[3], _value(r[4])), bool(r[5]))
                for r in rows]

    def outstanding(self, experiment_id: bytes) -> int:
        """Writes not yet confirmed on chain: the create, stages, records, batches."""
        with self._read() as db:
            (n,) = db.execute(
                "SELECT (SELECT COUNT(*) FROM experiments WHERE id=:e AND status='creating')"
                " + (SELECT COUNT(*) FROM stages WHERE experiment_id=:e AND status!='confirmed')"
                " + (SELECT COUNT(*) FROM batches WHERE experiment_id=:e AND status!='confirmed')"
                " + (SELECT COUNT(*) FROM records WHERE experiment_id=:e AND batch IS NULL)",
                {"e": experiment_id}).fetchone()
        return int(n)

    # -- batches -------------------------------------------------------------------------------

    def add_batch(self, experiment_id: bytes, *, private: bool, first_seq: int, count: int,
                  root: bytes, first_round: int, last_round: int) -> int:
        """Assign records [first_seq, first_seq + count) to the next anchor index."""
        with self._tx() as db:
            (idx,) = db.execute("SELECT COALESCE(MAX(idx)+1, 0) FROM batches "
                                "WHERE experiment_id=?", (experiment_id,)).fetchone()
            db.execute("INSERT INTO batches VALUES (?,?,?,?,?,?,?,?,?,NULL,NULL,NULL)",
                       (experiment_id, idx, int(private), first_seq, count, root, first_round,
                        last_round, PENDING))
            updated = db.execute("UPDATE records SET batch=? WHERE experiment_id=? AND seq>=? "
                                 "AND seq<? AND batch IS NULL",
                                 (idx, experiment_id, first_seq, first_seq + count)).rowcount
            if updated != count:
                raise JournalError(f"batch {idx} expected {count} unbatched records from seq "
                                   f"{first_seq}, found {updated}",
                                   fix="this is a bug in algo-tracer; please report it")
        return int(idx)

    def batches(self, experiment_id: bytes) -> list[BatchRow]:
        with self._read() as db:
            rows = db.execute(
                "SELECT idx, private, first_seq, count, root, first_round, last_round, status, "
                "txids, round, signed FROM batches WHERE experiment_id=? ORDER BY idx",
                (experiment_id,)).fetchall()
        return [BatchRow(r[0], bool(r[1]), r[2], r[3], r[4], r[5], r[6], r[7],
                         json.loads(r[8]) if r[8] else [], r[9], r[10]) for r in rows]

    def set_batch(self, experiment_id: bytes, idx: int, *, status: str,
                  txids: list[str] | None = None, round: int | None = None,
                  first_round: int | None = None, last_round: int | None = None,
                  signed: bytes | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET status=?, txids=COALESCE(?, txids), round=COALESCE(?, round),"
                " first_round=COALESCE(?, first_round), last_round=COALESCE(?, last_round), "
                "signed=COALESCE(?, signed) WHERE experiment_id=? AND idx=?",
                (status, json.dumps(txids) if txids is not None else None, round, first_round,
                 last_round, signed, experiment_id, idx))


def _value(text: str) -> float | str:
    # Values are stored as JSON: a string (TEXT) or a float's repr (METRIC, NaN and Infinity
    # as json writes them), which float() reads back exactly and json.loads far more slowly.
    return cast(str, json.loads(text)) if text[:1] == "\"" else float(text)


def _experiment(r: tuple[Any, ...]) -> ExperimentRow:
    # r[16] is created_at
    return ExperimentRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9],
                         r[10], r[11], r[12], r[13], r[14], r[15], r[17], r[18], r[19])
