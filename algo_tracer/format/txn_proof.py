"""Algorand transaction inclusion proofs (SHA-256 transaction commitment), checked offline.

Every block header commits to its transactions twice; this module checks the SHA-256 one,
header field `txn256`, against a proof from algod's
`GET /v2/blocks/{round}/transactions/{txid}/proof?hashtype=sha256`. The construction is
go-algorand's `Block.TxnMerkleTreeSHA256` (data/bookkeeping/txn_merkle.go) over
`merklearray.BuildVectorCommitmentTree` (crypto/merklearray):

    leaf(i)  = SHA-256("TL" || SHA-256("TX" || txn_i) || SHA-256("STIB" || stib_i))
    node     = SHA-256("MA" || left || right)
    padding  = SHA-256("MB")       (leaves n .. 2^d - 1, d = ceil(log2 n); d = 0 when n <= 1)
    position = the d-bit reversal of i (a vector commitment stores element i at that leaf)

`txn_i` is the canonical msgpack of the transaction with the genesis id/hash the block strips
put back; `stib_i` is the canonical msgpack of the `SignedTxnInBlock` exactly as in the block
(signature and apply data, so the app call's logs are covered too). The proof's `proof` field is
the sibling hashes from the leaf up, 32 bytes each, `treedepth` of them; `idx` is i.

So a proof ties a transaction's note, sender, group and logs to a block header. Whether that
header is the chain's is a separate question (the header's hash chains to the next block's
`prev`; an online verifier compares it with any algod), see docs/verification.md.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack
from algosdk import encoding

from algo_tracer.errors import VerificationError

__all__ = [
    "BlockHeader",
    "ProvenTxn",
    "TxnProof",
    "block_hash",
    "decode_msgpack",
    "encode_msgpack",
    "split_block",
    "stib_hash",
    "txid_of",
    "verify_txn_inclusion",
]

_DIGEST = 32


def decode_msgpack(raw: bytes) -> Any:
    """Decode algod msgpack so that `encode_msgpack` gives the same bytes back.

    Strings that are not UTF-8 (app logs are Go strings of raw bytes) survive through
    surrogate escapes; integer map keys are allowed (local state deltas).
    """
    return msgpack.unpackb(raw, raw=False, strict_map_key=False,
                           unicode_errors="surrogateescape")


def encode_msgpack(obj: Any) -> bytes:
    """Canonical msgpack of decoded algod data (keys kept in their decoded, sorted order)."""
    packed: bytes = msgpack.packb(obj, use_bin_type=True, unicode_errors="surrogateescape")
    return packed


def _sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def stib_hash(stib: bytes) -> bytes:
    """SHA-256 hash of a SignedTxnInBlock encoding (go-algorand `HashSHA256`)."""
    return _sha256(b"STIB", stib)


def block_hash(header: bytes) -> bytes:
    """The block hash (SHA-512/256 of "BH" || header): what the next block's `prev` holds."""
    return hashlib.new("sha512_256", b"BH" + header).digest()


def txid_of(txn: bytes) -> str:
    """The transaction id (base32 SHA-512/256 of "TX" || canonical txn bytes)."""
    digest = hashlib.new("sha512_256", b"TX" + txn).digest()
    return base64.b32encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class TxnProof:
    """algod's `TransactionProofResponse` for `hashtype=sha256`."""

    idx: int
    treedepth: int
    proof: bytes
    stibhash: bytes
    hashtype: str = "sha256"

    @classmethod
    def from_algod(cls, response: dict[str, Any]) -> TxnProof:
        return cls(idx=int(response["idx"]), treedepth=int(response["treedepth"]),
                   proof=base64.b64decode(response.get("proof", "")),
                   stibhash=base64.b64decode(response["stibhash"]),
                   hashtype=response.get("hashtype", "sha256"))


@dataclass(frozen=True)
class BlockHeader:
    """The header fields a verifier uses, decoded from the header's canonical msgpack."""

    round: int
    timestamp: int
    genesis_id: str
    genesis_hash: bytes
    txn256: bytes
    hash: bytes
    fields: dict[str, Any]

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockHeader:
        try:
            fields = decode_msgpack(raw)
        except (ValueError, msgpack.UnpackException) as exc:
            raise VerificationError(f"block header is not msgpack: {exc}") from exc
        if not isinstance(fields, dict):
            raise VerificationError("block header is not a msgpack map")
        if encode_msgpack(fields) != raw or list(fields) != sorted(fields):
            raise VerificationError("block header bytes are not in canonical encoding")
        return cls(round=int(fields.get("rnd", 0)), timestamp=int(fields.get("ts", 0)),
                   genesis_id=str(fields.get("gen", "")),
                   genesis_hash=bytes(fields.get("gh", b"")),
                   txn256=bytes(fields.get("txn256", b"")), hash=block_hash(raw), fields=fields)


def split_block(raw_block: bytes) -> tuple[bytes, list[bytes]]:
    """(canonical header bytes, [stib bytes]) of `GET /v2/blocks/{r}?format=msgpack`."""
    block = decode_msgpack(raw_block)["block"]
    header = {k: v for k, v in block.items() if k != "txns"}
    return encode_msgpack(header), [encode_msgpack(s) for s in block.get("txns") or []]


@dataclass(frozen=True)
class ProvenTxn:
    """What a checked inclusion proof establishes about one transaction."""

    txid: str
    round: int
    intra: int  # position in the block's payset
    timestamp: int
    type: str
    sender: str
    group: bytes | None
    note: bytes | None
    app_id: int | None
    logs: tuple[bytes, ...]


def _vc_position(idx: int, depth: int) -> int:
    return int(format(idx, f"0{depth}b")[::-1], 2) if depth else 0


def verify_txn_inclusion(stib: bytes, header: BlockHeader, proof: TxnProof, *,
                         txid: str | None = None) -> ProvenTxn:
    """Check that `stib` is transaction `proof.idx` of the block whose header is `header`.

    Raises:
        VerificationError: naming the part that does not hold (stib hash, transaction id,
            proof shape, or the recomputed `txn256` root).
    """
    where = f"transaction {txid or '?'} in round {header.round}"
    if proof.hashtype != "sha256":
        raise VerificationError(f"{where}: proof hash type {proof.hashtype!r}, expected sha256")
    # (a) The SignedTxnInBlock is the one the proof was made for.
    if stib_hash(stib) != proof.stibhash:
        raise VerificationError(f"{where}: the signed transaction does not hash to the proof's "
                                "stibhash (transaction bytes edited)")
    try:
        signed = decode_msgpack(stib)
        body = dict(signed["txn"])
    except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
        raise VerificationError(f"{where}: not a SignedTxnInBlock: {exc}") from exc
    # (b) Rebuild the canonical transaction: the block strips the genesis id/hash.
    if signed.get("hgi"):
        body["gen"] = header.genesis_id
    body["gh"] = header.genesis_hash
    txn = encode_msgpack(dict(sorted(body.items())))
    computed_txid = txid_of(txn)
    if txid is not None and computed_txid != txid:
        raise VerificationError(f"{where}: the bundled bytes are transaction {computed_txid}")
    # (c) Fold the vector-commitment path up to the root and compare with txn256.
    depth = proof.treedepth
    if not 0 <= depth <= 16 or len(proof.proof) != depth * _DIGEST:
        raise VerificationError(f"{where}: proof has {len(proof.proof)} bytes for depth {depth}")
    if not 0 <= proof.idx < (1 << depth):
        raise VerificationError(f"{where}: index {proof.idx} does not fit a depth-{depth} tree")
    node = _sha256(b"TL", _sha256(b"TX", txn), proof.stibhash)
    pos = _vc_position(proof.idx, depth)
    for level in range(depth):
        sibling = proof.proof[level * _DIGEST:(level + 1) * _DIGEST]
        node = _sha256(b"MA", node, sibling) if pos & 1 == 0 else _sha256(b"MA", sibling, node)
        pos >>= 1
    if node != header.txn256:
        raise VerificationError(f"{where}: inclusion proof leads to {node.hex()}, the block "
                                f"header commits to {header.txn256.hex()}")
    apply = signed.get("dt") or {}
    logs = tuple(_raw(x) for x in (apply.get("lg") or []))
    note = body.get("note")
    return ProvenTxn(
        txid=computed_txid, round=header.round, intra=proof.idx, timestamp=header.timestamp,
        type=str(body.get("type", "")), sender=encoding.encode_address(bytes(body["snd"])),
        group=bytes(body["grp"]) if body.get("grp") else None,
        note=bytes(note) if note else None,
        app_id=int(body["apid"]) if "apid" in body else None, logs=logs)


def _raw(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
