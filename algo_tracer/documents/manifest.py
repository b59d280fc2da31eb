"""The manifest: everything needed to re-check an experiment against the chain, as one JSON file.

A manifest lists the experiment's on-chain identity (network, app, id, owner), every stage with
its digest and the transaction that recorded it, every anchored batch of high-volume records, the
private records with their salts and Merkle proofs, and the seal. The seal's `final_digest` is
the digest of the manifest itself (`Manifest.final_digest()`), so the sealed chain commits to it:

* format v2 (written since the writer pipelines the seal): the manifest without the fields that
  say where each write landed (`LANDING_FIELDS`: transaction ids, rounds, validity windows, the
  seal section). What it commits to is known once every record is batched, before anything is
  confirmed, so the seal can be signed and sent right behind the last writes. The landing fields
  are checked against the chain one by one instead (docs/verification.md, step 7).
* format v3 (written since every JSON value of a new experiment is hashed under RFC 8785): v2's
  rule, with the manifest's body written as RFC 8785 (JCS) under ``algotrace/v3/manifest``; and
  the format names the experiment's JSON scheme (`json_scheme`, docs/hashing.md §13): v3 means
  JSON scheme v2 for every JSON value of the experiment (metadata digest, seed, environment and
  code snapshots, a study's records, plans, stage notes), v1 and v2 mean JSON scheme v1.
* format v1: the manifest with only its `seal` section left out. Read and verified forever.

Manifests come back from disk and from other people, so they are parsed strictly (pydantic).
The JSON schemas are committed as docs/manifest.schema.json and docs/model-card.schema.json
(regenerate with `python -m algo_tracer.documents.schemas docs`).
"""

from __future__ import annotations

import os
from enum import IntEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.documents.atomic import read_model, write_text_atomic
from algo_tracer.errors import InputError, shorten
from algo_tracer.format.merkle import MerkleProof
from algo_tracer.hashing import JSON_SCHEME_V1, JSON_SCHEME_V2, hash_bytes, hash_json, json_encoder

ManifestFormat = Literal["algo-tracer-manifest/v3", "algo-tracer-manifest/v2",
                         "algo-tracer-manifest/v1"]
MANIFEST_FORMAT: Final = "algo-tracer-manifest/v3"
MANIFEST_FORMAT_V2: Final = "algo-tracer-manifest/v2"
MANIFEST_FORMAT_V1: Final = "algo-tracer-manifest/v1"
FINAL_DIGEST_DOMAINS: Final = {MANIFEST_FORMAT_V1: "algotrace/v1/manifest",
                               MANIFEST_FORMAT_V2: "algotrace/v2/manifest",
                               MANIFEST_FORMAT: "algotrace/v3/manifest"}
#: The one switch of the JSON scheme (docs/hashing.md §13): each manifest format's, by format.
JSON_SCHEME_OF_FORMAT: Final = {MANIFEST_FORMAT_V1: JSON_SCHEME_V1,
                                MANIFEST_FORMAT_V2: JSON_SCHEME_V1,
                                MANIFEST_FORMAT: JSON_SCHEME_V2}
#: What v2's final digest leaves out: where each write landed, which only the chain can say.
LANDING_FIELDS: Final[dict[str, Any]] = {
    "create_txid": True, "create_round": True, "seal": True,
    "stages": {"__all__": {"txid", "round"}},
    "batches": {"__all__": {"txids", "round", "first_round", "last_round"}},
}
_MANIFEST_FIX = "give the manifest.json written when the experiment ended"


def manifest_format(json_scheme: int) -> ManifestFormat:
    """The manifest format an experiment hashed under `json_scheme` is written in: v3 for JSON
    scheme v2; v2 for JSON scheme v1 (v1 only for a seal made before v2, `build_manifest`)."""
    return MANIFEST_FORMAT if json_scheme == JSON_SCHEME_V2 else MANIFEST_FORMAT_V2


def metadata_digest(name: str, metadata: dict[str, Any], json_scheme: int) -> bytes:
    """`create_experiment`'s metadata digest (docs/onchain-format.md §0):
    ``hash_json("metadata", {"name": name, "metadata": metadata}, json_scheme)``."""
    return hash_json("metadata", {"name": name, "metadata": metadata}, json_scheme).value


class StageKind(IntEnum):
    """The `kind` byte of a stage record on chain (docs/design.md)."""

    ENVIRONMENT = 1
    CODE = 2
    DATA = 3
    PARAMS = 4
    SEED = 5
    MODEL = 6
    METRICS = 7
    ARTIFACT = 8
    MANIFEST = 9
    CUSTOM = 10
    #: The evaluation plan fixed before anything else: its commitment (docs/studies.md).
    PLAN = 11
    #: A study's search: search space, budget, objective and direction.
    STUDY = 12
    #: A trial's first stage: the study it belongs to, and its number there.
    TRIAL_OF = 13
    #: In a study: one finished trial (state, objective value, the trial's final digest).
    TRIAL = 14
    #: A study's last stage: the selection rule and the trial it selects.
    SELECTION = 15
    #: 20-24: reproductions (docs/reproductions.md).
    REPRODUCES = 20
    COMPARISON = 21
    #: 25-29: IPFS (docs/ipfs.md). The CID of a stage's content stored on IPFS, committed
    #: right after that stage (algo_tracer.documents.stored); its call carries a stage note.
    STORED = 25
    #: A model directory bound to its OpenSSF model_signing signature (issue 18's range 30-34;
    #: algo_tracer.integrations.signed_models, docs/interop.md §4).
    SIGNED_MODEL = 30


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageEntry(_Model):
    index: int = Field(ge=0)
    kind: StageKind
    label: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 as recorded on chain")
    detail: dict[str, Any] = Field(default_factory=dict,
                                   description="what was hashed: files, shapes, params, versions")
    txid: str | None = None
    round: int | None = None


class BatchEntry(_Model):
    index: int = Field(ge=0, description="anchor index in the experiment")
    private: bool = Field(description="records kept off chain, only the Merkle root anchored")
    first_seq: int = Field(ge=0)
    count: int = Field(gt=0)
    root: str = Field(pattern=r"^[0-9a-f]{64}$")
    first_round: int
    last_round: int
    txids: list[str] = Field(default_factory=list,
                             description="anchor call first, then the note payments")
    round: int | None = None


class PrivateRecord(_Model):
    seq: int = Field(ge=0)
    kind: int
    name: str
    step: int
    value: float | str
    salt: str = Field(pattern=r"^[0-9a-f]{32}$")
    proof: MerkleProof


class SealEntry(_Model):
    final_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    txid: str | None = None
    round: int | None = None
    head: str | None = Field(default=None, description="on-chain chain head after the seal")


class Manifest(_Model):
    format: ManifestFormat = MANIFEST_FORMAT
    experiment_id: str = Field(description="base58 experiment id")
    name: str
    owner: str = Field(description="address that recorded every write")
    app_id: int
    genesis_id: str
    genesis_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    metadata_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    create_txid: str | None = None
    create_round: int | None = None
    stages: list[StageEntry] = Field(default_factory=list)
    batches: list[BatchEntry] = Field(default_factory=list)
    private_records: list[PrivateRecord] = Field(default_factory=list)
    seal: SealEntry | None = None

    @property
    def json_scheme(self) -> int:
        """The JSON scheme of every JSON value this experiment hashed (its format says)."""
        return JSON_SCHEME_OF_FORMAT[self.format]

    def final_digest(self) -> bytes:
        """What `seal(id, final_digest)` records: this manifest's digest, by its format's rule
        (v3, v2: without LANDING_FIELDS; v1: without the seal section), encoded by the
        format's JSON scheme (v3: RFC 8785; v2, v1: canonical JSON)."""
        exclude: dict[str, Any] = (LANDING_FIELDS if self.format != MANIFEST_FORMAT_V1
                                   else {"seal": True})
        body = self.model_dump(mode="json", exclude=exclude)
        return hash_bytes(FINAL_DIGEST_DOMAINS[self.format],
                          json_encoder(self.json_scheme)(body)).value

    def stage(self, label: str) -> StageEntry:
        for stage in self.stages:
            if stage.label == label:
                return stage
        raise InputError(f"the manifest has no stage {shorten(repr(label))}",
                         fix=f"stages are: {', '.join(s.label for s in self.stages)}")

    def write(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        return read_model(cls, path, what="manifest", fix=_MANIFEST_FIX)


def stage_label(kind: StageKind, name: str | None = None) -> str:
    return kind.name.lower() if not name else f"{kind.name.lower()}:{name}"

