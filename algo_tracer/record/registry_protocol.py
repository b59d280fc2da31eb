"""What the writer uses of the registry app: exactly the calls `algo_tracer.record.writer` makes.

`Writer` depends on this protocol, not on `algo_tracer.network.registry.Registry`, so that its
exactly-once protocol can be exercised offline against an in-memory registry
(tests/test_writer_exactly_once.py). `Registry` satisfies it structurally; nothing subclasses it.

What the writer relies on, besides the signatures:

* `prepare_*` signs a group and fixes its transaction ids before anything is sent, so the writer
  can journal them first. The group's registry call carries the write's expected index (stage,
  anchor), which the contract checks, and each note payment of an anchor group carries its lease.
* A group lands atomically or not at all, and never twice: a second landing of the same write is
  refused by the contract's expected index (or "experiment exists" / "experiment sealed"), a
  resend of the same signed bytes by its transaction ids, a repeated note by its lease.
* `send` hands the signed group to the node and returns once the node has accepted it into its
  pool (not confirmed). The node evaluates it on top of the groups already pending there, in
  arrival order, so a stage may be sent while the stage before it is still pending. `send`
  raises `ContractError` (with the contract's error text as `code`) when the contract refused
  the group: nothing of it landed (for the "already landed" answers, an earlier send of the same
  write landed or is pending: the writer confirms nothing before `header` shows it).
  `AlreadySubmittedError` (a `NetworkError`) means these very signed bytes are pending or landed:
  the writer sends a journaled group again while its validity window is open (`last_round`
  below its `last_valid`), so that the transaction ids in the journal are the ones that land.
  Any other `NetworkError` from `send` means the node refused it (nothing of it is pending) or
  the outcome is unknown; either way the writer asks `header` before sending the write again.
* `wait` returns once the group's registry call has a confirmed round. Any error leaves the
  outcome unknown (the group may have landed, may land later, or was dropped from the pool).
* `header` and `stages` read what has landed, nothing else.
"""

from __future__ import annotations

import threading
from typing import Protocol

from algo_tracer.format.boxes import Header, Stage
from algo_tracer.network.registry import Confirmed, SignedGroup


class WriterRegistry(Protocol):
    """The registry app on one network, written through one account, as the writer sees it."""

    @property
    def app_address(self) -> str:
        """The app's account: payments to it are storage deposits (counted in WriterStats)."""
        ...

    def last_round(self) -> int:
        """The last round the node has: a group whose `last_valid` is at most this never lands."""
        ...

    def header(self, experiment_id: bytes) -> Header | None:
        """The experiment's header box, None when the experiment is not registered."""
        ...

    def stages(self, experiment_id: bytes, count: int) -> list[Stage]:
        """The first `count` stage records of the experiment, in index order."""
        ...

    def prepare_create(self, experiment_id: bytes, metadata_digest: bytes) -> SignedGroup:
        """Sign the create_experiment group (header deposit and call)."""
        ...

    def prepare_stage(self, experiment_id: bytes, index: int, kind: int,
                      digest: bytes, note: bytes | None = None) -> SignedGroup:
        """Sign the record_stage group for stage `index` (its expected index); `note` goes in
        the call's note field (a stage note, format.stage_notes)."""
        ...

    def prepare_anchor(self, experiment_id: bytes, index: int, root: bytes, count: int,
                       notes: list[bytes], leases: list[bytes]) -> SignedGroup:
        """Sign the anchor_batch group for anchor `index`, with one note payment per note."""
        ...

    @property
    def seals_after_counts(self) -> bool:
        """Whether the seal names the stage and anchor counts it closes (the app has
        `seal_after`): then it may be sent behind writes in flight, like a stage."""
        ...

    def prepare_seal(self, experiment_id: bytes, final_digest: bytes, *, stage_count: int,
                     anchor_count: int) -> SignedGroup:
        """Sign the seal group (`seal_after` with the counts, or `seal` on an older app)."""
        ...

    def send(self, group: SignedGroup) -> None:
        """Hand `group` to the node; return once it is pending (see the module docstring)."""
        ...

    def wait(self, group: SignedGroup) -> Confirmed:
        """Wait until a sent `group` is confirmed; its registry call's round and chain head."""
        ...

    def wait_unless(self, group: SignedGroup, interrupt: threading.Event) -> Confirmed | None:
        """`wait`, returning None as soon as `interrupt` is set (nothing is known then)."""
        ...

