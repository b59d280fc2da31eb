"""Notebook displays: the summary, the verification report and the timeline as HTML tables with
the content `algo-tracer verify` / `show` print, every text from the records escaped, and a link
to the web page when ALGO_TRACER_WEB_URL is set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from algo_tracer import ExperimentSummary, Timeline, VerificationReport
from algo_tracer.cli.experiment import format_report, format_timeline
from algo_tracer.format.ids import format_id
from algo_tracer.notebook_html import WEB_URL_VAR
from algo_tracer.verify.report import (
    BatchRow,
    CheckRow,
    Finding,
    StageRow,
    StageStatus,
    timeline_rows,
)

EID = format_id(bytes(range(32)))
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


@dataclass
class Parsed:
    """What a browser would build from the HTML: elements, text, tables, links."""

    tags: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    row_classes: list[str | None] = field(default_factory=list)

    def all_text(self) -> str:
        return "".join(self.text)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Parsed()
        self._cell: list[str] | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.out.tags.append(tag)
        attrs = dict(attrs)
        if tag == "table":
            self.out.tables.append([])
        elif tag == "tr":
            self.out.tables[-1].append([])
            self.out.row_classes.append(None)
        elif tag in ("td", "th"):
            self._cell = []
            if attrs.get("class"):  # the row's status cell
                self.out.row_classes[-1] = attrs["class"]
        elif tag == "a":
            self.out.links.append(attrs["href"])
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.out.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            return
        self.out.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Parsed:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.out


def a_report(*, failing: bool) -> VerificationReport:
    r = VerificationReport(
        experiment_id=EID, app_id=1234, genesis_id="dockernet-v1", genesis_hash="GH==",
        source="network", owner="OWNER" + "A" * 53, sealed=True, created_round=5,
        created_time=T0, created_txid="CREATE", sealed_round=9, sealed_time=T0,
        sealed_txid="SEAL")
    r.stages = [
        StageRow(index=0, label="data:" + HOSTILE, kind="data", status=StageStatus.MATCH,
                 chain_digest="ab" * 32, round=6, time=T0, recorder="R" * 58,
                 message="re-hashed " + HOSTILE),
        StageRow(index=1, label="params", kind="params",
                 status=StageStatus.MISMATCH if failing else StageStatus.RECORDED,
                 chain_digest="cd" * 32, round=7, time=T0, recorder="R" * 58,
                 message="C: 1.0 on chain, 10.0 here" if failing else ""),
    ]
    r.batches = [BatchRow(index=0, record_count=96, first_seq=0, root="ef" * 32, private=False,
                          status="verified", round=8, time=T0, recorder="R" * 58)]
    r.checks = [CheckRow(step=1, name="header and chain head", status="pass", detail=HOSTILE),
                CheckRow(step=8, name="stage digests", status="fail" if failing else "pass"),
                CheckRow(step=9, name="MLflow history", status="skip", detail="no run")]
    r.findings = [Finding(step=5, severity="warning", code="foreign_sender",
                          message="a stranger posted " + HOSTILE)]
    r.not_checked = ["the code stage: no copy of " + HOSTILE]
    return r.finalize()


@pytest.fixture(autouse=True)
def no_web_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEB_URL_VAR, raising=False)


@pytest.mark.parametrize("failing", [False, True])
def test_the_report_shows_what_verify_prints_as_tables(failing):
    report = a_report(failing=failing)

    page = parse(report._repr_html_())

    verdict = format_report(report).splitlines()[-1]
    assert verdict in page.all_text()
    assert verdict.startswith("FAILED" if failing else "VERIFIED")
    stages, batches, checks, findings = page.tables
    assert [row[1:4] for row in stages[1:]] == [
        ["0", "data:" + HOSTILE, "match"],
        ["1", "params", "mismatch" if failing else "recorded"]]
    assert [row[0] for row in stages[1:]] == ["OK", "FAIL" if failing else "OK"]
    assert page.row_classes[1:3] == ["pass", "fail" if failing else "pass"]
    assert batches[1][:6] == ["OK", "0", "96", "0", "", "verified"]
    assert [(row[0], row[2]) for row in checks[1:]] == [
        ("pass", "header and chain head"), ("fail" if failing else "pass", "stage digests"),
        ("skip", "MLflow history")]
    assert findings[1] == ["WARNING", "foreign_sender", "a stranger posted " + HOSTILE]
    assert "the code stage: no copy of " + HOSTILE in page.all_text()
    assert "not checked by this run" in page.all_text()


def test_every_text_from_the_records_is_escaped():
    html = a_report(failing=True)._repr_html_()

    page = parse(html)

    assert "script" not in page.tags and "img" not in page.tags
    assert HOSTILE not in html  # only in its escaped form
    assert page.all_text().count(HOSTILE) >= 5  # label, message, check, finding, not checked


def test_the_repr_is_the_text_verify_prints():
    report = a_report(failing=True)

    assert repr(report) == str(report) == format_report(report)
    assert repr(report).splitlines()[0].startswith(f"experiment {EID} (app 1234 on dockernet-v1")


def test_the_timeline_shows_what_show_prints():
    report = a_report(failing=True)
    timeline = report.timeline()

    page = parse(timeline._repr_html_())

    assert isinstance(timeline, Timeline) and repr(timeline) == format_timeline(report)
    (rows,) = page.tables
    assert rows[0] == ["#", "label / kind", "digest", "recorder", "round", "time (UTC)", "status"]
    assert len(rows) - 1 == len(timeline_rows(report)) == 5  # created, 2 stages, batch, sealed
    printed = format_timeline(report).splitlines()
    assert [row[0] for row in rows[1:]] == [line.split()[0] for line in printed[2:7]]
    assert rows[2][1] == "data:" + HOSTILE and rows[3][-1] == "mismatch"
    assert page.row_classes[1:6] == [None, None, "fail", None, None]
    assert "stage params: mismatch: C: 1.0 on chain, 10.0 here" in page.all_text()
    assert "script" not in page.tags


def test_with_a_web_url_every_display_links_to_the_experiments_page(monkeypatch):
    monkeypatch.setenv(WEB_URL_VAR, "http://127.0.0.1:8000/")
    report = a_report(failing=False)
    want = f"http://127.0.0.1:8000/?app=1234&id={EID}"

    assert parse(report._repr_html_()).links == [want]
    assert parse(report.timeline()._repr_html_()).links == [want]
    assert parse(a_summary()._repr_html_()).links == [want]
    assert f"  web page                 {want}" in repr(a_summary()).splitlines()


def test_without_a_web_url_there_is_no_link():
    assert parse(a_report(failing=False)._repr_html_()).links == []
    assert "web page" not in repr(a_summary())


def test_a_web_url_that_is_not_http_is_named_with_the_fix_instead_of_a_link(monkeypatch):
    monkeypatch.setenv(WEB_URL_VAR, "javascript:alert(1)")

    page = parse(a_report(failing=False)._repr_html_())

    assert page.links == []
    assert "ALGO_TRACER_WEB_URL='javascript:alert(1)' is not an http(s) URL" in page.all_text()
    assert "algo-tracer serve" in page.all_text()


def a_summary(sealed: bool = True) -> ExperimentSummary:
    return ExperimentSummary(
        experiment_id=EID, app_id=1234, genesis_id="dockernet-v1", stages=7, note_records=150,
        private_records=0, micro_algos=245_600, manifest_path=Path("runs/a <b>/manifest.json"),
        model_card_path=Path("runs/a <b>/MODEL_CARD.md"), sealed=sealed)


def test_the_summary_is_a_table_of_what_was_recorded():
    page = parse(a_summary()._repr_html_())

    (rows,) = page.tables
    assert dict(rows[1:]) == {
        "experiment": EID, "app": "1234", "network": "dockernet-v1", "sealed": "yes",
        "stages": "7", "note records": "150", "private records": "0",
        "spent (fees + deposits)": "245,600 µALGO", "manifest": "runs/a <b>/manifest.json",
        "model card": "runs/a <b>/MODEL_CARD.md"}
    assert "b" not in page.tags and "sealed on chain" in page.all_text()


def test_an_unsealed_summary_says_how_to_finish_it():
    assert "not sealed: run algo-tracer resume" in parse(
        a_summary(sealed=False)._repr_html_()).all_text()


def test_the_summary_repr_lists_every_field_one_a_line():
    lines = repr(a_summary()).splitlines()

    assert lines[0] == "ExperimentSummary"
    assert lines[1] == f"  experiment               {EID}"
    assert "  spent (fees + deposits)  245,600 µALGO" in lines
    assert str(a_summary()).startswith(f"experiment {EID} (app 1234 on dockernet-v1): 7 stages")
