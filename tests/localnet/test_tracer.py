"""A real scikit-learn experiment traced on LocalNet and read back independently of the tracer."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, cast

import pytest
from algokit_utils import AlgorandClient

from algo_tracer import InputError, Manifest, Tracer, parse_id
from algo_tracer.format.merkle import MerkleTree, verify_inclusion
from algo_tracer.format.notes import decode_note, experiment_note_prefix
from algo_tracer.format.records import NoteRecord, RecordKind, encode_leaf
from algo_tracer.network.indexer import iter_transactions, wait_for_round

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

import iris_sklearn  # noqa: E402
import training_loop  # noqa: E402


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory, localnet) -> Tracer:
    return Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"))


def _box(algorand: AlgorandClient, app_id: int, key: bytes) -> bytes:
    # algod answers JSON (a dict) unless asked for msgpack, so the bytes half of its type is moot.
    box = cast(dict[str, Any], algorand.client.algod.application_box_by_name(app_id, key))
    return base64.b64decode(box["value"])


def test_every_box_stage_reads_back_from_algod_as_in_the_manifest(
    tracer: Tracer, tmp_path: Path
) -> None:
    summary = iris_sklearn.main(tmp_path / "iris", tracer)
    manifest = Manifest.read(summary.manifest_path)
    exp_id = parse_id(manifest.experiment_id)
    algod_client = tracer.settings.algorand

    # Decoded straight from the documented bytes (docs/onchain-format.md), not with our decoder.
    header = _box(algod_client, manifest.app_id, b"h" + exp_id)
    stage_count, anchor_count = struct.unpack_from(">QQ", header, 49)
    sealed, final_digest = header[48], header[137:169]
    page = _box(algod_client, manifest.app_id, b"s" + exp_id + (0).to_bytes(4, "big"))
    on_chain = [(page[i * 41], page[i * 41 + 1:i * 41 + 33].hex()) for i in range(stage_count)]

    assert summary.sealed and sealed == 1
    assert on_chain == [(int(s.kind), s.digest) for s in manifest.stages]
    assert final_digest == manifest.final_digest()
    assert {s.label for s in manifest.stages} >= {"seed", "environment", "code", "data:train",
                                                  "data:test", "params", "model", "metrics"}
    assert hashlib.sha256((tmp_path / "iris" / "model.joblib").read_bytes()).hexdigest() == \
        manifest.stage("model").digest
    assert (tmp_path / "iris" / "MODEL_CARD.md").read_text().count(manifest.experiment_id) >= 1
    assert anchor_count == 1 and len(manifest.batches) == 1  # the 20 per-fold CV scores


def test_paths_may_be_given_as_text_relative_to_the_working_directory(
        localnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    tracer = Tracer.from_environment(state_dir="state", output_root="runs")

    with tracer.experiment("text-paths", output_dir="out") as exp:
        exp.trace_data("table", "data.csv")
    summary = exp.summary

    assert summary.sealed and summary.manifest_path == tmp_path / "out" / "manifest.json"
    assert Manifest.read("out/manifest.json").stage("data:table").detail["bytes"] == 8
    assert (tmp_path / "state" / "journal.sqlite").is_file()

    # The sealed run's manifest is evidence: a new experiment does not overwrite it.
    with pytest.raises(InputError, match=f"already holds the manifest of experiment "
                       f"{summary.experiment_id}"):
        tracer.experiment("again", output_dir="out")
    assert [row.name for row in tracer.journal.experiments()] == ["text-paths"]


def test_note_records_read_back_from_the_indexer_and_prove_against_their_anchors(
    tracer: Tracer, tmp_path: Path
) -> None:
    summary = training_loop.main(tmp_path / "digits", epochs=200, tracer=tracer)
    manifest = Manifest.read(summary.manifest_path)
    exp_id = parse_id(manifest.experiment_id)
    algorand = tracer.settings.algorand
    last_round = max(b.round or 0 for b in manifest.batches)
    wait_for_round(algorand.client.indexer, last_round, algod=algorand.client.algod)

    txns = list(iter_transactions(algorand.client.indexer,
                                  note_prefix=experiment_note_prefix(exp_id)))
    notes_by_group: dict[str, list] = {}
    for txn in txns:
        assert txn["sender"] == manifest.owner
        note = decode_note(base64.b64decode(txn["note"]))
        notes_by_group.setdefault(txn["group"], []).append(note)
    records = sorted((r for ns in notes_by_group.values() for n in ns for r in n.records),
                     key=lambda r: r.seq)

    assert summary.note_records == 400 == len(records)
    assert [r.seq for r in records] == list(range(400))  # none lost, none twice
    for batch in manifest.batches:
        leaves = [encode_leaf(r) for r in records[batch.first_seq:batch.first_seq + batch.count]]
        anchor = next(t for t in txns if t["id"] == batch.txids[1])  # a note payment of the group
        (group,) = [g for g in notes_by_group if g == anchor["group"]]
        assert len(notes_by_group[group]) == len(batch.txids) - 1
        tree = MerkleTree(leaves)
        assert tree.root.hex() == batch.root
        for i, leaf in enumerate(leaves):
            verify_inclusion(leaf, tree.proof(i), bytes.fromhex(batch.root), index=i,
                             tree_size=batch.count)


def test_private_metrics_put_only_roots_on_chain_and_their_proofs_verify(
    tracer: Tracer, tmp_path: Path
) -> None:
    summary = training_loop.main(tmp_path / "private", epochs=50, private=True, tracer=tracer)
    manifest = Manifest.read(summary.manifest_path)
    algorand = tracer.settings.algorand
    # main() ends the run, which seals the experiment on chain (so the seal has its round)
    assert manifest.seal is not None and manifest.seal.round is not None
    wait_for_round(algorand.client.indexer, manifest.seal.round, algod=algorand.client.algod)

    prefix = experiment_note_prefix(parse_id(manifest.experiment_id))
    notes = list(iter_transactions(algorand.client.indexer, note_prefix=prefix))
    (batch,) = manifest.batches
    assert notes == [] and batch.private and batch.count == 100
    assert len(manifest.private_records) == 100
    for i, rec in enumerate(manifest.private_records):
        leaf = encode_leaf(NoteRecord(rec.seq, RecordKind(rec.kind), rec.name, rec.step,
                                      rec.value), salt=bytes.fromhex(rec.salt))
        verify_inclusion(leaf, rec.proof, bytes.fromhex(batch.root), index=i, tree_size=100)


KILLED_RUN = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from algo_tracer import Tracer
    tracer = Tracer.from_environment(state_dir=Path(sys.argv[1]))
    exp = tracer.experiment("killed-run", output_dir=Path(sys.argv[2]))
    exp.trace_params({"lr": 0.1})
    for step in range(3000):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    print(exp.id_text, flush=True)   # all journaled; the parent kills us mid-flight
    time.sleep(60)
""")


def test_killed_process_resumes_without_loss_or_duplicates(localnet, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(state), str(out)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None  # stdout=PIPE
    exp_text = child.stdout.readline().strip()
    time.sleep(0.3)  # let the writer thread be mid-flight
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    env = {**os.environ, "ALGO_TRACER_DIR": str(state)}
    resume = [sys.executable, "-m", "algo_tracer.cli", "resume"]
    first = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=300)
    again = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=300)

    assert first.returncode == 0, first.stderr
    manifest = Manifest.read(out / "manifest.json")
    tracer = Tracer.from_environment(state_dir=state)
    header = _box(tracer.settings.algorand, manifest.app_id, b"h" + parse_id(exp_text))
    stage_count, _, anchored = struct.unpack_from(">QQQ", header, 49)
    assert f"experiment {exp_text}" in first.stdout and manifest.seal is not None
    assert sum(b.count for b in manifest.batches) == 3000 == anchored
    assert [(b.first_seq, b.count) for b in manifest.batches] == _contiguous(manifest)
    # The params stage, then the outcome `resume` records: the process never finished the run.
    assert stage_count == len(manifest.stages) == 2
    assert manifest.stage("custom:outcome").detail["outcome"] == "interrupted"
    assert again.returncode == 0 and "nothing to resume" in again.stdout


def test_resume_leaves_alone_an_experiment_a_live_process_is_recording(
        localnet, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(state), str(out)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None  # stdout=PIPE
        exp_text = child.stdout.readline().strip()
        env = {**os.environ, "ALGO_TRACER_DIR": str(state)}
        resume = [sys.executable, "-m", "algo_tracer.cli", "resume"]
        busy = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=300)
        by_id = subprocess.run([*resume, exp_text], env=env, capture_output=True, text=True,
                               timeout=300)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    assert busy.returncode == 0 and f"skipped: experiment {exp_text} is being recorded by a " \
        f"running process (pid {child.pid})" in busy.stderr
    assert "1 unfinished experiment(s) are being recorded by running processes" in busy.stdout
    assert by_id.returncode == 2 and "let that run finish" in by_id.stderr
    assert not (out / "manifest.json").exists()  # not sealed behind the live run's back
    header = Tracer.from_environment(state_dir=state).registry.header(parse_id(exp_text))
    assert header is None or not header.sealed


def test_a_run_interrupted_by_ctrl_c_is_finished_by_resume_in_the_same_process(
        localnet, tmp_path: Path) -> None:
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    with pytest.raises(KeyboardInterrupt), tracer.experiment(
            "ctrl-c", output_dir=tmp_path / "out") as exp:
        exp.trace_params({"lr": 0.1})
        exp.log_metric("loss", 1.0)
        raise KeyboardInterrupt  # as in a notebook cell interrupted by the user

    for call in (lambda: exp.log_metric("loss", 0.5), exp.finish):
        with pytest.raises(InputError, match="interrupted and left to `resume`"):
            call()
    [summary] = tracer.resume()

    manifest = Manifest.read(summary.manifest_path)
    assert summary.sealed and summary.experiment_id == exp.id_text
    assert summary.note_records == 1 and manifest.stage("params").detail["params"] == {"lr": 0.1}
    assert manifest.stage("custom:outcome").detail["outcome"] == "interrupted"


def _contiguous(manifest: Manifest) -> list[tuple[int, int]]:
    out, seq = [], 0
    for b in manifest.batches:
        out.append((seq, b.count))
        seq += b.count
    return out
