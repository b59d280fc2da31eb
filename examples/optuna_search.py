"""A hyperparameter search recorded as a study: every Optuna trial on chain, under a plan.

    python examples/optuna_search.py [OUTPUT_DIR] [N_TRIALS]

Iris, a random forest, 3-fold cross-validated accuracy, searched by Optuna with pruning. The
plan (metric, direction, budget, test split) is fixed on chain before the first trial; each
trial records its data, parameters, per-fold scores and model; the study is sealed with the
selected trial. Then `algo-tracer verify STUDY_ID --manifest OUTPUT_DIR/manifest.json` says
"best of N (K failed, P pruned)". Runs against LocalNet by default (docs/studies.md).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import optuna
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split

from algo_tracer import Tracer, digest_of
from algo_tracer.integrations.optuna import TracedTrial, traced
from algo_tracer.record.study import StudySummary


def main(output_dir: Path, tracer: Tracer | None = None, n_trials: int = 12) -> StudySummary:
    tracer = tracer or Tracer.from_environment()
    X, y = load_iris(return_X_y=True, as_frame=True)  # ships with scikit-learn: no download
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42,
                                                        stratify=y)
    plan = {"metric": "cv_accuracy", "direction": "maximize", "n_trials": n_trials,
            "test_split": digest_of(X_test.assign(target=y_test)).hex,
            "protocol": "3-fold stratified CV on the 70% train split; test split untouched"}
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

    def objective(trial: TracedTrial) -> float:  # an optuna.Trial, seen through algo-tracer
        params = {"n_estimators": trial.suggest_int("n_estimators", 5, 60),
                  "max_depth": trial.suggest_int("max_depth", 1, 6)}
        trial.traced.trace_data("train", X_train.assign(target=y_train))
        scores = []
        for fold, (fit, held) in enumerate(folds.split(X_train, y_train)):
            model = RandomForestClassifier(random_state=0, **params)
            model.fit(X_train.iloc[fit], y_train.iloc[fit])
            scores.append(float(model.score(X_train.iloc[held], y_train.iloc[held])))
            trial.report(sum(scores) / len(scores), fold)  # a metric record, and pruning input
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.traced.trace_model(RandomForestClassifier(random_state=0, **params).fit(
            X_train, y_train))
        return sum(scores) / len(scores)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tracer.study("iris-forest-search", objective="cv_accuracy", direction="maximize",
                      n_trials=n_trials, plan=plan, output_dir=output_dir,
                      search_space={"n_estimators": [5, 60], "max_depth": [1, 6]}) as study:
        search = optuna.create_study(direction="maximize",
                                     sampler=optuna.samplers.TPESampler(seed=0),
                                     pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
        search.optimize(traced(study, objective), n_trials=n_trials)
    assert study.summary is not None
    return study.summary


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(
        f"algo-tracer-runs/optuna-{datetime.now():%Y%m%d-%H%M%S}")
    print(main(out, n_trials=int(sys.argv[2]) if len(sys.argv) > 2 else 12))
