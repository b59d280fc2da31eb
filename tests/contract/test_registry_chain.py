"""The on-chain head equals the head recomputed in plain Python (algo_tracer.format.chain).

Two replays: the published test vector of docs/onchain-format.md, and a long random history of
stages, anchors and a seal over many rounds, checked the way a verifier would (section 7 of the
doc): from the boxes and from the event logs alone.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import algosdk
import pytest
from algopy_testing import AlgopyTestContext
from registry_harness import EXP_ID, METADATA, START_ROUND, Event, Registry, decode_stage

from algo_tracer.format import chain

DOC = Path(__file__).resolve().parents[2] / "docs" / "onchain-format.md"


def published_vector_heads() -> list[bytes]:
    section = DOC.read_text(encoding="utf-8").split("## 9. Test vectors", 1)[1]
    return [bytes.fromhex(h) for h in re.findall(r"\| `([0-9a-f]{64})` \|", section)]


def test_contract_reproduces_the_published_test_vector(
    registry: Registry, ctx: AlgopyTestContext
) -> None:
    owner = ctx.any.account(address=algosdk.encoding.encode_address(b"\x11" * 32))
    vector_id = hashlib.sha256(b"algotrace test vector").digest()
    registry.at_round(1000)
    heads = [registry.create(vector_id, b"\x22" * 32, sender=owner)]
    heads.append(registry.stage(0, 1, b"\x33" * 32, exp_id=vector_id, sender=owner))
    registry.at_round(1001)
    heads.append(registry.anchor(0, b"\x44" * 32, 15, 990, 1001, exp_id=vector_id, sender=owner))
    registry.at_round(1002)
    heads.append(registry.seal(b"\x55" * 32, exp_id=vector_id, sender=owner))

    assert heads == published_vector_heads()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_head_after_a_long_history_matches_the_plain_python_replay(
    opened: Registry, seed: int
) -> None:
    rng = random.Random(seed)
    header = opened.header()
    expected = chain.genesis_head(EXP_ID, opened.owner.bytes.value, METADATA)
    assert header["head"] == expected
    events: list[Event] = []
    stages: list[tuple[int, bytes, int]] = []
    anchors = anchored = 0
    round_ = START_ROUND

    for _ in range(130):
        round_ += rng.randint(0, 3)
        opened.at_round(round_)
        if rng.random() < 0.7:
            kind, digest = rng.randint(1, 255), rng.randbytes(32)
            returned = opened.stage(len(stages), kind, digest)
            expected = chain.fold_stage(expected, len(stages), kind, digest, round_)
            stages.append((kind, digest, round_))
        else:
            root, count = rng.randbytes(32), rng.randint(1, 1_000)
            first = rng.randint(START_ROUND - 50, round_)
            last = rng.randint(first, round_ + 5)
            returned = opened.anchor(anchors, root, count, first, last)
            expected = chain.fold_anchor(expected, anchors, root, count, first, last)
            anchors, anchored = anchors + 1, anchored + count
        assert returned == expected
        events += opened.events()

    round_ += 1
    opened.at_round(round_)
    final = rng.randbytes(32)
    expected = chain.fold_seal(expected, final, round_)
    assert opened.seal(final) == expected
    events += opened.events()

    header = opened.header()
    assert header["head"] == expected
    assert (header["stage_count"], header["anchor_count"]) == (len(stages), anchors)
    assert header["anchored_records"] == anchored
    assert read_stages_from_pages(opened, header["stage_count"]) == stages
    assert replay_events(opened, events) == expected


def read_stages_from_pages(registry: Registry, count: int) -> list[tuple[int, bytes, int]]:
    """Decode every record from the page boxes, as docs/onchain-format.md section 1.2 says."""
    records = []
    for page in range((count + chain.PAGE_CAPACITY - 1) // chain.PAGE_CAPACITY):
        value = registry.box(chain.page_key(EXP_ID, page))
        assert len(value) == chain.STAGE_RECORD_SIZE * min(
            chain.PAGE_CAPACITY, count - page * chain.PAGE_CAPACITY
        )
        for offset in range(0, len(value), chain.STAGE_RECORD_SIZE):
            r = decode_stage(value[offset : offset + chain.STAGE_RECORD_SIZE])
            records.append((r["kind"], r["digest"], r["round"]))
    return records


def replay_events(registry: Registry, events: list[Event]) -> bytes:
    """Fold the logged events in order; every event's head must be the running head."""
    created = registry.header()
    head = chain.genesis_head(EXP_ID, created["owner"], created["metadata_digest"])
    for event in events:
        f = event.fields
        assert f["id"] == EXP_ID
        if event.name == "StageRecorded":
            head = chain.fold_stage(head, f["index"], f["kind"], f["digest"], f["round"])
        elif event.name == "BatchAnchored":
            head = chain.fold_anchor(
                head, f["index"], f["merkle_root"], f["record_count"], f["first_round"],
                f["last_round"],
            )  # fmt: skip
        else:
            assert event.name == "ExperimentSealed"
            head = chain.fold_seal(head, f["final_digest"], f["round"])
        assert f["head"] == head
    return head
