"""`export --format in-toto`, `verify --attestation` and `verify --model-card` on LocalNet.

The envelope is signed with the recorder's key (KMD wallet on LocalNet); an edited claim, a
wrong key or a stripped signature must fail with exit 1; a foreign or malformed file exits 2.
A third-party library (securesystemslib) parses the envelope and checks its signature.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from verify_helpers import LOCALNET_ENV, Traced, trace_experiment

from algo_tracer import Tracer
from algo_tracer.cli import main
from algo_tracer.documents.attestation import (
    PREDICATE_TYPE,
    Envelope,
    sign_statement,
)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("ALGO_TRACER_MNEMONIC", raising=False)
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, localnet) -> Traced:
    tracer = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("att-state"))
    return trace_experiment(tracer, tmp_path_factory.mktemp("att"), "attested", metrics=20,
                            private=3)


@pytest.fixture(scope="module")
def attestation(traced: Traced, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("att-out") / "att.json"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in LOCALNET_ENV.items():
            mp.setenv(key, value)
        mp.delenv("ALGO_TRACER_APP_ID", raising=False)
        code = main(["export", traced.experiment_id, "--manifest", str(traced.manifest_path),
                     "--format", "in-toto", "-o", str(out), "--indexer-timeout", "120"])
    assert code == 0 and out.exists()
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--indexer-timeout", "120"])
    out, err = capsys.readouterr()
    return code, out, err


def _statement(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


def _rewrite(path: Path, target: Path, *, payload: dict | None = None,
             signatures: list | None = None) -> Path:
    envelope = json.loads(path.read_text())
    if payload is not None:
        envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    if signatures is not None:
        envelope["signatures"] = signatures
    target.write_text(json.dumps(envelope))
    return target


def test_the_statement_names_the_artifacts_and_the_chain_provenance(
        traced: Traced, attestation: Path) -> None:
    statement = _statement(attestation)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    names = {s["name"]: s["digest"] for s in statement["subject"]}
    model = traced.artifacts / "model.bin"
    import hashlib

    assert names[str(model)] == {"sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    assert any(list(d) == ["algotrace-v1-dataframe"] for d in names.values())
    p = statement["predicate"]
    assert p["experimentId"] == traced.experiment_id and p["appId"] == traced.app_id
    assert p["seal"]["sealed"] and len(p["chainHead"]) == 64
    assert [s["index"] for s in p["stages"]] == list(range(len(p["stages"])))
    assert all(len(s["txid"]) == 52 and s["round"] > 0 for s in p["stages"])
    assert p["network"]["genesisId"] == "dockernet-v1" and p["batches"]


def test_verify_attestation_exits_0_for_the_exported_envelope(
        attestation: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--attestation", str(attestation))
    assert code == 0, out
    assert "attestation signature: DSSE signature by the recorder" in out
    assert "attestation claims: every claim holds" in out


def test_securesystemslib_checks_the_envelope_signature_with_the_owners_key(
        traced: Traced, attestation: Path) -> None:
    from algosdk import encoding
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.signer import SSlibKey

    envelope = SslibEnvelope.from_dict(json.loads(attestation.read_text()))
    owner = _statement(attestation)["predicate"]["recorder"]
    key = SSlibKey(keyid=owner, keytype="ed25519", scheme="ed25519",
                   keyval={"public": encoding.decode_address(owner).hex()})
    assert list(envelope.verify([key], 1)) == [owner]


def test_an_edited_claim_fails_the_signature_with_exit_1(
        attestation: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statement = _statement(attestation)
    statement["predicate"]["stages"][2]["digest"] = "00" * 32
    edited = _rewrite(attestation, tmp_path / "edited.json", payload=statement)
    code, out, _ = run(capsys, "verify", "--attestation", str(edited))
    assert code == 1
    assert "FAIL" in out and "attestation_signature" in out and "stage 2 digest" in out


def test_a_claim_re_signed_by_the_owner_still_fails_against_the_chain(
        traced: Traced, attestation: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from algo_tracer.network.settings import algorand_from_environment, recording_account

    algorand, _, _, is_localnet = algorand_from_environment()
    owner = recording_account(algorand, is_localnet)
    statement = _statement(attestation)
    statement["subject"][0]["digest"] = {"sha256": "11" * 32}
    statement["predicate"]["seal"]["round"] += 1
    forged = tmp_path / "forged.json"
    sign_statement(statement, owner.private_key).write(forged)
    code, out, _ = run(capsys, "verify", "--attestation", str(forged))
    assert code == 1
    assert "attestation_signature" not in out
    assert "seal round" in out and "is no data, model or artifact stage" in out


def test_a_wrong_key_fails_with_exit_1(
        attestation: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from algosdk import account

    key, _ = account.generate_account()
    wrong = tmp_path / "wrong.json"
    sign_statement(_statement(attestation), key).write(wrong)
    code, out, _ = run(capsys, "verify", "--attestation", str(wrong))
    assert code == 1 and "no signature verifies under the recorder's key" in out


def test_a_stripped_signature_fails_with_exit_1(
        attestation: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stripped = _rewrite(attestation, tmp_path / "stripped.json", signatures=[])
    code, out, _ = run(capsys, "verify", "--attestation", str(stripped))
    assert code == 1 and "no signature (stripped?)" in out


def test_a_foreign_or_malformed_attestation_exits_2_and_names_the_problem(
        attestation: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statement = _statement(attestation)
    statement["predicateType"] = "https://slsa.dev/provenance/v1"
    foreign = _rewrite(attestation, tmp_path / "foreign.json", payload=statement)
    code, _, err = run(capsys, "verify", "--attestation", str(foreign))
    assert code == 2 and "is not algo-tracer's" in err

    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    code, _, err = run(capsys, "verify", "--attestation", str(junk))
    assert code == 2 and "is not a DSSE envelope" in err and "Traceback" not in err


def test_export_refuses_an_unknown_format_and_writes_nothing(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.json"
    code, _, err = run(capsys, "export", traced.experiment_id, "--app-id", str(traced.app_id),
                       "--format", "spdx", "-o", str(out))
    assert code == 2 and "invalid choice: 'spdx'" in err and not out.exists()


def test_export_with_another_account_than_the_owner_exits_2_and_writes_nothing(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from algosdk import account, mnemonic

    key, _ = account.generate_account()
    monkeypatch.setenv("ALGO_TRACER_MNEMONIC", mnemonic.from_private_key(key))
    out = tmp_path / "y.json"
    code, stdout, err = run(capsys, "export", traced.experiment_id, "--app-id",
                            str(traced.app_id), "--format", "in-toto", "-o", str(out))
    assert code == 2 and "did not record experiment" in err and not out.exists()
    assert mnemonic.from_private_key(key) not in stdout + err and key not in stdout + err


def test_the_envelope_reads_back_as_a_dsse_envelope(attestation: Path) -> None:
    envelope = Envelope.read(attestation)
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert len(envelope.signatures) == 1


def _card(traced: Traced) -> Path:
    return traced.manifest_path.parent / "MODEL_CARD.md"


def test_verify_model_card_exits_0_for_the_written_card(
        traced: Traced, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--model-card", str(_card(traced)))
    assert code == 0, out
    assert "model card front matter: network, owner, seal and every model-index metric" in out


@pytest.mark.parametrize("old,new,problem", [
    ("value: 0.9\n", "value: 0.95\n", "do not hash to the chain's digest"),
    ('  network: "dockernet-v1"\n', '  network: "mainnet-v1.0"\n', "network: the card says"),
    ("  final_digest: ", "  final_digest: \"00\"\n  x_final_digest: ", "final digest"),
])
def test_an_edited_front_matter_fails_with_exit_1(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
        problem: str) -> None:
    text = _card(traced).read_text()
    assert old in text
    edited = tmp_path / "MODEL_CARD.md"
    edited.write_text(text.replace(old, new, 1))
    code, out, _ = run(capsys, "verify", "--model-card", str(edited))
    assert code == 1, out
    assert "FAIL" in out and problem in out


def test_a_card_without_front_matter_exits_2(
        traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "card.md"
    bare.write_text(_card(traced).read_text().split("---\n\n", 1)[1])
    code, _, err = run(capsys, "verify", "--model-card", str(bare))
    assert code == 2 and "no YAML front matter" in err


def test_a_signed_model_is_traced_with_its_signature_and_checked_against_the_chain(
        tmp_path: Path, localnet) -> None:
    pytest.importorskip("model_signing")
    import model_signing
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from algo_tracer import StageKind, verify_experiment
    from algo_tracer.integrations.signed_models import trace_signed_model, verify_signed_model

    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(bytes(range(256)) * 4)
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "pub.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    signature = tmp_path / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(
        private_key=tmp_path / "key.pem").sign(model, signature)

    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    with tracer.experiment("signed-model", output_dir=tmp_path / "run") as exp:
        receipt = trace_signed_model(exp, model, signature)
    summary = exp.summary
    report = verify_experiment(tracer.settings.algorand, summary.app_id, summary.experiment_id,
                               manifest=summary.manifest_path, indexer_timeout=120)
    assert report.ok, report.failures()
    [row] = [s for s in report.stages if s.kind == StageKind.SIGNED_MODEL.name.lower()]
    assert row.chain_digest == receipt.digest

    check = verify_signed_model(model, signature, tmp_path / "pub.pem", row.chain_digest)
    assert check.ok, check.problems
    cli = ["verify", summary.experiment_id, "--app-id", str(summary.app_id), "--signed-model",
           str(model), str(signature), str(tmp_path / "pub.pem"), "--indexer-timeout", "120"]
    assert main(cli) == 0
    (model / "weights.bin").write_bytes(b"swapped")
    assert not verify_signed_model(model, signature, tmp_path / "pub.pem", row.chain_digest).ok
    assert main(cli) == 1
