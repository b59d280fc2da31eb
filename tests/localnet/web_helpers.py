"""A real uvicorn server for the web app on a free port, a lagging stand-in Indexer, and the
headless Chromium the browser tests drive."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from algokit_utils import AlgoClientNetworkConfig, AlgorandClient

from algo_tracer.web.app import create_app

TOKEN = "a" * 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Run `app` with uvicorn in a thread; yields its base URL (http://127.0.0.1:PORT)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(algod_port: int = 4001, indexer_port: int = 8980) -> AlgorandClient:
    """A client for LocalNet's algod and an Indexer on `indexer_port`."""
    return AlgorandClient.from_config(
        AlgoClientNetworkConfig("http://127.0.0.1", TOKEN, algod_port),
        AlgoClientNetworkConfig("http://127.0.0.1", TOKEN, indexer_port))


@contextmanager
def lagging_indexer(round_: int = 1) -> Iterator[int]:
    """An HTTP server answering the Indexer's /health at `round_` (an Indexer far behind
    algod); yields its port. Stopping the real Indexer would disturb every other test."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"round": round_, "db-available": True, "is-migrating": False,
                               "message": str(round_), "version": "stand-in"}).encode()
            self.send_response(200 if self.path.startswith("/health") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


CHROMIUM = Path("/usr/bin/chromium")
#: As the machine's probe starts it: headless, no sandbox (root), no background networking (the
#: closed network refuses it), a fresh profile per launch.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_api() -> Any:
    """playwright's sync API, or the whole test module skipped, naming what is missing."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the browser tests need the playwright package")
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)",
                    allow_module_level=True)
    return sync_api


@contextmanager
def page_on_server(sync_api: Any) -> Iterator[Any]:
    """A Chromium page and a server of the page on this machine's LocalNet (`page.base`); fails
    the test when the page raised a JavaScript error."""
    with serving(create_app(client(), indexer_timeout=120)) as url, \
            sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.base = url
        yield page
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
