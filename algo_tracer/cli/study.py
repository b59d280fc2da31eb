"""`algo-tracer reveal`: publish a private plan (docs/studies.md)."""

from __future__ import annotations

import argparse

from algo_tracer.cli.outcome import Outcome
from algo_tracer.format.ids import parse_id

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reveal", help="publish the private plan of an experiment or study on "
                       "chain (a note from its owner), so anyone can check its commitment")
    p.add_argument("experiment", help="base58 id of the experiment or study")
    p.set_defaults(handler=run_reveal)


def run_reveal(args: argparse.Namespace) -> Outcome:
    from algo_tracer.record.tracer import Tracer

    revealed = Tracer.from_environment().reveal(parse_id(args.experiment))
    print(f"revealed the plan of {revealed.experiment_id} in round {revealed.round} "
          f"(transaction {revealed.txid}); `algo-tracer verify {revealed.experiment_id}` "
          "now checks it against the commitment")
    return Outcome.OK
