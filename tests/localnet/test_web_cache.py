"""The web server's result cache on LocalNet (a real uvicorn server, real experiments).

A sealed experiment is verified once, then served from the cache, and only for its own network
(genesis hash), app and experiment; concurrent identical lookups make one verification; an open
experiment's result grows as its records land; note batches come in pages; `algo-tracer verify
--cache` says where its answer came from. The shared LocalNet cannot be reset here, so "another
network" is an entry stored under another genesis hash (the offline tests switch genesis hashes
under a running verifier: tests/test_result_cache_offline.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from verify_helpers import LOCALNET_ENV, Traced, trace_experiment
from web_helpers import client, serving

from algo_tracer import Tracer
from algo_tracer.verify import VerificationReport, verify_experiment
from algo_tracer.verify.result_cache import CachedResult, CacheKey, ResultCache
from algo_tracer.web.app import create_app


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet) -> Tracer:
    return Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def traced(tracer: Tracer, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    return trace_experiment(tracer, tmp_path_factory.mktemp("cache"), "web-cache", metrics=120,
                            private=0)


@pytest.fixture
def server(localnet) -> Iterator[tuple[str, object]]:
    app = create_app(client(), indexer_timeout=120, request_timeout=170)
    with serving(app) as url:
        yield url, app
    app.state.verifier.close()


def api(t: Traced, app_id: int | None = None, query: str = "") -> str:
    return f"/api/apps/{app_id or t.app_id}/experiments/{t.experiment_id}{query}"


def get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, timeout=180)


def test_a_sealed_experiment_is_verified_once_then_served_from_the_cache(
        traced: Traced, server: tuple[str, object]) -> None:
    base, app = server
    first, second = get(base, api(traced)), get(base, api(traced))

    assert first.status_code == second.status_code == 200, first.text
    a, b = first.json(), second.json()
    assert (a["cache"], b["cache"]) == ("computed", "cache")
    assert a["verified"] and a["sealed"] and a["report"] == b["report"]
    assert b["checked_round"] >= a["report"]["data_round"]
    assert app.state.verifier.flights.started == 1  # type: ignore[attr-defined]


def test_concurrent_identical_lookups_make_one_verification(
        traced: Traced, server: tuple[str, object]) -> None:
    base, app = server
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: get(base, api(traced)), range(16)))

    assert {r.status_code for r in answers} == {200}
    sources = sorted(r.json()["cache"] for r in answers)
    assert sources.count("computed") == 1 and set(sources) <= {"computed", "shared", "cache"}
    assert app.state.verifier.flights.started == 1  # type: ignore[attr-defined]


def test_an_entry_is_served_only_for_its_network_app_and_experiment(
        traced: Traced, localnet) -> None:
    genesis_hash = traced.algorand.client.algod.versions()["genesis_hash_b64"]
    cache = ResultCache()
    # A result for the same app and experiment ids on another network (as after a reset),
    # doctored so that serving it would show.
    real = CacheKey.of(genesis_hash, traced.app_id, traced.experiment_id)
    other = CacheKey.of("another-network-genesis-hash=", traced.app_id, traced.experiment_id)
    fake = get_report(traced).model_copy(update={"genesis_hash": other.genesis_hash,
                                                 "genesis_id": "other-net"})
    cache.put(other, CachedResult.of(other, fake, 10**9))
    app = create_app(client(), indexer_timeout=120, cache=cache, request_timeout=170)
    with serving(app) as base:
        view = get(base, api(traced)).json()
        unknown_app = get(base, api(traced, app_id=traced.app_id + 10**6))

    assert view["cache"] == "computed" and view["genesis_id"] != "other-net"
    assert view["report"]["genesis_hash"] == genesis_hash
    assert cache.get(real) is not None and cache.get(other) is not None  # both, apart
    assert unknown_app.status_code == 404 and unknown_app.json()["state"] == "unknown_app"
    app.state.verifier.close()


def get_report(t: Traced) -> VerificationReport:

    return verify_experiment(t.algorand, t.app_id, t.experiment_id, indexer_timeout=120)


def test_an_open_experiment_is_verified_again_and_grows_as_records_land(
        tracer: Tracer, tmp_path: Path, server: tuple[str, object]) -> None:
    base, _app = server
    with tracer.experiment("web-cache-open", output_dir=tmp_path / "run") as exp:
        exp.trace_params({"lr": 0.1})
        path = f"/api/apps/{exp.app_id}/experiments/{exp.id_text}"
        seen = []
        for total in (200, 400):
            while exp._next_seq < total:
                exp.log_metric("loss", 1 / (exp._next_seq + 1))
            seen.append(wait_for_records(base, path, total))
    sealed = wait_for_records(base, path, 400, sealed=True)

    assert [v["sealed"] for v in seen] == [False, False]
    assert [v["cache"] for v in seen] == ["computed", "computed"]
    assert [v["report"]["counts"]["note_records"] for v in seen] == [200, 400]
    assert all(v["verified"] for v in seen) and sealed["verified"]


def wait_for_records(base: str, path: str, count: int, *, sealed: bool = False) -> dict:
    deadline = time.monotonic() + 150
    while True:
        response = get(base, path)
        view = response.json() if response.status_code == 200 else {}
        if (view.get("report", {}).get("counts", {}).get("note_records") == count
                and view.get("sealed") == sealed):
            return view
        assert time.monotonic() < deadline, f"{count} records never showed: {response.text}"
        time.sleep(1)


def test_note_batches_come_in_pages(traced: Traced, server: tuple[str, object]) -> None:
    base, _app = server
    whole = get(base, api(traced, query="?batch_limit=1000")).json()
    total = whole["batches_total"]
    pages = [get(base, api(traced, query=f"?batch_offset={i}&batch_limit=1")).json()
             for i in range(total)]
    bad = get(base, api(traced, query="?batch_limit=0"))

    assert total >= 1 and len(whole["report"]["batches"]) == total
    assert [p["report"]["batches"][0] for p in pages] == whole["report"]["batches"]
    for p in pages:
        assert [e["type"] for e in p["timeline"]].count("batch") == 1
        assert [e for e in p["timeline"] if e["type"] == "stage"] == \
            [e for e in whole["timeline"] if e["type"] == "stage"]
    assert bad.status_code == 422 and bad.json()["state"] == "invalid_input"


def test_verify_cache_says_where_its_answer_came_from(traced: Traced, tmp_path: Path) -> None:
    env = {**os.environ, **LOCALNET_ENV, "ALGO_TRACER_APP_ID": str(traced.app_id)}
    command = [sys.executable, "-m", "algo_tracer.cli", "verify", traced.experiment_id, "--cache",
               str(tmp_path / "cache"), "-q"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    plain = subprocess.run([*command[:5], "-q"], capture_output=True, text=True, env=env,
                           timeout=300)

    assert (first.returncode, second.returncode, plain.returncode) == (0, 0, 0), first.stderr
    assert "verified now; the result is stored in the cache" in first.stderr
    assert "result from the cache" in second.stderr and "checked through round" in second.stderr
    assert first.stdout == second.stdout  # the stored report, printed the same
    assert "cache" not in plain.stderr and "verified" in plain.stdout
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
