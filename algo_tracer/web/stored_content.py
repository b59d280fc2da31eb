"""A stored stage's content for the page's in-browser check, streamed from the IPFS node; only
CIDs the chain commits to for that experiment are served (docs/web.md sections 2 and 3).

`GET /api/apps/{app_id}/experiments/{experiment_id}/stored/{index}`: `index` is the stored
stage's own on-chain index (kind 25). Its CID is read from the experiment's verification report
(`report.stored`, made by `algo_tracer.verify` from the stage notes whose hash is the stage's
digest), the same cached result the experiment view is made from, so the route is never a proxy
for a CID of the caller's choosing. The page's Content-Security-Policy keeps `connect-src 'self'`:
the browser fetches the bytes from this server, never from the node or a gateway.

The bytes go from the node to the browser in chunks (never the whole file in memory). Whatever
fails before the first byte is a `Problem`; a stream that breaks off or ends short of the size
the node stated is cut, the response left unfinished, so that the browser's reader fails instead
of seeing a shorter body as complete. Checking the bytes is the page's job (static/file-digest.js).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from typing import Protocol

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Send

from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.network.ipfs import IpfsClient, NotRetrievableError, ipfs_from_environment
from algo_tracer.verify.report import StoredRef, VerificationReport
from algo_tracer.web.problems import Problem, ProblemError

__all__ = ["ContentNode", "ContentStream", "open_stored", "stored_ref", "stored_response"]

log = logging.getLogger(__name__)


class ContentStream(Protocol):
    """A file CID's content, opened (`algo_tracer.network.ipfs.CatStream`)."""

    @property
    def size(self) -> int | None: ...

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class ContentNode(Protocol):
    """What the route uses of an IPFS node (`IpfsClient`; tests pass a fake of this)."""

    @property
    def api(self) -> str: ...

    def open_cat(self, cid: str) -> ContentStream: ...


def default_node() -> ContentNode:
    """The node of `ALGO_TRACER_IPFS_API` (default the LocalNet's), read at each request."""
    try:
        return IpfsClient(ipfs_from_environment())
    except ConfigError as exc:
        raise ProblemError(500, Problem(state="config_error", message=exc.message,
                                        fix=exc.fix)) from exc


def stored_ref(report: VerificationReport, index: int) -> StoredRef:
    """The stored file stage at `index`, or the Problem: 404 when the chain states no stored
    stage there, 409 for a directory (the browser checks one file's SHA-256 only)."""
    ref = next((r for r in report.stored if r.index == index), None)
    if ref is None:
        raise ProblemError(404, Problem(
            state="not_stored",
            message=f"experiment {report.experiment_id} has no stored stage at index {index} "
                    "whose CID the chain states",
            fix="use the index of a stored stage (kind 25) from the experiment view's "
                "`report.stored`"))
    if ref.type == "directory":
        raise ProblemError(409, Problem(
            state="stored_directory",
            message=f"stored stage {index} ({ref.stage}) is a directory: fetch and check it "
                    f"with `algo-tracer fetch {report.experiment_id} --app-id {report.app_id} "
                    f"--stage {ref.stage}`",
            fix="the page checks single files; `algo-tracer fetch` checks a directory against "
                "its CID and its recorded digest"))
    return ref


def open_stored(report: VerificationReport, index: int, node: ContentNode
                ) -> tuple[StoredRef, ContentStream]:
    """Open the content of stored stage `index`: the node has answered before anything is
    sent (502 unreachable or failing, 504 not served within its timeout: "not retrievable")."""
    ref = stored_ref(report, index)
    try:
        return ref, node.open_cat(ref.cid)
    except NotRetrievableError as exc:
        raise ProblemError(504, Problem(
            state="not_retrievable", message=f"{ref.stage} is not retrievable: {exc.message}",
            fix=exc.fix)) from exc
    except NetworkError as exc:
        raise ProblemError(502, Problem(
            state="not_retrievable", message=f"{ref.stage} is not retrievable: {exc.message}",
            fix=exc.fix)) from exc


class _CutOnFailure(StreamingResponse):
    """A streaming response that is left unfinished when its source fails: no final chunk, and
    fewer bytes than its Content-Length, so the client cannot take it for the whole content
    (the server then closes the connection)."""

    def __init__(self, ref: StoredRef, stream: ContentStream, headers: dict[str, str]) -> None:
        super().__init__(iterate_in_threadpool(stream.chunks()), headers=headers,
                         media_type="application/octet-stream")
        self.ref, self.stream = ref, stream

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except NetworkError as exc:
            log.warning("stored stage %d (%s, %s) cut off: %s", self.ref.index, self.ref.stage,
                        self.ref.cid, exc.message)
            return
        finally:
            self.stream.close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def stored_response(ref: StoredRef, stream: ContentStream) -> StreamingResponse:
    """The content as it streams from the node; Content-Length when the node stated the size."""
    quoted = urllib.parse.quote(ref.name, safe="")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
               "Cache-Control": "no-store"}
    if stream.size is not None:
        headers["Content-Length"] = str(stream.size)
    return _CutOnFailure(ref, stream, headers)
