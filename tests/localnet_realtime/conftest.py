"""The realtime LocalNet profile (DevMode off, ~3 s blocks), shared by this folder's tests.

Kept out of tests/localnet/ on purpose: that folder's autouse fixture starts (or reuses) the
DevMode LocalNet, which these tests must neither need nor touch. The profile runs in its own
directory on its own ports; it is stopped afterwards only if it was not running before (someone's
benchmark network stays up).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from algo_tracer.errors import LocalnetUnavailableError
from algo_tracer.localnet import REALTIME, LocalNet
from algo_tracer.localnet.build import ensure_binaries
from algo_tracer.network.endpoints import ALGOD_SERVERS_VAR, INDEXER_SERVERS_VAR


@pytest.fixture(scope="session")
def realtime_net() -> Iterator[LocalNet]:
    try:
        ensure_binaries(progress=lambda _: None)
    except LocalnetUnavailableError as exc:
        if os.environ.get("ALGO_TRACER_REQUIRE_LOCALNET") == "1":
            raise
        pytest.skip(f"the native LocalNet's programs cannot be built here "
                    f"({exc.message.splitlines()[0]})")
    net = LocalNet(profile=REALTIME, progress=lambda _: None)
    was_running = net.status().healthy
    status = net.start()
    assert status.healthy, status.model_dump_json(indent=2)
    yield net
    if not was_running:
        net.stop()


@pytest.fixture
def realtime_env(realtime_net: LocalNet, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The process environment pointed at the realtime network (its KMD account, a registry
    deployed on first use), with no endpoint lists or app id left over from elsewhere."""
    env = REALTIME.environment()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("ALGO_TRACER_APP_ID", "ALGO_TRACER_MNEMONIC", ALGOD_SERVERS_VAR,
                INDEXER_SERVERS_VAR):
        monkeypatch.delenv(key, raising=False)
    return env
