"""`algo-tracer demo`: the whole story on a real workload, in one command.

Starts the local network (unless ALGOD_SERVER points elsewhere), deploys the registry, traces
examples/iris_sklearn.py end to end, verifies it from the chain through the Indexer, exports a
proof bundle and an in-toto attestation signed by the recording account (docs/interop.md), and
prints a summary. Everything lands in one output folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

from algo_tracer.cli.outcome import Outcome
from algo_tracer.errors import ConfigError

# algo_tracer/cli/demo.py -> the clone root, where examples/ lives.
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris_sklearn.py"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="start LocalNet, trace and verify a real experiment")
    p.add_argument("-o", "--output", type=Path, default=None, help="output folder, which must "
                   "not hold another experiment's manifest (default: a new folder "
                   "./algo-tracer-demo/<date>-<time>)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    started = time.monotonic()
    say = _say
    if not os.environ.get("ALGOD_SERVER"):
        from algo_tracer.cli.localnet import ensure_running

        say("1/5 local network")
        ensure_running()
    else:
        say(f"1/5 network from ALGOD_SERVER={os.environ['ALGOD_SERVER']}")

    from algo_tracer.record.tracer import Tracer

    say("2/5 registry (deployed on first use)")
    tracer = Tracer.from_environment()
    say(f"    app {tracer.settings.app_id} on {tracer.settings.genesis_id}, recording as "
        f"{tracer.settings.account.address}")

    say("3/5 tracing examples/iris_sklearn.py")
    out: Path = (args.output or Path("algo-tracer-demo") / f"{datetime.now():%Y%m%d-%H%M%S}"
                 ).resolve()
    summary = _example().main(out, tracer)
    say(f"    {summary}")

    from algo_tracer.documents.manifest import Manifest
    from algo_tracer.format.ids import parse_id
    from algo_tracer.verify.bundle import export_bundle
    from algo_tracer.verify.experiment import verify_experiment

    say("4/5 verifying from the chain (algod boxes + Indexer)")
    manifest = Manifest.read(summary.manifest_path)
    report = verify_experiment(tracer.settings.algorand, summary.app_id,
                               parse_id(summary.experiment_id), manifest=manifest,
                               artifacts_dir=out)
    (out / "verification.json").write_text(report.model_dump_json(indent=2) + "\n")

    say("5/5 exporting the proof bundle and the in-toto attestation")
    bundle_path = out / "bundle.json"
    export_bundle(tracer.settings.algorand, summary.app_id, parse_id(summary.experiment_id),
                  manifest=manifest, path=bundle_path)
    from algo_tracer.verify.attestation import export_attestation

    attestation_path = out / "attestation.intoto.json"
    export_attestation(tracer.settings.algorand, summary.app_id, parse_id(summary.experiment_id),
                       private_key=tracer.settings.account.private_key,
                       manifest=manifest).write(attestation_path)

    print()
    print(f"experiment   {summary.experiment_id}")
    print(f"registry     app {summary.app_id} on {summary.genesis_id}")
    print(f"stages       {summary.stages} (box records)   note records {summary.note_records}")
    print(f"cost         {summary.micro_algos} µALGO (fees + storage deposit)")
    print(f"verification {'VERIFIED' if report.ok else 'FAILED'}")
    print(f"output       {out}: manifest.json, MODEL_CARD.md, DATASHEET.md, bundle.json, "
          f"{attestation_path.name}, verification.json")
    print(f"verify again algo-tracer verify {summary.experiment_id} --app-id {summary.app_id} "
          f"--manifest {summary.manifest_path} --artifacts {out}")
    print(f"attestation  algo-tracer verify --attestation {attestation_path}")
    print(f"took         {time.monotonic() - started:.1f}s")
    return Outcome.of(report.ok)


def _example() -> ModuleType:
    if not EXAMPLE.exists():
        raise ConfigError(f"{EXAMPLE} is missing: the demo runs the example from a clone",
                          fix="run `make demo` from a clone of the algo-tracer repository")
    spec = importlib.util.spec_from_file_location("algo_tracer_demo_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _say(line: str) -> None:
    print(f"[demo] {line}", file=sys.stderr, flush=True)
