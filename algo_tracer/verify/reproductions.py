"""Find an experiment's reproductions from the original alone, and verify each in turn.

    >>> report = verify_experiment(algorand, app_id, original_id)            # doctest: +SKIP
    >>> attach_reproductions(algorand, report)                                 # doctest: +SKIP
    >>> report.reproduced_by.badge                                             # doctest: +SKIP

One indexed Indexer query finds the claims: transactions whose note starts with
`claim_note_prefix(original id)` (docs/note-format.md §11). Each claim is then checked
(docs/verification.md, step 15):

1. its notes decode to one claim about this original (else *malformed*);
2. the reproduction verifies against the chain (steps 1-8) and is sealed (else *invalid*);
3. the notes were sent by the reproduction's owner; its first stage (kind 20) binds this
   original's network, app, owner and sealed final digest; its comparison stage (kind 21)
   holds exactly the claimed comparison; the claimed metric values hash to both metrics
   stages; and `compare`, run again on both chain records, gives the claimed comparison
   (else *forged*).

A claim that is not *verified* is reported as a warning finding and never counted.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

from algokit_utils import AlgorandClient
from pydantic import ValidationError

from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.plan import declared_tolerance
from algo_tracer.documents.reproduction import (
    BOOKKEEPING_KINDS,
    Claim,
    Comparison,
    StageView,
    binding_detail,
    compare,
    comparison_detail,
    summary_text,
)
from algo_tracer.errors import ConfigError, InputError, describe_validation
from algo_tracer.format import chain
from algo_tracer.format.boxes import Header, Stage, decode_header, decode_page
from algo_tracer.format.claim_notes import (
    ClaimChunk,
    assemble_claim,
    claim_note_prefix,
    decode_claim_note,
)
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.hashing import PARAMS_SCHEMES, hash_params
from algo_tracer.network.algod import read_box
from algo_tracer.network.disclosed_plan import read_plan
from algo_tracer.network.indexer import iter_transactions, wait_for_indexer
from algo_tracer.progress import Progress
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.report import Finding, VerificationReport
from algo_tracer.verify.reproduction_report import ReproducedBy, ReproductionRow, badge_text

__all__ = ["attach_reproductions", "find_reproductions"]

STEP = 15
#: Claims verified per lookup, oldest first; the rest are counted in `claims_not_checked`.
MAX_CLAIMS = 100


def attach_reproductions(algorand: AlgorandClient, report: VerificationReport, *,
                         indexer_timeout: float = 60,
                         progress: Progress | None = None) -> VerificationReport:
    """Add the "reproduced by" section (and a warning per claim not counted) to `report`."""
    if report.owner is None or report.data_round is None:
        return report  # no such experiment on chain: nothing can reproduce it
    found = find_reproductions(algorand, report.app_id, parse_id(report.experiment_id),
                               at_round=report.data_round, indexer_timeout=indexer_timeout,
                               progress=progress)
    report.reproduced_by = found
    if found.claims_not_checked:
        report.not_checked.append(f"{found.claims_not_checked} later reproduction claim(s) "
                                  f"past the first {MAX_CLAIMS} were not verified")
    for row in found.reproductions:
        if row.status != "verified":
            report.findings.append(Finding(
                step=STEP, severity="warning", code=f"reproduction_{row.status}",
                message=f"a claimed reproduction {row.experiment_id or '(unreadable)'} is "
                f"{row.status} and not counted: {'; '.join(row.problems[:3])}",
                txid=row.claim_txids[0] if row.claim_txids else None, round=row.claim_round,
                sender=row.claim_sender))
    return report.finalize()


def find_reproductions(algorand: AlgorandClient, app_id: int, original_id: bytes, *,
                       at_round: int, indexer_timeout: float = 60,
                       progress: Progress | None = None) -> ReproducedBy:
    """Every claim about `original_id` up to `at_round`, each verified (module docstring)."""
    original = _read_header(algorand, app_id, original_id)
    indexer = wait_for_indexer(algorand, at_round, timeout=indexer_timeout)
    # One claim is one transaction group (a one-note claim: one transaction) of one sender.
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], ClaimChunk | None]]] = (
        defaultdict(list))
    for t in iter_transactions(indexer, note_prefix=claim_note_prefix(original_id),
                               max_round=at_round):
        note = base64.b64decode(t.get("note") or "")
        try:
            chunk: ClaimChunk | None = decode_claim_note(note)
        except InputError:
            chunk = None
        groups[(t["sender"], t.get("group") or t["id"])].append((t, chunk))
    rows: list[ReproductionRow] = []
    seen: set[str] = set()
    ordered = sorted(groups.items(), key=lambda g: _round(g[1]))
    if len(ordered) > MAX_CLAIMS:
        # Anyone can post claims: verifying each costs a verification, so the count is capped.
        skipped = ordered[MAX_CLAIMS:]
        ordered = ordered[:MAX_CLAIMS]
    else:
        skipped = []
    for (sender, _), members in ordered:
        row = _check_claim(algorand, app_id, original_id, original, sender, members,
                           indexer_timeout, progress)
        if row.experiment_id is not None and row.status == "verified":
            if row.experiment_id in seen:
                continue  # a second copy of one claim (sent again after its leases expired)
            seen.add(row.experiment_id)
        rows.append(row)
    badge, independent, own = badge_text(rows)
    return ReproducedBy(claims_found=len(groups), claims_not_checked=len(skipped),
                        independent_accounts=independent, self_reproductions=own, badge=badge,
                        reproductions=rows)


def _round(members: list[tuple[dict[str, Any], ClaimChunk | None]]) -> int:
    return min(int(t["confirmed-round"]) for t, _ in members)


def _check_claim(algorand: AlgorandClient, app_id: int, original_id: bytes, original: Header,
                 sender: str, members: list[tuple[dict[str, Any], ClaimChunk | None]],
                 indexer_timeout: float, progress: Progress | None) -> ReproductionRow:
    row = ReproductionRow(experiment_id=None, status="malformed", claim_sender=sender,
                          claim_txids=[t["id"] for t, _ in members],
                          claim_round=_round(members))
    # (10.1) The notes decode to one claim about this original.
    chunks = [c for _, c in members if c is not None]
    if len(chunks) < len(members):
        row.problems.append("a note under the claim prefix is not a claim note")
        return row
    if len({c.reproduction_id for c in chunks}) != 1:
        row.problems.append("the notes of one claim name different reproductions")
        return row
    try:
        claim = Claim.model_validate_json(assemble_claim(chunks))
    except InputError as exc:
        row.problems.append(exc.message)
        return row
    except ValidationError as exc:
        row.problems.append(f"the claim is not valid JSON of {Claim.__name__}: "
                            f"{describe_validation(exc.errors(), limit=2)}")
        return row
    comparison = claim.comparison
    row.experiment_id, row.app_id = claim.reproduction.experiment_id, claim.reproduction.app_id
    row.comparison, row.outcome = comparison, comparison.outcome
    row.summary = summary_text(comparison)
    if claim.reproduction.experiment_id != format_id(chunks[0].reproduction_id) or \
            comparison.original.experiment_id != format_id(original_id):
        row.problems.append("the claim's ids differ from those its notes are filed under")
        return row
    # (10.2) The reproduction verifies and is sealed.
    rid = chunks[0].reproduction_id
    try:
        rep = verify_experiment(algorand, claim.reproduction.app_id, rid,
                                indexer_timeout=indexer_timeout, progress=progress)
    except (ConfigError, InputError) as exc:  # e.g. a claim naming an app that is no registry
        row.status = "invalid"
        row.problems.append(f"the reproduction cannot be read: {exc.message}")
        return row
    row.recorder, row.sealed_round, row.sealed_time = rep.owner, rep.sealed_round, rep.sealed_time
    row.self_reproduction = rep.owner == original.owner
    if not rep.ok or not rep.sealed:
        row.status = "invalid"
        row.problems += (rep.failures() or []) + ([] if rep.sealed else ["it is not sealed"])
        return row
    # (10.3) The claim follows from both records.
    row.status = "forged"
    row.problems += _forgeries(algorand, app_id, original_id, original, sender, rep, comparison)
    if not row.problems:
        row.status, row.matched = "verified", comparison.matched()
    return row


def _forgeries(algorand: AlgorandClient, app_id: int, original_id: bytes, original: Header,
               sender: str, rep: VerificationReport, claimed: Comparison) -> list[str]:
    problems = []
    if sender != rep.owner:
        problems.append(f"the claim was sent by {sender}, not by the reproduction's owner")
    stages = [(s.index, _kind_code(s.kind), s.chain_digest or "") for s in rep.stages
              if s.index is not None]
    b = claimed.original
    want = (format_id(original_id), app_id, rep.genesis_hash, original.owner,
            original.final_digest.hex())
    if (b.experiment_id, b.app_id, b.genesis_hash, b.owner, b.final_digest) != want:
        problems.append("the claim binds another original (network, app, owner or final "
                        "digest differ from the sealed original's)")
    if not stages or stages[0][1] != StageKind.REPRODUCES or \
            not _hashes_to(binding_detail(b), stages[0][2]):
        problems.append("the reproduction's first stage does not bind the claimed original")
    at = next((i for i, kind, _ in stages if kind == StageKind.COMPARISON), None)
    if at is None or not _hashes_to(comparison_detail(claimed), stages[at][2]):
        problems.append("the claimed comparison is not the one the reproduction recorded "
                        "(comparison stage digest)")
        return problems
    labels_o = {r.original_index: r.label for r in claimed.rows if r.original_index is not None}
    labels_r = {r.reproduction_index: r.label for r in claimed.rows
                if r.reproduction_index is not None}
    mine = [_view(i, k, d, labels_r, claimed, "reproduction") for i, k, d in stages[:at]]
    original_stages = _read_stages(algorand, app_id, original_id, original.stage_count)
    theirs = [_view(s.index, s.kind, s.digest.hex(), labels_o, claimed, "original")
              for s in original_stages]
    plan_stage = next((s for s in original_stages if s.kind == StageKind.PLAN), None)
    plan = None if plan_stage is None else read_plan(
        algorand, original_id, original.owner, plan_stage.digest, plan_stage.round)
    if claimed.tolerance != declared_tolerance(plan):
        problems.append(f"the claim's tolerance {claimed.tolerance} is not the one the "
                        f"original's plan declares ({declared_tolerance(plan)})")
    for side, views in (("original", theirs), ("reproduction", mine)):
        for v in views:
            if v.metrics is not None and not _hashes_to(v.metrics, v.digest):
                problems.append(f"the claimed {side} metric values of {v.label} do not hash "
                                "to its recorded metrics stage")
    if problems:
        return problems
    again = compare(theirs, mine, binding=b, outcome=claimed.outcome,
                    tolerance=claimed.tolerance)
    if _core(again) != _core(claimed):
        problems.append("the claimed comparison does not follow from the two records (stage "
                        "statuses, digests or metric differences differ when recomputed)")
    if claimed.outcome != "completed" and not any(
            k == StageKind.CUSTOM and _hashes_to({"outcome": claimed.outcome}, d)
            for _, k, d in stages):
        problems.append(f"the claimed outcome {claimed.outcome!r} is not recorded")
    return problems


def _hashes_to(value: dict[str, Any], digest: str) -> bool:
    """Whether `value` hashes to the hex `digest` under a params scheme (v1, or v2 = RFC 8785,
    docs/hashing.md §4 and §13): the schemes are domain-separated, so a match under either is
    the value recorded under that one. The value is rebuilt by the verifier (a metric, an
    outcome, a binding, the claimed comparison), and the chain does not say which scheme the
    reproduction chose; trying both gives no one a choice (a digest is the hash of a value
    under at most one tag)."""
    return any(hash_params(value, scheme).hex == digest for scheme in PARAMS_SCHEMES)


def _view(index: int, kind: int, digest: str, labels: dict[int, str], claimed: Comparison,
          side: str) -> StageView:
    label = labels.get(index)
    if kind in BOOKKEEPING_KINDS:
        return StageView(index, kind, digest, label)
    values = {m.name: getattr(m, side) for m in claimed.metrics
              if m.stage == label and getattr(m, side) is not None}
    metrics = values if kind == StageKind.METRICS and values else None
    return StageView(index, kind, digest, None if claimed.by_order else label, metrics)


def _core(c: Comparison) -> Any:
    """What the verifier recomputes: everything but the explanatory difference lines."""
    return c.model_dump(mode="json", exclude={"rows": {"__all__": {"differences"}}})


def _kind_code(name: str) -> int:
    if name.startswith("kind "):
        return int(name[5:])
    return int(StageKind[name.upper()])


def _read_header(algorand: AlgorandClient, app_id: int, experiment_id: bytes) -> Header:
    box = read_box(algorand, app_id, chain.header_key(experiment_id))
    if box is None:
        raise InputError(f"no experiment {format_id(experiment_id)} in app {app_id}",
                         fix="check the id and --app-id")
    return decode_header(box[0])


def _read_stages(algorand: AlgorandClient, app_id: int, experiment_id: bytes,
                 count: int) -> list[Stage]:
    out: list[Stage] = []
    for page in range((count + chain.PAGE_CAPACITY - 1) // chain.PAGE_CAPACITY):
        found = read_box(algorand, app_id, chain.page_key(experiment_id, page))
        out.extend(decode_page(page, found[0] if found else b""))
    return out[:count]
