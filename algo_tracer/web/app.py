"""The web page's server: a FastAPI app with a JSON API and one static page (docs/web.md).

    >>> from algo_tracer.web.app import create_app
    >>> app = create_app()              # ALGOD_* / INDEXER_* from the environment, else LocalNet
    >>> import uvicorn; uvicorn.run(app, port=8000)                       # doctest: +SKIP

| route | answer |
|---|---|
| `GET /` | the page (`static/index.html`); `/?app=N&id=<base58>` is a shareable link |
| `GET /api/status` | `NetworkStatus`: algod and the Indexer answer? their rounds, the lag |
| `GET /api/apps/{app_id}/experiments/{experiment_id}` | `ExperimentView`, else a `Problem` |
| `GET /api/openapi.json` | the OpenAPI schema of the above |

Every verdict comes from `algo_tracer.verify.experiment.verify_experiment`, the function behind
`algo-tracer verify`; this module only arranges its report as a timeline and names the state
when there is no report (unknown experiment or app, network down, Indexer behind). Files are
never sent here: the page hashes them in the browser (a worker, slice by slice) and compares
the digests.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from algokit_utils import AlgorandClient
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from algo_tracer import __version__
from algo_tracer.errors import ConfigError, InputError, NetworkError
from algo_tracer.format.ids import MAX_APP_ID, format_id, parse_id
from algo_tracer.network.algod import probe_algod, require_registry
from algo_tracer.network.indexer import probe_indexer
from algo_tracer.network.settings import app_id_from_environment, client_from_environment
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.report import (
    FAILING_STATUSES,
    TimelineRow,
    VerificationReport,
    timeline_rows,
)

__all__ = ["ExperimentView", "NetworkStatus", "Problem", "TimelineEntry", "create_app"]

STATIC = Path(__file__).parent / "static"
LAG_TOLERANCE = 2  # rounds an Indexer may trail algod before the status calls it behind
RETRY_AFTER = 5  # seconds the page waits before asking again while the Indexer is behind

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

type ProblemState = Literal["invalid_input", "unknown_app", "unknown_experiment",
                            "network_down", "indexer_behind", "network_error", "config_error"]


class Endpoint(BaseModel):
    url: str | None = Field(description="server address, without credentials")
    ok: bool
    round: int | None = Field(default=None, description="algod: last round; Indexer: its round")
    error: str | None = None


class NetworkStatus(BaseModel):
    state: Literal["ok", "network_down", "indexer_behind"]
    message: str
    genesis_id: str | None = None
    is_localnet: bool | None = None
    default_app_id: int | None = Field(default=None, description="ALGO_TRACER_APP_ID or --app-id")
    algod: Endpoint
    indexer: Endpoint
    indexer_lag: int | None = Field(default=None, description="rounds the Indexer trails algod")


class Problem(BaseModel):
    state: ProblemState
    message: str
    fix: str | None = None
    network: NetworkStatus | None = None
    retry_after: int | None = Field(default=None, description="seconds; indexer_behind only")


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
    timeline: list[TimelineEntry]
    report: VerificationReport


class _ProblemError(Exception):
    def __init__(self, status_code: int, problem: Problem) -> None:
        super().__init__(problem.message)
        self.status_code, self.problem = status_code, problem


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text} for code, text in (
        (404, "unknown_app or unknown_experiment"),
        (422, "invalid_input: a malformed experiment id or app id"),
        (500, "config_error: the server's network configuration is incomplete"),
        (502, "network_error: a node answered with an error"),
        (503, "network_down or indexer_behind (with a Retry-After header)"))}


def create_app(algorand: AlgorandClient | None = None, *, default_app_id: int | None = None,
               indexer_timeout: float = 20.0) -> FastAPI:
    """The web application.

    Args:
        algorand: The network to read (algod + Indexer); default: `ALGOD_*` and `INDEXER_*`
            as in `algo_tracer.network.settings`, LocalNet when `ALGOD_SERVER` is unset.
        default_app_id: Registry app offered by the page; default `ALGO_TRACER_APP_ID`
            (`ConfigError` when it is set to anything but an app id).
        indexer_timeout: Seconds a lookup waits for the Indexer before answering
            `indexer_behind` (the page then retries by itself).
    """
    client = algorand or client_from_environment()
    if default_app_id is None:
        default_app_id = app_id_from_environment()
    app = FastAPI(title="algo-tracer", version=__version__, openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None,  # their UIs load scripts from a CDN
                  description="Look up an experiment recorded with algo-tracer and verify it "
                  "against the chain (docs/web.md, docs/verification.md).")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path == WORKER_PATH:
            response.headers["Content-Security-Policy"] = WORKER_CSP
        return response

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

    @app.get("/api/status", response_model=NetworkStatus, tags=["network"])
    def status() -> NetworkStatus:
        """Whether algod and the Indexer answer, their rounds, and the Indexer's lag."""
        return network_status(client, default_app_id)

    @app.get("/api/apps/{app_id}/experiments/{experiment_id}", response_model=ExperimentView,
             responses=_PROBLEMS, tags=["experiments"])
    def experiment(app_id: Annotated[int, PathParam(ge=1, le=MAX_APP_ID)],
                   experiment_id: str) -> ExperimentView:
        """The experiment's timeline and its verification report, read from the chain."""
        return lookup(client, app_id, experiment_id, indexer_timeout=indexer_timeout,
                      default_app_id=default_app_id)

    return app


def lookup(algorand: AlgorandClient, app_id: int, experiment_id: str, *,
           indexer_timeout: float, default_app_id: int | None = None) -> ExperimentView:
    """Verify one experiment; raise `_ProblemError` naming the state when there is no report."""
    try:
        eid = parse_id(experiment_id)
    except InputError as exc:
        raise _ProblemError(422, Problem(state="invalid_input", message=exc.message,
                                         fix=exc.fix)) from exc
    try:
        report = verify_experiment(algorand, app_id, eid, indexer_timeout=indexer_timeout)
    except NetworkError as exc:
        raise _network_problem(algorand, exc, default_app_id) from exc
    except ConfigError as exc:
        if _app_missing(algorand, app_id):
            raise _ProblemError(404, Problem(
                state="unknown_app", message=exc.message, fix=exc.fix)) from exc
        raise _ProblemError(500, Problem(state="config_error", message=exc.message,
                                         fix=exc.fix)) from exc
    if report.owner is None:  # (1) no header box: the experiment is not in this app
        raise _ProblemError(404, Problem(
            state="unknown_experiment",
            message=f"no experiment {format_id(eid)} in app {app_id} on "
                    f"{report.genesis_id or 'this network'}",
            fix="check the experiment id, the app id and that the server reads the network "
                "the experiment was recorded on"))
    query = urllib.parse.urlencode({"app": app_id, "id": report.experiment_id})
    return ExperimentView(experiment_id=report.experiment_id, app_id=app_id,
                          genesis_id=report.genesis_id, link=f"/?{query}", verified=report.ok,
                          sealed=report.sealed, timeline=timeline(report), report=report)


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
