"""Every test in this folder needs the real local network (marked `localnet` automatically)."""

from __future__ import annotations

import os
import shutil

import pytest
from algokit_utils import AlgorandClient

from algo_tracer.errors import LocalnetUnavailableError
from algo_tracer.localnet import LocalNet, LocalnetStatus, Ports
from algo_tracer.localnet.build import ensure_binaries
from algo_tracer.localnet.paths import state_root

SECOND_PORTS = Ports(algod=14001, kmd=14002, follower=18081, gossip=20000, postgres=15443,
                     indexer=18980, ipfs_api=15011, ipfs_gateway=18011)


@pytest.fixture(autouse=True)
def _network_up(localnet: LocalnetStatus) -> None:
    """Start (or reuse) the network before any test of this folder."""


@pytest.fixture(scope="session")
def algorand(localnet: LocalnetStatus) -> AlgorandClient:
    client = AlgorandClient.default_localnet()
    client.set_suggested_params_cache_timeout(0)
    return client


@pytest.fixture
def second_network(localnet: LocalnetStatus):
    """A second native LocalNet on other ports, so lifecycle tests leave the shared one alone."""
    if localnet.mode != "native":
        pytest.skip("lifecycle tests drive the native LocalNet's processes")
    try:
        ensure_binaries(progress=lambda _: None)
    except LocalnetUnavailableError as exc:
        pytest.skip(f"the native LocalNet's programs cannot be built here "
                    f"({exc.message.splitlines()[0]})")
    state = state_root().parent / f"localnet-lifecycle-{os.getpid()}"
    net = LocalNet(state, SECOND_PORTS, progress=lambda _: None)
    yield net
    net.stop()
    shutil.rmtree(state, ignore_errors=True)
