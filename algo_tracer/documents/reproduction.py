"""Reproductions: the binding to the original, the comparison, and the rule that computes it.

A reproduction is an experiment whose first stage (kind 20, `REPRODUCES`) binds the original
(`Binding`: network, app, id, owner and sealed final digest) and whose last stage before the
seal (kind 21, `COMPARISON`) holds the `Comparison`: per stage kind and name equal / different
/ missing / extra, and per final metric the difference and whether it is within the tolerance
of the original's plan. `compare` is the one rule: the recorder runs it on its journal and the
original's stages, the verifier runs it again on what the chain proves and reports a claim whose
comparison differs (docs/reproductions.md). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.diffs import mapping_diff
from algo_tracer.documents.manifest import StageKind
from algo_tracer.hashing import JSON_SCHEME_V1, canonical_json, hash_params, params_scheme

__all__ = [
    "CLAIM_FORMAT",
    "COMPARISON_FORMAT",
    "Binding",
    "Claim",
    "Comparison",
    "ComparisonRow",
    "ExperimentRef",
    "MetricRow",
    "StageView",
    "binding_detail",
    "compare",
    "comparison_detail",
    "detail_digest",
    "kind_name",
    "plan_of",
    "summary_text",
]

COMPARISON_FORMAT: Final = "algo-tracer-comparison/v1"
CLAIM_FORMAT: Final = "algo-tracer-reproduction-claim/v1"
#: Kinds never compared: plans and studies (11-19) and a reproduction's own bookkeeping (20-24).
BOOKKEEPING_KINDS: Final = frozenset(range(11, 25))
#: Explanatory difference lines kept per row (they are not re-checked by the verifier).
MAX_DIFFERENCES = 12

Status = Literal["equal", "different", "missing", "extra"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Binding(_Model):
    """Which sealed record a reproduction reproduces: this exact seal, not just an id."""

    experiment_id: str = Field(description="base58 id of the original")
    app_id: int
    genesis_hash: str
    owner: str = Field(description="the original's owner address")
    final_digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="its sealed final digest")


class ExperimentRef(_Model):
    experiment_id: str
    app_id: int = Field(ge=1, le=2**64 - 1)


class ComparisonRow(_Model):
    kind: str
    label: str = Field(description="stage label, or kind#n when the original's labels were not "
                       "known and stages are matched by kind and order (`by_order`)")
    original_index: int | None
    reproduction_index: int | None
    original_digest: str | None
    reproduction_digest: str | None
    status: Status
    differences: list[str] = Field(default_factory=list, description="explanatory only (from "
                                   "both runs' details when known); not re-checked")


class MetricRow(_Model):
    stage: str
    name: str
    original: Any = None
    reproduction: Any = None
    difference: float | None = None
    tolerance: float
    within: bool


class Comparison(_Model):
    format: Literal["algo-tracer-comparison/v1"] = COMPARISON_FORMAT
    original: Binding
    outcome: str = Field(description="completed, or how the re-run ended (failed: ...)")
    tolerance: float | dict[str, float] | None = Field(
        description="the original plan's tolerance (None: exact)")
    by_order: bool = Field(description="stages matched by kind and order, not by label")
    rows: list[ComparisonRow]
    metrics: list[MetricRow]

    def matched(self) -> bool:
        """Completed, every compared stage equal (a metrics stage: every metric within its
        tolerance), nothing missing."""
        compared = {m.stage for m in self.metrics}
        stages_ok = all(r.status == "equal" or (r.kind == "metrics" and r.status == "different"
                                                and r.label in compared)
                        for r in self.rows if r.status != "extra")
        return self.outcome == "completed" and stages_ok and all(m.within for m in self.metrics)


class Claim(_Model):
    """What the claim notes carry (docs/note-format.md §11)."""

    format: Literal["algo-tracer-reproduction-claim/v1"] = CLAIM_FORMAT
    reproduction: ExperimentRef
    comparison: Comparison

    def to_json(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


@dataclass
class StageView:
    """One stage as the comparison sees it: kind, digest and, when known, label and values."""

    index: int
    kind: int
    digest: str
    label: str | None = None
    metrics: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def kind_name(kind: int) -> str:
    return StageKind(kind).name.lower() if kind in StageKind._value2member_map_ else f"kind {kind}"


def binding_detail(binding: Binding) -> dict[str, Any]:
    """The detail of the `REPRODUCES` stage; its digest is `detail_digest` of it."""
    return {"reproduces": binding.model_dump(mode="json")}


def comparison_detail(comparison: Comparison) -> dict[str, Any]:
    """The detail of the `COMPARISON` stage; its digest is `detail_digest` of it."""
    return {"comparison": comparison.model_dump(mode="json")}


def detail_digest(detail: Mapping[str, Any], scheme: int = JSON_SCHEME_V1) -> str:
    """The stage digest of a binding or comparison detail under the experiment's JSON scheme."""
    return hash_params(dict(detail), params_scheme(scheme)).hex


def plan_of(stages: Sequence[StageView]) -> Mapping[str, Any] | None:
    """The original's public plan (the detail of its kind-11 stage), or None."""
    for s in stages:
        plan = s.detail.get("plan") if s.kind == 11 else None
        if isinstance(plan, Mapping):
            return plan
    return None


def _tolerance(tolerance: float | dict[str, float] | None, metric: str) -> float:
    if isinstance(tolerance, dict):
        return tolerance.get(metric, 0.0)
    return tolerance or 0.0


def _keyed(views: Sequence[StageView], by_order: bool) -> dict[str, StageView]:
    out: dict[str, StageView] = {}
    seen: dict[int, int] = {}
    for v in views:
        if v.kind in BOOKKEEPING_KINDS:
            continue
        n = seen[v.kind] = seen.get(v.kind, -1) + 1
        out[f"{kind_name(v.kind)}#{n}" if by_order or v.label is None else v.label] = v
    return out


def compare(original: Sequence[StageView], reproduction: Sequence[StageView], *,
            binding: Binding, outcome: str,
            tolerance: float | dict[str, float] | None) -> Comparison:
    """The comparison of a reproduction's stages with the original's (the one rule)."""
    by_order = any(v.label is None for v in original if v.kind not in BOOKKEEPING_KINDS)
    a, b = _keyed(original, by_order), _keyed(reproduction, by_order)
    rows, metrics = [], []
    for key in [*a, *(k for k in b if k not in a)]:
        o, r = a.get(key), b.get(key)
        status: Status = "extra" if o is None else "missing" if r is None else "equal"
        differences: list[str] = []
        if o is not None and r is not None and o.digest != r.digest:
            status, differences = "different", _differences(o, r)
        kind = o.kind if o is not None else r.kind if r is not None else 0
        rows.append(ComparisonRow(
            kind=kind_name(kind), label=key,
            original_index=o.index if o else None, reproduction_index=r.index if r else None,
            original_digest=o.digest if o else None, reproduction_digest=r.digest if r else None,
            status=status, differences=differences))
        if kind == StageKind.METRICS and o is not None and r is not None:
            metrics += _metric_rows(key, o, r, tolerance)
    return Comparison(original=binding, outcome=outcome, tolerance=tolerance, by_order=by_order,
                      rows=rows, metrics=metrics)


def _metric_rows(stage: str, o: StageView, r: StageView,
                 tolerance: float | dict[str, float] | None) -> list[MetricRow]:
    # Equal digests are equal values, even when only one side's values are known.
    ov = o.metrics if o.metrics is not None else (r.metrics if o.digest == r.digest else None)
    rv = r.metrics if r.metrics is not None else (o.metrics if o.digest == r.digest else None)
    if ov is None or rv is None:
        return []
    rows = []
    for name in sorted(ov.keys() | rv.keys()):
        x, y, tol = ov.get(name), rv.get(name), _tolerance(tolerance, name)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        diff = float(y) - float(x) if numbers else None  # type: ignore[arg-type]
        within = (abs(diff) <= tol if diff is not None
                  else name in ov and name in rv and x == y)
        rows.append(MetricRow(stage=stage, name=name, original=x, reproduction=y,
                              difference=None if diff is None else round(diff, 12),
                              tolerance=tol, within=within))
    return rows


def _differences(o: StageView, r: StageView) -> list[str]:
    """Why two stages differ, from their details when both are known (environment packages,
    params); explanatory only."""
    lines: list[str] = []
    for key in ("packages", "params", "metrics", "python", "lock_files"):
        x, y = o.detail.get(key), r.detail.get(key)
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            lines += mapping_diff(key.rstrip("s") if key != "params" else "param", x, y,
                                  show=str, limit=MAX_DIFFERENCES)
    return lines[:MAX_DIFFERENCES]


def summary_text(comparison: Comparison) -> str:
    """One line for a badge: 'data, code, params, model match; accuracy within 0.001'."""
    equal: list[str] = []
    different: list[str] = []
    for r in comparison.rows:
        if r.kind in ("metrics", "seed", "custom"):
            continue
        name = r.kind
        (equal if r.status == "equal" else different).append(name)
    parts = []
    same = [k for k in dict.fromkeys(equal) if k not in different]
    if same:
        parts.append(", ".join(same) + " match")
    if different:
        parts.append(", ".join(dict.fromkeys(different)) + " differ")
    for m in comparison.metrics:
        verdict = ("equal" if m.difference == 0 or (m.difference is None and m.within)
                   else f"within {m.tolerance:g}" if m.within
                   else f"off by {m.difference:g} (tolerance {m.tolerance:g})"
                   if m.difference is not None else "differs")
        parts.append(f"{m.name} {verdict}")
    if comparison.outcome != "completed":
        parts.append(f"re-run {comparison.outcome}")
    return "; ".join(parts) or "nothing compared"
