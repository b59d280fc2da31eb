"""Stored artifacts fetched by CID and checked: `algo-tracer fetch` and `verify --fetch`.

Step 16 of docs/verification.md. Every stored stage (kind 25, algo_tracer.documents.stored) is
read from the chain alone: its `record_stage` call carries its detail as a stage note whose
hash is the stage's digest (the manifest's detail is the fallback, checked in step 8). For each,
the content is fetched from the IPFS node by CID, streamed to disk, and checked twice:

* against its CID, recomputed from the bytes received (`hashing.unixfs`): content that does not
  hash to its CID is a finding (`stored_cid_mismatch`, exit 1);
* against the digest the stored stage names (docs/hashing.md), and that digest against the
  on-chain digest of the stage it names (data, model, artifact): a finding
  (`stored_digest_mismatch`) when either differs.

A CID that the node cannot serve within its timeout is "not retrievable": neither verified nor
a finding; the command exits 2 (`FetchRow.status`).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from algokit_utils import AlgorandClient

from algo_tracer import hashing, stages
from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.stored import StoredDetail
from algo_tracer.errors import InputError, NetworkError, shorten
from algo_tracer.format.ids import format_id
from algo_tracer.hashing.unixfs import CidHasher, cid_of_path
from algo_tracer.network.ipfs import IpfsNode, NotRetrievableError
from algo_tracer.progress import Progress, track
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.evidence import gather_evidence
from algo_tracer.verify.experiment import VerifyOptions, verify_with_evidence
from algo_tracer.verify.report import (
    CheckRow,
    FetchRow,
    Finding,
    StageStatus,
    VerificationReport,
)
from algo_tracer.verify.stored_refs import stored_details

__all__ = ["FETCH_STEP", "fetch_experiment", "fetch_stored", "verify_fetched"]

FETCH_STEP = 16
#: Kinds whose stored content must hash to the stage's own on-chain digest.
_SAME_DIGEST = (StageKind.DATA, StageKind.MODEL, StageKind.ARTIFACT)

def fetch_stored(ev: Evidence, node: IpfsNode, out_dir: Path, *,
                 manifest: Manifest | None = None, stage: str | None = None,
                 progress: Progress | None = None) -> list[FetchRow]:
    """Fetch every stored stage of the experiment (or the one naming `stage`) into `out_dir`,
    each checked against its CID and its digest."""
    rows = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, detail in stored_details(ev, manifest):
        if detail is None:
            rows.append(FetchRow(index=index, stage=f"stored stage {index}",
                                 status="unreadable", message="its CID is neither in a stage "
                                 "note that hashes to its digest nor in a manifest"))
            continue
        if stage is not None and stage not in (detail.stage, stages.stage_name(detail.stage)):
            continue
        rows.append(_fetch_one(ev, index, detail, node, out_dir, progress))
    if stage is not None and not rows:
        raise InputError(f"experiment has no stored stage {shorten(repr(stage))}",
                         fix="see `algo-tracer show EXPERIMENT` for its stages (stored:...)")
    return rows


def verify_fetched(algorand: AlgorandClient, app_id: int, experiment_id: bytes | str,
                   node: IpfsNode, *, out_dir: Path | None = None,
                   manifest: Manifest | str | None = None, indexer_timeout: float = 60,
                   progress: Progress | None = None) -> tuple[VerificationReport, list[FetchRow]]:
    """`verify_experiment` plus step 16, with no local copy: the stored content is fetched
    (into `out_dir`, else a temporary directory removed afterwards) and checked; each stage it
    names is then shown as re-hashed from the fetched copy."""
    report, ev = verify_with_evidence(algorand, app_id, experiment_id, VerifyOptions(
        manifest=manifest, indexer_timeout=indexer_timeout, progress=progress))
    with tempfile.TemporaryDirectory(prefix="algo-tracer-fetch-") as tmp:
        rows = fetch_stored(ev, node, out_dir or Path(tmp), progress=progress,
                            manifest=report_manifest(manifest))
    apply_rows(report, rows)
    report.fetched = rows
    return report.finalize(), rows


def fetch_experiment(algorand: AlgorandClient, app_id: int, experiment_id: bytes,
                     node: IpfsNode, out_dir: Path, *, stage: str | None = None,
                     manifest: Manifest | None = None, indexer_timeout: float = 60,
                     progress: Progress | None = None) -> list[FetchRow]:
    """`algo-tracer fetch`: the stored content of an experiment (or of one stage), found from
    the chain, written to `out_dir` and checked against its CIDs and digests."""
    ev = gather_evidence(algorand, app_id, experiment_id, indexer_timeout=indexer_timeout,
                         progress=progress)
    if ev.header is None:
        raise InputError(f"app {app_id} has no experiment {format_id(experiment_id)}",
                         fix="check the id and --app-id / ALGO_TRACER_APP_ID")
    return fetch_stored(ev, node, out_dir, manifest=manifest, stage=stage, progress=progress)


def report_manifest(manifest: Manifest | str | None) -> Manifest | None:
    return Manifest.read(manifest) if isinstance(manifest, str) else manifest


def apply_rows(report: VerificationReport, rows: list[FetchRow]) -> None:
    """Step 16's row and findings; each stage a verified copy was fetched for is labelled as
    the stored stage names it and becomes `match` (re-hashed from the fetched copy)."""
    problems = []
    for row in rows:
        if row.status in ("cid_mismatch", "digest_mismatch", "unreadable"):
            problems.append(f"{row.stage}: {row.message}")
            report.findings.append(Finding(step=FETCH_STEP, severity="error",
                                           code=f"stored_{row.status}", message=row.message))
    by_index = {r.index: r for r in report.stages if r.index is not None}
    for row in rows:
        named = by_index.get(row.named_index) if row.named_index is not None else None
        if named is None:
            continue
        if row.status == "verified" and row.same_digest and named.status in (
                StageStatus.RECORDED, StageStatus.MATCH):
            named.status, named.local_source = StageStatus.MATCH, f"ipfs://{row.cid}"
            named.local_digest = named.chain_digest
            named.message = "the content fetched by its CID re-hashes to the on-chain digest"
    verified = sum(r.status == "verified" for r in rows)
    missing = [r for r in rows if r.status == "not_retrievable"]
    detail = (f"{verified} of {len(rows)} stored artifacts fetched by CID, each equal to its "
              "CID and its recorded digest" + (f"; {len(missing)} not retrievable" if missing
                                                else "")) if rows else "no stored stages"
    report.checks.append(CheckRow(
        step=FETCH_STEP, name="stored content", status="fail" if problems else "pass",
        detail="; ".join(problems[:5]) if problems else detail))
    if missing:
        report.not_checked.append(f"{len(missing)} stored artifacts are not retrievable from "
                                  "the IPFS node: " + ", ".join(r.stage for r in missing))


def _fetch_one(ev: Evidence, index: int, detail: StoredDetail, node: IpfsNode, out_dir: Path,
               progress: Progress | None) -> FetchRow:
    row = FetchRow(index=index, stage=detail.stage, cid=detail.cid, status="verified")
    named = ev.stages[detail.index] if detail.index < index else None
    if named is None:
        row.status, row.message = "unreadable", (f"it names stage {detail.index}, which is not "
                                                 "an earlier stage of the experiment")
        return row
    if Path(detail.name).name != detail.name or detail.name in (".", ".."):
        row.status, row.message = "unreadable", f"its name {detail.name!r} is not a file name"
        return row
    target = out_dir / detail.name
    if target.exists():
        target = out_dir / f"{index}-{detail.name}"
    try:
        got_cid = (_fetch_file(node, detail, target, progress) if detail.type == "file"
                   else _fetch_directory(node, detail, target))
    except NetworkError as exc:  # NotRetrievableError, or no node at all
        row.status, row.message = "not_retrievable", f"{exc.message} ({exc.fix})"
        return row
    row.path = str(target)
    if got_cid != detail.cid:
        row.status = "cid_mismatch"
        row.message = (f"the node served content for {detail.cid} that hashes to the CID "
                       f"{got_cid}: not the recorded content{_reject(row, target)}")
        return row
    hashed = stages.hash_local_copy(target, progress)
    digest_hex = (hashed.digest if isinstance(hashed, hashing.DirectoryDigest) else hashed).hex
    if digest_hex != detail.digest:
        row.status = "digest_mismatch"
        row.message = (f"the content of {detail.cid} hashes to {digest_hex[:16]}…, the stored "
                       f"stage records {detail.digest[:16]}…{_reject(row, target)}")
    elif named.kind in _SAME_DIGEST and named.digest.hex() != detail.digest:
        row.status = "digest_mismatch"
        row.message = (f"the stored content hashes to {detail.digest[:16]}…, the stage it "
                       f"names ({detail.stage}, index {detail.index}) has "
                       f"{named.digest.hex()[:16]}… on chain: other content was stored"
                       f"{_reject(row, target)}")
    else:
        row.message = f"fetched to {target}; its CID and digest are the recorded ones"
        row.named_index, row.same_digest = detail.index, named.kind in _SAME_DIGEST
    return row


def _reject(row: FetchRow, target: Path) -> str:
    """Move content that failed its check out of the way (never left under the artifact's
    name, where it could be taken for the recorded one); the message's tail says where."""
    rejected = target.with_name(target.name + ".rejected")
    if rejected.is_dir():
        shutil.rmtree(rejected)
    target.replace(rejected)
    row.path = str(rejected)
    return f" (kept as {rejected})"


def _fetch_file(node: IpfsNode, detail: StoredDetail, target: Path,
                progress: Progress | None) -> str:
    hasher = CidHasher()
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out, track(progress, f"fetching {detail.name} from IPFS",
                                              unit="B") as advance:
            for chunk in node.cat(detail.cid):
                out.write(chunk)
                hasher.feed(chunk)
                advance(len(chunk))
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave part of an artifact behind
        raise
    partial.replace(target)
    return hasher.finish()


def _fetch_directory(node: IpfsNode, detail: StoredDetail, target: Path) -> str:
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        stream = node.get_tar(detail.cid)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(staging, filter="data")  # no absolute paths, no escapes
        finally:
            stream.close()
        roots = list(staging.iterdir())
        if len(roots) != 1:
            raise NotRetrievableError(f"the node's archive of {detail.cid} has {len(roots)} "
                                      "roots, not one", fix="check the node (kubo >= 0.20)")
        roots[0].replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cid_of_path(target)
