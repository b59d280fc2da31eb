"""The LocalNet's kubo service, run for real on ports of its own (not the shared network's).

Uses ALGO_TRACER_IPFS_BIN or the cached build of the pinned kubo; skipped when neither exists
(building kubo takes minutes; `algo-tracer localnet start` does it once).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from algo_tracer.hashing.unixfs import cid_of_path
from algo_tracer.localnet import pins
from algo_tracer.localnet.kubo import Kubo
from algo_tracer.localnet.layout import Ports
from algo_tracer.localnet.paths import cache_root
from algo_tracer.network.ipfs import IpfsClient, IpfsSettings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kubo(tmp_path: Path):
    cached = cache_root() / pins.kubo_cache_key() / "bin" / "ipfs"
    if not os.environ.get("ALGO_TRACER_IPFS_BIN") and not cached.exists():
        pytest.skip("no kubo binary: set ALGO_TRACER_IPFS_BIN or run `algo-tracer localnet start`")
    node = Kubo(tmp_path, Ports(ipfs_api=_free_port(), ipfs_gateway=_free_port()),
                tmp_path / "run", tmp_path / "logs")
    yield node
    node.service.stop()


def test_kubo_runs_offline_on_loopback_from_its_own_repository(kubo: Kubo, tmp_path) -> None:
    said: list[str] = []
    kubo.start(said.append, tmp_path / "run" / "held", "[test]")
    assert said == [] and kubo.healthy() and kubo.unavailable() is None
    config = json.loads((kubo.repo / "config").read_text())
    assert config["Addresses"]["API"] == f"/ip4/127.0.0.1/tcp/{kubo.ports.ipfs_api}"
    assert config["Addresses"]["Gateway"] == f"/ip4/127.0.0.1/tcp/{kubo.ports.ipfs_gateway}"
    assert config["Addresses"]["Swarm"] == [] and config["Bootstrap"] == []
    assert config["Discovery"]["MDNS"]["Enabled"] is False
    data = tmp_path / "d"
    (data / "empty").mkdir(parents=True)
    (data / "x.bin").write_bytes(os.urandom(600_000))
    node = IpfsClient(IpfsSettings(api=kubo.api_url, gateway=kubo.gateway_url))
    from algo_tracer.record.storing import _entries

    assert node.add(data, _entries(data)) == cid_of_path(data)
    # A traced path that is itself a symlink is its target's content (as cid_of_path computes).
    (tmp_path / "link").symlink_to(data, target_is_directory=True)
    (tmp_path / "x-link.bin").symlink_to(data / "x.bin")
    assert node.add(tmp_path / "link", _entries(tmp_path / "link")) == cid_of_path(data)
    assert node.add(tmp_path / "x-link.bin", None) == cid_of_path(data / "x.bin")
    pid = kubo.service.pid()
    kubo.start(said.append, tmp_path / "run" / "held", "[test]")  # running: left as it is
    assert kubo.service.pid() == pid
    assert kubo.service.stop() and kubo.service.pid() is None
