"""The native LocalNet's supervisor without a network: back-off, held services, stopping, and the
single-supervisor lock. Services, clock and sleep are fakes; no real time is waited on."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import LocalNet, Ports
from algo_tracer.localnet.processes import Service, exit_status
from algo_tracer.localnet.status import service_fix
from algo_tracer.localnet.supervisor import BackOff, ServiceRecord, Supervisor, SupervisorReport
from algo_tracer.localnet.supervisor_process import SupervisorProcess

FREE_PORTS = Ports(algod=24001, kmd=24002, follower=28081, gossip=30000, postgres=25443,
                   indexer=28980, ipfs_api=25011, ipfs_gateway=28011)


class FakeServices:
    """`Watched` over a dict: tests kill and hold services; restarts are recorded."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.up = dict.fromkeys(names, True)
        self.on_hold: set[str] = set()
        self.restarted: list[str] = []
        self.failing: dict[str, int] = {}  # name -> restarts that still fail
        self.on_restart = lambda name: None

    def running(self, name: str) -> bool:
        return self.up[name]

    def held(self, name: str) -> bool:
        return name in self.on_hold

    def exit_reason(self, name: str) -> str:
        return f"{name} was killed"

    def restart(self, name: str) -> bool:
        self.on_restart(name)
        if self.failing.get(name, 0) > 0:
            self.failing[name] -= 1
            raise LocalnetError(f"{name} did not answer", fix="see its log")
        if self.up[name]:
            return False  # someone else started it
        self.restarted.append(name)
        self.up[name] = True
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def supervise(services: FakeServices, clock: FakeClock,
              backoff: BackOff | None = None) -> tuple[Supervisor, list[SupervisorReport]]:
    reports: list[SupervisorReport] = []
    supervisor = Supervisor(services, pid=4242, report=reports.append, log=lambda _: None,
                            backoff=backoff or BackOff(initial=1, factor=2, cap=8,
                                                       reset_after=30),
                            clock=clock, wall_clock=clock, sleep=clock.sleep)
    return supervisor, reports


# -- back-off ------------------------------------------------------------------------------------

def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    backoff = BackOff(initial=1, factor=2, cap=60)
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(10_000) == 60  # a service failing for days does not overflow


def test_an_exited_service_is_restarted_once_its_delay_has_passed() -> None:
    services, clock = FakeServices(["algod", "conduit"]), FakeClock()
    supervisor, reports = supervise(services, clock)
    services.up["conduit"] = False

    supervisor.check()  # sees the exit: waits 1 s first
    assert services.restarted == []
    record = reports[-1].service("conduit")
    assert record is not None and record.condition == "waiting"
    assert record.last_exit == "conduit was killed"
    assert record.next_restart_at == clock.now + 1

    clock.sleep(0.5)
    supervisor.check()
    assert services.restarted == []
    clock.sleep(0.5)
    supervisor.check()

    assert services.restarted == ["conduit"]
    record = reports[-1].service("conduit")
    assert record is not None
    assert (record.condition, record.restarts, record.next_restart_at) == ("running", 1, None)
    assert record.last_exit == "conduit was killed"  # kept for `status`


def test_a_service_that_keeps_exiting_waits_longer_each_time_until_it_stays_up() -> None:
    services, clock = FakeServices(["conduit"]), FakeClock()
    supervisor, reports = supervise(services, clock)

    def delay_after_exit() -> float:
        services.up["conduit"] = False
        supervisor.check()
        record = reports[-1].service("conduit")
        assert record is not None and record.next_restart_at is not None
        delay = record.next_restart_at - clock.now
        clock.sleep(delay)
        supervisor.check()  # restarted
        assert services.up["conduit"]
        return delay

    # Each exit comes right after the restart: a crash loop.
    assert [delay_after_exit() for _ in range(5)] == [1, 2, 4, 8, 8]
    clock.sleep(30)  # up for reset_after seconds: the next exit is a first one again
    supervisor.check()
    assert delay_after_exit() == 1
    assert services.restarted == ["conduit"] * 6


def test_a_restart_that_fails_is_retried_with_a_longer_delay_and_says_why() -> None:
    services, clock = FakeServices(["postgres"]), FakeClock()
    supervisor, reports = supervise(services, clock)
    services.up["postgres"] = False
    services.failing["postgres"] = 2

    supervisor.check()
    clock.sleep(1)
    supervisor.check()  # first attempt fails
    record = reports[-1].service("postgres")
    assert record is not None
    assert record.last_exit == "restart failed: postgres did not answer"
    assert (record.restarts, record.failures) == (0, 2)
    assert record.next_restart_at == clock.now + 2
    clock.sleep(2)
    supervisor.check()  # second attempt fails
    clock.sleep(4)
    supervisor.check()

    assert services.restarted == ["postgres"]
    record = reports[-1].service("postgres")
    assert record is not None and (record.restarts, record.condition) == (1, "running")


def test_services_down_together_come_back_in_start_order() -> None:
    names = ["algod", "follower", "kmd", "postgres", "conduit", "indexer"]
    services, clock = FakeServices(names), FakeClock()
    supervisor, _ = supervise(services, clock)
    for name in ("indexer", "postgres", "algod"):
        services.up[name] = False

    supervisor.check()
    clock.sleep(1)
    supervisor.check()

    assert services.restarted == ["algod", "postgres", "indexer"]


def test_a_service_stopped_on_purpose_is_left_down_until_released() -> None:
    services, clock = FakeServices(["algod", "conduit"]), FakeClock()
    supervisor, reports = supervise(services, clock)
    services.up["conduit"] = False
    services.on_hold.add("conduit")

    for _ in range(3):
        supervisor.check()
        clock.sleep(60)

    assert services.restarted == []
    record = reports[-1].service("conduit")
    assert record is not None and (record.condition, record.last_exit) == ("held", None)
    services.on_hold.clear()  # e.g. `start` without bringing it up yet
    supervisor.check()
    clock.sleep(1)
    supervisor.check()
    assert services.restarted == ["conduit"]


def test_a_service_someone_else_started_first_is_not_counted_as_a_restart() -> None:
    services, clock = FakeServices(["conduit"]), FakeClock()
    supervisor, reports = supervise(services, clock)
    services.up["conduit"] = False
    services.on_restart = lambda name: services.up.update({name: True})  # `localnet start` won

    supervisor.check()
    clock.sleep(1)
    supervisor.check()

    record = reports[-1].service("conduit")
    assert record is not None and (record.condition, record.restarts) == ("running", 0)
    assert services.restarted == []


def test_the_report_is_written_when_something_changes_not_every_pass() -> None:
    services, clock = FakeServices(["algod", "conduit"]), FakeClock()
    supervisor, reports = supervise(services, clock)

    for _ in range(5):
        supervisor.check()
        clock.sleep(1)
    assert len(reports) == 1
    services.up["conduit"] = False
    supervisor.check()

    assert len(reports) == 2
    assert reports[-1].pid == 4242 and reports[-1].updated_at == clock.now


# -- stopping ------------------------------------------------------------------------------------

def test_run_returns_when_asked_to_stop_and_restarts_nothing_after() -> None:
    services, clock = FakeServices(["algod", "conduit"]), FakeClock()
    supervisor, _ = supervise(services, clock)
    sleeps: list[float] = []
    stop = {"requested": False}

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)
        if len(sleeps) == 3:
            stop["requested"] = True
            services.up["conduit"] = False  # exits just as `localnet stop` begins

    supervisor._sleep = sleep
    supervisor.run(lambda: stop["requested"])

    assert len(sleeps) == 3
    assert services.restarted == []


def test_a_stop_during_a_pass_starts_nothing_more() -> None:
    services, clock = FakeServices(["algod", "kmd", "conduit"]), FakeClock()
    supervisor, _ = supervise(services, clock)
    stop = {"requested": False}
    services.up["algod"] = services.up["conduit"] = False
    services.on_restart = lambda name: stop.update(requested=True)  # stop arrives mid-restart

    supervisor.check(lambda: stop["requested"])
    clock.sleep(1)
    supervisor.check(lambda: stop["requested"])

    assert services.restarted == ["algod"]  # the one under way finishes; conduit is not begun
    assert not services.up["conduit"]


def _record_stops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    order: list[str] = []

    def stopped(name: str) -> bool:
        order.append(name)
        return True

    monkeypatch.setattr(SupervisorProcess, "stop", lambda self, timeout=0: stopped("supervisor"))
    monkeypatch.setattr(Service, "stop", lambda self, timeout=0: stopped(self.name))
    return order


def test_stop_ends_the_supervisor_before_any_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _record_stops(monkeypatch)

    stopped = LocalNet(tmp_path, FREE_PORTS, progress=lambda _: None).stop()

    assert order == ["supervisor", "ipfs", "indexer", "conduit", "postgres", "kmd", "follower",
                     "algod"]
    assert stopped == order[1:]


def test_stopping_one_service_holds_it_and_leaves_the_supervisor_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _record_stops(monkeypatch)
    net = LocalNet(tmp_path, FREE_PORTS, progress=lambda _: None)

    assert net.stop(["conduit"]) == ["conduit"]

    assert order == ["conduit"]
    assert net.held("conduit") and not net.held("indexer")


# -- the supervisor process: one per network, and what status says -------------------------------

def test_only_one_supervisor_holds_a_network(tmp_path: Path) -> None:
    first, second = SupervisorProcess(tmp_path), SupervisorProcess(tmp_path)

    lock = first.claim()
    assert lock is not None
    try:
        assert second.claim() is None  # a second supervisor exits instead of doubling restarts
    finally:
        lock.close()  # the kernel drops the lock with the file, as when the supervisor dies
    again = second.claim()
    assert again is not None
    again.close()


def test_a_pid_file_naming_another_process_is_not_a_supervisor(tmp_path: Path) -> None:
    control = SupervisorProcess(tmp_path)
    control.pid_file.parent.mkdir(parents=True)
    control.pid_file.write_text(f"{os.getpid()}\n")  # pytest: alive, but not our module

    assert control.pid() is None
    assert control.report() is None
    assert control.stop() is False


def test_a_child_killed_by_a_signal_says_so(tmp_path: Path) -> None:
    service = Service("sleeper", "sleep", tmp_path / "s.pid", tmp_path / "s.log",
                      owner_arg="996.5")
    pid = service.spawn(["sleep", "996.5"])
    assert exit_status(pid) is None  # still running
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # until it has ended, not reaped

    assert exit_status(pid) == "killed by SIGKILL"
    assert service.pid() is None


def test_status_names_each_down_service_with_its_fix(tmp_path: Path) -> None:
    net = LocalNet(tmp_path, FREE_PORTS, progress=lambda _: None)
    net.held_dir.mkdir(parents=True)
    (net.held_dir / "conduit").touch()

    status = net.status()

    assert status.supervisor is not None and not status.supervisor.running
    fixes = {s.name: s.fix for s in status.services}
    assert fixes["conduit"] == "stopped on purpose; `algo-tracer localnet start` starts it again"
    assert fixes["algod"] is not None
    assert fixes["algod"].startswith("`algo-tracer localnet start` restarts it (and only what is "
                                     "down)")
    assert "localnet logs --service algod" in fixes["algod"]


def test_the_fix_for_a_down_service_follows_what_the_supervisor_is_doing() -> None:
    def fix(**kw: object) -> str:
        args: dict = {"running": False, "held": False, "supervised": True, "record": None,
                      "start_command": "algo-tracer localnet start", "now": 100.0, **kw}
        return service_fix("conduit", **args)

    waiting = ServiceRecord(name="conduit", condition="waiting", failures=1, next_restart_at=104)
    looping = ServiceRecord(name="conduit", condition="waiting", failures=3, next_restart_at=100)

    assert fix(record=waiting) == "the supervisor restarts it in 4 s (with back-off)"
    assert fix(record=looping).startswith("the supervisor restarts it now (with back-off); it went "
                                          "down 3 times in a row soon after starting")
    assert fix(supervised=False).startswith("`algo-tracer localnet start` restarts it")
    assert fix(running=True).startswith("its process runs but does not answer")
