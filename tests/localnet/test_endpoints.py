"""Several endpoints against the real node: a dead first endpoint costs nothing, and an endpoint of
another network is refused before it serves anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from algo_tracer import Manifest, Tracer, verify_experiment
from algo_tracer.errors import ConfigError
from algo_tracer.localnet import LocalNet, LocalnetStatus
from algo_tracer.network.endpoints import (
    ALGOD_SERVERS_VAR,
    INDEXER_SERVERS_VAR,
    FailoverAlgodClient,
    FailoverIndexerClient,
)
from algo_tracer.network.settings import client_from_environment


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_run_records_and_verifies_through_the_next_endpoint_when_the_first_is_down(
        localnet: LocalnetStatus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead_algod, dead_indexer = (f"http://127.0.0.1:{_closed_port()}" for _ in range(2))
    monkeypatch.setenv(ALGOD_SERVERS_VAR, f"{dead_algod},http://127.0.0.1:4001")
    monkeypatch.setenv(INDEXER_SERVERS_VAR, f"{dead_indexer},http://127.0.0.1:8980")
    monkeypatch.setenv("ALGOD_TOKEN", "a" * 64)
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    algod = tracer.settings.algorand.client.algod
    indexer = tracer.settings.algorand.client.indexer
    assert isinstance(algod, FailoverAlgodClient) and isinstance(indexer, FailoverIndexerClient)

    with tracer.experiment("failover", output_dir=tmp_path / "out") as exp:
        exp.trace_params({"lr": 0.1})
        for step in range(100):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
    manifest = Manifest.read(exp.summary.manifest_path)
    report = verify_experiment(tracer.settings.algorand, manifest.app_id, manifest.experiment_id,
                               manifest=manifest, indexer_timeout=120)

    assert exp.summary.sealed and report.ok, report.model_dump_json(indent=2)
    assert report.counts.note_records == 100
    # Which endpoint served what: the dead ones nothing, the live ones everything.
    assert set(algod.failover.log.served) == {"http://127.0.0.1:4001"}
    assert set(indexer.failover.log.served) == {"http://127.0.0.1:8980"}
    assert [(old, new) for _, old, new, _ in algod.failover.log.failovers] == [
        (dead_algod, "http://127.0.0.1:4001")]
    # ... and the verification says which endpoint served it.
    assert set(report.served_by) == {"algod", "indexer"}
    assert set(report.served_by["indexer"]) == {"http://127.0.0.1:8980"}


def test_an_endpoint_of_another_network_is_refused_at_start(
        second_network: LocalNet, monkeypatch: pytest.MonkeyPatch) -> None:
    second_network.start()
    other = f"http://127.0.0.1:{second_network.ports.algod}"
    monkeypatch.setenv(ALGOD_SERVERS_VAR, f"http://127.0.0.1:4001,{other}")
    monkeypatch.setenv("ALGOD_TOKEN", "a" * 64)

    with pytest.raises(ConfigError, match="another network") as err:
        client_from_environment()
    assert other in err.value.message
