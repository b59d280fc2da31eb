"""`algo-tracer serve`'s JSON API against a real experiment on LocalNet (a real uvicorn server).

Covers the timeline and its server-side statuses (the same `verify_experiment` report as
`algo-tracer verify`), the shareable link, the OpenAPI schema, and the states without a report:
unknown experiment or app, malformed input, network down, Indexer behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from verify_helpers import LOCALNET_ENV, Traced, a_note, closed_port, send_note, trace_experiment
from web_helpers import client, free_port, lagging_indexer, serving

from algo_tracer import Tracer, format_id
from algo_tracer.verify import verify_experiment
from algo_tracer.verify.report import VerificationReport
from algo_tracer.verify.reproductions import attach_reproductions
from algo_tracer.web.app import STATIC, create_app


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, localnet) -> Traced:
    tracer = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))
    return trace_experiment(tracer, tmp_path_factory.mktemp("web"), "web-api", metrics=150,
                            private=10)


@pytest.fixture(scope="module")
def base(localnet) -> Iterator[str]:
    with serving(create_app(client(), indexer_timeout=120)) as url:
        yield url


def url_of(t: Traced, experiment_id: str | None = None, app_id: int | None = None) -> str:
    return f"/api/apps/{app_id or t.app_id}/experiments/{experiment_id or t.experiment_id}"


def get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, timeout=180)


def test_the_timeline_lists_every_write_in_chain_order(traced: Traced, base: str) -> None:
    response = get(base, url_of(traced))

    assert response.status_code == 200, response.text
    view = response.json()
    assert view["verified"] and view["sealed"] and view["app_id"] == traced.app_id
    timeline = view["timeline"]
    assert timeline[0]["type"] == "created" and timeline[-1]["type"] == "sealed"
    stages = [e for e in timeline if e["type"] == "stage"]
    assert [e["index"] for e in stages] == list(range(8))
    assert [e["kind"] for e in stages] == ["seed", "environment", "code", "data", "data",
                                           "params", "model", "metrics"]
    rounds = [e["round"] for e in timeline]
    assert rounds == sorted(rounds) and all(e["time"] for e in timeline)
    assert {e["recorder"] for e in timeline} == {traced.owner.address}
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", e["digest"]) for e in stages)
    model_bytes = (traced.artifacts / "model.bin").read_bytes()
    assert stages[6]["digest"] == "sha256:" + hashlib.sha256(model_bytes).hexdigest()
    batches = [e for e in timeline if e["type"] == "batch"]
    assert sum(int(e["kind"].split()[0]) for e in batches) == 160
    assert any(e["label"] == "private batch" and e["status"] == "undisclosed" for e in batches)


def test_statuses_come_from_the_same_verify_report_as_the_cli(traced: Traced,
                                                              base: str) -> None:
    view = get(base, url_of(traced)).json()
    report = VerificationReport.model_validate(view["report"])
    # As `algo-tracer verify` does: steps 1-8, then step 15 (reproductions found on chain).
    direct = attach_reproductions(traced.algorand, verify_experiment(
        traced.algorand, traced.app_id, traced.experiment_id, indexer_timeout=120))

    def essence(r: VerificationReport) -> dict:
        # The page's report may be the cached one, read some rounds earlier (docs/web.md §7).
        out = r.model_dump(exclude={"verified_at", "elapsed_seconds", "data_round"})
        for check in out["checks"]:
            if check["step"] == 0:
                check["detail"] = re.sub(r"round \d+", "round R", check["detail"])
        return out

    assert essence(report) == essence(direct)
    stage_rows = [e for e in view["timeline"] if e["type"] == "stage"]
    assert [(e["status"], e["ok"]) for e in stage_rows] == [
        (s.status.value, True) for s in direct.stages]
    assert {s.status.value for s in direct.stages} == {"recorded"}  # no manifest, no file


def test_the_shareable_link_serves_the_page_and_everything_is_local(traced: Traced,
                                                                   base: str) -> None:
    link = get(base, url_of(traced)).json()["link"]
    assert link == f"/?app={traced.app_id}&id={traced.experiment_id}"

    page = get(base, link)

    assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("index.html", "app.js", "style.css", "hash-worker.js", "file-digest.js"):
        text = (STATIC / name).read_text()
        assert get(base, f"/static/{name}").status_code == 200
        assert not re.search(r"(src|href)=[\"']?(https?:)?//|@import|url\(\s*[\"']?https?:",
                             text), f"{name} loads something from elsewhere"
    assert 'new Worker("/static/hash-worker.js")' in (STATIC / "app.js").read_text()
    assert "createSHA256" in (STATIC / "hash-worker.js").read_text()


def test_the_openapi_schema_describes_the_routes(base: str) -> None:
    schema = get(base, "/api/openapi.json").json()

    lookup = schema["paths"]["/api/apps/{app_id}/experiments/{experiment_id}"]["get"]
    assert lookup["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ExperimentView")
    for code in ("404", "422", "503"):
        assert lookup["responses"][code]["content"]["application/json"]["schema"][
            "$ref"].endswith("/Problem")
    assert "/api/status" in schema["paths"]
    assert {"ExperimentView", "TimelineEntry", "VerificationReport", "Problem",
            "NetworkStatus"} <= schema["components"]["schemas"].keys()
    assert get(base, "/docs").status_code == 404  # Swagger UI would load a CDN


def test_status_names_the_network(base: str) -> None:
    status = get(base, "/api/status").json()

    assert status["genesis_id"] == "dockernet-v1" and status["is_localnet"] is True
    assert status["state"] in ("ok", "indexer_behind")
    assert status["algod"]["ok"] and status["indexer"]["ok"] and status["algod"]["round"] > 0
    assert status["algod"]["url"] == "http://127.0.0.1:4001"


def test_an_unknown_experiment_is_404(traced: Traced, base: str) -> None:
    other = format_id(os.urandom(32))

    response = get(base, url_of(traced, experiment_id=other))

    assert response.status_code == 404
    problem = response.json()
    assert problem["state"] == "unknown_experiment"
    assert other in problem["message"] and f"app {traced.app_id}" in problem["message"]
    assert "dockernet-v1" in problem["message"] and problem["fix"]


def test_an_unknown_app_is_404(traced: Traced, base: str) -> None:
    response = get(base, url_of(traced, app_id=2**62))

    assert response.status_code == 404
    assert response.json()["state"] == "unknown_app"


@pytest.mark.parametrize(("app", "experiment", "says"), [
    ("1", "not-base58!", "not base58"),
    ("1", "1" * 44, "not 32"),
    ("0", "x", "greater than or equal to 1"),
    ("abc", "x", "app_id"),
])
def test_malformed_input_is_422_with_the_reason(base: str, app: str, experiment: str,
                                                says: str) -> None:
    response = get(base, f"/api/apps/{app}/experiments/{experiment}")

    assert response.status_code == 422
    assert response.json()["state"] == "invalid_input" and says in response.json()["message"]


def test_algod_down_is_network_down(traced: Traced) -> None:
    with serving(create_app(client(algod_port=closed_port()))) as url:
        response = get(url, url_of(traced))
        status = get(url, "/api/status").json()

    assert response.status_code == 503
    problem = response.json()
    assert problem["state"] == "network_down" and "algod" in problem["message"]
    assert problem["network"]["algod"]["ok"] is False
    assert status["state"] == "network_down" and status["algod"]["error"]


def test_indexer_down_is_network_down(traced: Traced) -> None:
    with serving(create_app(client(indexer_port=closed_port()))) as url:
        response = get(url, url_of(traced))

    assert response.status_code == 503
    problem = response.json()
    assert problem["state"] == "network_down" and "Indexer" in problem["message"]
    assert problem["network"]["algod"]["ok"] and not problem["network"]["indexer"]["ok"]


def test_a_lagging_indexer_is_indexer_behind_with_retry_after(traced: Traced) -> None:
    with lagging_indexer(round_=1) as port, \
            serving(create_app(client(indexer_port=port), indexer_timeout=0.5)) as url:
        response = get(url, url_of(traced))
        status = get(url, "/api/status").json()

    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    problem = response.json()
    assert problem["state"] == "indexer_behind" and problem["retry_after"] == 5
    assert problem["network"]["indexer"]["round"] == 1 and problem["network"]["indexer_lag"] > 2
    assert "behind algod" in problem["message"]
    assert status["state"] == "indexer_behind"


def test_a_tampered_experiment_is_shown_as_failed(traced: Traced, base: str,
                                                  tmp_path: Path) -> None:
    victim = trace_experiment(traced.tracer, tmp_path, "web-victim", metrics=100, private=0)
    send_note(victim.algorand, victim.owner, a_note(victim))  # an owner note replayed

    view = get(base, url_of(victim)).json()

    assert view["verified"] is False
    codes = {f["code"] for f in view["report"]["findings"]}
    assert "not_anchored" in codes
    assert any(c["status"] == "fail" and c["step"] == 5 for c in view["report"]["checks"])


def test_the_network_and_app_come_from_the_environment(
        traced: Traced, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALGO_TRACER_APP_ID", str(traced.app_id))

    with serving(create_app(indexer_timeout=120)) as url:
        status = get(url, "/api/status").json()
        response = get(url, url_of(traced))

    assert status["default_app_id"] == traced.app_id
    assert status["algod"]["url"] == "http://localhost:4001"
    assert response.status_code == 200 and response.json()["verified"]


def test_algo_tracer_serve_runs_the_server(traced: Traced) -> None:
    port = free_port()
    env = {**os.environ, **LOCALNET_ENV}
    cli = Path(sys.executable).parent / "algo-tracer"
    proc = subprocess.Popen([str(cli), "serve", "--port", str(port), "--app-id",
                             str(traced.app_id)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=10)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "algo-tracer serve did not start"
                time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    assert status.json()["default_app_id"] == traced.app_id
    assert page.status_code == 200 and "algo-tracer" in page.text
    assert proc.stderr is not None and f"http://127.0.0.1:{port}/" in proc.stderr.read()
