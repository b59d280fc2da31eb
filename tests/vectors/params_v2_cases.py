"""Known-answer vectors for params scheme v2 (``algotrace-hash/v2/params``, RFC 8785 / JCS).

Each vector's ``input.json`` is a JSON text (read it so that ``1`` stays an integer and ``1.0`` a
float, as Python's ``json.loads`` does); ``preimage_hex`` is the JCS text, the exact bytes after
``tag || 0x00``; ``digest`` is ``sha256:`` + SHA-256(tag || 0x00 || preimage). ``refused`` vectors
have no JCS form (NaN, integers beyond ±(2**53 - 1)): every implementation must refuse them.
The expected bytes come from the `rfc8785` package, not from algo-tracer.

Regenerate (only when cases are added) with ``.venv/bin/python tests/vectors/params_v2_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("params-v2.json")
TAG = "algotrace-hash/v2/params"

CASES: list[dict[str, Any]] = [
    {"name": "params-empty", "json": "{}"},
    {"name": "params-typical",
     "json": '{"lr": 0.001, "epochs": 10, "layers": [64, 32], "name": "r\\u00e9sum\\u00e9",'
     ' "dropout": null, "flags": {"b": true, "a": false}, "betas": [0.9, 0.999]}'},
    # v1 tells these apart (1 vs 1.0, -0.0 vs 0.0); JCS writes 1, 1, 0, 100.
    {"name": "params-int-vs-float", "json": '{"a": 1, "b": 1.0, "c": -0.0, "d": 100.0}'},
    {"name": "params-float-formats",
     "json": '{"x": [0.1, 1e16, 1e15, 1e-05, 0.0001, 123456789012345678.0, 5e-324,'
     " 1.7976931348623157e308, 2.5e-7, 1.5, 3.14159, 1e21, 1e-7]}"},
    {"name": "params-safe-int-bounds",
     "json": '{"max": 9007199254740991, "min": -9007199254740991}'},
    {"name": "params-string-escapes",
     "json": '{"s": "q\\" b\\\\ n\\n t\\t c\\u0001 del\\u007f \\u2028 '
     'emoji\\ud83d\\ude00 /"}'},
    # UTF-16 code-unit order: U+1F600 (0xD83D...) sorts before U+FFFF; v1 (UTF-8) the other way
    {"name": "params-key-order-astral",
     "json": '{"\\ud83d\\ude00": 2, "\\uffff": 1, "\\ue000": 5, "a": 3, "B": 4, "": 0}'},
    {"name": "params-nested-list", "json": '[1, [2, [3, {"z": [], "y": {}}]], "x"]'},
    {"name": "params-issue-examples", "json": '{"C": 1.0, "tol": 1e-05, "big": 1e16}'},
    {"name": "refused-big-int", "json": '{"n": 9007199254740992}', "refused": True},
    {"name": "refused-nan", "json": '{"x": NaN}', "refused": True},
    {"name": "refused-infinity", "json": '{"x": -Infinity}', "refused": True},
]


def build() -> dict[str, Any]:
    import rfc8785

    vectors = []
    for case in CASES:
        entry: dict[str, Any] = {"name": case["name"], "input": {"json": case["json"]}}
        if case.get("refused"):
            entry["refused"] = True
        else:
            preimage = rfc8785.dumps(json.loads(case["json"]))
            digest = hashlib.sha256(TAG.encode() + b"\x00" + preimage).hexdigest()
            entry.update(preimage_hex=preimage.hex(), digest=f"sha256:{digest}")
        vectors.append(entry)
    return {"scheme": TAG, "encoding": "RFC 8785 (JSON Canonicalization Scheme)",
            "vectors": vectors}


if __name__ == "__main__":
    VECTORS_PATH.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")
