"""Storing on IPFS while tracing, and fetching to verify, against a fake of our node interface.

`FakeIpfs` implements `algo_tracer.network.ipfs.IpfsNode` (our interface, not kubo's API): it
keeps what is added in a directory, can be down, can serve other bytes for a CID (a lying node)
or compute CIDs otherwise (a node with other settings). The real kubo is exercised by
tests/localnet/test_ipfs_fetch_verify.py.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from algokit_utils import AlgorandClient, SigningAccount
from algosdk import account
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from test_writer_exactly_once import APP_ID, FakeChain, FakeRegistry, Owner

from algo_tracer import InputError, Tracer
from algo_tracer.cli.fetch import fetch_outcome
from algo_tracer.cli.outcome import Outcome
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.stored import StoredDetail, stored_digest
from algo_tracer.errors import ConfigError, NetworkError
from algo_tracer.format.stage_notes import decode_stage_note, stage_note_for
from algo_tracer.hashing import hash_file, hash_params, params_scheme
from algo_tracer.hashing.unixfs import cid_of_bytes, cid_of_path
from algo_tracer.network.ipfs import IpfsSettings, NotRetrievableError, ipfs_from_environment
from algo_tracer.network.settings import Settings
from algo_tracer.record.manifest_builder import build_manifest
from algo_tracer.record.storing import PENDING_DIR, retry_stores
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.fetched import apply_rows, fetch_stored
from algo_tracer.verify.report import VerificationReport


class FakeIpfs:
    api = "fake://ipfs"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.down = False
        self.lies: dict[str, bytes] = {}  # cid -> the bytes served instead
        self.other_cid: str | None = None  # a node with other settings
        self.adds = 0
        self.pins: list[str] = []

    def add(self, path, entries, on_bytes=None) -> str:
        if self.down:
            raise NetworkError("the IPFS node at fake://ipfs is not reachable", fix="start it")
        self.adds += 1
        cid = self.other_cid or cid_of_path(path)
        if path.is_dir():
            shutil.copytree(path, self.root / cid, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copyfile(path, self.root / cid)
        return cid

    def pin(self, cid: str) -> None:
        self.pins.append(cid)

    def cat(self, cid: str) -> Iterator[bytes]:
        if cid in self.lies:
            yield self.lies[cid]
            return
        if self.down or not (self.root / cid).is_file():
            raise NotRetrievableError(f"no node serves {cid}", fix="pin it somewhere")
        data = (self.root / cid).read_bytes()
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    def get_tar(self, cid: str) -> BinaryIO:
        if not (self.root / cid).is_dir():
            raise NotRetrievableError(f"no node serves {cid}", fix="pin it somewhere")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(self.root / cid, arcname=cid)
        buf.seek(0)
        return buf


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tracer, FakeChain, FakeIpfs]:
    key, address = account.generate_account()
    settings = Settings(algorand=AlgorandClient.default_localnet(),
                        account=SigningAccount(private_key=key), app_id=APP_ID,
                        state_dir=tmp_path / "state", is_localnet=True, genesis_id="fake-v1",
                        genesis_hash="ZmFrZQ==")
    (tmp_path / "node").mkdir()
    node = FakeIpfs(tmp_path / "node")
    tracer = Tracer(settings, output_root=tmp_path / "runs", ipfs=node)
    chain = FakeChain()
    tracer.registry = FakeRegistry(chain, Owner(address, AccountTransactionSigner(key)))
    monkeypatch.setattr("algo_tracer.record.tracer.check_funds", lambda settings: None)
    return tracer, chain, node


def _files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "model.bin"
    model.write_bytes(bytes(range(256)) * 3000)  # 768 KB: three 256 KiB chunks
    data = tmp_path / "data"
    (data / "split" / "empty").mkdir(parents=True)
    (data / "split" / "train.csv").write_text("x,y\n1,2\n")
    (data / "README").write_text("toy data\n")
    return model, data


def _evidence(tracer: Tracer, chain: FakeChain, eid: bytes) -> Evidence:
    return Evidence(eid, APP_ID, None, list(chain.experiments[eid].stages))


def test_a_stored_stage_follows_the_stage_and_its_note_names_the_cid(
        offline, tmp_path: Path) -> None:
    tracer, chain, node = offline
    model, data = _files(tmp_path)
    with tracer.experiment("stored") as exp:
        r_model = exp.trace_model(model, "final", store=True)
        r_data = exp.trace_data("train", data, store=True)
    assert r_model.cid == cid_of_path(model) and r_data.cid == cid_of_path(data)
    manifest = build_manifest(tracer.journal, exp.id)
    kinds = [(s.kind, s.label) for s in manifest.stages]
    assert kinds == [(StageKind.MODEL, "model:final"), (StageKind.STORED, "stored:model:final"),
                     (StageKind.DATA, "data:train"), (StageKind.STORED, "stored:data:train")]
    stored = manifest.stages[1]
    assert stored.detail == {"cid": r_model.cid, "digest": r_model.digest, "index": 0,
                             "name": "model.bin", "scheme": "file", "stage": "model:final",
                             "type": "file"}
    # What the chain holds: the detail's hash in the experiment's JSON scheme (RFC 8785, v2).
    assert exp.row.json_scheme == 2
    assert stored.digest == hash_params(stored.detail, params_scheme(2)).hex
    note = decode_stage_note(stage_note_for(exp.id, StageKind.STORED, stored.detail, 2) or b"")
    assert note is not None and note.detail["cid"] == r_model.cid and note.scheme == 2
    on_chain = chain.experiments[exp.id].stages
    assert [s.digest.hex() for s in on_chain] == [s.digest for s in manifest.stages]
    assert node.pins == [r_model.cid, r_data.cid]
    card = exp.summary.model_card_path.read_text()
    assert "## Stored on IPFS" in card and f"| model:final | `{r_model.cid}` |" in card
    assert json.loads((exp.summary.model_card_path.parent / "model_card.json").read_text())[
        "stored"] == {"model:final": r_model.cid, "data:train": r_data.cid}


def test_node_down_records_digest_and_cid_first_and_resume_stores_it_once(
        offline, tmp_path: Path) -> None:
    tracer, chain, node = offline
    model, _ = _files(tmp_path)
    node.down = True
    with tracer.experiment("down") as exp:
        receipt = exp.trace_model(model, store=True)
    assert receipt.cid == cid_of_path(model)
    assert [s.label for s in build_manifest(tracer.journal, exp.id).stages] == [
        "model", "stored:model"]
    pending = list((tracer.settings.state_dir / PENDING_DIR).iterdir())
    assert len(pending) == 1 and json.loads(pending[0].read_text())["cid"] == receipt.cid
    assert retry_stores(tracer.ipfs_node, tracer.settings.state_dir)[1]  # still down: a problem
    node.down = False
    stored, problems = retry_stores(tracer.ipfs_node, tracer.settings.state_dir)
    assert (stored, problems) == ([receipt.cid], [])
    assert retry_stores(tracer.ipfs_node, tracer.settings.state_dir) == ([], [])
    assert node.adds == 1 and len(chain.experiments[exp.id].stages) == 2


def test_a_file_changed_before_resume_stays_pending_and_is_named(offline, tmp_path) -> None:
    tracer, _, node = offline
    model, _ = _files(tmp_path)
    node.down = True
    with tracer.experiment("changed") as exp:
        exp.trace_model(model, store=True)
    model.write_bytes(b"other weights")
    node.down = False
    stored, problems = retry_stores(tracer.ipfs_node, tracer.settings.state_dir)
    assert stored == [] and "model" in problems[0] and "changed since it was traced" in problems[0]


def test_a_node_that_builds_another_cid_is_refused_and_nothing_more_is_recorded(
        offline, tmp_path: Path) -> None:
    tracer, _, node = offline
    model, _ = _files(tmp_path)
    node.other_cid = cid_of_bytes(b"something else")
    exp = tracer.experiment("other-cid")
    with pytest.raises(ConfigError, match=r"not .*ipfs add --cid-version 1"):
        exp.trace_model(model, store=True)
    assert [s.label for s in tracer.journal.stages(exp.id)] == ["model"]
    exp.finish()


def test_store_true_on_an_in_memory_value_is_refused_before_anything_is_recorded(
        offline) -> None:
    tracer, _, _ = offline
    exp = tracer.experiment("memory")
    with pytest.raises(InputError, match="save it to a file first"):
        exp.trace_data("table", [[1, 2], [3, 4]], store=True)
    assert tracer.journal.stages(exp.id) == []
    exp.finish()


def test_the_tracer_wide_setting_stores_paths_and_leaves_values_and_code_alone(
        offline, tmp_path: Path) -> None:
    tracer, _, node = offline
    tracer.store = True
    model, _ = _files(tmp_path)
    with tracer.experiment("wide") as exp:
        exp.trace_data("rows", {"a": [1, 2, 3]})
        exp.trace_model(model)
        exp.trace_artifact("kept-local", model.with_name("model.bin"), store=False)
    assert [s.label for s in tracer.journal.stages(exp.id)] == [
        "data:rows", "model", "stored:model", "artifact:kept-local"]
    assert node.adds == 1


def _stored_run(offline, tmp_path: Path):
    tracer, chain, node = offline
    model, data = _files(tmp_path)
    with tracer.experiment("fetch") as exp:
        exp.trace_model(model, store=True)
        exp.trace_data("train", data, store=True)
    return tracer, chain, node, exp, build_manifest(tracer.journal, exp.id)


def test_fetched_content_equal_to_its_cid_and_digest_verifies(offline, tmp_path) -> None:
    tracer, chain, node, exp, manifest = _stored_run(offline, tmp_path)
    out = tmp_path / "fetched"
    rows = fetch_stored(_evidence(tracer, chain, exp.id), node, out, manifest=manifest)
    assert [(r.stage, r.status) for r in rows] == [("model", "verified"),
                                                    ("data:train", "verified")]
    assert (out / "model.bin").read_bytes() == (tmp_path / "model.bin").read_bytes()
    assert (out / "data" / "split" / "train.csv").read_text() == "x,y\n1,2\n"
    assert (out / "data" / "split" / "empty").is_dir()
    assert fetch_outcome(rows) is Outcome.OK
    only = fetch_stored(_evidence(tracer, chain, exp.id), node, tmp_path / "one",
                        manifest=manifest, stage="train")
    assert [r.stage for r in only] == ["data:train"]


def test_content_that_does_not_hash_to_its_cid_is_a_finding(offline, tmp_path) -> None:
    tracer, chain, node, exp, manifest = _stored_run(offline, tmp_path)
    node.lies[cid_of_path(tmp_path / "model.bin")] = b"poisoned weights"
    rows = fetch_stored(_evidence(tracer, chain, exp.id), node, tmp_path / "f",
                        manifest=manifest)
    assert rows[0].status == "cid_mismatch" and "not the recorded content" in rows[0].message
    assert not (tmp_path / "f" / "model.bin").exists()  # never under the artifact's name
    assert (tmp_path / "f" / "model.bin.rejected").read_bytes() == b"poisoned weights"
    report = VerificationReport(experiment_id="x", app_id=APP_ID, source="network")
    apply_rows(report, rows)
    assert [f.code for f in report.findings] == ["stored_cid_mismatch"]
    assert fetch_outcome(rows) is Outcome.FINDING


def test_a_cid_no_node_serves_is_not_retrievable_never_verified_nor_tampered(
        offline, tmp_path) -> None:
    tracer, chain, node, exp, manifest = _stored_run(offline, tmp_path)
    shutil.rmtree(node.root)
    node.root.mkdir()
    rows = fetch_stored(_evidence(tracer, chain, exp.id), node, tmp_path / "f",
                        manifest=manifest)
    assert {r.status for r in rows} == {"not_retrievable"}
    assert fetch_outcome(rows) is Outcome.ERROR
    report = VerificationReport(experiment_id="x", app_id=APP_ID, source="network")
    apply_rows(report, rows)
    assert report.findings == [] and "not retrievable" in report.not_checked[0]


def test_a_stored_stage_naming_other_content_than_its_stage_is_a_finding(
        offline, tmp_path: Path) -> None:
    tracer, chain, node = offline
    model, _ = _files(tmp_path)
    decoy = tmp_path / "decoy.bin"
    decoy.write_bytes(b"not the traced model")
    with tracer.experiment("replaced") as exp:
        r = exp.trace_model(model)
        node.add(decoy, None)
        detail = StoredDetail(stage="model", index=r.index, digest=hash_file(decoy).hex,
                              scheme="file", cid=cid_of_path(decoy), type="file",
                              name="model.bin")
        exp.trace_digest(StageKind.STORED, "model", stored_digest(detail, exp.row.json_scheme),
                         detail.model_dump(mode="json"))
    rows = fetch_stored(_evidence(tracer, chain, exp.id), node, tmp_path / "f",
                        manifest=build_manifest(tracer.journal, exp.id))
    assert rows[0].status == "digest_mismatch" and "other content was stored" in rows[0].message


def test_ipfs_settings_never_show_the_auth_header_and_refuse_bad_urls(monkeypatch) -> None:
    monkeypatch.setenv("ALGO_TRACER_IPFS_AUTH", "Bearer s3cret-token")
    monkeypatch.setenv("ALGO_TRACER_IPFS_API", "http://127.0.0.1:5901")
    settings = ipfs_from_environment()
    assert settings.auth == "Bearer s3cret-token" and "s3cret" not in repr(settings)
    assert "s3cret" not in repr(IpfsSettings(auth="Bearer s3cret"))
    monkeypatch.setenv("ALGO_TRACER_IPFS_API", "127.0.0.1:5001")
    with pytest.raises(ConfigError, match=r"ALGO_TRACER_IPFS_API.*not an http"):
        ipfs_from_environment()
    monkeypatch.setenv("ALGO_TRACER_IPFS_API", "https://me:pa55word@pin.example")
    with pytest.raises(ConfigError) as refused:
        ipfs_from_environment()
    assert "pa55word" not in str(refused.value) and "ALGO_TRACER_IPFS_AUTH" in str(refused.value)


def test_fetch_into_a_file_instead_of_a_directory_exits_2_before_any_node_is_asked(
        tmp_path: Path, capsys, monkeypatch) -> None:
    from algo_tracer.cli import main

    monkeypatch.setenv("ALGOD_SERVER", "http://127.0.0.1")
    monkeypatch.setenv("ALGOD_PORT", "1")  # would fail with a network error if asked
    (tmp_path / "taken").write_text("x")
    code = main(["fetch", "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n", "--app-id", "1", "-o",
                 str(tmp_path / "taken")])
    assert code == 2 and "is a file" in capsys.readouterr().err


def test_a_stored_stage_too_long_for_its_note_is_refused_and_never_recorded(
        offline, tmp_path: Path) -> None:
    tracer, _, node = offline
    model, _ = _files(tmp_path)
    exp = tracer.experiment("long")
    with pytest.raises(InputError, match="a transaction note holds at most"):
        exp.trace_model(model, "m" * 800, store=True)
    assert [s.label for s in tracer.journal.stages(exp.id)] == ["model:" + "m" * 800]
    assert node.adds == 0
    exp.finish()
