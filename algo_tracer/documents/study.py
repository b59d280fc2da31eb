"""A study's records and its selection rule: one rulebook for recording and verification.

A study (docs/studies.md) is an experiment whose stages are, in order: the plan (PLAN, when
given), the search (STUDY), one TRIAL record per finished trial in the order they finished, and
the SELECTION. Each trial is an experiment of its own whose first stage (TRIAL_OF) names the
study and whose last stage before its seal is its result (`custom:trial-result`). Every detail
here is hashed with `hashing.hash_params`, and the ones a reader needs travel in stage notes
(algo_tracer.format.stage_notes), so a study can be checked from the chain alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.errors import InputError, shorten
from algo_tracer.hashing import JSON_SCHEME_V1, hash_params, params_scheme

__all__ = [
    "RESULT_STAGE",
    "SELECTION_RULE",
    "Selection",
    "StudySpec",
    "TrialOf",
    "TrialRecord",
    "TrialResult",
    "select_best",
    "trial_value",
]

#: Name of the custom stage that closes a trial: its state and objective value.
RESULT_STAGE: Final = "trial-result"
#: How a study selects its trial, as recorded (and re-applied by verification).
SELECTION_RULE: Final = ("the best value by direction among complete trials; a tie goes to the "
                         "trial recorded first")
TrialState = Literal["complete", "failed", "pruned"]


class _Detail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def detail(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self, scheme: int = JSON_SCHEME_V1) -> bytes:
        """The stage digest under the experiment's JSON scheme (`hash_params` by its params
        scheme: v1 canonical JSON, v2 RFC 8785)."""
        return hash_params(self.detail(), params_scheme(scheme)).value


class StudySpec(_Detail):
    """The STUDY stage: what is searched, for what, with which budget."""

    objective: str = Field(min_length=1, max_length=200,
                           description="the metric the trials report")
    direction: Literal["maximize", "minimize"]
    n_trials: int | None = Field(default=None, gt=0, description="the planned budget")
    search_space: dict[str, Any] = Field(default_factory=dict)


class TrialOf(_Detail):
    """A trial's first stage: the study (base58 id) it belongs to, in app `app_id`."""

    study: str = Field(max_length=64)
    app_id: int
    number: int = Field(ge=0)


class TrialResult(_Detail):
    """The trial's own last stage: how it ended and the objective value (None unless complete)."""

    state: TrialState
    value: float | None = None


class TrialRecord(_Detail):
    """A TRIAL stage of the study: one finished trial, exactly once, in finishing order."""

    experiment: str = Field(max_length=64, description="the trial's base58 experiment id")
    number: int = Field(ge=0)
    state: TrialState
    value: float | None = None
    final_digest: str = Field(pattern=r"^[0-9a-f]{64}$",
                              description="the trial's sealed final digest (hex)")


class Selection(_Detail):
    """The SELECTION stage: the rule, the counts and the selected trial."""

    objective: str = Field(max_length=200)
    direction: Literal["maximize", "minimize"]
    rule: str = SELECTION_RULE
    trials: int
    failed: int
    pruned: int
    planned: int | None = None
    selected: str | None = Field(default=None, description="experiment id of the best trial")
    selected_number: int | None = None
    value: float | None = None


def trial_value(value: Any) -> float | None:
    """An objective value as recorded: a finite float; anything else is refused."""
    if value is None:
        return None
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"a trial's objective value must be a number, not "
                         f"{shorten(repr(value))}", fix="report a float, e.g. accuracy")
    return float(value)


def result_for(state: TrialState, value: float | None) -> TrialResult:
    """A trial's result; a complete trial without a finite value is recorded as failed (as
    Optuna does: a NaN objective fails the trial)."""
    if state == "complete" and (value is None or not math.isfinite(value)):
        return TrialResult(state="failed")
    return TrialResult(state=state, value=value if state == "complete" else None)


def select_best(records: Iterable[TrialRecord], spec: StudySpec | Mapping[str, Any],
                planned: int | None = None) -> Selection:
    """The selection the study records, by `SELECTION_RULE`."""
    spec = spec if isinstance(spec, StudySpec) else StudySpec.model_validate(spec)
    trials = list(records)
    best: TrialRecord | None = None
    best_value = 0.0
    for t in trials:
        if t.state != "complete" or t.value is None:
            continue
        if best is None or (t.value > best_value if spec.direction == "maximize"
                            else t.value < best_value):
            best, best_value = t, t.value
    return Selection(
        objective=spec.objective, direction=spec.direction, trials=len(trials),
        failed=sum(t.state == "failed" for t in trials),
        pruned=sum(t.state == "pruned" for t in trials),
        planned=planned if planned is not None else spec.n_trials,
        selected=best.experiment if best else None,
        selected_number=best.number if best else None, value=best.value if best else None)
