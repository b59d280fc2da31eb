"""The page checks a stored file's bytes in the browser: LocalNet, the LocalNet's kubo, a real
uvicorn server and headless Chromium.

One experiment is traced with a model file and a data directory stored on IPFS, a stored stage
whose CID holds other content (the replaced-content case of test_ipfs_fetch_verify.py: the
stored stage names the model's digest, its CID is a decoy's), and a stored stage whose upload
never happened (the node was down: no node has its CID). The API streams a stored file equal to
the traced bytes with its length, answers 409 for the directory, 404 for a stage that is not a
stored one and "not retrievable" for a CID no node serves or a node that is down. In the
browser, "check" beside the model's IPFS link shows the match, beside the replaced one the
mismatch, beside the never-uploaded one "not retrievable"; every request goes to the server.

Without an IPFS node the module is skipped (ALGO_TRACER_REQUIRE_LOCALNET=1 fails it instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from verify_helpers import LOCALNET_ENV
from web_helpers import browser_api, client, page_on_server, serving

from algo_tracer import Tracer
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.stored import StoredDetail, stored_digest
from algo_tracer.errors import NetworkError
from algo_tracer.hashing import hash_file
from algo_tracer.hashing.unixfs import cid_of_path
from algo_tracer.network.ipfs import IpfsClient, IpfsSettings
from algo_tracer.web.app import create_app

sync_api = browser_api()

MODEL = bytes(range(256)) * 4096 + os.urandom(64)  # 1 MiB and a little: several chunks


@dataclass
class Stored:
    app_id: int
    experiment_id: str
    model: Path
    decoy: Path
    index: dict[str, int]  # stored stage index (kind 25) by the label of the stage it stores


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ALGO_TRACER_APP_ID", raising=False)
        mp.delenv("ALGO_TRACER_MNEMONIC", raising=False)
        mp.delenv("ALGO_TRACER_IPFS_API", raising=False)  # the LocalNet's kubo
        for key, value in LOCALNET_ENV.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def node(localnet, env) -> IpfsClient:
    ipfs = IpfsClient()
    try:
        ipfs.version()
    except NetworkError as exc:
        if os.environ.get("ALGO_TRACER_REQUIRE_LOCALNET") == "1":
            raise
        pytest.skip(f"no IPFS node: {exc.message} ({exc.fix})")
    return ipfs


@pytest.fixture(scope="module")
def base(localnet, env) -> Iterator[str]:
    with serving(create_app(client(), indexer_timeout=120)) as url:
        yield url


@pytest.fixture(scope="module")
def stored(node: IpfsClient, base: str, tmp_path_factory: pytest.TempPathFactory) -> Stored:
    root = tmp_path_factory.mktemp("stored-check")
    model = root / "model.bin"
    model.write_bytes(MODEL)
    data = root / "iris"
    (data / "splits").mkdir(parents=True)
    (data / "splits" / "train.csv").write_text("sepal,petal,label\n5.1,1.4,0\n")
    decoy = root / "decoy.bin"
    decoy.write_bytes(b"weights swapped after training" * 1000 + os.urandom(16))
    assert node.add(decoy, None) == cid_of_path(decoy)  # the node really holds the decoy
    lost = root / "lost.bin"
    lost.write_bytes(os.urandom(4096))  # content no node holds

    tracer = Tracer.from_environment(state_dir=root / "state")
    with tracer.experiment("web-stored-check", output_dir=root / "run") as exp:
        exp.trace_model(model, "final", store=True)
        exp.trace_data("iris", data, store=True)
        receipt = exp.trace_model(model, "replaced")
        # The stored stage says the model is at the decoy's CID: the content was replaced.
        claim = StoredDetail(stage=receipt.label, index=receipt.index, digest=receipt.digest,
                             scheme="file", cid=cid_of_path(decoy), type="file",
                             name="model.bin")
        exp.trace_digest(StageKind.STORED, receipt.label,
                         stored_digest(claim, exp.row.json_scheme), claim.model_dump(mode="json"))
        tracer._ipfs = IpfsClient(IpfsSettings(api="http://127.0.0.1:9"))  # the node is down
        exp.trace_model(lost, "lost", store=True)
    summary = exp.summary

    view = httpx.get(f"{base}/api/apps/{summary.app_id}/experiments/"
                     f"{summary.experiment_id}", timeout=180).json()
    assert view["verified"], view["report"]["findings"]
    index = {ref["stage"]: ref["index"] for ref in view["report"]["stored"]}
    assert set(index) == {"model:final", "data:iris", "model:replaced", "model:lost"}
    return Stored(summary.app_id, summary.experiment_id, model, decoy, index)


def content(base: str, s: Stored, index: int) -> httpx.Response:
    return httpx.get(f"{base}/api/apps/{s.app_id}/experiments/{s.experiment_id}/stored/{index}",
                     timeout=180)


# -- the API ----------------------------------------------------------------------------------


def test_the_api_streams_a_stored_file_equal_to_the_traced_one_with_its_length(
        base: str, stored: Stored) -> None:
    answer = content(base, stored, stored.index["model:final"])

    assert answer.status_code == 200, answer.text
    assert answer.content == MODEL
    assert answer.headers["Content-Length"] == str(len(MODEL))  # the size kubo states
    assert answer.headers["Content-Type"] == "application/octet-stream"


def test_a_stored_directory_is_409_naming_algo_tracer_fetch(base: str, stored: Stored) -> None:
    answer = content(base, stored, stored.index["data:iris"])

    assert answer.status_code == 409
    problem = answer.json()
    assert problem["state"] == "stored_directory"
    assert f"algo-tracer fetch {stored.experiment_id}" in problem["message"]
    assert "--stage data:iris" in problem["message"]


def test_a_stage_that_is_not_a_stored_one_is_404(base: str, stored: Stored) -> None:
    model_stage = stored.index["model:final"] - 1  # the model's own stage (kind model)

    answer = content(base, stored, model_stage)

    assert answer.status_code == 404 and answer.json()["state"] == "not_stored"


def test_a_cid_no_node_serves_is_not_retrievable(base: str, stored: Stored) -> None:
    answer = content(base, stored, stored.index["model:lost"])

    assert answer.status_code in (502, 504), answer.text
    problem = answer.json()
    assert problem["state"] == "not_retrievable"
    assert "model:lost is not retrievable" in problem["message"]


def test_an_ipfs_node_that_is_down_is_not_retrievable(stored: Stored) -> None:
    down = create_app(client(), indexer_timeout=120,
                      ipfs=lambda: IpfsClient(IpfsSettings(api="http://127.0.0.1:9")))
    with serving(down) as url:
        answer = content(url, stored, stored.index["model:final"])

    assert answer.status_code == 502
    assert answer.json()["state"] == "not_retrievable"
    assert "http://127.0.0.1:9 is not reachable" in answer.json()["message"]


# -- the page ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(stored: Stored) -> Iterator[Any]:
    with page_on_server(sync_api) as page:
        page.requests = []
        page.on("request", lambda r: page.requests.append((r.method, r.url)))
        page.goto(f"{page.base}/?app={stored.app_id}&id={stored.experiment_id}")
        page.wait_for_selector("body[data-state=ready]", timeout=180_000)
        yield page
        assert page.requests and all(
            method == "GET" and url.startswith(page.base + "/")
            for method, url in page.requests), page.requests


def check(page: Any, stored: Stored, stage: str, verdict: str) -> Any:
    """Click "check" beside the stage's IPFS link; the result line once it has a verdict."""
    page.click(f"button.check-stored[data-stored='{stored.index[stage]}']")
    line = page.locator(f"#stored-results li.stored-result.{verdict}"
                        f"[data-stored='{stored.index[stage]}']")
    line.wait_for(timeout=120_000)
    return line


def test_a_stored_model_checked_in_the_browser_matches_its_on_chain_digest(
        page: Any, stored: Stored) -> None:
    line = check(page, stored, "model:final", "match")

    text = line.inner_text()
    assert "✓ matches the on-chain digest" in text
    assert str(hash_file(stored.model)) in text
    assert "which is stage" in text and "(model:final)'s on-chain digest" in text
    assert line.get_attribute("data-done") == str(len(MODEL))  # progress reached every byte
    assert any("/stored/" in url for _, url in page.requests)


def test_a_stored_stage_whose_cid_holds_other_content_does_not_match(
        page: Any, stored: Stored) -> None:
    line = check(page, stored, "model:replaced", "mismatch")

    text = line.inner_text()
    assert "✗ DOES NOT match the on-chain digest" in text
    assert str(hash_file(stored.decoy)) in text  # what the CID really holds
    assert "matches the on-chain digest" not in text


def test_a_stored_file_no_node_serves_is_not_retrievable_in_the_browser(
        page: Any, stored: Stored) -> None:
    line = check(page, stored, "model:lost", "unretrievable")

    text = line.inner_text()
    assert "not retrievable" in text
    assert "DOES NOT match" not in text and "matches" not in text


def test_a_stored_directory_has_no_check_button(page: Any, stored: Stored) -> None:
    assert page.locator(f"button.check-stored[data-stored='{stored.index['data:iris']}']"
                        ).count() == 0
    assert page.locator("button.check-stored").count() == 3
