"""`export --format in-toto` and `verify --attestation | --model-card`: the ecosystem's formats.

Thin shells over `algo_tracer.verify.attestation` and `algo_tracer.verify.model_card`
(docs/interop.md); called by `algo_tracer.cli.experiment`, which parses the arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from algokit_utils import AlgorandClient

from algo_tracer.cli.outcome import Outcome
from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import ConfigError, InputError, shorten
from algo_tracer.format.ids import format_id
from algo_tracer.network.settings import algorand_from_environment
from algo_tracer.progress import Progress
from algo_tracer.verify.report import CheckRow, Finding, VerificationReport

__all__ = ["SIGNED_MODEL_STEP", "check_signed_model", "export_attestation_file",
           "verify_document"]

#: The step number of the model_signing check in a report (docs/verification.md).
SIGNED_MODEL_STEP = 14


def export_attestation_file(args: argparse.Namespace, eid: bytes, manifest: Manifest | None,
                            app_id: int) -> Outcome:
    """`export --format in-toto`: signed with the recording account (never printed)."""
    from algo_tracer.network.settings import recording_account
    from algo_tracer.verify.attestation import export_attestation

    algorand, _, _, is_localnet = algorand_from_environment()
    account = recording_account(algorand, is_localnet)
    envelope = export_attestation(algorand, app_id, eid, private_key=account.private_key,
                                  manifest=manifest, indexer_timeout=args.indexer_timeout,
                                  progress=_progress(args))
    envelope.write(args.output)
    print(f"wrote {args.output}: in-toto statement of experiment {format_id(eid)} in a DSSE "
          f"envelope signed by its recorder {account.address}")
    print(f"check it: algo-tracer verify --attestation {args.output}")
    return Outcome.OK


def verify_document(args: argparse.Namespace) -> VerificationReport:
    """`verify --attestation ATT` / `verify --model-card CARD`: the file names its experiment."""
    what = "--attestation" if args.attestation is not None else "--model-card"
    if (args.experiment or args.bundle or args.offline or args.artifacts or args.manifest
            or (args.attestation is not None and args.model_card is not None)):
        raise ConfigError(f"{what} takes the experiment and app from the file",
                          fix="give only one of --attestation / --model-card, without an "
                          "experiment id, --bundle, --offline, --artifacts or --manifest")
    if args.attestation is not None:
        from algo_tracer.documents.attestation import Envelope
        from algo_tracer.verify.attestation import verify_attestation

        envelope = Envelope.read(args.attestation)
        report = verify_attestation(_algorand(), envelope, indexer_timeout=args.indexer_timeout,
                                    progress=_progress(args))
    else:
        from algo_tracer.verify.model_card import verify_model_card

        if not _is_file(args.model_card):
            raise InputError(f"model card {shorten(str(args.model_card))} does not exist",
                             fix="give the MODEL_CARD.md written with the experiment")
        try:
            text = args.model_card.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {shorten(str(args.model_card))}: {exc}",
                             fix="give the MODEL_CARD.md written with the experiment") from None
        report = verify_model_card(_algorand(), text, indexer_timeout=args.indexer_timeout,
                                   progress=_progress(args))
    if args.app_id is not None and args.app_id != report.app_id:
        raise InputError(f"the file is for app {report.app_id}, not {args.app_id}",
                         fix=f"drop --app-id: {what} names its app")
    return report


def check_signed_model(report: VerificationReport, model_dir: str, signature: str,
                       public_key: str) -> None:
    """`verify ... --signed-model DIR SIG PUBKEY`: model_signing's verifier, then the pair
    against the experiment's signed_model stage on chain; added to `report` as step 14."""
    from algo_tracer.documents.manifest import StageKind

    for path, what in ((Path(model_dir), "model directory"), (Path(signature), "signature"),
                       (Path(public_key), "public key")):
        if not (path.is_dir() if what == "model directory" else _is_file(path)):
            raise InputError(f"--signed-model: the {what} {shorten(str(path))} does not exist",
                             fix="give --signed-model MODEL_DIR SIGNATURE PUBLIC_KEY.pem")
    import importlib.util

    if importlib.util.find_spec("model_signing") is None:
        raise ConfigError("--signed-model needs the model-signing package",
                          fix="pip install model-signing")
    from algo_tracer.integrations.signed_models import verify_signed_model

    name = StageKind.SIGNED_MODEL.name.lower()
    rows = [s for s in report.stages if s.kind == name and s.chain_digest]
    if not rows:
        problems = [f"experiment {report.experiment_id} has no {name} stage on chain"]
    else:
        checks = [verify_signed_model(model_dir, signature, public_key, r.chain_digest or "")
                  for r in rows]
        match = next((c for c in checks if c.ok), None)
        problems = [] if match is not None else checks[0].problems or ["no stage matches"]
    for p in problems:
        report.findings.append(Finding(step=SIGNED_MODEL_STEP, severity="error",
                                       code="signed_model", message=p))
    report.checks.append(CheckRow(
        step=SIGNED_MODEL_STEP, name="model_signing signature",
        status="fail" if problems else "pass",
        detail="; ".join(problems)[:500] if problems else
        "model_signing's verifier accepts it, and the model and signature are the recorded ones"))
    report.finalize()


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. ENAMETOOLONG
        return False


def _progress(args: argparse.Namespace) -> Progress | None:
    return None if args.quiet else Progress()


def _algorand() -> AlgorandClient:
    return algorand_from_environment()[0]
