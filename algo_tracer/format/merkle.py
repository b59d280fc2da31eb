"""RFC 6962 Merkle trees over record leaves, with inclusion proofs.

The tree is the Merkle Tree Hash of RFC 6962 section 2.1 (the same tree as Certificate
Transparency and Sigstore Rekor), so any RFC 6962 verifier can check our proofs:

* leaf hash = SHA-256(0x00 || leaf bytes)
* node hash = SHA-256(0x01 || left || right)
* a tree of n > 1 leaves splits at k, the largest power of two smaller than n.

An odd node is promoted, never paired with a copy of itself, so the CVE-2012-2459 trick
(two different leaf lists with one root) does not apply; the tree size is part of every proof.
The empty tree is rejected: an anchor always covers at least one record.

Example:
    >>> from algo_tracer.format.merkle import MerkleTree, is_included, verify_inclusion
    >>> leaves = [b"a", b"b", b"c"]
    >>> tree = MerkleTree(leaves)
    >>> proof = tree.proof(2)
    >>> (proof.index, proof.tree_size, len(proof.path))
    (2, 3, 1)
    >>> verify_inclusion(b"c", proof, tree.root)  # returns None, raises on failure
    >>> is_included(b"x", proof, tree.root)
    False

Building a `MerkleTree` hashes every node once (2n - 1 hashes); each proof is then read off the
stored levels in O(log n), so all n proofs of a batch cost O(n log n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from algo_tracer.errors import InputError, VerificationError, describe_validation

__all__ = [
    "HASH_BYTES",
    "MerkleProof",
    "MerkleTree",
    "inclusion_proof",
    "inclusion_proofs",
    "is_included",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "verify_inclusion",
]

#: Length of every hash in the tree (SHA-256).
HASH_BYTES = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the hash of one leaf."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _to_hash(value: Any) -> Any:
    """Accept 32 raw bytes or 64 hex characters; pydantic then checks the type."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise ValueError("not a hex string") from None
    if isinstance(value, bytes | bytearray):
        if len(value) != HASH_BYTES:
            raise ValueError(f"a hash is {HASH_BYTES} bytes (64 hex characters), got {len(value)}")
        return bytes(value)
    return value


Hash32 = Annotated[
    bytes,
    BeforeValidator(_to_hash),
    PlainSerializer(lambda b: b.hex(), return_type=str, when_used="json"),
]


class MerkleProof(BaseModel):
    """An RFC 6962 inclusion proof (audit path) for one leaf.

    JSON form (`to_json`): `{"index": 5, "tree_size": 8, "leaf_hash": "<hex>", "path": ["<hex>",
    ...]}`. `path` is ordered from the leaf's sibling up to the child of the root, as in
    RFC 6962 section 2.1.1. `leaf_hash` names the leaf the proof was made for, which helps to
    match proofs to records; a verifier always recomputes it from the leaf.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    index: int = Field(ge=0)
    """0-based position of the leaf in the tree."""
    tree_size: int = Field(ge=1)
    """Number of leaves in the tree."""
    leaf_hash: Hash32
    """SHA-256(0x00 || leaf) of the proven leaf."""
    path: tuple[Hash32, ...]
    """Sibling hashes from the bottom of the tree to the top."""

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.index >= self.tree_size:
            raise ValueError(f"index {self.index} is outside a tree of {self.tree_size} leaves")
        expected = _path_length(self.index, self.tree_size)
        if len(self.path) != expected:
            raise ValueError(
                f"a proof for leaf {self.index} of {self.tree_size} has {expected} hashes, "
                f"this one has {len(self.path)}"
            )
        return self

    def to_json(self) -> str:
        """Compact JSON with hex hashes, for manifests and bundles."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> MerkleProof:
        """Parse `to_json` output, raising InputError (not a pydantic error) on bad input."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InputError(
                f"not a valid Merkle proof: {_first_error(exc)}",
                fix="pass the proof exactly as written by MerkleProof.to_json",
            ) from exc

    @classmethod
    def from_dict(cls, data: Any) -> MerkleProof:
        """Build from a parsed JSON object (e.g. a manifest entry), raising InputError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(
                f"not a valid Merkle proof: {_first_error(exc)}",
                fix="pass the proof exactly as written by MerkleProof.to_json",
            ) from exc


class MerkleTree:
    """A Merkle tree built once over a list of leaves; gives the root and every proof.

    Raises:
        InputError: no leaves, or a leaf that is not bytes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if isinstance(leaves, bytes | bytearray | str) or not isinstance(leaves, Sequence):
            raise InputError(
                f"leaves must be a sequence of bytes, got {type(leaves).__name__}",
                fix="pass a list of leaf encodings, e.g. [encode_leaf(r) for r in records]",
            )
        if len(leaves) == 0:
            raise InputError(
                "cannot build a Merkle tree of no leaves",
                fix="anchor only batches that hold at least one record",
            )
        level: list[bytes] = []
        for i, leaf in enumerate(leaves):
            if not isinstance(leaf, bytes | bytearray | memoryview):
                raise InputError(
                    f"leaf {i} is a {type(leaf).__name__}, not bytes",
                    fix="pass leaf encodings (bytes), e.g. encode_leaf(record)",
                )
            level.append(leaf_hash(bytes(leaf)))
        # Bottom-up levels; an unpaired last node moves up unchanged. This yields exactly the
        # RFC 6962 tree (split at the largest power of two below n) without recursion.
        levels = [level]
        while len(level) > 1:
            nxt = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            levels.append(nxt)
            level = nxt
        self._levels = levels

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The 32-byte Merkle Tree Hash."""
        return self._levels[-1][0]

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf `index`."""
        return self._levels[0][self._check_index(index)]

    def proof(self, index: int) -> MerkleProof:
        """The inclusion proof of leaf `index` (O(log n))."""
        i = self._check_index(index)
        path: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i >>= 1
        return MerkleProof.model_construct(
            index=index, tree_size=self.size, leaf_hash=self._levels[0][index], path=tuple(path)
        )

    def proofs(self) -> list[MerkleProof]:
        """The inclusion proofs of every leaf, in leaf order (O(n log n))."""
        return [self.proof(i) for i in range(self.size)]

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InputError(f"leaf index must be an int, got {type(index).__name__}")
        if not 0 <= index < self.size:
            raise InputError(
                f"leaf index {index} is outside a tree of {self.size} leaves",
                fix=f"use an index from 0 to {self.size - 1}",
            )
        return index


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 root of `leaves` (raises InputError for an empty list)."""
    return MerkleTree(leaves).root


def inclusion_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """The inclusion proof of `leaves[index]`. For many proofs build one `MerkleTree`."""
    return MerkleTree(leaves).proof(index)


def inclusion_proofs(leaves: Sequence[bytes]) -> list[MerkleProof]:
    """Every leaf's inclusion proof, building the tree once (O(n log n) in total)."""
    return MerkleTree(leaves).proofs()


def verify_inclusion(
    leaf: bytes,
    proof: MerkleProof,
    root: bytes,
    *,
    index: int | None = None,
    tree_size: int | None = None,
) -> None:
    """Check that `leaf` sits at `proof.index` in the tree of `proof.tree_size` leaves with `root`.

    Follows RFC 9162 section 2.1.3.2. Returns None when the proof holds.

    A bare RFC 6962 check does not pin the tree size (leaf 0 of a 5-leaf tree has the same path
    as leaf 0 of a 6-leaf tree) and says nothing about where the verifier expected the record.
    Pass what you know independently: `tree_size` = the record count of the anchored batch,
    `index` = record seq minus the batch's first seq.

    Raises:
        InputError: an argument of the wrong type or length (not a failed proof).
        VerificationError: the proof does not tie `leaf` to `root`; the message says which
            part disagrees.
    """
    if not isinstance(leaf, bytes | bytearray | memoryview):
        raise InputError(f"leaf must be bytes, got {type(leaf).__name__}")
    if not isinstance(proof, MerkleProof):
        raise InputError(
            f"proof must be a MerkleProof, got {type(proof).__name__}",
            fix="parse stored proofs with MerkleProof.from_json or MerkleProof.from_dict",
        )
    if not isinstance(root, bytes | bytearray) or len(root) != HASH_BYTES:
        raise InputError(
            f"root must be {HASH_BYTES} bytes",
            fix="pass the raw root anchored on chain (bytes.fromhex for a hex string)",
        )
    # (1) The proof is about the position and batch size the verifier expects.
    if tree_size is not None and proof.tree_size != tree_size:
        raise VerificationError(
            f"proof claims a tree of {proof.tree_size} leaves, "
            f"but the anchored batch has {tree_size}"
        )
    if index is not None and proof.index != index:
        raise VerificationError(
            f"proof is for leaf {proof.index}, but the record belongs at {index}"
        )
    # (2) The leaf is the one the proof was made for.
    computed_leaf = leaf_hash(bytes(leaf))
    if computed_leaf != proof.leaf_hash:
        raise VerificationError(
            f"leaf does not match the proof: it hashes to {computed_leaf.hex()}, "
            f"the proof is for leaf hash {proof.leaf_hash.hex()}"
        )
    # (3) Index, size and path length are consistent (proofs may bypass validation).
    if not 0 <= proof.index < proof.tree_size:
        raise VerificationError(
            f"proof index {proof.index} is outside its tree of {proof.tree_size} leaves"
        )
    expected = _path_length(proof.index, proof.tree_size)
    if len(proof.path) != expected:
        raise VerificationError(
            f"proof path has {len(proof.path)} hashes; leaf {proof.index} of a "
            f"{proof.tree_size}-leaf tree needs exactly {expected}"
        )
    # (4) Recompute the root from the leaf hash and the path and compare.
    computed_root = _root_from_path(computed_leaf, proof.index, proof.tree_size, proof.path)
    if computed_root != bytes(root):
        raise VerificationError(
            f"proof for leaf {proof.index} of {proof.tree_size} leads to root "
            f"{computed_root.hex()}, not the expected root {bytes(root).hex()}"
        )


def is_included(
    leaf: bytes,
    proof: MerkleProof,
    root: bytes,
    *,
    index: int | None = None,
    tree_size: int | None = None,
) -> bool:
    """True when `verify_inclusion` would pass; False for a failed proof.

    Raises:
        InputError: an argument of the wrong type or length.
    """
    try:
        verify_inclusion(leaf, proof, root, index=index, tree_size=tree_size)
    except VerificationError:
        return False
    return True


def _path_length(index: int, size: int) -> int:
    """Number of siblings on the path from leaf `index` of a `size`-leaf tree to the root."""
    length = 0
    while size > 1:
        if index ^ 1 < size:
            length += 1
        index >>= 1
        size = (size + 1) >> 1
    return length


def _root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: fold the audit path into a root."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            break  # unreachable after the length check; kept as the RFC's guard
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def _first_error(exc: ValidationError) -> str:
    return describe_validation(exc.errors(), limit=1)
