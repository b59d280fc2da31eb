"""Optuna: every trial of a search traced, the search recorded as a study (docs/studies.md).

    import optuna
    from algo_tracer.integrations.optuna import traced

    with tracer.study("iris-search", objective="accuracy", direction="maximize", n_trials=20,
                      plan="plan.json") as study:
        search = optuna.create_study(direction="maximize")
        search.optimize(traced(study, objective), n_trials=20, n_jobs=2,
                        catch=(ValueError,))

`objective(trial)` is an ordinary Optuna objective. Each Optuna trial becomes a traced trial
experiment (number = Optuna's trial number): its parameters are recorded when it ends, every
`trial.report(value, step)` is logged as a metric record (the note path) under the study's
objective name, `optuna.TrialPruned` records it as pruned and an exception as failed (both
still reach Optuna, which decides what to do with them), and the returned value is its
objective value. Inside the objective, `trial.traced` is the algo-tracer trial, for
`trial.traced.trace_data(...)`, `trace_model(...)` and so on.

Several worker processes sharing an Optuna RDB storage each open the same study with
`tracer.load_study(study_id)` (one machine, one journal: see algo_tracer.record.study) and run
`optimize(traced(study, objective), ...)`; every trial lands in the study once, in the order
trials finish.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from algo_tracer.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from algo_tracer.record.study import Study, Trial

__all__ = ["TracedTrial", "traced"]


class TracedTrial:
    """An `optuna.Trial` seen through algo-tracer: every attribute is the Optuna trial's, but
    `report` also logs the value, and `traced` is the algo-tracer trial."""

    def __init__(self, trial: optuna.Trial, traced_trial: Trial, metric: str) -> None:
        self._trial = trial
        self.traced = traced_trial
        self._metric = metric

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)  # suggest_*, should_prune, set_user_attr, ...

    def report(self, value: float, step: int) -> None:
        self.traced.log_metric(self._metric, value, step=step)
        self._trial.report(value, step)


def traced(study: Study, objective: Callable[[Any], float], *,
           seed: Callable[[optuna.Trial], int] | None = None) -> Callable[[optuna.Trial], float]:
    """`objective` wrapped so that each Optuna trial is a trial of `study` (see above).

    `seed(trial)`, when given, picks the trial's seed (recorded, and every RNG seeded).
    """
    if importlib.util.find_spec("optuna") is None:  # the extra is optional
        raise ConfigError("the Optuna integration needs optuna",
                          fix="pip install 'algo-tracer[optuna]'")

    def run(trial: optuna.Trial) -> float:
        with study.trial(trial.number, seed=seed(trial) if seed else None) as traced_trial:
            view = TracedTrial(trial, traced_trial, study.spec.objective)
            try:
                value = objective(view)
            finally:  # what was suggested, whatever happened next
                traced_trial.trace_params(dict(trial.params))
            traced_trial.report(value)
            return value
        import optuna  # only reached when algo-tracer's own TrialPruned ended the trial

        raise optuna.TrialPruned()

    run.__name__ = getattr(objective, "__name__", "objective")
    return run
