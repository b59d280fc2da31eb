"""Verify a traced experiment against the chain.

    >>> from algo_tracer.network.settings import algorand_from_environment
    >>> from algo_tracer.verify.experiment import verify_experiment
    >>> algorand, *_ = algorand_from_environment()
    >>> report = verify_experiment(algorand, app_id, "GRZK4RZv...", manifest="manifest.json",
    ...                            artifacts_dir="outputs/")                   # doctest: +SKIP
    >>> report.ok, [(s.label, s.status) for s in report.stages]               # doctest: +SKIP

`verify_experiment` gathers the experiment's evidence as of one round
(`algo_tracer.verify.evidence.gather_evidence`: boxes from algod, events and note transactions
from the Indexer once it has caught up with that round, so a lagging Indexer is reported as a
network error, never as a missing record), then runs the checks, the numbered steps of
docs/verification.md (see `algo_tracer.verify.checks`).

The reproducibility gate `check_reproducible` is in `algo_tracer.verify.reproducible`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algokit_utils import AlgorandClient

from algo_tracer.documents.manifest import Manifest
from algo_tracer.documents.plan import PlanReveal
from algo_tracer.errors import InputError
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.format.records import NoteRecord
from algo_tracer.network.endpoints import served_counts
from algo_tracer.network.identity import Network, require_node_on
from algo_tracer.progress import Progress
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.checks import run_checks
from algo_tracer.verify.evidence import gather_evidence
from algo_tracer.verify.report import CheckRow, VerificationReport
from algo_tracer.verify.stored_refs import note_stored
from algo_tracer.verify.study_checks import check_plan, check_study

__all__ = ["VerifyOptions", "verify_experiment"]

NETWORK_TRUST = ("that algod and the Indexer report the chain faithfully (export a proof bundle "
                 "to check every transaction against its block header)")


@dataclass(frozen=True, kw_only=True)
class VerifyOptions:
    """What a verification of one experiment is given besides the chain: the one parameter list
    of `verify_experiment` and `verify_with_evidence` (fields as in `verify_experiment`)."""

    manifest: Manifest | str | os.PathLike[str] | None = None
    """The run's manifest (or its path): the seal, private-record and per-stage checks."""
    artifacts_dir: str | os.PathLike[str] | None = None
    """Where to find the traced files (matched by base name) to re-hash them."""
    data: Mapping[str, Any] | None = None
    """Objects to re-hash for stages that cannot be read from disk, by stage name."""
    indexer_timeout: float = 60
    """Seconds to wait for the Indexer to catch up."""
    progress: Progress | None = None
    """Shows long Indexer scans and re-hashing; None is silent."""
    records: list[NoteRecord] | None = None
    """A list that receives the records the chain proves."""
    plan_reveal: PlanReveal | None = None
    """A private plan's published reveal file, for step 10."""


def verify_experiment(
    algorand: AlgorandClient,
    app_id: int,
    experiment_id: bytes | str,
    *,
    manifest: Manifest | str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    data: Mapping[str, Any] | None = None,
    indexer_timeout: float = 60,
    progress: Progress | None = None,
    records: list[NoteRecord] | None = None,
    plan_reveal: PlanReveal | None = None,
) -> VerificationReport:
    """Check one experiment of registry `app_id`; see docs/verification.md for the steps.

    Args:
        algorand: A client with algod and an Indexer (no signing account is needed).
        app_id: The ExperimentRegistry app.
        experiment_id: The 32-byte id, or its base58 / hex text.
        manifest: The run's manifest (or its path): enables the seal, private-record and
            per-stage manifest checks.
        artifacts_dir: Where to find the traced files (matched by base name) to re-hash them.
        data: Objects to re-hash for stages that cannot be read from disk, by stage name
            (``{"train": df}``).
        indexer_timeout: Seconds to wait for the Indexer to catch up.
        progress: Shows long Indexer scans and re-hashing (`algo_tracer.progress.Progress`;
            None is silent).
        records: A list that receives the records the chain proves: the public records of
            every batch whose notes rebuild the anchored root, and the private records whose
            proofs hold (MLflow's metric history is compared with them).
        plan_reveal: A private plan's reveal file, when it was published rather than sent on
            chain (`algo-tracer reveal`): step 10 checks that it opens the commitment.

    Returns:
        The report; `report.ok` is False when anything failed (`raise_for_failure()` raises).

    Raises:
        InputError: a malformed id, or a manifest of another experiment.
        ConfigError: the app does not exist on this network, the manifest is from another
            network (another genesis hash), or no Indexer is configured.
        NetworkError: algod or the Indexer unreachable, or the Indexer does not catch up.
    """
    return verify_with_evidence(algorand, app_id, experiment_id, VerifyOptions(
        manifest=manifest, artifacts_dir=artifacts_dir, data=data,
        indexer_timeout=indexer_timeout, progress=progress, records=records,
        plan_reveal=plan_reveal))[0]


def verify_with_evidence(
    algorand: AlgorandClient,
    app_id: int,
    experiment_id: bytes | str,
    options: VerifyOptions | None = None,
) -> tuple[VerificationReport, Evidence]:
    """`verify_experiment`, also returning the evidence it checked (for checks that need more
    of the chain than the report keeps, e.g. the header's final digest; internal)."""
    started = time.monotonic()
    o = options or VerifyOptions()
    progress, artifacts_dir = o.progress, o.artifacts_dir
    eid = experiment_id if isinstance(experiment_id, bytes) else parse_id(experiment_id)
    manifest = _load_manifest(o.manifest, eid)
    if manifest is not None:  # before "no experiment in app N": a manifest names its network
        require_node_on(algorand, f"the manifest of experiment {manifest.experiment_id}",
                        Network(manifest.genesis_id, manifest.genesis_hash))
    served_before = served_counts(algorand)
    ev = gather_evidence(algorand, app_id, eid, indexer_timeout=o.indexer_timeout,
                         progress=progress)
    indexer_round = ev.data_round
    report = VerificationReport(experiment_id=format_id(eid), app_id=app_id,
                                genesis_id=ev.genesis_id, genesis_hash=ev.genesis_hash,
                                source="network",
                                data_round=indexer_round)
    if ev.header is not None:
        # (0) Sources: the Indexer has every round up to the one the boxes were read at.
        report.checks.append(CheckRow(
            step=0, name="sources", status="pass",
            detail=f"boxes read at round {indexer_round}, the Indexer has reached it; "
                   f"{len(ev.app_txns)} registry calls, {len(ev.note_txns)} note transactions"))
    run_checks(ev, report, manifest=manifest,
               artifacts_dir=Path(artifacts_dir) if artifacts_dir is not None else None,
               data=o.data, progress=progress, records=o.records)
    note_stored(ev, report, manifest)  # the CIDs on chain (docs/ipfs.md); verify --fetch checks
    check_plan(algorand, ev, report, manifest, o.plan_reveal)
    check_study(algorand, ev, report, manifest)
    report.not_checked.append(NETWORK_TRUST)
    report.served_by = {
        service: {url: n - served_before.get(service, {}).get(url, 0) for url, n in counts.items()
                  if n > served_before.get(service, {}).get(url, 0)}
        for service, counts in served_counts(algorand).items()}
    report.elapsed_seconds = round(time.monotonic() - started, 3)
    return report.finalize(), ev


def _load_manifest(manifest: Manifest | str | os.PathLike[str] | None,
                   eid: bytes) -> Manifest | None:
    if manifest is None:
        return None
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(Path(manifest))
    if parse_id(m.experiment_id) != eid:
        raise InputError(f"the manifest is for experiment {m.experiment_id}, not "
                         f"{format_id(eid)}", fix="give the manifest of this experiment")
    return m
