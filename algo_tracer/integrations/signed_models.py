"""OpenSSF model_signing: trace a model directory together with its signature, verify both.

A model signed with the `model-signing` package (``model_signing.signing.Config()
.use_elliptic_key_signer(private_key=...).sign(model_dir, "model.sig")``) is traced as one stage
of kind `StageKind.SIGNED_MODEL` (30) whose digest binds the directory and the signature:

    digest = H("algotrace/v1/signed-model",
               canonical_json({"model": <directory digest hex>, "signature": <file sha256 hex>}))

Before tracing, the signature's own file list (its in-toto payload: one sha256 per file) must be
the directory's, so a signature of another model is refused. `verify_signed_model` runs
model_signing's verifier with the signer's public key, re-hashes both, and checks that the
signature and our digest refer to the same files (docs/interop.md §4). Which key signed the model
is model_signing's business (its verifier); that the pair existed, unchanged, when it was
recorded, and by whom, is the chain's.

Extra: ``pip install algo-tracer model-signing``; `model_signing` is imported only to verify.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from algo_tracer import hashing
from algo_tracer.documents.manifest import StageKind
from algo_tracer.errors import InputError
from algo_tracer.record.receipts import StageReceipt
from algo_tracer.record.tracer import Experiment

__all__ = ["SIGNED_MODEL_DOMAIN", "SignedModelCheck", "describe_signed_model",
           "signature_files", "trace_signed_model", "verify_signed_model"]

SIGNED_MODEL_DOMAIN = "algotrace/v1/signed-model"
_SIGNATURE_FIX = ("sign the directory with model_signing (`model_signing sign key MODEL_DIR "
                  "--private_key key.pem --signature model.sig`) and give that signature")


def signature_files(signature: str | os.PathLike[str]) -> dict[str, str]:
    """The files a model_signing signature covers: relative path -> sha256 hex (its payload)."""
    where = Path(signature)
    try:
        bundle = json.loads(where.read_text(encoding="utf-8"))
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        resources = statement["predicate"]["resources"]
        return {str(r["name"]): str(r["digest"]) for r in resources
                if r.get("algorithm", "sha256") == "sha256"}
    except FileNotFoundError:
        raise InputError(f"signature {where} does not exist", fix=_SIGNATURE_FIX) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{where} is not a model_signing signature with sha256 file digests",
                         fix=_SIGNATURE_FIX) from None


def _tree(model_dir: Path, signature: Path) -> hashing.DirectoryDigest:
    ignore = []
    if signature.resolve().is_relative_to(model_dir.resolve()):
        # model_signing leaves its own signature out of what it signs; so do we.
        ignore.append(signature.resolve().relative_to(model_dir.resolve()).as_posix())
    return hashing.hash_directory(model_dir, ignore=ignore)


def _differences(tree: hashing.DirectoryDigest, signed: dict[str, str]) -> list[str]:
    ours = {e.path: e.digest.hex for e in tree.entries if e.digest is not None}
    out = [f"only in the signature: {p}" for p in sorted(set(signed) - set(ours))]
    out += [f"not covered by the signature: {p}" for p in sorted(set(ours) - set(signed))]
    out += [f"changed since signing: {p}" for p in sorted(set(ours) & set(signed))
            if ours[p] != signed[p]]
    return out


def describe_signed_model(model_dir: str | os.PathLike[str], signature: str | os.PathLike[str]
                          ) -> tuple[hashing.Digest, dict[str, Any]]:
    """The stage's digest and detail; InputError when the signature is not of this directory."""
    model_dir, signature = Path(model_dir), Path(signature)
    if not model_dir.is_dir():
        raise InputError(f"{model_dir} is not a directory", fix="give the signed model directory")
    signed = signature_files(signature)
    tree = _tree(model_dir, signature)
    problems = _differences(tree, signed)
    if problems:
        raise InputError(f"the signature {signature} is not of {model_dir}: "
                         + "; ".join(problems[:5]),
                         fix="give the signature made for this directory, or sign it again")
    sig_digest = hashing.hash_file(signature)
    body = {"model": tree.digest.hex, "signature": sig_digest.hex}
    digest = hashing.hash_bytes(SIGNED_MODEL_DOMAIN, hashing.canonical_json(body),
                                kind="signed-model")
    return digest, {"path": str(model_dir), "signature_path": str(signature),
                    "model_digest": tree.digest.hex, "signature_digest": sig_digest.hex,
                    "file_count": len(tree.entries), "scheme": "signed-model"}


def trace_signed_model(exp: Experiment, model_dir: str | os.PathLike[str],
                       signature: str | os.PathLike[str], name: str | None = None
                       ) -> StageReceipt:
    """Record the model directory and its model_signing signature as one stage (kind 30)."""
    digest, detail = describe_signed_model(model_dir, signature)
    return exp.trace_digest(StageKind.SIGNED_MODEL, name, digest, detail)


@dataclass
class SignedModelCheck:
    """What `verify_signed_model` found; `ok` only when every part held."""

    signature_valid: bool = False
    same_files: bool = False
    digest_matches: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_valid and self.same_files and self.digest_matches


def verify_signed_model(model_dir: str | os.PathLike[str], signature: str | os.PathLike[str],
                        public_key: str | os.PathLike[str], recorded_digest: str
                        ) -> SignedModelCheck:
    """Run model_signing's verifier, then check the pair against the recorded stage digest.

    Args:
        model_dir: The model directory as it is now.
        signature: Its model_signing signature.
        public_key: The signer's PEM public key (model_signing's key-based verifier).
        recorded_digest: The stage's digest on chain (hex), e.g. from `verify_experiment`.
    """
    import model_signing  # the optional extra, imported only here

    check = SignedModelCheck()
    model_dir, signature = Path(model_dir), Path(signature)
    try:
        model_signing.verifying.Config().use_elliptic_key_verifier(
            public_key=public_key).verify(model_dir, signature)
        check.signature_valid = True
    except Exception as exc:  # model_signing raises ValueError and assorted crypto errors
        check.problems.append(f"model_signing's verifier refused it: {str(exc)[:300]}")
    try:
        differences = _differences(_tree(model_dir, signature), signature_files(signature))
        check.same_files = not differences
        check.problems += differences[:20]
        digest, _ = describe_signed_model(model_dir, signature) if not differences else (None, 0)
    except InputError as exc:
        check.problems.append(exc.message)
        digest = None
    if digest is not None:
        check.digest_matches = digest.hex == recorded_digest
        if not check.digest_matches:
            check.problems.append(f"the pair hashes to {digest.hex}, the chain recorded "
                                  f"{recorded_digest}: another model or signature was recorded")
    return check
