"""The web page's server: a FastAPI app with a JSON API and one static page (docs/web.md).

    >>> from algo_tracer.web.app import create_app
    >>> app = create_app()              # ALGOD_* / INDEXER_* from the environment, else LocalNet
    >>> import uvicorn; uvicorn.run(app, port=8000)                       # doctest: +SKIP

| route | answer |
|---|---|
| `GET /` | the page (`static/index.html`); `/?app=N&id=<base58>` is a shareable link |
| `GET /api/status` | `NetworkStatus`: algod and the Indexer answer? their rounds, the lag |
| `GET /api/apps/{app_id}/experiments/{experiment_id}` | `ExperimentView`, else a `Problem` |
| `GET /api/apps/{app_id}/experiments/{experiment_id}/stored/{index}` | stored file's bytes |
| `GET /api/openapi.json` | the OpenAPI schema of the above |

`…/stored/{index}` streams the content of the stored stage (kind 25, a file) at chain index
`index` from the IPFS node, else a `Problem` (`algo_tracer.web.stored_content`).

Every verdict comes from `algo_tracer.verify.experiment.verify_experiment`, the function behind
`algo-tracer verify`, through `algo_tracer.verify.cached.CachedVerifier` (sealed experiments are
verified once and served from the cache; identical concurrent lookups share one verification;
at most `max_running` run at once, past that HTTP 503 with Retry-After). This module only
arranges the report as a timeline (note batches by pages: `?batch_offset=&batch_limit=`) and
names the state when there is no report (unknown experiment or app, network down, Indexer
behind). Files are never sent here: the page hashes them in the browser (a worker, slice by
slice) and compares the digests; the content of a stored stage comes from the IPFS node through
this server (only CIDs the chain states for the experiment), for the page to hash the same way.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from algokit_utils import AlgorandClient
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from algo_tracer import __version__
from algo_tracer.errors import ConfigError, InputError, NetworkError
from algo_tracer.format.ids import MAX_APP_ID, format_id, parse_id
from algo_tracer.network.algod import probe_algod, require_registry
from algo_tracer.network.indexer import probe_indexer
from algo_tracer.network.ipfs import DEFAULT_GATEWAY
from algo_tracer.network.settings import app_id_from_environment, client_from_environment
from algo_tracer.verify.cached import Busy, CachedVerifier, StillRunning, VerifyOutcome
from algo_tracer.verify.report import (
    FAILING_STATUSES,
    TimelineRow,
    VerificationReport,
    timeline_rows,
)
from algo_tracer.verify.result_cache import ResultCache
from algo_tracer.web.problems import PROBLEMS as _PROBLEMS
from algo_tracer.web.problems import STORED_PROBLEMS, Endpoint, NetworkStatus, Problem
from algo_tracer.web.problems import ProblemError as _ProblemError
from algo_tracer.web.serving import (
    SECURITY_HEADERS,
    WORKER_CSP,
    WORKER_PATH,
    Encoded,
    FastAnswers,
    SecurityHeaders,
)
from algo_tracer.web.stored_content import (
    ContentNode,
    default_node,
    open_stored,
    stored_response,
)

__all__ = ["SECURITY_HEADERS", "WORKER_CSP", "WORKER_PATH", "ExperimentView", "NetworkStatus",
           "Problem", "TimelineEntry", "create_app"]

STATIC = Path(__file__).parent / "static"
LAG_TOLERANCE = 2  # rounds an Indexer may trail algod before the status calls it behind
RETRY_AFTER = 5  # seconds the page waits before asking again while the Indexer is behind
BATCH_PAGE = 100  # note batches per timeline page by default (1,000,000 records: ~700 batches)
MAX_BATCH_PAGE = 1000
ENCODED_ENTRIES = 512  # encoded answers of cached results kept, ready to send

class TimelineEntry(BaseModel):
    type: Literal["created", "stage", "batch", "sealed"]
    index: int | None = Field(default=None, description="stage or anchor index on chain")
    label: str
    kind: str | None = None
    digest: str | None = Field(default=None, description="stage: sha256:<hex>; batch: root")
    recorder: str | None = None
    round: int | None = None
    time: datetime | None = None
    txid: str | None = None
    status: str = Field(description="StageStatus, batch status, created or sealed")
    ok: bool = Field(description="False for a failing stage or batch")
    message: str = ""


class ExperimentView(BaseModel):
    experiment_id: str
    app_id: int
    genesis_id: str | None
    link: str = Field(description="shareable page link, relative to this server")
    verified: bool = Field(description="report.ok: every check of docs/verification.md held")
    sealed: bool
    cache: Literal["computed", "shared", "cache"] = Field(
        description="verified for this request, shared with a concurrent one, or from the "
                    "cache of sealed experiments")
    checked_round: int = Field(description="the chain is checked through this round")
    batches_total: int = Field(description="note batches of the experiment, all pages")
    batch_offset: int
    batch_limit: int
    timeline: list[TimelineEntry] = Field(description="created, stages, the note batches of "
                                          "this page, sealed; in chain order")
    report: VerificationReport = Field(description="the report; its `batches` are this page's")
    ipfs_gateway: str = Field(description="IPFS gateway the page links stored stages to "
                              "(ALGO_TRACER_IPFS_GATEWAY, default the LocalNet's; docs/ipfs.md)")


def create_app(algorand: AlgorandClient | None = None, *, default_app_id: int | None = None,
               indexer_timeout: float = 20.0, cache: ResultCache | None = None,
               max_running: int = 4, request_timeout: float = 30.0,
               revalidate_after: float = 30.0,
               ipfs: Callable[[], ContentNode] = default_node) -> FastAPI:
    """The web application.

    Args:
        algorand: The network to read (algod + Indexer); default: `ALGOD_*` and `INDEXER_*`
            as in `algo_tracer.network.settings`, LocalNet when `ALGOD_SERVER` is unset.
        default_app_id: Registry app offered by the page; default `ALGO_TRACER_APP_ID`
            (`ConfigError` when it is set to anything but an app id).
        indexer_timeout: Seconds a lookup waits for the Indexer before answering
            `indexer_behind` (the page then retries by itself).
        cache: Results of sealed experiments (default: 256 in memory, none on disk).
        max_running: Verifications run at once; past that a lookup answers `busy` (503).
        request_timeout: Seconds a lookup waits for its verification before answering `busy`
            (the verification goes on, and a sealed result is then cached).
        revalidate_after: Seconds after which a cached result is re-checked in the background
            for notes landed since (docs/web.md section 7).
        ipfs: The IPFS node stored content is read from, asked for at each request (default:
            `ALGO_TRACER_IPFS_API`, else the LocalNet's).
    """
    client = algorand or client_from_environment()
    verifier = CachedVerifier(client, cache, indexer_timeout=indexer_timeout,
                              max_running=max_running, revalidate_after=revalidate_after)
    encoded = Encoded(ENCODED_ENTRIES)
    if default_app_id is None:
        default_app_id = app_id_from_environment()
    app = FastAPI(title="algo-tracer", version=__version__, openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None,  # their UIs load scripts from a CDN
                  description="Look up an experiment recorded with algo-tracer and verify it "
                  "against the chain (docs/web.md, docs/verification.md).")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(FastAnswers, answer=lambda path, query: _ready_answer(
        verifier, encoded, path, query))

    @app.exception_handler(_ProblemError)
    async def problem_response(_request: Request, exc: _ProblemError) -> JSONResponse:
        headers = ({"Retry-After": str(exc.problem.retry_after)}
                   if exc.problem.retry_after else None)
        return JSONResponse(exc.problem.model_dump(mode="json"), exc.status_code, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}"
                          for e in exc.errors())
        problem = Problem(state="invalid_input", message=where,
                          fix=f"the app id is a whole number from 1 to {MAX_APP_ID}")
        return JSONResponse(problem.model_dump(mode="json"), 422)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.verifier = verifier

    @app.get("/api/status", response_model=NetworkStatus, tags=["network"])
    def status() -> NetworkStatus:
        """Whether algod and the Indexer answer, their rounds, and the Indexer's lag."""
        return network_status(client, default_app_id)

    @app.get("/api/apps/{app_id}/experiments/{experiment_id}", response_model=ExperimentView,
             responses=_PROBLEMS, tags=["experiments"])
    async def experiment(app_id: Annotated[int, PathParam(ge=1, le=MAX_APP_ID)],
                         experiment_id: str,
                         batch_offset: Annotated[int, Query(ge=0)] = 0,
                         batch_limit: Annotated[int, Query(ge=1, le=MAX_BATCH_PAGE)] = BATCH_PAGE,
                         ) -> Response:
        """The experiment's timeline and its verification report, read from the chain."""
        # A cached result in memory is answered on the event loop; anything that may wait
        # (algod, the Indexer, a verification, the disk) goes to the thread pool.
        try:
            outcome = verifier.peek(app_id, parse_id(experiment_id))
        except InputError:
            outcome = None
        if outcome is None:
            outcome = await run_in_threadpool(lookup, verifier, app_id, experiment_id,
                                              timeout=request_timeout,
                                              default_app_id=default_app_id)
        # A cached result answers a crowd: its encoded page is kept, ready to send.
        at = (outcome.key, outcome.checked_round, batch_offset, batch_limit)
        body = encoded.get(at) if outcome.source == "cache" else None
        if body is None:
            view = experiment_view(outcome, batch_offset, batch_limit)
            body = view.model_dump_json().encode()
            if outcome.source == "cache":  # the answer says "cache": only such are reused
                encoded.put(at, body)
        return Response(body, media_type="application/json")

    @app.get("/api/apps/{app_id}/experiments/{experiment_id}/stored/{index}",
             response_class=Response, tags=["experiments"], responses={
                 200: {"content": {"application/octet-stream": {}},
                       "description": "the stored file's bytes, streamed"}, **STORED_PROBLEMS})
    async def stored(app_id: Annotated[int, PathParam(ge=1, le=MAX_APP_ID)], experiment_id: str,
                     index: Annotated[int, PathParam(ge=0)]) -> Response:
        """The content of the stored stage at `index` (kind 25, a file) from the IPFS node, for
        the page to check in the browser; only CIDs the chain commits to for the experiment."""
        outcome = await run_in_threadpool(lookup, verifier, app_id, experiment_id,
                                          timeout=request_timeout, default_app_id=default_app_id)
        ref, stream = await run_in_threadpool(open_stored, outcome.report, index, ipfs())
        return stored_response(ref, stream)

    return app


_EXPERIMENT_PATH = re.compile(r"/api/apps/([1-9][0-9]{0,19})/experiments/"
                              r"([1-9A-HJ-NP-Za-km-z]{32,44}|[0-9a-fA-F]{64})")


def _ready_answer(verifier: CachedVerifier, encoded: Encoded, path: str,
                  query: bytes) -> bytes | None:
    """The encoded answer of a lookup already answered from the cache, if it is ready and
    nothing needs checking (else None: the route handles the request in full)."""
    match = _EXPERIMENT_PATH.fullmatch(path)
    if match is None:
        return None
    params = dict(urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    try:
        offset = int(params.pop("batch_offset", 0))
        limit = int(params.pop("batch_limit", BATCH_PAGE))
        app_id, eid = int(match[1]), parse_id(match[2])
    except (ValueError, InputError):
        return None
    if params or offset < 0 or not 1 <= limit <= MAX_BATCH_PAGE or app_id > MAX_APP_ID:
        return None
    outcome = verifier.peek(app_id, eid)
    if outcome is None:
        return None
    return encoded.get((outcome.key, outcome.checked_round, offset, limit))


def lookup(verifier: CachedVerifier, app_id: int, experiment_id: str, *,
           timeout: float | None, default_app_id: int | None = None) -> VerifyOutcome:
    """Verify one experiment; raise `_ProblemError` naming the state when there is no report."""
    algorand = verifier.algorand
    try:
        eid = parse_id(experiment_id)
    except InputError as exc:
        raise _ProblemError(422, Problem(state="invalid_input", message=exc.message,
                                         fix=exc.fix)) from exc
    try:
        outcome = verifier.verify(app_id, eid, timeout=timeout)
    except (Busy, StillRunning) as exc:
        raise _ProblemError(503, Problem(state="busy", message=exc.message, fix=exc.fix,
                                         retry_after=exc.retry_after)) from exc
    except NetworkError as exc:
        raise _network_problem(algorand, exc, default_app_id) from exc
    except ConfigError as exc:
        if _app_missing(algorand, app_id):
            raise _ProblemError(404, Problem(
                state="unknown_app", message=exc.message, fix=exc.fix)) from exc
        raise _ProblemError(500, Problem(state="config_error", message=exc.message,
                                         fix=exc.fix)) from exc
    report = outcome.report
    if report.owner is None:  # (1) no header box: the experiment is not in this app
        raise _ProblemError(404, Problem(
            state="unknown_experiment",
            message=f"no experiment {format_id(eid)} in app {app_id} on "
                    f"{report.genesis_id or 'this network'}",
            fix="check the experiment id, the app id and that the server reads the network "
                "the experiment was recorded on"))
    return outcome


def experiment_view(outcome: VerifyOutcome, batch_offset: int = 0,
                    batch_limit: int = BATCH_PAGE) -> ExperimentView:
    """The page's view of a report, with one page of its note batches."""
    full = outcome.report
    page = full.model_copy(update={
        "batches": full.batches[batch_offset:batch_offset + batch_limit]})
    query = urllib.parse.urlencode({"app": full.app_id, "id": full.experiment_id})
    return ExperimentView(experiment_id=full.experiment_id, app_id=full.app_id,
                          genesis_id=full.genesis_id, link=f"/?{query}", verified=full.ok,
                          sealed=full.sealed, cache=outcome.source,
                          checked_round=outcome.checked_round,
                          batches_total=len(full.batches), batch_offset=batch_offset,
                          batch_limit=batch_limit, timeline=timeline(page), report=page,
                          ipfs_gateway=(os.environ.get("ALGO_TRACER_IPFS_GATEWAY")
                                        or DEFAULT_GATEWAY).rstrip("/"))


def timeline(r: VerificationReport) -> list[TimelineEntry]:
    """Every write of the experiment in chain order (`timeline_rows`), as the page shows it."""
    return [_timeline_entry(row) for row in timeline_rows(r)]


def _timeline_entry(row: TimelineRow) -> TimelineEntry:
    if (s := row.stage) is not None:
        return TimelineEntry(
            type="stage", index=s.index, label=s.label, kind=s.kind,
            digest=f"sha256:{s.chain_digest}" if s.chain_digest else None,
            recorder=s.recorder, round=s.round, time=s.time, txid=s.txid,
            status=s.status.value, ok=s.status not in FAILING_STATUSES, message=s.message)
    if (b := row.batch) is not None:
        return TimelineEntry(
            type="batch", index=b.index,
            label="note batch" if b.private is False else "private batch",
            kind=f"{b.record_count} records from seq {b.first_seq}", digest=f"root:{b.root}",
            recorder=b.recorder, round=b.round, time=b.time, txid=b.txid, status=b.status,
            ok=b.status != "mismatch", message=b.message)
    return TimelineEntry(
        type=row.type, label=row.type, recorder=row.recorder, round=row.round, time=row.time,
        txid=row.txid, status=row.type, ok=True,
        message="ExperimentCreated: the header box and the chain head begin"
        if row.type == "created" else "ExperimentSealed: nothing can be added any more")


def network_status(algorand: AlgorandClient, default_app_id: int | None = None) -> NetworkStatus:
    """Probe algod and the Indexer (one request each)."""
    a = probe_algod(algorand)
    genesis_id = a.genesis_id
    algod_end = Endpoint(url=a.url, ok=a.ok, round=a.round, error=a.error)
    i = probe_indexer(algorand)
    indexer = i is not None
    if i is None:
        index_end = Endpoint(url=None, ok=False, error="no Indexer configured: set "
                             "INDEXER_SERVER, INDEXER_PORT, INDEXER_TOKEN")
    else:
        index_end = Endpoint(url=i.url, ok=i.ok, round=i.round, error=i.error)
    lag = (algod_end.round - index_end.round
           if algod_end.round is not None and index_end.round is not None else None)
    status = NetworkStatus(state="ok", message="", genesis_id=genesis_id,
                           default_app_id=default_app_id, algod=algod_end, indexer=index_end,
                           indexer_lag=lag, is_localnet=a.is_localnet)
    if not algod_end.ok:
        status.state, status.message = "network_down", f"algod at {algod_end.url} does not answer"
    elif not index_end.ok:
        status.state = "network_down"
        status.message = (f"the Indexer at {index_end.url} does not answer" if indexer else
                          "no Indexer is configured")
    elif lag is not None and lag > LAG_TOLERANCE:
        status.state = "indexer_behind"
        status.message = (f"the Indexer is at round {index_end.round}, {lag} rounds behind "
                          f"algod ({algod_end.round})")
    else:
        status.message = f"{genesis_id}: algod at round {algod_end.round}, Indexer at " \
                         f"{index_end.round}"
    return status


def _network_problem(algorand: AlgorandClient, exc: NetworkError,
                     default_app_id: int | None) -> _ProblemError:
    # The report could not be made; ask the network again to say which part is missing.
    net = network_status(algorand, default_app_id)
    if net.state == "network_down":
        return _ProblemError(503, Problem(state="network_down", message=net.message,
                                          fix=exc.fix, network=net))
    if net.indexer_lag:
        return _ProblemError(503, Problem(
            state="indexer_behind", network=net, retry_after=RETRY_AFTER,
            message=f"the Indexer is at round {net.indexer.round}, {net.indexer_lag} rounds "
                    f"behind algod ({net.algod.round}); the experiment cannot be verified "
                    "until it has caught up", fix=exc.fix))
    return _ProblemError(502, Problem(state="network_error", message=exc.message, fix=exc.fix,
                                      network=net))


def _app_missing(algorand: AlgorandClient, app_id: int) -> bool:
    """No such app, or an app that is not an ExperimentRegistry: an unknown registry app."""
    try:
        require_registry(algorand, app_id, where="this network", fix="")
    except ConfigError:
        return True
    except NetworkError:  # cannot tell: not "unknown app"
        return False
    return False
