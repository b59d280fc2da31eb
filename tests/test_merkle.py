"""RFC 6962 Merkle tree: known answers, proof round trips, tamper detection, proof JSON.

Three independent references keep the vectors honest: sizes 1 and 2 computed here with
hashlib, the Certificate Transparency reference roots and proofs (published in
transparency-dev/merkle proof/verify_test.go), and the recursive definition of RFC 6962 §2.1.

Regenerate tests/vectors/merkle-v1.json (only on a deliberate format change) with
`python tests/test_merkle.py --write`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import algo_tracer.format.merkle as merkle_module
from algo_tracer.errors import InputError, VerificationError
from algo_tracer.format.merkle import (
    MerkleProof,
    MerkleTree,
    inclusion_proof,
    inclusion_proofs,
    is_included,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors" / "merkle-v1.json"
VECTOR_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17]

# The Certificate Transparency test inputs and tree heads (RFC 6962 test data).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based index, tree size, audit path) from the same source.
CT_PROOFS = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def vector_leaves() -> list[bytes]:
    """The 17 leaves of the vector file: the 8 CT inputs, then b"leaf-8" ... b"leaf-16"."""
    return CT_LEAVES + [f"leaf-{i}".encode() for i in range(8, 17)]


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written as the RFC states it (recursive, split at the largest 2^k < n)."""
    n = len(leaves)
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])
    ).digest()


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), recursive."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return [*reference_path(index, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(index - k, leaves[k:]), reference_root(leaves[:k])]


def build_vectors() -> dict[str, Any]:
    leaves = vector_leaves()
    trees = []
    for size in VECTOR_SIZES:
        tree = MerkleTree(leaves[:size])
        trees.append(
            {
                "size": size,
                "root": tree.root.hex(),
                "proofs": [json.loads(p.to_json()) for p in tree.proofs()],
            }
        )
    return {
        "description": (
            "algo-tracer Merkle v1 (RFC 6962): leaf hash = SHA-256(0x00 || leaf), "
            "node = SHA-256(0x01 || left || right), split at the largest power of two < n. "
            "Tree of size n = the first n leaves. Leaves 0-7 are the Certificate "
            "Transparency test inputs; leaves 8-16 are ASCII 'leaf-8' ... 'leaf-16'. "
            "Proof paths run from the leaf's sibling up to the root's child."
        ),
        "leaves": [leaf.hex() for leaf in leaves],
        "trees": trees,
    }


# --- known answers --------------------------------------------------------------------------------


def test_size_one_root_is_sha256_of_zero_byte_and_leaf() -> None:
    assert merkle_root([b"abc"]) == hashlib.sha256(b"\x00abc").digest()
    assert MerkleTree([b"abc"]).proof(0).path == ()


def test_size_two_root_hashes_one_byte_and_both_leaf_hashes() -> None:
    a = hashlib.sha256(b"\x00" + b"a").digest()
    b = hashlib.sha256(b"\x00" + b"b").digest()
    root = hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle_root([b"a", b"b"]) == root
    assert inclusion_proof([b"a", b"b"], 0).path == (b,)
    assert inclusion_proof([b"a", b"b"], 1).path == (a,)


def test_size_three_promotes_the_odd_leaf_instead_of_duplicating_it() -> None:
    h = [hashlib.sha256(b"\x00" + x).digest() for x in (b"a", b"b", b"c")]
    left = hashlib.sha256(b"\x01" + h[0] + h[1]).digest()
    assert merkle_root([b"a", b"b", b"c"]) == hashlib.sha256(b"\x01" + left + h[2]).digest()
    # CVE-2012-2459: a duplicating tree would give [a, b, c] and [a, b, c, c] one root.
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_reference(size: int) -> None:
    assert merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_PROOFS)
def test_proofs_match_the_certificate_transparency_reference(
    index: int, size: int, path: list[str]
) -> None:
    proof = inclusion_proof(CT_LEAVES[:size], index)
    assert [h.hex() for h in proof.path] == path
    verify_inclusion(CT_LEAVES[index], proof, bytes.fromhex(CT_ROOTS[size - 1]))


def test_the_committed_vectors_match_the_implementation() -> None:
    stored = json.loads(VECTORS.read_text())
    assert stored == build_vectors()
    leaves = [bytes.fromhex(h) for h in stored["leaves"]]
    assert [t["size"] for t in stored["trees"]] == VECTOR_SIZES
    for tree in stored["trees"]:
        size, root = tree["size"], bytes.fromhex(tree["root"])
        assert root == reference_root(leaves[:size])
        for entry in tree["proofs"]:
            proof = MerkleProof.from_dict(entry)
            assert [h.hex() for h in reference_path(proof.index, leaves[:size])] == entry["path"]
            verify_inclusion(leaves[proof.index], proof, root)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_root_and_proofs_agree_with_the_recursive_rfc_definition(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == reference_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    assert list(tree.proof(index).path) == reference_path(index, leaves)


# --- round trips and cost -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [*range(1, 34), 64, 100, 1000])
def test_every_leaf_proof_verifies_in_trees_of_many_sizes(size: int) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    tree = MerkleTree(leaves)
    assert tree.size == size
    for index, proof in enumerate(inclusion_proofs(leaves)):
        assert proof.index == index and proof.tree_size == size
        assert proof.leaf_hash == leaf_hash(leaves[index]) == tree.leaf_hash(index)
        verify_inclusion(leaves[index], proof, tree.root, index=index, tree_size=size)
        assert is_included(leaves[index], proof, tree.root)


def test_all_proofs_of_ten_thousand_leaves_hash_each_node_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    real = merkle_module.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle_module, "node_hash", counting)
    leaves = [i.to_bytes(4, "big") for i in range(10_000)]
    tree = MerkleTree(leaves)
    proofs = tree.proofs()
    assert calls == 10_000 - 1  # n - 1 interior nodes; reading proofs hashes nothing
    assert len(proofs) == 10_000
    assert max(len(p.path) for p in proofs) == 14  # ceil(log2(10_000))


# --- tampering ------------------------------------------------------------------------------------

trees = st.lists(st.binary(max_size=6), min_size=1, max_size=40, unique=True)


@given(trees, st.data())
def test_any_altered_leaf_fails(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.binary(max_size=8).filter(lambda b: b != leaves[index]))
    with pytest.raises(VerificationError, match="leaf does not match the proof"):
        verify_inclusion(other, tree.proof(index), tree.root)
    # Even a proof re-labelled with the new leaf's hash leads elsewhere.
    relabelled = tree.proof(index).model_copy(update={"leaf_hash": leaf_hash(other)})
    with pytest.raises(VerificationError, match="not the expected root"):
        verify_inclusion(other, relabelled, tree.root)


@given(trees.filter(lambda xs: len(xs) > 1), st.data())
def test_any_altered_sibling_fails(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(index)
    j = data.draw(st.integers(0, len(proof.path) - 1))
    byte = data.draw(st.integers(0, 31))
    bit = data.draw(st.integers(0, 7))
    sibling = bytearray(proof.path[j])
    sibling[byte] ^= 1 << bit
    path = (*proof.path[:j], bytes(sibling), *proof.path[j + 1 :])
    with pytest.raises(VerificationError, match="not the expected root"):
        verify_inclusion(leaves[index], proof.model_copy(update={"path": path}), tree.root)


@given(trees.filter(lambda xs: len(xs) > 1), st.data())
def test_any_altered_index_fails(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(0, 2 * len(leaves)).filter(lambda i: i != index))
    forged = tree.proof(index).model_copy(update={"index": other})
    with pytest.raises(VerificationError, match=r"outside its tree|needs exactly|expected root"):
        verify_inclusion(leaves[index], forged, tree.root)


@given(trees, st.data())
def test_any_altered_root_fails(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = bytearray(tree.root)
    root[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
    assert not is_included(leaves[index], tree.proof(index), bytes(root))
    with pytest.raises(VerificationError, match="not the expected root"):
        verify_inclusion(leaves[index], tree.proof(index), bytes(root))


@given(trees, st.data())
def test_a_path_with_a_hash_added_or_removed_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(index)
    longer = proof.model_copy(update={"path": (*proof.path, tree.root)})
    with pytest.raises(VerificationError, match="needs exactly"):
        verify_inclusion(leaves[index], longer, tree.root)
    if proof.path:
        shorter = proof.model_copy(update={"path": proof.path[1:]})
        with pytest.raises(VerificationError, match="needs exactly"):
            verify_inclusion(leaves[index], shorter, tree.root)


@given(trees, st.data())
def test_a_proof_for_another_tree_size_fails_or_is_caught_by_the_pinned_size(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    size = data.draw(st.integers(index + 1, 2 * len(leaves) + 1))
    assume(size != len(leaves))
    forged = tree.proof(index).model_copy(update={"tree_size": size})
    # A bare RFC 6962 check can accept a different size (e.g. leaf 0 of 5 vs 6: same path);
    # pinning the size anchored on chain always rejects it.
    with pytest.raises(VerificationError, match=f"claims a tree of {size} leaves"):
        verify_inclusion(leaves[index], forged, tree.root, tree_size=len(leaves))


def test_leaf_0_of_5_and_of_6_share_a_path_so_the_size_must_be_pinned() -> None:
    leaves = [bytes([i]) for i in range(5)]
    tree = MerkleTree(leaves)
    forged = tree.proof(0).model_copy(update={"tree_size": 6})
    assert is_included(leaves[0], forged, tree.root)  # what the bare check cannot see
    with pytest.raises(VerificationError, match=r"claims a tree of 6 leaves.*anchored batch has 5"):
        verify_inclusion(leaves[0], forged, tree.root, tree_size=5)


def test_a_proof_for_another_position_is_caught_by_the_pinned_index() -> None:
    leaves = [b"a", b"b", b"c"]
    tree = MerkleTree(leaves)
    with pytest.raises(VerificationError, match="is for leaf 1, but the record belongs at 2"):
        verify_inclusion(b"b", tree.proof(1), tree.root, index=2)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaves", "message"),
    [
        ([], "no leaves"),
        (b"abc", "sequence of bytes"),
        ([b"a", "b"], "leaf 1 is a str"),
    ],
)
def test_bad_leaf_lists_are_rejected(leaves: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        MerkleTree(leaves)


@pytest.mark.parametrize("index", [-1, 3, True, 1.0])
def test_a_leaf_index_outside_the_tree_is_rejected(index: Any) -> None:
    with pytest.raises(InputError, match="leaf index"):
        inclusion_proof([b"a", b"b", b"c"], index)


def test_verify_rejects_arguments_of_the_wrong_type_as_input_errors() -> None:
    tree = MerkleTree([b"a", b"b"])
    proof = tree.proof(0)
    with pytest.raises(InputError, match="root must be 32 bytes"):
        verify_inclusion(b"a", proof, tree.root[:31])
    with pytest.raises(InputError, match="proof must be a MerkleProof"):
        verify_inclusion(b"a", json.loads(proof.to_json()), tree.root)
    with pytest.raises(InputError, match="leaf must be bytes"):
        verify_inclusion("a", proof, tree.root)  # type: ignore[arg-type]


# --- JSON form ------------------------------------------------------------------------------------


def test_proofs_round_trip_through_json_with_hex_hashes() -> None:
    tree = MerkleTree([bytes([i]) for i in range(11)])
    proof = tree.proof(9)
    data = json.loads(proof.to_json())
    assert set(data) == {"index", "tree_size", "leaf_hash", "path"}
    assert data["leaf_hash"] == proof.leaf_hash.hex()
    assert all(isinstance(h, str) and len(h) == 64 for h in data["path"])
    assert MerkleProof.from_json(proof.to_json()) == proof
    assert MerkleProof.from_dict(data) == proof


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": 8}, "index 8 is outside a tree of 8 leaves"),
        ({"tree_size": 0}, "tree_size"),
        ({"path": []}, "has 3 hashes, this one has 0"),
        ({"leaf_hash": "zz" * 32}, "leaf_hash: .*not a hex string"),
        ({"leaf_hash": "00" * 31}, "got 31"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_proof_json_is_an_input_error(change: dict[str, Any], message: str) -> None:
    data = json.loads(inclusion_proof(CT_LEAVES, 0).to_json()) | change
    with pytest.raises(InputError, match=message):
        MerkleProof.from_dict(data)
    with pytest.raises(InputError, match=message):
        MerkleProof.from_json(json.dumps(data))


def test_proofs_are_immutable() -> None:
    proof = inclusion_proof(CT_LEAVES, 0)
    with pytest.raises(Exception, match="frozen"):
        proof.index = 1


def test_node_hash_is_sha256_of_one_byte_and_children() -> None:
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    VECTORS.parent.mkdir(exist_ok=True)
    VECTORS.write_text(json.dumps(build_vectors(), indent=1) + "\n")
    print(f"wrote {VECTORS}")
