"""record_stage: paged records, deposits per call, the stage fold and every rejection."""

from __future__ import annotations

import algopy
import pytest
from registry_harness import EXP_ID, RETURN_PREFIX, START_ROUND, Registry, stage_digest

from algo_tracer.format import chain


def test_record_stage_stores_the_record_and_advances_the_header(opened: Registry) -> None:
    genesis = opened.header()["head"]
    opened.at_round(START_ROUND + 3)

    head = opened.stage(0, kind=4)

    assert opened.box(chain.page_key(EXP_ID, 0)) == bytes([4]) + stage_digest(0) + (
        START_ROUND + 3
    ).to_bytes(8, "big")
    header = opened.header()
    assert header["stage_count"] == 1
    assert header["head"] == head
    assert head == chain.fold_stage(genesis, 0, 4, stage_digest(0), START_ROUND + 3)


def test_record_stage_emits_stage_recorded_then_the_return_value(opened: Registry) -> None:
    head = opened.stage(0, kind=7)

    logs = opened.logs()
    assert [len(log) for log in logs] == [117, 36]
    assert logs[1] == RETURN_PREFIX + head
    [event] = opened.events()
    assert event.name == "StageRecorded"
    assert event.fields == {
        "id": EXP_ID,
        "index": 0,
        "kind": 7,
        "digest": stage_digest(0),
        "round": START_ROUND,
        "head": head,
    }


def test_pages_roll_over_after_48_records(opened: Registry) -> None:
    for index in range(48):
        opened.stage(index)
    assert len(opened.box(chain.page_key(EXP_ID, 0))) == 48 * 41 == 1_968
    assert not opened.box_exists(chain.page_key(EXP_ID, 1))

    opened.stage(48)

    assert len(opened.box(chain.page_key(EXP_ID, 0))) == 1_968
    assert opened.box(chain.page_key(EXP_ID, 1))[1:33] == stage_digest(48)
    assert len(opened.box(chain.page_key(EXP_ID, 1))) == 41
    page0 = opened.box(chain.page_key(EXP_ID, 0))
    assert page0[47 * 41 + 1 : 47 * 41 + 33] == stage_digest(47)


def test_every_record_sits_at_its_documented_page_and_offset(opened: Registry) -> None:
    for index in range(100):
        opened.stage(index, kind=1 + index % 255)

    for index in range(100):
        page, offset = chain.stage_location(index)
        record = opened.box(chain.page_key(EXP_ID, page))[offset : offset + 41]
        assert record == bytes([1 + index % 255]) + stage_digest(index) + START_ROUND.to_bytes(
            8, "big"
        )
    assert [len(opened.box(chain.page_key(EXP_ID, p))) for p in range(3)] == [1968, 1968, 4 * 41]


def test_each_stage_costs_exactly_its_deposit_across_page_boundaries(opened: Registry) -> None:
    for index in range(97):
        required = chain.stage_mbr(index)
        with pytest.raises(AssertionError, match=r"^underpaid$"):
            opened.stage(index, amount=required - 1)
        locked_before = opened.boxes_mbr()

        opened.stage(index, amount=required)

        assert opened.boxes_mbr() - locked_before == required
    assert [chain.stage_mbr(i) for i in (0, 1, 47, 48, 49, 96)] == [
        33_700, 16_400, 16_400, 33_700, 16_400, 33_700,
    ]  # fmt: skip


@pytest.mark.parametrize("kind", [1, 10, 255])
def test_any_kind_from_1_to_255_is_accepted(opened: Registry, kind: int) -> None:
    opened.stage(0, kind=kind)

    assert opened.box(chain.page_key(EXP_ID, 0))[0] == kind


def test_kind_zero_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^kind must be nonzero$"):
        opened.stage(0, kind=0)
    assert opened.header()["stage_count"] == 0


@pytest.mark.parametrize("size", [0, 20, 31, 33, 64])
def test_a_digest_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^digest must be 32 bytes$"):
        opened.stage(0, digest=b"\x01" * size)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_an_id_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        opened.stage(0, exp_id=b"\x01" * size)


def test_an_unknown_experiment_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^unknown experiment$"):
        opened.stage(0, exp_id=b"\x02" * 32)


def test_only_the_owner_can_record_stages(opened: Registry, stranger: algopy.Account) -> None:
    with pytest.raises(AssertionError, match=r"^not owner$"):
        opened.stage(0, sender=stranger)
    assert opened.header()["stage_count"] == 0


def test_a_retried_stage_is_rejected_as_stale(opened: Registry) -> None:
    opened.stage(0)
    opened.stage(1)
    before = opened.header()

    with pytest.raises(AssertionError, match=r"^stale stage index$"):
        opened.stage(1)
    with pytest.raises(AssertionError, match=r"^stale stage index$"):
        opened.stage(0)

    assert opened.header() == before


def test_a_stage_ahead_of_the_count_is_rejected_as_future(opened: Registry) -> None:
    opened.stage(0)

    with pytest.raises(AssertionError, match=r"^future stage index$"):
        opened.stage(2)
    assert opened.header()["stage_count"] == 1


def test_a_payment_from_another_account_is_rejected(
    opened: Registry, stranger: algopy.Account
) -> None:
    pay = opened.payment(chain.stage_mbr(0), sender=stranger)

    with pytest.raises(AssertionError, match=r"^payment sender is not caller$"):
        opened.stage(0, payment=pay)


def test_a_payment_to_another_receiver_is_rejected(
    opened: Registry, stranger: algopy.Account
) -> None:
    pay = opened.payment(chain.stage_mbr(0), receiver=stranger)

    with pytest.raises(AssertionError, match=r"^payment receiver is not app$"):
        opened.stage(0, payment=pay)


@pytest.mark.parametrize("index", [0, 1, 48])
def test_one_microalgo_less_than_the_stage_deposit_is_rejected(
    opened: Registry, index: int
) -> None:
    for earlier in range(index):
        opened.stage(earlier)

    with pytest.raises(AssertionError, match=r"^underpaid$"):
        opened.stage(index, amount=chain.stage_mbr(index) - 1)
    assert opened.header()["stage_count"] == index
    # a rejected stage that would open a page leaves no page box behind
    page, offset = chain.stage_location(index)
    assert opened.box_exists(chain.page_key(EXP_ID, page)) == (offset != 0)
