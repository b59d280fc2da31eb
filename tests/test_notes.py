"""The algotrace:b note codec: layout, packing capacity, round trips, every decode error, leases.

Regenerate tests/vectors/notes-v1.json (only on a deliberate format change) with
`python tests/test_notes.py --write`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algo_tracer.errors import InputError, VerificationError
from algo_tracer.format.merkle import MerkleTree, merkle_root, verify_inclusion
from algo_tracer.format.notes import (
    MAX_NOTE_BYTES,
    MAX_NOTES_PER_GROUP,
    NOTE_PREFIX,
    DecodedNote,
    decode_note,
    encode_note,
    experiment_note_prefix,
    group_records,
    lease_for,
    pack_notes,
)
from algo_tracer.format.records import NoteRecord, RecordKind, encode_leaf

VECTORS = Path(__file__).parent / "vectors" / "notes-v1.json"
METRIC, TEXT = RecordKind.METRIC, RecordKind.TEXT
EXP = bytes(range(32))
LOSS_KEY = b"\x01\x04loss"  # kind METRIC, name length 4, "loss"


def m(seq: int, name: str, step: int, value: float) -> NoteRecord:
    return NoteRecord(seq=seq, kind=METRIC, name=name, step=step, value=value)


def t(seq: int, name: str, step: int, value: str) -> NoteRecord:
    return NoteRecord(seq=seq, kind=TEXT, name=name, step=step, value=value)


def training_stream(
    names: list[str], count: int, seq0: int = 0, step0: int = 0
) -> list[NoteRecord]:
    rng = random.Random(7)
    out: list[NoteRecord] = []
    step = step0
    while len(out) < count:
        for name in names:
            out.append(m(seq0 + len(out), name, step, rng.random()))
        step += 1
    return out[:count]


def raw_note(
    *,
    version: bytes = b"\x01",
    anchor: bytes = b"\x00",
    position: bytes = b"\x00",
    first_seq: bytes = b"\x00",
    count: bytes = b"\x01",
    keys: bytes = b"\x01" + LOSS_KEY,
    records: bytes = b"\x00\x00" + struct.pack(">d", 0.5),
) -> bytes:
    """A note assembled field by field, to reach each decoder check."""
    return NOTE_PREFIX + version + EXP + anchor + position + first_seq + count + keys + records


# --- layout ---------------------------------------------------------------------------------------


def test_a_note_is_the_documented_byte_layout() -> None:
    records = [m(300, "loss", 1000, 0.5), m(301, "acc", 1000, 0.75), m(302, "loss", 1001, -0.0)]
    expected = (
        b"algotrace:b"
        + b"\x01"  # version
        + EXP
        + b"\x07"  # anchor index 7 (uvarint)
        + b"\x02"  # position 2
        + b"\xac\x02"  # first seq 300 (uvarint)
        + b"\x03"  # 3 records
        + b"\x02"  # 2 keys
        + b"\x01\x04loss"
        + b"\x01\x03acc"
        + b"\x00" + b"\xd0\x0f" + struct.pack(">d", 0.5)  # key 0, step delta +1000 zigzag 2000
        + b"\x01" + b"\x00" + struct.pack(">d", 0.75)  # key 1, delta 0
        + b"\x00" + b"\x02" + bytes.fromhex("8000000000000000")  # key 0, delta +1, -0.0
    )  # fmt: skip
    assert encode_note(EXP, 7, 2, records) == expected
    assert decode_note(expected) == DecodedNote(EXP, 7, 2, tuple(records))


def test_text_records_carry_a_uvarint_length_and_a_negative_step_delta_is_zigzagged() -> None:
    records = [m(0, "lr", 5, 1e-3), t(1, "lr", 2, "cosine")]
    note = encode_note(EXP, 0, 0, records)
    tail = (
        b"\x02" + b"\x01\x02lr" + b"\x02\x02lr"  # METRIC "lr" and TEXT "lr" are distinct keys
        + b"\x00\x0a" + struct.pack(">d", 1e-3)  # step 5 -> zigzag 10
        + b"\x01\x05" + b"\x06cosine"  # step 5 -> 2 is delta -3 -> zigzag 5
    )  # fmt: skip
    assert note.endswith(tail)
    assert decode_note(note).records == tuple(records)


def test_every_note_starts_with_the_experiment_prefix_for_indexer_searches() -> None:
    packed = pack_notes(EXP, 3, training_stream(["loss"], 500))
    assert all(n.startswith(experiment_note_prefix(EXP)) for n in packed.notes)
    assert experiment_note_prefix(EXP) == b"algotrace:b\x01" + EXP


# --- capacity -------------------------------------------------------------------------------------


def test_short_metric_names_pack_over_60_per_note_and_900_per_group() -> None:
    packed = pack_notes(EXP, 0, training_stream(["loss", "acc"], 5000))
    per_note = [len(decode_note(n).records) for n in packed.notes]
    assert len(packed.notes) == MAX_NOTES_PER_GROUP
    assert min(per_note) == 96
    assert packed.count == 1440


def test_four_metrics_with_large_seq_step_and_anchor_still_pack_94_per_note() -> None:
    names = ["loss", "acc", "val_loss", "val_acc"]
    records = training_stream(names, 3000, seq0=10**6, step0=10**6)
    packed = pack_notes(EXP, 10**4, records)
    assert packed.count == 1410
    assert max(len(n) for n in packed.notes) == MAX_NOTE_BYTES


def test_the_largest_possible_record_fits_one_note() -> None:
    big = t(2**63 - 1, "n" * 255, 2**63 - 1, "é" * 256)
    note = encode_note(EXP, 2**64 - 1, 14, [big])
    assert len(note) <= MAX_NOTE_BYTES
    assert decode_note(note).records == (big,)


records_strategy = st.one_of(
    st.tuples(st.just(METRIC), st.sampled_from(["loss", "acc", "val/loss", "λ"]),
              st.floats(allow_nan=True)),
    st.tuples(st.just(TEXT), st.sampled_from(["opt", "tag", "loss"]), st.text(max_size=60).filter(
        lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(records_strategy, st.integers(0, 2**63 - 1)), min_size=1, max_size=400),
    st.integers(0, 2**40),
    st.integers(0, 2**64 - 1),
    st.integers(1, MAX_NOTES_PER_GROUP),
)
def test_packing_round_trips_fills_every_note_and_never_exceeds_1024_bytes(
    items: list[tuple[tuple[RecordKind, str, Any], int]],
    seq0: int,
    anchor: int,
    max_notes: int,
) -> None:
    records = [
        NoteRecord(seq=seq0 + i, kind=kind, name=name, step=step, value=value)
        for i, ((kind, name, value), step) in enumerate(items)
    ]
    packed = pack_notes(EXP, anchor, records, max_notes=max_notes)
    assert 1 <= len(packed.notes) <= max_notes
    assert packed.records == tuple(records[: packed.count])
    decoded = [decode_note(n) for n in packed.notes]
    assert all(len(n) <= MAX_NOTE_BYTES for n in packed.notes)
    assert [d.position for d in decoded] == list(range(len(decoded)))
    assert all(d.anchor_index == anchor and d.experiment_id == EXP for d in decoded)
    assert group_records(reversed(decoded)) == packed.records
    # Greedy and full: the record after each note would not have fit in it.
    end = 0
    for d, note in zip(decoded, packed.notes, strict=True):
        assert encode_note(EXP, anchor, d.position, d.records) == note
        end += len(d.records)
        if end < len(records):
            with pytest.raises(InputError, match="do not fit one 1024-byte note"):
                encode_note(EXP, anchor, d.position, [*d.records, records[end]])


def test_pack_stops_at_max_notes_and_the_rest_starts_the_next_group() -> None:
    records = training_stream(["loss"], 1000)
    first = pack_notes(EXP, 0, records, max_notes=3)
    assert len(first.notes) == 3 and first.count == 288
    second = pack_notes(EXP, 1, records[first.count :])
    assert second.records[0].seq == 288
    assert first.count + second.count == 1000


# --- the verifier's path: note -> record -> leaf -> proof -> anchored root ------------------------


def test_a_record_read_from_a_note_is_proven_against_the_anchored_root() -> None:
    records = training_stream(["loss", "acc"], 700, seq0=1440)
    packed = pack_notes(EXP, 1, records)
    anchored_root, anchored_count = packed.root, packed.count  # what anchor_batch records
    assert anchored_root == merkle_root([encode_leaf(r) for r in records[: packed.count]])

    note = decode_note(packed.notes[4])
    record = note.records[10]
    tree = MerkleTree(packed.leaves())  # off-chain: the proofs kept in the manifest
    first_seq = packed.records[0].seq
    proof = tree.proof(record.seq - first_seq)
    verify_inclusion(
        encode_leaf(record), proof, anchored_root,
        index=record.seq - first_seq, tree_size=anchored_count,
    )  # fmt: skip
    # Public path: all the group's notes are on chain, so the root can be recomputed outright.
    on_chain = group_records(decode_note(n) for n in packed.notes)
    assert merkle_root([encode_leaf(r) for r in on_chain]) == anchored_root


def test_packed_leases_are_one_per_note_in_position_order() -> None:
    packed = pack_notes(EXP, 5, training_stream(["loss"], 300))
    assert packed.leases() == [lease_for(EXP, 5, p) for p in range(len(packed.notes))]


# --- group checks ---------------------------------------------------------------------------------


def test_group_records_rejects_mixed_missing_repeated_or_gapped_notes() -> None:
    notes = [decode_note(n) for n in pack_notes(EXP, 0, training_stream(["loss"], 300)).notes]
    other = decode_note(encode_note(bytes(32), 0, 1, [m(96, "loss", 96, 1.0)]))
    with pytest.raises(VerificationError, match="notes of different batches were mixed"):
        group_records([notes[0], other])
    with pytest.raises(VerificationError, match=r"positions \[0, 2\]: missing \[1\]"):
        group_records([notes[0], notes[2]])
    with pytest.raises(VerificationError, match=r"repeated \[0\]"):
        group_records([notes[0], notes[0]])
    gapped = decode_note(encode_note(EXP, 0, 1, [m(97, "loss", 1, 1.0)]))
    with pytest.raises(VerificationError, match="ends before seq 96 but note 1 starts at seq 97"):
        group_records([notes[0], gapped])
    with pytest.raises(InputError, match="no notes given"):
        group_records([])


# --- leases ---------------------------------------------------------------------------------------


def test_lease_is_sha256_of_tag_id_anchor_and_position() -> None:
    expected = hashlib.sha256(
        b"algotrace/v1/lease" + EXP + (9).to_bytes(8, "big") + b"\x03"
    ).digest()
    assert lease_for(EXP, 9, 3) == expected


def test_leases_differ_by_experiment_anchor_and_position() -> None:
    leases = {
        lease_for(exp, anchor, pos)
        for exp in (EXP, bytes(32))
        for anchor in (0, 1, 2**64 - 1)
        for pos in range(MAX_NOTES_PER_GROUP)
    }
    assert len(leases) == 2 * 3 * MAX_NOTES_PER_GROUP


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((EXP[:31], 0, 0), "experiment id must be 32 bytes"),
        ((EXP.hex(), 0, 0), "experiment id must be 32 bytes"),
        ((EXP, -1, 0), "anchor index -1 does not fit a uint64"),
        ((EXP, 2**64, 0), "does not fit a uint64"),
        ((EXP, 0, 15), "note position 15 is out of range"),
        ((EXP, 0, -1), "out of range"),
        ((EXP, 0.0, 0), "anchor index must be an int"),
    ],
)
def test_lease_arguments_are_checked(args: tuple[Any, Any, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        lease_for(*args)


# --- packing errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "kwargs", "message"),
    [
        ([], {}, "no records to pack"),
        ([m(0, "loss", 0, 1.0), m(2, "loss", 1, 1.0)], {}, "records\\[1\\] has seq 2, expected 1"),
        ([m(1, "loss", 0, 1.0), m(0, "loss", 1, 1.0)], {}, "consecutive seq"),
        ([("loss", 1.0)], {}, "records\\[0\\] is a tuple, not a NoteRecord"),
        ("loss", {}, "records must be a sequence"),
        ([m(0, "loss", 0, 1.0)], {"max_notes": 0}, "max_notes 0 is out of range"),
        ([m(0, "loss", 0, 1.0)], {"max_notes": 16}, "max_notes 16 is out of range"),
        ([m(0, "loss", 0, 1.0)], {"max_notes": 2.0}, "max_notes must be an int"),
    ],
)
def test_pack_notes_rejects_bad_input(records: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        pack_notes(EXP, 0, records, **kwargs)


def test_encode_note_refuses_records_that_need_two_notes() -> None:
    with pytest.raises(InputError, match=r"97 records do not fit .*only the first 96"):
        encode_note(EXP, 0, 0, training_stream(["loss"], 97))


# --- decode errors --------------------------------------------------------------------------------


def test_decoding_the_hand_built_note_works() -> None:
    assert decode_note(raw_note()).records == (m(0, "loss", 0, 0.5),)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (b"", "not an algo-tracer note: it starts with b''"),
        (b'algokit:j{"name":"x"}', "it starts with b'algokit:j{\"'"),
        (b"algotrace:j{}", "expected b'algotrace:b'"),
        (b"ALGOTRACE:b" + bytes(40), "not an algo-tracer note"),
    ],
)
def test_foreign_notes_are_named_as_foreign(note: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_note(note)


def test_a_note_that_is_not_bytes_is_rejected() -> None:
    with pytest.raises(InputError, match="a note must be bytes, got str"):
        decode_note("algotrace:b")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_versions_are_rejected_with_an_upgrade_hint(version: int) -> None:
    with pytest.raises(
        InputError, match=f"unsupported note format version {version}(.|\\n)*upgrade"
    ):
        decode_note(raw_note(version=bytes((version,))))


def test_every_truncation_of_a_note_is_reported_as_truncated() -> None:
    note = encode_note(EXP, 300, 1, [m(5, "loss", 7, 0.1), t(6, "opt", 7, "adam")])
    for cut in range(len(NOTE_PREFIX), len(note)):
        with pytest.raises(InputError, match=r"note truncated: .* at byte"):
            decode_note(note[:cut])


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(InputError, match="1 trailing byte after the last record"):
        decode_note(raw_note() + b"\x00")


def test_a_note_longer_than_1024_bytes_is_rejected() -> None:
    with pytest.raises(InputError, match="note is 1025 bytes; a v1 note is at most 1024"):
        decode_note(NOTE_PREFIX + bytes(MAX_NOTE_BYTES + 1 - len(NOTE_PREFIX)))


NAN_BITS = bytes.fromhex("7ff8000000000001")
BAD_NOTES = {
    "position 15": (raw_note(position=b"\x0f"), "byte 45: position 15 is not below 15"),
    "first seq 2**63": (
        raw_note(first_seq=b"\x80" * 9 + b"\x01"),
        "first seq 9223372036854775808 is not below 2**63",
    ),
    "zero records": (raw_note(count=b"\x00"), "record count is 0"),
    "seq overflow": (
        raw_note(first_seq=b"\xff" * 8 + b"\x7f", count=b"\x02"),
        "run past seq 2**63 - 1",
    ),
    "no keys": (raw_note(keys=b"\x00"), "key table is empty"),
    "unknown kind": (raw_note(keys=b"\x01\x09\x04loss"), "key 0 has unknown record kind 9"),
    "empty name": (raw_note(keys=b"\x01\x01\x00"), "key 0 has an empty name"),
    "name not utf-8": (raw_note(keys=b"\x01\x01\x02\xc3\x28"), "name of key 0 is not valid UTF-8"),
    "repeated key": (raw_note(keys=b"\x02" + LOSS_KEY * 2), "key 1 repeats key 0 (METRIC 'loss')"),
    "key out of range": (
        raw_note(records=b"\x01\x00" + bytes(8)),
        "record 0 uses key 1, the key table has 1",
    ),
    "keys out of order": (
        raw_note(keys=b"\x02" + LOSS_KEY + b"\x01\x03acc", records=b"\x01\x00" + bytes(8)),
        "record 0 uses key 1 before key 0",
    ),
    "unused key": (
        raw_note(keys=b"\x02" + LOSS_KEY + b"\x01\x03acc"),
        "key table has 2 entries, the records use only 1",
    ),
    "negative step": (raw_note(records=b"\x00\x01" + bytes(8)), "record 0 has step -1"),
    "step 2**63": (
        raw_note(
            count=b"\x02",
            records=b"\x00\xfe" + b"\xff" * 8 + b"\x01" + bytes(8) + b"\x00\x02" + bytes(8),
        ),
        "record 1 has step 9223372036854775808",
    ),
    "noncanonical NaN": (raw_note(records=b"\x00\x00" + NAN_BITS), "NaN bits 7ff8000000000001"),
    "text too long": (
        raw_note(keys=b"\x01\x02\x03tag", records=b"\x00\x00\x81\x04" + b"x" * 513),
        "record 0 text is 513 bytes, above 512",
    ),
    "text not utf-8": (
        raw_note(keys=b"\x01\x02\x03tag", records=b"\x00\x00\x01\xff"),
        "text of record 0 is not valid UTF-8",
    ),
    "varint over 10 bytes": (raw_note(anchor=b"\x80" * 10 + b"\x00"), "longer than 10 bytes"),
    "varint over 64 bits": (raw_note(anchor=b"\xff" * 9 + b"\x02"), "varint exceeds 64 bits"),
    "non-minimal varint": (raw_note(anchor=b"\x80\x00"), "anchor index varint is not minimal"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_NOTES)
def test_every_malformed_field_is_named_with_its_offset(case: str) -> None:
    note, message = BAD_NOTES[case]
    with pytest.raises(InputError, match=re.escape(message)) as info:
        decode_note(note)
    assert re.match(r"bad algo-tracer note at byte \d+: ", str(info.value))


def test_decode_errors_carry_a_fix() -> None:
    with pytest.raises(InputError) as info:
        decode_note(raw_note(count=b"\x00"))
    assert info.value.fix is not None and "corrupt" in info.value.fix


# --- vectors --------------------------------------------------------------------------------------


def record_json(r: NoteRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seq": str(r.seq),
        "kind": r.kind.name,
        "name": r.name,
        "step": str(r.step),
    }
    if isinstance(r.value, float):
        out["value_bits"] = encode_leaf(r)[-8:].hex()
    else:
        out["value"] = r.value
    return out


def record_from_json(d: dict[str, Any]) -> NoteRecord:
    kind = RecordKind[d["kind"]]
    value = struct.unpack(">d", bytes.fromhex(d["value_bits"]))[0] if kind is METRIC else d["value"]
    return NoteRecord(
        seq=int(d["seq"]), kind=kind, name=d["name"], step=int(d["step"]), value=value
    )


def vector_cases() -> list[tuple[str, bytes, int, int, list[NoteRecord]]]:
    return [
        ("one metric", bytes(32), 0, 0, [m(0, "loss", 0, 2.5)]),
        ("interleaved metrics, step deltas and special floats", EXP, 7, 2, [
            m(300, "loss", 1000, 0.5), m(301, "acc", 1000, 0.75), m(302, "loss", 1001, -0.0),
            m(303, "acc", 1001, math.inf), m(304, "loss", 999, math.nan),
            m(305, "acc", 999, -math.inf), m(306, "loss", 1002, 1e-300),
        ]),
        ("text and metric under one name, non-ASCII", EXP, 1, 0, [
            t(10, "optimizer", 0, "adamw"), m(11, "lr", 0, 3e-4), t(12, "lr", 0, "cosine ↘"),
            t(13, "note", 0, ""), m(14, "λ", 3, 0.1),
        ]),
        ("extreme fields", b"\xff" * 32, 2**64 - 1, 14, [
            m(2**63 - 2, "s", 2**63 - 1, 1.0), m(2**63 - 1, "s", 0, -1.0),
        ]),
        ("a full note of 96 records", EXP, 0, 0, [
            m(i, "loss", i, 1 / (i + 1)) for i in range(96)
        ]),
    ]  # fmt: skip


FRAMING_ERRORS = {
    "foreign prefix": (b'algokit:j{"a":1}', "not an algo-tracer note"),
    "version 2": (raw_note(version=b"\x02"), "unsupported note format version 2"),
    "truncated": (raw_note()[:-1], "note truncated: value of record 0"),
    "trailing byte": (raw_note() + b"\x00", "1 trailing byte after the last record"),
    "over 1024 bytes": (raw_note() + bytes(1024), "a v1 note is at most 1024"),
}


def build_vectors() -> dict[str, Any]:
    valid = []
    for name, exp, anchor, position, records in vector_cases():
        leaves = [encode_leaf(r) for r in records]
        valid.append(
            {
                "name": name,
                "experiment_id": exp.hex(),
                "anchor_index": str(anchor),
                "position": position,
                "records": [record_json(r) for r in records],
                "note": encode_note(exp, anchor, position, records).hex(),
                "leaves": [leaf.hex() for leaf in leaves],
                "merkle_root": merkle_root(leaves).hex(),
                "lease": lease_for(exp, anchor, position).hex(),
            }
        )
    return {
        "description": (
            "algo-tracer note format v1 (docs/note-format.md). 'note' is the whole note field "
            "in hex, prefix included; 'leaves' are the plain leaf encodings of 'records'; "
            "'merkle_root' is the RFC 6962 root over them; 'lease' is lease_for(experiment_id, "
            "anchor_index, position). Integers that can exceed 2**53 are decimal strings. "
            "METRIC values are given as their float64 bits. 'invalid' notes must be rejected; "
            "'error' is a substring of algo-tracer's message."
        ),
        "valid": valid,
        "invalid": [
            {"name": name, "note": note.hex(), "error": message}
            for name, (note, message) in (BAD_NOTES | FRAMING_ERRORS).items()
        ],
    }


def test_the_committed_vectors_match_the_implementation() -> None:
    stored = json.loads(VECTORS.read_text())
    assert stored == build_vectors()
    for case in stored["valid"]:
        exp, anchor = bytes.fromhex(case["experiment_id"]), int(case["anchor_index"])
        records = [record_from_json(d) for d in case["records"]]
        note = bytes.fromhex(case["note"])
        assert encode_note(exp, anchor, case["position"], records) == note
        assert decode_note(note) == DecodedNote(exp, anchor, case["position"], tuple(records))
        assert [encode_leaf(r).hex() for r in records] == case["leaves"]
    for case in stored["invalid"]:
        with pytest.raises(InputError) as info:
            decode_note(bytes.fromhex(case["note"]))
        assert case["error"] in str(info.value)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    VECTORS.parent.mkdir(exist_ok=True)
    VECTORS.write_text(json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {VECTORS}")
