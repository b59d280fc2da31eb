"""The verification page end to end in headless Chromium (Playwright, the system browser).

A real scikit-learn experiment (examples/iris_sklearn.py, as in `algo-tracer demo`) is looked up
through its shareable link; dropping its model.joblib shows a match, a modified copy a
mismatch, and no request leaves for anywhere but the server. The page's hashing (a worker, 8 MiB
slices, hash-wasm) is checked against the file vectors of tests/vectors/hashing-v1.json and on a
dropped 1 GiB file with its progress bar, and the states without a report are rendered. The
screenshot in docs/screenshot-web.png is made here: every run takes one (and checks it is a real
image of the page); ALGO_TRACER_UPDATE_SCREENSHOT=1 writes it to docs/, so an ordinary run leaves
the work tree clean.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from verify_helpers import closed_port
from web_helpers import CHROMIUM, CHROMIUM_ARGS, browser_api, client, lagging_indexer, serving

from algo_tracer import ExperimentSummary, Tracer, format_id
from algo_tracer.hashing import hash_file
from algo_tracer.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "hashing-v1.json"
SCREENSHOT = ROOT / "docs" / "screenshot-web.png"

sync_api = browser_api()


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory, localnet) -> tuple[ExperimentSummary, Path]:
    from algo_tracer.cli.demo import _example

    out = tmp_path_factory.mktemp("iris")
    tracer = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))
    return _example().main(out, tracer), out


@pytest.fixture(scope="module")
def base(localnet) -> Iterator[str]:
    with serving(create_app(client(), indexer_timeout=120)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_experiment(page: Any, base: str, summary: ExperimentSummary) -> None:
    page.goto(f"{base}/?app={summary.app_id}&id={summary.experiment_id}")
    page.wait_for_selector("body[data-state=ready]", timeout=180_000)


def drop(page: Any, selector: str, name: str, content: bytes) -> None:
    """A real drop event carrying a File in its DataTransfer, as a drag from the desktop."""
    transfer = page.evaluate_handle(
        """([name, bytes]) => {
             const transfer = new DataTransfer();
             transfer.items.add(new File([new Uint8Array(bytes)], name));
             return transfer;
           }""", [name, list(content)])
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_the_page_shows_the_timeline_and_checks_dropped_files(
        page: Any, base: str, iris: tuple[ExperimentSummary, Path]) -> None:
    summary, out = iris
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url)))

    open_experiment(page, base, summary)
    stage_rows = page.locator("#timeline tbody tr.row-stage")
    assert stage_rows.count() == summary.stages == 8
    assert page.locator("#verdict").inner_text() == "verified"
    assert page.locator("#timeline tbody tr").first.inner_text().split("\t")[1] == "created"
    assert "sealed in round" in page.locator("#exp-seal").inner_text()
    statuses = [stage_rows.nth(i).locator("td").nth(6).inner_text() for i in range(8)]
    assert statuses == ["recorded"] * 8  # computed by the server (algo_tracer.verify)

    model = out / "model.joblib"
    page.set_input_files("#file-input", str(model))  # the drop zone's <input type=file>
    match = page.locator("#file-results li.match")
    match.wait_for()
    assert "matches stage 6 (model)" in match.inner_text()
    assert str(hash_file(model)) in match.inner_text()
    matched = page.locator("#timeline tbody tr.matched")
    assert matched.count() == 1 and "model.joblib" in matched.inner_text()

    modified = bytearray(model.read_bytes())
    modified[len(modified) // 2] ^= 0x01
    drop(page, "#drop-zone", "model-modified.joblib", bytes(modified))
    mismatch = page.locator("#file-results li.mismatch")
    mismatch.wait_for()
    assert "model-modified.joblib" in mismatch.inner_text()
    assert "matches no stage" in mismatch.inner_text()
    assert page.locator("#timeline tbody tr.matched").count() == 1  # still only the original

    assert all(url.startswith(base) for _, url in requests), requests
    assert {method for method, _ in requests} == {"GET"}  # no file was uploaded anywhere
    # A LocalNet busy with other writes may have the Indexer a few rounds behind for a while;
    # wait for a steady state, else the screenshot shows the lag as it is.
    with contextlib.suppress(sync_api.TimeoutError):
        page.wait_for_selector("#network.pill-ok", timeout=40_000)
    shot = page.screenshot(full_page=True)
    assert shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 20_000
    if os.environ.get("ALGO_TRACER_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(shot)


def test_a_one_gib_file_is_hashed_in_slices_with_progress(
        page: Any, base: str, iris: tuple[ExperimentSummary, Path],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    # Sparse (no GiB written to disk) with random patches across 8 MiB slice boundaries and at
    # the end, so a slice read twice, skipped or shifted changes the digest.
    path = tmp_path_factory.mktemp("big") / "weights.bin"
    size, slice_ = 1 << 30, 8 << 20
    try:
        with path.open("wb") as f:
            f.truncate(size)
            for offset in (0, slice_ - 100, 5 * slice_ - 1, 77 * slice_ + 12345, size - 4096):
                f.seek(offset)
                f.write(os.urandom(4096))
        with path.open("rb") as f:
            expected = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
        open_experiment(page, base, iris[0])

        # The file is dropped as a File backed by the disk (set on a scratch input first, since
        # a File cannot be sent into the page by value at this size), in a real drop event.
        page.evaluate("""() => { const input = document.createElement("input");
                                 input.type = "file"; input.id = "scratch";
                                 document.body.append(input); }""")
        page.set_input_files("#scratch", str(path))
        page.evaluate("""() => {
            const transfer = new DataTransfer();
            transfer.items.add(document.getElementById("scratch").files[0]);
            document.getElementById("drop-zone").dispatchEvent(new DragEvent(
              "drop", { dataTransfer: transfer, bubbles: true, cancelable: true })); }""")
        item = page.locator("#file-results li", has_text="weights.bin")
        done, total = page.wait_for_function(
            """() => {
              const p = document.querySelector("#file-results li.pending progress");
              return p !== null && p.value > 0 && p.value < p.max && [p.value, p.max]; }""",
            polling=20, timeout=120_000).json_value()
        percent = item.get_attribute("data-progress")
        text = item.inner_text()
        item.and_(page.locator(".mismatch")).wait_for(timeout=300_000)

        assert 0 < done < total == size  # observed part-way: strictly between 0 and 100 %
        assert percent is not None and 0 <= int(percent) < 100, percent
        assert "of 1.0 GiB" in text and "hashing" in text, text
        assert item.get_attribute("data-digest") == expected
        assert "matches no stage" in item.inner_text()
    finally:
        path.unlink(missing_ok=True)


def test_browser_hashing_agrees_with_the_python_vectors(page: Any, base: str) -> None:
    vectors = [v for v in json.loads(VECTORS.read_text())["vectors"] if v["kind"] == "file"]
    page.goto(base + "/")
    page.wait_for_function("() => window.algoTracer !== undefined")

    # The page derives each file's bytes from the vector's input, as the vector file says.
    got = page.evaluate(
        """async (vectors) => {
             const hex = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
             const out = {};
             for (const v of vectors) {
               let bytes;
               if ("content_hex" in v.input) bytes = hex(v.input.content_hex);
               else if ("content_utf8" in v.input) {
                 bytes = new TextEncoder().encode(v.input.content_utf8);
               } else {
                 const pattern = hex(v.input.pattern_hex);
                 bytes = new Uint8Array(pattern.length * v.input.repeat);
                 for (let i = 0; i < v.input.repeat; i++) bytes.set(pattern, i * pattern.length);
               }
               out[v.name] = await window.algoTracer.digestFile(new File([bytes], v.name));
             }
             return out;
           }""", vectors)

    assert len(vectors) >= 4
    assert got == {v["name"]: v["digest"] for v in vectors}
    assert got == {v["name"]: str(hash_file(io.BytesIO(_content(v)))) for v in vectors}


def _content(vector: dict) -> bytes:
    data = vector["input"]
    if "content_hex" in data:
        return bytes.fromhex(data["content_hex"])
    if "content_utf8" in data:
        return data["content_utf8"].encode()
    return bytes.fromhex(data["pattern_hex"]) * data["repeat"]


def test_an_unknown_experiment_is_shown_as_such(page: Any, base: str,
                                                iris: tuple[ExperimentSummary, Path]) -> None:
    other = format_id(os.urandom(32))
    page.goto(f"{base}/?app={iris[0].app_id}&id={other}")
    page.wait_for_selector("body[data-state=unknown_experiment]", timeout=60_000)

    assert page.locator("#state-title").inner_text() == "Unknown experiment"
    assert other in page.locator("#state-message").inner_text()
    assert page.locator("#experiment").is_hidden()


def test_network_down_is_shown(page: Any, iris: tuple[ExperimentSummary, Path]) -> None:
    summary = iris[0]
    with serving(create_app(client(algod_port=closed_port()))) as url:
        page.goto(f"{url}/?app={summary.app_id}&id={summary.experiment_id}")
        page.wait_for_selector("body[data-state=network_down]", timeout=60_000)
        page.wait_for_selector("#network.pill-down")

        assert page.locator("#state-title").inner_text() == "Network down"
        assert "algod" in page.locator("#state-message").inner_text()
        assert "network down" in page.locator("#network").inner_text()


def test_a_lagging_indexer_is_shown_and_retried(page: Any,
                                                iris: tuple[ExperimentSummary, Path]) -> None:
    summary = iris[0]
    with lagging_indexer(round_=1) as port, \
            serving(create_app(client(indexer_port=port), indexer_timeout=0.5)) as url:
        page.goto(f"{url}/?app={summary.app_id}&id={summary.experiment_id}")
        page.wait_for_selector("body[data-state=indexer_behind]", timeout=60_000)

        assert page.locator("#state-title").inner_text() == "Indexer behind"
        page.wait_for_function(
            "() => document.getElementById('state-message').textContent.includes('attempt 2')",
            timeout=30_000)
        assert "Retrying in" in page.locator("#state-message").inner_text()

