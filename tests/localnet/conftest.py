"""Every test in this folder needs the real local network (marked `localnet` automatically)."""

from __future__ import annotations

import pytest
from algokit_utils import AlgorandClient

from algo_tracer.localnet import LocalnetStatus


@pytest.fixture(autouse=True)
def _network_up(localnet: LocalnetStatus) -> None:
    """Start (or reuse) the network before any test of this folder."""


@pytest.fixture(scope="session")
def algorand(localnet: LocalnetStatus) -> AlgorandClient:
    client = AlgorandClient.default_localnet()
    client.set_suggested_params_cache_timeout(0)
    return client
