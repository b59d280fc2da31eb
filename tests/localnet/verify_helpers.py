"""A small real experiment for the verification tests, and ways to tamper with it on chain."""

from __future__ import annotations

import base64
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from algokit_utils import AlgoAmount, AlgorandClient, PaymentParams, SigningAccount

from algo_tracer import Manifest, Tracer, parse_id
from algo_tracer.format.notes import experiment_note_prefix
from algo_tracer.network.indexer import iter_transactions, wait_for_round

#: LocalNet's endpoints as environment variables (the well-known development token).
LOCALNET_ENV = {"ALGOD_SERVER": "http://localhost", "ALGOD_PORT": "4001",
                "ALGOD_TOKEN": "a" * 64, "INDEXER_SERVER": "http://localhost",
                "INDEXER_PORT": "8980", "INDEXER_TOKEN": "a" * 64}

TRAIN_CSV = "sepal,petal,label\n5.1,1.4,0\n4.9,1.4,0\n6.2,4.5,1\n5.9,5.1,2\n"


@dataclass
class Traced:
    tracer: Tracer
    experiment_id: str
    app_id: int
    manifest_path: Path
    artifacts: Path
    code: Path
    frame: Any

    @property
    def algorand(self) -> AlgorandClient:
        return self.tracer.settings.algorand

    @property
    def owner(self) -> SigningAccount:
        return self.tracer.settings.account

    def manifest(self) -> Manifest:
        return Manifest.read(self.manifest_path)

    def copy_artifacts(self, dest: Path) -> Path:
        shutil.copytree(self.artifacts, dest)
        return dest


def trace_experiment(tracer: Tracer, root: Path, name: str, *, metrics: int = 300,
                     private: int = 20) -> Traced:
    """Environment, code, a data file, a DataFrame, params, metrics, a model file, final
    metrics; `metrics` public note records and `private` private ones."""
    import pandas as pd

    artifacts, code = root / "artifacts", root / "code"
    artifacts.mkdir(parents=True)
    code.mkdir()
    (artifacts / "train.csv").write_text(TRAIN_CSV)
    (artifacts / "model.bin").write_bytes(bytes(range(256)) * 4)
    (code / "train.py").write_text("print('training')\n")
    frame = pd.DataFrame({"x": [0.5, 1.5, 2.5], "y": ["a", "b", "c"], "n": [1, 2, 3]})
    with tracer.experiment(name, seed=3, output_dir=root / "run") as exp:
        exp.trace_environment(root)
        exp.trace_code(code)
        exp.trace_data("train", artifacts / "train.csv")
        exp.trace_data("frame", frame)
        exp.trace_params({"C": 0.5, "max_iter": 100})
        for i in range(metrics):
            exp.log_metric("loss", 1 / (i + 1))
        for i in range(private):
            exp.log_metric("acc", i / 100, private=True)
        exp.trace_model(artifacts / "model.bin")
        exp.trace_metrics({"accuracy": 0.9})
    summary = exp.summary
    return Traced(tracer, summary.experiment_id, summary.app_id, summary.manifest_path,
                  artifacts, code, frame)


def experiment_notes(traced: Traced) -> list[dict[str, Any]]:
    """The experiment's note transactions, from the Indexer (after it caught up)."""
    algod, indexer = traced.algorand.client.algod, traced.algorand.client.indexer
    # algod answers JSON (a dict) unless asked for msgpack, so the bytes half of its type is moot.
    last_round = int(cast(dict[str, Any], algod.status())["last-round"])
    wait_for_round(indexer, last_round, algod=algod, timeout=120)
    prefix = experiment_note_prefix(parse_id(traced.experiment_id))
    return list(iter_transactions(indexer, note_prefix=prefix))


def a_note(traced: Traced) -> bytes:
    return base64.b64decode(experiment_notes(traced)[0]["note"])


def send_note(algorand: AlgorandClient, sender: SigningAccount, note: bytes) -> str:
    """A 0-ALGO self-payment carrying `note`, outside any group; returns its txid."""
    result = algorand.send.payment(PaymentParams(
        sender=sender.address, signer=sender.signer, receiver=sender.address,
        amount=AlgoAmount(micro_algo=0), note=note))
    assert result.tx_id is not None  # a single sent transaction always has its id
    return result.tx_id


def stranger(algorand: AlgorandClient) -> SigningAccount:
    account = algorand.account.random()
    algorand.account.ensure_funded(account, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=1))
    return account


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
