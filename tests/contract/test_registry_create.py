"""create_experiment: the header box, its deposit, the genesis head and every rejection."""

from __future__ import annotations

import algopy
import pytest
from registry_harness import (
    EXP_ID,
    METADATA,
    RETURN_PREFIX,
    START_ROUND,
    START_TIMESTAMP,
    Registry,
)

from algo_tracer.format import chain


def test_create_stores_a_177_byte_header_laid_out_as_documented(registry: Registry) -> None:
    head = registry.create()

    assert len(registry.box(chain.header_key(EXP_ID))) == chain.HEADER_SIZE
    assert registry.header() == {
        "owner": registry.owner.bytes.value,
        "created_round": START_ROUND,
        "created_timestamp": START_TIMESTAMP,
        "status": chain.STATUS_OPEN,
        "stage_count": 0,
        "anchor_count": 0,
        "anchored_records": 0,
        "metadata_digest": METADATA,
        "head": head,
        "final_digest": bytes(32),
        "sealed_round": 0,
    }


def test_create_returns_the_genesis_head(registry: Registry) -> None:
    head = registry.create()

    assert head == chain.genesis_head(EXP_ID, registry.owner.bytes.value, METADATA)


def test_create_emits_experiment_created_then_the_return_value(registry: Registry) -> None:
    head = registry.create()

    logs = registry.logs()
    assert [len(log) for log in logs] == [148, 36]
    assert logs[1] == RETURN_PREFIX + head
    [event] = registry.events()
    assert event.name == "ExperimentCreated"
    assert event.fields == {
        "id": EXP_ID,
        "owner": registry.owner.bytes.value,
        "metadata_digest": METADATA,
        "round": START_ROUND,
        "timestamp": START_TIMESTAMP,
        "head": head,
    }


def test_create_accepts_the_exact_header_deposit_and_locks_it(registry: Registry) -> None:
    registry.create(amount=86_500)

    assert registry.boxes_mbr() == chain.header_box_mbr() == 86_500


def test_create_accepts_an_overpayment(registry: Registry) -> None:
    registry.create(amount=1_000_000)

    assert registry.header()["stage_count"] == 0


def test_experiments_are_independent_per_id_and_owner(
    registry: Registry, stranger: algopy.Account
) -> None:
    other_id = bytes(range(32))
    mine = registry.create()
    theirs = registry.create(other_id, sender=stranger)

    assert mine != theirs
    # `.value` is the emulator's (algopy_testing's Bytes); algopy's stub for Bytes does not have it.
    assert registry.header(other_id)["owner"] == stranger.bytes.value  # type: ignore[attr-defined]
    assert registry.header()["owner"] == registry.owner.bytes.value


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_create_rejects_an_id_that_is_not_32_bytes(registry: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        registry.create(b"\x01" * size)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_create_rejects_a_metadata_digest_that_is_not_32_bytes(
    registry: Registry, size: int
) -> None:
    with pytest.raises(AssertionError, match=r"^metadata digest must be 32 bytes$"):
        registry.create(metadata=b"\x01" * size)
    assert not registry.box_exists(chain.header_key(EXP_ID))


def test_an_existing_id_cannot_be_created_again(opened: Registry) -> None:
    before = opened.header()

    with pytest.raises(AssertionError, match=r"^experiment exists$"):
        opened.create(metadata=b"\x07" * 32)

    assert opened.header() == before


def test_an_existing_id_cannot_be_taken_over_by_another_account(
    opened: Registry, stranger: algopy.Account
) -> None:
    with pytest.raises(AssertionError, match=r"^experiment exists$"):
        opened.create(sender=stranger)


def test_create_rejects_a_payment_from_another_account(
    registry: Registry, stranger: algopy.Account
) -> None:
    pay = registry.payment(chain.header_box_mbr(), sender=stranger)

    with pytest.raises(AssertionError, match=r"^payment sender is not caller$"):
        registry.create(payment=pay)
    assert not registry.box_exists(chain.header_key(EXP_ID))


def test_create_rejects_a_payment_to_another_receiver(
    registry: Registry, stranger: algopy.Account
) -> None:
    pay = registry.payment(chain.header_box_mbr(), receiver=stranger)

    with pytest.raises(AssertionError, match=r"^payment receiver is not app$"):
        registry.create(payment=pay)


def test_create_rejects_one_microalgo_less_than_the_header_deposit(registry: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^underpaid$"):
        registry.create(amount=chain.header_box_mbr() - 1)
    assert not registry.box_exists(chain.header_key(EXP_ID))
