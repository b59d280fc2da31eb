"""Known-answer vectors for algotrace-hash/v1: input cases, how to build them, the generator.

Every input is described in plain JSON so that another implementation (JavaScript, Go, ...) can
rebuild it without Python:

* ``file``: ``content_utf8`` | ``content_hex`` | ``pattern_hex`` repeated ``repeat`` times.
* ``hash_bytes``: ``domain`` and ``data_hex``.
* ``directory``: ``entries``; each has a ``path`` (``/``-separated) and one of ``content_utf8``,
  ``content_hex``, ``symlink`` (the link text) or ``dir: true`` (an empty directory), plus
  ``ignore`` patterns and ``default_ignore``.
* ``params``: ``json``, a JSON text. Read it so that ``1`` stays an integer and ``1.0`` a float,
  as Python's ``json.loads`` does.
* ``array``: ``dtype`` (a numpy type string), ``shape``, and either ``values`` (flat, in C order;
  floats may be "NaN"/"Infinity"/"-Infinity") or ``data_hex`` (the raw element bytes as stored,
  in the given byte order). ``order: "F"`` asks for a Fortran-ordered copy, which must not
  change the digest.
* ``dataframe``: ``columns``, a list of {``name``: the label as JSON, ``dtype``: the pandas dtype
  name, ``values``: a JSON list with null for missing, and for categoricals ``categories`` and
  ``ordered``}. In object columns, ``{"bytes_hex": ".."}`` stands for a bytes value.

Regenerate (only when the scheme version changes) with
``.venv/bin/python tests/vectors/hashing_v1_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("hashing-v1.json")

FILE_CASES: list[dict[str, Any]] = [
    {"name": "file-empty", "input": {"content_hex": ""}},
    {"name": "file-abc", "input": {"content_utf8": "abc"}},
    {"name": "file-text-utf8", "input": {"content_utf8": "epoch,loss\n1,0.5\nrésumé 😀\n"}},
    # 256 bytes x 4097 = 1,048,832 bytes: crosses several 256 KiB read boundaries.
    {
        "name": "file-1MiB-pattern",
        "input": {"pattern_hex": bytes(range(256)).hex(), "repeat": 4097},
    },
]

BYTES_CASES: list[dict[str, Any]] = [
    {
        "name": "bytes-example",
        "input": {"domain": "algotrace/v1/example", "data_hex": b"data".hex()},
    },
    {"name": "bytes-empty", "input": {"domain": "algotrace-hash/v1/params", "data_hex": ""}},
]

_TREE: list[dict[str, Any]] = [
    {"path": "a.txt", "content_utf8": "hello\n"},
    {"path": "sub/b.bin", "content_hex": "00010203ff"},
    {"path": "sub/deeper/c.csv", "content_utf8": "x,y\n1,2\n"},
    {"path": "with space.txt", "content_utf8": ""},
    {"path": "new\nline.txt", "content_utf8": "n"},
    {"path": "caf\u00e9.txt", "content_utf8": "nfc"},
    {"path": "link-to-a", "symlink": "a.txt"},
    {"path": "sub/outside", "symlink": "../../etc/passwd"},
    {"path": "empty-dir", "dir": True},
    {"path": ".git/HEAD", "content_utf8": "ref: refs/heads/main\n"},
    {"path": "pkg/__pycache__/m.cpython-312.pyc", "content_hex": "00"},
    {"path": "stray.pyc", "content_hex": "00"},
    {"path": ".DS_Store", "content_hex": "00"},
    {"path": ".algo-tracer/journal.sqlite", "content_hex": "00"},
    {"path": "run.log", "content_utf8": "ignored by pattern"},
    {"path": "data/raw/big.bin", "content_utf8": "ignored by path pattern"},
]

DIRECTORY_CASES: list[dict[str, Any]] = [
    {"name": "directory-empty", "input": {"entries": [], "ignore": [], "default_ignore": True}},
    {
        "name": "directory-tree",
        "input": {"entries": _TREE, "ignore": ["*.log", "data/raw/*"], "default_ignore": True},
    },
    {  # same tree, one name stored decomposed (NFD, as macOS does): must give the same digest
        "name": "directory-tree-nfd-name",
        "input": {
            "entries": [
                {**e, "path": "cafe\u0301.txt"} if e["path"] == "caf\u00e9.txt" else e
                for e in _TREE
            ],
            "ignore": ["*.log", "data/raw/*"],
            "default_ignore": True,
        },
    },
    {
        "name": "directory-no-default-ignores",
        "input": {
            "entries": [
                {"path": "a.txt", "content_utf8": "hello\n"},
                {"path": ".git/HEAD", "content_utf8": "ref: refs/heads/main\n"},
            ],
            "ignore": [],
            "default_ignore": False,
        },
    },
]

PARAMS_CASES: list[dict[str, Any]] = [
    {"name": "params-empty", "input": {"json": "{}"}},
    {
        "name": "params-typical",
        "input": {
            "json": '{"lr": 0.001, "epochs": 10, "layers": [64, 32], "name": "r\\u00e9sum\\u00e9",'
            ' "dropout": null, "flags": {"b": true, "a": false}, "betas": [0.9, 0.999]}'
        },
    },
    {"name": "params-int-vs-float", "input": {"json": '{"a": 1, "b": 1.0, "c": -0.0, "d": 100.0}'}},
    {
        "name": "params-float-formats",
        "input": {
            "json": '{"x": [0.1, 1e16, 1e15, 1e-05, 0.0001, 123456789012345678.0, 5e-324,'
            " 1.7976931348623157e308, 2.5e-7, 1.5, 3.14159]}"
        },
    },
    {
        "name": "params-big-int",
        "input": {"json": '{"n": 1180591620717411303424, "m": -9007199254740993}'},
    },
    {
        "name": "params-string-escapes",
        "input": {
            "json": '{"s": "q\\" b\\\\ n\\n t\\t c\\u0001 del\\u007f \\u2028 '
            'emoji\\ud83d\\ude00 /"}'
        },
    },
    {  # UTF-8 byte order ("B" < "a" < U+FFFF < U+1F600) differs from UTF-16 code-unit order
        "name": "params-key-order-astral",
        "input": {"json": '{"\\ud83d\\ude00": 2, "\\uffff": 1, "a": 3, "B": 4, "": 0}'},
    },
    {"name": "params-nested-list", "input": {"json": '[1, [2, [3, {"z": [], "y": {}}]], "x"]'}},
]

ARRAY_CASES: list[dict[str, Any]] = [
    {
        "name": "array-int64-2x3",
        "input": {"dtype": "<i8", "shape": [2, 3], "values": [0, 1, 2, 3, 4, 5]},
    },
    {
        "name": "array-int64-2x3-fortran",
        "input": {"dtype": "<i8", "shape": [2, 3], "values": [0, 1, 2, 3, 4, 5], "order": "F"},
    },
    {
        "name": "array-int32-big-endian",
        "input": {"dtype": ">i4", "shape": [2], "data_hex": "0000000100000102"},
    },
    {
        "name": "array-int32-little-endian",
        "input": {"dtype": "<i4", "shape": [2], "values": [1, 258]},
    },
    {
        "name": "array-float64-specials",
        "input": {
            "dtype": "<f8",
            "shape": [5],
            "values": ["NaN", -0.0, "Infinity", "-Infinity", 0.1],
        },
    },
    {  # a negative, payload-carrying NaN: must hash like the canonical NaN above
        "name": "array-float64-nan-payload",
        "input": {
            "dtype": "<f8",
            "shape": [5],
            "data_hex": "010000000000f8ff"
            + "0000000000000080"
            + "000000000000f07f"
            + "000000000000f0ff"
            + "9a9999999999b93f",
        },
    },
    {
        "name": "array-float32",
        "input": {"dtype": "<f4", "shape": [3], "values": [1.5, "NaN", -2.0]},
    },
    {"name": "array-float16", "input": {"dtype": "<f2", "shape": [2], "values": [0.5, 65504.0]}},
    {"name": "array-complex128", "input": {"dtype": "<c16", "shape": [1], "values": [[1.0, -2.0]]}},
    {"name": "array-bool", "input": {"dtype": "|b1", "shape": [3], "values": [True, False, True]}},
    {"name": "array-uint8-scalar", "input": {"dtype": "|u1", "shape": [], "values": [7]}},
    {"name": "array-float64-empty", "input": {"dtype": "<f8", "shape": [0, 3], "values": []}},
    {
        "name": "array-datetime64-ns",
        "input": {
            "dtype": "<M8[ns]",
            "shape": [3],
            "data_hex": "0000000000000000" + "00008ab9359ae515" + "0000000000000080",
        },
    },
    {
        "name": "array-unicode",
        "input": {"dtype": "<U3", "shape": [3], "values": ["a", "bcd", "\u00e9"]},
    },
    {"name": "array-bytes", "input": {"dtype": "|S2", "shape": [2], "values": ["ab", "c"]}},
    {
        "name": "array-object-mixed",
        "input": {"dtype": "|O", "shape": [6], "values": ["a", None, 1, 2.5, True, "\u00e9"]},
    },
]

_BASIC_COLUMNS: list[dict[str, Any]] = [
    {"name": "a", "dtype": "int64", "values": [1, 2, 3]},
    {"name": "b", "dtype": "float64", "values": [0.5, None, -1.0]},
    {"name": "c", "dtype": "str", "values": ["x", None, "\u00e9"]},
    {"name": "d", "dtype": "bool", "values": [True, False, True]},
]

DATAFRAME_CASES: list[dict[str, Any]] = [
    {
        "name": "dataframe-single-int64",
        "input": {"columns": [{"name": "x", "dtype": "int64", "values": [1, 2]}]},
    },
    {"name": "dataframe-basic", "input": {"columns": _BASIC_COLUMNS}},
    {"name": "dataframe-basic-columns-reordered", "input": {"columns": _BASIC_COLUMNS[::-1]}},
    {
        "name": "dataframe-basic-rows-swapped",
        "input": {
            "columns": [
                {**c, "values": [c["values"][1], c["values"][0], c["values"][2]]}
                for c in _BASIC_COLUMNS
            ]
        },
    },
    {
        "name": "dataframe-int32",
        "input": {"columns": [{"name": "x", "dtype": "int32", "values": [1, 2]}]},
    },
    {
        "name": "dataframe-nullable",
        "input": {
            "columns": [
                {"name": "i", "dtype": "Int64", "values": [1, None, 3]},
                {"name": "f", "dtype": "Float64", "values": [None, 2.5, "NaN"]},
                {"name": "b", "dtype": "boolean", "values": [True, None, False]},
                {"name": "u", "dtype": "UInt8", "values": [255, 0, None]},
            ]
        },
    },
    {
        "name": "dataframe-strings",
        "input": {
            "columns": [
                {"name": "s", "dtype": "string", "values": ["a", None, "\u00e9\u00e9"]},
                {"name": "t", "dtype": "str", "values": ["a", None, "\u00e9\u00e9"]},
                {"name": "o", "dtype": "object", "values": ["a", None, "\u00e9\u00e9"]},
            ]
        },
    },
    {
        "name": "dataframe-object-mixed",
        "input": {
            "columns": [
                {
                    "name": "o",
                    "dtype": "object",
                    "values": ["a", 1, 2.5, True, None, {"bytes_hex": "00ff"}, -7],
                },
            ]
        },
    },
    {
        "name": "dataframe-category",
        "input": {
            "columns": [
                {
                    "name": "c",
                    "dtype": "category",
                    "values": ["b", "a", "b", None],
                    "categories": ["a", "b", "c"],
                    "ordered": False,
                },
                {
                    "name": "k",
                    "dtype": "category",
                    "values": [3, 1, 1, 2],
                    "categories": [1, 2, 3],
                    "ordered": True,
                },
            ]
        },
    },
    {
        "name": "dataframe-datetimes",
        "input": {
            "columns": [
                {
                    "name": "t",
                    "dtype": "datetime64[ns]",
                    "values": ["2020-01-01T00:00:00", None, "1969-12-31T23:59:59.5"],
                },
                {
                    "name": "tz",
                    "dtype": "datetime64[us, Europe/Berlin]",
                    "values": ["2020-06-01T00:00:00Z", None, "2021-01-01T12:00:00Z"],
                },
                {
                    "name": "utc",
                    "dtype": "datetime64[s, UTC]",
                    "values": ["2020-06-01T00:00:00Z", "1970-01-01T00:00:00Z", None],
                },
                {"name": "dt", "dtype": "timedelta64[ms]", "values": [1500, None, -1]},
            ]
        },
    },
    {
        "name": "dataframe-label-types",
        "input": {
            "columns": [
                {"name": 0, "dtype": "int64", "values": [1]},
                {"name": "0", "dtype": "int64", "values": [1]},
                {"name": ["a", 1], "dtype": "int64", "values": [1]},
            ]
        },
    },
    {
        "name": "dataframe-no-rows",
        "input": {"columns": [{"name": "a", "dtype": "float64", "values": []}]},
    },
    {"name": "dataframe-no-columns", "input": {"columns": []}},
]


# --------------------------------------------------------------------------- builders


def file_content(spec: dict[str, Any]) -> bytes:
    if "content_utf8" in spec:
        return spec["content_utf8"].encode("utf-8")
    if "content_hex" in spec:
        return bytes.fromhex(spec["content_hex"])
    return bytes.fromhex(spec["pattern_hex"]) * spec["repeat"]


def build_directory(root: Path, spec: dict[str, Any]) -> None:
    """Create the tree described by ``spec["entries"]`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in spec["entries"]:
        path = root / entry["path"]
        if entry.get("dir"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if "symlink" in entry:
            path.symlink_to(entry["symlink"])
        else:
            path.write_bytes(file_content(entry))


def _float(v: Any) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)


def build_array(spec: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    if "data_hex" in spec:
        a = np.frombuffer(bytes.fromhex(spec["data_hex"]), dtype=dtype).reshape(shape)
    elif dtype.kind == "O":
        a = np.empty(len(spec["values"]), dtype=object)
        a[:] = spec["values"]
        a = a.reshape(shape)
    elif dtype.kind == "c":
        a = np.array([complex(r, i) for r, i in spec["values"]], dtype=dtype).reshape(shape)
    elif dtype.kind == "S":
        a = np.array([v.encode("ascii") for v in spec["values"]], dtype=dtype).reshape(shape)
    else:
        values = [_float(v) for v in spec["values"]] if dtype.kind == "f" else spec["values"]
        a = np.array(values, dtype=dtype).reshape(shape)
    if spec.get("order") == "F":
        a = np.asfortranarray(a)
    return a


def _label(name: Any) -> Any:
    return tuple(name) if isinstance(name, list) else name


def build_column(spec: dict[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    dtype, values = spec["dtype"], spec["values"]
    if dtype == "category":
        cat = pd.CategoricalDtype(spec["categories"], ordered=spec["ordered"])
        return pd.Series(pd.Categorical(values, dtype=cat))
    if dtype.startswith("datetime64[") and "," in dtype:
        unit, tz = dtype[len("datetime64[") : -1].split(", ")
        utc = pd.Series(pd.to_datetime(values, utc=True, format="ISO8601"))
        return utc.dt.tz_convert(tz).dt.as_unit(unit)
    if dtype.startswith("datetime64["):
        return pd.Series(pd.to_datetime(values, format="ISO8601")).astype(dtype)
    if dtype.startswith("timedelta64["):
        unit = dtype[len("timedelta64[") : -1]
        return pd.Series(pd.to_timedelta(values, unit=unit)).astype(dtype)
    if dtype == "object":
        arr = np.empty(len(values), dtype=object)
        arr[:] = [bytes.fromhex(v["bytes_hex"]) if isinstance(v, dict) else v for v in values]
        return pd.Series(arr, dtype=object)
    if dtype in ("Float64", "Float32", "float64", "float32"):
        values = [
            pd.NA if v is None and dtype[0] == "F" else _float(v) if v is not None else None
            for v in values
        ]
    return pd.Series(values, dtype=dtype)


def build_dataframe(spec: dict[str, Any]) -> Any:
    import pandas as pd

    cols = spec["columns"]
    if not cols:
        return pd.DataFrame()
    return pd.concat([build_column(c).rename(_label(c["name"])) for c in cols], axis=1)


# --------------------------------------------------------------------------- generation


class _Recorder:
    """A SHA-256 hasher that also keeps every byte written to it."""

    def __init__(self) -> None:
        self.inner = hashlib.sha256()
        self.parts: list[bytes] = []

    def update(self, data: Any) -> None:
        raw = bytes(memoryview(data).cast("B"))
        self.parts.append(raw)
        self.inner.update(raw)

    def digest(self) -> bytes:
        return self.inner.digest()

    def hexdigest(self) -> str:
        return self.inner.hexdigest()

    def preimage(self) -> tuple[str, bytes]:
        joined = b"".join(self.parts)
        cut = joined.index(b"\x00")
        return joined[:cut].decode("ascii"), joined[cut + 1 :]


def preimages(fn: Any, *args: Any) -> list[tuple[str, bytes]]:
    """(tag, preimage) of every tagged digest ``fn(*args)`` computes, in order."""
    from algo_tracer.hashing import _core, _files, _models, _tables

    recorders: list[_Recorder] = []

    def recording_tagged(tag: str) -> _Recorder:
        r = _Recorder()
        r.update(tag.encode("ascii") + b"\x00")
        recorders.append(r)
        return r

    # Each hashing module binds its own `_tagged` (imported from _core): swap it in all of them.
    # Any: mypy types these as plain ModuleType, which does not declare the `_tagged` we assign.
    modules: tuple[Any, ...] = (_core, _files, _tables, _models)
    originals = [m._tagged for m in modules]
    for m in modules:
        m._tagged = recording_tagged
    try:
        fn(*args)
    finally:
        for m, original in zip(modules, originals, strict=True):
            m._tagged = original
    return [r.preimage() for r in recorders]


def compute(kind: str, spec: dict[str, Any], tmp: Path | None = None) -> dict[str, Any]:
    """The expected outputs of one case (digest, and preimages where the kind has them)."""
    import tempfile

    from algo_tracer import hashing as h

    if kind == "file":
        return {"digest": str(h.digest_of(file_content(spec)))}
    if kind == "hash_bytes":
        data = bytes.fromhex(spec["data_hex"])
        return {
            "preimage_hex": data.hex(),
            "digest": str(h.hash_bytes(spec["domain"], data)),
        }
    if kind == "directory":
        with tempfile.TemporaryDirectory() as d:
            root = Path(d) / "tree"
            build_directory(root, spec)
            listing = h.hash_directory(
                root, ignore=spec["ignore"], default_ignore=spec["default_ignore"]
            )
        return {"preimage_hex": listing.manifest().hex(), "digest": str(listing.digest)}
    if kind == "params":
        obj = json.loads(spec["json"])
        return {
            "canonical_utf8": h.canonical_json(obj).decode("utf-8"),
            "digest": str(h.hash_params(obj)),
        }
    if kind == "array":
        a = build_array(spec)
        return {
            "preimage_hex": preimages(h.hash_array, a)[-1][1].hex(),
            "digest": str(h.hash_array(a)),
        }
    if kind == "dataframe":
        df = build_dataframe(spec)
        cols = {}
        for label, digest in h.dataframe_column_digests(df).items():
            name = h.canonical_json(label).decode("utf-8")
            column_preimage = preimages(h.dataframe_column_digests, df[[label]])[0][1]
            cols[name] = {"preimage_hex": column_preimage.hex(), "digest": str(digest)}
        return {
            "columns": cols,
            "preimage_hex": preimages(h.hash_dataframe, df)[-1][1].hex(),
            "digest": str(h.hash_dataframe(df)),
        }
    raise ValueError(kind)


ALL_CASES = [
    ("file", FILE_CASES),
    ("hash_bytes", BYTES_CASES),
    ("directory", DIRECTORY_CASES),
    ("params", PARAMS_CASES),
    ("array", ARRAY_CASES),
    ("dataframe", DATAFRAME_CASES),
]


def generate() -> dict[str, Any]:
    from algo_tracer import hashing as h

    vectors = []
    for kind, cases in ALL_CASES:
        for case in cases:
            vectors.append(
                {
                    "name": case["name"],
                    "kind": kind,
                    "input": case["input"],
                    **compute(kind, case["input"]),
                }
            )
    return {
        "scheme": h.SCHEME,
        "description": "Known-answer vectors for docs/hashing.md. 'preimage_hex' is every byte "
        "hashed after 'tag || 0x00' (directory: the manifest; dataframe: the frame body, with "
        "each column's own preimage under 'columns'). Inputs are described in "
        "tests/vectors/hashing_v1_cases.py.",
        "domain_tags": dict(h.DOMAIN_TAGS),
        "default_ignore": list(h.DEFAULT_IGNORE),
        "vectors": vectors,
    }


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    VECTORS_PATH.write_text(
        json.dumps(generate(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {VECTORS_PATH}")
