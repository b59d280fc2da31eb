"""anchor_batch: the anchor fold, counters, no storage growth and every rejection."""

from __future__ import annotations

import hashlib

import algopy
import pytest
from registry_harness import EXP_ID, RETURN_PREFIX, START_ROUND, Registry

from algo_tracer.format import chain

ROOT = hashlib.sha256(b"batch root").digest()


def test_anchor_folds_the_batch_into_the_head_and_counts_records(opened: Registry) -> None:
    genesis = opened.header()["head"]

    head = opened.anchor(0, ROOT, count=15, first_round=990, last_round=START_ROUND)

    assert head == chain.fold_anchor(genesis, 0, ROOT, 15, 990, START_ROUND)
    header = opened.header()
    assert (header["anchor_count"], header["anchored_records"], header["head"]) == (1, 15, head)
    assert header["stage_count"] == 0

    opened.anchor(1, count=4)

    assert (opened.header()["anchor_count"], opened.header()["anchored_records"]) == (2, 19)


def test_anchor_emits_batch_anchored_then_the_return_value(opened: Registry) -> None:
    opened.at_round(START_ROUND + 5)

    head = opened.anchor(0, ROOT, count=3, first_round=START_ROUND, last_round=START_ROUND + 2)

    logs = opened.logs()
    assert [len(log) for log in logs] == [140, 36]
    assert logs[1] == RETURN_PREFIX + head
    [event] = opened.events()
    assert event.name == "BatchAnchored"
    assert event.fields == {
        "id": EXP_ID,
        "index": 0,
        "merkle_root": ROOT,
        "record_count": 3,
        "first_round": START_ROUND,
        "last_round": START_ROUND + 2,
        "round": START_ROUND + 5,
        "head": head,
    }


def test_anchor_stores_nothing_new(opened: Registry) -> None:
    locked = opened.boxes_mbr()

    opened.anchor(0)

    assert opened.boxes_mbr() == locked
    assert not opened.box_exists(chain.page_key(EXP_ID, 0))


def test_anchor_and_stage_indexes_count_separately(opened: Registry) -> None:
    opened.stage(0)
    opened.anchor(0)
    opened.stage(1)
    opened.anchor(1)

    header = opened.header()
    assert (header["stage_count"], header["anchor_count"]) == (2, 2)


def test_a_batch_may_start_in_the_current_round(opened: Registry) -> None:
    opened.anchor(0, first_round=START_ROUND, last_round=START_ROUND)

    assert opened.header()["anchor_count"] == 1


def test_last_round_is_not_bounded_by_the_current_round(opened: Registry) -> None:
    opened.anchor(0, first_round=START_ROUND, last_round=START_ROUND + 1_000)

    assert opened.header()["anchor_count"] == 1


@pytest.mark.parametrize("size", [0, 31, 33])
def test_a_merkle_root_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^merkle root must be 32 bytes$"):
        opened.anchor(0, root=b"\x01" * size)


def test_an_empty_batch_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^record count must be nonzero$"):
        opened.anchor(0, count=0)


def test_an_inverted_round_range_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^first round after last round$"):
        opened.anchor(0, first_round=START_ROUND, last_round=START_ROUND - 1)


def test_a_batch_starting_after_the_current_round_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^first round in future$"):
        opened.anchor(0, first_round=START_ROUND + 1, last_round=START_ROUND + 1)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_an_id_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        opened.anchor(0, exp_id=b"\x01" * size)


def test_an_unknown_experiment_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^unknown experiment$"):
        opened.anchor(0, exp_id=b"\x02" * 32)


def test_only_the_owner_can_anchor(opened: Registry, stranger: algopy.Account) -> None:
    with pytest.raises(AssertionError, match=r"^not owner$"):
        opened.anchor(0, sender=stranger)
    assert opened.header()["anchor_count"] == 0


def test_a_retried_anchor_group_is_rejected_as_stale(opened: Registry) -> None:
    opened.anchor(0, ROOT)
    before = opened.header()

    with pytest.raises(AssertionError, match=r"^stale anchor index$"):
        opened.anchor(0, ROOT)

    assert opened.header() == before


def test_an_anchor_ahead_of_the_count_is_rejected_as_future(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^future anchor index$"):
        opened.anchor(1)
