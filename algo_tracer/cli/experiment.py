"""`algo-tracer show | verify | export | resume | deploy | hash`: thin shells over the library.
(`reveal`, and a study's part of `verify` and `show`, are in algo_tracer.cli.study.)

Experiments are named by their base58 id. The registry app is `--app-id`, else
`ALGO_TRACER_APP_ID`, else the manifest's (or bundle's) `app_id`. Reading and verifying need no
signing account; `resume` and `deploy` do (see algo_tracer.network.settings).

Each command returns its `Outcome` (algo_tracer.cli.outcome): 0 verified, 1 only when a
mismatch or tampering was found, 2 for any other error (e.g. the Indexer is down: never a false
"verified").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from algo_tracer.cli.outcome import Outcome
from algo_tracer.documents.manifest import Manifest
from algo_tracer.documents.plan import PlanReveal
from algo_tracer.errors import ConfigError, InputError, shorten
from algo_tracer.format.ids import format_id, parse_app_id, parse_id
from algo_tracer.progress import Progress
from algo_tracer.verify.report import VerificationReport
from algo_tracer.verify.report_text import format_report, format_timeline, utc_time

if TYPE_CHECKING:
    from algokit_utils import AlgorandClient

__all__ = ["EXPORT_FORMATS", "add_parsers", "app_id_arg", "format_report", "format_timeline"]

#: What `algo-tracer export --format` writes.
EXPORT_FORMATS = ("bundle", "in-toto")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the experiment commands on the `algo-tracer` parser."""
    p = sub.add_parser("show", help="an experiment's on-chain timeline")
    _common(p)
    p.set_defaults(handler=run_show)

    p = sub.add_parser("verify", help="verify an experiment (or a proof bundle) against the chain")
    _common(p)
    p.add_argument("--mlflow-run", metavar="RUN_ID",
                   help="verify an MLflow run recorded by algo-tracer (the experiment, app and "
                   "manifest come from its algotrace.* tags)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="with --mlflow-run: MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--artifacts", type=Path, metavar="DIR",
                   help="directory holding the traced files, re-hashed by base name")
    p.add_argument("--bundle", type=Path, metavar="B", help="verify this proof bundle")
    p.add_argument("--attestation", type=Path, metavar="ATT",
                   help="verify this in-toto attestation (`export --format in-toto`): its "
                   "signature by the recorder and every claim against the chain")
    p.add_argument("--model-card", type=Path, metavar="CARD",
                   help="verify a MODEL_CARD.md's front matter (network, owner, seal, metric "
                   "values) against the chain")
    p.add_argument("--signed-model", nargs=3, metavar=("DIR", "SIGNATURE", "PUBLIC_KEY"),
                   help="also check a model directory traced with its OpenSSF model_signing "
                   "signature: model_signing's verifier with the PEM public key, and the pair "
                   "against the experiment's signed_model stage (docs/interop.md)")
    p.add_argument("--offline", action="store_true",
                   help="with --bundle: check without any node (says what remains unchecked)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true",
                   help="warnings (e.g. notes posted by strangers) fail too")
    p.add_argument("--cache", nargs="?", const="", metavar="DIR",
                   help="reuse the stored result of a sealed experiment, re-checked for notes "
                   "landed since (default DIR: ~/.cache/algo-tracer/results); says so on stderr")
    p.add_argument("--plan-reveal", type=Path, metavar="FILE",
                   help="a private plan's published reveal file, checked against its "
                   "commitment (when it was not revealed on chain)")
    p.add_argument("--fetch", action="store_true",
                   help="fetch every stored artifact from IPFS by its on-chain CID and check "
                   "it (no local copy needed; docs/ipfs.md; ALGO_TRACER_IPFS_API)")
    p.set_defaults(handler=run_verify)

    p = sub.add_parser("export", help="write a self-contained proof bundle, or an in-toto "
                       "attestation signed by the recorder")
    _common(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="file to write (JSON)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="bundle",
                   help="bundle (default): the proof bundle; in-toto: an in-toto Statement v1 "
                   "in a DSSE envelope signed with the recording account's key (docs/interop.md)")
    p.set_defaults(handler=run_export)

    p = sub.add_parser("resume", help="finish interrupted experiments from the journal")
    p.add_argument("experiment", nargs="?", help="base58 id (default: every unfinished one)")
    p.set_defaults(handler=run_resume)

    p = sub.add_parser("hash", help="the digest a file or directory is traced with, to "
                       "compare with an on-chain stage (`show`) by hand")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per path")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run_hash)

    p = sub.add_parser("deploy", help="deploy (or find) the registry app, like "
                       "`python -m smart_contracts deploy`")
    p.set_defaults(handler=run_deploy)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", nargs="?", help="experiment id (base58, as printed by "
                   "algo-tracer; default: the one --manifest or --bundle names)")
    p.add_argument("--app-id", type=app_id_arg, metavar="N", help="registry app id "
                   "(default: ALGO_TRACER_APP_ID, then the manifest's)")
    p.add_argument("--manifest", type=Path, metavar="M", help="the run's manifest.json")
    p.add_argument("--indexer-timeout", type=float, default=60, metavar="S",
                   help="seconds to wait for the indexer to catch up (default 60)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress on stderr for long Indexer scans and re-hashing")


def app_id_arg(text: str) -> int:
    """argparse type of `--app-id`: refused by the parser (exit 2), never sent to a node."""
    try:
        return parse_app_id(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _progress(args: argparse.Namespace) -> Progress | None:
    return None if args.quiet else Progress()


def _app_id(args: argparse.Namespace, fallback: int | None) -> int:
    if args.app_id is not None:
        return args.app_id
    from algo_tracer.network.settings import app_id_from_environment  # lazy: keeps `--help` fast

    from_environment = app_id_from_environment()
    if from_environment is not None:
        return from_environment
    if fallback is not None:
        return fallback
    raise ConfigError("which registry app? no --app-id, no ALGO_TRACER_APP_ID and no manifest",
                      fix="pass --app-id N (printed by `algo-tracer deploy`), set "
                      "ALGO_TRACER_APP_ID, or give --manifest manifest.json")


def _load(args: argparse.Namespace, *,
          bundle_id: str | None = None) -> tuple[bytes, Manifest | None]:
    """The experiment (the id given, else the manifest's, else the bundle's) and the manifest."""
    manifest = Manifest.read(args.manifest) if args.manifest else None
    named = args.experiment or (manifest.experiment_id if manifest else None) or bundle_id
    if named is None:
        more = ", --bundle B or --mlflow-run RUN_ID" if args.command == "verify" else ""
        raise ConfigError(f"which experiment? no experiment id and no --manifest{more}",
                          fix=f"algo-tracer {args.command} EXPERIMENT_ID, or --manifest "
                          f"path/to/manifest.json{more}")
    return parse_id(named), manifest


def _algorand() -> AlgorandClient:
    from algo_tracer.network.settings import algorand_from_environment  # lazy: keeps `--help` fast

    return algorand_from_environment()[0]


def _verify_network(args: argparse.Namespace, artifacts: Path | None) -> VerificationReport:
    from algo_tracer.verify.experiment import verify_experiment
    from algo_tracer.verify.reproductions import attach_reproductions

    eid, manifest = _load(args)
    app_id = _app_id(args, manifest.app_id if manifest else None)
    reveal = getattr(args, "plan_reveal", None)
    algorand = _algorand()
    report = verify_experiment(algorand, app_id, eid, manifest=manifest, artifacts_dir=artifacts,
                               indexer_timeout=args.indexer_timeout, progress=_progress(args),
                               plan_reveal=PlanReveal.read(reveal) if reveal else None)
    # The reproductions found from the original alone (docs/reproductions.md).
    return attach_reproductions(algorand, report, indexer_timeout=args.indexer_timeout)


def _verify_cached(args: argparse.Namespace) -> VerificationReport:
    from algo_tracer.verify.cached import CachedVerifier
    from algo_tracer.verify.result_cache import ResultCache, default_cache_dir

    if getattr(args, "plan_reveal", None) is not None:
        raise ConfigError("--cache cannot be used with --plan-reveal: the result would depend "
                          "on a local file", fix="drop --cache, or --plan-reveal")
    if args.artifacts is not None:
        raise ConfigError("--cache cannot be used with --artifacts: local files can change "
                          "between runs", fix="drop --cache, or --artifacts")
    directory = Path(args.cache) if args.cache else default_cache_dir()
    eid, manifest = _load(args)
    app_id = _app_id(args, manifest.app_id if manifest else None)
    verifier = CachedVerifier(_algorand(), ResultCache(directory=directory),
                              indexer_timeout=args.indexer_timeout)
    try:
        outcome = verifier.verify(app_id, eid, manifest=manifest, recheck_first=True)
    finally:
        verifier.close()
    r = outcome.report
    # Never silent (issue 20): say where the answer came from, even with -q or --json.
    if outcome.source == "cache":
        said = (f"result from the cache {shorten(str(directory))}: verified at "
                f"{utc_time(r.verified_at)} (round {r.data_round}), checked through round "
                f"{outcome.checked_round} for notes landed since")
    elif r.sealed and r.owner is not None:
        said = f"verified now; the result is stored in the cache {shorten(str(directory))}"
    else:
        said = "verified now; not cached (only sealed experiments are)"
    print(f"algo-tracer: {said}", file=sys.stderr, flush=True)
    return r


def run_verify(args: argparse.Namespace) -> Outcome:
    if args.artifacts is not None and not (_exists(args.artifacts) and args.artifacts.is_dir()):
        # Before any node is asked: a wrong directory would only show as "no local copy".
        raise InputError(f"--artifacts {shorten(str(args.artifacts))} is not a directory",
                         fix="give the directory holding the traced files")
    if args.fetch and (args.bundle or args.mlflow_run or args.attestation or args.model_card):
        raise ConfigError("--fetch works only for an experiment read from the chain",
                          fix="drop --fetch, or --bundle / --mlflow-run / --attestation / "
                          "--model-card")
    if args.cache is not None and (args.bundle is not None or args.mlflow_run is not None):
        raise ConfigError("--cache works only for an experiment read from the chain",
                          fix="drop --cache, or --bundle / --mlflow-run")
    if args.mlflow_run is not None:
        if args.experiment or args.bundle or args.offline or args.artifacts:
            raise ConfigError("--mlflow-run takes the experiment from the run's tags",
                              fix="drop the experiment id, --bundle, --offline and --artifacts")
        from algo_tracer.integrations.mlflow import verify_mlflow_run

        report = verify_mlflow_run(args.mlflow_run, args.tracking_uri, manifest=args.manifest,
                                   indexer_timeout=args.indexer_timeout,
                                   progress=_progress(args))
    elif args.attestation is not None or args.model_card is not None:
        from algo_tracer.cli.interop import verify_document

        report = verify_document(args)
    elif args.bundle is None:
        if args.offline:
            raise ConfigError("--offline needs --bundle: without one the chain is the only "
                              "source", fix="export a bundle first: algo-tracer export ID -o B")
        if args.fetch and (args.cache is not None or args.artifacts is not None):
            raise ConfigError("--fetch retrieves the stored content itself",
                              fix="drop --cache and --artifacts")
        if args.fetch:
            from algo_tracer.cli.fetch import verify_with_fetch

            report = verify_with_fetch(args)
        else:
            report = (_verify_cached(args) if args.cache is not None
                      else _verify_network(args, args.artifacts))
    else:
        from algo_tracer.verify.bundle import Bundle, verify_bundle

        bundle = Bundle.read(args.bundle)
        eid, manifest = _load(args, bundle_id=bundle.experiment_id)
        if parse_id(bundle.experiment_id) != eid:
            raise InputError(f"the bundle is for experiment {bundle.experiment_id}, not "
                             f"{format_id(eid)}", fix="give the bundle of this experiment")
        if args.app_id is not None and args.app_id != bundle.app_id:
            raise InputError(f"the bundle is from app {bundle.app_id}, not {args.app_id}",
                             fix="drop --app-id: the bundle names its app")
        report = verify_bundle(bundle, None if args.offline else _algorand(), args.offline,
                               manifest=manifest, artifacts_dir=args.artifacts,
                               progress=_progress(args))
    if args.signed_model is not None:
        from algo_tracer.cli.interop import check_signed_model

        check_signed_model(report, *args.signed_model)
    if args.strict:
        report = report.model_copy(deep=True).make_strict()  # a cached report stays as made
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    if report.fetched is not None:
        from algo_tracer.cli.fetch import fetch_outcome

        return fetch_outcome(report.fetched, report.ok)
    return Outcome.of(report.ok)


def run_show(args: argparse.Namespace) -> Outcome:
    report = _verify_network(args, None)
    print(format_timeline(report))
    return Outcome.of(report.ok)


def run_export(args: argparse.Namespace) -> Outcome:
    from algo_tracer.verify.bundle import export_bundle, verify_bundle

    eid, manifest = _load(args)
    app_id = _app_id(args, manifest.app_id if manifest else None)
    if args.format == "in-toto":
        from algo_tracer.cli.interop import export_attestation_file

        return export_attestation_file(args, eid, manifest, app_id)
    bundle = export_bundle(_algorand(), app_id, eid, manifest=manifest,
                           indexer_timeout=args.indexer_timeout, progress=_progress(args))
    bundle.write(args.output)
    report = verify_bundle(bundle, offline=True)
    print(f"wrote {args.output}: {len(bundle.transactions)} transactions with inclusion proofs "
          f"in {len(bundle.blocks)} blocks{', with the manifest' if manifest else ''}")
    print(f"{'OK' if report.ok else 'FAIL'}: offline check of the bundle"
          + ("" if report.ok else ":\n  " + "\n  ".join(report.failures())))
    return Outcome.of(report.ok)


def run_resume(args: argparse.Namespace) -> Outcome:
    from algo_tracer.record.study import is_study
    from algo_tracer.record.tracer import Tracer

    eid = parse_id(args.experiment) if args.experiment else None
    tracer = Tracer.from_environment()
    if eid is not None and is_study(tracer.journal, eid):
        print(tracer.load_study(eid).finish())  # appends its sealed trials, selects, seals
        return Outcome.OK
    summaries = tracer.resume(eid)
    for summary in summaries:
        print(summary)
    if not summaries:
        busy = len(tracer.journal.experiments(unfinished=True))
        print("nothing to resume: " + (f"{busy} unfinished experiment(s) are being recorded by "
                                       "running processes (see above)" if busy else
                                       "every journaled experiment is finished"))
    return Outcome.OK


def run_hash(args: argparse.Namespace) -> Outcome:
    """Each path's digest as `exp.trace_data(path)` / `trace_model(path)` records it."""
    import json

    from algo_tracer.hashing import DirectoryDigest
    from algo_tracer.stages import hash_local_copy

    progress = _progress(args)
    for path in args.paths:
        if not _exists(path):
            raise InputError(f"{shorten(str(path))} does not exist", fix="check the path")
        hashed = hash_local_copy(path, progress)
        if isinstance(hashed, DirectoryDigest):
            digest, files = hashed.digest, len(hashed.entries)
        else:
            digest, files = hashed, 1
        if args.json:
            print(json.dumps({"path": str(path), "digest": str(digest), "kind": digest.kind,
                              "files": files}))
        else:
            print(f"{digest}  {digest.kind:<9}  {path}")
    return Outcome.OK


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError as exc:  # e.g. ENAMETOOLONG: pathlib raises all but "not found"
        raise InputError(f"cannot use {shorten(str(path))}: {exc.strerror}",
                         fix="give a shorter or valid path") from None


def run_deploy(args: argparse.Namespace) -> Outcome:
    """Deploy (or find) the registry as `python -m smart_contracts deploy` does, with its
    output ("ExperimentRegistry Create: app id N, ...", logged by the deploy script) and our
    errors (algo_tracer.network.deploy); then the app id and the rule that makes it the
    network's registry (settings.REGISTRY_RULE)."""
    import logging
    import sys

    from algo_tracer.network.deploy import deploy_from_environment
    from algo_tracer.network.settings import (
        REGISTRY_RULE,
        algorand_from_environment,
        app_id_from_environment,
    )

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    algorand, genesis_id, genesis_hash, is_localnet = algorand_from_environment()
    app_id = deploy_from_environment(algorand, is_localnet=is_localnet)
    print(f"registry: app {app_id} on {genesis_id} (genesis hash {genesis_hash})")
    print(f"({REGISTRY_RULE})")
    named = app_id_from_environment()
    if named is not None and named != app_id:
        print(f"note: ALGO_TRACER_APP_ID={named} names another app: algo-tracer records and "
              f"verifies there, not in app {app_id}; unset it (LocalNet) or set it to "
              f"{app_id}", file=sys.stderr)
    return Outcome.OK
