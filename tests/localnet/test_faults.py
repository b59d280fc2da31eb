"""Faults a researcher meets: the node restarts mid-run. Nothing is lost, nothing doubled."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import pytest
from lifecycle_helpers import use_network

from algo_tracer import Manifest, Tracer, parse_id
from algo_tracer.format.notes import decode_note, experiment_note_prefix
from algo_tracer.localnet import LocalNet
from algo_tracer.network.indexer import iter_transactions, wait_for_round


def test_algod_restart_during_a_trace_loses_and_doubles_nothing(
    second_network: LocalNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = second_network
    net.start()
    use_network(net, monkeypatch)
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    restarted = threading.Event()

    def restart_algod() -> None:
        net.stop(["algod"])
        time.sleep(3)
        net.start()
        restarted.set()

    with tracer.experiment("algod-restart", output_dir=tmp_path / "out",
                           flush_interval=0.2) as exp:
        exp.trace_params({"lr": 0.1})
        for step in range(2000):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
            if step == 700:
                threading.Thread(target=restart_algod).start()
            time.sleep(0.001)
        assert restarted.wait(60)

    manifest = Manifest.read(exp.summary.manifest_path)
    algorand = tracer.settings.algorand
    # the `with` block ended the run, which seals it on chain (so the seal has its round)
    assert manifest.seal is not None and manifest.seal.round is not None
    wait_for_round(algorand.client.indexer, manifest.seal.round, algod=algorand.client.algod,
                   timeout=120)
    notes = iter_transactions(algorand.client.indexer,
                              note_prefix=experiment_note_prefix(parse_id(manifest.experiment_id)))
    seqs = sorted(r.seq for t in notes for r in decode_note(base64.b64decode(t["note"])).records)
    assert exp.summary.sealed
    assert seqs == list(range(2000))  # every journaled record on chain exactly once
    assert sum(b.count for b in manifest.batches) == 2000


def test_finish_with_the_node_down_gives_up_after_its_timeout_and_resume_seals_it_later(
    second_network: LocalNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from algo_tracer import SealTimeoutError

    net = second_network
    net.start()
    use_network(net, monkeypatch)
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    exp = tracer.experiment("node-down-at-exit", output_dir=tmp_path / "out",
                            flush_interval=0.2)
    exp.trace_params({"lr": 0.1})
    for step in range(500):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    net.stop(["algod"])  # on purpose: the supervisor leaves it down
    try:
        started = time.monotonic()
        with pytest.raises(SealTimeoutError) as left:
            exp.finish(timeout=5)
        waited = time.monotonic() - started
        assert "algo-tracer resume" in (left.value.fix or "") and exp.id_text in left.value.message
        assert waited < 60  # the timeout, plus the writer's current step
        assert tracer.journal.experiment(exp.id).status != "sealed"
    finally:
        net.start()

    (summary,) = tracer.resume(exp.id)

    manifest = Manifest.read(summary.manifest_path)
    assert summary.sealed and sum(b.count for b in manifest.batches) == 500
    assert manifest.seal is not None and manifest.seal.round is not None
