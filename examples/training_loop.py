"""An iterative training loop with per-step metrics on the note path.

    python examples/training_loop.py [OUTPUT_DIR] [--private]

MLPClassifier.partial_fit on scikit-learn's digits (CPU only, nothing to download). Every epoch
logs loss and accuracy with `log_metric`; those records are packed into ARC-2 notes, and each
group of notes is anchored in the experiment's box in the same atomic group. With --private only
Merkle roots go on chain and the values stay in the local manifest.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from algo_tracer import ExperimentSummary, Tracer


def train(epochs: int, log: object | None = None) -> MLPClassifier:
    """The training loop; `log(name, value, step)` is called per epoch when given.

    Loss and held-out accuracy are computed every epoch either way (as any training loop that
    reports progress does), so traced and untraced runs do the same work apart from the logging.
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, random_state=0)
    model = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=1e-3, random_state=0)
    classes = np.unique(y)
    for epoch in range(epochs):
        for batch in np.array_split(np.arange(len(X_train)), 10):
            model.partial_fit(X_train[batch], y_train[batch], classes=classes)
        loss, accuracy = float(model.loss_), float(model.score(X_test, y_test))
        if log is not None:
            log("loss", loss, epoch)
            log("accuracy", accuracy, epoch)
    return model


def main(output_dir: Path, *, private: bool = False, epochs: int = 200,
         tracer: Tracer | None = None) -> ExperimentSummary:
    tracer = tracer or Tracer.from_environment()
    with tracer.experiment("digits-mlp", seed=0, output_dir=output_dir,
                           private_metrics=private) as exp:
        exp.trace_environment()
        exp.trace_params({"hidden_layer_sizes": [64], "learning_rate_init": 1e-3,
                          "epochs": epochs})
        model = train(epochs, log=lambda name, value, step: exp.log_metric(name, value, step=step))
        exp.trace_model(model)
        exp.trace_metrics({"final_loss": float(model.loss_)})
    return exp.summary


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    # A new folder per run: a traced experiment never overwrites another one's manifest.
    out = Path(args[0]) if args else Path(f"algo-tracer-runs/digits-{datetime.now():%Y%m%d-%H%M%S}")
    print(main(out, private="--private" in sys.argv))
