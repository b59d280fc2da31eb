"""Core of scheme ``algotrace-hash/v1``: `Digest`, domain tags, `hash_bytes`, canonical JSON.

Private module: import from `algo_tracer.hashing`; names here carry no stability promise.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import rfc8785

from algo_tracer.errors import InputError

SCHEME = "algotrace-hash/v1"
#: The params schemes, named by their domain tag; a stage detail's ``scheme`` says which one.
#: v1: our own canonical JSON (`canonical_json`); v2: RFC 8785 (JCS, `jcs_json`).
PARAMS_SCHEME_V1 = "algotrace-hash/v1/params"
PARAMS_SCHEME_V2 = "algotrace-hash/v2/params"
PARAMS_SCHEMES = (PARAMS_SCHEME_V1, PARAMS_SCHEME_V2)
#: JSON schemes: how every JSON value an experiment hashes becomes bytes (docs/hashing.md §13).
#: One experiment uses one scheme for all of them; its manifest format names it.
#: v1: `canonical_json` under the ``algotrace/v1/...`` and ``algotrace-hash/v1/params`` tags;
#: v2: RFC 8785 (`jcs_json`) under ``algotrace/v2/...`` and ``algotrace-hash/v2/params``.
JSON_SCHEME_V1: Final = 1
JSON_SCHEME_V2: Final = 2
JSON_SCHEMES: Final = (JSON_SCHEME_V1, JSON_SCHEME_V2)
#: The JSON scheme behind each params scheme (the params tags predate the JSON schemes).
_PARAMS_JSON_SCHEME: Final = {PARAMS_SCHEME_V1: JSON_SCHEME_V1, PARAMS_SCHEME_V2: JSON_SCHEME_V2}
#: Domain tag of every decorated kind. Files have none: their digest is plain SHA-256.
DOMAIN_TAGS: Mapping[str, str] = types.MappingProxyType(
    {
        kind: f"{SCHEME}/{kind}"
        for kind in (
            "directory",
            "dataframe",
            "dataframe-column",
            "array",
            "params",
            "sklearn-model",
            "torch-state-dict",
        )
    }
)


@dataclass(frozen=True, slots=True)
class Digest:
    """A SHA-256 digest together with the kind of thing it was computed over.

    Equality compares both fields: a ``file`` digest never equals a ``params`` digest.
    """

    kind: str
    """What was hashed: ``file``, ``directory``, ``dataframe``, ``array``, ``params``, ... ."""
    value: bytes
    """The 32 raw digest bytes."""

    algorithm: ClassVar[str] = "sha256"

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise InputError(f"Digest kind must be a non-empty str, got {self.kind!r}")
        if not isinstance(self.value, bytes | bytearray) or len(self.value) != 32:
            raise InputError(
                f"a SHA-256 digest is 32 bytes, got {self.value!r:.80}",
                fix="pass hashlib.sha256(...).digest(), or use Digest.parse('sha256:<hex>')",
            )
        object.__setattr__(self, "value", bytes(self.value))

    @property
    def hex(self) -> str:
        """The digest as 64 lower-case hex characters."""
        return self.value.hex()

    def __str__(self) -> str:
        return f"sha256:{self.value.hex()}"

    def __repr__(self) -> str:
        return f"Digest(kind={self.kind!r}, sha256:{self.value.hex()})"

    @classmethod
    def parse(cls, text: str, kind: str = "unknown") -> Digest:
        """Read ``sha256:<64 hex>`` (the form `str` writes) back into a `Digest`.

        The text does not carry the kind; pass it (``kind="file"``) when the result is to be
        compared with a computed digest, because equality includes the kind.
        """
        algorithm, sep, hexpart = str(text).strip().partition(":")
        if sep != ":" or algorithm.lower() != "sha256":
            raise InputError(
                f"not a digest: {text!r:.100}",
                fix="digests are written 'sha256:' followed by 64 hex characters",
            )
        value = bytes.fromhex(hexpart) if re.fullmatch(r"[0-9a-fA-F]{64}", hexpart) else b""
        if len(value) != 32:
            raise InputError(
                f"digest {text!r:.100} does not have 64 hex characters after 'sha256:'",
                fix="copy the whole digest; it is 'sha256:' followed by 64 hex characters",
            )
        return cls(kind, value)


def _tagged(tag: str) -> Any:
    h = hashlib.sha256()
    h.update(tag.encode("ascii") + b"\x00")
    return h


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def _lp(data: bytes) -> bytes:
    """Length-prefixed bytes: u64 little-endian length, then the bytes."""
    return _u64(len(data)) + data


def hash_bytes(
    domain: str, data: bytes | bytearray | memoryview, *, kind: str | None = None
) -> Digest:
    """``SHA-256(ascii(domain) || 0x00 || data)``: the building block for tagged digests.

    Args:
        domain: The domain tag, printable ASCII without spaces, e.g. ``"algotrace/v1/manifest"``.
            Each use of a digest gets its own tag so that digests of different things cannot
            collide.
        data: The body bytes.
        kind: `Digest.kind` of the result; defaults to ``domain``.

    Returns:
        The tagged digest.

    Raises:
        InputError: If the domain is empty or not printable ASCII, or data is not bytes-like.
    """
    if not isinstance(domain, str) or not domain or not all("!" <= c <= "~" for c in domain):
        raise InputError(
            f"domain tag {domain!r:.80} must be non-empty printable ASCII without spaces",
            fix='use a tag like "algotrace/v1/<what>"',
        )
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(
            f"hash_bytes needs bytes, got {type(data).__name__}",
            fix="encode text first (s.encode('utf-8')) or use digest_of() for other objects",
        )
    h = _tagged(domain)
    h.update(data)
    return Digest(kind or domain, h.digest())


# --------------------------------------------------------------------------- canonical JSON


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as canonical JSON bytes (the params encoding of ``algotrace-hash/v1``).

    Rules: objects with keys sorted by their UTF-8 bytes, no whitespace, UTF-8 output with only
    the escapes JSON requires, integers in decimal, floats as Python ``repr`` (shortest
    round-trip, ``1.0`` stays ``1.0``), tuples as lists, numpy scalars converted to the Python
    value. NaN and infinities are rejected: JSON has no spelling for them.

    Args:
        obj: None, bool, int, float, str, list/tuple, Mapping with str keys (nested freely),
            or a numpy bool/integer/floating scalar.

    Returns:
        The UTF-8 bytes of the canonical text.

    Raises:
        InputError: For NaN/inf, non-str keys, circular references or unsupported types; the
            message names the location (``$.a[2]``) and the fix.
    """
    out: list[str] = []
    _emit_json(obj, out, "$", set())
    return "".join(out).encode("utf-8")


def _emit_json(v: Any, out: list[str], where: str, stack: set[int]) -> None:
    if v is None or v is True or v is False:
        out.append("null" if v is None else "true" if v else "false")
    elif isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"string at {where} is not valid Unicode (lone surrogate)",
                fix="clean the text, e.g. s.encode('utf-8', 'replace').decode()",
            ) from exc
        out.append(json.dumps(v, ensure_ascii=False))
    elif isinstance(v, bool):  # bool subclasses (rare)
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(_int_text(int(v), where))
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(
                f"{v!r} at {where} has no canonical JSON form",
                fix="encode it explicitly, e.g. as the string 'nan', 'inf' or '-inf', or None",
            )
        out.append(float.__repr__(float(v)))
    elif isinstance(v, Mapping | list | tuple):
        if id(v) in stack:
            raise InputError(f"circular reference at {where}", fix="break the cycle")
        stack.add(id(v))
        if isinstance(v, Mapping):
            bad = [k for k in v if not isinstance(k, str)]
            if bad:
                raise InputError(
                    f"key {bad[0]!r} at {where} is a {type(bad[0]).__name__}; "
                    "canonical JSON keys must be str",
                    fix="convert keys to str explicitly, e.g. {str(k): v for k, v in d.items()}",
                )
            out.append("{")
            for i, k in enumerate(sorted(v, key=lambda s: s.encode("utf-8", "surrogatepass"))):
                if i:
                    out.append(",")
                _emit_json(k, out, f"{where} key", stack)
                out.append(":")
                _emit_json(v[k], out, f"{where}.{k}", stack)
            out.append("}")
        else:
            out.append("[")
            for i, item in enumerate(v):
                if i:
                    out.append(",")
                _emit_json(item, out, f"{where}[{i}]", stack)
            out.append("]")
        stack.discard(id(v))
    else:
        np = sys.modules.get("numpy")
        if np is not None and isinstance(v, np.bool_ | np.integer | np.floating):
            _emit_json(v.item(), out, where, stack)
            return
        raise InputError(
            f"cannot encode {type(v).__module__}.{type(v).__qualname__} at {where} as canonical "
            "JSON (supported: None, bool, int, float, str, list, tuple, Mapping with str keys, "
            "numpy scalars)",
            fix="convert it to one of these first (e.g. str(path), list(a_set), dt.isoformat())",
        )


def _int_text(v: int, where: str) -> str:
    try:
        return int.__repr__(v)
    except ValueError as exc:  # beyond sys.get_int_max_str_digits()
        raise InputError(
            f"integer at {where} is too large to encode", fix="store it as a string"
        ) from exc


def jcs_json(obj: Any) -> bytes:
    """Encode ``obj`` as RFC 8785 (JSON Canonicalization Scheme) bytes: params scheme v2.

    The values accepted are those of `canonical_json` (same refusals, same messages: NaN and
    infinities included, since JCS cannot spell them either), and integers must lie within
    ±(2**53 - 1), where JCS numbers (IEEE doubles) are exact. The text is the `rfc8785`
    package's: numbers as ECMAScript writes them (``1.0`` -> ``1``, ``1e-05`` -> ``0.00001``,
    ``-0.0`` -> ``0``), keys sorted by UTF-16 code units.

    Raises:
        InputError: For what `canonical_json` refuses, and integers beyond ±(2**53 - 1).
    """
    # v1's walk first: it checks types, keys and cycles and names the location of a bad value;
    # its output parses back to plain Python values exactly (floats are shortest round-trip).
    plain = json.loads(canonical_json(obj))
    try:
        return rfc8785.dumps(plain)
    except rfc8785.IntegerDomainError as exc:
        raise InputError(
            f"{exc}: RFC 8785 numbers are IEEE doubles, exact only within ±(2**53 - 1)",
            fix="store such an integer as a string (str(n))",
        ) from None


def hash_params(params: Any, scheme: str = PARAMS_SCHEME_V1) -> Digest:
    """Digest of parameters: ``SHA-256(scheme || 0x00 || encoding(params))``.

    Args:
        params: Anything `canonical_json` accepts, usually a Mapping.
        scheme: `PARAMS_SCHEME_V1` (the default, so digests of existing records never change):
            `canonical_json`, where ``1`` != ``1.0``; or `PARAMS_SCHEME_V2`: RFC 8785
            (`jcs_json`), which any JCS library reproduces, and where ``1`` == ``1.0``.

    Returns:
        A ``params`` digest; key order does not matter.

    Raises:
        InputError: See `canonical_json` / `jcs_json`; an unknown scheme.
    """
    if scheme not in _PARAMS_JSON_SCHEME:
        raise InputError(
            f"unknown params scheme {scheme!r:.80}",
            fix=f"use one of {', '.join(PARAMS_SCHEMES)} (a newer algo-tracer may know it)",
        )
    return hash_bytes(scheme, json_encoder(_PARAMS_JSON_SCHEME[scheme])(params), kind="params")


# --------------------------------------------------------------------------- JSON schemes


def json_encoder(scheme: int) -> Callable[[Any], bytes]:
    """The canonicaliser of JSON scheme `scheme`: the one map from a scheme to its encoding,
    used by every digest of a JSON value (params, snapshots, metadata, manifests, notes).

    Raises:
        InputError: For a scheme this algo-tracer does not know.
    """
    if scheme == JSON_SCHEME_V1:
        return canonical_json
    if scheme == JSON_SCHEME_V2:
        return jcs_json
    raise InputError(
        f"unknown JSON scheme {scheme!r:.40}",
        fix=f"use one of {', '.join(map(str, JSON_SCHEMES))} (a newer algo-tracer may know it)",
    )


def json_tag(name: str, scheme: int) -> str:
    """The domain tag of a JSON digest named `name` under `scheme`: ``algotrace/v<scheme>/<name>``
    (``algotrace/v1/seed``, ``algotrace/v2/seed``), so the two schemes never share a preimage."""
    json_encoder(scheme)  # refuses an unknown scheme
    return f"algotrace/v{scheme}/{name}"


def params_scheme(scheme: int) -> str:
    """The params scheme (a stage detail's ``scheme``) of JSON scheme `scheme`."""
    json_encoder(scheme)
    return next(p for p, j in _PARAMS_JSON_SCHEME.items() if j == scheme)


def hash_json(name: str, value: Any, scheme: int, *, salt: bytes = b"",
              kind: str | None = None) -> Digest:
    """``H(json_tag(name, scheme), salt || encoding(value))``: the digest of a JSON value.

    Args:
        name: What is hashed (``seed``, ``environment``, ``code``, ``metadata``, ``plan``, ...).
        value: Anything `canonical_json` accepts.
        scheme: `JSON_SCHEME_V1` or `JSON_SCHEME_V2`.
        salt: Bytes before the encoding (a plan's salt); none by default.
        kind: `Digest.kind` of the result; defaults to `name`.

    Raises:
        InputError: An unknown scheme, or a value the scheme cannot encode.
    """
    return hash_bytes(json_tag(name, scheme), salt + json_encoder(scheme)(value),
                      kind=kind or name)
