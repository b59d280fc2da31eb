"""numpy arrays, object values and pandas DataFrames (numpy and pandas are imported lazily).

Private module: import from `algo_tracer.hashing`; names here carry no stability promise.
"""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Iterator
from typing import Any

from algo_tracer.errors import InputError
from algo_tracer.hashing._core import (
    DOMAIN_TAGS,
    SCHEME,
    Digest,
    _int_text,
    _lp,
    _tagged,
    _u64,
    canonical_json,
)

_ARRAY_CHUNK_BYTES = 1 << 22
_QNAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
_MASKED_DTYPES = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    | {"Float32", "Float64", "boolean"}
)


# --------------------------------------------------------------------------- arrays


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "numpy is needed to hash arrays and tables", fix="pip install 'algo-tracer[data]'"
        ) from exc
    return numpy


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "pandas is needed to hash DataFrames", fix="pip install 'algo-tracer[data]'"
        ) from exc
    return pandas


def _header(h: Any, dtype: str, shape: tuple[int, ...]) -> None:
    h.update(_lp(dtype.encode("utf-8")) + _u64(len(shape)) + b"".join(_u64(d) for d in shape))


def _c_order_chunks(a: Any) -> Iterator[Any]:
    """Contiguous 1-D pieces of ``a`` in C order, each at most ~4 MiB unless a row is larger."""
    np = _numpy()
    if a.ndim == 0:
        yield np.ascontiguousarray(a).reshape(1)
        return
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
        step = max(1, _ARRAY_CHUNK_BYTES // max(1, a.itemsize))
        for i in range(0, flat.size, step):
            yield flat[i : i + step]
        return
    row = math.prod(a.shape[1:])
    rows = _ARRAY_CHUNK_BYTES // max(1, row * a.itemsize)
    if rows >= 1 or a.ndim == 1:
        for i in range(0, a.shape[0], max(1, rows)):
            yield np.ascontiguousarray(a[i : i + max(1, rows)]).reshape(-1)
    else:
        for i in range(a.shape[0]):
            yield from _c_order_chunks(a[i])


def _canonical_chunk(c: Any) -> Any:
    """Little-endian bytes of one contiguous chunk, NaNs made canonical, bools made 0/1."""
    np = _numpy()
    if c.dtype.byteorder == ">" or (c.dtype.byteorder == "=" and sys.byteorder == "big"):
        c = c.astype(c.dtype.newbyteorder("<"))
    kind = c.dtype.kind
    if kind in "fc":
        part = c.view(np.dtype(f"<f{c.itemsize // (2 if kind == 'c' else 1)}"))
        nan = np.isnan(part)
        if nan.any():
            part = part.copy()
            part.view(np.dtype(f"<u{part.itemsize}"))[nan] = _QNAN_BITS[part.itemsize]
            c = part
    elif kind == "b":
        u = c.view(np.uint8)
        if (u > 1).any():
            c = u != 0
    return c.view(np.uint8)


def _array_dtype(a: Any, where: str) -> str:
    dt = a.dtype
    kind = dt.kind
    bad_float = (kind == "f" and dt.itemsize not in (2, 4, 8)) or (
        kind == "c" and dt.itemsize not in (8, 16)
    )
    if kind not in "biufcmMUSO" or bad_float or dt.fields is not None:
        raise InputError(
            f"{where}: dtype {dt} has no canonical byte form in {SCHEME} "
            "(structured, void, extended-precision and StringDType arrays are not supported)",
            fix="convert it first, e.g. a.astype('float64'), a.astype(object), or hash each field "
            "of a structured array separately",
        )
    return "|O" if kind == "O" else dt.newbyteorder("<").str


def _write_ndarray(h: Any, a: Any, where: str) -> None:
    np = _numpy()
    if isinstance(a, np.ma.MaskedArray):
        raise InputError(
            f"{where}: masked arrays carry a mask that plain array hashing would drop",
            fix="hash a.filled(value) and a.mask separately (or a.data if the mask is irrelevant)",
        )
    dtype = _array_dtype(a, where)
    _header(h, dtype, tuple(int(d) for d in a.shape))
    if dtype == "|O":
        _write_objects(h, np.asarray(a).reshape(-1), None, where)
        return
    for chunk in _c_order_chunks(np.asarray(a)):
        h.update(_canonical_chunk(chunk))


def hash_array(array: Any) -> Digest:
    """Digest of a numpy array: dtype (little-endian typestr), shape, C-order bytes.

    ``SHA-256("algotrace-hash/v1/array" || 0x00 || str(dtype) || u64(ndim) || u64(dim)... ||
    data)``. Memory layout (C/Fortran order, strides, byte order) does not change the digest;
    NaNs are hashed as the canonical quiet NaN. Object arrays use the tagged-value encoding.

    Raises:
        InputError: For structured/void, extended-precision, StringDType and masked arrays.
    """
    np = _numpy()
    if not isinstance(array, np.ndarray):
        raise InputError(f"hash_array needs a numpy ndarray, got {type(array).__name__}")
    h = _tagged(DOMAIN_TAGS["array"])
    _write_ndarray(h, array, "array")
    return Digest("array", h.digest())


# --------------------------------------------------------------------------- object values

_TAG_NULL, _TAG_STR, _TAG_BYTES, _TAG_BOOL, _TAG_INT, _TAG_FLOAT = range(6)


def _is_null(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return v != v
    t = type(v)
    if t.__name__ in ("NAType", "NaTType") and t.__module__.startswith("pandas"):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(v, np.floating) and bool(np.isnan(v))


def _bad_text(where: str, position: int) -> InputError:
    return InputError(
        f"{where}: the string at row position {position} is not valid Unicode (lone surrogate)",
        fix="clean the column, e.g. col.str.encode('utf-8', 'replace').str.decode('utf-8')",
    )


def _write_objects(h: Any, values: Any, mask: Any, where: str) -> None:
    """Tagged values: tags u8[n] || lengths u64le[n] || concatenated bodies."""
    np = _numpy()
    n = len(values)
    pd = sys.modules.get("pandas")
    if (
        pd is not None
        and n
        and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    ):
        if mask is None:
            mask = np.asarray(pd.isna(values), dtype=bool)
        if all(_is_null(v) for v in values[mask]):
            strs = values[~mask] if mask.any() else values
            joined = "".join(strs)
            if joined.isascii():
                body = joined.encode("ascii")
                sizes = np.fromiter(map(len, strs), dtype="<u8", count=len(strs))
            else:
                try:
                    encoded = [s.encode("utf-8") for s in strs]
                except UnicodeEncodeError:
                    bad = next(
                        i for i, s in enumerate(values) if isinstance(s, str) and not _valid_utf8(s)
                    )
                    raise _bad_text(where, bad) from None
                body = b"".join(encoded)
                sizes = np.fromiter(map(len, encoded), dtype="<u8", count=len(encoded))
            lengths = np.zeros(n, dtype="<u8")
            lengths[~mask] = sizes
            h.update((~mask).astype(np.uint8))
            h.update(lengths)
            h.update(body)
            return
    tags = bytearray(n)
    lengths = np.zeros(n, dtype="<u8")
    parts: list[bytes] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            if not _valid_utf8(v):
                raise _bad_text(where, i)
            tag, b = _TAG_STR, v.encode("utf-8")
        elif _is_null(v):
            continue  # tag 0, length 0, no body
        elif isinstance(v, bool) or (np is not None and isinstance(v, np.bool_)):
            tag, b = _TAG_BOOL, b"\x01" if v else b"\x00"
        elif isinstance(v, int | np.integer):
            tag, b = _TAG_INT, _int_text(int(v), where).encode("ascii")
        elif isinstance(v, float | np.floating):
            tag, b = _TAG_FLOAT, struct.pack("<d", float(v))
        elif isinstance(v, bytes | bytearray | memoryview):
            tag, b = _TAG_BYTES, bytes(v)
        else:
            raise InputError(
                f"{where}: value {v!r:.60} of type {type(v).__module__}.{type(v).__qualname__} "
                f"at row position {i} has no canonical encoding (supported in object columns: "
                "str, bytes, bool, int, float and missing values)",
                fix="convert the column to a typed dtype first, e.g. pd.to_datetime(col), "
                "col.astype('string') or col.astype('float64')",
            )
        tags[i] = tag
        lengths[i] = len(b)
        parts.append(b)
    h.update(tags)
    h.update(lengths)
    h.update(b"".join(parts))


def _valid_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- DataFrames


def _tz_name(tz: Any, where: str) -> str:
    import datetime

    for attr in ("key", "zone"):  # zoneinfo.ZoneInfo, pytz
        name = getattr(tz, attr, None)
        if isinstance(name, str) and name:
            return name
    if isinstance(tz, datetime.timezone):
        return str(tz)  # "UTC" or "UTC+01:00"
    raise InputError(
        f"{where}: time zone {tz!r} has no canonical name",
        fix="convert to an IANA zone, e.g. col.dt.tz_convert('Europe/Berlin') or 'UTC'",
    )


def _write_column_values(h: Any, values: Any, where: str) -> None:
    """Write ``dtype || shape || payload`` of a Series, Index or pandas/numpy 1-D array."""
    np, pd = _numpy(), _pandas()
    if isinstance(values, np.ndarray):
        _write_ndarray(h, values, where)
        return
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        _write_ndarray(h, np.asarray(values), where)
        return
    arr = values.array if isinstance(values, pd.Series | pd.Index) else values
    n = len(arr)
    if isinstance(dtype, pd.CategoricalDtype):
        _header(h, "pandas:category[ordered]" if dtype.ordered else "pandas:category", (n,))
        _write_column_values(h, dtype.categories, f"{where} categories")
        h.update(np.ascontiguousarray(arr.codes, dtype="<i4"))
    elif isinstance(dtype, pd.DatetimeTZDtype):
        _header(h, f"pandas:datetime64[{dtype.unit}, {_tz_name(dtype.tz, where)}]", (n,))
        h.update(np.ascontiguousarray(arr.asi8, dtype="<i8"))
    elif isinstance(dtype, pd.StringDtype):
        _header(h, "pandas:string" if dtype.na_value is pd.NA else "pandas:str", (n,))
        mask = np.asarray(arr.isna(), dtype=bool)
        _write_objects(h, arr.to_numpy(dtype=object, na_value=None), mask, where)
    elif dtype.name in _MASKED_DTYPES:
        _header(h, f"pandas:{dtype.name}", (n,))
        mask = np.asarray(arr.isna(), dtype=bool)
        h.update(mask.view(np.uint8))
        zero = False if dtype.name == "boolean" else 0
        for chunk in _c_order_chunks(arr.to_numpy(dtype=dtype.numpy_dtype, na_value=zero)):
            h.update(_canonical_chunk(chunk))
    else:
        raise InputError(
            f"{where}: dtype {dtype} has no canonical encoding in {SCHEME} (supported: numpy "
            "dtypes, nullable Int/UInt/Float/boolean, string/str, category, tz-aware datetime)",
            fix="convert the column first, e.g. col.astype(str), col.sparse.to_dense(), or "
            "col.astype('int64') for pyarrow-backed columns",
        )


def _frame_columns(df: Any) -> list[tuple[bytes, Any, Digest]]:
    pd = _pandas()
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            f"expected a pandas DataFrame, got {type(df).__name__}",
            fix="wrap a Series with series.to_frame()",
        )
    out = []
    names: dict[bytes, Any] = {}
    for i, label in enumerate(df.columns):
        try:
            name = canonical_json(label)
        except InputError as exc:
            raise InputError(
                f"column label {label!r} cannot be encoded canonically ({exc.message})",
                fix="rename the columns to strings, e.g. df.columns = df.columns.map(str)",
            ) from exc
        if name in names:
            raise InputError(
                f"duplicate column label {label!r}: an order-free digest needs unique labels",
                fix="rename or drop the duplicates, e.g. df.loc[:, ~df.columns.duplicated()]",
            )
        names[name] = label
        h = _tagged(DOMAIN_TAGS["dataframe-column"])
        h.update(_lp(name))
        _write_column_values(h, df.iloc[:, i], f"column {label!r}")
        out.append((name, label, Digest("dataframe-column", h.digest())))
    out.sort(key=lambda item: item[0])
    return out


def dataframe_column_digests(df: Any) -> dict[Any, Digest]:
    """Per-column digests of a DataFrame, keyed by column label (to say *which* column changed)."""
    return {label: d for _, label, d in _frame_columns(df)}


def hash_dataframe(df: Any) -> Digest:
    """Digest of a pandas DataFrame: column digests sorted by encoded name, plus the row count.

    Independent of column order and of the index (call ``df.reset_index()`` first if the index
    holds data); sensitive to row order, values, dtypes and column names. Cryptographic all the
    way: each column's name, dtype, length and canonical bytes go through SHA-256.

    Raises:
        InputError: For duplicate or non-encodable column labels, unsupported dtypes and object
            columns holding values other than str/bytes/bool/int/float/missing; the message
            names the column.
    """
    columns = _frame_columns(df)
    h = _tagged(DOMAIN_TAGS["dataframe"])
    h.update(_u64(len(df)) + _u64(len(columns)))
    for _, _, d in columns:
        h.update(d.value)
    return Digest("dataframe", h.digest())
