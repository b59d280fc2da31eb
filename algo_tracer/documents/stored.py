"""Stored stages: a traced file or directory's IPFS CID, committed on chain beside its digest.

A stage traced with `store=True` is followed by a stage of kind 25 (`StageKind.STORED`) whose
detail names the stored stage and its content (docs/ipfs.md, docs/onchain-format.md §0):

    {"cid": "bafy...", "digest": "<hex>", "index": 3, "name": "model.pt", "scheme": "file",
     "stage": "model:final", "type": "file"}

`digest` is what the content hashes to (docs/hashing.md: `file` or `directory` scheme); for a
data, model or artifact path it is the stored stage's own on-chain digest, for a code stage it is
the digest of the directory tree that was stored. The stage digest is `hash_params(detail)` (in the
experiment's JSON scheme, docs/hashing.md §13) and
the `record_stage` call carries the detail as its stage note (docs/note-format.md §10), so a
reader finds every CID from the chain alone and checks it against the note's hash.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algo_tracer.hashing import Digest, hash_params, params_scheme

__all__ = ["StoredDetail", "parse_stored", "stored_digest"]


class StoredDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(description="label of the stage whose content is stored")
    index: int = Field(ge=0, description="that stage's on-chain index")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$",
                        description="hex digest of the stored content (file or directory)")
    scheme: str = Field(description="the digest's scheme: file or directory")
    cid: str = Field(min_length=1, max_length=200, description="CIDv1 of the content")
    type: Literal["file", "directory"]
    name: str = Field(min_length=1, max_length=255, description="the file or directory's name")


def stored_digest(detail: StoredDetail, json_scheme: int) -> Digest:
    """The stored stage's on-chain digest: `hash_params` of its detail in the experiment's JSON
    scheme (as kinds 12-15; docs/hashing.md §13)."""
    return hash_params(detail.model_dump(mode="json"), params_scheme(json_scheme))


def parse_stored(detail: dict[str, Any] | None) -> StoredDetail | None:
    """A stored stage's detail, or None when it is not one."""
    if detail is None:
        return None
    try:
        return StoredDetail.model_validate(detail)
    except ValidationError:
        return None
