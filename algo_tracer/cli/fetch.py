"""`algo-tracer fetch` and `verify --fetch`: stored content retrieved by CID and checked.

Outcomes (algo_tracer.cli.outcome): content that does not hash to its CID, or to the digest
recorded for it, is a finding (exit 1); a CID that the node cannot serve is "not retrievable"
(exit 2: nothing was proven either way); everything fetched and equal is exit 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from algo_tracer.cli.outcome import Outcome
from algo_tracer.errors import InputError, shorten
from algo_tracer.verify.report import FetchRow, VerificationReport

__all__ = ["add_parser", "fetch_outcome", "verify_with_fetch"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from algo_tracer.cli.experiment import app_id_arg

    p = sub.add_parser("fetch", help="retrieve an experiment's stored artifacts from IPFS by "
                       "their on-chain CIDs, each checked against its CID and digest")
    p.add_argument("experiment", help="experiment id (base58)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                   help="directory to write the artifacts to (created if missing)")
    p.add_argument("--stage", metavar="NAME",
                   help="only this stage's content (e.g. model:final, or final)")
    p.add_argument("--app-id", type=app_id_arg, metavar="N", help="registry app id "
                   "(default: ALGO_TRACER_APP_ID, then the manifest's)")
    p.add_argument("--manifest", type=Path, metavar="M", help="the run's manifest.json "
                   "(not needed: the CIDs are read from the chain)")
    p.add_argument("--indexer-timeout", type=float, default=60, metavar="S",
                   help="seconds to wait for the indexer to catch up (default 60)")
    p.add_argument("--json", action="store_true", help="print one JSON object per artifact")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run_fetch, command="fetch")


def run_fetch(args: argparse.Namespace) -> Outcome:
    from algo_tracer.cli.experiment import _algorand, _app_id, _load, _progress
    from algo_tracer.network.ipfs import IpfsClient
    from algo_tracer.verify.fetched import fetch_experiment

    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"-o {shorten(str(args.output))} is a file",
                         fix="give a directory (it is created if missing)")
    eid, manifest = _load(args)
    app_id = _app_id(args, manifest.app_id if manifest else None)
    rows = fetch_experiment(_algorand(), app_id, eid, IpfsClient(), args.output,
                            stage=args.stage, manifest=manifest,
                            indexer_timeout=args.indexer_timeout, progress=_progress(args))
    for row in rows:
        print(row.model_dump_json() if args.json else _line(row))
    if not rows:
        print("the experiment has no stored stages (trace with store=True to store content)")
    return fetch_outcome(rows)


def verify_with_fetch(args: argparse.Namespace) -> VerificationReport:
    """`verify EXPERIMENT --fetch`: the whole verification, stored content fetched by CID."""
    from algo_tracer.cli.experiment import _algorand, _app_id, _load, _progress
    from algo_tracer.network.ipfs import IpfsClient
    from algo_tracer.verify.fetched import verify_fetched

    eid, manifest = _load(args)
    app_id = _app_id(args, manifest.app_id if manifest else None)
    report, _rows = verify_fetched(_algorand(), app_id, eid, IpfsClient(), manifest=manifest,
                                   indexer_timeout=args.indexer_timeout,
                                   progress=_progress(args))
    return report


def fetch_outcome(rows: list[FetchRow], report_ok: bool = True) -> Outcome:
    """A finding (exit 1) first; else anything not retrievable is exit 2, never "verified"."""
    if not report_ok or any(r.status not in ("verified", "not_retrievable") for r in rows):
        return Outcome.FINDING
    missing = [r for r in rows if r.status == "not_retrievable"]
    if missing:
        print(f"algo-tracer: not retrievable: {len(missing)} stored artifact(s) could not be "
              f"fetched ({', '.join(r.stage for r in missing)}): neither verified nor "
              "tampered; point ALGO_TRACER_IPFS_API at a node that holds them", file=sys.stderr)
        return Outcome.ERROR
    return Outcome.OK


def _line(row: FetchRow) -> str:
    said = {"verified": "OK", "not_retrievable": "NOT RETRIEVABLE"}.get(row.status, "FAIL")
    return f"{said}: {row.stage} ({row.cid}): {row.message}"
