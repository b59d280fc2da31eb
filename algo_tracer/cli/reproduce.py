"""`algo-tracer reproduce --of EXPERIMENT -- python train.py ...`, and the "reproduced by" text.

The original is checked first (it must exist, be sealed and be on this network: otherwise exit
2 and nothing is recorded); then the script runs with ALGO_TRACER_REPRODUCES set, so the
`Tracer.from_environment()` inside it records each experiment as a reproduction of the
original (docs/reproductions.md). The script's own exit status decides: 0 when it succeeded,
2 when it failed (its tracer then seals the reproduction as failed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from algo_tracer.cli.outcome import Outcome
from algo_tracer.errors import InputError

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from algo_tracer.cli.experiment import app_id_arg

    p = sub.add_parser("reproduce", help="re-run a script, recording it as a reproduction of a "
                       "sealed experiment")
    p.add_argument("--of", required=True, metavar="EXPERIMENT",
                   help="the original: its id (base58), its manifest.json or a proof bundle")
    p.add_argument("--app-id", type=app_id_arg, metavar="N",
                   help="the original's registry app (default: the manifest's, then this "
                   "network's registry)")
    p.add_argument("script", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the re-run, e.g. -- python train.py")
    p.set_defaults(handler=run_reproduce)


def run_reproduce(args: argparse.Namespace) -> Outcome:
    from algo_tracer.record.reproduction import (
        REPRODUCES_APP_VAR,
        REPRODUCES_VAR,
        resolve_original,
    )
    from algo_tracer.record.tracer import Tracer

    command = args.script[1:] if args.script[:1] == ["--"] else args.script
    if not command:
        raise InputError("no command to run", fix="algo-tracer reproduce --of ID -- python "
                         "train.py")
    with tempfile.TemporaryDirectory(prefix="algo-tracer-reproduce-") as tmp:
        of, app_id = _original_arg(args.of, args.app_id, Path(tmp))
        original = resolve_original(Tracer.from_environment().settings, of, app_id)
        b = original.binding
        print(f"reproducing experiment {b.experiment_id} (app {b.app_id}, sealed by {b.owner}, "
              f"final digest {b.final_digest[:16]}…)", file=sys.stderr)
        env = dict(os.environ, **{REPRODUCES_VAR: of, REPRODUCES_APP_VAR: str(b.app_id)})
        try:
            status = subprocess.run(command, env=env, check=False).returncode
        except OSError as exc:
            raise InputError(f"cannot run {command[0]!r}: {exc.strerror}",
                             fix="check the command after `--`") from None
    if status != 0:
        print(f"error: the re-run exited with status {status}; its tracer sealed the "
              "reproduction as failed with what was compared so far", file=sys.stderr)
        return Outcome.ERROR
    print(f"re-run finished: `algo-tracer verify {b.experiment_id}` lists the reproduction",
          file=sys.stderr)
    return Outcome.OK


def _original_arg(of: str, app_id: int | None, tmp: Path) -> tuple[str, int | None]:
    """The original for ALGO_TRACER_REPRODUCES: an id, or a manifest's absolute path (a proof
    bundle's manifest is written to `tmp`; a bundle without one gives its id and app)."""
    path = Path(of)
    if not path.is_file():
        return of, app_id
    try:
        kind = json.loads(path.read_text()).get("format", "")
    except (OSError, ValueError, AttributeError):
        kind = ""  # Manifest.read names what is wrong with it
    if not str(kind).startswith("algo-tracer-bundle/"):
        return str(path.resolve()), app_id
    from algo_tracer.verify.bundle import Bundle

    bundle = Bundle.read(path)
    if bundle.manifest is None:
        return bundle.experiment_id, app_id or bundle.app_id
    bundle.manifest.write(tmp / "manifest.json")
    return str(tmp / "manifest.json"), app_id
