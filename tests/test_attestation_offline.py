"""in-toto statements and DSSE envelopes, offline: third-party libraries read what we write."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from algosdk import account, encoding

from algo_tracer.documents.attestation import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    Envelope,
    pae,
    sign_statement,
    signature_problem,
    statement_of,
)
from algo_tracer.documents.manifest import Manifest, StageEntry, StageKind
from algo_tracer.errors import InputError
from algo_tracer.format.boxes import Header, Stage
from algo_tracer.verify.attestation import CHAIN_HEAD_KEY, build_statement
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.report import StageRow, StageStatus, VerificationReport

KEY, ADDRESS = account.generate_account()


def _chain(stage_kinds: list[StageKind]) -> tuple[VerificationReport, Evidence, Manifest]:
    stages = [Stage(index=i, kind=k, digest=bytes([i + 1]) * 32, round=10 + i)
              for i, k in enumerate(stage_kinds)]
    header = Header(owner=ADDRESS, created_round=9, created_timestamp=0, sealed=True,
                    stage_count=len(stages), anchor_count=0, anchored_records=0,
                    metadata_digest=b"\0" * 32, head=b"\x0a" * 32, final_digest=b"\x0f" * 32,
                    sealed_round=20)
    ev = Evidence(experiment_id=b"\1" * 32, app_id=7, header=header, stages=stages,
                  genesis_id="dockernet-v1", genesis_hash="h")
    report = VerificationReport(experiment_id="E", app_id=7, source="network", owner=ADDRESS,
                                genesis_id="dockernet-v1", genesis_hash="h", sealed=True,
                                created_round=9, sealed_round=20,
                                stages=[StageRow(index=s.index, label="x", kind="x",
                                                 status=StageStatus.RECORDED,
                                                 chain_digest=s.digest.hex(), round=s.round,
                                                 txid=f"T{s.index}",
                                                 time=datetime.now(UTC)) for s in stages])
    entries = [StageEntry(index=s.index, kind=StageKind(s.kind), label=f"l{s.index}",
                          digest=s.digest.hex(),
                          detail={"path": f"out/f{s.index}", "scheme": "file"}
                          if s.index == 0 else {"scheme": "directory", "path": "out/dir"})
               for s in stages]
    manifest = Manifest(experiment_id="E", name="n", owner=ADDRESS, app_id=7,
                        genesis_id="dockernet-v1", genesis_hash="h", metadata_digest="00" * 32,
                        stages=entries)
    return report, ev, manifest


def test_in_toto_attestation_and_securesystemslib_accept_our_envelope(tmp_path: Path) -> None:
    import google.protobuf.json_format as pb_json
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.signer import SSlibKey

    report, ev, manifest = _chain([StageKind.MODEL, StageKind.DATA, StageKind.PARAMS])
    envelope = sign_statement(build_statement(report, ev, manifest), KEY)
    envelope.write(tmp_path / "att.json")
    raw = json.loads((tmp_path / "att.json").read_text())

    parsed = pb_json.Parse(base64.b64decode(raw["payload"]), statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    assert parsed.predicate_type == PREDICATE_TYPE and len(parsed.subject) == 2
    assert parsed.subject[0].name == "out/f0" and dict(parsed.subject[0].digest) == {
        "sha256": "01" * 32}
    assert dict(parsed.subject[1].digest) == {"algotrace-v1-directory": "02" * 32}

    key = SSlibKey(keyid=ADDRESS, keytype="ed25519", scheme="ed25519",
                   keyval={"public": encoding.decode_address(ADDRESS).hex()})
    sslib = SslibEnvelope.from_dict(raw)
    assert sslib.pae() == pae(PAYLOAD_TYPE, base64.b64decode(raw["payload"]))
    assert list(sslib.verify([key], 1)) == [ADDRESS]


def test_an_experiment_without_artifacts_is_its_own_subject() -> None:
    report, ev, manifest = _chain([StageKind.PARAMS])
    statement = build_statement(report, ev, manifest)
    assert statement["subject"] == [{"name": "experiment:E",
                                     "digest": {CHAIN_HEAD_KEY: "0a" * 32}}]


def test_the_signed_message_can_never_be_an_algorand_signing_preimage() -> None:
    # go-algorand signs "TX"/"TG"/"MX"/"Program"/"ProgData"/... + data; none starts with "D".
    message = pae(PAYLOAD_TYPE, b"{}")
    assert message.startswith(b"DSSEv1 28 application/vnd.in-toto+json 2 {}")
    for prefix in (b"TX", b"TG", b"MX", b"Program", b"ProgData", b"MsigProgram", b"arc"):
        assert not message.startswith(prefix)


def test_signature_problems_name_stripped_edited_and_foreign_keys() -> None:
    report, ev, manifest = _chain([StageKind.MODEL])
    envelope = sign_statement(build_statement(report, ev, manifest), KEY)
    assert signature_problem(envelope, ADDRESS) is None

    stripped = envelope.model_copy(update={"signatures": []})
    assert "no signature (stripped?)" in (signature_problem(stripped, ADDRESS) or "")

    statement = statement_of(envelope)
    statement["predicate"]["chainHead"] = "00" * 32
    edited = envelope.model_copy(update={"payload": base64.b64encode(
        json.dumps(statement).encode()).decode()})
    assert "edited after signing, or signed with another key" in (
        signature_problem(edited, ADDRESS) or "")

    other_key, other = account.generate_account()
    assert signature_problem(sign_statement(statement, other_key), ADDRESS) is not None
    assert other in (signature_problem(sign_statement(statement, other_key), ADDRESS) or "")


def test_foreign_and_malformed_envelopes_are_input_errors(tmp_path: Path) -> None:
    report, ev, manifest = _chain([StageKind.MODEL])
    statement = build_statement(report, ev, manifest)
    foreign = dict(statement, predicateType="https://slsa.dev/provenance/v1")
    with pytest.raises(InputError, match="not algo-tracer's"):
        statement_of(sign_statement(foreign, KEY))
    wrong_type = sign_statement(statement, KEY).model_copy(update={"payload_type": "text/plain"})
    with pytest.raises(InputError, match="payloadType"):
        statement_of(wrong_type)
    path = tmp_path / "bad.json"
    path.write_text('{"payload": 1}')
    with pytest.raises(InputError, match="is not a DSSE envelope"):
        Envelope.read(path)
    with pytest.raises(InputError, match="does not exist"):
        Envelope.read(tmp_path / "missing.json")


def test_claims_of_an_untouched_statement_hold_and_each_edit_is_named() -> None:
    from algo_tracer.verify.attestation import _claim_problems

    report, ev, manifest = _chain([StageKind.MODEL] + [StageKind.PARAMS] * 11)  # 12 stages
    statement = build_statement(report, ev, manifest)
    assert _claim_problems(statement, report, ev) == []

    statement["predicate"]["stages"][11]["round"] += 1
    statement["predicate"]["recorder"] = "X"
    statement["subject"][0]["digest"] = {"sha256": "ff" * 32}
    problems = _claim_problems(statement, report, ev)
    assert any(p.startswith("stage 11 round") for p in problems)
    assert any(p.startswith("recorder") for p in problems)
    assert any("is no data, model or artifact stage" in p for p in problems)
    del statement["predicate"]["stages"][3]
    assert any(p.startswith("stage indexes") for p in _claim_problems(statement, report, ev))
