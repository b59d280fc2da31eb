"""The README's main command: trace a real experiment and verify it from the chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from algo_tracer import Manifest


def test_demo_traces_the_iris_experiment_and_verifies_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "algo_tracer.cli", "demo", "-o", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "verification VERIFIED" in run.stdout
    manifest = Manifest.read(out / "manifest.json")
    report = json.loads((out / "verification.json").read_text())
    assert report["ok"] is True
    assert manifest.seal is not None and len(manifest.stages) == 8
    assert sum(b.count for b in manifest.batches) == 20  # 10 folds x 2 metrics, note path
    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith("---\n") and "\n# Model card: iris-logreg" in card
    assert "## train" in (out / "DATASHEET.md").read_text()
    assert json.loads((out / "bundle.json").read_text())
    attestation = json.loads((out / "attestation.intoto.json").read_text())
    assert attestation["payloadType"] == "application/vnd.in-toto+json"
    assert attestation["signatures"][0]["keyid"] == manifest.owner
    check = subprocess.run([sys.executable, "-m", "algo_tracer.cli", "verify", "--attestation",
                            str(out / "attestation.intoto.json")],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
