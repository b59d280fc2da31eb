"""The page's file hashing (algo_tracer/web/static/file-digest.js), run under node offline.

The browser's hashing worker reads a file in slices and feeds the vendored hash-wasm SHA-256;
this runs the same file-digest.js and the same vendored hash-wasm under node against Python's
hashlib, at slice boundaries, for empty files and with odd slice sizes. The browser itself is
covered by tests/localnet/test_web_browser.py (a 1 GiB file dropped on the page).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from algo_tracer.hashing import hash_file

STATIC = Path(__file__).resolve().parents[1] / "algo_tracer" / "web" / "static"
VENDOR = STATIC / "vendor" / "hash-wasm-4.13.0"
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs)")

# Reads a file from disk as a Blob (node's Blob has slice() and arrayBuffer() as the browser's
# does) and hashes it with file-digest.js and the vendored hash-wasm; prints JSON.
RUNNER = """
const { digestBlob, slices, CHUNK_SIZE } = require(process.argv[1] + "/file-digest.js");
const { createSHA256 } = require(process.argv[1] + "/vendor/hash-wasm-4.13.0/sha256.umd.min.js");
const { readFileSync } = require("fs");
(async () => {
  const jobs = JSON.parse(process.argv[2]);
  const hasher = await createSHA256();
  const out = [];
  for (const job of jobs) {
    if (job.slices) { out.push(slices(job.size, job.chunk)); continue; }
    const blob = new Blob([readFileSync(job.path)]);
    const progress = [];
    const digest = await digestBlob(blob, hasher, {
      chunkSize: job.chunk || CHUNK_SIZE, onProgress: (done, total) => progress.push([done, total]),
    });
    out.push({ digest, progress });
  }
  console.log(JSON.stringify({ chunk: CHUNK_SIZE, out }));
})().catch((err) => { console.error(err); process.exit(3); });
"""


def run_node(jobs: list[dict]) -> dict:
    assert NODE is not None
    done = subprocess.run([NODE, "-e", RUNNER, "--", str(STATIC), json.dumps(jobs)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_node
def test_a_file_is_read_in_consecutive_slices_that_cover_it_exactly() -> None:
    cases = [(0, 8), (1, 8), (7, 8), (8, 8), (9, 8), (17, 8), (24, 8), (10, 1)]
    got = run_node([{"slices": True, "size": s, "chunk": c} for s, c in cases])["out"]

    for (size, chunk), ranges in zip(cases, got, strict=True):
        assert [r[0] for r in ranges] == list(range(0, size, chunk))
        assert all(end - start == min(chunk, size - start) for start, end in ranges)
        assert (ranges[-1][1] if ranges else 0) == size


@needs_node
def test_the_default_slice_is_eight_mebibytes() -> None:
    assert run_node([])["chunk"] == 8 * 1024 * 1024


@needs_node
def test_sliced_digests_equal_python_hashing_at_every_boundary(tmp_path: Path) -> None:
    rng = random.Random(15)
    jobs, expected = [], []
    for size, chunk in [(0, 5), (1, 5), (4, 5), (5, 5), (6, 5), (1000, 7), (4096, 4096),
                        (3 * 1024 * 1024 + 11, 1024 * 1024), (9 * 1024 * 1024 + 3, None)]:
        path = tmp_path / f"f{size}-{chunk}"
        path.write_bytes(rng.randbytes(size))
        jobs.append({"path": str(path), "chunk": chunk})
        expected.append((size, chunk, f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}",
                         str(hash_file(path))))

    got = run_node(jobs)["out"]

    for (size, chunk, plain, ours), result in zip(expected, got, strict=True):
        assert result["digest"] == plain == ours, (size, chunk)
        done = [d for d, _ in result["progress"]]
        assert done[0] == 0 and done[-1] == size  # starts at 0, ends at the whole file
        assert done == sorted(done) and {t for _, t in result["progress"]} == {size}
        assert len(done) == 1 + -(-size // (chunk or 8 * 1024 * 1024))  # one report per slice


def test_the_vendored_hash_wasm_is_the_recorded_release() -> None:
    readme = (VENDOR / "README.md").read_text()
    for name in ("sha256.umd.min.js", "LICENSE"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `{digest}` |" in readme, name
    assert "MIT License" in (VENDOR / "LICENSE").read_text()


def test_the_worker_loads_the_vendored_files_it_is_shipped_with() -> None:
    worker = (STATIC / "hash-worker.js").read_text()
    for url in ("/static/vendor/hash-wasm-4.13.0/sha256.umd.min.js", "/static/file-digest.js"):
        assert url in worker
        assert (STATIC / url.removeprefix("/static/")).is_file()


def test_only_the_hashing_worker_may_compile_webassembly() -> None:
    import asyncio

    import httpx
    from algokit_utils import AlgoClientNetworkConfig, AlgorandClient

    from algo_tracer.web.app import create_app

    # Serving static files asks no node anything: any address will do.
    config = AlgoClientNetworkConfig("http://127.0.0.1", "a" * 64, 9)
    app = create_app(AlgorandClient.from_config(config, config), default_app_id=1)

    async def get(*paths: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            return [await http.get(p) for p in paths]

    page, worker = asyncio.run(get("/", "/static/hash-worker.js"))

    assert page.status_code == worker.status_code == 200
    assert "wasm" not in page.headers["Content-Security-Policy"]
    worker_csp = worker.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in worker_csp
    assert "'unsafe-eval'" not in worker_csp.replace("'wasm-unsafe-eval'", "")
    assert "default-src 'self'" in worker_csp  # connect-src: still nowhere but the server
