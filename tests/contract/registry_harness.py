"""Offline harness for the ExperimentRegistry contract (algorand-python-testing emulator).

`Registry` wraps one emulated app: it builds the grouped payment, sets the round, calls the
ABI method and decodes what the call left behind (boxes, logs) with the byte layouts of
docs/onchain-format.md, independently of the contract's own struct classes, so that the tests
also check the document.

The emulator checks asserts, box contents and logs, but not fees, box I/O budgets or reference
limits; those need LocalNet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import cast

import algopy
from algopy import Bytes, UInt64, arc4
from algopy_testing import AlgopyTestContext

from algo_tracer.format import chain
from smart_contracts.experiment_registry.contract import ExperimentRegistry

EVENT_SIGNATURES = {
    "ExperimentCreated": "ExperimentCreated(byte[32],address,byte[32],uint64,uint64,byte[32])",
    "StageRecorded": "StageRecorded(byte[32],uint64,uint8,byte[32],uint64,byte[32])",
    "BatchAnchored": "BatchAnchored(byte[32],uint64,byte[32],uint64,uint64,uint64,uint64,byte[32])",
    "ExperimentSealed": (
        "ExperimentSealed(byte[32],byte[32],uint64,uint64,uint64,uint64,byte[32])"
    ),
}
#: Field layouts of the events after the selector: (name, size) in order.
EVENT_FIELDS = {
    "ExperimentCreated": [
        ("id", 32), ("owner", 32), ("metadata_digest", 32), ("round", 8), ("timestamp", 8),
        ("head", 32),
    ],
    "StageRecorded": [
        ("id", 32), ("index", 8), ("kind", 1), ("digest", 32), ("round", 8), ("head", 32),
    ],
    "BatchAnchored": [
        ("id", 32), ("index", 8), ("merkle_root", 32), ("record_count", 8), ("first_round", 8),
        ("last_round", 8), ("round", 8), ("head", 32),
    ],
    "ExperimentSealed": [
        ("id", 32), ("final_digest", 32), ("stage_count", 8), ("anchor_count", 8),
        ("anchored_records", 8), ("round", 8), ("head", 32),
    ],
}  # fmt: skip
#: docs/onchain-format.md section 1.1: (name, offset, size); sizes 1 and 8 are integers.
HEADER_FIELDS = [
    ("owner", 0, 32), ("created_round", 32, 8), ("created_timestamp", 40, 8), ("status", 48, 1),
    ("stage_count", 49, 8), ("anchor_count", 57, 8), ("anchored_records", 65, 8),
    ("metadata_digest", 73, 32), ("head", 105, 32), ("final_digest", 137, 32),
    ("sealed_round", 169, 8),
]  # fmt: skip
RETURN_PREFIX = bytes.fromhex("151f7c75")

EXP_ID = hashlib.sha256(b"experiment under test").digest()
METADATA = hashlib.sha256(b"metadata").digest()
START_ROUND = 1_000
START_TIMESTAMP = 1_750_000_000


def selector(signature: str) -> bytes:
    return hashlib.new("sha512_256", signature.encode()).digest()[:4]


def _decode(data: bytes, fields: list[tuple[str, int]]) -> dict[str, int | bytes]:
    out: dict[str, int | bytes] = {}
    offset = 0
    for name, size in fields:
        raw = data[offset : offset + size]
        out[name] = raw if size == 32 else int.from_bytes(raw, "big")
        offset += size
    assert offset == len(data), f"{len(data) - offset} trailing bytes"
    return out


def decode_header(value: bytes) -> dict[str, int | bytes]:
    assert len(value) == chain.HEADER_SIZE
    return _decode(value, [(name, size) for name, _, size in HEADER_FIELDS])


def decode_stage(record: bytes) -> dict[str, int | bytes]:
    return _decode(record, [("kind", 1), ("digest", 32), ("round", 8)])


@dataclass
class Event:
    name: str
    fields: dict[str, int | bytes]


def decode_event(log: bytes) -> Event:
    for name, signature in EVENT_SIGNATURES.items():
        if log[:4] == selector(signature):
            return Event(name, _decode(log[4:], EVENT_FIELDS[name]))
    raise AssertionError(f"not an event log: {log.hex()}")


@dataclass
class Registry:
    ctx: AlgopyTestContext
    app: ExperimentRegistry

    @property
    def address(self) -> algopy.Account:
        return self.ctx.ledger.get_app(self.app).address

    @property
    def owner(self) -> algopy.Account:
        return self.ctx.default_sender

    def at_round(self, round_: int, timestamp: int = START_TIMESTAMP) -> None:
        self.ctx.ledger.patch_global_fields(
            round=UInt64(round_), latest_timestamp=UInt64(timestamp)
        )

    def payment(
        self,
        amount: int,
        *,
        sender: algopy.Account | None = None,
        receiver: algopy.Account | None = None,
    ) -> algopy.gtxn.PaymentTransaction:
        return self.ctx.any.txn.payment(
            sender=sender or self.owner,
            receiver=receiver or self.address,
            amount=UInt64(amount),
        )

    def call(self, method_name: str, *args: object, sender: algopy.Account | None = None) -> bytes:
        """Call an ABI method as `sender` (default: the owner); returns the raw return value."""
        method = getattr(self.app, method_name)
        with self.ctx.txn.create_group(active_txn_overrides={"sender": sender or self.owner}):
            result = method(*args)
        return bytes(result.bytes.value)

    def create(
        self,
        exp_id: bytes = EXP_ID,
        metadata: bytes = METADATA,
        *,
        amount: int | None = None,
        sender: algopy.Account | None = None,
        payment: algopy.gtxn.PaymentTransaction | None = None,
    ) -> bytes:
        sender = sender or self.owner
        pay = payment or self.payment(
            chain.header_box_mbr() if amount is None else amount, sender=sender
        )
        return self.call("create_experiment", Bytes(exp_id), Bytes(metadata), pay, sender=sender)

    def stage(
        self,
        index: int,
        kind: int = 1,
        digest: bytes | None = None,
        *,
        exp_id: bytes = EXP_ID,
        amount: int | None = None,
        sender: algopy.Account | None = None,
        payment: algopy.gtxn.PaymentTransaction | None = None,
    ) -> bytes:
        sender = sender or self.owner
        digest = stage_digest(index) if digest is None else digest
        pay = payment or self.payment(
            chain.stage_mbr(index) if amount is None else amount, sender=sender
        )
        return self.call(
            "record_stage",
            Bytes(exp_id),
            UInt64(index),
            arc4.UInt8(kind),
            Bytes(digest),
            pay,
            sender=sender,
        )

    def anchor(
        self,
        index: int,
        root: bytes | None = None,
        count: int = 15,
        first_round: int = START_ROUND - 10,
        last_round: int = START_ROUND,
        *,
        exp_id: bytes = EXP_ID,
        sender: algopy.Account | None = None,
    ) -> bytes:
        root = hashlib.sha256(b"root %d" % index).digest() if root is None else root
        return self.call(
            "anchor_batch",
            Bytes(exp_id),
            UInt64(index),
            Bytes(root),
            UInt64(count),
            UInt64(first_round),
            UInt64(last_round),
            sender=sender,
        )

    def seal(
        self,
        final_digest: bytes = b"\x5e" * 32,
        *,
        exp_id: bytes = EXP_ID,
        sender: algopy.Account | None = None,
    ) -> bytes:
        return self.call("seal", Bytes(exp_id), Bytes(final_digest), sender=sender)

    def seal_after(
        self,
        stage_count: int,
        anchor_count: int,
        final_digest: bytes = b"\x5e" * 32,
        *,
        exp_id: bytes = EXP_ID,
        sender: algopy.Account | None = None,
    ) -> bytes:
        return self.call("seal_after", Bytes(exp_id), Bytes(final_digest), UInt64(stage_count),
                         UInt64(anchor_count), sender=sender)

    def get_experiment(self, exp_id: bytes = EXP_ID) -> bytes:
        return self.call("get_experiment", Bytes(exp_id))

    def get_stage(self, index: int, exp_id: bytes = EXP_ID) -> bytes:
        return self.call("get_stage", Bytes(exp_id), UInt64(index))

    def box(self, key: bytes) -> bytes:
        """Raw box value; b"" when the box does not exist."""
        return bytes(self.ctx.ledger.get_box(self.app, key))

    def box_exists(self, key: bytes) -> bool:
        return bool(self.ctx.ledger.box_exists(self.app, key))

    def header(self, exp_id: bytes = EXP_ID) -> dict[str, int | bytes]:
        return decode_header(self.box(chain.header_key(exp_id)))

    def boxes_mbr(self, exp_id: bytes = EXP_ID) -> int:
        """Deposit the experiment's boxes lock, computed from their actual sizes."""
        total = chain.box_mbr(chain.HEADER_KEY_SIZE, len(self.box(chain.header_key(exp_id))))
        page = 0
        while self.box_exists(key := chain.page_key(exp_id, page)):
            total += chain.box_mbr(len(key), len(self.box(key)))
            page += 1
        return total

    def logs(self) -> list[bytes]:
        txn = self.ctx.txn.last_active
        # algopy's stub types a log as algopy.Bytes, but the emulator keeps what the contract
        # logged as Python bytes (TransactionBase.append_log).
        return [bytes(cast(bytes, txn.logs(i))) for i in range(int(txn.num_logs))]

    def events(self) -> list[Event]:
        return [decode_event(log) for log in self.logs() if not log.startswith(RETURN_PREFIX)]


def stage_digest(index: int) -> bytes:
    return hashlib.sha256(b"stage %d" % index).digest()
