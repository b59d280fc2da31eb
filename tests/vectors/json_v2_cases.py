"""Known-answer vectors for JSON scheme v2 (docs/hashing.md §13): every JSON value of an
experiment recorded under manifest format v3, hashed as ``H(tag, salt || JCS(value))``.

Each vector names its ``tag`` (the v2 domain tag of what it is: ``algotrace/v2/seed``,
``algotrace/v2/metadata``, ``algotrace/v3/manifest``, ...), its ``input.json`` (a JSON text: read
it with ``json.loads`` so that ``1`` stays an int and ``1.0`` a float), a ``salt_hex`` (empty
except for a plan, whose 32-byte salt precedes the JSON), the ``preimage_hex`` (the exact bytes
after ``tag || 0x00``: salt, then the RFC 8785 text) and the ``digest``. ``v1_digest`` is the
same value under JSON scheme v1 (the ``algotrace/v1/...`` tag, or ``algotrace/v2/manifest`` for
a manifest body, over canonical JSON), which the experiments recorded before v3 keep.

The expected bytes come from the `rfc8785` package and from `json.dumps` (canonical JSON v1 is
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``), not from
algo-tracer. Regenerate (only when cases are added) with
``.venv/bin/python tests/vectors/json_v2_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("json-v2.json")
_SALT = bytes(range(32)).hex()

#: (name, what it is in algo-tracer, v2 tag, v1 tag, salt hex, JSON text)
CASES: list[tuple[str, str, str, str, str, str]] = [
    ("seed", "SeedReport.digest_material()", "algotrace/v2/seed", "algotrace/v1/seed", "",
     '{"seed": 42, "deterministic": true, "strict": false, "seeded": ["python", "numpy"],'
     ' "switches": {"PYTHONHASHSEED": "42"}}'),
    ("environment", "EnvironmentSnapshot.digest_material()", "algotrace/v2/environment",
     "algotrace/v1/environment", "",
     '{"schema": 1, "python": {"implementation": "CPython", "version": "3.12.1"},'
     ' "platform": {"system": "Linux", "machine": "x86_64"},'
     ' "packages": {"numpy": "2.1.0", "scikit-learn": "1.5.2", "\\ue000pua": "1",'
     ' "\\ud83d\\ude00emoji": "2"},'
     ' "lock_files": {"uv.lock": "sha256:' + "ab" * 32 + '"}}'),
    ("code-git", "CodeSnapshot.digest_material() (git)", "algotrace/v2/code", "algotrace/v1/code",
     "", '{"schema": 1, "kind": "git", "commit": "' + "c0" * 20 + '", "diff": null}'),
    ("code-tree", "CodeSnapshot.digest_material() (tree)", "algotrace/v2/code",
     "algotrace/v1/code", "",
     '{"schema": 1, "kind": "tree", "tree": "sha256:' + "de" * 32 + '", "ignore": ["*.tmp"]}'),
    ("code-changes", "capture_code's changed paths (CodeSnapshot.diff_digest)",
     "algotrace/v2/code-changes", "algotrace/v1/code-changes", "",
     '[["train.py", "100644", "' + "ef" * 32 + '"], ["old.py", "deleted", ""]]'),
    # Metadata is the user's: floats do occur, and JCS writes 1.0 as 1.
    ("metadata", "create_experiment's metadata digest", "algotrace/v2/metadata",
     "algotrace/v1/metadata", "",
     '{"name": "iris-logreg",'
     ' "metadata": {"lr": 1.0, "tol": 1e-05, "team": "r\\u00e9sum\\u00e9"}}'),
    ("plan", "a plan's salted commitment", "algotrace/v2/plan", "algotrace/v1/plan", _SALT,
     '{"metric": "accuracy", "direction": "maximize", "n_trials": 8, "tolerance": 0.0}'),
    ("study-trial", "a study's TRIAL record (kind 14)", "algotrace-hash/v2/params",
     "algotrace-hash/v1/params", "",
     '{"experiment": "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", "number": 3,'
     ' "state": "complete", "value": 0.9, "final_digest": "' + "12" * 32 + '"}'),
    ("trial-result", "a trial's custom:trial-result stage", "algotrace-hash/v2/params",
     "algotrace-hash/v1/params", "", '{"state": "complete", "value": 1.0}'),
    ("manifest-v3", "a manifest v3 body (LANDING_FIELDS left out)", "algotrace/v3/manifest",
     "algotrace/v2/manifest", "",
     '{"format": "algo-tracer-manifest/v3", "experiment_id":'
     ' "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", "name": "m", "owner": "' + "A" * 58 + '",'
     ' "app_id": 7, "genesis_id": "dockernet-v1", "genesis_hash": "g", "metadata": {},'
     ' "metadata_digest": "' + "0" * 64 + '", "stages": [{"index": 0, "kind": 4,'
     ' "label": "params", "digest": "' + "1" * 64 + '", "detail": {"params": {"C": 1.0},'
     ' "scheme": "algotrace-hash/v2/params"}}], "batches": [], "private_records": []}'),
]


def _canonical_v1(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def build() -> dict[str, Any]:
    import rfc8785

    vectors = []
    for name, what, tag, v1_tag, salt_hex, text in CASES:
        value = json.loads(text)
        salt = bytes.fromhex(salt_hex)
        preimage = salt + rfc8785.dumps(value)
        vectors.append({
            "name": name, "what": what, "tag": tag, "input": {"json": text},
            "salt_hex": salt_hex, "preimage_hex": preimage.hex(),
            "digest": "sha256:" + hashlib.sha256(tag.encode() + b"\x00" + preimage).hexdigest(),
            "v1_tag": v1_tag,
            "v1_digest": "sha256:" + hashlib.sha256(
                v1_tag.encode() + b"\x00" + salt + _canonical_v1(value)).hexdigest(),
        })
    return {"scheme": "JSON scheme v2 (docs/hashing.md §13)",
            "encoding": "RFC 8785 (JSON Canonicalization Scheme)", "vectors": vectors}


if __name__ == "__main__":
    VECTORS_PATH.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")
