"""The verification report and the timeline as text: what `algo-tracer verify` and `show` print.

The same text is the report's and the timeline's `repr` (a notebook cell that ends with one shows
it when HTML is not rendered); `algo_tracer.verify.report_html` renders the same content as HTML.
"""

from __future__ import annotations

from datetime import datetime

from algo_tracer.verify.report import (
    FAILING_STATUSES,
    TimelineRow,
    VerificationReport,
    timeline_rows,
)
from algo_tracer.verify.reproduction_report import format_reproductions
from algo_tracer.verify.study_text import format_study

__all__ = [
    "format_report",
    "format_timeline",
    "network_name",
    "short_address",
    "timeline_cells",
    "timeline_verdict",
    "utc_time",
]



def short_address(address: str | None) -> str:
    return f"{address[:6]}…{address[-4:]}" if address else "-"


def network_name(r: VerificationReport) -> str:
    """The genesis id and the hash that names the network (every LocalNet is dockernet-v1)."""
    name = r.genesis_id or "?"
    return name if r.genesis_hash is None else f"{name} (genesis hash {r.genesis_hash})"


def utc_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%SZ") if t else "-"


def format_report(r: VerificationReport) -> str:
    """Human report: one OK:/FAIL: line per stage and batch, then checks and findings."""
    lines = [f"experiment {r.experiment_id} (app {r.app_id} on {network_name(r)}, "
             f"{'bundle' + (' offline' if r.offline else '') if r.source == 'bundle' else 'chain'}"
             f"): owner {r.owner or '?'}, {'sealed' if r.sealed else 'not sealed'}"]
    for s in r.stages:
        tag = "FAIL:" if s.status in FAILING_STATUSES else "OK:  "
        index = "-" if s.index is None else str(s.index)
        lines.append(f"{tag} stage {index:>3} {s.label:<24} {s.status.value:<16} {s.message}")
    for b in r.batches:
        tag = "FAIL:" if b.status == "mismatch" else "OK:  "
        lines.append(f"{tag} batch {b.index:>3} {b.record_count} records from seq {b.first_seq}"
                     f"{' (private)' if b.private else ''}: {b.status}: {b.message}")
    lines += format_study(r)
    for f in r.fetched or []:  # step 16, verify --fetch
        tag = {"verified": "OK:  ", "not_retrievable": "N/R: "}.get(f.status, "FAIL:")
        lines.append(f"{tag} stored    {f.stage:<24} {f.status:<16} {f.cid}: {f.message}")
    lines.append("checks:")
    lines += [f"  [{c.status}] {c.step} {c.name}: {c.detail}" for c in r.checks]
    if r.findings:
        lines.append("findings:")
        failing = r.strict_failures()
        lines += [f"  {f.severity.upper()} {f.code}"
                  f"{' (fails in strict mode)' if f in failing else ''}: {f.message}"
                  for f in r.findings]
    for service, counts in r.served_by.items():
        lines.append(f"{service} endpoints: " + ", ".join(
            f"{url} answered {n}" for url, n in counts.items()))
    if r.reproduced_by is not None and r.reproduced_by.reproductions:
        lines.append(format_reproductions(r.reproduced_by))
    if r.not_checked:
        lines.append("not checked by this run:")
        lines += [f"  - {text}" for text in r.not_checked]
    c = r.counts
    tail = (f"{c.stages} stages, {c.note_records} note records, {c.private_records} private "
            f"records verified in {r.elapsed_seconds:.2f} s")
    strict = len(r.strict_failures())
    missing = sum(f.status == "not_retrievable" for f in r.fetched or [])
    if r.ok and missing:  # never "verified": nothing was proven about that content
        lines.append(f"NOT RETRIEVABLE: {missing} stored artifact(s) could not be fetched by "
                     f"CID; everything else held; {tail}")
        return "\n".join(lines)
    lines.append(f"VERIFIED: {tail}" if r.ok else
                 f"FAILED: {len(r.failures())} problem(s)"
                 + (f", {strict} of them warning(s) that fail in strict mode (--strict)"
                    if strict else "") + f"; {tail}")
    return "\n".join(lines)


def format_timeline(r: VerificationReport) -> str:
    """`show`: every write of the experiment in chain order."""
    header = ["#", "label / kind", "digest", "recorder", "round", "time (UTC)", "status"]
    table = [header] + [timeline_cells(row) for row in timeline_rows(r)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = [f"experiment {r.experiment_id} in app {r.app_id} on {network_name(r)}"]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table]
    out += format_study(r)
    if r.reproduced_by is not None and r.reproduced_by.reproductions:
        out.append(format_reproductions(r.reproduced_by))
    out.append(timeline_verdict(r))
    return "\n".join(out)


def timeline_verdict(r: VerificationReport) -> str:
    """The timeline's last lines: "all checks pass", or the problems one per line."""
    return "all checks pass" if r.ok else "problems:\n  " + "\n  ".join(r.failures())


def timeline_cells(row: TimelineRow) -> list[str]:
    """One row of the timeline as the cells `show` prints (digests and addresses shortened)."""
    if (s := row.stage) is not None:
        return ["-" if s.index is None else str(s.index), s.label,
                (s.chain_digest or s.manifest_digest or "")[:12], short_address(s.recorder),
                str(s.round or "-"), utc_time(s.time), s.status.value]
    if (b := row.batch) is not None:
        return [f"a{b.index}", f"batch: {b.record_count} records", b.root[:12],
                short_address(b.recorder), str(b.round or "-"), utc_time(b.time), b.status]
    return ["-", row.type, "-", short_address(row.recorder), str(row.round), utc_time(row.time),
            "open" if row.type == "created" else "sealed"]
