"""ASGI plumbing for the web page's server: its security headers, and encoded answers kept
ready to send (docs/web.md)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from starlette.datastructures import MutableHeaders

__all__ = ["SECURITY_HEADERS", "WORKER_CSP", "WORKER_PATH", "Encoded", "SecurityHeaders"]

# The page loads nothing from elsewhere and can send nothing elsewhere (connect-src 'self'):
# a dropped file cannot leave the browser even through a script injected into the page.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# The hashing worker runs hash-wasm, whose SHA-256 is WebAssembly: its script (and only its
# script: a dedicated worker follows the policy it is served with) may compile WebAssembly
# ('wasm-unsafe-eval'), which still allows no JavaScript eval. The page keeps the policy above.
WORKER_PATH = "/static/hash-worker.js"
WORKER_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; "
              "base-uri 'none'")


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (a plain ASGI middleware: cheaper per request
    than FastAPI's `@app.middleware`, which matters under a crowd)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = WORKER_CSP if scope["path"] == WORKER_PATH else None

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if csp is not None:
                    headers["Content-Security-Policy"] = csp
            await send(message)

        await self.app(scope, receive, with_headers)


class Encoded:
    """A bounded LRU of encoded answers (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size, self._items, self._lock = size, OrderedDict[Any, bytes](), threading.Lock()

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: Any, body: bytes) -> None:
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class FastAnswers:
    """Answers a GET whose encoded answer is ready (`answer(path, query)` returns it) before
    FastAPI's routing and validation: under a crowd those cost more than the answer itself.
    Anything else, or any doubt (`answer` returns None), goes on to the app unchanged."""

    def __init__(self, app: Any, answer: Any) -> None:
        self.app, self.answer = app, answer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = self.answer(scope["path"], scope["query_string"])
            if body is not None:
                headers = [(b"content-type", b"application/json"),
                           (b"content-length", str(len(body)).encode())]
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
