"""OpenSSF model_signing: a signed model directory traced with its signature, checked offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("model_signing")

from algo_tracer import hashing
from algo_tracer.errors import InputError
from algo_tracer.integrations.signed_models import (
    SIGNED_MODEL_DOMAIN,
    describe_signed_model,
    signature_files,
    verify_signed_model,
)


def _keys(root: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = root / "key.pem", root / "pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def _signed_model(root: Path) -> tuple[Path, Path, Path, Path]:
    import model_signing

    model = root / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 8)
    (model / "sub" / "config.json").write_text('{"layers": 2}')
    private, public = _keys(root)
    signature = root / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private).sign(
        model, signature)
    return model, signature, private, public


def test_the_stage_binds_the_directory_and_the_signature(tmp_path: Path) -> None:
    model, signature, _, public = _signed_model(tmp_path)
    digest, detail = describe_signed_model(model, signature)

    tree = hashing.hash_directory(model)
    body = {"model": tree.digest.hex, "signature": hashing.hash_file(signature).hex}
    assert digest == hashing.hash_bytes(SIGNED_MODEL_DOMAIN, hashing.canonical_json(body),
                                        kind="signed-model")
    assert detail["model_digest"] == tree.digest.hex and detail["file_count"] == 2
    # the signature lists exactly our per-file sha256 digests
    assert signature_files(signature) == {e.path: e.digest.hex for e in tree.entries
                                          if e.digest is not None}

    check = verify_signed_model(model, signature, public, digest.hex)
    assert check.ok, check.problems


def test_a_file_changed_after_signing_fails_both_verifiers(tmp_path: Path) -> None:
    model, signature, _, public = _signed_model(tmp_path)
    digest, _ = describe_signed_model(model, signature)
    (model / "weights.bin").write_bytes(b"poisoned")

    check = verify_signed_model(model, signature, public, digest.hex)
    assert not check.ok and not check.signature_valid and not check.same_files
    assert "changed since signing: weights.bin" in check.problems


def test_another_key_fails_model_signings_verifier_only(tmp_path: Path) -> None:
    model, signature, _, _ = _signed_model(tmp_path)
    digest, _ = describe_signed_model(model, signature)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_public = _keys(other)

    check = verify_signed_model(model, signature, wrong_public, digest.hex)
    assert not check.signature_valid and check.same_files and check.digest_matches
    assert not check.ok and "model_signing's verifier refused it" in check.problems[0]


def test_a_resigned_model_does_not_match_the_recorded_digest(tmp_path: Path) -> None:
    import model_signing

    model, signature, private, public = _signed_model(tmp_path)
    digest, _ = describe_signed_model(model, signature)
    (model / "extra.txt").write_text("added later")
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private).sign(
        model, signature)

    check = verify_signed_model(model, signature, public, digest.hex)
    assert check.signature_valid and check.same_files and not check.digest_matches
    assert "another model or signature was recorded" in check.problems[-1]


def test_a_signature_of_another_model_is_refused_before_tracing(tmp_path: Path) -> None:
    model, signature, _, _ = _signed_model(tmp_path)
    other = tmp_path / "other-model"
    shutil.copytree(model, other)
    (other / "weights.bin").write_bytes(b"different")
    with pytest.raises(InputError, match=r"is not of .*changed since signing: weights\.bin"):
        describe_signed_model(other, signature)
    junk = tmp_path / "junk.sig"
    junk.write_text("{}")
    with pytest.raises(InputError, match="is not a model_signing signature"):
        describe_signed_model(model, junk)


def test_the_cli_check_adds_a_failing_step_when_no_stage_or_another_pair_is_recorded(
        tmp_path: Path) -> None:
    from algo_tracer.cli.interop import check_signed_model
    from algo_tracer.verify.report import StageRow, StageStatus, VerificationReport

    model, signature, _, public = _signed_model(tmp_path)
    report = VerificationReport(experiment_id="E", app_id=1, source="network")
    check_signed_model(report, str(model), str(signature), str(public))
    assert [f.code for f in report.findings] == ["signed_model"]
    assert "has no signed_model stage" in report.findings[0].message

    digest, _ = describe_signed_model(model, signature)
    row = StageRow(index=0, label="signed_model", kind="signed_model",
                   status=StageStatus.RECORDED, chain_digest=digest.hex)
    good = VerificationReport(experiment_id="E", app_id=1, source="network", stages=[row])
    check_signed_model(good, str(model), str(signature), str(public))
    assert good.checks[-1].status == "pass" and not good.findings

    other = VerificationReport(experiment_id="E", app_id=1, source="network", stages=[
        row.model_copy(update={"chain_digest": "00" * 32})])
    check_signed_model(other, str(model), str(signature), str(public))
    assert other.checks[-1].status == "fail" and not other.ok
    with pytest.raises(InputError, match="public key"):
        check_signed_model(other, str(model), str(signature), str(tmp_path / "none.pem"))
