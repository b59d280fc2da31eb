"""examples/iris_notebook.ipynb, executed with nbclient against the real LocalNet, so it cannot
rot: every cell runs without an error (its own asserts included), in a kernel on this project's
Python, and its displays are the HTML tables of the summary, the report and the timeline."""

from __future__ import annotations

import json
import os
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "iris_notebook.ipynb"
KERNEL = "algo-tracer-test"


@pytest.fixture
def kernel_of_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs this interpreter (the project's .venv), found before any other
    (JUPYTER_PATH comes first), so a `python3` kernel installed elsewhere cannot stand in."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "algo-tracer (.venv)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("ALGO_TRACER_WEB_URL", raising=False)
    return KERNEL


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self._style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if not self._style:
            self.text.append(data)


def _html(cell) -> tuple[list[str], str]:
    (html,) = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    parser = _Text()
    parser.feed(html)
    return parser.tags, "".join(parser.text)


def test_the_iris_notebook_runs_and_shows_the_summary_the_report_and_the_timeline(
        tmp_path: Path, kernel_of_this_python: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))

    NotebookClient(nb, kernel_name=kernel_of_this_python, timeout=600,
                   resources={"metadata": {"path": str(work)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors  # NotebookClient raises on the first one; belt and braces
    kernel_python = code[-1].outputs[0]["text"].strip()
    assert os.path.realpath(kernel_python) == os.path.realpath(sys.executable)

    _, summary = _html(code[1])
    assert "sealed on chain" in summary
    cells = summary.replace(" ", "")
    assert "stages8" in cells and "noterecords5" in cells  # 5 folds on the note path
    tags, report = _html(code[2])
    assert report.lstrip().startswith("VERIFIED: 8 stages, 5 note records")
    assert "8 stages, 8 re-hashed locally and equal" in report  # model file and both tables
    assert "not checked by this run" in report
    assert "table" in tags and "script" not in tags
    _, timeline = _html(code[3])
    assert "all checks pass" in timeline and "sealed" in timeline
    _, changed = _html(code[4])
    assert changed.lstrip().startswith("FAILED") and "mismatch" in changed
    assert list((work / "algo-tracer-runs").glob("iris-notebook-*/manifest.json"))
