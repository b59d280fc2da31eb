"""Verification without a network: report logic on synthetic chains, Algorand transaction
inclusion proofs on real LocalNet vectors, proof-bundle tamper detection, and the
reproducibility gate.

The synthetic experiment below is built with the same folds, note packing and Merkle code the
tracer uses, so a clean one must verify; each test then breaks exactly one thing and checks that
the right step fails with the right status.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from algosdk import account, encoding

from algo_tracer import hashing
from algo_tracer.documents.manifest import (
    BatchEntry,
    Manifest,
    PrivateRecord,
    StageEntry,
    StageKind,
    metadata_digest,
)
from algo_tracer.errors import InputError, ReproducibilityError, VerificationError
from algo_tracer.format import chain, events, notes
from algo_tracer.format.boxes import Header, Stage
from algo_tracer.format.ids import format_id
from algo_tracer.format.merkle import MerkleTree
from algo_tracer.format.records import NoteRecord, RecordKind, derive_salt, encode_leaf
from algo_tracer.format.txn_proof import (
    BlockHeader,
    TxnProof,
    decode_msgpack,
    encode_msgpack,
    stib_hash,
    txid_of,
    verify_txn_inclusion,
)
from algo_tracer.progress import Progress
from algo_tracer.verify import check_reproducible
from algo_tracer.verify.bundle import Bundle, verify_bundle
from algo_tracer.verify.check_run import ChainTxn, Evidence
from algo_tracer.verify.checks import run_checks
from algo_tracer.verify.report import StageStatus, VerificationReport

VECTORS = Path(__file__).parent / "vectors"
APP = 1234
_, OWNER = account.generate_account()
_, STRANGER = account.generate_account()


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


# -- a synthetic experiment ------------------------------------------------------------------


@dataclasses.dataclass
class Synthetic:
    """An experiment as the chain and its manifest would hold it, built with the real folds."""

    tmp: Path
    eid: bytes = hashlib.sha256(b"synthetic experiment").digest()
    # The real rule (docs/onchain-format.md §0), so that step 1 can recompute it.
    meta: bytes = metadata_digest("synthetic", {}, hashing.JSON_SCHEME_V2)
    round: int = 100
    head: bytes = b""
    txns: list[ChainTxn] = dataclasses.field(default_factory=list)
    notes: list[ChainTxn] = dataclasses.field(default_factory=list)
    stages: list[Stage] = dataclasses.field(default_factory=list)
    entries: list[StageEntry] = dataclasses.field(default_factory=list)
    batches: list[BatchEntry] = dataclasses.field(default_factory=list)
    private: list[PrivateRecord] = dataclasses.field(default_factory=list)
    seq: int = 0
    records: int = 0
    final: bytes = bytes(32)
    sealed_round: int = 0

    def __post_init__(self) -> None:
        self.head = chain.genesis_head(self.eid, encoding.decode_address(OWNER), self.meta)
        log = (events.EXPERIMENT_CREATED + self.eid + encoding.decode_address(OWNER) + self.meta
               + u64(self.round) + u64(1_700_000_000) + self.head)
        self._call(log)

    def _call(self, log: bytes, group: bytes | None = None, sender: str = OWNER) -> ChainTxn:
        txn = ChainTxn(txid=f"T{len(self.txns)}", round=self.round, intra=1, sender=sender,
                       group=group, time=1_700_000_000 + self.round, logs=(log, b"\x15\x1f|u"),
                       app_id=APP)
        self.txns.append(txn)
        return txn

    def stage(self, kind: StageKind, label: str, digest: bytes, detail: dict[str, Any]) -> None:
        self.round += 1
        index = len(self.stages)
        self.head = chain.fold_stage(self.head, index, kind, digest, self.round)
        txn = self._call(events.STAGE_RECORDED + self.eid + u64(index) + bytes([kind]) + digest
                         + u64(self.round) + self.head)
        self.stages.append(Stage(index, kind, digest, self.round))
        self.entries.append(StageEntry(index=index, kind=kind, label=label, digest=digest.hex(),
                                       detail=detail, txid=txn.txid, round=self.round))

    def params(self, params: dict[str, Any]) -> None:
        self.stage(StageKind.PARAMS, "params", hashing.hash_params(params).value,
                   {"params": params})

    def data_file(self, name: str, content: bytes) -> Path:
        path = self.tmp / f"{name}.csv"
        path.write_bytes(content)
        self.stage(StageKind.DATA, f"data:{name}", hashing.hash_file(path).value,
                   {"path": str(path), "type": "file", "bytes": len(content), "scheme": "file"})
        return path

    def _anchor(self, root: bytes, count: int, group: bytes) -> ChainTxn:
        self.round += 1
        index = len(self.batches)
        first, last = self.round - 1, self.round + 1000
        self.head = chain.fold_anchor(self.head, index, root, count, first, last)
        self.records += count
        return self._call(events.BATCH_ANCHORED + self.eid + u64(index) + root + u64(count)
                          + u64(first) + u64(last) + u64(self.round) + self.head, group=group)

    def metrics(self, n: int) -> None:
        records = [NoteRecord(self.seq + i, RecordKind.METRIC, "loss", i, 1 / (i + 1))
                   for i in range(n)]
        while records:
            index = len(self.batches)
            packed = notes.pack_notes(self.eid, index, records)
            group = hashlib.sha256(b"group %d" % index).digest()
            anchor = self._anchor(packed.root, packed.count, group)
            for p, note in enumerate(packed.notes):
                self.notes.append(ChainTxn(txid=f"N{index}-{p}", round=self.round, intra=p + 2,
                                           sender=OWNER, group=group, time=anchor.time,
                                           note=note))
            self.batches.append(BatchEntry(
                index=index, private=False, first_seq=self.seq, count=packed.count,
                root=packed.root.hex(), first_round=anchor.round - 1,
                last_round=anchor.round + 1000, txids=[anchor.txid], round=anchor.round))
            self.seq += packed.count
            records = records[packed.count:]

    def private_metrics(self, n: int) -> None:
        key = b"k" * 32
        records = [NoteRecord(self.seq + i, RecordKind.METRIC, "acc", i, i / n) for i in range(n)]
        salts = [derive_salt(key, r.seq) for r in records]
        tree = MerkleTree([encode_leaf(r, salt=s) for r, s in zip(records, salts, strict=True)])
        index = len(self.batches)
        anchor = self._anchor(tree.root, n, hashlib.sha256(b"pgroup %d" % index).digest())
        self.batches.append(BatchEntry(
            index=index, private=True, first_seq=self.seq, count=n, root=tree.root.hex(),
            first_round=anchor.round - 1, last_round=anchor.round + 1000, txids=[anchor.txid],
            round=anchor.round))
        self.private += [PrivateRecord(seq=r.seq, kind=1, name=r.name, step=r.step,
                                       value=r.value, salt=s.hex(), proof=tree.proof(i))
                         for i, (r, s) in enumerate(zip(records, salts, strict=True))]
        self.seq += n

    def manifest(self, **changes: Any) -> Manifest:
        fields = dict(experiment_id=format_id(self.eid), name="synthetic", owner=OWNER,
                      app_id=APP, genesis_id="test-v1", genesis_hash="R0VORVNJUw==",
                      metadata_digest=self.meta.hex(), stages=self.entries,
                      batches=self.batches, private_records=self.private)
        fields.update(changes)
        return Manifest(**fields)

    def seal(self) -> None:
        self.final = self.manifest().final_digest()
        self.round += 1
        self.sealed_round = self.round
        self.head = chain.fold_seal(self.head, self.final, self.round)
        self._call(events.EXPERIMENT_SEALED + self.eid + self.final + u64(len(self.stages))
                   + u64(len(self.batches)) + u64(self.records) + u64(self.round) + self.head)

    def header(self) -> Header:
        return Header(OWNER, 100, 1_700_000_000, self.sealed_round > 0, len(self.stages),
                      len(self.batches), self.records, self.meta, self.head, self.final,
                      self.sealed_round)

    def evidence(self) -> Evidence:
        return Evidence(self.eid, APP, self.header(), list(self.stages), list(self.txns),
                        list(self.notes), {}, genesis_hash="R0VORVNJUw==")


def check(ev: Evidence, manifest: Manifest | None = None, **kw: Any) -> VerificationReport:
    report = VerificationReport(experiment_id=format_id(ev.experiment_id), app_id=ev.app_id,
                                source="network")
    run_checks(ev, report, manifest=manifest, artifacts_dir=kw.get("artifacts_dir"),
               data=kw.get("data"))
    return report.finalize()


def failed_steps(report: VerificationReport) -> list[int]:
    return sorted({c.step for c in report.checks if c.status == "fail"})


@pytest.fixture
def synth(tmp_path: Path) -> Synthetic:
    s = Synthetic(tmp_path)
    s.data_file("train", b"a,b\n1,2\n3,4\n")
    s.params({"C": 1.0, "solver": "lbfgs"})
    s.metrics(2000)
    s.private_metrics(300)
    s.seal()
    return s


# -- report logic ----------------------------------------------------------------------------


def test_clean_synthetic_experiment_verifies(synth: Synthetic) -> None:
    report = check(synth.evidence(), synth.manifest(), artifacts_dir=synth.tmp)

    assert report.ok, report.failures()
    assert [c.status for c in report.checks] == ["pass"] * 8
    assert [s.status for s in report.stages] == [StageStatus.MATCH, StageStatus.MATCH]
    assert report.counts.note_records == 2000 and report.counts.private_records == 300
    assert [b.status for b in report.batches] == ["verified"] * len(synth.batches)


def test_without_manifest_stages_are_recorded_and_private_records_undisclosed(
        synth: Synthetic) -> None:
    report = check(synth.evidence())

    assert report.ok
    assert {s.status for s in report.stages} == {StageStatus.RECORDED}
    assert report.counts.undisclosed_records == 300
    assert [c.status for c in report.checks if c.step in (6, 7)] == ["skip", "skip"]


def test_rehashing_an_artifact_shows_progress_when_asked(synth: Synthetic) -> None:
    out = io.StringIO()
    report = VerificationReport(experiment_id=format_id(synth.eid), app_id=APP, source="network")

    run_checks(synth.evidence(), report, manifest=synth.manifest(), artifacts_dir=synth.tmp,
               data=None, progress=Progress(out, interactive=False, delay=0))

    assert report.finalize().ok
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("algo-tracer: hashing train.csv: ") for line in lines)
    assert "100%|##########| 12.0/12.0 [" in lines[-1] and "B/s]" in lines[-1]


def test_changed_data_file_is_a_mismatch_naming_the_file(synth: Synthetic) -> None:
    (synth.tmp / "train.csv").write_bytes(b"a,b\n1,2\n3,5\n")

    report = check(synth.evidence(), synth.manifest(), artifacts_dir=synth.tmp)

    row = report.stages[0]
    assert (row.label, row.status) == ("data:train", StageStatus.MISMATCH)
    assert "train.csv" in row.message and "same size" in row.message
    assert failed_steps(report) == [8] and not report.ok


def test_edited_hyperparameter_fails_the_stage_and_the_seal(synth: Synthetic) -> None:
    entries = [e if e.label != "params" else e.model_copy(
        update={"detail": {"params": {"C": 10.0, "solver": "lbfgs"}}}) for e in synth.entries]

    report = check(synth.evidence(), synth.manifest(stages=entries))

    assert report.stages[1].status == StageStatus.MISMATCH
    assert failed_steps(report) == [7, 8]


def test_stage_missing_from_the_manifest_is_missing_locally(synth: Synthetic) -> None:
    report = check(synth.evidence(), synth.manifest(stages=synth.entries[1:]))

    assert report.stages[0].status == StageStatus.MISSING_LOCALLY
    assert 8 in failed_steps(report)


def test_manifest_stage_not_on_chain_is_missing_or_not_anchored(synth: Synthetic) -> None:
    extra = [StageEntry(index=2, kind=StageKind.MODEL, label="model", digest="ab" * 32,
                        txid="SOMETXID"),
             StageEntry(index=3, kind=StageKind.METRICS, label="metrics", digest="cd" * 32)]

    report = check(synth.evidence(), synth.manifest(stages=synth.entries + extra))

    assert [s.status for s in report.stages[2:]] == [StageStatus.MISSING_ON_CHAIN,
                                                     StageStatus.NOT_ANCHORED]


def test_a_changed_event_head_or_a_dropped_event_breaks_the_replay(synth: Synthetic) -> None:
    ev = synth.evidence()
    txn = ev.app_txns[2]
    log = bytearray(txn.logs[0])
    log[-1] ^= 1
    ev.app_txns[2] = dataclasses.replace(txn, logs=(bytes(log),))
    assert 2 in failed_steps(check(ev))

    ev = synth.evidence()
    del ev.app_txns[1]  # the first stage's event
    assert {2, 3} <= set(failed_steps(check(ev)))


def test_event_from_another_sender_fails(synth: Synthetic) -> None:
    ev = synth.evidence()
    ev.app_txns[1] = dataclasses.replace(ev.app_txns[1], sender=STRANGER)

    report = check(ev)

    assert failed_steps(report) == [2]
    assert [f.code for f in report.findings] == ["event_sender"]


def test_box_stage_that_differs_from_its_event_fails_step_3(synth: Synthetic) -> None:
    ev = synth.evidence()
    ev.stages[1] = dataclasses.replace(ev.stages[1], digest=bytes(32))

    assert 3 in failed_steps(check(ev))


def test_altered_or_missing_note_fails_the_batch_root(synth: Synthetic) -> None:
    ev = synth.evidence()
    decoded = notes.decode_note(ev.note_txns[1].note or b"")
    records = list(decoded.records)
    records[3] = NoteRecord(records[3].seq, RecordKind.METRIC, "loss", records[3].step, 0.5)
    forged = notes.encode_note(ev.experiment_id, decoded.anchor_index, decoded.position, records)
    ev.note_txns[1] = dataclasses.replace(ev.note_txns[1], note=forged)
    report = check(ev)
    assert failed_steps(report) == [4]
    assert report.batches[0].status == "mismatch"
    assert "Merkle root" in report.batches[0].message

    ev = synth.evidence()
    del ev.note_txns[2]
    assert failed_steps(check(ev)) == [4]


def test_the_records_the_chain_proves_are_handed_out_and_no_others(synth: Synthetic) -> None:
    # MLflow's metric history is compared with these (step 9), so only proven records count.
    ev = synth.evidence()
    records: list[NoteRecord] = []
    report = VerificationReport(experiment_id=format_id(ev.experiment_id), app_id=ev.app_id,
                                source="network")
    run_checks(ev, report, manifest=synth.manifest(), artifacts_dir=None, data=None,
               records=records)
    assert len(records) == 2300
    assert records[5] == NoteRecord(5, RecordKind.METRIC, "loss", 5, 1 / 6)
    assert {r.name for r in records[2000:]} == {"acc"}

    decoded = notes.decode_note(ev.note_txns[1].note or b"")
    forged_records = list(decoded.records)
    forged_records[3] = NoteRecord(forged_records[3].seq, RecordKind.METRIC, "loss",
                                   forged_records[3].step, 0.5)
    ev.note_txns[1] = dataclasses.replace(ev.note_txns[1], note=notes.encode_note(
        ev.experiment_id, decoded.anchor_index, decoded.position, forged_records))
    records = []
    run_checks(ev, report, manifest=None, artifacts_dir=None, data=None, records=records)
    # The forged batch fails its root; the private ones are undisclosed without the manifest.
    first = synth.batches[0].count
    assert [r.seq for r in records] == list(range(first, 2000))


def test_foreign_note_is_a_warning_and_is_not_counted(synth: Synthetic) -> None:
    ev = synth.evidence()
    copied = dataclasses.replace(ev.note_txns[0], txid="FOREIGN", sender=STRANGER, group=None)
    ev.note_txns.append(copied)

    report = check(ev, synth.manifest())

    assert report.ok  # a stranger cannot break an experiment's verification
    assert [f.code for f in report.findings] == ["foreign_sender"]
    assert report.counts.foreign_notes == 1 and report.counts.note_records == 2000


def test_strict_mode_fails_on_the_warning_and_says_strict_mode_failed_it(
        synth: Synthetic) -> None:
    from algo_tracer.cli.experiment import format_report

    ev = synth.evidence()
    ev.note_txns.append(dataclasses.replace(ev.note_txns[0], txid="FOREIGN", sender=STRANGER,
                                            group=None))

    report = check(ev, synth.manifest()).make_strict()

    assert not report.ok and report.strict
    assert report.failures() == [f"foreign_sender (a warning, failing in strict mode): "
                                 f"{report.findings[0].message}"]
    text = format_report(report)
    assert "WARNING foreign_sender (fails in strict mode)" in text
    last = text.splitlines()[-1]
    assert last.startswith("FAILED: 1 problem(s), 1 of them warning(s) that fail in strict mode")
    assert "VERIFIED" not in last


def test_owner_note_outside_an_anchored_group_is_not_anchored(synth: Synthetic) -> None:
    ev = synth.evidence()
    ev.note_txns.append(dataclasses.replace(ev.note_txns[0], txid="REPLAY", group=None,
                                            round=ev.note_txns[0].round + 5))

    report = check(ev, synth.manifest())

    assert failed_steps(report) == [5]
    assert [f.code for f in report.findings] == ["not_anchored"]
    assert report.counts.note_records == 2000  # never counted as valid records


def test_private_record_with_an_edited_value_fails_its_proof(synth: Synthetic) -> None:
    private = list(synth.private)
    private[7] = private[7].model_copy(update={"value": 0.999})

    report = check(synth.evidence(), synth.manifest(private_records=private))

    assert 6 in failed_steps(report)
    assert report.counts.private_records == 299


def test_seq_gap_between_batches_fails(synth: Synthetic) -> None:
    batches = [b if b.index != 1 else b.model_copy(update={"first_seq": b.first_seq + 1})
               for b in synth.batches]

    report = check(synth.evidence(), synth.manifest(batches=batches))

    assert 4 in failed_steps(report)


def test_missing_header_reports_every_manifest_stage_missing(synth: Synthetic) -> None:
    ev = dataclasses.replace(synth.evidence(), header=None)

    report = check(ev, synth.manifest())

    assert not report.ok and failed_steps(report) == [1]
    assert {s.status for s in report.stages} == {StageStatus.MISSING_ON_CHAIN}


def test_report_raise_for_failure_lists_the_problems(synth: Synthetic) -> None:
    ev = synth.evidence()
    del ev.note_txns[0]
    with pytest.raises(VerificationError, match="note batches"):
        check(ev).raise_for_failure()


def test_ten_thousand_note_records_all_check(tmp_path: Path) -> None:
    # Speed is measured by benchmarks/bench_verify.py, not asserted here.
    s = Synthetic(tmp_path)
    s.metrics(10_000)
    s.seal()
    ev, manifest = s.evidence(), s.manifest()

    report = check(ev, manifest)

    assert report.ok and report.counts.note_records == 10_000


# -- events ------------------------------------------------------------------------------------


def test_event_decoding_round_trips_and_rejects_other_logs() -> None:
    eid, head = b"\x01" * 32, b"\x02" * 32
    log = events.BATCH_ANCHORED + eid + u64(3) + b"\x03" * 32 + u64(15) + u64(9) + u64(20) \
        + u64(10) + head
    event = events.decode_event(log)
    assert isinstance(event, events.BatchAnchored)
    assert (event.index, event.record_count, event.first_round, event.round) == (3, 15, 9, 10)
    assert events.event_experiment_id(log) == eid
    assert events.decode_event(log[:-1]) is None
    assert events.decode_event(bytes.fromhex("151f7c75") + head) is None
    assert events.decode_event(b"") is None


# -- Algorand transaction inclusion proofs (real LocalNet vectors) -----------------------------


def _cases() -> list[dict[str, Any]]:
    return json.loads((VECTORS / "txn-proof-sha256.json").read_text())["cases"]


def _case(c: dict[str, Any]) -> tuple[bytes, BlockHeader, TxnProof]:
    return (base64.b64decode(c["stib"]), BlockHeader.from_bytes(base64.b64decode(c["header"])),
            TxnProof.from_algod(c["proof"]))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_real_inclusion_proofs_verify(case: dict[str, Any]) -> None:
    stib, header, proof = _case(case)

    proven = verify_txn_inclusion(stib, header, proof, txid=case["txid"])

    assert (proven.txid, proven.round, proven.intra) == (case["txid"], case["round"], proof.idx)
    assert proof.treedepth == (case["block_txn_count"] - 1).bit_length()


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_any_flipped_byte_breaks_an_inclusion_proof(case: dict[str, Any]) -> None:
    stib, header, proof = _case(case)
    for i in range(0, len(stib), max(1, len(stib) // 16)):
        bad = bytearray(stib)
        bad[i] ^= 0x01
        with pytest.raises(VerificationError):
            verify_txn_inclusion(bytes(bad), header, proof, txid=case["txid"])
    for i in range(len(proof.proof)):
        bad = bytearray(proof.proof)
        bad[i] ^= 0x80
        with pytest.raises(VerificationError, match="inclusion proof leads to"):
            verify_txn_inclusion(stib, header, dataclasses.replace(proof, proof=bytes(bad)))
    other = dataclasses.replace(header, txn256=bytes(32))
    with pytest.raises(VerificationError, match="commits to"):
        verify_txn_inclusion(stib, other, proof)
    with pytest.raises(VerificationError, match="bundled bytes are transaction"):
        verify_txn_inclusion(stib, header, proof, txid="A" * 52)
    if proof.treedepth:
        with pytest.raises(VerificationError):
            verify_txn_inclusion(stib, header, dataclasses.replace(proof, idx=proof.idx ^ 1))


def _vc_root(stibs: list[bytes], header: BlockHeader) -> bytes:
    """The block's SHA-256 vector commitment built from all its transactions, independently
    of any proof: element i at the bit-reversed leaf position, SHA-256("MB") padding."""
    def leaf(stib: bytes) -> bytes:
        signed = decode_msgpack(stib)
        body = dict(signed["txn"])
        if signed.get("hgi"):
            body["gen"] = header.genesis_id
        body["gh"] = header.genesis_hash
        txn = encode_msgpack(dict(sorted(body.items())))
        return hashlib.sha256(b"TL" + hashlib.sha256(b"TX" + txn).digest()
                              + stib_hash(stib)).digest()

    depth = (len(stibs) - 1).bit_length()
    layer = [hashlib.sha256(b"MB").digest()] * (1 << depth)
    for i, stib in enumerate(stibs):
        pos = int(format(i, f"0{depth}b")[::-1], 2) if depth else 0
        layer[pos] = leaf(stib)
    while len(layer) > 1:
        layer = [hashlib.sha256(b"MA" + layer[i] + layer[i + 1]).digest()
                 for i in range(0, len(layer), 2)]
    return layer[0]


@pytest.mark.parametrize("case", [c for c in _cases() if "block_stibs" in c],
                         ids=lambda c: c["name"])
def test_whole_block_commitment_matches_the_header(case: dict[str, Any]) -> None:
    _, header, _ = _case(case)
    stibs = [base64.b64decode(s) for s in case["block_stibs"]]

    assert _vc_root(stibs, header) == header.txn256


def test_txid_and_canonical_encoding_round_trip() -> None:
    case = _cases()[0]
    stib, header, _ = _case(case)
    signed = decode_msgpack(stib)
    assert encode_msgpack(signed) == stib  # canonical: decode + encode is the identity
    body = dict(signed["txn"], gh=header.genesis_hash)
    if signed.get("hgi"):
        body["gen"] = header.genesis_id
    assert txid_of(encode_msgpack(dict(sorted(body.items())))) == case["txid"]
    with pytest.raises(VerificationError, match="canonical"):
        BlockHeader.from_bytes(encode_msgpack(dict(reversed(decode_msgpack(
            base64.b64decode(case["header"])).items()))))


# -- proof bundles (a real bundle exported from LocalNet) --------------------------------------


#: Real bundles exported from LocalNet: manifest format v1 (the app's first build, the seal
#: signed after every write confirmed) and v2 (`seal_after`, sent behind the last writes).
BUNDLES = ["bundle-localnet.json", "bundle-localnet-v2.json"]


def _bundle_json(name: str = BUNDLES[0]) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def _verify(data: dict[str, Any]) -> VerificationReport:
    return verify_bundle(Bundle.model_validate(data), offline=True)


@pytest.mark.parametrize("name", BUNDLES)
def test_real_bundle_verifies_offline_and_says_what_it_cannot_check(name: str) -> None:
    data = _bundle_json(name)
    report = _verify(data)

    assert report.ok, report.failures()
    assert data["manifest"]["format"] == ("algo-tracer-manifest/v2" if "v2" in name
                                          else "algo-tracer-manifest/v1")
    assert report.offline and report.counts.transactions_proven == len(data["transactions"])
    assert report.counts.private_records > 0 and report.counts.note_records > 0
    assert any("block headers are the chain's" in text for text in report.not_checked)


def _flip_stib(data: dict[str, Any], role: str) -> None:
    t = next(t for t in data["transactions"] if t["role"] == role)
    raw = bytearray(base64.b64decode(t["stib"]))
    raw[-9] ^= 0x04
    t["stib"] = base64.b64encode(bytes(raw)).decode()


def _edit_param(data: dict[str, Any]) -> None:
    stage = next(s for s in data["manifest"]["stages"] if s["label"] == "params")
    key = next(iter(stage["detail"]["params"]))
    stage["detail"]["params"][key] = "edited"


def _drop_last_transaction(data: dict[str, Any]) -> None:
    seal_txid = data["events"][-1]["txid"]
    data["transactions"] = [t for t in data["transactions"] if t["txid"] != seal_txid]
    data["events"] = data["events"][:-1]


def _edit_private_value(data: dict[str, Any]) -> None:
    data["manifest"]["private_records"][0]["value"] = 12345.0


def _edit_header_box(data: dict[str, Any]) -> None:
    box = bytearray(bytes.fromhex(data["header_box"]))
    box[120] ^= 1  # inside the head
    data["header_box"] = box.hex()


def _edit_proof(data: dict[str, Any]) -> None:
    t = next(t for t in data["transactions"] if t["proof"]["treedepth"] > 0)
    raw = bytearray(base64.b64decode(t["proof"]["proof"]))
    raw[0] ^= 1
    t["proof"]["proof"] = base64.b64encode(bytes(raw)).decode()


def _edit_event_list(data: dict[str, Any]) -> None:
    data["events"][1]["fields"]["digest"] = "00" * 32


@pytest.mark.parametrize("edit", [
    lambda d: _flip_stib(d, "note"), lambda d: _flip_stib(d, "event"), _edit_param,
    _drop_last_transaction, _edit_private_value, _edit_header_box, _edit_proof,
    _edit_event_list], ids=["note bytes", "event call bytes", "manifest param", "seal dropped",
                            "private value", "header box", "proof path", "event list"])
@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_edited_after_export_fails(edit: Any, name: str) -> None:
    data = copy.deepcopy(_bundle_json(name))
    edit(data)

    report = _verify(data)

    assert not report.ok
    assert report.failures()


def _edit_stage_round(data: dict[str, Any]) -> None:
    data["manifest"]["stages"][0]["round"] += 1


def test_a_v2_bundle_whose_manifest_moves_a_stage_to_another_round_fails() -> None:
    data = _bundle_json(BUNDLES[1])
    _edit_stage_round(data)

    report = _verify(data)

    assert not report.ok
    assert any("round" in failure for failure in report.failures())


def test_bundle_read_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not an algo-tracer bundle"):
        Bundle.read(path)


# -- reproducibility gate ----------------------------------------------------------------------


def _data_manifest(tmp_path: Path, **data: Any) -> Manifest:
    from algo_tracer.stages import describe

    entries = []
    for i, (name, value) in enumerate(data.items()):
        digest, detail = describe(value)
        entries.append(StageEntry(index=i, kind=StageKind.DATA, label=f"data:{name}",
                                  digest=digest.hex, detail=detail))
    return Synthetic(tmp_path).manifest(stages=entries, batches=[], private_records=[])


def test_reordered_columns_and_resaved_files_still_reproduce(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"], "z": [1, 2, 3]})
    csv = tmp_path / "train.csv"
    df.to_csv(csv, index=False)
    manifest = _data_manifest(tmp_path, frame=df, file=str(csv))
    resaved = tmp_path / "copy" / "train.csv"
    resaved.parent.mkdir()
    pd.read_csv(csv).to_csv(resaved, index=False)

    drifts = check_reproducible(manifest, data={"frame": df[["z", "y", "x"]],
                                                "file": str(resaved)})

    assert drifts == []


def test_changed_dataframe_column_is_named_in_the_error(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]})
    manifest = _data_manifest(tmp_path, train=df)
    changed = df.assign(y=["a", "b", "C"])

    with pytest.raises(ReproducibilityError, match="column 'y' changed"):
        check_reproducible(manifest, data={"train": changed})
    with pytest.raises(ReproducibilityError, match="not in the recorded run"):
        check_reproducible(manifest, data={"test": df})


def test_a_changed_column_says_why_a_cast_or_other_values(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "y": [1.0, 2.0, 3.0], "z": ["a", "b", "c"]})
    manifest = _data_manifest(tmp_path, train=df)
    changed = df.assign(x=df["x"].astype("float64"), y=[1.0, 2.0, 4.0],
                        z=df["z"].astype("category"))

    with pytest.raises(ReproducibilityError) as raised:
        check_reproducible(manifest, data={"train": changed})

    text = str(raised.value)
    assert "column 'x' changed: dtype int64 -> float64, with equal values" in text
    assert "column 'y' changed: values changed (dtype float64 as recorded)" in text
    assert f"column 'z' changed: dtype {df['z'].dtype} -> category, with equal values" in text


def test_a_manifest_without_dtypes_still_tells_a_cast_from_a_change(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "y": [1, 2, 3]})
    manifest = _data_manifest(tmp_path, train=df)
    del manifest.stages[0].detail["column_dtypes"]  # as recorded before dtypes were kept

    with pytest.raises(ReproducibilityError) as raised:
        check_reproducible(manifest, data={"train": df.assign(x=df["x"] * 1.0, y=[1, 2, 5])})

    assert "column 'x' changed: dtype int64 -> float64, with equal values" in str(raised.value)
    assert "column 'y' changed: values changed (dtype now int64" in str(raised.value)


@pytest.mark.parametrize(("fmt", "scheme"), [("algo-tracer-manifest/v3", 2),
                                             ("algo-tracer-manifest/v2", 1)])
def test_changed_package_version_is_named_before_retraining(tmp_path: Path, fmt: str,
                                                             scheme: int) -> None:
    from algo_tracer.capture import capture_environment

    snap = capture_environment(tmp_path)
    old = snap.model_copy(update={"packages": {**snap.packages, "numpy": "0.0.1"}})
    manifest = Synthetic(tmp_path).manifest(format=fmt, stages=[StageEntry(
        index=0, kind=StageKind.ENVIRONMENT, label="environment", digest=old.digest(scheme).hex,
        detail=old.model_dump(mode="json"))], batches=[], private_records=[])

    with pytest.raises(ReproducibilityError, match=r"numpy 0\.0\.1 -> ") as raised:
        check_reproducible(manifest, environment=tmp_path)
    assert "was edited" not in str(raised.value)  # the snapshot hashes by the format's scheme


@pytest.mark.parametrize(("fmt", "scheme"), [("algo-tracer-manifest/v3", 2),
                                             ("algo-tracer-manifest/v2", 1)])
def test_changed_code_file_is_named_and_clean_code_passes(tmp_path: Path, fmt: str,
                                                          scheme: int) -> None:
    from algo_tracer.capture import capture_code

    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('hi')\n")
    snap = capture_code(code, scheme=scheme)
    manifest = Synthetic(tmp_path).manifest(format=fmt, stages=[StageEntry(
        index=0, kind=StageKind.CODE, label="code", digest=snap.digest(scheme).hex,
        detail=snap.model_dump(mode="json"))], batches=[], private_records=[])

    check_reproducible(manifest, code=code)
    (code / "train.py").write_text("print('bye')\n")
    with pytest.raises(ReproducibilityError, match="code"):
        check_reproducible(manifest, code=code)


def test_manifest_without_the_stage_asked_for_is_a_usage_error(tmp_path: Path) -> None:
    manifest = Synthetic(tmp_path).manifest(stages=[], batches=[], private_records=[])
    with pytest.raises(InputError, match="no code stage"):
        check_reproducible(manifest, code=tmp_path)


@pytest.mark.parametrize("edit", ["stage round", "stage txid", "batch round", "batch window"])
def test_a_v2_manifest_edited_where_a_write_landed_fails_the_seal_step(
        synth: Synthetic, edit: str) -> None:
    # v2's final digest leaves these fields out (the seal is signed before they are known), so
    # step 7 compares each with the chain instead.
    m = synth.manifest()
    stage, batch = m.stages[0], m.batches[0]
    changes: dict[str, dict[str, Any]] = {
        "stage round": {"stages": [stage.model_copy(update={"round": (stage.round or 0) + 1}),
                                   *m.stages[1:]]},
        "stage txid": {"stages": [stage.model_copy(update={"txid": "EDITED"}), *m.stages[1:]]},
        "batch round": {"batches": [batch.model_copy(update={"round": (batch.round or 0) + 1}),
                                    *m.batches[1:]]},
        "batch window": {"batches": [batch.model_copy(update={"last_round": 1}),
                                     *m.batches[1:]]},
    }
    edited = m.model_copy(update=changes[edit])
    assert edited.final_digest() == m.final_digest()

    report = check(synth.evidence(), edited, artifacts_dir=synth.tmp)

    assert failed_steps(report) == [7]
    (seal,) = [c for c in report.checks if c.step == 7]
    assert "the chain's is" in seal.detail
