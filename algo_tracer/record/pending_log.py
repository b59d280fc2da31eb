"""The hot path of `log_metric`: one append to a per-experiment log file, ingested in batches.

A committed SQLite transaction per metric would cost the training loop tens of microseconds and a
lock shared with the writer thread. Instead `append` writes one JSON line with a single `write()`
to `pending-<experiment id>.log` next to the journal: once the call returns the record is in the
kernel's page cache and survives the process being killed (as the journal's WAL does; neither
promises to survive a power cut). The writer thread moves the log into the journal: it renames
the log aside under the append lock (a few microseconds), inserts its lines in one transaction,
then deletes it. A crash anywhere in between leaves the renamed file, which the next ingest
replays; inserts ignore records already present, so a replay never doubles a record.
"""

from __future__ import annotations

import json
import os
import threading

from algo_tracer.format.records import RecordKind
from algo_tracer.record.journal import Journal

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class RecordLog:
    def __init__(self, journal: Journal, experiment_id: bytes) -> None:
        self.journal = journal
        self.experiment_id = experiment_id
        self.path = journal.path.parent / f"pending-{experiment_id.hex()}.log"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._rotation = 0

    def append(self, seq: int, kind: RecordKind, name: str, step: int, value: float | str,
               private: bool) -> None:
        line = json.dumps([seq, int(kind), name, step, value, int(private)],
                          separators=(",", ":"), allow_nan=True) + "\n"
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, _FLAGS, 0o600)
            os.write(self._fd, line.encode())

    def ingest(self) -> int:
        """Move every logged record into the journal; returns how many lines were read."""
        with self._lock:  # rotate the live log (ours, or one left by a killed process) aside
            if self.path.exists() and self.path.stat().st_size:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._rotation += 1
                os.replace(self.path, self.path.with_name(
                    f"{self.path.name}.{os.getpid()}.{self._rotation}"))
        read = 0
        for part in sorted(self.path.parent.glob(f"{self.path.name}.*")):
            rows = [json.loads(line) for line in part.read_text().splitlines(keepends=True)
                    if line.endswith("\n")]  # a torn last line was never acknowledged
            self.journal.add_records(self.experiment_id, rows)
            part.unlink()
            read += len(rows)
        return read

    def pending(self) -> bool:
        with self._lock:
            live = self.path.exists() and self.path.stat().st_size > 0
        return live or any(self.path.parent.glob(f"{self.path.name}.*"))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
