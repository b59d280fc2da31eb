"""Stage notes: a stage's detail in the note of the call that records it, findable by prefix.

A box stage holds only `kind || digest`; its detail (what was hashed) lives in the manifest. For
the stages that tie experiments together (a trial naming its study, a study's trial records and
selection) and for a public plan, a reader must find and read the detail from the chain alone,
so the `record_stage` call carries it in its note (docs/note-format.md, section 8):

    note = "algotrace:s" || version u8 || kind u8 || subject id (32 bytes) || JSON body

The version byte is the JSON scheme of the body (docs/hashing.md §13): 1, canonical JSON (notes
of experiments recorded before RFC 8785); 2, RFC 8785. It says how the body is hashed, so a
reader never guesses: the stage digest is `hashing.hash_params(detail, params_scheme(version))`
of exactly these bytes (a plan: its commitment under that scheme).

The *subject* is the experiment the note is about, so one Indexer `note-prefix` query answers
"which experiments name study S" (kind TRIAL_OF, subject S) or "what did experiment E record
as kind K" (subject E). The JSON is the stage's manifest detail, byte for byte what
`hashing.hash_params` hashes.

A plan revealed after the fact travels the same way, as a 0-ALGO self-payment (`reveal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from algo_tracer.errors import InputError
from algo_tracer.format.ids import parse_id
from algo_tracer.hashing import JSON_SCHEME_V1, JSON_SCHEMES, json_encoder

__all__ = [
    "MAX_DETAIL_BYTES",
    "NOTED_KINDS",
    "STAGE_NOTE_PREFIX",
    "STAGE_NOTE_VERSION",
    "StageNote",
    "decode_stage_note",
    "encode_stage_note",
    "stage_note_for",
    "stage_note_prefix",
]

#: ARC-2: dapp "algotrace", data format "s" (stage note; distinct from the records' "b").
STAGE_NOTE_PREFIX: Final = b"algotrace:s"
#: The version byte of notes written by algo-tracers before RFC 8785; a note's version is the
#: JSON scheme of its body (hashing.JSON_SCHEMES).
STAGE_NOTE_VERSION: Final = 1
_ID_BYTES = 32
_HEAD = len(STAGE_NOTE_PREFIX) + 2 + _ID_BYTES
#: MaxTxnNoteBytes (1024) less the fixed head: the largest detail a stage note carries.
MAX_DETAIL_BYTES: Final = 1024 - _HEAD
#: Stage kinds (documents.manifest.StageKind values) whose record_stage call carries its detail:
#: PLAN (public plans), STUDY, TRIAL_OF, TRIAL, SELECTION, and STORED (docs/ipfs.md).
NOTED_KINDS: Final = frozenset({11, 12, 13, 14, 15, 25})
_PLAN, _TRIAL_OF = 11, 13


@dataclass(frozen=True, slots=True)
class StageNote:
    kind: int
    subject: bytes
    detail: dict[str, Any]
    raw_detail: bytes  # the JSON bytes as found, which the stage digest is computed over
    scheme: int = JSON_SCHEME_V1  # the version byte: the JSON scheme of raw_detail


def stage_note_prefix(kind: int, subject: bytes | None = None,
                      scheme: int = JSON_SCHEME_V1) -> bytes:
    """The Indexer `note-prefix` for stage notes of `kind` (about `subject`, if given) whose
    body is in JSON scheme `scheme`; a reader that must find every such note asks once per
    scheme (`JSON_SCHEMES`), since the version byte precedes the kind."""
    if not 0 < kind < 256:
        raise ValueError(f"stage kind {kind} is not a byte")  # a bug: kinds come from StageKind
    if subject is not None and len(subject) != _ID_BYTES:
        raise ValueError("subject must be a 32-byte experiment id")
    if scheme not in JSON_SCHEMES:
        raise ValueError(f"no JSON scheme {scheme}")  # a bug: schemes come from JSON_SCHEMES
    return STAGE_NOTE_PREFIX + bytes((scheme, kind)) + (subject or b"")


def encode_stage_note(kind: int, subject: bytes, detail: dict[str, Any],
                      scheme: int = JSON_SCHEME_V1) -> bytes:
    """The note for a stage of `kind` about `subject`, its body in JSON scheme `scheme` (the
    experiment's); InputError when the detail is too long."""
    body = json_encoder(scheme)(detail)
    if len(body) > MAX_DETAIL_BYTES:
        raise InputError(
            f"this stage's detail is {len(body)} bytes as canonical JSON; a transaction note "
            f"holds at most {MAX_DETAIL_BYTES} after the stage note's head",
            fix="keep it shorter (e.g. record a large search space or plan as a file with "
                "trace_artifact and name its digest instead)")
    return stage_note_prefix(kind, subject, scheme) + body


def stage_note_for(experiment_id: bytes, kind: int, detail: dict[str, Any],
                   scheme: int = JSON_SCHEME_V1) -> bytes | None:
    """The note the record_stage call of this stage carries, or None: kinds without one, a
    private plan, a detail too long for a note (a large plan or search space; a study's own
    records have bounded fields and always fit). Never raises: the writer calls it."""
    if kind not in NOTED_KINDS or (kind == _PLAN and "plan" not in detail):
        return None
    try:
        subject = parse_id(detail["study"]) if kind == _TRIAL_OF else experiment_id
        return encode_stage_note(kind, subject, detail, scheme)
    except (InputError, KeyError, TypeError):
        return None


def decode_stage_note(note: bytes) -> StageNote | None:
    """The stage note in `note`, or None when it is not one (another prefix, an unknown version,
    or a body that is not an object in the JSON scheme its version names: such a note proves
    nothing)."""
    if not note.startswith(STAGE_NOTE_PREFIX) or len(note) <= _HEAD:
        return None
    version, kind = note[len(STAGE_NOTE_PREFIX)], note[len(STAGE_NOTE_PREFIX) + 1]
    if version not in JSON_SCHEMES:
        return None
    subject, body = note[_HEAD - _ID_BYTES:_HEAD], note[_HEAD:]
    try:
        detail = json.loads(body)
    except ValueError:
        return None
    if not isinstance(detail, dict):
        return None
    try:
        if json_encoder(version)(detail) != body:
            return None
    except InputError:
        return None
    return StageNote(kind, subject, detail, body, version)
