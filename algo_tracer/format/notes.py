"""The `algotrace:b` ARC-2 binary note codec for high-volume records (note path).

Records travel in the notes of 0-ALGO self-payments, up to 15 notes in one atomic group with
the `anchor_batch` call that anchors their Merkle root (docs/design.md, "Two on-chain paths").
A note is `NOTE_PREFIX` + a version-1 payload; docs/note-format.md specifies it byte for byte.
Every note is at most 1,024 bytes including the prefix (MaxTxnNoteBytes before consensus v42).

Example:
    >>> from algo_tracer.format.notes import decode_note, pack_notes
    >>> from algo_tracer.format.records import NoteRecord, RecordKind
    >>> records = [
    ...     NoteRecord(seq=i, kind=RecordKind.METRIC, name="loss", step=i, value=1 / (i + 1))
    ...     for i in range(1000)
    ... ]
    >>> packed = pack_notes(bytes(32), 0, records)
    >>> packed.count, len(packed.notes), max(len(n) for n in packed.notes) <= 1024
    (1000, 11, True)
    >>> decode_note(packed.notes[1]).records[0] == records[96]
    True

`pack_notes` fills each note greedily, which gives the fewest notes for a run of consecutive
records, and reports how many records fit so the caller starts the next group with the rest.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from algo_tracer.errors import InputError, VerificationError
from algo_tracer.format.merkle import merkle_root
from algo_tracer.format.records import (
    CANONICAL_NAN_BITS,
    MAX_TEXT_BYTES,
    MAX_UINT63,
    NoteRecord,
    RecordKind,
    encode_leaf,
)

__all__ = [
    "MAX_NOTES_PER_GROUP",
    "MAX_NOTE_BYTES",
    "NOTE_PREFIX",
    "NOTE_VERSION",
    "DecodedNote",
    "PackedNotes",
    "decode_note",
    "encode_note",
    "experiment_note_prefix",
    "group_records",
    "lease_for",
    "pack_notes",
]

#: ARC-2 prefix: dapp name "algotrace", data format "b" (raw bytes). Search the Indexer with it.
NOTE_PREFIX = b"algotrace:b"
#: Payload format version written and read by this module.
NOTE_VERSION = 1
#: MaxTxnNoteBytes: the whole note, prefix included, must fit (fee-free size on v41 and v42).
MAX_NOTE_BYTES = 1024
#: A group holds 16 transactions: one anchor_batch call and at most 15 note payments.
MAX_NOTES_PER_GROUP = 15

_LEASE_TAG = b"algotrace/v1/lease"
_ID_BYTES = 32
_MAX_KEYS = 255
_UINT64_LIMIT = 2**64
_FIX_FOREIGN = "skip notes that are not algo-tracer's; the prefix alone proves nothing"
_FIX_CORRUPT = "the note is corrupt or was not written by algo-tracer; report it as a finding"


@dataclass(frozen=True, slots=True)
class DecodedNote:
    """The content of one decoded note."""

    experiment_id: bytes
    """32-byte experiment id."""
    anchor_index: int
    """Index of the anchor_batch call (in the same group) that anchors these records."""
    position: int
    """0-based position of this note among the group's notes."""
    records: tuple[NoteRecord, ...]
    """The records, seq ascending and consecutive."""

    @property
    def first_seq(self) -> int:
        """Seq of the first record."""
        return self.records[0].seq

    @property
    def next_seq(self) -> int:
        """Seq just after the last record (first seq of the next note of the stream)."""
        return self.records[-1].seq + 1


@dataclass(frozen=True, slots=True)
class PackedNotes:
    """What `pack_notes` produced for one group: the notes and the records they carry."""

    experiment_id: bytes
    anchor_index: int
    notes: tuple[bytes, ...]
    """Note fields in position order: note i goes to the group's i-th note payment."""
    records: tuple[NoteRecord, ...]
    """The records packed (a prefix of the input); start the next group after them."""

    @property
    def count(self) -> int:
        """Number of records packed: the `record_count` argument of anchor_batch."""
        return len(self.records)

    def leaves(self) -> list[bytes]:
        """Plain leaf encodings of the packed records, in seq order."""
        return [encode_leaf(r) for r in self.records]

    @property
    def root(self) -> bytes:
        """Merkle root over `leaves()`: the `merkle_root` argument of anchor_batch."""
        return merkle_root(self.leaves())

    def leases(self) -> list[bytes]:
        """The lease of each note payment, in position order."""
        return [lease_for(self.experiment_id, self.anchor_index, p) for p in range(len(self.notes))]


def lease_for(experiment_id: bytes, anchor_index: int, position: int) -> bytes:
    """The 32-byte lease of note payment `position` of anchor `anchor_index`.

    `SHA-256("algotrace/v1/lease" || experiment_id || anchor_index u64 BE || position u8)`.
    A retry of the same note reuses it, so the network rejects a second copy while the first
    one's validity window is open.
    """
    _check_id(experiment_id)
    _check_anchor_index(anchor_index)
    _check_position(position)
    return hashlib.sha256(
        _LEASE_TAG + experiment_id + struct.pack(">QB", anchor_index, position)
    ).digest()


def experiment_note_prefix(experiment_id: bytes) -> bytes:
    """Note prefix matching every v1 note of one experiment (for an Indexer `note_prefix`)."""
    _check_id(experiment_id)
    return NOTE_PREFIX + bytes((NOTE_VERSION,)) + experiment_id


def encode_note(
    experiment_id: bytes, anchor_index: int, position: int, records: Sequence[NoteRecord]
) -> bytes:
    """One note carrying exactly `records` (consecutive seq).

    Raises:
        InputError: bad arguments, or the records do not fit one 1,024-byte note
            (use `pack_notes` to split them).
    """
    _check_header_args(experiment_id, anchor_index, position)
    records = _check_records(records)
    builder = _NoteBuilder(experiment_id, anchor_index, position, records[0].seq)
    for record in records:
        if not builder.add(record):
            raise InputError(
                f"{len(records)} records do not fit one {MAX_NOTE_BYTES}-byte note "
                f"(only the first {builder.count} do)",
                fix="use pack_notes to split records over several notes",
            )
    return builder.to_bytes()


def pack_notes(
    experiment_id: bytes,
    anchor_index: int,
    records: Sequence[NoteRecord],
    max_notes: int = MAX_NOTES_PER_GROUP,
) -> PackedNotes:
    """Pack the longest prefix of `records` that fits `max_notes` notes, each note full.

    Records must have consecutive seq. The result says how many were packed (`count`); pass
    `records[result.count:]` to the next group with `anchor_index + 1`.

    Raises:
        InputError: bad id, anchor index or `max_notes`, no records, or a seq gap.
    """
    _check_header_args(experiment_id, anchor_index, 0)
    if isinstance(max_notes, bool) or not isinstance(max_notes, int):
        raise InputError(f"max_notes must be an int, got {type(max_notes).__name__}")
    if not 1 <= max_notes <= MAX_NOTES_PER_GROUP:
        raise InputError(
            f"max_notes {max_notes} is out of range",
            fix=f"use 1..{MAX_NOTES_PER_GROUP} (a group is 16 txns: one app call plus notes)",
        )
    records = _check_records(records)
    notes: list[bytes] = []
    done = 0
    while done < len(records) and len(notes) < max_notes:
        builder = _NoteBuilder(experiment_id, anchor_index, len(notes), records[done].seq)
        while done < len(records) and builder.add(records[done]):
            done += 1
        notes.append(builder.to_bytes())
    return PackedNotes(experiment_id, anchor_index, tuple(notes), tuple(records[:done]))


def decode_note(note: bytes) -> DecodedNote:
    """Decode one `algotrace:b` note, checking every byte.

    Raises:
        InputError: a foreign prefix, an unknown version, truncation, trailing bytes, or any
            field that a v1 encoder could not have written; the message names the field and
            its byte offset.
    """
    if not isinstance(note, bytes | bytearray | memoryview):
        raise InputError(f"a note must be bytes, got {type(note).__name__}")
    data = bytes(note)
    if not data.startswith(NOTE_PREFIX):
        raise InputError(
            f"not an algo-tracer note: it starts with {data[: len(NOTE_PREFIX)]!r}, "
            f"expected {NOTE_PREFIX!r}",
            fix=_FIX_FOREIGN,
        )
    if len(data) > MAX_NOTE_BYTES:
        raise InputError(
            f"note is {len(data)} bytes; a v1 note is at most {MAX_NOTE_BYTES}", fix=_FIX_CORRUPT
        )
    r = _Reader(data, len(NOTE_PREFIX))
    version = r.u8("version")
    if version != NOTE_VERSION:
        raise InputError(
            f"unsupported note format version {version}; this algo-tracer reads version "
            f"{NOTE_VERSION}",
            fix="upgrade algo-tracer to read notes written by a newer version",
        )
    experiment_id = r.take(_ID_BYTES, "experiment id")
    anchor_index = r.uvarint("anchor index")
    at = r.pos
    position = r.u8("position")
    if position >= MAX_NOTES_PER_GROUP:
        r.fail(at, f"position {position} is not below {MAX_NOTES_PER_GROUP}")
    at = r.pos
    first_seq = r.uvarint("first seq")
    if first_seq >= MAX_UINT63:
        r.fail(at, f"first seq {first_seq} is not below 2**63")
    at = r.pos
    count = r.uvarint("record count")
    if count == 0:
        r.fail(at, "record count is 0")
    if first_seq + count > MAX_UINT63:
        r.fail(at, f"records {first_seq}..{first_seq + count - 1} run past seq 2**63 - 1")

    keys = _read_keys(r)
    used = 0  # keys must be first used in table order, so the encoding is unique
    records: list[NoteRecord] = []
    step = 0
    for i in range(count):
        seq = first_seq + i
        at = r.pos
        k = r.u8(f"key index of record {seq}")
        if k >= len(keys):
            r.fail(at, f"record {seq} uses key {k}, the key table has {len(keys)}")
        if k > used:
            r.fail(at, f"record {seq} uses key {k} before key {used}; keys go in first-use order")
        used = max(used, k + 1)
        kind, name = keys[k]
        at = r.pos
        step += _unzigzag(r.uvarint(f"step of record {seq}"))
        if not 0 <= step < MAX_UINT63:
            r.fail(at, f"record {seq} has step {step}, outside 0..2**63-1")
        value: float | str
        at = r.pos
        if kind is RecordKind.METRIC:
            raw = r.take(8, f"value of record {seq}")
            number: float = struct.unpack(">d", raw)[0]
            bits = int.from_bytes(raw, "big")
            if math.isnan(number) and bits != CANONICAL_NAN_BITS:
                r.fail(at, f"record {seq} holds NaN bits {bits:016x}, not the canonical 7ff8...")
            value = number
        else:
            size = r.uvarint(f"text length of record {seq}")
            if size > MAX_TEXT_BYTES:
                r.fail(at, f"record {seq} text is {size} bytes, above {MAX_TEXT_BYTES}")
            value = r.utf8(size, at, f"text of record {seq}")
        records.append(NoteRecord(seq=seq, kind=kind, name=name, step=step, value=value))
    if used != len(keys):
        r.fail(r.pos, f"key table has {len(keys)} entries, the records use only {used}")
    if r.pos != len(data):
        extra = len(data) - r.pos
        r.fail(r.pos, f"{extra} trailing byte{'s' * (extra > 1)} after the last record")
    return DecodedNote(experiment_id, anchor_index, position, tuple(records))


def group_records(notes: Iterable[DecodedNote]) -> tuple[NoteRecord, ...]:
    """The records of one group's notes, checked to form one gap-free run.

    Notes may come in any order (Indexer order is not group order). Their leaves, in the
    returned order, are the leaves whose root the group's anchor_batch call anchored.

    Raises:
        VerificationError: notes of different experiments or anchors, a repeated or missing
            position, or a seq gap or overlap between consecutive notes.
        InputError: no notes.
    """
    ordered = sorted(notes, key=lambda n: n.position)
    if not ordered:
        raise InputError("no notes given", fix="pass the decoded notes of one atomic group")
    first = ordered[0]
    for note in ordered:
        if (note.experiment_id, note.anchor_index) != (first.experiment_id, first.anchor_index):
            raise VerificationError(
                f"notes of different batches were mixed: experiment {first.experiment_id.hex()} "
                f"anchor {first.anchor_index} vs experiment {note.experiment_id.hex()} "
                f"anchor {note.anchor_index}"
            )
    positions = [n.position for n in ordered]
    if positions != list(range(len(ordered))):
        missing = sorted(set(range(max(positions) + 1)) - set(positions))
        repeated = sorted({p for p in positions if positions.count(p) > 1})
        raise VerificationError(
            f"anchor {first.anchor_index} notes have positions {positions}: "
            f"missing {missing}, repeated {repeated}"
        )
    for prev, note in itertools.pairwise(ordered):
        if note.first_seq != prev.next_seq:
            raise VerificationError(
                f"anchor {first.anchor_index}: note {prev.position} ends before seq "
                f"{prev.next_seq} but note {note.position} starts at seq {note.first_seq}"
            )
    return tuple(r for note in ordered for r in note.records)


# --- encoding ------------------------------------------------------------------------------------


class _NoteBuilder:
    """Accumulates records into one note while tracking its exact encoded size."""

    def __init__(self, experiment_id: bytes, anchor_index: int, position: int, first_seq: int):
        self._head = (
            NOTE_PREFIX
            + bytes((NOTE_VERSION,))
            + experiment_id
            + _uvarint(anchor_index)
            + bytes((position,))
            + _uvarint(first_seq)
        )
        self._keys: dict[tuple[RecordKind, str], int] = {}
        self._key_bytes = bytearray()
        self._body = bytearray()
        self._prev_step = 0
        self.count = 0

    def add(self, record: NoteRecord) -> bool:
        """Append `record` if the note stays within 1,024 bytes; False (unchanged) if not."""
        key = (record.kind, record.name)
        index = self._keys.get(key)
        entry = b""
        if index is None:
            if len(self._keys) == _MAX_KEYS:  # unreachable in 1,024 B (a key costs >= 6 B)
                return False
            index = len(self._keys)
            name = record.name.encode("utf-8")
            entry = bytes((record.kind, len(name))) + name
        encoded = (
            bytes((index,))
            + _uvarint(_zigzag(record.step - self._prev_step))
            + _encode_value(record)
        )
        size = (
            len(self._head)
            + len(_uvarint(self.count + 1))
            + 1
            + len(self._key_bytes)
            + len(entry)
            + len(self._body)
            + len(encoded)
        )
        if size > MAX_NOTE_BYTES:
            return False
        if entry:
            self._keys[key] = index
            self._key_bytes += entry
        self._body += encoded
        self._prev_step = record.step
        self.count += 1
        return True

    def to_bytes(self) -> bytes:
        return (
            self._head
            + _uvarint(self.count)
            + bytes((len(self._keys),))
            + self._key_bytes
            + self._body
        )


def _encode_value(record: NoteRecord) -> bytes:
    if record.kind is RecordKind.METRIC:
        assert isinstance(record.value, float)
        if math.isnan(record.value):
            return CANONICAL_NAN_BITS.to_bytes(8, "big")
        return struct.pack(">d", record.value)
    assert isinstance(record.value, str)
    text = record.value.encode("utf-8")
    return _uvarint(len(text)) + text


def _uvarint(value: int) -> bytes:
    """Unsigned LEB128 (protobuf / Go binary.PutUvarint), minimal length."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _zigzag(value: int) -> int:
    return value << 1 if value >= 0 else ((-value) << 1) - 1


def _unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -((value + 1) >> 1)


# --- decoding ------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def fail(self, at: int, problem: str) -> None:
        raise InputError(f"bad algo-tracer note at byte {at}: {problem}", fix=_FIX_CORRUPT)

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise InputError(
                f"note truncated: {field} at byte {self.pos} needs {n} bytes, "
                f"{len(self.data) - self.pos} left",
                fix=_FIX_CORRUPT,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def uvarint(self, field: str) -> int:
        start, value, shift = self.pos, 0, 0
        while True:
            byte = self.take(1, field)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift >= 70:
                self.fail(start, f"{field} varint is longer than 10 bytes")
        if value >= _UINT64_LIMIT:
            self.fail(start, f"{field} varint exceeds 64 bits")
        if self.pos - start > 1 and byte == 0:
            self.fail(start, f"{field} varint is not minimal (it ends in a 0x00 byte)")
        return value

    def utf8(self, size: int, at: int, field: str) -> str:
        raw = self.take(size, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(at, f"{field} is not valid UTF-8")
            raise  # unreachable: fail() raises


def _read_keys(r: _Reader) -> list[tuple[RecordKind, str]]:
    at = r.pos
    n = r.u8("key count")
    if n == 0:
        r.fail(at, "key table is empty")
    keys: list[tuple[RecordKind, str]] = []
    for k in range(n):
        at = r.pos
        code = r.u8(f"kind of key {k}")
        if code not in RecordKind._value2member_map_:
            r.fail(at, f"key {k} has unknown record kind {code}")
        at = r.pos
        size = r.u8(f"name length of key {k}")
        if size == 0:
            r.fail(at, f"key {k} has an empty name")
        name = r.utf8(size, at, f"name of key {k}")
        key = (RecordKind(code), name)
        if key in keys:
            r.fail(at, f"key {k} repeats key {keys.index(key)} ({key[0].name} {name!r})")
        keys.append(key)
    return keys


# --- argument checks --------------------------------------------------------------------------


def _check_id(experiment_id: object) -> None:
    if not isinstance(experiment_id, bytes) or len(experiment_id) != _ID_BYTES:
        raise InputError(
            "experiment id must be 32 bytes",
            fix="pass the raw id (decode the base58 form shown to users first)",
        )


def _check_anchor_index(anchor_index: object) -> None:
    if isinstance(anchor_index, bool) or not isinstance(anchor_index, int):
        raise InputError(f"anchor index must be an int, got {type(anchor_index).__name__}")
    if not 0 <= anchor_index < _UINT64_LIMIT:
        raise InputError(f"anchor index {anchor_index} does not fit a uint64")


def _check_position(position: object) -> None:
    if isinstance(position, bool) or not isinstance(position, int):
        raise InputError(f"note position must be an int, got {type(position).__name__}")
    if not 0 <= position < MAX_NOTES_PER_GROUP:
        raise InputError(
            f"note position {position} is out of range",
            fix=f"a group carries at most {MAX_NOTES_PER_GROUP} notes: use 0..14",
        )


def _check_header_args(experiment_id: object, anchor_index: object, position: object) -> None:
    _check_id(experiment_id)
    _check_anchor_index(anchor_index)
    _check_position(position)


def _check_records(records: Sequence[NoteRecord]) -> Sequence[NoteRecord]:
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise InputError(f"records must be a sequence, got {type(records).__name__}")
    if len(records) == 0:
        raise InputError("no records to pack", fix="pass at least one NoteRecord")
    for i, record in enumerate(records):
        if not isinstance(record, NoteRecord):
            raise InputError(f"records[{i}] is a {type(record).__name__}, not a NoteRecord")
        if record.seq != records[0].seq + i:
            raise InputError(
                f"records[{i}] has seq {record.seq}, expected {records[0].seq + i}: "
                "records in notes must have consecutive seq",
                fix="number records 0, 1, 2, ... over the experiment and pack them in order",
            )
    return records
