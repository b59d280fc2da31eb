"""The `trace_*` methods whose value may be a file or directory to store on IPFS (`store=True`).

A base class of `algo_tracer.record.tracer.Experiment`: each method hashes its value
(`algo_tracer.stages`) and hands the digest, the detail and, with `store=True`, the path to
store to the experiment's `_stage` (docs/ipfs.md; storing is `algo_tracer.record.storing`).
"""

from __future__ import annotations

import os
from typing import Any

from algo_tracer import stages
from algo_tracer.documents.manifest import StageKind
from algo_tracer.record.journal import ExperimentRow
from algo_tracer.record.receipts import StageReceipt
from algo_tracer.record.storing import StoreTarget, storable, with_digest

__all__ = ["PathStages"]


class PathStages:
    """trace_code, trace_data, trace_model, trace_artifact (see `Experiment`)."""

    #: Tracer-wide default of `store` (`Tracer(store=True)`).
    store_default: bool = False
    row: ExperimentRow  # Experiment's journal row (its JSON scheme, docs/hashing.md §13)

    def _stage(self, kind: StageKind, name: str | None, digest: bytes, detail: dict[str, Any],
               *, store: StoreTarget | None = None) -> StageReceipt:
        raise NotImplementedError  # Experiment's

    def trace_code(self, path: str | os.PathLike[str] = ".", *,
                   store: bool | None = None) -> StageReceipt:
        """The git commit plus a digest of uncommitted changes, or the tree's digest.
        `store=True` also stores the directory's tree on IPFS (docs/ipfs.md: public)."""
        from algo_tracer.capture import capture_code

        target = self._target(path, store is True, "code")  # never by the tracer-wide default
        digest, detail = stages.describe_snapshot(
            capture_code(path, scheme=self.row.json_scheme), self.row.json_scheme)
        return self._stage(StageKind.CODE, None, digest.value, detail, store=target)

    def trace_data(self, name: str, data: Any, *, store: bool | None = None) -> StageReceipt:
        """A DataFrame, ndarray, file or directory (see docs/hashing.md for each scheme);
        `store=True` also stores a file or directory on IPFS (docs/ipfs.md: public)."""
        target = self._target(data, store, "data")
        digest, detail = stages.describe(data)
        return self._stage(StageKind.DATA, name, digest.value, detail,
                           store=with_digest(target, digest, detail))

    def trace_model(self, model: Any, name: str | None = None, *,
                    store: bool | None = None) -> StageReceipt:
        """A model file or directory, a scikit-learn estimator, or a PyTorch state_dict;
        `store=True` also stores a file or directory on IPFS (docs/ipfs.md: public)."""
        target = self._target(model, store, "model")
        digest, detail = stages.describe_model(model)
        return self._stage(StageKind.MODEL, name, digest.value, detail,
                           store=with_digest(target, digest, detail))

    def trace_artifact(self, name: str, path: str | os.PathLike[str], *,
                       store: bool | None = None) -> StageReceipt:
        target = self._target(path, store, "artifact")
        digest, detail = stages.describe_path(path)
        return self._stage(StageKind.ARTIFACT, name, digest.value, detail,
                           store=with_digest(target, digest, detail))

    def _target(self, value: Any, store: bool | None, what: str) -> StoreTarget | None:
        if store is None:  # the tracer-wide default stores paths, never refuses other values
            return storable(value, self.store_default, what) if isinstance(
                value, (str, os.PathLike)) else None
        return storable(value, store, what)

