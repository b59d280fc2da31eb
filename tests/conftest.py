"""Shared fixtures. Tests under tests/localnet/ run against the real local network."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from algo_tracer.cli.localnet import ensure_running
from algo_tracer.errors import LocalnetUnavailableError
from algo_tracer.localnet import LocalNet, LocalnetStatus

LOCALNET_DIR = Path(__file__).parent / "localnet"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LOCALNET_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.localnet)


@pytest.fixture(autouse=True)
def _no_mlflow_experiment_between_tests() -> Iterator[None]:
    """MLflow keeps the active experiment id in a module global and, for child processes, in
    MLFLOW_EXPERIMENT_ID: one test's experiment must not leak into the next."""
    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    yield
    # Any: a module object's globals are unknown to mypy (and mlflow is untyped here anyway).
    fluent: Any = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        fluent._active_experiment_id = None
    if before is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = before


@pytest.fixture(scope="session")
def localnet() -> LocalnetStatus:
    """The local network, started (and on first use built) if it is not running yet.

    An already running LocalNet (AlgoKit's Docker one, or the native one) is used as it is; else
    it is started as `algo-tracer localnet start` would (Docker when available). The tests are
    skipped only when the network's programs cannot be obtained on this machine at all
    (`LocalnetUnavailableError`, e.g. the Go module proxy does not serve go-algorand); set
    ALGO_TRACER_REQUIRE_LOCALNET=1 to turn that skip into a failure.
    """
    try:
        ensure_running()  # AlgoKit's Docker LocalNet where a container engine answers
        status = LocalNet().status()
    except LocalnetUnavailableError as exc:
        if os.environ.get("ALGO_TRACER_REQUIRE_LOCALNET") == "1":
            raise
        first_line = exc.message.splitlines()[0]
        pytest.skip(f"no local Algorand network can be built here ({first_line}); "
                    "see README 'Local network'")
    assert status.healthy, f"LocalNet is not healthy: {status.model_dump_json(indent=2)}"
    return status
