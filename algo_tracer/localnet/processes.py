"""Detached service processes tracked by pid files.

A pid alone is not proof of ownership (pids are recycled), so every check also compares the
process's command name with the program the pid file was written for and, where given, looks for
the service's own directory among its arguments: two LocalNets run the same programs (DevMode and
realtime side by side), and `stop` must end only the processes this one started.

Whoever spawns a service (`localnet start`, or the supervisor restarting one) holds the
network's spawn lock (`spawn_lock`) while it checks and starts, so the two never start the same
service twice; `stop` takes it too, so no start is half done (spawned, pid not yet written) when
it reads the pid files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The processes this process spawned, by pid, and how those that ended did: only a parent learns
# how its child ended (the supervisor reports "killed by SIGKILL" for the services it restarted).
# Children are reaped whenever a service is looked at or spawned: an unreaped zombie still "exists"
# for kill(pid, 0), and PostgreSQL refuses to start while its old postmaster's pid does.
_children: dict[int, subprocess.Popen[bytes]] = {}
_ended: dict[int, str] = {}


@dataclass(frozen=True)
class Service:
    name: str
    program: str  # executable base name, as the kernel reports it in /proc/<pid>/stat
    pid_file: Path
    log_file: Path
    stop_signal: int = signal.SIGTERM
    owner_arg: str | None = None  # an argument only this network's process has (its directory)

    def pid(self) -> int | None:
        """The service's pid if it is running, else None (stale pid files are removed)."""
        _reap()
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        if _runs(pid, self.program, self.owner_arg):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def spawn(
        self,
        cmd: list[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        write_pid: bool = True,
    ) -> int:
        _reap()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI and is not hit by its Ctrl-C
                user=user,
            )
        _children[proc.pid] = proc
        if write_pid:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the service if it runs; True if a process was stopped. Safe to call twice."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            _signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        if self.pid_file.exists() and self.pid_file.read_text().split()[:1] == [str(pid)]:
            self.pid_file.unlink(missing_ok=True)
        return True

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
            return "".join(text.splitlines(keepends=True)[-lines:])
        except FileNotFoundError:
            return ""

    def last_words(self, width: int = 200) -> str | None:
        """The last non-empty line of the log (where conduit and the indexer say why they
        exit; of a JSON log line, its message), shortened to `width` characters."""
        lines = [line.strip() for line in self.tail(20).splitlines() if line.strip()]
        if not lines:
            return None
        line = lines[-1]
        with contextlib.suppress(ValueError, AttributeError):
            line = str(json.loads(line).get("msg", line))
        return line if len(line) <= width else line[: width - 1] + "…"


@contextlib.contextmanager
def spawn_lock(path: Path) -> Iterator[None]:
    """Held while services are checked and started (see the module docstring); the kernel drops
    it when its holder dies, even by SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def exit_status(pid: int) -> str | None:
    """How a process this process spawned ended ("exit status 1", "killed by SIGKILL"), or None
    while it runs or when another process started it (then only its log can tell)."""
    _reap()
    return _ended.pop(pid, None)


def _reap() -> None:
    for pid, child in list(_children.items()):
        code = child.poll()
        if code is None:
            continue
        del _children[pid]
        if code >= 0:
            _ended[pid] = f"exit status {code}"
            continue
        try:
            _ended[pid] = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            _ended[pid] = f"killed by signal {-code}"


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    return _alive(pid)


def argv(pid: int) -> list[str]:
    """The process's arguments (empty when they cannot be read)."""
    return _argv(pid)


def _stat(pid: int) -> tuple[str, str] | None:
    """(command name, state) from /proc/<pid>/stat; the name is set at exec, unlike cmdline."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name, rest = raw[raw.index("(") + 1 :].rsplit(")", 1)
    return name, rest.split()[0]


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    # A zombie has exited; only its parent's wait() is missing.
    return stat is not None and stat[1] != "Z"


def _runs(pid: int, program: str, owner_arg: str | None = None) -> bool:
    stat = _stat(pid)
    # The kernel keeps the first 15 bytes of the executable's name.
    if stat is None or stat[1] == "Z" or stat[0] != program[:15]:
        return False
    if owner_arg is None:
        return True
    argv = _argv(pid)
    # No arguments prove nothing either way: they read empty for a moment while the kernel is
    # still exec'ing a just-spawned process, and are unreadable under hidepid.
    return not argv or owner_arg in argv


def _argv(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
