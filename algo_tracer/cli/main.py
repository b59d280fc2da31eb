"""Parses `algo-tracer` arguments, runs the command and maps our errors to exit codes.

Exit codes: 0 success (verified), 1 a mismatch or tampering was found (or `localnet status`
reports an unhealthy network), 2 a usage, configuration or network error, with the fix in the
message.
"""

from __future__ import annotations

import argparse
import sys

from algo_tracer.cli import demo, experiment, localnet, serve
from algo_tracer.errors import AlgoTracerError, VerificationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="algo-tracer",
        description="Tamper-evident provenance for ML experiments, recorded on Algorand.",
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    experiment.add_parsers(sub)
    localnet.add_parser(sub)
    demo.add_parser(sub)
    serve.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except VerificationError as exc:
        if args.verbose:
            raise
        print(f"FAIL: {exc.diagnostics()}", file=sys.stderr)
        return 1
    except AlgoTracerError as exc:
        if args.verbose:
            raise
        print(f"error: {exc.diagnostics()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2

