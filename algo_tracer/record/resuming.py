"""`Tracer.resume`: finish interrupted experiments from the journal (see its docstring)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from algo_tracer.documents.manifest import StageKind, stage_label
from algo_tracer.documents.study import RESULT_STAGE, TrialResult
from algo_tracer.errors import ExperimentBusyError, InputError, JournalError, NetworkError
from algo_tracer.format.ids import format_id
from algo_tracer.network.identity import Network, require_same_network
from algo_tracer.progress import Progress
from algo_tracer.record.receipts import ExperimentSummary
from algo_tracer.record.storing import retry_stores
from algo_tracer.record.study import is_study

if TYPE_CHECKING:
    from algo_tracer.record.tracer import Tracer

__all__ = ["resume_experiments"]

_RESULT_LABEL = stage_label(StageKind.CUSTOM, RESULT_STAGE)


def resume_experiments(tracer: Tracer, experiment_id: bytes | None) -> list[ExperimentSummary]:
    from algo_tracer.record.tracer import Experiment  # the module that imports this one

    rows = ([tracer.journal.experiment(experiment_id)] if experiment_id
            else tracer.journal.experiments(unfinished=True))
    if experiment_id is None:  # open studies wait for trials: `load_study(id).finish()`
        rows = [r for r in rows if not is_study(tracer.journal, r.id)]
    elif is_study(tracer.journal, experiment_id):
        raise InputError(f"experiment {format_id(experiment_id)} is a study",
                         fix="finish it with tracer.load_study(id).finish() (`algo-tracer "
                         "resume ID` does): it appends its sealed trials and selects")
    # Stores the node refused or missed while tracing (docs/ipfs.md); their stages are journaled.
    stored, problems = retry_stores(tracer.ipfs_node, tracer.settings.state_dir, experiment_id,
                                    Progress(delay=2.0))
    for cid in stored:
        print(f"algo-tracer: stored {cid} on IPFS", file=sys.stderr)
    summaries = []
    for row in rows:
        require_same_network(f"experiment {format_id(row.id)} (journaled)",
                             Network(row.genesis_id, row.genesis_hash), tracer.settings.network)
        if row.app_id != tracer.settings.app_id:
            raise JournalError(f"experiment {format_id(row.id)} was traced on app "
                               f"{row.app_id}, this tracer writes to {tracer.settings.app_id}",
                               fix="resume with the original run's ALGO_TRACER_APP_ID")
        try:
            exp = Experiment(tracer, row, private_metrics=False, background=False)
        except ExperimentBusyError as exc:
            if experiment_id is not None:
                raise
            print(f"algo-tracer: skipped: {exc.message}", file=sys.stderr)
            continue
        finished = row.final_digest is not None or row.status in ("finishing", "sealing",
                                                                   "sealed")
        stages = tracer.journal.stages(row.id)
        if not finished and any(s.kind == StageKind.TRIAL_OF for s in stages) and not any(
                s.label == _RESULT_LABEL for s in stages):
            # A trial killed before its end: its own record says it failed, as the study will.
            result = TrialResult(state="failed")
            exp.trace_digest(StageKind.CUSTOM, RESULT_STAGE, result.digest(row.json_scheme),
                             result.detail())
        summaries.append(exp.finish(outcome="completed" if finished else "interrupted"))
    if problems:  # after sealing: a node that is still down never holds the seal back
        raise NetworkError(f"{len(problems)} stored artifact(s) are still not on IPFS: "
                           + "; ".join(problems[:3]),
                           fix="fix what is named, then run `algo-tracer resume` again (the "
                           "on-chain record is complete; only the upload is missing)")
    return summaries
