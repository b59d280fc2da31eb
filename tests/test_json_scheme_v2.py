"""JSON scheme v2 (docs/hashing.md §13): every JSON value of a new experiment hashed under
RFC 8785, switched by one field (the manifest format v3), with v1 experiments verifying as before.

The vectors (tests/vectors/json-v2.json) come from the `rfc8785` package and `json.dumps`, not
from algo-tracer; they are checked against our hashers, the independent reader and the web page.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from algo_tracer import hashing, stages
from algo_tracer.capture import CodeSnapshot
from algo_tracer.documents.manifest import (
    Manifest,
    StageEntry,
    StageKind,
    manifest_format,
    metadata_digest,
)
from algo_tracer.documents.plan import PlanReveal, plan_commitment
from algo_tracer.documents.study import TrialRecord, TrialResult
from algo_tracer.errors import InputError
from algo_tracer.format.stage_notes import decode_stage_note, encode_stage_note, stage_note_prefix

ROOT = Path(__file__).resolve().parents[1]
WHEN = datetime(2026, 11, 30, tzinfo=UTC)
VECTORS = json.loads((ROOT / "tests" / "vectors" / "json-v2.json").read_text(encoding="utf-8"))
BY_NAME = {v["name"]: v for v in VECTORS["vectors"]}


def _load_reader() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "independent_verifier", ROOT / "examples" / "independent_verifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reader = _load_reader()


def _value(vector: dict[str, Any]) -> Any:
    return json.loads(vector["input"]["json"])


def _ours(vector: dict[str, Any], scheme: int) -> str:
    """The vector's digest as algo-tracer computes it under `scheme`, through the function each
    kind of value is hashed with when recorded."""
    value, salt = _value(vector), bytes.fromhex(vector["salt_hex"])
    name = vector["name"]
    if name == "manifest-v3":
        fmt = "algo-tracer-manifest/v3" if scheme == 2 else "algo-tracer-manifest/v2"
        manifest = Manifest.model_validate(value)
        if scheme == 1:  # the same body in the v2 format's rule (the format key says v3)
            return "sha256:" + hashing.hash_bytes(
                "algotrace/v2/manifest", hashing.canonical_json(value)).hex
        assert manifest.format == fmt
        return "sha256:" + manifest.final_digest().hex()
    if name == "metadata":
        return "sha256:" + metadata_digest(value["name"], value["metadata"], scheme).hex()
    if name == "plan":
        return "sha256:" + plan_commitment(value, salt, scheme).hex()
    if name == "study-trial":
        return "sha256:" + TrialRecord.model_validate(value).digest(scheme).hex()
    if name == "trial-result":
        return "sha256:" + TrialResult.model_validate(value).digest(scheme).hex()
    if name.startswith("code-") and name != "code-changes":
        return str(hashing.hash_json("code", value, scheme))
    return str(hashing.hash_json(name, value, scheme))


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_every_v2_json_digest_is_reproduced_from_the_rfc8785_bytes(vector: dict) -> None:
    assert _ours(vector, hashing.JSON_SCHEME_V2) == vector["digest"]
    preimage = bytes.fromhex(vector["preimage_hex"])
    assert hashing.jcs_json(_value(vector)) == preimage[len(bytes.fromhex(vector["salt_hex"])):]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_every_value_keeps_its_v1_digest_under_json_scheme_v1(vector: dict) -> None:
    assert _ours(vector, hashing.JSON_SCHEME_V1) == vector["v1_digest"]
    assert vector["v1_digest"] != vector["digest"]  # domain-separated: never one digest


def test_snapshots_hash_their_digest_material_under_the_scheme_asked_for() -> None:
    material = _value(BY_NAME["code-git"])
    snap = CodeSnapshot(captured_at=WHEN, kind="git", root="/r",
                        commit=material["commit"])
    assert snap.digest_material() == material
    assert str(snap.digest(hashing.JSON_SCHEME_V2)) == BY_NAME["code-git"]["digest"]
    assert str(snap.digest()) == BY_NAME["code-git"]["v1_digest"]  # the default stays v1


def test_one_function_maps_a_scheme_to_its_canonicaliser_and_refuses_others() -> None:
    assert hashing.json_encoder(1) is hashing.canonical_json
    assert hashing.json_encoder(2) is hashing.jcs_json
    assert hashing.params_scheme(2) == hashing.PARAMS_SCHEME_V2
    assert hashing.json_tag("seed", 2) == "algotrace/v2/seed"
    with pytest.raises(InputError, match="unknown JSON scheme 3") as raised:
        hashing.json_encoder(3)
    assert "use one of 1, 2" in (raised.value.fix or "")


def test_the_manifest_format_is_the_one_switch() -> None:
    assert manifest_format(hashing.JSON_SCHEME_V2) == "algo-tracer-manifest/v3"
    assert manifest_format(hashing.JSON_SCHEME_V1) == "algo-tracer-manifest/v2"
    body = _value(BY_NAME["manifest-v3"])
    for fmt, scheme in [("algo-tracer-manifest/v3", 2), ("algo-tracer-manifest/v2", 1),
                        ("algo-tracer-manifest/v1", 1)]:
        assert Manifest.model_validate({**body, "format": fmt}).json_scheme == scheme
    assert stages.JSON_SCHEME == hashing.JSON_SCHEME_V2  # new experiments


def test_a_v3_manifest_makes_equal_what_v2_told_apart_and_says_so_by_its_format() -> None:
    body = _value(BY_NAME["manifest-v3"])
    one = json.loads(json.dumps(body).replace('"C": 1.0', '"C": 1'))
    assert Manifest.model_validate(one).final_digest() == Manifest.model_validate(
        body).final_digest()
    v2 = {**body, "format": "algo-tracer-manifest/v2"}
    assert Manifest.model_validate({**one, "format": v2["format"]}).final_digest() != \
        Manifest.model_validate(v2).final_digest()


@pytest.mark.parametrize("kind", [StageKind.SEED, StageKind.ENVIRONMENT, StageKind.CODE])
def test_a_snapshot_is_rehashed_by_the_manifest_scheme_and_an_edit_is_a_mismatch(
        kind: StageKind) -> None:
    from algo_tracer.capture import capture_environment
    from algo_tracer.seeding import SeedReport

    snapshot: Any
    if kind == StageKind.SEED:
        snapshot = SeedReport(seed=7, deterministic=True, strict=False, seeded=("python",),
                              switches={})
    elif kind == StageKind.ENVIRONMENT:
        snapshot = capture_environment()
    else:
        snapshot = CodeSnapshot(captured_at=WHEN, kind="tree", root="/r",
                                tree_digest="sha256:" + "ab" * 32)
    digest, detail = stages.describe_snapshot(snapshot, hashing.JSON_SCHEME_V2)
    entry = StageEntry(index=0, kind=kind, label=kind.name.lower(), digest=digest.hex,
                       detail=detail)
    assert stages.rehash_detail(entry, hashing.JSON_SCHEME_V2).digest == digest.hex
    # Read under the other scheme (a relabelled manifest), the same detail does not match.
    assert stages.rehash_detail(entry, hashing.JSON_SCHEME_V1).digest != digest.hex
    field = {StageKind.SEED: "seed", StageKind.ENVIRONMENT: "packages",
             StageKind.CODE: "tree_digest"}[kind]
    edited_value = {"seed": 8, "packages": {"numpy": "0.0.1"},
                    "tree_digest": "sha256:" + "cd" * 32}[field]
    edited = entry.model_copy(update={"detail": {**detail, field: edited_value}})
    assert stages.rehash_detail(edited, hashing.JSON_SCHEME_V2).digest != digest.hex


def test_stage_notes_say_their_json_scheme_in_the_version_byte() -> None:
    study = bytes(range(32))
    detail = {"state": "complete", "value": 1.0, "b": [1e-05]}
    v2 = encode_stage_note(StageKind.TRIAL, study, detail, hashing.JSON_SCHEME_V2)
    assert v2 == (b"algotrace:s\x02\x0e" + study
                  + b'{"b":[0.00001],"state":"complete","value":1}')
    assert v2.startswith(stage_note_prefix(StageKind.TRIAL, study, hashing.JSON_SCHEME_V2))
    note = decode_stage_note(v2)
    assert note is not None and note.scheme == 2 and note.detail == {**detail, "value": 1}
    # The stage digest is the body's hash under the params tag of the same scheme.
    assert hashing.hash_params(note.detail, hashing.params_scheme(note.scheme)).value == \
        hashing.hash_bytes(hashing.PARAMS_SCHEME_V2, note.raw_detail).value
    v1 = encode_stage_note(StageKind.TRIAL, study, detail)
    old = decode_stage_note(v1)
    assert v1.startswith(b"algotrace:s\x01\x0e") and old is not None and old.scheme == 1
    # A v1 body behind the v2 byte (or the reverse) is no stage note: the byte cannot lie.
    assert decode_stage_note(b"algotrace:s\x02\x0e" + study + v1[45:]) is None
    assert decode_stage_note(b"algotrace:s\x01\x0e" + study + v2[45:]) is None


def test_a_plan_reveal_file_names_its_scheme_and_old_files_read_as_v1() -> None:
    plan, salt = {"metric": "acc", "tolerance": 1.0}, bytes(32)
    new = PlanReveal(experiment_id="x", plan=plan, salt=salt.hex(), json_scheme=2)
    assert new.commitment() == plan_commitment(plan, salt, 2) != plan_commitment(plan, salt)
    old = PlanReveal.model_validate({"experiment_id": "x", "plan": plan, "salt": salt.hex()})
    assert old.json_scheme == 1 and old.commitment() == plan_commitment(plan, salt)


def test_the_independent_reader_computes_v3_final_and_metadata_digests() -> None:
    body = _value(BY_NAME["manifest-v3"])
    assert "sha256:" + reader.final_digest(body).hex() == BY_NAME["manifest-v3"]["digest"]
    assert reader.final_digest(body) == Manifest.model_validate(body).final_digest()
    meta = _value(BY_NAME["metadata"])
    for fmt, key in [("algo-tracer-manifest/v3", "digest"), ("algo-tracer-manifest/v2",
                                                             "v1_digest")]:
        manifest = {**body, "format": fmt, **meta}
        assert "sha256:" + reader.metadata_digest(manifest).hex() == BY_NAME["metadata"][key]


def test_the_web_pages_json_digest_reproduces_every_v2_vector(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's jsonDigest() is checked in a browser")
    app = (ROOT / "algo_tracer" / "web" / "static" / "app.js").read_text()
    source = app[app.index("  function jcs(value)"):app.index("  // \"sha256:<hex>\" of a File")]
    script = tmp_path / "json-digest.js"
    script.write_text(
        "const toHex = (b) => Buffer.from(b).toString('hex');\n"
        "async function digestBytes(bytes) {\n"
        "  return 'sha256:' + toHex(await crypto.subtle.digest('SHA-256', bytes)); }\n"
        + source + "\nconst cases = " + json.dumps(VECTORS["vectors"]) + ";\n"
        "(async () => { for (const c of cases) console.log(await jsonDigest(c.tag,"
        " JSON.parse(c.input.json), Buffer.from(c.salt_hex, 'hex'))); })();\n")
    out = subprocess.run([node, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [v["digest"] for v in VECTORS["vectors"]]


@pytest.mark.parametrize("name", ["bundle-localnet.json", "bundle-localnet-v2.json"])
def test_experiments_recorded_by_earlier_releases_verify_under_json_scheme_1(name: str) -> None:
    from algo_tracer.verify.bundle import Bundle, verify_bundle
    from algo_tracer.verify.report import StageStatus

    data = json.loads((ROOT / "tests" / "vectors" / name).read_text())
    manifest = Manifest.model_validate(data["manifest"])
    assert manifest.json_scheme == 1
    # Step 1 recomputes their metadata digest, the v1 way, from the manifest.
    assert metadata_digest(manifest.name, manifest.metadata, 1).hex() == manifest.metadata_digest

    report = verify_bundle(Bundle.model_validate(data), offline=True)

    assert report.ok, report.failures()
    assert next(c.status for c in report.checks if c.step == 1) == "pass"
    assert next(s.status for s in report.stages if s.label == "seed") == StageStatus.MATCH
    # Read as RFC 8785 (a manifest relabelled v3), the same record no longer verifies.
    relabelled = {**data, "manifest": {**data["manifest"], "format": "algo-tracer-manifest/v3"}}
    assert not verify_bundle(Bundle.model_validate(relabelled), offline=True).ok
