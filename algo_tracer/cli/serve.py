"""`algo-tracer serve`: the verification web page (docs/web.md).

The network comes from `ALGOD_*` / `INDEXER_*` (LocalNet when `ALGOD_SERVER` is unset), as for
`algo-tracer verify`. FastAPI and uvicorn are imported only when the command runs, so the rest
of the command line works without the `web` extra.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from algo_tracer.cli.experiment import app_id_arg
from algo_tracer.cli.outcome import Outcome
from algo_tracer.errors import ConfigError

DEFAULT_PORT = 8000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="the verification web page and its JSON API")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                   help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--app-id", type=app_id_arg, metavar="N",
                   help="registry app the page offers (default: ALGO_TRACER_APP_ID)")
    p.add_argument("--indexer-timeout", type=float, default=20, metavar="S",
                   help="seconds a lookup waits for the indexer before answering "
                   "'indexer behind' (default 20)")
    p.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="also keep results of sealed experiments on disk here, so a restart "
                   "does not recompute (default: memory only)")
    p.add_argument("--cache-entries", type=int, default=256, metavar="N",
                   help="results of sealed experiments kept in memory (default 256)")
    p.add_argument("--max-verifications", type=int, default=4, metavar="N",
                   help="verifications run at once; past that lookups get HTTP 503 with "
                   "Retry-After (default 4)")
    p.add_argument("--request-timeout", type=float, default=30, metavar="S",
                   help="seconds a lookup waits for its verification before answering 'busy' "
                   "(the verification goes on; default 30)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    try:
        import uvicorn

        from algo_tracer.web.app import create_app
    except ImportError as exc:
        raise ConfigError(f"`algo-tracer serve` needs FastAPI and uvicorn ({exc.name} is "
                          "missing)", fix="pip install 'algo-tracer[web]'") from exc
    from algo_tracer.verify.result_cache import ResultCache

    if args.max_verifications < 1 or args.request_timeout <= 0:
        raise ConfigError("--max-verifications must be at least 1 and --request-timeout more "
                          "than 0", fix="give positive numbers")
    app = create_app(default_app_id=args.app_id, indexer_timeout=args.indexer_timeout,
                     cache=ResultCache(args.cache_entries, args.cache_dir),
                     max_running=args.max_verifications, request_timeout=args.request_timeout)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"algo-tracer: serving the verification page on http://{shown}:{args.port}/ "
          f"(API schema: /api/openapi.json)", file=sys.stderr, flush=True)
    if not _is_loopback(args.host):
        print("algo-tracer: to serve other machines, put the server behind https: a page "
              "served over plain http can be altered on the way (docs/web.md)", file=sys.stderr,
              flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return Outcome.OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
