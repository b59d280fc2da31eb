"""The verification report and the timeline as HTML, for notebooks (`_repr_html_`).

The content is that of `algo-tracer verify` and `show` (algo_tracer.verify.report_text): the
same rows, statuses, findings and "not checked" list, as tables. Every text from the records is
escaped (algo_tracer.notebook_html).
"""

from __future__ import annotations

from algo_tracer.notebook_html import block, escape, table, web_link
from algo_tracer.verify.report import FAILING_STATUSES, VerificationReport, timeline_rows
from algo_tracer.verify.report_text import (
    format_report,
    network_name,
    timeline_cells,
    timeline_verdict,
)

__all__ = ["report_html", "timeline_html"]


def _verdict(r: VerificationReport) -> str:
    """The last line of `algo-tracer verify` (VERIFIED / FAILED ...), as a heading."""
    last = format_report(r).splitlines()[-1]
    return f'<h4 class="{"pass" if r.ok else "fail"}">{escape(last)}</h4>'


def _title(r: VerificationReport) -> str:
    source = ("bundle" + (" offline" if r.offline else "")) if r.source == "bundle" else "chain"
    return (f"<p>experiment <code>{escape(r.experiment_id)}</code> (app {escape(r.app_id)} on "
            f"{escape(network_name(r))}, {escape(source)}): owner "
            f"<code>{escape(r.owner or '?')}</code>, "
            f"{'sealed' if r.sealed else 'not sealed'}</p>")


def report_html(r: VerificationReport) -> str:
    """The report: verdict, stages, batches, checks, findings, endpoints, what was not checked."""
    parts = [_verdict(r), _title(r), web_link(r.app_id, r.experiment_id)]
    if r.stages:
        parts.append("<h5>stages</h5>" + table(
            ["", "#", "label", "status", "message"],
            [("FAIL" if s.status in FAILING_STATUSES else "OK",
              "-" if s.index is None else s.index, s.label, s.status.value, s.message)
             for s in r.stages],
            ["fail" if s.status in FAILING_STATUSES else "pass" for s in r.stages]))
    if r.batches:
        parts.append("<h5>batches</h5>" + table(
            ["", "#", "records", "from seq", "private", "status", "message"],
            [("FAIL" if b.status == "mismatch" else "OK", b.index, b.record_count, b.first_seq,
              "yes" if b.private else "", b.status, b.message) for b in r.batches],
            ["fail" if b.status == "mismatch" else "pass" for b in r.batches]))
    parts += _study_html(r)
    parts.append("<h5>checks</h5>" + table(
        ["status", "step", "check", "detail"],
        [(c.status, c.step, c.name, c.detail) for c in r.checks], [c.status for c in r.checks]))
    if r.findings:
        failing = r.strict_failures()
        parts.append("<h5>findings</h5>" + table(
            ["severity", "code", "message"],
            [(f.severity.upper(), f.code + (" (fails in strict mode)" if f in failing else ""),
              f.message) for f in r.findings],
            ["fail" if f.severity == "error" or f in failing else None for f in r.findings]))
    for service, counts in r.served_by.items():
        parts.append(f"<p>{escape(service)} endpoints: " + escape(", ".join(
            f"{url} answered {n}" for url, n in counts.items())) + "</p>")
    if r.not_checked:
        parts.append("<h5>not checked by this run</h5><ul>"
                     + "".join(f"<li>{escape(text)}</li>" for text in r.not_checked) + "</ul>")
    return block(*parts)


def timeline_html(r: VerificationReport) -> str:
    """`algo-tracer show`: every write of the experiment in chain order, then the problems."""
    rows = [timeline_cells(row) for row in timeline_rows(r)]
    parts = [f"<p>experiment <code>{escape(r.experiment_id)}</code> in app {escape(r.app_id)} "
             f"on {escape(network_name(r))}</p>", web_link(r.app_id, r.experiment_id),
             table(["#", "label / kind", "digest", "recorder", "round", "time (UTC)", "status"],
                   rows, [_row_class(cells[-1]) for cells in rows], mark=-1)]
    parts.append(f'<pre class="{"pass" if r.ok else "fail"}">{escape(timeline_verdict(r))}</pre>')
    return block(*parts)


def _study_html(r: VerificationReport) -> list[str]:
    """The plan line and a study's trials (docs/studies.md), each trial linked when a server
    URL is configured."""
    parts = []
    if r.plan is not None:
        parts.append(f"<h5>plan</h5><p>{escape(r.plan.line())}</p>")
    s = r.study
    if s is not None:
        parts.append(f"<h5>study: {escape(s.objective)} ({escape(s.direction)})</h5>"
                     f"<p>{escape(s.headline())}</p>" + table(
            ["", "#", "state", s.objective, "round", "trial experiment", "check"],
            [("*" if t.experiment == s.selected else "", t.number, t.state,
              "-" if t.value is None else f"{t.value:.6g}", t.round, t.experiment,
              "ok" if t.ok else t.message) for t in s.trials],
            [None if t.ok else "fail" for t in s.trials], mark=-1))
        parts += [f"<p>{escape(trial)} names this study but is not recorded in it</p>"
                  for trial in s.outside]
    return parts


def _row_class(status: str) -> str | None:
    if status in {s.value for s in FAILING_STATUSES} or status == "mismatch":
        return "fail"
    return None

