"""The user API: trace the stages of an experiment onto the chain from a training script.

    tracer = Tracer.from_environment()     # LocalNet by default; see algo_tracer.network.settings
    with tracer.experiment("iris-logreg", seed=42) as exp:
        exp.trace_environment()
        exp.trace_code(".")
        exp.trace_data("train", X_train)
        exp.trace_params({"C": 1.0})
        for step, loss in enumerate(losses):
            exp.log_metric("loss", loss, step=step)   # high-volume path: note-field records
        exp.trace_model(model)
        exp.trace_metrics({"accuracy": acc})
    # on exit: everything confirmed, sealed, manifest.json, MODEL_CARD.md, DATASHEET.md written

Every call hashes locally and writes to the journal; a background thread moves the journal to
the chain. The training loop waits on the network only when more than `max_pending` records are
waiting to be sent, and on exit, when the experiment is sealed.
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from algosdk import encoding

from algo_tracer import hashing, stages
from algo_tracer.documents.datasheet import DatasheetInfo, write_datasheet
from algo_tracer.documents.manifest import StageKind, metadata_digest, stage_label
from algo_tracer.documents.model_card import ModelCardInfo, write_model_card
from algo_tracer.documents.plan import load_plan
from algo_tracer.errors import (
    AlgoTracerError,
    ExperimentBusyError,
    InputError,
    SealTimeoutError,
    shorten,
)
from algo_tracer.format.ids import format_id, new_experiment_id, parse_id
from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.network.ipfs import IpfsClient, IpfsNode
from algo_tracer.network.registry import Registry
from algo_tracer.network.settings import Settings, settings_from_environment
from algo_tracer.progress import Progress
from algo_tracer.record.background_writer import BackgroundWriter
from algo_tracer.record.journal import ExperimentRow, Journal
from algo_tracer.record.manifest_builder import build_manifest
from algo_tracer.record.opening import check_funds, check_name, check_output_dir, slug
from algo_tracer.record.path_stages import PathStages
from algo_tracer.record.pending_log import RecordLog
from algo_tracer.record.plans import Revealed, plan_stage, reveal_plan
from algo_tracer.record.process_lock import RecordingLock
from algo_tracer.record.receipts import ExperimentSummary, StageReceipt
from algo_tracer.record.reproduction import (
    Reproduces,
    original_from,
    record_comparison,
    send_claim,
    start_reproduction,
)
from algo_tracer.record.resuming import resume_experiments
from algo_tracer.record.storing import StoreTarget, store_stage
from algo_tracer.record.study import Study, load_study, open_study
from algo_tracer.record.writer import Writer

NOTIFY_EVERY = 1024
#: How long `Experiment.finish` waits for the chain before leaving the experiment to `resume`:
#: minutes of outage are ridden out (the writer retries), a node that stays down is not.
FINISH_TIMEOUT = 600.0


class Tracer:
    """Records experiments into one registry app, signing with one account."""

    def __init__(self, settings: Settings, *, output_root: str | os.PathLike[str] | None = None,
                 store: bool = False, ipfs: IpfsNode | None = None) -> None:
        """`store=True`: every path traced is also stored on IPFS (docs/ipfs.md: public to
        anyone with its CID), unless a call says `store=False`; `ipfs`: the node (default:
        `ALGO_TRACER_IPFS_API`, else the LocalNet's)."""
        self.settings = settings
        self.store = store
        self._ipfs = ipfs
        self.journal = Journal(settings.state_dir / "journal.sqlite")
        self.registry = Registry(settings.algorand, settings.app_id, settings.account.address,
                                 settings.account.signer)
        self.output_root = Path(output_root) if output_root is not None else Path(
            "algo-tracer-runs")

    @classmethod
    def from_environment(cls, *, state_dir: str | os.PathLike[str] | None = None,
                         output_root: str | os.PathLike[str] | None = None,
                         store: bool = False) -> Tracer:
        return cls(settings_from_environment(None if state_dir is None else Path(state_dir)),
                   output_root=output_root, store=store)

    def ipfs_node(self) -> IpfsNode:
        """The IPFS node stores go to, made when first needed (the environment is read then)."""
        if self._ipfs is None:
            self._ipfs = IpfsClient()
        return self._ipfs

    def experiment(self, name: str, *, seed: int | None = None,
                   metadata: Mapping[str, Any] | None = None,
                   output_dir: str | os.PathLike[str] | None = None,
                   private_metrics: bool = False, max_pending: int = 100_000,
                   flush_interval: float = 5.0,
                   plan: Mapping[str, Any] | str | os.PathLike[str] | None = None,
                   private_plan: bool = False, reproduces: Reproduces | None = None,
                   reproduces_app_id: int | None = None) -> Experiment:
        """Start an experiment: registers it on chain (in the background) and returns it.

        `private_metrics=True` keeps metric values off chain: only Merkle roots over salted
        records are anchored, and values, salts and proofs stay in the local manifest.
        `plan` (a mapping, or a .json/.toml file) is recorded first: the protocol fixed in
        advance (docs/studies.md); `private_plan=True` records only its salted commitment until
        `reveal`. `reproduces` (an id or manifest; default: ALGO_TRACER_REPRODUCES) makes it a
        reproduction of that sealed experiment, under its plan (docs/reproductions.md).
        """
        plan_doc = load_plan(plan) if plan is not None else None  # refused before anything
        check_name(name)
        check_funds(self.settings)
        original = original_from(self.settings, reproduces, reproduces_app_id)
        if original is not None and plan_doc is not None:
            raise InputError("a reproduction follows its original's plan", fix="drop plan=...")
        meta = dict(metadata or {})
        meta_digest = metadata_digest(name, meta, stages.JSON_SCHEME)  # its scheme: hashing §13
        owner = self.settings.account.address
        experiment_id = new_experiment_id(encoding.decode_address(owner), name)
        # Absolute, so that `resume` from another directory writes where the run would have.
        out = (Path(output_dir) if output_dir is not None else
               self.output_root / f"{slug(name)}-{format_id(experiment_id)[:8]}").resolve()
        check_output_dir(out)
        row = ExperimentRow(
            id=experiment_id, name=name, app_id=self.settings.app_id,
            genesis_hash=self.settings.genesis_hash, genesis_id=self.settings.genesis_id,
            owner=owner, metadata=meta, metadata_digest=meta_digest, salt_key=os.urandom(32),
            output_dir=str(out), status="creating", create_txid=None, create_round=None,
            final_digest=None, seal_txid=None, seal_round=None, json_scheme=stages.JSON_SCHEME)
        self.journal.add_experiment(row)
        exp = Experiment(self, row, private_metrics=private_metrics, max_pending=max_pending,
                         flush_interval=flush_interval)
        if original is not None:  # the binding is the first stage (docs/reproductions.md)
            start_reproduction(original, out, exp._stage, row.json_scheme)
        if plan_doc is not None:
            exp.trace_plan(plan_doc, private=private_plan)
        if seed is not None:
            exp.trace_seed(seed)
        return exp

    def study(self, name: str, *, objective: str, direction: str, **options: Any) -> Study:
        """Open a study: a search recorded trial by trial (docs/studies.md; options: n_trials,
        search_space, plan, private_plan, output_dir, metadata)."""
        return open_study(self, name, objective=objective, direction=direction, **options)

    def load_study(self, study_id: bytes | str) -> Study:
        """Reopen an unsealed study of this journal (another worker, or after a crash)."""
        return load_study(self, study_id)

    def reveal(self, experiment_id: bytes | str) -> Revealed:
        """Publish the private plan of an experiment or study on chain (docs/studies.md)."""
        eid = experiment_id if isinstance(experiment_id, bytes) else parse_id(experiment_id)
        return reveal_plan(self.journal, self.registry, self.settings.state_dir, eid)

    def resume(self, experiment_id: bytes | None = None) -> list[ExperimentSummary]:
        """Finish interrupted experiments from the journal: send what is missing, seal, write.

        Safe to run any number of times; nothing is recorded twice (see algo_tracer.record.writer).
        A run whose own process never reached `finish()` (killed, Ctrl-C, crashed) is sealed
        with the outcome ``interrupted``, so its record does not claim it completed.
        """
        return resume_experiments(self, experiment_id)


class Experiment(PathStages):
    """One traced experiment; use it as a context manager or call `finish()`."""

    def __init__(self, tracer: Tracer, row: ExperimentRow, *, private_metrics: bool,
                 max_pending: int = 100_000, flush_interval: float = 5.0,
                 background: bool = True) -> None:
        self._recording = RecordingLock(tracer.journal.path.parent, row.id)
        if not self._recording.acquire():  # before touching its log: it is not ours
            raise ExperimentBusyError(
                f"experiment {format_id(row.id)} is being recorded by a running process (pid "
                f"{self._recording.holder()})",
                fix="let that run finish: it seals the experiment itself (or stop it, then "
                "run `algo-tracer resume`)")
        self.tracer = tracer
        self.journal = tracer.journal
        self.row = row
        self.id = row.id
        self.private_metrics = private_metrics
        self.store_default = tracer.store  # PathStages: store=None means this
        self.max_pending = max_pending
        self.output_dir = Path(row.output_dir)
        self.card = ModelCardInfo()
        self.datasheet = DatasheetInfo()
        self._log = RecordLog(self.journal, row.id)
        self._writer = Writer(self.journal, tracer.registry, row.id, self._log,
                              final_digest=lambda: build_manifest(self.journal,
                                                                  row.id).final_digest())
        self._background = (BackgroundWriter(self._writer, flush_interval=flush_interval,
                                             on_error=_warn) if background else None)
        self._steps: dict[str, int] = {}
        self._log.ingest()  # records a killed run logged but never moved into the journal
        self._next_seq = self.journal.next_seq(row.id)
        self._finished = False
        self._abandoned = False  # interrupted (Ctrl-C): the journal keeps it for `resume`
        if self._background:
            self._background.notify()

    @property
    def id_text(self) -> str:
        return format_id(self.id)

    @property
    def app_id(self) -> int:
        return self.row.app_id

    # -- stages --------------------------------------------------------------------------------

    def trace_plan(self, plan: Mapping[str, Any] | str | os.PathLike[str], *,
                   private: bool = False) -> StageReceipt:
        """The evaluation plan (a mapping or a .json/.toml file), recorded before anything else
        is traced; `private`: only its salted commitment, until `reveal` (docs/studies.md)."""
        plan_doc = load_plan(plan)
        if self.journal.stages(self.id) or self._next_seq:
            raise InputError("a plan must be recorded before anything else: this experiment "
                             "already traced stages or metrics", fix="pass plan=... to "
                             "tracer.experiment(...) (or call trace_plan first)")
        digest, detail = plan_stage(self.tracer.settings.state_dir, self.id, plan_doc,
                                    private=private, json_scheme=self.row.json_scheme)
        return self._stage(StageKind.PLAN, None, digest, detail)

    def trace_environment(self, project_dir: str | os.PathLike[str] = ".") -> StageReceipt:
        """Python, OS, hardware, installed packages and lock-file digests."""
        from algo_tracer.capture import capture_environment

        digest, detail = stages.describe_snapshot(capture_environment(project_dir),
                                                  self.row.json_scheme)
        return self._stage(StageKind.ENVIRONMENT, None, digest.value, detail)

    def trace_params(self, params: Mapping[str, Any], name: str | None = None) -> StageReceipt:
        """Hyperparameters, as canonical JSON."""
        digest, detail = stages.describe_params(params)
        return self._stage(StageKind.PARAMS, name, digest.value, detail)

    def trace_seed(self, seed: int) -> StageReceipt:
        """Seed every RNG present (random, numpy, torch) and record the seed and switches."""
        from algo_tracer.seeding import seed_everything

        digest, detail = stages.describe_snapshot(seed_everything(seed), self.row.json_scheme)
        return self._stage(StageKind.SEED, None, digest.value, detail)

    def trace_metrics(self, metrics: Mapping[str, Any], name: str | None = None) -> StageReceipt:
        """Final metrics (one box stage); per-step values go through `log_metric`."""
        digest, detail = stages.describe_metrics(metrics)
        return self._stage(StageKind.METRICS, name, digest.value, detail)

    def trace_digest(self, kind: StageKind, name: str | None, digest: bytes | hashing.Digest,
                     detail: Mapping[str, Any] | None = None) -> StageReceipt:
        """Record a digest computed elsewhere (e.g. by an integration) as a stage of `kind`."""
        value, given = stages.describe_given(digest, detail)
        return self._stage(StageKind(kind), name, value, given)

    def _stage(self, kind: StageKind, name: str | None, digest: bytes, detail: dict[str, Any],
               *, store: StoreTarget | None = None) -> StageReceipt:
        self._check_open()
        label = stage_label(kind, name)
        if any(s.label == label for s in self.journal.stages(self.id)):
            raise InputError(f"stage {shorten(repr(label))} is already traced in this experiment",
                             fix="give each traced item its own name, e.g. trace_data('test', ...)")
        idx = self.journal.add_stage(self.id, int(kind), label, digest, detail)
        self._wake()
        cid = None if store is None else store_stage(
            self._stage, self.tracer.ipfs_node, self.tracer.settings.state_dir, self.id, idx,
            label, store, Progress(delay=2.0), json_scheme=self.row.json_scheme)
        return StageReceipt(idx, label, digest.hex(), cid)

    # -- high-volume records -------------------------------------------------------------------

    def log_metric(self, name: str, value: float, step: int | None = None, *,
                   private: bool | None = None) -> int:
        """Record one metric value; returns its sequence number. Only writes the journal.

        `value` may be a Python or numpy number, or a one-value (0-d) array or tensor; `step`
        a Python or numpy integer (default: the name's previous step + 1, from 0).
        """
        self._check_open()
        if step is None:
            step = self._steps.get(name, -1) + 1
        elif not isinstance(step, int) and hasattr(step, "__index__"):
            step = operator.index(step)  # numpy integers, e.g. from np.arange
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # numpy 0-d arrays, torch scalar tensors (loss, not loss.item())
        seq = self._next_seq
        record = NoteRecord(seq, RecordKind.METRIC, name, step, value)  # validates the input
        self._steps[name] = step
        self._log.append(seq, RecordKind.METRIC, record.name, record.step, record.value,
                         self.private_metrics if private is None else private)
        self._next_seq = seq + 1
        if self._background is not None and (seq + 1) % NOTIFY_EVERY == 0:
            # Wake the writer about once per note group, not per call; its timer does the rest.
            self._background.notify()
            # Back-pressure: the chain is far behind. Counted from the sequence numbers, since
            # records wait in the pending log (not the journal) while the writer is busy.
            if seq + 1 - self._writer.batched_upto > self.max_pending:
                self._background.drain()
        return seq

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step=step)

    # -- end -----------------------------------------------------------------------------------

    def finish(self, *, outcome: str = "completed",
               timeout: float | None = FINISH_TIMEOUT) -> ExperimentSummary:
        """Wait for every write, seal on chain, write manifest.json and MODEL_CARD.md.

        The wait is shown on stderr once it lasts (a training script would otherwise seem to
        hang while the node is down). After `timeout` seconds (None: no limit), or on Ctrl-C,
        the experiment is left, journaled, to `algo-tracer resume`: SealTimeoutError (or the
        KeyboardInterrupt) is raised; nothing is lost.
        """
        if self._finished:
            raise InputError("the experiment is already finished",
                             fix="start a new experiment for more stages")
        if self._abandoned:
            self._check_open()  # says to use resume, which records the outcome `interrupted`
        row = self.journal.experiment(self.id)
        label = stage_label(StageKind.CUSTOM, stages.OUTCOME_STAGE)
        recorded = any(s.label == label for s in self.journal.stages(self.id))
        if row.status not in ("sealing", "sealed") and outcome != "completed" and not recorded:
            digest, detail = stages.describe_outcome(outcome)
            self._stage(StageKind.CUSTOM, stages.OUTCOME_STAGE, digest.value, detail)
        if row.status not in ("sealing", "sealed"):  # a reproduction compares what it has
            record_comparison(self.journal, self.id, self.output_dir, outcome, self._stage)
        if row.status == "open":  # the run reached its end: a later `resume` seals it as is
            self.journal.update_experiment(self.id, status="finishing")
        if self._background is not None:
            try:
                self._background.seal(timeout, progress=Progress(delay=2.0))
            except (SealTimeoutError, KeyboardInterrupt) as exc:
                self._leave()
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise SealTimeoutError(
                    f"experiment {self.id_text} is not sealed: the chain did not confirm its "
                    f"last writes within {timeout:g} s ({exc.message})",
                    fix="nothing is lost, every write is journaled: run `algo-tracer resume` "
                    "(or tracer.resume()) once the node answers (check ALGOD_SERVER, or "
                    "`algo-tracer localnet status`)") from exc
            self._background.close()
        self._writer.settle(flush=True, seal=True)  # all that is left (all, without a thread)
        self._log.close()
        self._finished = True
        self._recording.release(sealed=True)
        manifest = build_manifest(self.journal, self.id)
        out = Path(self.journal.experiment(self.id).output_dir)
        manifest_path = out / "manifest.json"
        manifest.write(manifest_path)
        card_path = write_model_card(manifest, self.card, out)
        write_datasheet(manifest, self.datasheet, out)
        send_claim(self.tracer.settings, self.journal, self.id, out)  # a reproduction's claim
        stats = self._writer.stats
        return ExperimentSummary(
            experiment_id=manifest.experiment_id, app_id=manifest.app_id,
            genesis_id=manifest.genesis_id, stages=len(manifest.stages),
            note_records=sum(b.count for b in manifest.batches if not b.private),
            private_records=sum(b.count for b in manifest.batches if b.private),
            micro_algos=stats.fees + stats.deposits, manifest_path=manifest_path,
            model_card_path=card_path, sealed=manifest.seal is not None)

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._finished:
            return
        if exc is None:
            self.summary = self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self._leave()
        else:
            try:
                self.summary = self.finish(outcome=f"failed: {type(exc).__name__}")
            except AlgoTracerError as seal_error:
                _warn(seal_error)
                self._recording.release()  # the journal keeps it for `resume`

    def detach(self) -> None:
        """Stop recording from this object without sealing: the journal keeps the experiment
        open for another writer (a study's appends, `algo_tracer.record.study`)."""
        self._leave()

    def _leave(self) -> None:
        """Leave the journal as it is: `resume` (here, or `algo-tracer resume`) finishes it. The
        writer thread ends its current step first, so no two writers ever share the journal."""
        if self._background is not None:
            self._background.close(raising=False)
        self._log.close()
        self._abandoned = True
        self._recording.release()  # no longer a live recording: `resume` may take it

    def _check_open(self) -> None:
        if self._finished:
            raise InputError("the experiment is already finished and sealed",
                             fix="start a new experiment with tracer.experiment(...)")
        if self._abandoned:
            raise InputError(f"experiment {self.id_text} was interrupted and left to `resume`",
                             fix="finish it with tracer.resume() (or `algo-tracer resume`), "
                             "then start a new experiment")

    def _wake(self) -> None:
        if self._background is not None:
            self._background.notify()


def _warn(exc: BaseException) -> None:
    print(f"algo-tracer: {exc} (will retry)", file=sys.stderr)

