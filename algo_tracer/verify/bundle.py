"""Self-contained proof bundles: an experiment's evidence in one JSON file, checkable offline.

    >>> bundle = export_bundle(algorand, app_id, "GRZK4RZv...", manifest=m)   # doctest: +SKIP
    >>> bundle.write(Path("bundle.json"))                                     # doctest: +SKIP
    >>> verify_bundle(Bundle.read(Path("bundle.json")), offline=True).ok    # doctest: +SKIP
    True

A bundle holds the manifest, the registry's header and stage boxes, and every transaction the
verification looks at (the registry calls that logged the experiment's events, every note
transaction with the experiment's prefix, and the members of note-less anchor groups). Each
transaction comes as its exact `SignedTxnInBlock` bytes from the block, with algod's SHA-256
inclusion proof and the block header that proof commits to (`algo_tracer.format.txn_proof`).

`verify_bundle(bundle, offline=True)` checks everything that needs no node: the inclusion
proofs against the bundled headers' `txn256`, then steps 1-8 of docs/verification.md over the
proven transactions only. What it cannot know offline is listed in the report's `not_checked`:
that the bundled block headers are the chain's, and that the bundled header box is the chain's
latest state. Online (`algorand` given) it re-fetches those and compares. Editing anything in a
bundle after export makes a check fail: transaction bytes no longer hash to their proof, a
proof no longer reaches the header, a manifest no longer hashes to the sealed digest.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from algokit_utils import AlgorandClient
from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.documents.atomic import read_model, write_text_atomic
from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import ConfigError, InputError, NetworkError, VerificationError
from algo_tracer.format import chain, notes
from algo_tracer.format.boxes import decode_header, decode_page
from algo_tracer.format.events import decode_event
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.format.txn_proof import (
    BlockHeader,
    ProvenTxn,
    TxnProof,
    split_block,
    verify_txn_inclusion,
)
from algo_tracer.network.algod import read_block, read_box, transaction_proof
from algo_tracer.network.identity import Network, require_node_on
from algo_tracer.progress import Progress, track
from algo_tracer.verify.check_run import ChainTxn, Evidence
from algo_tracer.verify.checks import run_checks
from algo_tracer.verify.evidence import gather_evidence
from algo_tracer.verify.report import CheckRow, Finding, VerificationReport

__all__ = ["BUNDLE_FORMAT", "Bundle", "BundleBlock", "BundleTxn", "export_bundle",
           "verify_bundle"]

BUNDLE_FORMAT = "algo-tracer-bundle/v1"
_FIX = "give the bundle.json written by `algo-tracer export`"


#: Why a transaction is in a bundle: it logged an event, carries a note, or shares an anchor group.
Role = Literal["event", "note", "group"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleProof(_Model):
    """algod's `GET /v2/blocks/{round}/transactions/{txid}/proof?hashtype=sha256`."""

    idx: int = Field(ge=0, description="position of the transaction in the block")
    treedepth: int = Field(ge=0, le=16)
    proof: str = Field(description="base64: sibling hashes from the leaf up, 32 bytes each")
    stibhash: str = Field(description="base64 SHA-256 of the SignedTxnInBlock")
    hashtype: Literal["sha256"] = "sha256"


class BundleTxn(_Model):
    txid: str
    round: int
    role: Role
    stib: str = Field(description="base64 canonical msgpack of the SignedTxnInBlock")
    proof: BundleProof


class BundleBlock(_Model):
    round: int
    header: str = Field(description="base64 canonical msgpack of the block header")
    hash: str = Field(description="block hash, base32 as algod's /v2/blocks/{round}/hash "
                      "(SHA-512/256 of 'BH' || header)")
    timestamp: int
    txn256: str = Field(description="hex SHA-256 transaction commitment")


class BundleEvent(_Model):
    txid: str
    round: int
    name: str
    fields: dict[str, Any]


class Bundle(_Model):
    format: Literal["algo-tracer-bundle/v1"] = "algo-tracer-bundle/v1"
    exported_at: datetime
    experiment_id: str
    app_id: int
    genesis_id: str
    genesis_hash: str
    boxes_round: int = Field(description="round the boxes were read at")
    header_box: str = Field(description="hex value of the header box")
    stage_pages: list[str] = Field(default_factory=list, description="hex page box values")
    manifest: Manifest | None = None
    events: list[BundleEvent] = Field(default_factory=list, description="readable copy; the "
                                      "verifier derives them from the proven transactions")
    transactions: list[BundleTxn]
    blocks: list[BundleBlock]

    def write(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.model_dump_json(indent=1) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Bundle:
        return read_model(cls, path, what="bundle", fix=_FIX)


def export_bundle(algorand: AlgorandClient, app_id: int, experiment_id: bytes | str, *,
                  manifest: Manifest | str | os.PathLike[str] | None = None,
                  indexer_timeout: float = 60,
                  progress: Progress | None = None,
                  path: str | os.PathLike[str] | None = None) -> Bundle:
    """Collect the experiment's evidence with an inclusion proof for every transaction.

    With `path`, the bundle is also written there (JSON); `progress` shows the Indexer scans
    and the proofs being fetched.

    Raises:
        InputError: the experiment is not in this app, or the manifest is another's.
        NetworkError: algod or the Indexer fails, e.g. a node that no longer keeps the blocks
            (proofs need the block: use an archival node for old experiments).
    """
    eid = experiment_id if isinstance(experiment_id, bytes) else parse_id(experiment_id)
    m = None if manifest is None else (
        manifest if isinstance(manifest, Manifest) else Manifest.read(Path(manifest)))
    if m is not None and parse_id(m.experiment_id) != eid:
        raise InputError(f"the manifest is for experiment {m.experiment_id}, not "
                         f"{format_id(eid)}", fix="give the manifest of this experiment")
    if m is not None:
        require_node_on(algorand, f"the manifest of experiment {m.experiment_id}",
                        Network(m.genesis_id, m.genesis_hash))
    ev = gather_evidence(algorand, app_id, eid, indexer_timeout=indexer_timeout,
                         progress=progress)
    if ev.header is None:
        raise InputError(f"no experiment {format_id(eid)} in app {app_id}",
                         fix="check the experiment id, --app-id and the network")
    wanted: dict[str, tuple[int, Role]] = {}
    sources: list[tuple[Role, list[ChainTxn]]] = [
        ("event", ev.app_txns), ("note", ev.note_txns),
        ("group", [t for g in (ev.groups or {}).values() for t in g])]
    for role, txns in sources:
        for t in txns:
            wanted.setdefault(t.txid, (t.round, role))
    blocks: dict[int, tuple[bytes, list[bytes]]] = {}
    out: list[BundleTxn] = []
    with track(progress, "inclusion proofs", total=len(wanted), unit="txns") as advance:
        for txid, (rnd, role) in sorted(wanted.items(), key=lambda x: x[1][0]):
            if rnd not in blocks:
                blocks[rnd] = split_block(read_block(algorand, rnd))
            out.append(_proven(algorand, txid, rnd, role, blocks[rnd]))
            advance(1)
    block_rows = []
    for rnd, (header_bytes, _) in sorted(blocks.items()):
        h = BlockHeader.from_bytes(header_bytes)
        block_rows.append(BundleBlock(round=rnd, header=_b64(header_bytes), hash=_b32(h.hash),
                                      timestamp=h.timestamp, txn256=h.txn256.hex()))
    pages = [ev.boxes[chain.page_key(eid, p)].hex()
             for p in range((ev.header.stage_count + chain.PAGE_CAPACITY - 1)
                            // chain.PAGE_CAPACITY)]
    bundle = Bundle(exported_at=datetime.now(UTC), experiment_id=format_id(eid), app_id=app_id,
                    genesis_id=ev.genesis_id or "", genesis_hash=ev.genesis_hash or "",
                    boxes_round=ev.data_round or 0,
                    header_box=ev.boxes[chain.header_key(eid)].hex(), stage_pages=pages,
                    manifest=m, events=_events(eid, ev.app_txns), transactions=out,
                    blocks=block_rows)
    if path is not None:
        bundle.write(Path(path))
    return bundle


def _proven(algorand: AlgorandClient, txid: str, rnd: int, role: Role,
            block: tuple[bytes, list[bytes]]) -> BundleTxn:
    """`txid` with algod's inclusion proof, checked against its block before it is handed out."""
    proof = TxnProof.from_algod(transaction_proof(algorand, rnd, txid))
    header, stibs = block
    stib = stibs[proof.idx] if proof.idx < len(stibs) else b""
    try:
        verify_txn_inclusion(stib, BlockHeader.from_bytes(header), proof, txid=txid)
    except VerificationError as exc:
        raise NetworkError(f"algod gave a proof that does not hold: {exc.message}",
                           fix="report this with the algod version") from exc
    return BundleTxn(txid=txid, round=rnd, role=role,
                     stib=_b64(stib), proof=BundleProof(
                         idx=proof.idx, treedepth=proof.treedepth,
                         proof=_b64(proof.proof), stibhash=_b64(proof.stibhash)))


def verify_bundle(bundle: Bundle, algorand: AlgorandClient | None = None, offline: bool = False,
                  *, manifest: Manifest | None = None,
                  artifacts_dir: str | os.PathLike[str] | None = None,
                  data: Mapping[str, Any] | None = None,
                  progress: Progress | None = None) -> VerificationReport:
    """Check a bundle: offline everything that needs no node, online also against algod.

    `manifest` replaces the bundled one (to check a local manifest against the bundle);
    `progress` shows the re-hashing of files found in `artifacts_dir`.

    Raises:
        ConfigError: online without a client, or a node of another network.
        NetworkError: online and algod cannot be reached.
    """
    started = time.monotonic()
    if not offline and algorand is None:
        raise ConfigError("online bundle verification needs a node",
                          fix="pass an AlgorandClient, or offline=True (`--offline`)")
    eid = parse_id(bundle.experiment_id)
    report = VerificationReport(experiment_id=bundle.experiment_id, app_id=bundle.app_id,
                                genesis_id=bundle.genesis_id, genesis_hash=bundle.genesis_hash,
                                source="bundle", offline=offline,
                                data_round=bundle.boxes_round)
    proven, headers = _step0_proofs(bundle, report)
    ev = _evidence(bundle, eid, proven)
    if not offline:
        assert algorand is not None
        _step0_online(bundle, algorand, headers, report)
    else:
        report.not_checked += [
            "that the bundled block headers are the chain's (verify online, or compare their "
            "hashes with any node's GET /v2/blocks/{round}/hash: " + ", ".join(
                f"round {b.round} {b.hash}" for b in bundle.blocks[:3])
            + (" ..." if len(bundle.blocks) > 3 else "") + ")",
            f"that the bundled header box is the chain's state at round {bundle.boxes_round} "
            "and that nothing was written after it (verify online)"]
    run_checks(ev, report, manifest=manifest or bundle.manifest,
               artifacts_dir=Path(artifacts_dir) if artifacts_dir is not None else None,
               data=data, progress=progress)
    report.elapsed_seconds = round(time.monotonic() - started, 3)
    return report.finalize()


def _step0_proofs(bundle: Bundle, report: VerificationReport
                  ) -> tuple[list[tuple[str, ProvenTxn]], dict[int, BlockHeader]]:
    # (0a) Every bundled transaction is in its block: SHA-256 inclusion proof vs txn256.
    problems: list[str] = []
    headers: dict[int, BlockHeader] = {}
    gh = _unb64(bundle.genesis_hash)
    for b in bundle.blocks:
        try:
            h = BlockHeader.from_bytes(_unb64(b.header))
        except VerificationError as exc:
            problems.append(f"block {b.round}: {exc.message}")
            continue
        if (h.round, h.genesis_id, h.genesis_hash) != (b.round, bundle.genesis_id, gh):
            problems.append(f"block {b.round}: the header is of round {h.round} of "
                            f"{h.genesis_id}, not of this bundle's network")
        elif (h.timestamp, h.txn256.hex(), _b32(h.hash)) != (b.timestamp, b.txn256, b.hash):
            problems.append(f"block {b.round}: the readable fields differ from the header")
        else:
            headers[b.round] = h
    proven: list[tuple[str, ProvenTxn]] = []
    for t in bundle.transactions:
        header = headers.get(t.round)
        if header is None:
            problems.append(f"transaction {t.txid}: no valid header for round {t.round}")
            continue
        proof = TxnProof(idx=t.proof.idx, treedepth=t.proof.treedepth,
                         proof=_unb64(t.proof.proof), stibhash=_unb64(t.proof.stibhash))
        try:
            proven.append((t.role, verify_txn_inclusion(_unb64(t.stib), header, proof,
                                                        txid=t.txid)))
        except VerificationError as exc:
            problems.append(exc.message)
    if len({t.txid for t in bundle.transactions}) != len(bundle.transactions):
        problems.append("a transaction appears twice")
    derived = _events(parse_id(bundle.experiment_id), [_chain_txn(p) for _, p in proven])
    if [e.model_dump() for e in derived] != [e.model_dump() for e in bundle.events]:
        problems.append("the bundle's readable event list differs from the proven events")
    report.counts.transactions_proven = len(proven)
    detail = (f"{len(proven)} transactions proven in {len(headers)} bundled block headers "
              "(SHA-256 transaction commitment)")
    report.checks.append(CheckRow(step=0, name="inclusion proofs",
                                  status="fail" if problems else "pass",
                                  detail="; ".join(problems[:5]) or detail))
    return proven, headers


def _step0_online(bundle: Bundle, algorand: AlgorandClient, headers: dict[int, BlockHeader],
                  report: VerificationReport) -> None:
    # (0b) Online: the bundled headers and header box are the chain's.
    require_node_on(algorand, "the bundle", Network(bundle.genesis_id, bundle.genesis_hash),
                    fix="point ALGOD_SERVER at the bundle's network, or check the bundle "
                    "without a node (--offline)")
    problems = []
    for rnd, h in sorted(headers.items()):
        chain_header, _ = split_block(read_block(algorand, rnd, header_only=True))
        if BlockHeader.from_bytes(chain_header).hash != h.hash:
            problems.append(f"block {rnd}: the bundled header is not the chain's")
    eid = parse_id(bundle.experiment_id)
    box = read_box(algorand, bundle.app_id, chain.header_key(eid))
    value = None if box is None else box[0].hex()
    if value is None:
        problems.append(f"app {bundle.app_id} has no header box for this experiment")
    elif value != bundle.header_box:
        if decode_header(bytes.fromhex(bundle.header_box)).sealed:
            problems.append("the chain's header box differs from the bundled (sealed) one")
        else:
            report.findings.append(Finding(
                step=0, severity="warning", code="stale_bundle",
                message="the experiment has had writes since the bundle was exported; export "
                "it again to cover them"))
    report.checks.append(CheckRow(
        step=0, name="headers online", status="fail" if problems else "pass",
        detail="; ".join(problems[:5]) or f"{len(headers)} block headers and the header box "
        "equal algod's"))


def _evidence(bundle: Bundle, eid: bytes, proven: list[tuple[str, ProvenTxn]]) -> Evidence:
    try:
        header = decode_header(bytes.fromhex(bundle.header_box))
        stages = [s for p, page in enumerate(bundle.stage_pages)
                  for s in decode_page(p, bytes.fromhex(page))][:header.stage_count]
    except (ValueError, VerificationError):
        header, stages = None, []
    prefix = notes.experiment_note_prefix(eid)
    txns = [(role, _chain_txn(p)) for role, p in proven]
    groups: dict[bytes, list[ChainTxn]] = {}
    for _, t in txns:
        if t.group is not None:
            groups.setdefault(t.group, []).append(t)
    return Evidence(
        experiment_id=eid, app_id=bundle.app_id, header=header, stages=stages,
        app_txns=[t for _, t in txns if t.app_id == bundle.app_id],
        note_txns=[t for _, t in txns if t.note and t.note.startswith(prefix)],
        groups=groups, genesis_hash=bundle.genesis_hash, genesis_id=bundle.genesis_id,
        data_round=bundle.boxes_round)


def _chain_txn(p: ProvenTxn) -> ChainTxn:
    return ChainTxn(txid=p.txid, round=p.round, intra=p.intra, sender=p.sender, group=p.group,
                    time=p.timestamp, note=p.note, logs=p.logs, app_id=p.app_id)


def _events(eid: bytes, txns: list[ChainTxn]) -> list[BundleEvent]:
    out = []
    for t in sorted(txns, key=lambda t: (t.round, t.intra)):
        for log in t.logs:
            e = decode_event(log)
            if e is not None and e.experiment_id == eid:
                fields = {k: v.hex() if isinstance(v, bytes) else v for k, v in vars(e).items()
                          if k != "experiment_id"}
                out.append(BundleEvent(txid=t.txid, round=t.round, name=e.name, fields=fields))
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""
