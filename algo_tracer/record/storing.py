"""Storing traced files and directories on IPFS: `store=True`, and `resume`'s retries.

A stage traced with `store=True` is recorded first, as always (digest first). Then its content
is added to the IPFS node (streamed, CIDv1, the chunking of `ipfs add --cid-version 1`) and a
stage of kind 25 commits to its CID (algo_tracer.documents.stored):

* node up: the node's CID must equal the one computed here (`hashing.unixfs.cid_of_path`), else
  nothing more is recorded and `ConfigError` says why: a CID that `ipfs add --cid-version 1`
  cannot reproduce is never recorded;
* node down (or unreachable): the stored stage is recorded with the CID computed here, and the
  upload is left in `<state dir>/ipfs-pending/` for `resume` (`retry_stores`), which adds the
  same file again and checks the same CID. A file changed since it was traced gives another CID
  and stays pending, with a message naming it. Nothing is recorded twice: the pending file is
  removed only once the node holds and pins the content.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algo_tracer import hashing, stages
from algo_tracer.documents.atomic import write_text_atomic
from algo_tracer.documents.manifest import StageKind
from algo_tracer.documents.stored import StoredDetail, stored_digest
from algo_tracer.errors import ConfigError, InputError, NetworkError, shorten
from algo_tracer.format.ids import format_id
from algo_tracer.format.stage_notes import encode_stage_note
from algo_tracer.hashing.unixfs import cid_of_path, directory_entries
from algo_tracer.network.ipfs import Entries, IpfsNode
from algo_tracer.progress import Progress, track

__all__ = ["PENDING_DIR", "StoreTarget", "retry_stores", "storable", "store_stage",
           "with_digest"]

PENDING_DIR = "ipfs-pending"

#: Records a stage: (kind, name, digest, detail) (`Experiment._stage`).
type Record = Callable[[StageKind, str | None, bytes, dict[str, Any]], object]


@dataclass(frozen=True)
class StoreTarget:
    path: Path
    #: The content's digest when the stage's own digest is it (a data, model or artifact path):
    #: not computed a second time.
    digest: hashing.Digest | None = None


def storable(value: Any, store: bool, what: str) -> StoreTarget | None:
    """The path to store for a `trace_*(..., store=True)` call, refused before anything is
    recorded when the value is not a file or directory."""
    if not store:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"store=True stores a file or directory on IPFS; this {what} is a "
                         f"{type(value).__name__}", fix="save it to a file first and trace "
                         "the path (e.g. joblib.dump / torch.save), or drop store=True")
    path = Path(value)
    if not path.exists():
        raise InputError(f"{path} does not exist", fix="check the path")
    return StoreTarget(path.absolute())  # not resolved: a symlink keeps its name


def with_digest(target: StoreTarget | None, digest: hashing.Digest,
                detail: dict[str, Any]) -> StoreTarget | None:
    """`target` knowing its content's digest: the stage's own, when the stage is the path's
    (a data, model or artifact file or directory; docs/ipfs.md)."""
    if target is None or "path" not in detail or digest.kind not in ("file", "directory"):
        return target
    return StoreTarget(target.path, digest)


def store_stage(record: Record, node: Callable[[], IpfsNode], state_dir: Path,
                experiment_id: bytes, stage_index: int, stage_label: str, target: StoreTarget,
                progress: Progress | None = None, *, json_scheme: int) -> str:
    """Store `target` (the content of stage `stage_label`) and record its stored stage, its
    digest and note in the experiment's `json_scheme` (docs/hashing.md §13); returns the CID.
    See the module docstring for what happens when the node is down."""
    path = target.path
    digest = target.digest or _digest(path)
    entries = _entries(path) if path.is_dir() else None
    with track(progress, f"computing the CID of {path.name}", unit="B") as advance:
        cid = cid_of_path(path, advance)
    detail = StoredDetail(stage=stage_label, index=stage_index, digest=digest.hex,
                          scheme=digest.kind, cid=cid, type="directory" if entries is not None
                          else "file", name=path.name)
    body = detail.model_dump(mode="json")
    # InputError when it cannot fit
    encode_stage_note(StageKind.STORED, experiment_id, body, json_scheme)
    pending = _pending_path(state_dir, experiment_id, stage_label)
    try:
        _upload(node(), path, entries, cid, progress)
    except NetworkError as exc:
        write_text_atomic(pending, json.dumps({"path": str(path), "cid": cid,
                                               "label": stage_label}) + "\n")
        print(f"algo-tracer: {stage_label} is recorded with its CID {cid}, but not stored yet: "
              f"{exc.message} ({exc.fix}); `algo-tracer resume` stores it", file=sys.stderr)
    record(StageKind.STORED, stage_label, stored_digest(detail, json_scheme).value, body)
    return cid


def retry_stores(node: Callable[[], IpfsNode], state_dir: Path,
                 experiment_id: bytes | None = None,
                 progress: Progress | None = None) -> tuple[list[str], list[str]]:
    """Upload what tracing could not (`resume`): returns (stored CIDs, problems)."""
    folder = state_dir / PENDING_DIR
    prefix = "" if experiment_id is None else experiment_id.hex()
    done, problems = [], []
    for file in sorted(folder.glob(f"{prefix}*.json")) if folder.is_dir() else []:
        try:
            item = json.loads(file.read_text())
            path, cid, label = Path(item["path"]), str(item["cid"]), str(item["label"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{file}: unreadable pending store ({exc})")
            continue
        what = f"{label} ({cid}) of experiment {format_id(bytes.fromhex(file.name[:64]))}"
        if not path.exists():
            problems.append(f"{what}: {path} no longer exists; put the traced content back "
                            "there and run `algo-tracer resume` again")
            continue
        try:
            _upload(node(), path, _entries(path) if path.is_dir() else None, cid, progress)
        except (NetworkError, ConfigError) as exc:
            problems.append(f"{what}: {exc.message} ({exc.fix})")
            continue
        file.unlink(missing_ok=True)  # a concurrent resume may have stored it too
        done.append(cid)
    return done, problems


def _digest(path: Path) -> hashing.Digest:
    """A file's or directory's digest (docs/hashing.md), for a stage whose digest is another's
    (a code stage's is its snapshot's)."""
    hashed = stages.hash_local_copy(path)
    return hashed.digest if isinstance(hashed, hashing.DirectoryDigest) else hashed


def _entries(root: Path) -> Entries:
    """What `hashing.unixfs.cid_of_directory` covers (`directory_entries`: files, symlinks and
    directories, empty ones too, less `hashing.DEFAULT_IGNORE`), as the node is sent it."""
    return [(e.path, "dir" if e.kind == "directory" else e.kind)
            for e in directory_entries(root)]


def _upload(node: IpfsNode, path: Path, entries: Entries | None, cid: str,
            progress: Progress | None) -> None:
    size = (sum(path.joinpath(e).lstat().st_size for e, kind in entries if kind == "file")
            if entries is not None else path.stat().st_size)
    with track(progress, f"storing {path.name} on IPFS", total=size, unit="B") as advance:
        got = node.add(path, entries, advance)
    if got != cid:
        raise ConfigError(
            f"the IPFS node at {node.api} gives {path.name} the CID {shorten(got, 80)}, not "
            f"{cid} (what `ipfs add --cid-version 1` gives with kubo's defaults); the file may "
            "have changed since it was traced, or the node builds CIDs otherwise",
            fix="restore the traced content, or use a kubo node (>= 0.20) with default "
                "Import settings (ALGO_TRACER_IPFS_API)")
    node.pin(cid)


def _pending_path(state_dir: Path, experiment_id: bytes, label: str) -> Path:
    safe = hashlib.sha256(label.encode()).hexdigest()[:16]  # labels may hold any character
    return state_dir / PENDING_DIR / f"{experiment_id.hex()}-{safe}.json"
