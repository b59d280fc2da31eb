"""Experiment ids: 32 bytes derived client-side, shown to people in base58 (and app ids' text).

    id = SHA-256("algotrace/v1/experiment-id" || 0x00 || owner public key || UTF-8 name || 0x00
                 || 16 random bytes)

The random salt makes every run a new id even for the same name and owner, and binds the owner
and name into it. The printable form is base58 (Bitcoin alphabet: no 0/O/I/l), 43-44 characters,
selectable with a double click; 64 hex characters are accepted as well. The codec is the `base58`
package's (leading zero bytes are '1's, as in Bitcoin); this module adds only our id's rules: 32
bytes, and errors that name the bad characters.

`parse_app_id` is the one rule for the text of an application id (command line, environment).
"""

from __future__ import annotations

import os
import re

import base58

from algo_tracer.errors import InputError, shorten
from algo_tracer.hashing import hash_bytes

ID_DOMAIN = "algotrace/v1/experiment-id"
_ALPHABET = frozenset(base58.BITCOIN_ALPHABET.decode())
MAX_APP_ID = 2**64 - 1


def parse_app_id(text: str) -> int:
    """An application id from its decimal text: a whole number from 1 to 2**64-1.

    Raises:
        InputError: anything else (negative, zero, too big, not digits), before any node sees it.
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_APP_ID):
        raise InputError(f"{shorten(repr(text))} is not an application id (a whole number "
                         f"from 1 to {MAX_APP_ID})", fix="give the registry's app id, as "
                         "printed by `algo-tracer deploy`")
    return int(text)


def new_experiment_id(owner_public_key: bytes, name: str, *, salt: bytes | None = None) -> bytes:
    salt = os.urandom(16) if salt is None else salt
    return hash_bytes(ID_DOMAIN, owner_public_key + name.encode() + b"\0" + salt).value


def format_id(experiment_id: bytes) -> str:
    """Base58 text of a 32-byte id (leading zero bytes become '1's, as in Bitcoin)."""
    return base58.b58encode(experiment_id).decode("ascii")


def parse_id(text: str) -> bytes:
    """The 32-byte id from its base58 or hex text; InputError naming what is wrong otherwise."""
    text = text.strip()
    if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text.removeprefix("0x"))
    bad = sorted({c for c in text if c not in _ALPHABET})
    if not text or bad:
        raise InputError(
            f"experiment id {shorten(repr(text))} is not base58"
            + (f" (bad characters: {shorten(''.join(bad))})" if bad else ""),
            fix="copy the id as printed by algo-tracer (43-44 base58 characters) or give the "
            "64-character hex form")
    raw = base58.b58decode(text)  # every character was checked above: it cannot raise
    if len(raw) != 32:
        raise InputError(f"experiment id {shorten(repr(text))} decodes to {len(raw)} bytes, not 32",
                         fix="check the id was copied whole")
    return raw
