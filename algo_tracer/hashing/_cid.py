"""Content ids (CIDs) as bytes and text: encoding ours, parsing anyone's (see docs/ipfs.md).

Private module: import from `algo_tracer.hashing.unixfs`; names here carry no stability promise.

Only what UnixFS content needs: CIDv1 (and CIDv0, which old tools still print) with the
``raw`` or ``dag-pb`` codec and a SHA2-256 multihash. Text is written the way kubo prints a
CIDv1 (multibase base32, lower case: ``b...``) and read in the multibases people paste
(base32 either case, base58btc ``z...``, base16 ``f...``) or as a ``Qm...`` CIDv0.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import base58

from algo_tracer.errors import CidError, shorten

#: Multicodec codes (https://github.com/multiformats/multicodec/blob/master/table.csv).
RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb"}

_FIX = "copy the CID again exactly as `ipfs add --cid-version 1` printed it (it starts with 'b')"


def varint(n: int) -> bytes:
    """Unsigned LEB128, as multiformats and protobuf write integers."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def cid_bytes(codec: int, sha256_digest: bytes) -> bytes:
    """The binary CIDv1 of content whose SHA-256 is `sha256_digest`."""
    return b"\x01" + varint(codec) + b"\x12\x20" + sha256_digest


def cid_text(binary: bytes) -> str:
    """A binary CIDv1 as kubo prints it: ``b`` + RFC 4648 base32, lower case, no padding."""
    return "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")


@dataclass(frozen=True, slots=True)
class Cid:
    """A parsed content id of UnixFS content: which codec, and the SHA-256 it commits to."""

    version: int
    """0 (``Qm...``, always dag-pb) or 1."""
    codec: int
    """`RAW` (a file of at most one chunk) or `DAG_PB` (a larger file, a directory)."""
    digest: bytes
    """The SHA-256 of the block (32 bytes)."""

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES[self.codec]

    @property
    def binary(self) -> bytes:
        """The CIDv1 form as bytes (a CIDv0 is upgraded: same block, same content)."""
        return cid_bytes(self.codec, self.digest)

    def __str__(self) -> str:
        """The canonical text: CIDv1 base32, what we record and what kubo prints."""
        return cid_text(self.binary)


def _decode_varint(data: bytes, pos: int, what: str, text: str) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise CidError(f"CID {shorten(repr(text))} is cut short or malformed in its {what}", fix=_FIX)


def _multibase_decode(text: str) -> bytes:
    prefix, body = text[0], text[1:]
    try:
        if prefix in "bB":
            padded = body.upper() + "=" * (-len(body) % 8)
            return base64.b32decode(padded)
        if prefix == "z":
            return base58.b58decode(body)
        if prefix in "fF":
            return bytes.fromhex(body)
    except (binascii.Error, ValueError) as exc:
        raise CidError(
            f"CID {shorten(repr(text))} is not valid multibase text "
            f"(a character outside its alphabet, or a wrong length)", fix=_FIX
        ) from exc
    raise CidError(
        f"CID {shorten(repr(text))} uses multibase prefix {prefix!r}, which algo-tracer does not "
        "read (it reads base32 'b...', base58btc 'z...', base16 'f...' and CIDv0 'Qm...')",
        fix="convert it with `ipfs cid format -v 1 -b base32 CID`",
    )


def parse_cid(text: str) -> Cid:
    """Parse and check a CID given by a user or read from the chain.

    Raises:
        CidError: If `text` is not a CID, or names content algo-tracer cannot check (another
            codec than raw/dag-pb, another hash than SHA2-256).
    """
    if not isinstance(text, str):
        raise CidError(f"a CID is text, got {type(text).__name__}", fix=_FIX)
    stripped = text.strip()
    if not stripped:
        raise CidError("the CID is empty", fix=_FIX)
    if len(stripped) == 46 and stripped.startswith("Qm"):  # CIDv0: a bare base58btc multihash
        try:
            mh = base58.b58decode(stripped)
        except ValueError as exc:
            raise CidError(f"CIDv0 {shorten(repr(text))} is not valid base58", fix=_FIX) from exc
        if len(mh) != 34 or mh[:2] != b"\x12\x20":
            raise CidError(f"CIDv0 {shorten(repr(text))} is not a SHA2-256 multihash", fix=_FIX)
        return Cid(0, DAG_PB, mh[2:])
    data = _multibase_decode(stripped)
    version, pos = _decode_varint(data, 0, "version", text)
    if version != 1:
        raise CidError(
            f"CID {shorten(repr(text))} has version {version}; only CIDv1 is multibase text",
            fix=_FIX,
        )
    codec, pos = _decode_varint(data, pos, "codec", text)
    if codec not in CODEC_NAMES:
        raise CidError(
            f"CID {shorten(repr(text))} has codec 0x{codec:x}; UnixFS content (what `ipfs add` "
            "makes) is raw (0x55) or dag-pb (0x70)",
            fix="give the CID `ipfs add` printed for the file or directory",
        )
    hash_code, pos = _decode_varint(data, pos, "multihash code", text)
    length, pos = _decode_varint(data, pos, "multihash length", text)
    digest = data[pos:]
    if hash_code != SHA2_256 or length != 32:
        raise CidError(
            f"CID {shorten(repr(text))} uses hash 0x{hash_code:x} of {length} bytes; algo-tracer "
            "checks SHA2-256 content ids (kubo's default)",
            fix="add the content again without --hash, and give that CID",
        )
    if len(digest) != 32:
        raise CidError(
            f"CID {shorten(repr(text))} carries {len(digest)} digest bytes, not 32", fix=_FIX
        )
    return Cid(1, codec, digest)


__all__ = ["CODEC_NAMES", "DAG_PB", "RAW", "Cid", "cid_bytes", "cid_text", "parse_cid", "varint"]
