"""The native LocalNet's restart policy: a service that exits is started again, with back-off.

This is what Docker's `restart: unless-stopped` does for AlgoKit LocalNet's containers. One pass
(`Supervisor.check`) looks at every service in start order: one that runs is left alone; one that
was stopped on purpose (`LocalNet.stop(["conduit"])`) is left down until `localnet start`; one that
has exited is recorded (when, and why if that can be known) and started again once its back-off
delay has passed. The delay doubles with each exit that follows a restart within `reset_after`
seconds (a service that keeps crashing), up to `cap`; a service that stayed up that long starts
over at `initial`. Restarts never stop being tried: a service that cannot come back (its port
taken, its database gone) is retried every `cap` seconds and `localnet status` shows why.

Everything the loop touches comes in through `Watched`, a clock and a sleeper, so tests drive it
with fakes and no real time passes; `algo_tracer.localnet.supervise` runs it over the real
processes. What the loop knows is written after every pass as a `SupervisorReport`, which
`localnet status` reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel

from algo_tracer.errors import AlgoTracerError

ServiceCondition = Literal["running", "waiting", "held"]


class Watched(Protocol):
    """The services one supervisor looks after (the real ones: `supervise.LocalNetServices`)."""

    @property
    def names(self) -> Sequence[str]:
        """Service names in start order: a pass restarts the relay before the follower, and
        PostgreSQL before conduit."""
        ...

    def running(self, name: str) -> bool: ...

    def held(self, name: str) -> bool:
        """Stopped on purpose (`LocalNet.stop([name])`): not to be restarted."""
        ...

    def exit_reason(self, name: str) -> str:
        """Why the service's process ended, as far as it can be known (its exit status when the
        supervisor started it, else the last line of its log)."""
        ...

    def restart(self, name: str) -> bool:
        """Start the service again and wait until it answers; False if there was nothing to
        start after all (`localnet start` got there first). Raises `AlgoTracerError` (with the
        fix) when it does not come up."""
        ...


@dataclass(frozen=True)
class BackOff:
    """Delay before restarting a service after its `failures`-th exit in a row."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    reset_after: float = 60.0  # up this long, and the next exit counts as the first again

    def delay(self, failures: int) -> float:
        if failures <= 1:
            return self.initial
        # Capped before the power grows large: a service may fail for days.
        return min(self.cap, self.initial * self.factor ** min(failures - 1, 64))


class ServiceRecord(BaseModel):
    """What the supervisor knows about one service (in `localnet status --json`)."""

    name: str
    condition: ServiceCondition = "running"
    restarts: int = 0  # restarts that came up, since the supervisor started (`localnet start`)
    failures: int = 0  # exits in a row without staying up `reset_after` seconds
    last_exit: str | None = None  # why it last went down (or why its last restart failed)
    last_exit_at: float | None = None  # wall-clock seconds since the epoch
    next_restart_at: float | None = None  # wall clock, while it waits out its back-off


class SupervisorReport(BaseModel):
    """The supervisor's state file (`<state dir>/run/supervisor.json`)."""

    pid: int
    started_at: float  # wall clock
    updated_at: float
    services: list[ServiceRecord]

    def service(self, name: str) -> ServiceRecord | None:
        return next((s for s in self.services if s.name == name), None)


@dataclass
class _Tracking:
    """Per-service bookkeeping on the monotonic clock (the report has wall-clock times)."""

    record: ServiceRecord
    up_since: float | None = None
    retry_at: float | None = None


class Supervisor:
    """Keeps the services of `watched` running. `check()` is one pass; `run()` loops until
    `stopping()` says so, and never starts a service once it does."""

    def __init__(
        self,
        watched: Watched,
        *,
        pid: int,
        report: Callable[[SupervisorReport], None],
        log: Callable[[str], None],
        backoff: BackOff | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 1.0,
    ) -> None:
        self.watched = watched
        self.backoff = backoff or BackOff()
        self._report = report
        self._log = log
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self.poll = poll
        self._pid = pid
        self._started_at = wall_clock()
        self._reported: list[ServiceRecord] | None = None
        now = clock()
        # Whatever runs when the supervisor starts counts as just started.
        self._tracking = {name: _Tracking(ServiceRecord(name=name), up_since=now)
                          for name in watched.names}

    def run(self, stopping: Callable[[], bool]) -> None:
        self._log(f"supervising {', '.join(self.watched.names)}")
        while not stopping():
            self.check(stopping)
            if stopping():
                break
            self._sleep(self.poll)
        self._log("stopped: no service will be restarted")

    def check(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """One pass over every service, in start order; stops short as soon as `stopping()`."""
        for name in self.watched.names:
            if stopping():
                break
            self._check_one(self._tracking[name], stopping)
        report = self.report()
        # Written when something changed, not every second: `updated_at` is the last change.
        if report.services != self._reported:
            self._reported = report.services
            self._report(report)

    def report(self) -> SupervisorReport:
        return SupervisorReport(pid=self._pid, started_at=self._started_at,
                                updated_at=self._wall(),
                                services=[t.record.model_copy() for t in self._tracking.values()])

    def _check_one(self, track: _Tracking, stopping: Callable[[], bool]) -> None:
        record, name = track.record, track.record.name
        now = self._clock()
        if self.watched.held(name):
            # Stopped on purpose: nothing to count, and no back-off left over for `start`.
            record.condition, record.next_restart_at = "held", None
            track.retry_at, track.up_since = None, None
            return
        if self.watched.running(name):
            if track.up_since is None:  # came back without us (e.g. `localnet start`)
                track.up_since = now
            if now - track.up_since >= self.backoff.reset_after:
                record.failures = 0
            record.condition, record.next_restart_at, track.retry_at = "running", None, None
            return
        if track.retry_at is None:  # an exit not seen before
            self._note_exit(track, self.watched.exit_reason(name), now)
        assert track.retry_at is not None  # set by _note_exit
        if now < track.retry_at or stopping():
            return
        self._log(f"restarting {name} (restart {record.restarts + 1})")
        try:
            started = self.watched.restart(name)
        except AlgoTracerError as exc:
            self._note_exit(track, f"restart failed: {exc.message}", self._clock())
            return
        record.restarts += int(started)
        record.condition, record.next_restart_at = "running", None
        track.retry_at, track.up_since = None, self._clock()
        self._log(f"{name} is running again" + ("" if started else " (started by someone else)"))

    def _note_exit(self, track: _Tracking, reason: str, now: float) -> None:
        record = track.record
        stayed_up = track.up_since is not None and now - track.up_since >= self.backoff.reset_after
        record.failures = 1 if stayed_up else record.failures + 1
        delay = self.backoff.delay(record.failures)
        record.condition = "waiting"
        record.last_exit, record.last_exit_at = reason, self._wall()
        record.next_restart_at = record.last_exit_at + delay
        track.retry_at, track.up_since = now + delay, None
        self._log(f"{record.name} is down ({reason}); restart in {delay:g} s")
