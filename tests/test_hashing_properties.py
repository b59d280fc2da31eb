"""Property-based tests of algo_tracer.hashing: invariances hold and every single change is seen."""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algo_tracer.hashing import (
    canonical_json,
    hash_array,
    hash_bytes,
    hash_dataframe,
    hash_directory,
    hash_file,
    hash_params,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- DataFrames

INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=6)
COLUMN_KINDS: dict[str, Any] = {
    "int64": INT64,
    "int32": st.integers(-(2**31), 2**31 - 1),
    "float64": st.floats(),
    "bool": st.booleans(),
    "object": st.one_of(st.none(), TEXT),
    "string": st.one_of(st.none(), TEXT),
    "Int64": st.one_of(st.none(), INT64),
    "category": st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    "datetime64[ns]": st.integers(-(2**63), 2**63 - 1),  # -2**63 is NaT
}


def _column(kind: str, values: list[Any]) -> pd.Series:
    if kind == "category":
        return pd.Series(pd.Categorical(values, categories=["a", "b", "c"]))
    if kind == "datetime64[ns]":
        return pd.Series(np.array(values, dtype=np.int64).view("M8[ns]"))
    if kind == "object":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return pd.Series(arr, dtype=object)
    return pd.Series(values, dtype=kind)


@st.composite
def frames(draw: Any, min_rows: int = 0) -> tuple[pd.DataFrame, list[tuple[str, str, list[Any]]]]:
    n_rows = draw(st.integers(min_rows, 6))
    names = draw(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=5, unique=True))
    columns = []
    for name in names:
        kind = draw(st.sampled_from(sorted(COLUMN_KINDS)))
        values = draw(st.lists(COLUMN_KINDS[kind], min_size=n_rows, max_size=n_rows))
        columns.append((name, kind, values))
    df = pd.DataFrame({name: _column(kind, values) for name, kind, values in columns})
    return df, columns


def _same_cell(kind: str, a: Any, b: Any) -> bool:
    """Equal under the scheme: one null marker, floats compared bit for bit except NaN."""
    if kind == "float64":
        if math.isnan(a) and math.isnan(b):
            return True
        return struct.pack("<d", a) == struct.pack("<d", b)
    return type(a) is type(b) and a == b


@SETTINGS
@given(data=st.data())
def test_permuting_columns_never_changes_the_digest(data: Any) -> None:
    df, _ = data.draw(frames())
    order = data.draw(st.permutations(list(df.columns)))
    assert hash_dataframe(df[order]) == hash_dataframe(df)


@SETTINGS
@given(data=st.data())
def test_the_index_never_changes_the_digest(data: Any) -> None:
    df, _ = data.draw(frames())
    labels = data.draw(st.lists(st.integers(), min_size=len(df), max_size=len(df)))
    assert hash_dataframe(df.set_axis(labels)) == hash_dataframe(df)


@SETTINGS
@given(data=st.data())
def test_any_single_cell_change_changes_the_digest(data: Any) -> None:
    df, columns = data.draw(frames(min_rows=1))
    col = data.draw(st.integers(0, len(columns) - 1))
    name, kind, values = columns[col]
    row = data.draw(st.integers(0, len(values) - 1))
    new = data.draw(COLUMN_KINDS[kind])
    assume(not _same_cell(kind, values[row], new))
    changed = list(values)
    changed[row] = new
    other = df.copy()
    other[name] = _column(kind, changed)
    assert hash_dataframe(other) != hash_dataframe(df)


@SETTINGS
@given(data=st.data())
def test_swapping_two_different_rows_changes_the_digest(data: Any) -> None:
    df, columns = data.draw(frames(min_rows=2))
    i, j = data.draw(st.lists(st.integers(0, len(df) - 1), min_size=2, max_size=2, unique=True))
    assume(any(not _same_cell(kind, v[i], v[j]) for _, kind, v in columns))
    order = list(range(len(df)))
    order[i], order[j] = order[j], order[i]
    assert hash_dataframe(df.iloc[order]) != hash_dataframe(df)


# --------------------------------------------------------------------------- bytes and files


@SETTINGS
@given(content=st.binary(min_size=1, max_size=5000), data=st.data())
def test_any_single_byte_change_changes_file_and_tagged_digests(content: bytes, data: Any) -> None:
    position = data.draw(st.integers(0, len(content) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(content)
    changed[position] ^= flip
    assert hash_file(io.BytesIO(content)).value == hashlib.sha256(content).digest()
    assert hash_file(io.BytesIO(bytes(changed))) != hash_file(io.BytesIO(content))
    assert hash_bytes("t/x", bytes(changed)) != hash_bytes("t/x", content)


@SETTINGS
@given(content=st.binary(max_size=20_000), chunk_size=st.integers(1, 70_000))
def test_the_chunk_size_never_changes_a_file_digest(content: bytes, chunk_size: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f"
        path.write_bytes(content)
        assert hash_file(path, chunk_size=chunk_size).value == hashlib.sha256(content).digest()


NAMES = st.text(alphabet="abcxyz\u00e9_ .", min_size=1, max_size=5).filter(
    lambda s: s not in (".", "..")
)


@settings(max_examples=25, deadline=None)
@given(
    files=st.dictionaries(
        st.lists(NAMES, min_size=1, max_size=3).map(tuple),
        st.binary(max_size=40),
        min_size=1,
        max_size=8,
    ),
    data=st.data(),
)
def test_directory_digest_does_not_depend_on_creation_order(
    files: dict[tuple[str, ...], bytes], data: Any
) -> None:
    # a path cannot be both a file and a directory: drop entries that are prefixes of others
    files = {p: c for p, c in files.items() if not any(q[: len(p)] == p and q != p for q in files)}
    order = data.draw(st.permutations(sorted(files)))
    with tempfile.TemporaryDirectory() as d:
        digests = []
        for name, paths in (("one", sorted(files)), ("two", order)):
            for parts in paths:
                path = Path(d, name, *parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[parts])
            digests.append(
                hash_directory(Path(d, name), workers=data.draw(st.integers(1, 4))).digest
            )
    assert digests[0] == digests[1]


# --------------------------------------------------------------------------- params

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def _shuffled(value: Any, rnd: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


@SETTINGS
@given(
    params=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=6),
    rnd=st.randoms(use_true_random=False),
)
def test_params_key_order_is_irrelevant(params: dict[str, Any], rnd: Any) -> None:
    assert hash_params(_shuffled(params, rnd)) == hash_params(params)


@SETTINGS
@given(value=JSON_VALUES)
def test_canonical_json_is_sorted_compact_stdlib_json_and_round_trips(value: Any) -> None:
    text = canonical_json(value)
    reference = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    assert text == reference.encode("utf-8")
    assert json.loads(text) == value


def _shortest_digits(x: float) -> tuple[str, int]:
    """Fewest significant digits that read back as ``x``: the closest, then the even one."""
    exact = Decimal(x)
    for n in range(1, 18):
        mantissa, exp = f"{x:.{n - 1}e}".split("e")
        scale = int(exp) - (n - 1)
        nearest = int(mantissa.replace(".", ""))
        fits = [
            c for c in (nearest - 1, nearest, nearest + 1) if c > 0 and float(f"{c}e{scale}") == x
        ]
        if fits:
            best = min(fits, key=lambda c: (abs(Decimal(c).scaleb(scale) - exact), c % 2))
            digits = str(best)
            return digits.rstrip("0") or "0", scale + len(digits)
    raise AssertionError(x)


def _documented_float_format(x: float) -> str:
    """docs/hashing.md section 4, written from the text (not from repr)."""
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    x = abs(x)
    if x == 0:
        return sign + "0.0"
    digits, p = _shortest_digits(x)  # x ~ 0.d1d2... * 10**p
    k = len(digits)
    if -4 < p <= 16:
        if p <= 0:
            return sign + "0." + "0" * (-p) + digits
        if p >= k:
            return sign + digits + "0" * (p - k) + ".0"
        return sign + digits[:p] + "." + digits[p:]
    e = p - 1
    body = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + body + ("e-" if e < 0 else "e+") + f"{abs(e):02d}"


@settings(max_examples=500, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_float_encoding_follows_the_documented_algorithm(x: float) -> None:
    assert canonical_json(x).decode() == _documented_float_format(x)


# --------------------------------------------------------------------------- arrays

ARRAY_DTYPES = st.sampled_from(
    ["<i8", "<i4", "|u1", "<u2", "<f8", "<f4", "<f2", "<c16", "|b1", "<M8[us]", "<U3", "|S2"]
)


@st.composite
def arrays(draw: Any) -> np.ndarray:
    dtype = np.dtype(draw(ARRAY_DTYPES))
    return draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))


@SETTINGS
@given(a=arrays())
def test_array_digest_does_not_depend_on_memory_order_or_byte_order(a: np.ndarray) -> None:
    expected = hash_array(a)
    assert hash_array(np.array(a, order="F")) == expected
    assert hash_array(a.astype(a.dtype.newbyteorder(">"))) == expected
    if a.ndim >= 2:
        assert hash_array(np.ascontiguousarray(a.T).T) == expected


@SETTINGS
@given(a=arrays(), data=st.data())
def test_any_single_element_change_changes_the_array_digest(a: np.ndarray, data: Any) -> None:
    assume(a.size > 0)
    i = data.draw(st.integers(0, a.size - 1))
    flat = a.reshape(-1).copy()
    new = data.draw(hnp.from_dtype(a.dtype))
    old_bytes, new_bytes = flat[i : i + 1].tobytes(), np.array([new], dtype=a.dtype).tobytes()
    if a.dtype.kind in "fc":
        assume(not (np.isnan(flat[i]).any() and np.isnan(new).any()))
    assume(old_bytes != new_bytes)
    flat[i] = new
    assert hash_array(flat.reshape(a.shape)) != hash_array(a)
