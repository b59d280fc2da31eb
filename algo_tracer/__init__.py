"""algo-tracer: tamper-evident, timestamped provenance for ML experiments, on Algorand.

    from algo_tracer import Tracer
    tracer = Tracer.from_environment()
    with tracer.experiment("iris-logreg", seed=42) as exp:
        exp.trace_data("train", X_train)
        exp.trace_params({"C": 1.0})
        exp.log_metric("loss", 0.3, step=1)
        exp.trace_model(model)

See the README for the whole API, docs/ for the on-chain, note and hashing formats.
"""

from algo_tracer.documents.attestation import Envelope
from algo_tracer.documents.datasheet import DatasheetInfo
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.model_card import ModelCardInfo
from algo_tracer.errors import (
    AlgoTracerError,
    CidError,
    ConfigError,
    ContractError,
    ExperimentBusyError,
    InputError,
    InsufficientFundsError,
    JournalError,
    LocalnetError,
    NetworkError,
    ReproducibilityError,
    SealTimeoutError,
    VerificationError,
)
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.hashing import Digest, digest_of, hash_directory, hash_file
from algo_tracer.hashing.unixfs import CidHasher, cid_of_path, parse_cid
from algo_tracer.network.ipfs import IpfsClient, IpfsSettings, NotRetrievableError
from algo_tracer.record.plans import Revealed
from algo_tracer.record.receipts import ExperimentSummary, StageReceipt
from algo_tracer.record.study import Study, StudySummary, Trial, TrialPruned
from algo_tracer.record.tracer import Experiment, Tracer
from algo_tracer.seeding import seed_everything
from algo_tracer.verify.attestation import export_attestation, verify_attestation
from algo_tracer.verify.bundle import Bundle, export_bundle, verify_bundle
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.fetched import fetch_experiment, verify_fetched
from algo_tracer.verify.model_card import verify_model_card
from algo_tracer.verify.report import Timeline, VerificationReport
from algo_tracer.verify.reproducible import check_reproducible

__version__ = "0.1.0"

__all__ = [
    "AlgoTracerError",
    "Bundle",
    "CidError",
    "CidHasher",
    "ConfigError",
    "ContractError",
    "DatasheetInfo",
    "Digest",
    "Envelope",
    "Experiment",
    "ExperimentBusyError",
    "ExperimentSummary",
    "InputError",
    "InsufficientFundsError",
    "IpfsClient",
    "IpfsSettings",
    "JournalError",
    "LocalnetError",
    "Manifest",
    "ModelCardInfo",
    "NetworkError",
    "NotRetrievableError",
    "ReproducibilityError",
    "Revealed",
    "SealTimeoutError",
    "StageKind",
    "StageReceipt",
    "Study",
    "StudySummary",
    "Timeline",
    "Tracer",
    "Trial",
    "TrialPruned",
    "VerificationError",
    "VerificationReport",
    "__version__",
    "check_reproducible",
    "cid_of_path",
    "digest_of",
    "export_attestation",
    "export_bundle",
    "fetch_experiment",
    "format_id",
    "hash_directory",
    "hash_file",
    "parse_cid",
    "parse_id",
    "seed_everything",
    "verify_attestation",
    "verify_bundle",
    "verify_experiment",
    "verify_fetched",
    "verify_model_card",
]
