"""Stored on IPFS while tracing, verified elsewhere by CID alone: LocalNet + a real kubo node.

The IPFS node is the LocalNet's kubo (`algo-tracer localnet start`), or the kubo RPC API named
by ALGO_TRACER_IPFS_API. Without one the tests are skipped (ALGO_TRACER_REQUIRE_LOCALNET=1
fails them instead). Every CID is found from the chain (Indexer stage notes): the verifying
side runs in a clean directory with no manifest and no copy of anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from verify_helpers import LOCALNET_ENV
from web_helpers import client, serving

from algo_tracer import Tracer
from algo_tracer.cli import main
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.stored import StoredDetail, stored_digest
from algo_tracer.errors import NetworkError
from algo_tracer.hashing import hash_file
from algo_tracer.hashing.unixfs import cid_of_path
from algo_tracer.network.ipfs import IpfsClient, IpfsSettings
from algo_tracer.web.app import create_app

MODEL = bytes(range(256)) * 4096  # 1 MiB: four 256 KiB chunks, a two-level UnixFS tree


@pytest.fixture(scope="module")
def node(localnet) -> IpfsClient:
    client = IpfsClient()
    try:
        client.version()
    except NetworkError as exc:
        if os.environ.get("ALGO_TRACER_REQUIRE_LOCALNET") == "1":
            raise
        pytest.skip(f"no IPFS node: {exc.message} ({exc.fix})")
    return client


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)
    monkeypatch.delenv("ALGO_TRACER_MNEMONIC", raising=False)
    for key, value in LOCALNET_ENV.items():
        monkeypatch.setenv(key, value)


def _inputs(root: Path) -> tuple[Path, Path]:
    data = root / "iris"
    (data / "splits" / "unused").mkdir(parents=True)
    (data / "splits" / "train.csv").write_text("sepal,petal,label\n5.1,1.4,0\n6.2,4.5,1\n")
    (data / "splits" / "test.csv").write_text("sepal,petal,label\n4.9,1.4,0\n")
    (data / ".meta").write_text("source: toy\n")
    model = root / "model.bin"
    model.write_bytes(MODEL)
    return data, model


def _verify(capsys, clean: Path, monkeypatch, eid: str, app_id: int, *extra: str):
    monkeypatch.chdir(clean)  # no manifest, no artifacts: only the chain and the node
    code = main(["verify", eid, "--app-id", str(app_id), "--fetch", "--indexer-timeout", "120",
                 *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_stored_data_and_model_verify_on_a_clean_directory_with_fetch_alone(
        node, tmp_path: Path, capsys, monkeypatch) -> None:
    data, model = _inputs(tmp_path / "lab")
    tracer = Tracer.from_environment(state_dir=tmp_path / "state", store=True)
    with tracer.experiment("ipfs-stored", output_dir=tmp_path / "run") as exp:
        exp.trace_data("iris", data)
        exp.trace_params({"C": 1.0})
        exp.trace_model(model, "final")
    summary = exp.summary
    clean = tmp_path / "elsewhere"
    clean.mkdir()
    code, out, _ = _verify(capsys, clean, monkeypatch, summary.experiment_id, summary.app_id,
                           "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], out
    fetched = {f["stage"]: f for f in report["fetched"]}
    assert set(fetched) == {"data:iris", "model:final"}
    assert {f["status"] for f in fetched.values()} == {"verified"}
    assert fetched["model:final"]["cid"] == cid_of_path(model)
    assert fetched["data:iris"]["cid"] == cid_of_path(data)
    stages = {s["label"]: s for s in report["stages"]}
    assert stages["model:final"]["status"] == "match"  # re-hashed from the fetched copy
    assert stages["data:iris"]["status"] == "match"
    assert list(clean.iterdir()) == []  # verify --fetch leaves nothing behind

    out_dir = clean / "fetched"
    code = main(["fetch", summary.experiment_id, "--app-id", str(summary.app_id), "-o",
                 str(out_dir), "--indexer-timeout", "120"])
    assert code == 0, capsys.readouterr()
    assert (out_dir / "model.bin").read_bytes() == MODEL
    assert (out_dir / "iris" / "splits" / "train.csv").read_text() == (
        data / "splits" / "train.csv").read_text()
    assert (out_dir / "iris" / "splits" / "unused").is_dir()
    code = main(["fetch", summary.experiment_id, "--app-id", str(summary.app_id), "-o",
                 str(clean / "one"), "--stage", "final", "--indexer-timeout", "120"])
    assert code == 0 and [p.name for p in (clean / "one").iterdir()] == ["model.bin"]


    # The web page links each stored stage to the gateway, CIDs read from the chain alone.
    monkeypatch.setenv("ALGO_TRACER_IPFS_GATEWAY", "http://127.0.0.1:8901/")
    with serving(create_app(client(), indexer_timeout=120)) as base:
        view = httpx.get(f"{base}/api/apps/{summary.app_id}/experiments/"
                         f"{summary.experiment_id}", timeout=180).json()
    assert view["verified"] and view["ipfs_gateway"] == "http://127.0.0.1:8901"
    labels = {e["index"]: e["label"] for e in view["timeline"] if e["type"] == "stage"}
    cids = {labels[int(i)]: cid for i, cid in view["report"]["stored_cids"].items()}
    assert cids == {"data:iris": cid_of_path(data), "model:final": cid_of_path(model)}


def test_a_stored_stage_whose_cid_holds_other_content_is_a_finding(
        node, tmp_path: Path, capsys, monkeypatch) -> None:
    _, model = _inputs(tmp_path / "lab")
    decoy = tmp_path / "lab" / "decoy.bin"
    decoy.write_bytes(b"weights swapped after training" * 1000)
    assert node.add(decoy, None) == cid_of_path(decoy)  # the node really holds the decoy
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    with tracer.experiment("ipfs-replaced", output_dir=tmp_path / "run") as exp:
        receipt = exp.trace_model(model, "final")
        # The stored stage says the model is at the decoy's CID: the content was replaced.
        claim = StoredDetail(stage=receipt.label, index=receipt.index, digest=receipt.digest,
                             scheme="file", cid=cid_of_path(decoy), type="file",
                             name="model.bin")
        exp.trace_digest(StageKind.STORED, receipt.label, stored_digest(claim, exp.row.json_scheme),
                         claim.model_dump(mode="json"))
    summary = exp.summary
    clean = tmp_path / "elsewhere"
    clean.mkdir()
    code, out, _ = _verify(capsys, clean, monkeypatch, summary.experiment_id, summary.app_id)
    assert code == 1, out
    assert "stored_digest_mismatch" in out and hash_file(decoy).hex[:16] in out
    assert "VERIFIED" not in out


def test_node_down_while_tracing_is_not_retrievable_until_resume_stores_it(
        node, tmp_path: Path, capsys, monkeypatch) -> None:
    _, model = _inputs(tmp_path / "lab")
    model.write_bytes(MODEL + os.urandom(16))  # content no node holds yet
    down = IpfsClient(IpfsSettings(api="http://127.0.0.1:9"))  # nothing listens on port 9
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    tracer._ipfs = down
    with tracer.experiment("ipfs-down", output_dir=tmp_path / "run") as exp:
        receipt = exp.trace_model(model, store=True)
    assert "not stored yet" in capsys.readouterr().err
    assert receipt.cid == cid_of_path(model)  # recorded on chain all the same
    summary = exp.summary
    clean = tmp_path / "elsewhere"
    clean.mkdir()
    code, out, err = _verify(capsys, clean, monkeypatch, summary.experiment_id, summary.app_id)
    assert code == 2, out
    assert "NOT RETRIEVABLE" in out and "not retrievable" in err and "VERIFIED" not in out

    again = Tracer.from_environment(state_dir=tmp_path / "state")  # the node is back
    assert again.resume() == []  # nothing left to seal: only the upload was missing
    assert f"stored {receipt.cid}" in capsys.readouterr().err
    code, out, _ = _verify(capsys, clean, monkeypatch, summary.experiment_id, summary.app_id)
    assert code == 0 and "VERIFIED" in out, out
