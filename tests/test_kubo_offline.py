"""The LocalNet's IPFS node without running it: the binary override, and "optional" when kubo
cannot be obtained (tests/localnet/test_ipfs_node.py runs the real kubo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import pins
from algo_tracer.localnet.kubo import Kubo, ensure_kubo
from algo_tracer.localnet.layout import Ports
from algo_tracer.localnet.status import ServiceState


def test_the_binary_override_is_used_as_given_or_refused_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "ipfs"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("ALGO_TRACER_IPFS_BIN", str(binary))
    assert ensure_kubo(lambda _: None) == binary
    monkeypatch.setenv("ALGO_TRACER_IPFS_BIN", str(tmp_path / "missing"))
    with pytest.raises(LocalnetError, match=r"ALGO_TRACER_IPFS_BIN=.* is not an executable") as e:
        ensure_kubo(lambda _: None)
    assert e.value.fix and pins.KUBO_VERSION in e.value.fix


def test_a_kubo_that_cannot_be_had_is_held_and_named_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_IPFS_BIN", str(tmp_path / "missing"))
    said: list[str] = []
    kubo = Kubo(tmp_path, Ports(ipfs_api=25011, ipfs_gateway=28011), tmp_path / "run",
                tmp_path / "logs")
    kubo.start(said.append, tmp_path / "run" / "held", "[localnet]")
    assert (tmp_path / "run" / "held" / "ipfs").exists()  # the supervisor leaves it down
    assert said == [f"[localnet] IPFS node not started (optional): ALGO_TRACER_IPFS_BIN="
                    f"{tmp_path / 'missing'} is not an executable"]
    services = [ServiceState(name="ipfs", pid=None, healthy=False),
                ServiceState(name="algod", pid=1, healthy=True)]
    kubo.explain(services)
    assert services[0].fix is not None and services[0].fix.startswith(
        "optional, not available: ALGO_TRACER_IPFS_BIN=")
    assert services[1].fix is None
    assert kubo.service.pid() is None and not (tmp_path / "ipfs").exists()


def test_kubo_is_pinned_with_the_other_programs() -> None:
    assert pins.Versions().kubo == pins.KUBO_VERSION == "v0.42.0"
    assert pins.kubo_cache_key() == "kubo-v0.42.0"


def test_a_network_started_before_its_ipfs_node_existed_says_how_to_add_it(tmp_path) -> None:
    kubo = Kubo(tmp_path, Ports(), tmp_path / "run", tmp_path / "logs")
    services = [ServiceState(name="ipfs", pid=None, healthy=False, fix="supervisor restarts it")]
    kubo.explain(services)
    assert services[0].fix is not None and "never started on this network" in services[0].fix
    (kubo.repo).mkdir()
    (kubo.repo / "config").write_text("{}")  # it ran before: the generic fix stands
    services = [ServiceState(name="ipfs", pid=None, healthy=False, fix="supervisor restarts it")]
    kubo.explain(services)
    assert services[0].fix == "supervisor restarts it"


def test_a_module_the_go_proxy_refuses_is_unavailable_with_the_answer_and_the_fix(
        tmp_path: Path) -> None:
    from algo_tracer.errors import LocalnetUnavailableError
    from algo_tracer.localnet.build import download_module

    go = tmp_path / "go"  # stands in for `go mod download -json` answering as the proxy did here
    go.write_text("#!/bin/sh\n"
                  "echo '{\"Path\": \"example.com/m\", \"Error\": \"403 Forbidden\"}'\n"
                  "exit 1\n")
    go.chmod(0o755)

    with pytest.raises(LocalnetUnavailableError) as caught:
        download_module(str(go), "example.com/m@v1.0.0", tmp_path / "download.log",
                        what="a test module", fix="use a prebuilt binary")

    assert "did not serve example.com/m@v1.0.0 (a test module): 403 Forbidden" in str(caught.value)
    assert caught.value.fix == "use a prebuilt binary"
    assert "403 Forbidden" in (tmp_path / "download.log").read_text()
