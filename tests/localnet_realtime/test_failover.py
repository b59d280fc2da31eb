"""Two algod nodes of one network (the realtime profile's relay and its second node, "algod2"):
the node a run writes through is killed mid-run, the run goes on through the other, and nothing is
lost or doubled.

Like test_realtime.py this uses only the realtime profile (its own ports and directory), never the
default DevMode LocalNet. The killed node is started again afterwards, so the profile is healthy.
"""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from algo_tracer import Manifest, Tracer, parse_id, verify_experiment
from algo_tracer.format.notes import decode_note, experiment_note_prefix
from algo_tracer.localnet import REALTIME, LocalNet
from algo_tracer.localnet.network import SECOND_ALGOD
from algo_tracer.network.endpoints import (
    ALGOD_SERVERS_VAR,
    FailoverAlgodClient,
)
from algo_tracer.network.indexer import iter_transactions, wait_for_round

pytestmark = pytest.mark.localnet

RECORDS = 3000
KILL_AT_STEP = 1500
PARAMS_AT_STEPS = (0, 1000, 2000)  # stages traced before, around and after the kill
PORTS = REALTIME.ports
assert PORTS.algod2 is not None
SECOND = f"http://127.0.0.1:{PORTS.algod2}"
RELAY = f"http://127.0.0.1:{PORTS.algod}"


@pytest.fixture(scope="module")
def realtime(realtime_net: LocalNet) -> LocalNet:
    return realtime_net


def test_second_node_is_a_node_of_the_same_network(realtime: LocalNet) -> None:
    status = realtime.status()
    node = next(s for s in status.services if s.name == SECOND_ALGOD)
    assert node.healthy and node.pid is not None
    assert status.algod2_url == "http://localhost:4111"
    assert status.algod2_last_round is not None and status.algod2_last_round > 0


def test_killing_the_algod_a_run_writes_through_loses_and_doubles_nothing(
    realtime: LocalNet, realtime_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # KMD (the LocalNet account) of this network, not 4002; the second node first: it is the
    # one killed.
    monkeypatch.setenv(ALGOD_SERVERS_VAR, f"{SECOND},{RELAY}")
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    algod = tracer.settings.algorand.client.algod
    assert isinstance(algod, FailoverAlgodClient)
    node = realtime._service(SECOND_ALGOD)
    pid = node.pid()
    assert pid is not None
    killed = threading.Event()

    def kill_second_node() -> None:
        os.kill(pid, signal.SIGKILL)  # no shutdown: whatever it had in its pool is gone with it
        killed.set()

    try:
        with tracer.experiment("algod-failover", output_dir=tmp_path / "out",
                               flush_interval=0.2) as exp:
            for step in range(RECORDS):
                if step in PARAMS_AT_STEPS:
                    exp.trace_params({"lr": 0.1, "step": step}, name=f"params-{step}")
                if step == KILL_AT_STEP:
                    served_before_kill = algod.failover.log.served[SECOND]
                    threading.Thread(target=kill_second_node).start()
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
                time.sleep(0.004)
            assert killed.wait(10)
        manifest = Manifest.read(exp.summary.manifest_path)
        algorand = tracer.settings.algorand
        # the `with` block ended the run, which seals it on chain (so the seal has its round)
        assert exp.summary.sealed
        assert manifest.seal is not None and manifest.seal.round is not None
        wait_for_round(algorand.client.indexer, manifest.seal.round, algod=algod, timeout=120)
        notes = iter_transactions(
            algorand.client.indexer,
            note_prefix=experiment_note_prefix(parse_id(manifest.experiment_id)))
        seqs = sorted(r.seq for t in notes
                      for r in decode_note(base64.b64decode(t["note"])).records)
        header = tracer.registry.header(parse_id(manifest.experiment_id))
        report = verify_experiment(algorand, manifest.app_id, manifest.experiment_id,
                                   manifest=manifest, indexer_timeout=120)
    finally:
        restarted = realtime.start()  # brings back only what is not running: the second node

    print(f"\nfailover: {RECORDS} records, served {dict(algod.failover.log.served)}, "
          f"failovers {[(old, new, why) for _, old, new, why in algod.failover.log.failovers]}")
    assert restarted.healthy, restarted.model_dump_json(indent=2)
    assert seqs == list(range(RECORDS))  # every journaled record on chain exactly once
    assert sum(b.count for b in manifest.batches) == RECORDS
    assert header is not None and header.sealed
    assert header.stage_count == len(manifest.stages)  # no stage landed twice
    assert len(manifest.stages) == len(PARAMS_AT_STEPS)
    assert report.ok, report.model_dump_json(indent=2)
    assert report.counts.note_records == RECORDS
    # The run wrote through the second node until it died, then through the relay.
    assert served_before_kill > 0
    assert [(old, new) for _, old, new, _ in algod.failover.log.failovers] == [(SECOND, RELAY)]
    assert algod.failover.log.served[RELAY] > 0
