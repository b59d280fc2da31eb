"""`python -m algo_tracer.localnet.supervise`: the supervisor process of one native LocalNet.

Started detached by `localnet start` (supervisor_process.py), it runs `Supervisor` (supervisor.py)
over the real services until SIGTERM (`localnet stop`). Restarts go through
`LocalNet.restart_service`, the same steps as `start`, under the same spawn lock. Each line it
prints (restarts, exits and why) goes to `logs/supervisor.log`, which `localnet logs --service
supervisor` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import processes
from algo_tracer.localnet.layout import Ports
from algo_tracer.localnet.network import LocalNet
from algo_tracer.localnet.supervisor import Supervisor, SupervisorReport


class LocalNetServices:
    """`supervisor.Watched` over a LocalNet's processes."""

    def __init__(self, net: LocalNet, stopping: _StopFlag) -> None:
        self.net = net
        self.stopping = stopping
        self._last_pid: dict[str, int] = {}

    @property
    def names(self) -> Sequence[str]:
        return self.net.services

    def running(self, name: str) -> bool:
        pid = self.net.service(name).pid()
        if pid is not None:
            self._last_pid[name] = pid  # the only record of it once the process is gone
        return pid is not None

    def held(self, name: str) -> bool:
        return self.net.held(name)

    def exit_reason(self, name: str) -> str:
        pid = self._last_pid.get(name)
        status = processes.exit_status(pid) if pid is not None else None
        if status is None:
            status = ("exited (exit status unknown: not started by the supervisor)"
                      if pid is not None else "not running")
        words = self.net.service(name).last_words()
        return f"{status}; its log ends: {words}" if words else status

    def restart(self, name: str) -> bool:
        try:
            return self.net.restart_service(name, cancelled=self.stopping)
        except (OSError, subprocess.SubprocessError) as exc:
            # A program gone or unrunnable must not end the supervisor: it is retried with
            # back-off like any failed restart, and `status` shows why.
            raise LocalnetError(f"could not start {name}: {exc}",
                                fix=f"see `algo-tracer localnet logs --service {name}`") from exc


class _StopFlag:
    """Set by SIGTERM or SIGINT; the loop polls it and sleeps in short slices."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _log(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {line}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m algo_tracer.localnet.supervise")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--ports", required=True, help="the network's Ports, as JSON")
    args = parser.parse_args(argv)
    stop = _StopFlag()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop.handle)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    net = LocalNet(args.state_dir, Ports(**json.loads(args.ports)), progress=_log,
                   profile=args.profile)
    lock = net.supervisor.claim()
    if lock is None:
        _log("another supervisor already looks after this network; exiting")
        return 0
    with lock:
        def report(state: SupervisorReport) -> None:
            try:
                net.supervisor.write_report(state)
            except OSError as exc:  # a full disk must not end the restarts
                _log(f"could not write {net.supervisor.report_file}: {exc}")

        supervisor = Supervisor(LocalNetServices(net, stop), pid=os.getpid(), report=report,
                                log=_log, sleep=stop.sleep)
        supervisor.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
