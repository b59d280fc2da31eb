"""`GET /api/apps/{app_id}/experiments/{experiment_id}/stored/{index}` offline: the web server
with the experiment's verification (`lookup`) and the IPFS node replaced by fakes of our own
interfaces, served by a real uvicorn on loopback so that a cut stream is seen as a client sees it.

Also: `report.stored` as verification fills it from a traced experiment (fake chain), and
`IpfsClient.open_cat` against a stand-in HTTP endpoint (a node that states a size, then stops
short). The real kubo and the real chain: tests/localnet/test_web_stored_check.py.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
import uvicorn
from algokit_utils import AlgoClientNetworkConfig, AlgorandClient, SigningAccount
from algosdk import account
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from test_writer_exactly_once import APP_ID, FakeChain, FakeRegistry, Owner

from algo_tracer import Tracer, format_id
from algo_tracer.errors import NetworkError
from algo_tracer.hashing.unixfs import cid_of_path
from algo_tracer.network.ipfs import IpfsClient, IpfsSettings, NotRetrievableError
from algo_tracer.network.settings import Settings
from algo_tracer.record.manifest_builder import build_manifest
from algo_tracer.verify.cached import VerifyOutcome
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.report import StoredRef, VerificationReport
from algo_tracer.verify.result_cache import CacheKey
from algo_tracer.verify.stored_refs import note_stored
from algo_tracer.web.app import create_app

EID = format_id(bytes(range(32)))
MODEL = bytes(range(256)) * 2000
MODEL_REF = StoredRef(index=1, named_index=0, stage="model:final", cid="bafkmodel", type="file",
                      digest=hashlib.sha256(MODEL).hexdigest(), scheme="file", name="model.bin")
DATA_REF = StoredRef(index=3, named_index=2, stage="data:iris", cid="bafydata", type="directory",
                     digest="ab" * 32, scheme="directory", name="iris")


class FakeStream:
    def __init__(self, data: bytes, size: int | None, cut_after: int | None) -> None:
        self.data, self._size, self.cut_after, self.closed = data, size, cut_after, False

    @property
    def size(self) -> int | None:
        return self._size

    def chunks(self) -> Iterator[bytes]:
        for at in range(0, len(self.data), 4096):
            if self.cut_after is not None and at >= self.cut_after:
                raise NotRetrievableError("the node stopped serving", fix="retry")
            yield self.data[at:at + 4096]

    def close(self) -> None:
        self.closed = True


class FakeNode:
    api = "fake://ipfs"

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.failure: NetworkError | None = None
        self.size_known = True
        self.cut_after: int | None = None
        self.streams: list[FakeStream] = []

    def open_cat(self, cid: str) -> FakeStream:
        self.asked.append(cid)
        if self.failure is not None:
            raise self.failure
        stream = FakeStream(MODEL, len(MODEL) if self.size_known else None, self.cut_after)
        self.streams.append(stream)
        return stream


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app: object) -> Iterator[str]:
    port = free_port()
    # log_level critical: uvicorn logs each deliberately cut response as an error.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def node() -> FakeNode:
    return FakeNode()


@pytest.fixture
def base(node: FakeNode, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    report = VerificationReport(experiment_id=EID, app_id=7, source="network", owner="OWNER",
                                stored=[MODEL_REF, DATA_REF],
                                stored_cids={0: MODEL_REF.cid, 2: DATA_REF.cid})
    looked_up: list[tuple[int, str]] = []

    def lookup(verifier, app_id, experiment_id, **_kw):
        looked_up.append((app_id, experiment_id))
        return VerifyOutcome(report, "computed", CacheKey.of("g", app_id, experiment_id), 10, 0.0)

    monkeypatch.setattr("algo_tracer.web.app.lookup", lookup)
    config = AlgoClientNetworkConfig("http://127.0.0.1", "a" * 64, 9)  # never asked
    app = create_app(AlgorandClient.from_config(config, config), default_app_id=1,
                     ipfs=lambda: node)
    with served(app) as url:
        yield url
    assert all(looked == (7, EID) for looked in looked_up)


def stored(base: str, index: int | str) -> httpx.Response:
    return httpx.get(f"{base}/api/apps/7/experiments/{EID}/stored/{index}", timeout=30)


def test_a_stored_file_streams_from_the_node_with_its_length(base: str, node: FakeNode) -> None:
    answer = stored(base, 1)

    assert answer.status_code == 200 and answer.content == MODEL
    assert answer.headers["Content-Length"] == str(len(MODEL))
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert "filename*=UTF-8''model.bin" in answer.headers["Content-Disposition"]
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert node.asked == ["bafkmodel"]
    deadline = time.monotonic() + 5  # the client may have every byte before the server is done
    while not node.streams[0].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.streams[0].closed  # the node's response is closed, not left to the collector


@pytest.mark.parametrize("index", [0, 2, 99])
def test_only_the_cids_the_chain_states_for_the_experiment_are_served(
        base: str, node: FakeNode, index: int) -> None:
    answer = stored(base, index)  # 0, 2: stages whose content is stored, not stored stages

    assert answer.status_code == 404
    problem = answer.json()
    assert problem["state"] == "not_stored" and f"no stored stage at index {index}" in problem[
        "message"] and "report.stored" in problem["fix"]
    assert node.asked == []


def test_a_stored_directory_is_409_naming_the_fetch_command(base: str, node: FakeNode) -> None:
    answer = stored(base, 3)

    assert answer.status_code == 409
    problem = answer.json()
    assert problem["state"] == "stored_directory"
    assert f"`algo-tracer fetch {EID} --app-id 7 --stage data:iris`" in problem["message"]
    assert node.asked == []


@pytest.mark.parametrize(("failure", "status"), [
    (NotRetrievableError("the IPFS node did not serve bafkmodel within 30 s", fix="pin it"), 504),
    (NetworkError("the IPFS node at fake://ipfs is not reachable", fix="start it"), 502)])
def test_a_node_that_cannot_serve_the_cid_is_not_retrievable(
        base: str, node: FakeNode, failure: NetworkError, status: int) -> None:
    node.failure = failure

    answer = stored(base, 1)

    assert answer.status_code == status
    problem = answer.json()
    assert problem["state"] == "not_retrievable"
    assert problem["message"].startswith("model:final is not retrievable: ")
    assert problem["fix"] == failure.fix


@pytest.mark.parametrize("size_known", [True, False])
def test_a_stream_cut_by_the_node_never_reaches_the_client_as_complete(
        base: str, node: FakeNode, size_known: bool) -> None:
    node.size_known, node.cut_after = size_known, 3 * 4096

    with pytest.raises(httpx.RemoteProtocolError):  # short of Content-Length / no last chunk
        stored(base, 1)
    deadline = time.monotonic() + 5
    while not node.streams[0].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.streams[0].closed


def test_a_bad_ipfs_setting_is_a_config_problem_naming_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_IPFS_API", "ftp://127.0.0.1:5001")
    report = VerificationReport(experiment_id=EID, app_id=7, source="network", owner="O",
                                stored=[MODEL_REF])
    monkeypatch.setattr("algo_tracer.web.app.lookup", lambda *a, **k: VerifyOutcome(
        report, "computed", CacheKey.of("g", 7, EID), 10, 0.0))
    config = AlgoClientNetworkConfig("http://127.0.0.1", "a" * 64, 9)
    with served(create_app(AlgorandClient.from_config(config, config), default_app_id=1)) as b:
        answer = stored(b, 1)

    assert answer.status_code == 500
    assert answer.json()["state"] == "config_error"
    assert "ALGO_TRACER_IPFS_API" in answer.json()["message"]


# -- report.stored, as verification fills it ------------------------------------------------


def test_verification_lists_each_stored_stage_with_its_type_and_digest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Node:
        api = "fake://ipfs"

        def add(self, path, entries, on_bytes=None) -> str:
            return cid_of_path(path)

        def pin(self, cid: str) -> None:
            pass

        def cat(self, cid: str) -> Iterator[bytes]:
            raise AssertionError("tracing never reads back")

        def get_tar(self, cid: str) -> BinaryIO:
            raise AssertionError("tracing never reads back")

    key, address = account.generate_account()
    settings = Settings(algorand=AlgorandClient.default_localnet(),
                        account=SigningAccount(private_key=key), app_id=APP_ID,
                        state_dir=tmp_path / "state", is_localnet=True, genesis_id="fake-v1",
                        genesis_hash="ZmFrZQ==")
    tracer = Tracer(settings, output_root=tmp_path / "runs", ipfs=Node())
    chain = FakeChain()
    tracer.registry = FakeRegistry(chain, Owner(address, AccountTransactionSigner(key)))
    monkeypatch.setattr("algo_tracer.record.tracer.check_funds", lambda settings: None)
    model, data = tmp_path / "model.bin", tmp_path / "iris"
    model.write_bytes(MODEL)
    (data / "splits").mkdir(parents=True)
    (data / "splits" / "train.csv").write_text("x,y\n1,2\n")
    with tracer.experiment("stored") as exp:
        r_model = exp.trace_model(model, "final", store=True)
        exp.trace_data("iris", data, store=True)
    ev = Evidence(exp.id, APP_ID, None, list(chain.experiments[exp.id].stages))
    report = VerificationReport(experiment_id=format_id(exp.id), app_id=APP_ID, source="network")

    note_stored(ev, report, build_manifest(tracer.journal, exp.id))

    assert [(r.index, r.named_index, r.stage, r.type, r.cid) for r in report.stored] == [
        (1, 0, "model:final", "file", cid_of_path(model)),
        (3, 2, "data:iris", "directory", cid_of_path(data))]
    assert report.stored[0].digest == r_model.digest == hashlib.sha256(MODEL).hexdigest()
    assert report.stored_cids == {0: cid_of_path(model), 2: cid_of_path(data)}


# -- IpfsClient.open_cat against a stand-in endpoint -----------------------------------------


class _Kubo(BaseHTTPRequestHandler):
    """/api/v0/cat?arg=whole: the bytes with X-Content-Length; arg=short: X-Content-Length, then
    half of them; arg=gone: kubo's error for a block an offline node does not have."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if "arg=gone" in self.path:
            body = b'{"Message":"block was not found locally (offline)","Code":0,"Type":"error"}'
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("X-Content-Length", str(len(MODEL)))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        data = MODEL if "arg=whole" in self.path else MODEL[:len(MODEL) // 2]
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")

    def log_message(self, *_args: object) -> None:
        pass


def test_open_cat_states_the_size_and_a_short_stream_is_not_retrievable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Kubo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = IpfsClient(IpfsSettings(api=f"http://127.0.0.1:{server.server_address[1]}",
                                         timeout=5))
        whole = client.open_cat("whole")
        assert whole.size == len(MODEL) and b"".join(whole.chunks()) == MODEL
        assert b"".join(client.cat("whole")) == MODEL
        short = client.open_cat("short")
        with pytest.raises(NotRetrievableError, match=f"served {len(MODEL) // 2} of the "
                                                      f"{len(MODEL)} bytes of short"):
            b"".join(short.chunks())
        with pytest.raises(NotRetrievableError, match="block was not found locally"):
            client.open_cat("gone")
    finally:
        server.shutdown()
        server.server_close()
