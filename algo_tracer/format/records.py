"""High-volume records (per-step metrics, text params/tags) and their canonical Merkle leaves.

A record is one item of an experiment's note stream. `seq` numbers the stream 0, 1, 2, ...
without gaps over the whole experiment, so a verifier can prove that nothing is missing or
duplicated. `encode_leaf` gives the record's canonical bytes: they are what the Merkle tree
hashes, and they do not depend on how records were packed into notes (`algo_tracer.format.notes`).

Example:
    >>> from algo_tracer.format.records import NoteRecord, RecordKind, encode_leaf
    >>> r = NoteRecord(seq=0, kind=RecordKind.METRIC, name="loss", step=1, value=0.25)
    >>> encode_leaf(r).hex()
    '01000000000000000000010000000000000001046c6f73733fd0000000000000'
    >>> len(encode_leaf(r, salt=bytes(16))) - len(encode_leaf(r))
    16

The byte layouts are specified in docs/note-format.md.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import numbers
import secrets
import struct
from dataclasses import dataclass
from enum import IntEnum

from algo_tracer.errors import InputError, shorten

__all__ = [
    "CANONICAL_NAN_BITS",
    "LEAF_VERSION",
    "MAX_NAME_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_UINT63",
    "SALT_BYTES",
    "NoteRecord",
    "RecordKind",
    "derive_salt",
    "encode_leaf",
    "new_salt",
]

#: Version byte that opens every leaf encoding.
LEAF_VERSION = 1
#: Longest record name, in UTF-8 bytes.
MAX_NAME_BYTES = 255
#: Longest TEXT value, in UTF-8 bytes (so that any single record fits one 1,024-byte note).
MAX_TEXT_BYTES = 512
#: Length of a salt for the private path.
SALT_BYTES = 16
#: Exclusive upper bound of `seq` and `step` (they must fit a signed 64-bit integer).
MAX_UINT63 = 2**63

_MODE_PLAIN = 0x00
_MODE_SALTED = 0x01
_SALT_TAG = b"algotrace/v1/salt"
#: The one NaN bit pattern algo-tracer writes (the IEEE 754 default quiet NaN).
CANONICAL_NAN_BITS = 0x7FF8_0000_0000_0000


class RecordKind(IntEnum):
    """What a record's `value` is. The number is written into leaves and notes."""

    METRIC = 1
    """A number at a step (loss, accuracy, learning rate...); `value` is a float."""
    TEXT = 2
    """A short string (a parameter, a tag, a status); `value` is a str of ≤ 512 UTF-8 bytes."""


@dataclass(frozen=True, slots=True, eq=False)
class NoteRecord:
    """One record of an experiment's note stream.

    Equality and hashing follow the canonical encoding: two records are equal exactly when
    their leaves are equal. So `-0.0 != 0.0`, and NaN equals NaN (there is one canonical NaN).
    """

    seq: int
    """Position in the experiment's note stream, 0, 1, 2, ... without gaps."""
    kind: RecordKind
    """METRIC (float value) or TEXT (str value)."""
    name: str
    """Non-empty, at most 255 UTF-8 bytes, compared byte for byte (no Unicode normalisation)."""
    step: int
    """Training step, epoch or other counter; 0 <= step < 2**63."""
    value: float | str
    """A float for METRIC (any int is converted exactly; inf and NaN allowed), a str for TEXT."""

    def __post_init__(self) -> None:
        _check_uint63("seq", self.seq)
        _check_uint63("step", self.step)
        try:
            kind = RecordKind(self.kind)
        except ValueError:
            known = ", ".join(f"{k.name}={k.value}" for k in RecordKind)
            raise InputError(
                f"unknown record kind {self.kind!r}", fix=f"use one of {known}"
            ) from None
        object.__setattr__(self, "kind", kind)
        _name_bytes(self.name)
        if kind is RecordKind.METRIC:
            object.__setattr__(self, "value", _metric_value(self.name, self.value))
        else:
            _text_bytes(self.name, self.value)

    def _key(self) -> tuple[int, int, str, int, int | str]:
        value = self.value
        bits = _float_bits(value) if isinstance(value, float) else value
        return (self.seq, self.kind, self.name, self.step, bits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteRecord):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def encode_leaf(record: NoteRecord, *, salt: bytes | None = None) -> bytes:
    """Canonical leaf bytes of `record`; with a 16-byte `salt`, the salted form.

    Layout (docs/note-format.md, "Leaf encoding"): version 0x01 | mode (0x00 plain, 0x01
    salted) | salt (16 B, salted only) | seq u64 BE | kind u8 | step u64 BE | name length u8 |
    name | value (METRIC: float64 BE; TEXT: length u16 BE + UTF-8).

    Raises:
        InputError: `record` is not a NoteRecord, or `salt` is not exactly 16 bytes.
    """
    if not isinstance(record, NoteRecord):
        raise InputError(
            f"encode_leaf needs a NoteRecord, got {type(record).__name__}",
            fix="build the record with NoteRecord(seq=, kind=, name=, step=, value=)",
        )
    out = bytearray((LEAF_VERSION,))
    if salt is None:
        out.append(_MODE_PLAIN)
    else:
        if not isinstance(salt, bytes | bytearray) or len(salt) != SALT_BYTES:
            got = (
                f"{len(salt)} bytes" if isinstance(salt, bytes | bytearray) else type(salt).__name__
            )
            raise InputError(
                f"a leaf salt must be exactly {SALT_BYTES} bytes, got {got}",
                fix="use new_salt() or derive_salt(key, seq)",
            )
        out.append(_MODE_SALTED)
        out += salt
    name = record.name.encode("utf-8")
    out += struct.pack(">QBQB", record.seq, record.kind, record.step, len(name))
    out += name
    if record.kind is RecordKind.METRIC:
        assert isinstance(record.value, float)
        out += struct.pack(">Q", _float_bits(record.value))
    else:
        assert isinstance(record.value, str)
        text = record.value.encode("utf-8")
        out += struct.pack(">H", len(text)) + text
    return bytes(out)


def new_salt() -> bytes:
    """A fresh random 16-byte salt from the operating system's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)


def derive_salt(key: bytes, seq: int) -> bytes:
    """The salt of record `seq` derived from a 32-byte secret `key`.

    `HMAC-SHA256(key, "algotrace/v1/salt" || seq u64 BE)[:16]`. One key per experiment keeps
    the private manifest small; revealing one record's salt reveals nothing about the key or
    the other salts.

    Raises:
        InputError: `key` is not 32 bytes, or `seq` is out of range.
    """
    if not isinstance(key, bytes | bytearray) or len(key) != 32:
        raise InputError(
            "a salt key must be exactly 32 bytes",
            fix="generate one with secrets.token_bytes(32) and keep it with the private manifest",
        )
    _check_uint63("seq", seq)
    mac = hmac.new(bytes(key), _SALT_TAG + struct.pack(">Q", seq), hashlib.sha256)
    return mac.digest()[:SALT_BYTES]


def _check_uint63(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"record {field} must be an int, got {type(value).__name__}",
            fix=f"pass {field} as a Python int",
        )
    if not 0 <= value < MAX_UINT63:
        raise InputError(
            f"record {field} {value} is out of range",
            fix=f"use 0 <= {field} < 2**63",
        )


def _name_bytes(name: object) -> bytes:
    if not isinstance(name, str):
        raise InputError(
            f"record name must be a str, got {type(name).__name__}", fix="pass the name as text"
        )
    try:
        data = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"record name {shorten(repr(name))} is not valid UTF-8 (it contains a lone surrogate)",
            fix="remove the surrogate characters from the name",
        ) from None
    if not data:
        raise InputError("record name is empty", fix="give every record a non-empty name")
    if len(data) > MAX_NAME_BYTES:
        raise InputError(
            f"record name {name[:40]!r}... is {len(data)} UTF-8 bytes, above {MAX_NAME_BYTES}",
            fix=f"shorten the name to at most {MAX_NAME_BYTES} UTF-8 bytes",
        )
    return data


def _text_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise InputError(
            f"TEXT record {shorten(repr(name))} needs a str value, got {type(value).__name__}",
            fix="use RecordKind.METRIC for numbers, or convert the value with str()",
        )
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"TEXT record {shorten(repr(name))} value is not valid UTF-8 (it contains a lone "
            "surrogate)",
            fix="remove the surrogate characters from the value",
        ) from None
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(
            f"TEXT record {shorten(repr(name))} value is {len(data)} UTF-8 bytes, above "
            f"{MAX_TEXT_BYTES}",
            fix="record a digest of long text (algo_tracer.hashing) instead of the text itself",
        )
    return data


def _metric_value(name: str, value: object) -> float:
    if type(value) is float:  # the common case, without the numbers ABC checks below
        return value if value == value else math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(
            f"METRIC record {shorten(repr(name))} needs a real number, got {type(value).__name__}",
            fix="pass a float or int (x.item() for a one-value array or tensor, float(x) for "
            "booleans, RecordKind.TEXT for strings)",
        )
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        try:
            result = float(as_int)
        except OverflowError:
            result = math.inf
        if math.isinf(result) or int(result) != as_int:
            raise InputError(
                f"METRIC record {shorten(repr(name))} value {as_int} cannot be stored exactly "
                "as a float64",
                fix="pass float(value) if rounding is acceptable, or use a TEXT record",
            )
        return result
    result = float(value)
    return math.nan if math.isnan(result) else result


def _float_bits(value: float) -> int:
    if math.isnan(value):
        return CANONICAL_NAN_BITS
    bits: int = struct.unpack(">Q", struct.pack(">d", value))[0]
    return bits
