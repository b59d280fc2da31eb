"""seal: the seal fold, sealed-is-final, and every rejection."""

from __future__ import annotations

import algopy
import pytest
from registry_harness import EXP_ID, RETURN_PREFIX, START_ROUND, Registry

from algo_tracer.format import chain

FINAL = b"\xf1" * 32


def test_seal_records_the_final_digest_round_and_head(opened: Registry) -> None:
    opened.stage(0)
    before = opened.header()
    opened.at_round(START_ROUND + 9)

    head = opened.seal(FINAL)

    assert head == chain.fold_seal(before["head"], FINAL, START_ROUND + 9)
    assert opened.header() == {
        **before,
        "status": chain.STATUS_SEALED,
        "final_digest": FINAL,
        "sealed_round": START_ROUND + 9,
        "head": head,
    }


def test_seal_emits_experiment_sealed_with_the_final_counts(opened: Registry) -> None:
    opened.stage(0)
    opened.stage(1)
    opened.anchor(0, count=5)

    head = opened.seal(FINAL)

    logs = opened.logs()
    assert [len(log) for log in logs] == [132, 36]
    assert logs[1] == RETURN_PREFIX + head
    [event] = opened.events()
    assert event.name == "ExperimentSealed"
    assert event.fields == {
        "id": EXP_ID,
        "final_digest": FINAL,
        "stage_count": 2,
        "anchor_count": 1,
        "anchored_records": 5,
        "round": START_ROUND,
        "head": head,
    }


def test_a_sealed_experiment_rejects_every_write(opened: Registry) -> None:
    opened.stage(0)
    opened.seal(FINAL)
    sealed = opened.header()

    with pytest.raises(AssertionError, match=r"^experiment sealed$"):
        opened.stage(1)
    with pytest.raises(AssertionError, match=r"^experiment sealed$"):
        opened.anchor(0)
    with pytest.raises(AssertionError, match=r"^experiment sealed$"):
        opened.seal(b"\x00" * 32)
    with pytest.raises(AssertionError, match=r"^experiment exists$"):
        opened.create()

    assert opened.header() == sealed


def test_a_sealed_experiment_stays_readable(opened: Registry) -> None:
    opened.stage(0)
    opened.seal(FINAL)

    assert opened.get_experiment() == opened.box(chain.header_key(EXP_ID))
    assert opened.get_stage(0)[1:33] == opened.box(chain.page_key(EXP_ID, 0))[1:33]


def test_an_experiment_without_stages_can_be_sealed(opened: Registry) -> None:
    opened.seal(FINAL)

    assert opened.header()["status"] == chain.STATUS_SEALED


@pytest.mark.parametrize("size", [0, 31, 33])
def test_a_final_digest_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^final digest must be 32 bytes$"):
        opened.seal(b"\x01" * size)
    assert opened.header()["status"] == chain.STATUS_OPEN


@pytest.mark.parametrize("size", [0, 31, 33])
def test_an_id_that_is_not_32_bytes_is_rejected(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        opened.seal(exp_id=b"\x01" * size)


def test_an_unknown_experiment_is_rejected(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^unknown experiment$"):
        opened.seal(exp_id=b"\x02" * 32)


def test_only_the_owner_can_seal(opened: Registry, stranger: algopy.Account) -> None:
    with pytest.raises(AssertionError, match=r"^not owner$"):
        opened.seal(FINAL, sender=stranger)
    assert opened.header()["status"] == chain.STATUS_OPEN


# -- seal_after: the seal that names the counts it closes ---------------------------------------


def test_seal_after_with_the_counts_on_record_seals_exactly_as_seal(opened: Registry) -> None:
    opened.stage(0)
    opened.stage(1)
    opened.anchor(0, count=5)
    before = opened.header()
    opened.at_round(START_ROUND + 9)

    head = opened.seal_after(2, 1, FINAL)

    assert head == chain.fold_seal(before["head"], FINAL, START_ROUND + 9)
    assert opened.header() == {**before, "status": chain.STATUS_SEALED, "final_digest": FINAL,
                               "sealed_round": START_ROUND + 9, "head": head}
    [event] = opened.events()
    assert event.name == "ExperimentSealed"
    assert (event.fields["stage_count"], event.fields["anchor_count"]) == (2, 1)


@pytest.mark.parametrize(("stages", "anchors", "error"), [
    (1, 1, "stage count differs"), (3, 1, "stage count differs"),
    (2, 0, "anchor count differs"), (2, 2, "anchor count differs"),
])
def test_seal_after_refuses_while_a_write_it_names_is_missing_or_one_more_is_on_record(
    opened: Registry, stages: int, anchors: int, error: str
) -> None:
    opened.stage(0)
    opened.stage(1)
    opened.anchor(0, count=5)
    before = opened.header()

    with pytest.raises(AssertionError, match=f"^{error}$"):
        opened.seal_after(stages, anchors, FINAL)

    assert opened.header() == before


def test_seal_after_checks_owner_and_open_before_the_counts(
    opened: Registry, stranger: algopy.Account
) -> None:
    with pytest.raises(AssertionError, match=r"^not owner$"):
        opened.seal_after(9, 9, FINAL, sender=stranger)
    opened.seal_after(0, 0, FINAL)
    with pytest.raises(AssertionError, match=r"^experiment sealed$"):
        opened.seal_after(0, 0, FINAL)
