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
from algo_tracer.verify.report import VerificationReport

__all__ = ["export_attestation_file", "verify_document"]


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


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. ENAMETOOLONG
        return False


def _progress(args: argparse.Namespace) -> Progress | None:
    return None if args.quiet else Progress()


def _algorand() -> AlgorandClient:
    return algorand_from_environment()[0]
