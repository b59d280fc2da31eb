"""Which experiments a live process is recording, so that `resume` never seals one of them.

A process recording an experiment holds a POSIX record lock (`fcntl.lockf`) on
`recording-<experiment id>.lock` next to the journal. The kernel drops the lock when the process
ends, however it ends (SIGKILL included), so a lock that can be taken means nobody is recording
the experiment any more: a crashed run, safe to finish. POSIX locks belong to the process, so
a second lock object of the same process checks a per-process set instead. Where `fcntl` does
not exist (Windows) only that per-process check remains: `resume` must then not run beside a
live run in another process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    # Windows has no fcntl; the lock is then a no-op, which `resume` warns about.
    fcntl = None  # type: ignore[assignment]  # the module name, rebound to None on purpose

__all__ = ["RecordingLock"]

_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# Experiments this process records: POSIX locks cannot tell two holders in one process apart.
_HELD: set[Path] = set()
_HELD_LOCK = threading.Lock()


class RecordingLock:
    """Held while this process records one experiment; `release` (or process exit) frees it."""

    def __init__(self, directory: Path, experiment_id: bytes) -> None:
        self.path = directory / f"recording-{experiment_id.hex()}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another live recorder (process or object) holds it."""
        if self._fd is not None:
            return True
        key = self.path.resolve()
        with _HELD_LOCK:
            if key in _HELD:
                return False
            fd = os.open(self.path, _FLAGS, 0o600)
            if fcntl is not None:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    return False
            _HELD.add(key)
        self._fd = fd
        os.ftruncate(fd, 0)  # the holder's pid, for the message a blocked `resume` prints
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def holder(self) -> str:
        """The pid written by the holder ("unknown" when unreadable)."""
        with contextlib.suppress(OSError, ValueError):
            return str(int(self.path.read_text().strip()))
        return "unknown"

    def release(self, *, sealed: bool = False) -> None:
        """Drop the lock. With `sealed`, also delete the file: nothing is left to resume, so
        a racing `resume` that still opens the old file can only find the run finished."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with _HELD_LOCK:
                _HELD.discard(self.path.resolve())
                if sealed:
                    with contextlib.suppress(OSError):
                        self.path.unlink()
                os.close(fd)  # closing drops the lock
