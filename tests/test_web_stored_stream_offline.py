"""The page's stream hashing (file-digest.js digestChunks, readerChunks, chunkQueue, and the
worker's stream mode in hash-worker.js), run under node offline.

The browser fetches a stored stage's content from the server and feeds the chunks to its hashing
worker; the same loop hashes dropped files. Here the same files and the same vendored hash-wasm
run under node: against hashlib for any chunking, against a real HTTP server on loopback whose
stream is whole, cut short of its Content-Length, or broken off without one (never a digest:
"not retrievable"), and through the worker's own message protocol (hash-worker.js loaded into a
worker-like global). The browser itself is covered by tests/localnet/test_web_stored_check.py.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "algo_tracer" / "web" / "static"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs)")

# Jobs: {"chunks": [hex...], "total": n|null} hashed through digestChunks over a chunkQueue fed
# chunk by chunk (as the worker is fed), or {"url": ..., "total": ...} fetched and hashed through
# readerChunks. Prints one JSON result per job: {digest, progress} or {error: name, message}.
RUNNER = """
const { readFileSync } = require("fs");
const fd = require(process.argv[1] + "/file-digest.js");
const { createSHA256 } = require(process.argv[1] + "/vendor/hash-wasm-4.13.0/sha256.umd.min.js");
(async () => {
  const jobs = JSON.parse(readFileSync(0, "utf8"));
  const out = [];
  for (const job of jobs) {
    const hasher = await createSHA256();
    const progress = [];
    const onProgress = (done, total) => progress.push([done, total]);
    try {
      let chunks;
      if (job.url) {
        chunks = fd.readerChunks((await fetch(job.url)).body);
      } else {
        const queue = fd.chunkQueue();
        // Pushed from a timer, one at a time, as messages reach the worker.
        (async () => {
          for (const hex of job.chunks) {
            await new Promise((r) => setTimeout(r, 0));
            queue.push(Uint8Array.from(Buffer.from(hex, "hex")));
          }
          if (job.fail) queue.fail(Object.assign(new Error("cut"), { name: "StreamAborted" }));
          else queue.end();
        })();
        chunks = queue;
      }
      const digest = await fd.digestChunks(chunks, hasher, { total: job.total, onProgress });
      out.push({ digest, progress });
    } catch (err) {
      out.push({ error: err.name, message: err.message, progress });
    }
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(3); });
"""

# hash-worker.js in a worker-like global (self, importScripts, postMessage), driven by messages.
WORKER = """
const vm = require("vm");
const { readFileSync } = require("fs");
const dir = process.argv[1];
const posted = [];
const sandbox = { console, setTimeout, Date, TextEncoder, TextDecoder, WebAssembly };
sandbox.self = sandbox;
sandbox.postMessage = (message) => posted.push(message);
sandbox.importScripts = (...urls) => {
  for (const url of urls) vm.runInContext(readFileSync(dir + url.replace("/static", "")), sandbox);
};
vm.createContext(sandbox);
vm.runInContext(readFileSync(dir + "/hash-worker.js", "utf8"), sandbox);
(async () => {
  const messages = JSON.parse(readFileSync(0, "utf8"));
  for (const m of messages) {
    if (m.hex !== undefined) m.bytes = Uint8Array.from(Buffer.from(m.hex, "hex")).buffer;
    delete m.hex;
    sandbox.onmessage({ data: m });
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < 400 && !posted.some((p) => p.type !== "progress" && p.id === 2); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log(JSON.stringify(posted));
})().catch((err) => { console.error(err); process.exit(3); });
"""


def run(script: str, payload: list[dict]) -> list[dict]:
    assert NODE is not None
    done = subprocess.run([NODE, "-e", script, "--", str(STATIC)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def split(data: bytes, rng: random.Random) -> list[bytes]:
    chunks, at = [], 0
    while at < len(data):
        n = rng.choice([1, 7, 4096, 65536, 300_001])
        chunks.append(data[at:at + n])
        at += n
    return chunks


def test_streamed_chunks_hash_to_python_sha256_whatever_their_sizes() -> None:
    rng = random.Random(19)
    datas = [b"", b"x", rng.randbytes(1000), rng.randbytes(1_500_000)]
    jobs = [{"chunks": [c.hex() for c in split(d, rng)], "total": len(d)} for d in datas]
    jobs.append({"chunks": [datas[2].hex()], "total": None})  # size unknown: no length check

    got = run(RUNNER, jobs)

    for data, result in zip([*datas, datas[2]], got, strict=True):
        assert result["digest"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
        done = [d for d, _ in result["progress"]]
        assert done[0] == 0 and done[-1] == len(data) and done == sorted(done)


def test_a_stream_shorter_or_longer_than_announced_gives_no_digest() -> None:
    data = b"weights" * 100
    got = run(RUNNER, [{"chunks": [data[:300].hex()], "total": len(data)},
                       {"chunks": [data.hex(), b"more".hex()], "total": len(data)},
                       {"chunks": [data[:300].hex()], "total": len(data), "fail": True}])

    assert [r.get("error") for r in got] == ["TruncatedStream", "TruncatedStream",
                                            "StreamAborted"]
    assert "ended after 300 of its 700 bytes" in got[0]["message"]
    assert all("digest" not in r for r in got)


class _Content(BaseHTTPRequestHandler):
    """/whole: the bytes with their Content-Length; /short: a Content-Length, then half the
    bytes and the connection closed; /cut: chunked, then closed before the final chunk."""

    data = b""
    protocol_version = "HTTP/1.1"  # chunked transfer is HTTP/1.1's

    def do_GET(self) -> None:
        data = type(self).data
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if self.path == "/cut":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = data[:len(data) // 2]
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data if self.path == "/whole" else data[:len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def content_server(data: bytes) -> Iterator[str]:
    handler = type("Handler", (_Content,), {"data": data})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_fetched_body_is_hashed_as_it_arrives_and_a_cut_one_is_never_a_digest() -> None:
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    with content_server(data) as base:
        got = run(RUNNER, [{"url": f"{base}/whole", "total": len(data)},
                           {"url": f"{base}/short", "total": len(data)},
                           {"url": f"{base}/cut", "total": None}])

    whole, short, cut = got
    assert whole["digest"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
    assert len(whole["progress"]) > 2  # hashed chunk by chunk, not all at once
    # The reader itself fails on a body cut short of its length or of its final chunk.
    assert "digest" not in short and short["error"] in ("TypeError", "TruncatedStream")
    assert "digest" not in cut and cut["error"] == "TypeError"


def test_the_worker_hashes_a_stream_fed_by_messages_beside_its_file_queue() -> None:
    rng = random.Random(7)
    data = rng.randbytes(200_000)
    chunks = split(data, rng)
    messages = [{"id": 1, "stream": "begin", "total": len(data)},
                *({"id": 1, "stream": "chunk", "hex": c.hex()} for c in chunks),
                {"id": 1, "stream": "end"},
                {"id": 2, "stream": "begin", "total": 10},
                {"id": 2, "stream": "chunk", "hex": "00" * 4},
                {"id": 2, "stream": "abort", "message": "TypeError: network error"}]

    posted = run(WORKER, messages)

    first = [p for p in posted if p["id"] == 1]
    assert first[-1] == {"id": 1, "type": "done",
                         "digest": f"sha256:{hashlib.sha256(data).hexdigest()}"}
    progress = [p["done"] for p in first if p["type"] == "progress"]
    assert progress[0] == 0 and progress[-1] == len(data)
    second = [p for p in posted if p["id"] == 2 and p["type"] != "progress"]
    assert second == [{"id": 2, "type": "error", "name": "StreamAborted",
                       "message": "StreamAborted: TypeError: network error"}]


def test_the_page_loads_the_shared_hashing_code_and_the_check_script() -> None:
    page = (STATIC / "index.html").read_text()
    for script in ("/static/file-digest.js", "/static/stored-check.js", "/static/app.js"):
        assert f'<script src="{script}" defer></script>' in page
    check = (STATIC / "stored-check.js").read_text()
    assert "innerHTML" not in check and "readerChunks" in check and "digestStream" in check
