"""Builds an experiment's manifest from its journal."""

from __future__ import annotations

from algo_tracer.documents.manifest import (
    MANIFEST_FORMAT_V1,
    MANIFEST_FORMAT_V2,
    BatchEntry,
    Manifest,
    PrivateRecord,
    SealEntry,
    StageEntry,
    StageKind,
    manifest_format,
)
from algo_tracer.format.ids import format_id
from algo_tracer.format.merkle import MerkleTree
from algo_tracer.format.records import derive_salt, encode_leaf
from algo_tracer.record.journal import Journal


def build_manifest(journal: Journal, experiment_id: bytes, *,
                   head: bytes | None = None) -> Manifest:
    """The manifest as of now; deterministic for a given journal state.

    The seal section appears once the journal holds a final digest and the seal is confirmed.
    """
    row = journal.experiment(experiment_id)
    stages = [StageEntry(index=s.idx, kind=StageKind(s.kind), label=s.label, digest=s.digest.hex(),
                         detail=s.detail, txid=s.txid, round=s.round)
              for s in journal.stages(experiment_id)]
    batches = []
    private_records = []
    for b in journal.batches(experiment_id):
        batches.append(BatchEntry(index=b.idx, private=b.private, first_seq=b.first_seq,
                                  count=b.count, root=b.root.hex(), first_round=b.first_round,
                                  last_round=b.last_round, txids=b.txids, round=b.round))
        if not b.private:
            continue
        records = [r for r, _ in journal.records(experiment_id, b.first_seq, b.count)]
        salts = [derive_salt(row.salt_key, r.seq) for r in records]
        tree = MerkleTree([encode_leaf(r, salt=s) for r, s in zip(records, salts, strict=True)])
        for i, (r, salt) in enumerate(zip(records, salts, strict=True)):
            private_records.append(PrivateRecord(seq=r.seq, kind=int(r.kind), name=r.name,
                                                 step=r.step, value=r.value, salt=salt.hex(),
                                                 proof=tree.proof(i)))
    seal = None
    if row.status == "sealed" and row.final_digest is not None:
        seal = SealEntry(final_digest=row.final_digest.hex(), txid=row.seal_txid,
                         round=row.seal_round, head=head.hex() if head else None)
    # The format names the experiment's JSON scheme, chosen when it was created (journal).
    manifest = Manifest(format=manifest_format(row.json_scheme),
                        experiment_id=format_id(row.id), name=row.name, owner=row.owner,
                        app_id=row.app_id, genesis_id=row.genesis_id,
                        genesis_hash=row.genesis_hash, metadata=row.metadata,
                        metadata_digest=row.metadata_digest.hex(), create_txid=row.create_txid,
                        create_round=row.create_round, stages=stages, batches=batches,
                        private_records=private_records, seal=seal)
    if (row.final_digest is not None and manifest.format == MANIFEST_FORMAT_V2
            and manifest.final_digest() != row.final_digest):
        # Sealed (or being sealed) by an algo-tracer that wrote format v1: keep its format, so
        # the manifest is the one its seal commits to.
        v1 = manifest.model_copy(update={"format": MANIFEST_FORMAT_V1})
        if v1.final_digest() == row.final_digest:
            return v1
    return manifest
