"""in-toto attestations of an experiment: export one signed by the recorder, verify one.

    >>> from algo_tracer.verify.attestation import export_attestation, verify_attestation
    >>> envelope = export_attestation(algorand, app_id, "GRZK4RZv...", private_key=key,
    ...                               manifest="manifest.json")            # doctest: +SKIP
    >>> envelope.write("att.json")                                          # doctest: +SKIP
    >>> verify_attestation(algorand, Envelope.read("att.json")).ok          # doctest: +SKIP

The statement's subjects are the experiment's data, model and artifact stages (named by their
traced path, else their label); its predicate (`PREDICATE_TYPE`, docs/interop.md) is what the
chain says: network, app, experiment, owner, chain head, seal, every stage with kind, digest,
round and transaction id, every batch. Export verifies the experiment first and attests only a
passing one. Verification re-reads the chain and checks the signature against the owner *the
chain* names (not the one the statement claims), then every claim; each difference is an
error finding (exit 1).
"""

from __future__ import annotations

import os
from typing import Any

from algokit_utils import AlgorandClient
from algosdk import encoding

from algo_tracer.documents.attestation import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Envelope,
    sign_statement,
    signature_problem,
    statement_of,
)
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.errors import ConfigError, InputError
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.progress import Progress
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.experiment import VerifyOptions, verify_with_evidence
from algo_tracer.verify.report import CheckRow, Finding, VerificationReport

__all__ = ["ATTESTATION_STEP", "build_statement", "export_attestation", "verify_attestation"]

#: The step number of the attestation checks in a report (docs/verification.md §1).
ATTESTATION_STEP = 12
#: The digest key of the subject that stands for an experiment without data, model or artifact.
CHAIN_HEAD_KEY = "algotrace-chain-head"
#: Stage kinds whose digests name things a consumer holds: the statement's subjects.
_SUBJECT_KINDS = (StageKind.DATA, StageKind.MODEL, StageKind.ARTIFACT, StageKind.SIGNED_MODEL)


def export_attestation(algorand: AlgorandClient, app_id: int, experiment_id: bytes | str, *,
                       private_key: str, manifest: Manifest | str | os.PathLike[str] | None = None,
                       indexer_timeout: float = 60,
                       progress: Progress | None = None) -> Envelope:
    """The experiment's in-toto statement in a DSSE envelope signed by its recorder.

    Args:
        algorand: A client with algod and an Indexer.
        app_id: The ExperimentRegistry app.
        experiment_id: The 32-byte id or its base58 text.
        private_key: The recording account's key (algosdk's base64 form): it must be the key of
            the experiment's owner. Used to sign, never printed or stored.
        manifest: The run's manifest: names the subjects by their traced paths and adds the
            labels; without it subjects are named by stage kind.
        indexer_timeout: Seconds to wait for the Indexer to catch up.
        progress: Shows long Indexer scans.

    Raises:
        VerificationError: the experiment does not verify (nothing is attested).
        ConfigError: the key is not the owner's.
        NetworkError, InputError: as `verify_experiment`.
    """
    report, ev = verify_with_evidence(algorand, app_id, experiment_id, VerifyOptions(
        manifest=manifest, indexer_timeout=indexer_timeout, progress=progress))
    if ev.header is None:
        raise InputError(f"experiment {report.experiment_id} is not in app {app_id}",
                         fix="check the experiment id and --app-id")
    report.raise_for_failure()
    signer = _address_of(private_key)
    if signer != report.owner:
        raise ConfigError(f"the signing account {signer} did not record experiment "
                          f"{report.experiment_id} (its owner is {report.owner})",
                          fix="set ALGO_TRACER_MNEMONIC to the owner's mnemonic (on LocalNet: "
                          "run export with the environment that recorded the experiment)")
    m = manifest if isinstance(manifest, Manifest) or manifest is None else Manifest.read(manifest)
    return sign_statement(build_statement(report, ev, m), private_key)


def build_statement(report: VerificationReport, ev: Evidence,
                    manifest: Manifest | None) -> dict[str, Any]:
    """The in-toto Statement v1 of a verified experiment (docs/interop.md §2 lists each field)."""
    labels = {s.index: s for s in manifest.stages} if manifest else {}
    txids = {s.index: s.txid for s in report.stages if s.index is not None}
    stages, subjects = [], []
    for s in ev.stages:
        kind = StageKind(s.kind) if s.kind in StageKind._value2member_map_ else None
        entry = labels.get(s.index)
        label = entry.label if entry else (kind.name.lower() if kind else f"kind-{s.kind}")
        stages.append({"index": s.index, "kind": s.kind, "label": label, "digest": s.digest.hex(),
                       "round": s.round, "txid": txids.get(s.index)})
        if kind in _SUBJECT_KINDS:
            scheme = str(entry.detail.get("scheme", "")) if entry else ""
            name = str(entry.detail.get("path") or label) if entry else label
            subjects.append({"name": name, "digest": {_digest_key(scheme): s.digest.hex()},
                             "annotations": {"stageIndex": s.index, "label": label,
                                             "scheme": scheme or "unknown"}})
    h = ev.header
    assert h is not None  # export checked it
    if not subjects:  # in-toto needs one: the experiment itself, named by its chain head
        subjects.append({"name": f"experiment:{report.experiment_id}",
                         "digest": {CHAIN_HEAD_KEY: h.head.hex()}})
    predicate = {
        "recorder": report.owner,
        "network": {"genesisId": report.genesis_id, "genesisHash": report.genesis_hash},
        "appId": report.app_id,
        "experimentId": report.experiment_id,
        "name": manifest.name if manifest else None,
        "chainHead": h.head.hex(),
        "created": {"round": report.created_round, "txid": report.created_txid},
        "seal": {"sealed": h.sealed, "finalDigest": h.final_digest.hex() if h.sealed else None,
                 "round": report.sealed_round, "txid": report.sealed_txid},
        "stages": stages,
        "batches": [{"index": b.index, "root": b.root, "recordCount": b.record_count,
                     "round": b.round, "txid": b.txid} for b in report.batches],
        "verifiedAtRound": report.data_round,
        "verify": "algo-tracer verify --attestation ATTESTATION.json",
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": predicate}


def _digest_key(scheme: str) -> str:
    """`sha256` for a file (plain SHA-256, what `sha256sum` prints); our own algorithm name
    for the other schemes (a directory's digest is no file's sha256, docs/interop.md)."""
    return "sha256" if scheme == "file" else f"algotrace-v1-{scheme or 'stage'}"


def _address_of(private_key: str) -> str:
    import base64

    return str(encoding.encode_address(base64.b64decode(private_key)[32:64]))


def verify_attestation(algorand: AlgorandClient, envelope: Envelope, *,
                       indexer_timeout: float = 60,
                       progress: Progress | None = None) -> VerificationReport:
    """Check an attestation's signature and every claim against the chain.

    The report is the experiment's verification report (steps 0-8 from the chain) with the
    attestation's checks added as step `ATTESTATION_STEP`: its signature under the owner's key,
    then each claim. Any difference is an error finding, so `report.ok` is False (exit 1).

    Raises:
        InputError: not an in-toto statement of our predicate type, or one without an
            experiment or app id (a foreign or malformed attestation: not a finding).
        NetworkError, ConfigError: as `verify_experiment`.
    """
    statement = statement_of(envelope)
    claims = statement["predicate"]
    try:
        eid = parse_id(str(claims["experimentId"]))
        app_id = int(claims["appId"])
    except (KeyError, TypeError, ValueError, InputError):
        raise InputError("the attestation names no valid experimentId and appId",
                         fix="give an attestation written by `algo-tracer export --format "
                         "in-toto`") from None
    report, ev = verify_with_evidence(algorand, app_id, eid, VerifyOptions(
        indexer_timeout=indexer_timeout, progress=progress))
    problems: list[str] = []
    if report.owner is None:
        problems.append(f"experiment {format_id(eid)} is not in app {app_id}")
    else:
        problem = signature_problem(envelope, report.owner)
        report.checks.append(CheckRow(
            step=ATTESTATION_STEP, name="attestation signature",
            status="fail" if problem else "pass",
            detail=problem or f"DSSE signature by the recorder {report.owner}"))
        if problem:
            report.findings.append(Finding(step=ATTESTATION_STEP, severity="error",
                                           code="attestation_signature", message=problem))
        problems += _claim_problems(statement, report, ev)
    for p in problems:
        report.findings.append(Finding(step=ATTESTATION_STEP, severity="error",
                                       code="attestation_claim", message=p))
    report.checks.append(CheckRow(
        step=ATTESTATION_STEP, name="attestation claims", status="fail" if problems else "pass",
        detail=f"{len(problems)} claim(s) differ from the chain" if problems else
        f"every claim holds ({len(claims.get('stages') or [])} stages, "
        f"{len(statement['subject'])} subjects)"))
    return report.finalize()


def _claim_problems(statement: dict[str, Any], report: VerificationReport,
                    ev: Evidence) -> list[str]:
    """Every claim of the statement that the chain does not bear out, as one line each."""
    c, h = statement["predicate"], ev.header
    assert h is not None
    out: list[str] = []

    def same(what: str, claimed: Any, chain: Any) -> None:
        if claimed != chain:
            out.append(f"{what}: the attestation says {claimed!r}, the chain {chain!r}")

    network = c.get("network") or {}
    same("network genesis hash", network.get("genesisHash"), report.genesis_hash)
    same("network genesis id", network.get("genesisId"), report.genesis_id)
    same("recorder", c.get("recorder"), report.owner)
    same("chain head", c.get("chainHead"), h.head.hex())
    seal = c.get("seal") or {}
    same("sealed", seal.get("sealed"), h.sealed)
    same("seal final digest", seal.get("finalDigest"), h.final_digest.hex() if h.sealed else None)
    same("seal round", seal.get("round"), report.sealed_round)
    same("seal txid", seal.get("txid"), report.sealed_txid)
    created = c.get("created") or {}
    same("creation round", created.get("round"), report.created_round)
    same("creation txid", created.get("txid"), report.created_txid)
    txids = {s.index: s.txid for s in report.stages if s.index is not None}
    chain = {s.index: {"kind": s.kind, "digest": s.digest.hex(), "round": s.round,
                       "txid": txids.get(s.index)} for s in ev.stages}
    claimed = {s.get("index"): s for s in c.get("stages") or [] if isinstance(s, dict)}
    same("stage indexes", sorted(claimed, key=_order), sorted(chain))
    for index, truth in chain.items():
        for key, value in truth.items():
            if index in claimed:
                same(f"stage {index} {key}", claimed[index].get(key), value)
    batches = {b.index: {"root": b.root, "recordCount": b.record_count, "round": b.round,
                         "txid": b.txid} for b in report.batches}
    claimed_b = {b.get("index"): b for b in c.get("batches") or [] if isinstance(b, dict)}
    same("batch indexes", sorted(claimed_b, key=_order), sorted(batches))
    for index, truth in batches.items():
        for key, value in truth.items():
            if index in claimed_b:
                same(f"batch {index} {key}", claimed_b[index].get(key), value)
    # Subjects: each must be the digest of a data, model or artifact stage of the chain.
    digests = {s.digest.hex(): s.index for s in ev.stages if s.kind in set(_SUBJECT_KINDS)}
    subjects = [s for s in statement["subject"] if isinstance(s, dict)]
    if not subjects:
        out.append("the statement has no subject")
    for s in subjects:
        digest = s.get("digest") or {}
        values = list(digest.values()) if isinstance(digest, dict) else []
        if list(digest) == [CHAIN_HEAD_KEY] and values == [h.head.hex()]:
            continue
        if len(values) != 1 or values[0] not in digests:
            out.append(f"subject {str(s.get('name'))[:100]!r}: digest {values} is no data, "
                       "model or artifact stage of the experiment")
    return out


def _order(index: Any) -> tuple[int, int, str]:
    """Sort key of claimed indexes: whole numbers in numeric order, anything else after."""
    is_int = isinstance(index, int) and not isinstance(index, bool)
    return (0, index if is_int else 0, "") if is_int else (1, 0, str(index))
