"""in-toto attestations of an experiment: the Statement, its DSSE envelope and its signature.

The statement (in-toto Statement v1) names the experiment's artifacts as subjects and carries the
on-chain provenance as its predicate (`PREDICATE_TYPE`, docs/interop.md). The envelope (DSSE v1)
is signed with the recorder's Algorand ed25519 key over DSSE's pre-authentication encoding
(`pae`), which starts with ``DSSEv1 ``: no Algorand signing domain (``TX``, ``TG``, ``MX``,
``Program``, ``ProgData``, ... go-algorand protocol/hash.go) starts with ``D``, so the signature
can never be a valid transaction, group, logic-signature or message signature (docs/interop.md).

Pure code: building, signing and checking bytes; the claims are checked against the chain by
`algo_tracer.verify.attestation`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.signing
from algosdk import encoding
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algo_tracer.documents.atomic import write_text_atomic
from algo_tracer.errors import InputError, describe_validation, shorten

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Envelope",
    "EnvelopeSignature",
    "pae",
    "sign_statement",
    "signature_problem",
    "statement_of",
]

STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
#: Our predicate type: SLSA provenance describes a build (a builder running a build definition),
#: not a sequence of commitments on a chain, so the record gets its own documented type.
PREDICATE_TYPE: Final = "https://algo-tracer.dev/attestation/algorand-provenance/v1"
_FIX = "give the att.json written by `algo-tracer export EXPERIMENT --format in-toto -o att.json`"


class EnvelopeSignature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keyid: str = Field(default="", description="the signer's Algorand address")
    sig: str = Field(description="base64 ed25519 signature over PAE(payloadType, payload)")


class Envelope(BaseModel):
    """A DSSE v1 envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    payload: str = Field(description="base64 of the statement's JSON bytes")
    payload_type: str = Field(alias="payloadType")
    signatures: list[EnvelopeSignature] = Field(default_factory=list)

    def payload_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.payload, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("the attestation's payload is not base64", fix=_FIX) from None

    def write(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.model_dump_json(by_alias=True, indent=2) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Envelope:
        """Read an envelope; InputError (exit 2) for a missing, non-JSON or non-DSSE file."""
        where = shorten(str(path))
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"attestation {where} does not exist", fix=_FIX) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read attestation {where}: {exc}", fix=_FIX) from None
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InputError(f"{where} is not a DSSE envelope: "
                             f"{describe_validation(exc.errors(), limit=2)}", fix=_FIX) from None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is signed, never the payload alone."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_statement(statement: dict[str, Any], private_key: str) -> Envelope:
    """Wrap `statement` in a DSSE envelope signed with an Algorand account's key.

    Args:
        statement: The in-toto statement (JSON-able).
        private_key: The account's key as algosdk writes it (base64 of seed ‖ public key). It is
            used here and nowhere else; it is never printed, logged or written.

    Returns:
        The envelope; its one signature's ``keyid`` is the account's address.
    """
    raw = base64.b64decode(private_key)
    key = nacl.signing.SigningKey(raw[:32])
    address = encoding.encode_address(bytes(key.verify_key))
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    sig = key.sign(pae(PAYLOAD_TYPE, payload)).signature
    return Envelope(payload=base64.b64encode(payload).decode(), payloadType=PAYLOAD_TYPE,
                    signatures=[EnvelopeSignature(keyid=address,
                                                  sig=base64.b64encode(sig).decode())])


def signature_problem(envelope: Envelope, address: str) -> str | None:
    """None when some signature of the envelope verifies under `address`'s ed25519 key over
    ``PAE(payloadType, payload)``; else what is wrong (stripped, another key, or edited)."""
    if not envelope.signatures:
        return "the envelope has no signature (stripped?)"
    verify_key = nacl.signing.VerifyKey(encoding.decode_address(address))
    message = pae(envelope.payload_type, envelope.payload_bytes())
    for signature in envelope.signatures:
        try:
            verify_key.verify(message, base64.b64decode(signature.sig, validate=True))
            return None
        except (nacl.exceptions.BadSignatureError, binascii.Error, ValueError):
            continue
    keyids = ", ".join(sorted({s.keyid or "(no keyid)" for s in envelope.signatures}))
    return (f"no signature verifies under the recorder's key {address} (signed by {keyids}): "
            "the statement was edited after signing, or signed with another key")


def statement_of(envelope: Envelope) -> dict[str, Any]:
    """The statement inside the envelope, checked to be an in-toto Statement v1 of our predicate
    type (InputError otherwise: a foreign or malformed attestation, not a finding)."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InputError(f"the envelope's payloadType is {shorten(envelope.payload_type)!r}, "
                         f"not {PAYLOAD_TYPE!r}", fix=_FIX)
    try:
        statement = json.loads(envelope.payload_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("the attestation's payload is not JSON", fix=_FIX) from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise InputError(f"the payload is not an in-toto Statement v1 ({STATEMENT_TYPE})",
                         fix=_FIX)
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise InputError(f"predicate type {shorten(str(statement.get('predicateType')))!r} is "
                         f"not algo-tracer's ({PREDICATE_TYPE})",
                         fix="verify other predicates with the tools that made them; " + _FIX)
    if not isinstance(statement.get("predicate"), dict) or not isinstance(
            statement.get("subject"), list):
        raise InputError("the statement has no predicate object or no subject list", fix=_FIX)
    return statement
