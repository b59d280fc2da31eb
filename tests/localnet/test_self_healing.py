"""The native LocalNet heals itself: an idle network restarted still indexes, and every service
killed with SIGKILL comes back with nothing lost. Runs on a second network (`second_network`), so
the shared LocalNet is left alone."""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path

import pytest
from lifecycle_helpers import client_for, pay_note, use_network
from verify_helpers import trace_experiment

from algo_tracer import Tracer
from algo_tracer.localnet import LocalNet
from algo_tracer.localnet.status import LocalnetStatus
from algo_tracer.network.indexer import iter_transactions, wait_for_round
from algo_tracer.verify import verify_experiment

# algod answers conduit's start-up wait for the next round after this long without a block
# (go-algorand WaitForBlockTimeout); conduit then exits unless that round exists.
CONDUIT_STARTUP_TIMEOUT = 60.0


def _pids(status: LocalnetStatus) -> dict[str, int | None]:
    return {s.name: s.pid for s in status.services}


def test_an_idle_network_stopped_and_started_traces_and_verifies_with_no_manual_step(
    second_network: LocalNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = second_network
    net.start()
    client = client_for(net.ports)
    last = pay_note(client, b"idle/before-stop")
    # Once the Indexer has the last round, conduit's next round does not exist: an idle chain.
    wait_for_round(client.client.indexer, last, algod=client.client.algod, timeout=120)
    net.stop()

    started = net.start()  # on an idle chain: the round conduit waits for does not exist yet
    assert started.healthy and started.supervisor is not None and started.supervisor.running
    rounds_made = (net.logs_dir / "next-round.log").read_text().count("0-ALGO self-payment")
    assert rounds_made >= 1
    time.sleep(CONDUIT_STARTUP_TIMEOUT + 15)  # conduit would have given up by now

    idle = net.status()
    assert idle.healthy
    assert _pids(idle) == _pids(started)  # nothing exited, nothing was restarted
    assert [s.restarts for s in idle.services] == [0] * len(idle.services)
    use_network(net, monkeypatch)
    traced = trace_experiment(Tracer.from_environment(state_dir=tmp_path / "state"),
                              tmp_path / "exp", "after-idle-restart", metrics=50, private=0)
    report = verify_experiment(traced.algorand, traced.app_id, traced.experiment_id,
                               manifest=traced.manifest(), artifacts_dir=traced.artifacts,
                               data={"frame": traced.frame}, indexer_timeout=120)
    assert report.ok, report.failures()


def _wait_restarted(net: LocalNet, name: str, old_pid: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = net.status()
        service = next(s for s in status.services if s.name == name)
        if status.healthy and service.pid not in (None, old_pid):
            return
        time.sleep(0.5)
    pytest.fail(f"{name} was not restarted within {timeout:.0f} s:\n"
                f"{net.status().model_dump_json(indent=2)}\n{net.logs('supervisor')}")


def test_each_service_killed_is_restarted_and_the_indexer_catches_up_with_nothing_lost(
    second_network: LocalNet,
) -> None:
    net = second_network
    net.start()
    client = client_for(net.ports)
    notes = [b"heal/before"]
    last = pay_note(client, notes[0])

    for name in net.services:
        pid = net.service(name).pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait_restarted(net, name, pid)
        notes.append(f"heal/after-{name}".encode())
        last = pay_note(client, notes[-1])

    status = net.status()
    for service in status.services:
        assert service.restarts == 1, service
        assert service.last_exit is not None
    assert status.supervisor is not None and status.supervisor.running
    wait_for_round(client.client.indexer, last, algod=client.client.algod, timeout=120)
    found = [base64.b64decode(t["note"]) for t in
             iter_transactions(client.client.indexer, note_prefix=b"heal/")]
    assert found == notes  # every payment indexed once, in order
    log = net.logs("supervisor", lines=200)
    assert all(f"restarting {name}" in log for name in net.services)


def test_a_killed_supervisor_takes_no_service_down_and_start_brings_it_back_alone(
    second_network: LocalNet,
) -> None:
    net = second_network
    before = net.start()
    assert before.supervisor is not None and before.supervisor.pid is not None
    os.kill(before.supervisor.pid, signal.SIGKILL)
    while net.supervisor.pid() is not None:
        time.sleep(0.05)

    orphaned = net.status()
    assert orphaned.healthy and _pids(orphaned) == _pids(before)
    assert orphaned.supervisor is not None and not orphaned.supervisor.running

    after = net.start()
    assert _pids(after) == _pids(before)  # nothing started twice
    assert after.supervisor is not None and after.supervisor.running
    assert after.supervisor.pid != before.supervisor.pid

    net.stop()
    assert net.supervisor.pid() is None
    assert all(net.service(name).pid() is None for name in net.services)
