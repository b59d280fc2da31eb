"""Parses `algo-tracer` arguments, runs the command and maps its outcome to the exit code.

Exit codes (algo_tracer.cli.outcome): 0 verified or done, 1 only when a named finding (a
mismatch or tampering) was reported, 2 for everything else: usage, configuration and network
errors, with the fix in the message, and every unexpected exception. This module is the one
place that turns an exception into an outcome; a traceback is printed only with `--debug`. With
`--json`, an exit-2 error is also printed on stdout as one JSON object (`error_document`).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Any, NoReturn

from algo_tracer.cli import demo, experiment, fetch, localnet, reproduce, serve, study
from algo_tracer.cli.outcome import Outcome, exit_code
from algo_tracer.errors import AlgoTracerError, InputError, VerificationError, shorten

#: A printed error line longer than this is cut: a last guard against echoing huge user input.
MAX_LINE = 500


class _Parser(argparse.ArgumentParser):
    """argparse that raises `InputError` instead of exiting, so that usage errors go through
    the same outcome map (and `--json` error object) as every other error."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}", fix=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="algo-tracer",
        description="Tamper-evident provenance for ML experiments, recorded on Algorand. "
        "Exit codes: 0 verified, 1 a mismatch or tampering was found, 2 any other error.",
    )
    parser.add_argument("--debug", "--verbose", dest="debug", action="store_true",
                        help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    experiment.add_parsers(sub)
    fetch.add_parser(sub)
    localnet.add_parser(sub)
    demo.add_parser(sub)
    serve.add_parser(sub)
    study.add_parser(sub)
    reproduce.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        outcome: Outcome = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        outcome = Outcome.ERROR
    except Exception as exc:  # every exception ends here, as 1 or 2: never a bare traceback
        outcome = _report(exc, argv, args)
    return exit_code(outcome)


def _report(exc: Exception, argv: list[str], args: argparse.Namespace | None) -> Outcome:
    """Print `exc` for people (stderr) and, with `--json`, for programs (stdout)."""
    outcome = Outcome.FINDING if isinstance(exc, VerificationError) else Outcome.ERROR
    debug = args.debug if args is not None else "--debug" in argv or "--verbose" in argv
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, AlgoTracerError):
        text = exc.diagnostics()
    else:
        text = (f"unexpected {_describe(exc)}\n  fix: this is a bug in algo-tracer or a "
                "problem of this machine; `algo-tracer --debug ...` shows the traceback")
    label = "FAIL" if outcome is Outcome.FINDING else "error"
    print(f"{label}: " + "\n".join(shorten(line, MAX_LINE) for line in text.splitlines()),
          file=sys.stderr)
    wants_json = getattr(args, "json", False) if args is not None else "--json" in argv
    if wants_json:
        print(json.dumps(error_document(exc, outcome)))
    return outcome


def error_document(exc: Exception, outcome: Outcome) -> dict[str, Any]:
    """The JSON object `--json` prints on stdout when a command ends in an error."""
    known = isinstance(exc, AlgoTracerError)
    message, fix = (exc.message, exc.fix) if isinstance(exc, AlgoTracerError) else (
        _describe(exc), None)
    return {"ok": False, "exit_code": exit_code(outcome), "error": {
        "type": type(exc).__name__, "message": shorten(message, MAX_LINE), "fix": fix,
        "unexpected": not known}}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({shorten(str(exc.filename))})" if exc.filename is not None else ""
        return f"{type(exc).__name__}: {exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"
