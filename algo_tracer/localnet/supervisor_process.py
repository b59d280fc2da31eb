"""The supervisor as a process: started with the network, stopped first, one per state directory.

`localnet start` spawns `python -m algo_tracer.localnet.supervise` detached, like the services,
so it outlives the command. Inside, the supervisor first takes an exclusive lock on
`run/supervisor.lock` and only then writes `run/supervisor.pid`: a second one (two `start`s at
once, or a `start` after a crash whose pid file was left behind) finds the lock taken and exits,
and the kernel drops the lock when its holder dies, even by SIGKILL. The services run in their own
sessions, so a supervisor that crashes takes none of them down; the next `localnet start` brings
the supervisor back without starting anything twice (the spawn lock, processes.py).

`stop()` ends the supervisor before anything else (SIGTERM, then SIGKILL after `timeout`), so
nothing is restarted behind `localnet stop`. A supervisor in the middle of a restart finishes it
first (bounded by the service's start-up wait), leaving no process without its pid file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from algo_tracer.localnet import processes
from algo_tracer.localnet.supervisor import SupervisorReport

MODULE = "algo_tracer.localnet.supervise"


class SupervisorProcess:
    """The supervisor of the network whose state directory is `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        run_dir = state_dir / "run"
        self.pid_file = run_dir / "supervisor.pid"
        self.lock_file = run_dir / "supervisor.lock"
        self.report_file = run_dir / "supervisor.json"
        self.log_file = state_dir / "logs" / "supervisor.log"

    # -- from the outside (localnet start, stop, status) ------------------------------------------

    def pid(self) -> int | None:
        """The running supervisor's pid, or None. A pid is ours only if that process runs our
        module for this state directory (pids are recycled; two profiles run supervisors)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        args = processes.argv(pid)
        if processes.alive(pid) and MODULE in args and str(self.state_dir) in args:
            return pid
        return None

    def spawn(self, args: list[str], timeout: float = 15.0) -> int | None:
        """Start the supervisor unless one runs; its pid once it holds its lock (None if it
        exited at once: its log says why)."""
        running = self.pid()
        if running is not None:
            return running
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, "--state-dir", str(self.state_dir), *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI; not hit by its Ctrl-C
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is not None:
                return pid
            if proc.poll() is not None:
                return self.pid()  # lost the lock to another supervisor, or failed
            time.sleep(0.05)
        return self.pid()

    def stop(self, timeout: float = 180.0) -> bool:
        """End the supervisor (see the module docstring); True if one was running."""
        pid = self.pid()
        if pid is None:
            self.report_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while processes.alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        self.report_file.unlink(missing_ok=True)
        return True

    def report(self) -> SupervisorReport | None:
        """What the running supervisor last wrote (None when none runs)."""
        if self.pid() is None:
            return None
        try:
            return SupervisorReport.model_validate(json.loads(self.report_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, ValidationError):
            return None

    # -- from the inside (the supervisor process) --------------------------------------------------

    def claim(self) -> IO[str] | None:
        """Take the single-supervisor lock and write our pid; None if another supervisor holds
        it. Keep the returned file open for as long as this process supervises."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_file.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        self.pid_file.write_text(f"{os.getpid()}\n")
        return handle

    def write_report(self, report: SupervisorReport) -> None:
        # Written whole then renamed: `status` never reads half a file.
        partial = self.report_file.with_suffix(".json.tmp")
        partial.write_text(report.model_dump_json(indent=2))
        partial.replace(self.report_file)
