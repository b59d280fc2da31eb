"""Params scheme v2 (RFC 8785): `rfc8785` reproduces every digest, v1 stays as it was."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import rfc8785

from algo_tracer import hashing, stages
from algo_tracer.documents.manifest import StageEntry, StageKind
from algo_tracer.errors import InputError

VECTORS_DIR = Path(__file__).parent / "vectors"
V2 = json.loads((VECTORS_DIR / "params-v2.json").read_text(encoding="utf-8"))
V1 = json.loads((VECTORS_DIR / "hashing-v1.json").read_text(encoding="utf-8"))


def _ids(vectors: list[dict]) -> list[str]:
    return [v["name"] for v in vectors]


@pytest.mark.parametrize("vector", V2["vectors"], ids=_ids(V2["vectors"]))
def test_every_v2_params_digest_is_reproduced_by_the_rfc8785_package(vector: dict) -> None:
    value = json.loads(vector["input"]["json"])
    if vector.get("refused"):
        with pytest.raises(InputError):
            hashing.hash_params(value, hashing.PARAMS_SCHEME_V2)
        with pytest.raises(rfc8785.CanonicalizationError):
            rfc8785.dumps(value)
        return
    ours = hashing.hash_params(value, hashing.PARAMS_SCHEME_V2)
    theirs = hashlib.sha256(b"algotrace-hash/v2/params\x00" + rfc8785.dumps(value)).hexdigest()
    assert ours.hex == theirs == vector["digest"].removeprefix("sha256:")
    assert hashing.jcs_json(value).hex() == vector["preimage_hex"]


def test_v1_params_vectors_keep_their_digests() -> None:
    params = [v for v in V1["vectors"] if v["kind"] == "params"] if "kind" in V1["vectors"][0] \
        else [v for v in V1["vectors"] if v["name"].startswith("params-")]
    assert params
    for vector in params:
        value = json.loads(vector["input"]["json"])
        assert str(hashing.hash_params(value)) == vector["digest"], vector["name"]
        assert str(hashing.hash_params(value, hashing.PARAMS_SCHEME_V1)) == vector["digest"]


def test_v2_makes_equal_what_v1_told_apart() -> None:
    v1, v2 = hashing.PARAMS_SCHEME_V1, hashing.PARAMS_SCHEME_V2
    assert hashing.hash_params({"C": 1}, v1) != hashing.hash_params({"C": 1.0}, v1)
    assert hashing.hash_params({"C": 1}, v2) == hashing.hash_params({"C": 1.0}, v2)
    assert hashing.hash_params({"x": -0.0}, v2) == hashing.hash_params({"x": 0}, v2)
    assert hashing.jcs_json({"a": 1e-05, "b": 1e16}) == b'{"a":0.00001,"b":10000000000000000}'


def test_v2_orders_keys_by_utf16_code_units() -> None:
    value = {"\ue000": 1, "\U0001f600": 2}
    assert hashing.jcs_json(value).decode() == '{"\U0001f600":2,"\ue000":1}'
    assert hashing.canonical_json(value).decode() == '{"\ue000":1,"\U0001f600":2}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_v2_refuses_nan_and_infinities_naming_the_location(bad: float) -> None:
    with pytest.raises(InputError, match=r"\$\.opt\.lr.*") as info:
        hashing.hash_params({"opt": {"lr": bad}}, hashing.PARAMS_SCHEME_V2)
    assert "'nan'" in (info.value.fix or "")


def test_v2_refuses_integers_beyond_the_exact_double_range_with_a_fix() -> None:
    hashing.hash_params({"n": 2**53 - 1}, hashing.PARAMS_SCHEME_V2)
    with pytest.raises(InputError, match="2\\*\\*53") as info:
        hashing.hash_params({"n": 2**53}, hashing.PARAMS_SCHEME_V2)
    assert "str(n)" in (info.value.fix or "")


def test_an_unknown_scheme_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InputError, match="unknown params scheme") as info:
        hashing.hash_params({}, "algotrace-hash/v9/params")
    assert hashing.PARAMS_SCHEME_V2 in (info.value.fix or "")


def test_new_params_metrics_and_outcome_stages_record_scheme_v2() -> None:
    digest, detail = stages.describe_params({"C": 1.0})
    assert detail == {"params": {"C": 1.0}, "scheme": hashing.PARAMS_SCHEME_V2}
    assert digest.hex == hashlib.sha256(b"algotrace-hash/v2/params\x00" + b'{"C":1}').hexdigest()
    _, detail = stages.describe_metrics({"acc": 0.5})
    assert detail["scheme"] == hashing.PARAMS_SCHEME_V2
    digest, detail = stages.describe_outcome("failed")
    assert detail == {"outcome": "failed", "scheme": hashing.PARAMS_SCHEME_V2}
    assert digest == hashing.hash_params({"outcome": "failed"}, hashing.PARAMS_SCHEME_V2)


@pytest.mark.parametrize("scheme", [None, *hashing.PARAMS_SCHEMES])
def test_verification_rehashes_params_by_the_scheme_the_detail_names(scheme: str | None) -> None:
    params = {"C": 1.0, "name": "x"}
    detail = {"params": params} | ({"scheme": scheme} if scheme else {})
    digest = hashing.hash_params(params, scheme or hashing.PARAMS_SCHEME_V1)
    entry = StageEntry(index=0, kind=StageKind.PARAMS, label="params", digest=digest.hex,
                       detail=detail)
    assert stages.rehash_detail(entry).digest == digest.hex
    # the other scheme gives another digest here (1.0): the scheme in the detail matters
    other = [s for s in hashing.PARAMS_SCHEMES if s != (scheme or hashing.PARAMS_SCHEME_V1)]
    assert hashing.hash_params(params, other[0]).hex != digest.hex


def test_old_outcome_details_without_a_scheme_still_verify() -> None:
    digest = hashing.hash_params({"outcome": "interrupted"})
    entry = StageEntry(index=0, kind=StageKind.CUSTOM, label="custom:outcome", digest=digest.hex,
                       detail={"outcome": "interrupted"})
    assert stages.rehash_detail(entry).digest == digest.hex


def test_a_detail_naming_an_unknown_scheme_is_an_error_not_a_match() -> None:
    entry = StageEntry(index=0, kind=StageKind.PARAMS, label="params", digest="00" * 32,
                       detail={"params": {}, "scheme": "algotrace-hash/v9/params"})
    local = stages.rehash_detail(entry)
    assert local.digest is None and "unknown params scheme" in (local.error or "")


def _independent_reader():  # examples/independent_verifier.py, which never imports algo_tracer
    import importlib.util

    path = Path(__file__).parents[1] / "examples" / "independent_verifier.py"
    spec = importlib.util.spec_from_file_location("independent_reader_v2", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_independent_reader_recomputes_params_digests_of_both_schemes() -> None:
    reader = _independent_reader()
    value = {"C": 1.0, "\ue000": 1, "\U0001f600": [1e-05, 1e16]}
    for scheme in hashing.PARAMS_SCHEMES:
        assert reader.params_digest({"scheme": scheme}, value) == \
            hashing.hash_params(value, scheme).value
    assert reader.params_digest({}, value) == hashing.hash_params(value).value
    with pytest.raises(ValueError, match="unknown params scheme"):
        reader.params_digest({"scheme": "algotrace-hash/v9/params"}, value)


def test_the_web_pages_jcs_matches_every_v2_vector(tmp_path: Path) -> None:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's jcs() is checked in a browser instead")
    app = (Path(__file__).parents[1] / "algo_tracer" / "web" / "static" / "app.js").read_text()
    start = app.index("  function jcs(value)")
    source = app[start:app.index("  // A params / metrics stage's digest")]
    script = tmp_path / "jcs.js"
    cases = [v for v in V2["vectors"] if not v.get("refused")]
    script.write_text(source + "\nconst cases = " + json.dumps(cases) + ";\n"
                      "for (const c of cases) console.log(Buffer.from(jcs(JSON.parse("
                      "c.input.json)), 'utf8').toString('hex'));\n")
    out = subprocess.run([node, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [c["preimage_hex"] for c in cases]
