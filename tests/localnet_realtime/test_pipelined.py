"""The pipelined writer at real block times (the realtime LocalNet profile, DevMode off).

Several groups land in one block, in journal order, exactly once; a process killed with groups in
flight is finished by `algo-tracer resume` with nothing lost and nothing doubled.
"""

from __future__ import annotations

import base64
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

from algo_tracer import Manifest, Tracer, parse_id, verify_experiment
from algo_tracer.format.notes import decode_note, experiment_note_prefix
from algo_tracer.network.indexer import iter_transactions, wait_for_round
from algo_tracer.record.journal import CONFIRMED, Journal

pytestmark = pytest.mark.localnet


def _on_chain_seqs(tracer: Tracer, manifest: Manifest) -> list[int]:
    algorand = tracer.settings.algorand
    assert manifest.seal is not None and manifest.seal.round is not None
    wait_for_round(algorand.client.indexer, manifest.seal.round, algod=algorand.client.algod,
                   timeout=120)
    notes = iter_transactions(algorand.client.indexer,
                              note_prefix=experiment_note_prefix(parse_id(manifest.experiment_id)))
    return sorted(r.seq for t in notes for r in decode_note(base64.b64decode(t["note"])).records)


def _header_counts(tracer: Tracer, manifest: Manifest) -> tuple[int, int, int]:
    algod = tracer.settings.algorand.client.algod
    box = cast(dict[str, Any], algod.application_box_by_name(
        manifest.app_id, b"h" + parse_id(manifest.experiment_id)))
    stage_count, anchors, anchored = struct.unpack_from(">QQQ", base64.b64decode(box["value"]),
                                                        49)
    return stage_count, anchors, anchored


def test_several_groups_land_in_one_block_in_journal_order_exactly_once(
        realtime_env: dict[str, str], tmp_path: Path) -> None:
    tracer = Tracer.from_environment(state_dir=tmp_path / "state")
    with tracer.experiment("pipelined", output_dir=tmp_path / "out") as exp:
        for i in range(12):
            exp.trace_params({"stage": i}, name=f"p{i:02}")
        for step in range(20_000):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
    manifest = Manifest.read(exp.summary.manifest_path)
    stats = exp._writer.stats  # private: the writer's own count of groups per round

    assert exp.summary.sealed
    assert stats.most_groups_per_block() >= 2  # pipelined: not one group per block
    assert max(stats.stages_per_round.values()) >= 2
    assert _on_chain_seqs(tracer, manifest) == list(range(20_000))  # none lost, none doubled
    stage_count, anchors, anchored = _header_counts(tracer, manifest)
    assert stage_count == len(manifest.stages) == 12
    assert anchors == len(manifest.batches) and anchored == 20_000
    # Journal order: stages in index order, batches in anchor order and contiguous sequences.
    assert [s.label for s in manifest.stages] == [f"params:p{i:02}" for i in range(12)]
    assert [b.first_seq for b in manifest.batches] == sorted(b.first_seq for b in manifest.batches)
    report = verify_experiment(tracer.settings.algorand, manifest.app_id, manifest.experiment_id,
                               manifest=manifest, indexer_timeout=120)
    assert report.ok, report.model_dump_json(indent=2)


KILLED_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from algo_tracer import Tracer
    tracer = Tracer.from_environment(state_dir=Path(sys.argv[1]))
    exp = tracer.experiment("killed-in-flight", output_dir=Path(sys.argv[2]), flush_interval=0.2)
    for i in range(8):
        exp.trace_params({"stage": i}, name=f"p{i}")
    for step in range(30_000):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    print(exp.id_text, flush=True)   # all journaled; the parent kills us with groups in flight
    time.sleep(600)
""")


def test_a_run_killed_with_groups_in_flight_is_resumed_exactly_once(
        realtime_env: dict[str, str], tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(state), str(out)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None  # stdout=PIPE
        exp_id = parse_id(child.stdout.readline().strip())
        journal = Journal(state / "journal.sqlite")
        deadline = time.monotonic() + 120
        in_flight: list[int] = []
        while time.monotonic() < deadline and len(in_flight) < 2:
            in_flight = [b.idx for b in journal.batches(exp_id) if b.status != CONFIRMED]
            time.sleep(0.05)
        assert len(in_flight) >= 2, "the writer never had two groups in flight"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    env = {**os.environ, "ALGO_TRACER_DIR": str(state)}
    resume = subprocess.run([sys.executable, "-m", "algo_tracer.cli", "resume"], env=env,
                            capture_output=True, text=True, timeout=600)

    assert resume.returncode == 0, resume.stderr
    manifest = Manifest.read(out / "manifest.json")
    tracer = Tracer.from_environment(state_dir=state)
    assert _on_chain_seqs(tracer, manifest) == list(range(30_000))
    stage_count, anchors, anchored = _header_counts(tracer, manifest)
    # the 8 params stages, then the outcome `resume` records for a run its process never ended
    assert stage_count == len(manifest.stages) == 9 and anchored == 30_000
    assert anchors == len(manifest.batches)


def test_the_same_signed_group_sent_while_pending_is_answered_already_submitted_and_lands_once(
        realtime_env: dict[str, str], tmp_path: Path) -> None:
    """What the writer's retry within a validity window relies on, on a real node: algod
    answers a copy of pending bytes 'already in ledger' (its pool's duplicate check), the copy
    changes nothing, and the one group that lands has the txids the writer journaled."""
    import secrets

    from algo_tracer.errors import AlreadySubmittedError

    registry = Tracer.from_environment(state_dir=tmp_path / "state").registry
    experiment_id = secrets.token_bytes(32)
    registry.submit(registry.prepare_create(experiment_id, bytes(32)))
    group = registry.prepare_stage(experiment_id, 0, 1, bytes(32))
    kept = group.to_bytes()  # as the journal keeps it

    registry.send(group)
    with pytest.raises(AlreadySubmittedError):
        registry.send(type(group).from_bytes(kept))  # still pending: blocks take ~3 s here
    done = registry.wait(group)
    with pytest.raises(AlreadySubmittedError):
        registry.send(type(group).from_bytes(kept))  # landed, window open: the same answer

    header = registry.header(experiment_id)
    assert header is not None and header.stage_count == 1
    assert done.txid == group.txids[group.app_call]
    assert registry.last_round() < group.last_valid
