"""ExperimentRegistry: per-experiment provenance boxes and an on-chain SHA-256 hash chain.

Storage format v1 (byte-exact; docs/onchain-format.md is the long form and an independent
verifier can be written from either). All integers are unsigned big-endian, `||` is
concatenation, `id` is the 32-byte experiment id.

Header box, one per experiment. Key `b"h" || id` (33 B). Value 177 B (ExperimentHeader):

    off  size  field
      0    32  owner              creator's address (public key); the only account that may write
     32     8  created_round      round of create_experiment
     40     8  created_timestamp  Global.latest_timestamp then (time of the previous block)
     48     1  status             0 open, 1 sealed
     49     8  stage_count        stages recorded so far = next stage index
     57     8  anchor_count       anchors recorded so far = next anchor index
     65     8  anchored_records   sum of record_count over all anchors
     73    32  metadata_digest
    105    32  head               running chain head
    137    32  final_digest       zero until sealed
    169     8  sealed_round       zero until sealed

Stage page boxes. Stage `i` is in page `p = i // 48` at byte offset `(i % 48) * 41`.
Key `b"s" || id || uint32(p)` (37 B). Value: the page's records back to back, 41 B each
(StageRecord: kind uint8 || digest 32 B || round uint64), so 41..1,968 B. A page box is created
by its first record and grows by one record per append (box resize).

Why pages of 48: every append touches the header and one page, 177 + 1,968 = 2,145 B at most,
which fits the box I/O budget of two box references (2,048 B each on consensus v41+). So an
append is always exactly one app call with two box refs, and an experiment never meets the
32 KiB box limit: a full page simply moves on to the next box.

Chain head (sha256 = op.sha256):

    genesis: sha256("algotrace/v1/genesis" || id || owner || metadata_digest)
    stage:   sha256(head || 0x01 || uint64 index || uint8 kind || digest || uint64 round)
    anchor:  sha256(head || 0x02 || uint64 index || merkle_root || uint64 record_count
                    || uint64 first_round || uint64 last_round)
    seal:    sha256(head || 0x03 || final_digest || uint64 round)

`round` is the round the call was confirmed in (Global.round). Stage and anchor indexes count
separately from 0. The anchor fold carries no round: the anchor's round is in its event and txn.

Storage deposit (minimum balance, paid into the app account by the caller's payment):
2,500 µA per box + 400 µA per byte of key + value. A header costs 2,500 + 400 * (33 + 177)
= 86,500 µA. A stage costs 400 * 41 = 16,400 µA, plus 2,500 + 400 * 37 = 17,300 µA when it
opens a page (index % 48 == 0), i.e. 33,700 µA. Anchors and seals store nothing new.

The app is immutable: the only bare action is create, and no method allows
UpdateApplication, DeleteApplication, OptIn or CloseOut, so every such call is rejected.
Boxes are never deleted, so deposits stay locked with the records they pay for.

Checks run in this order and the first failure is the error: argument shapes, experiment
exists, caller is owner, experiment open, expected index (for `seal_after`: the expected stage
and anchor counts), payment. Error texts are stable;
docs/onchain-format.md maps each to its meaning and fix.
"""

import typing as t

from algopy import (
    ARC4Contract,
    BoxMap,
    Bytes,
    Global,
    OnCompleteAction,
    Txn,
    UInt64,
    arc4,
    gtxn,
    op,
    subroutine,
)

Bytes32 = arc4.StaticArray[arc4.Byte, t.Literal[32]]

#: Stage records per page box; see the module docstring for why 48.
PAGE_CAPACITY = 48
#: Bytes of one StageRecord: kind (1) + digest (32) + round (8).
STAGE_RECORD_SIZE = 41
#: Bytes of the ExperimentHeader value.
HEADER_SIZE = 177
#: Bytes of a header key: b"h" + id.
HEADER_KEY_SIZE = 33
#: Bytes of a page key: b"s" + id + uint32 page.
PAGE_KEY_SIZE = 37
#: Consensus BoxFlatMinBalance, µA per box.
BOX_FLAT_MBR = 2_500
#: Consensus BoxByteMinBalance, µA per byte of key + value.
BOX_BYTE_MBR = 400
#: Deposit for one header box: 86,500 µA.
HEADER_MBR = BOX_FLAT_MBR + BOX_BYTE_MBR * (HEADER_KEY_SIZE + HEADER_SIZE)
STATUS_OPEN = 0
STATUS_SEALED = 1
GENESIS_TAG = b"algotrace/v1/genesis"
TAG_STAGE = b"\x01"
TAG_ANCHOR = b"\x02"
TAG_SEAL = b"\x03"


class ExperimentHeader(arc4.Struct):
    """Value of the header box `b"h" || id` (177 bytes)."""

    owner: arc4.Address
    created_round: arc4.UInt64
    created_timestamp: arc4.UInt64
    status: arc4.UInt8
    stage_count: arc4.UInt64
    anchor_count: arc4.UInt64
    anchored_records: arc4.UInt64
    metadata_digest: Bytes32
    head: Bytes32
    final_digest: Bytes32
    sealed_round: arc4.UInt64


class StageRecord(arc4.Struct, frozen=True):
    """One 41-byte record in a stage page box."""

    kind: arc4.UInt8
    digest: Bytes32
    round: arc4.UInt64


class ExperimentCreated(arc4.Struct, frozen=True):
    """Event of create_experiment; `head` is the genesis head."""

    id: Bytes32
    owner: arc4.Address
    metadata_digest: Bytes32
    round: arc4.UInt64
    timestamp: arc4.UInt64
    head: Bytes32


class StageRecorded(arc4.Struct, frozen=True):
    """Event of record_stage; `head` is the head after the stage."""

    id: Bytes32
    index: arc4.UInt64
    kind: arc4.UInt8
    digest: Bytes32
    round: arc4.UInt64
    head: Bytes32


class BatchAnchored(arc4.Struct, frozen=True):
    """Event of anchor_batch; `round` is the anchoring round, `head` the head after it."""

    id: Bytes32
    index: arc4.UInt64
    merkle_root: Bytes32
    record_count: arc4.UInt64
    first_round: arc4.UInt64
    last_round: arc4.UInt64
    round: arc4.UInt64
    head: Bytes32


class ExperimentSealed(arc4.Struct, frozen=True):
    """Event of seal, with the final counters; `head` is the final head."""

    id: Bytes32
    final_digest: Bytes32
    stage_count: arc4.UInt64
    anchor_count: arc4.UInt64
    anchored_records: arc4.UInt64
    round: arc4.UInt64
    head: Bytes32


@subroutine
def stage_mbr(index: UInt64) -> UInt64:
    """Deposit for stage `index`: the record's bytes, plus a new page box on a page's first slot."""
    mbr = UInt64(BOX_BYTE_MBR * STAGE_RECORD_SIZE)
    if index % PAGE_CAPACITY == 0:
        mbr += BOX_FLAT_MBR + BOX_BYTE_MBR * PAGE_KEY_SIZE
    return mbr


@subroutine
def page_key(id: Bytes, index: UInt64) -> Bytes:
    """Key (without the b"s" prefix) of the page that holds stage `index`."""
    return id + arc4.UInt32(index // PAGE_CAPACITY).bytes


@subroutine
def check_payment(payment: gtxn.PaymentTransaction, required: UInt64) -> None:
    """The grouped payment is the caller's own deposit of at least `required` µA to this app."""
    assert payment.sender == Txn.sender, "payment sender is not caller"
    assert payment.receiver == Global.current_application_address, "payment receiver is not app"
    assert payment.amount >= required, "underpaid"


class ExperimentRegistry(ARC4Contract):
    """Registry of experiments: header + paged stage records in boxes, one hash chain each."""

    def __init__(self) -> None:
        self.headers = BoxMap(Bytes, ExperimentHeader, key_prefix=b"h")
        self.pages = BoxMap(Bytes, Bytes, key_prefix=b"s")

    @arc4.baremethod(create="require", allow_actions=[OnCompleteAction.NoOp])
    def create(self) -> None:
        """Bare create. There is no update or delete path, which makes the app immutable."""

    @arc4.abimethod
    def create_experiment(
        self, id: Bytes, metadata_digest: Bytes, payment: gtxn.PaymentTransaction
    ) -> Bytes32:
        """Open experiment `id` owned by the caller; `payment` covers the header deposit."""
        assert id.length == 32, "id must be 32 bytes"
        assert metadata_digest.length == 32, "metadata digest must be 32 bytes"
        assert id not in self.headers, "experiment exists"
        check_payment(payment, UInt64(HEADER_MBR))

        head = op.sha256(GENESIS_TAG + id + Txn.sender.bytes + metadata_digest)
        header = ExperimentHeader(
            owner=arc4.Address(Txn.sender),
            created_round=arc4.UInt64(Global.round),
            created_timestamp=arc4.UInt64(Global.latest_timestamp),
            status=arc4.UInt8(STATUS_OPEN),
            stage_count=arc4.UInt64(0),
            anchor_count=arc4.UInt64(0),
            anchored_records=arc4.UInt64(0),
            metadata_digest=Bytes32.from_bytes(metadata_digest),
            head=Bytes32.from_bytes(head),
            final_digest=Bytes32.from_bytes(op.bzero(32)),
            sealed_round=arc4.UInt64(0),
        )
        self.headers[id] = header.copy()
        arc4.emit(
            ExperimentCreated(
                id=Bytes32.from_bytes(id),
                owner=header.owner,
                metadata_digest=header.metadata_digest.copy(),
                round=header.created_round,
                timestamp=header.created_timestamp,
                head=Bytes32.from_bytes(head),
            )
        )
        return Bytes32.from_bytes(head)

    @arc4.abimethod
    def record_stage(
        self,
        id: Bytes,
        expected_index: UInt64,
        kind: arc4.UInt8,
        digest: Bytes,
        payment: gtxn.PaymentTransaction,
    ) -> Bytes32:
        """Append stage record `expected_index`; `payment` covers `stage_mbr(expected_index)`."""
        assert kind.as_uint64() != 0, "kind must be nonzero"
        assert digest.length == 32, "digest must be 32 bytes"
        header = self.writable_header(id)
        index = header.stage_count.as_uint64()
        assert expected_index >= index, "stale stage index"
        assert expected_index <= index, "future stage index"
        check_payment(payment, stage_mbr(index))

        record = StageRecord(
            kind=kind, digest=Bytes32.from_bytes(digest), round=arc4.UInt64(Global.round)
        )
        page = self.pages.box(page_key(id, index))
        slot = index % PAGE_CAPACITY
        if slot == 0:
            page.value = record.bytes  # box_put creates the page box at 41 bytes
        else:
            page.resize((slot + 1) * STAGE_RECORD_SIZE)
            page.replace(slot * STAGE_RECORD_SIZE, record.bytes)

        head = op.sha256(
            header.head.bytes
            + TAG_STAGE
            + op.itob(index)
            + kind.bytes
            + digest
            + record.round.bytes
        )
        header.stage_count = arc4.UInt64(index + 1)
        header.head = Bytes32.from_bytes(head)
        self.headers[id] = header.copy()
        arc4.emit(
            StageRecorded(
                id=Bytes32.from_bytes(id),
                index=arc4.UInt64(index),
                kind=kind,
                digest=record.digest.copy(),
                round=record.round,
                head=Bytes32.from_bytes(head),
            )
        )
        return Bytes32.from_bytes(head)

    @arc4.abimethod
    def anchor_batch(
        self,
        id: Bytes,
        expected_index: UInt64,
        merkle_root: Bytes,
        record_count: UInt64,
        first_round: UInt64,
        last_round: UInt64,
    ) -> Bytes32:
        """Fold the Merkle root of `record_count` off-box records into the chain head."""
        assert merkle_root.length == 32, "merkle root must be 32 bytes"
        assert record_count != 0, "record count must be nonzero"
        assert first_round <= last_round, "first round after last round"
        assert first_round <= Global.round, "first round in future"
        header = self.writable_header(id)
        index = header.anchor_count.as_uint64()
        assert expected_index >= index, "stale anchor index"
        assert expected_index <= index, "future anchor index"

        head = op.sha256(
            header.head.bytes
            + TAG_ANCHOR
            + op.itob(index)
            + merkle_root
            + op.itob(record_count)
            + op.itob(first_round)
            + op.itob(last_round)
        )
        header.anchor_count = arc4.UInt64(index + 1)
        header.anchored_records = arc4.UInt64(header.anchored_records.as_uint64() + record_count)
        header.head = Bytes32.from_bytes(head)
        self.headers[id] = header.copy()
        arc4.emit(
            BatchAnchored(
                id=Bytes32.from_bytes(id),
                index=arc4.UInt64(index),
                merkle_root=Bytes32.from_bytes(merkle_root),
                record_count=arc4.UInt64(record_count),
                first_round=arc4.UInt64(first_round),
                last_round=arc4.UInt64(last_round),
                round=arc4.UInt64(Global.round),
                head=Bytes32.from_bytes(head),
            )
        )
        return Bytes32.from_bytes(head)

    @arc4.abimethod
    def seal(self, id: Bytes, final_digest: Bytes) -> Bytes32:
        """Close the experiment for good; no write is accepted afterwards."""
        assert final_digest.length == 32, "final digest must be 32 bytes"
        header = self.writable_header(id)
        return self.close(id, final_digest, header)

    @arc4.abimethod
    def seal_after(
        self, id: Bytes, final_digest: Bytes, stage_count: UInt64, anchor_count: UInt64
    ) -> Bytes32:
        """`seal`, only once exactly `stage_count` stages and `anchor_count` anchors are on
        record: sent right behind writes still in flight, it cannot land before or without them
        (as the expected indexes keep stages and anchors in order)."""
        assert final_digest.length == 32, "final digest must be 32 bytes"
        header = self.writable_header(id)
        assert header.stage_count.as_uint64() == stage_count, "stage count differs"
        assert header.anchor_count.as_uint64() == anchor_count, "anchor count differs"
        return self.close(id, final_digest, header)

    @subroutine
    def close(self, id: Bytes, final_digest: Bytes, header: ExperimentHeader) -> Bytes32:
        head = op.sha256(header.head.bytes + TAG_SEAL + final_digest + op.itob(Global.round))
        header.status = arc4.UInt8(STATUS_SEALED)
        header.head = Bytes32.from_bytes(head)
        header.final_digest = Bytes32.from_bytes(final_digest)
        header.sealed_round = arc4.UInt64(Global.round)
        self.headers[id] = header.copy()
        arc4.emit(
            ExperimentSealed(
                id=Bytes32.from_bytes(id),
                final_digest=Bytes32.from_bytes(final_digest),
                stage_count=header.stage_count,
                anchor_count=header.anchor_count,
                anchored_records=header.anchored_records,
                round=header.sealed_round,
                head=Bytes32.from_bytes(head),
            )
        )
        return Bytes32.from_bytes(head)

    @arc4.abimethod(readonly=True)
    def get_experiment(self, id: Bytes) -> ExperimentHeader:
        """The header of experiment `id`."""
        return self.existing_header(id)

    @arc4.abimethod(readonly=True)
    def get_stage(self, id: Bytes, index: UInt64) -> StageRecord:
        """Stage record `index` of experiment `id`."""
        header = self.existing_header(id)
        assert index < header.stage_count.as_uint64(), "unknown stage"
        record = self.pages.box(page_key(id, index)).extract(
            (index % PAGE_CAPACITY) * STAGE_RECORD_SIZE, STAGE_RECORD_SIZE
        )
        return StageRecord.from_bytes(record)

    @subroutine
    def existing_header(self, id: Bytes) -> ExperimentHeader:
        assert id.length == 32, "id must be 32 bytes"
        assert id in self.headers, "unknown experiment"
        return self.headers[id].copy()

    @subroutine
    def writable_header(self, id: Bytes) -> ExperimentHeader:
        """The header of an open experiment owned by the caller."""
        header = self.existing_header(id)
        assert header.owner == arc4.Address(Txn.sender), "not owner"
        assert header.status.as_uint64() == STATUS_OPEN, "experiment sealed"
        return header
