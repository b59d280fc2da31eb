"""MLflow nested runs recorded as a study: the parent run is the study, each child run one of
its trials (docs/mlflow.md section 6, docs/studies.md). (internal)

A run becomes a study when its first child run starts here (MLflow marks a child with the
``mlflow.parentRunId`` tag), not before, so a run without children stays a plain experiment.
At that moment the parent's experiment (its plan first, when the run was started with an
``algotrace.plan`` tag, then environment and code) gets its STUDY stage and is handed over to
`algo_tracer.record.study.Study`, which waits until the search is on chain before the child's
experiment is created: the plan and the search precede every trial, as step 11 checks.

MLflow has no objective or direction, and a study is never opened on a guess: they come from the
parent's plan (``metric``, ``direction``, ``n_trials``), else from its ``algotrace.objective`` and
``algotrace.direction`` tags (a tag that contradicts the plan is refused). Without them the parent
stays a plain run, its children plain runs, with a warning and an ``algotrace.study`` tag on the
parent that says what to add.

Each child is a trial experiment whose first stage names the study; when it ends it is sealed
and appended to the study under the study's recording lock (exactly once, in the order children
end, whichever thread ends them). Its state: FAILED or KILLED runs are failed; a finished run is
complete with the last value of the objective metric, failed without one; the ``state`` tag that
Optuna's ``MLflowCallback`` writes (``PRUNED``, ``FAIL``) is honoured when the run also has the
callback's ``number`` tag. The parent's end records its own params, metrics, tags and artifacts
into the study, then the selection and the seal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algo_tracer import stages
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.plan import load_plan
from algo_tracer.documents.study import StudySpec, TrialState, trial_value
from algo_tracer.errors import InputError, shorten
from algo_tracer.integrations.mlflow._run_io import set_tags, warn
from algo_tracer.record.study import Study

if TYPE_CHECKING:
    from algo_tracer.integrations.mlflow._recorder import RunTrace
    from algo_tracer.record.tracer import Tracer

#: MLflow's own tag on a child run: the parent's run id.
PARENT_TAG = "mlflow.parentRunId"
#: On a parent run: the metric its children report, and "maximize" or "minimize".
OBJECTIVE_TAG = "algotrace.objective"
DIRECTION_TAG = "algotrace.direction"
#: On a parent run, optional: the planned number of children, and the search space (JSON).
N_TRIALS_TAG = "algotrace.n_trials"
SEARCH_SPACE_TAG = "algotrace.search_space"
#: On any run, at its start: a plan (JSON object text, or a .json/.toml path), and "true" for a
#: private one (only its salted commitment on chain until `algo-tracer reveal`).
PLAN_TAG = "algotrace.plan"
PRIVATE_PLAN_TAG = "algotrace.private_plan"
#: Written by us: on the parent, what became of the study; on a child, its study's id.
STUDY_TAG = "algotrace.study"
TRIAL_TAG = "algotrace.trial_number"
#: Optuna's MLflowCallback tags a trial's run with its Optuna state and number.
_OPTUNA_STATES: dict[str, TrialState] = {"PRUNED": "pruned", "FAIL": "failed"}


@dataclass(frozen=True)
class Sealed:
    """What a sealed trial or study leaves for the run's tags."""

    manifest_path: Path
    model_card_path: Path | None
    tags: dict[str, str]


def plan_of(tags: dict[str, str]) -> tuple[dict[str, Any] | Path | None, bool]:
    """The plan a run was started with (``algotrace.plan``), and whether it is private."""
    text = (tags.get(PLAN_TAG) or "").strip()
    private = (tags.get(PRIVATE_PLAN_TAG) or "").strip().lower() in ("1", "true", "yes")
    if not text:
        return None, private
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise InputError(f"the {PLAN_TAG} tag is not valid JSON: {exc}",
                             fix="give a JSON object, or the path of a .json/.toml plan") from exc
        return loaded, private
    return Path(text), private


def study_spec(tags: dict[str, str]) -> StudySpec:
    """The search a parent run stands for, from its plan, else its tags (see above)."""
    plan, _ = plan_of(tags)
    doc = load_plan(plan) if plan is not None else {}
    chosen: dict[str, Any] = {}
    for key, tag, plan_key in ((("objective", OBJECTIVE_TAG, "metric"),
                                ("direction", DIRECTION_TAG, "direction"),
                                ("n_trials", N_TRIALS_TAG, "n_trials"))):
        planned, tagged = doc.get(plan_key), tags.get(tag)
        if planned is not None and tagged is not None and str(planned) != tagged:
            raise InputError(f"the run's {tag} tag ({shorten(tagged)}) contradicts its plan's "
                             f"{plan_key} ({shorten(str(planned))})",
                             fix=f"drop the {tag} tag: the plan decides")
        chosen[key] = planned if planned is not None else tagged
    if not chosen["objective"] or not chosen["direction"]:
        raise InputError("the run has child runs but names no objective and direction, so its "
                         "children cannot be ranked", fix=f"start it with tags {{'{OBJECTIVE_TAG}'"
                         f": 'accuracy', '{DIRECTION_TAG}': 'maximize'}} (or a plan with metric "
                         f"and direction in the {PLAN_TAG} tag)")
    try:
        space = json.loads(tags[SEARCH_SPACE_TAG]) if SEARCH_SPACE_TAG in tags else {}
        return StudySpec(objective=str(chosen["objective"]),
                         direction=str(chosen["direction"]).lower(),  # type: ignore[arg-type]
                         n_trials=int(chosen["n_trials"]) if chosen["n_trials"] else None,
                         search_space=space)
    except ValueError as exc:
        raise InputError(f"the run's study settings are not valid: {shorten(str(exc))}",
                         fix=f"{DIRECTION_TAG}: 'maximize' or 'minimize'; {N_TRIALS_TAG}: a "
                         f"positive integer; {SEARCH_SPACE_TAG}: a JSON object") from exc


def become_study(parent: RunTrace, tracer: Tracer) -> Study | None:
    """The study `parent` stands for, opened now if its first child just started; None when it
    cannot be one (then its children are plain runs)."""
    with parent.lock:
        if parent.study is not None or parent.refused or parent.failed:
            return parent.study
        try:
            spec = study_spec(parent.inner.get_run(parent.run_id).data.tags)
        except InputError as exc:
            parent.refused = f"{exc.message}; {exc.fix}" if exc.fix else exc.message
            warn(f"MLflow run {parent.run_id} is not recorded as a study: {parent.refused}")
            set_tags(parent.inner, parent.run_id, {STUDY_TAG: f"not a study: {parent.refused}"})
            return None
        exp = parent.experiment
        exp.trace_digest(StageKind.STUDY, None, spec.digest(exp.row.json_scheme), spec.detail())
        exp.detach()  # from here on the study appends under its own lock
        study = Study(tracer, exp.id, spec)
        parent.study = study
        study.settle()  # the plan and the search land before the first trial is created
        set_tags(parent.inner, parent.run_id, {STUDY_TAG: "recording"})
        return study


def trial_result(outcome: str, run: Any, objective: str) -> tuple[TrialState, float | None]:
    """How a child run ended, as a trial: its state and objective value."""
    if outcome != "completed":
        return "failed", None
    tags = run.data.tags
    optuna_state = _OPTUNA_STATES.get(tags.get("state", "")) if "number" in tags else None
    if optuna_state is not None:
        return optuna_state, None
    value = run.data.metrics.get(objective)
    if value is None or not math.isfinite(value):
        return "failed", None  # as Optuna does: a trial without a finite value failed
    return "complete", trial_value(value)


def seal_trial(trace: RunTrace, outcome: str, run: Any) -> Sealed:
    """Record the child's result, seal it, append it to its study."""
    trial = trace.trial
    assert trial is not None
    state, trial.value = trial_result(outcome, run, trial.study.spec.objective)
    trial.finish(state, reason=None if outcome == "completed" else outcome)
    summary = trial.summary
    assert summary is not None  # set by finish
    return Sealed(summary.manifest_path, summary.model_card_path,
                  {STUDY_TAG: trial.study.id_text, TRIAL_TAG: str(trial.number)})


def seal_study(trace: RunTrace, outcome: str) -> Sealed:
    """The parent ended: its outcome (when not completed), the selection, the seal."""
    study = trace.study
    assert study is not None
    if outcome != "completed":
        digest, detail = stages.describe_outcome(outcome)
        study.add_stage(StageKind.CUSTOM, stages.OUTCOME_STAGE, digest.value, detail)
    summary = study.finish()
    s = summary.selection
    line = f"best of {s.trials} ({s.failed} failed, {s.pruned} pruned)"
    if s.selected_number is not None and s.value is not None:
        line += f": trial {s.selected_number} ({s.objective} = {s.value:g})"
    return Sealed(summary.manifest_path, summary.model_card_path, {STUDY_TAG: line})
