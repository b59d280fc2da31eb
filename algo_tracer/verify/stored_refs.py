"""The stored stages of an experiment as the chain states them: which stage, which CID.

Read from each kind-25 stage's note (its hash must be the stage's digest), else from the
manifest (algo_tracer.documents.stored). Every verification notes them in the report
(`VerificationReport.stored_cids`, the web page's gateway links) without fetching anything;
`algo_tracer.verify.fetched` fetches and checks them (step 16).
"""

from __future__ import annotations

from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.documents.stored import StoredDetail, parse_stored
from algo_tracer.verify.check_run import Evidence
from algo_tracer.verify.report import StoredRef, VerificationReport
from algo_tracer.verify.study_checks import noted_detail

__all__ = ["note_stored", "stored_details"]


def stored_details(ev: Evidence, manifest: Manifest | None
                   ) -> list[tuple[int, StoredDetail | None]]:
    """(index, detail) of each stored stage; None when neither a valid stage note nor the
    manifest gives its detail."""
    return [(s.index, parse_stored(noted_detail(ev, s.index, manifest)))
            for s in ev.stages if s.kind == StageKind.STORED]


def note_stored(ev: Evidence, report: VerificationReport, manifest: Manifest | None) -> None:
    """Fill `report.stored_cids` (the stage index the CID holds the content of) and
    `report.stored` (each stored stage's detail, what the web page checks), and, without a
    manifest, name the stored stages and the stages they store as the chain's notes do."""
    rows = {r.index: r for r in report.stages if r.index is not None}
    for index, detail in stored_details(ev, manifest):
        if detail is None or detail.index >= index:
            continue
        report.stored_cids[detail.index] = detail.cid
        report.stored.append(StoredRef(index=index, named_index=detail.index, stage=detail.stage,
                                       cid=detail.cid, type=detail.type, digest=detail.digest,
                                       scheme=detail.scheme, name=detail.name))
        stored, named = rows.get(index), rows.get(detail.index)
        if stored is not None and stored.label == stored.kind:
            stored.label = f"stored:{detail.stage}"
        if named is not None and named.label == named.kind:
            named.label = detail.stage
