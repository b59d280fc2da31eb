"""What the ExperimentRegistry really costs, measured on LocalNet.

    python -m benchmarks.bench_contract_costs

Creates a fresh registry app and a fresh funded account, then performs each write through
`algo_tracer.network.registry.Registry` and measures, from the network itself:

* fees: the `fee` fields of the confirmed transactions of the group (algod pending info);
* deposit: the growth of the app account's `min-balance` (algod account info), i.e. the
  storage deposit locked for good by the boxes the write created or grew.

The cost of a write is fees + deposit, in microAlgos (µA). As a cross-check, the writer's own
balance must drop by exactly that much (Registry pays exactly the deposit).

Every figure has a baseline, the cost predicted by docs/onchain-format.md (deposits) and
docs/note-format.md (note capacity) at the minimum fee, and the same value as target, so `pass`
flags any drift: a contract change that stores more, an extra transaction, or fees above the
minimum (network congestion). Results go to benchmarks/results/contract_costs.json
(name -> {value, unit, baseline, target, pass, command}) and a Markdown table to stdout.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algokit_utils import AlgoAmount, AlgorandClient, PaymentParams

from algo_tracer.format import chain
from algo_tracer.format.notes import MAX_NOTES_PER_GROUP, pack_notes
from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.network.registry import Registry, SignedGroup

COMMAND = "python -m benchmarks.bench_contract_costs"
RESULTS = Path(__file__).resolve().parent / "results" / "contract_costs.json"
MIN_FEE = 1_000  # µA per transaction at the minimum fee


@dataclass(frozen=True)
class Cost:
    fees: int
    deposit: int
    transactions: int
    round: int

    @property
    def total(self) -> int:
        return self.fees + self.deposit


class Meter:
    """Sends groups through a Registry and measures what each one cost."""

    def __init__(self, algorand: AlgorandClient, registry: Registry) -> None:
        self.algod = algorand.client.algod
        self.registry = registry

    def _min_balance(self) -> int:
        return int(self.algod.account_info(self.registry.app_address)["min-balance"])

    def _balance(self) -> int:
        return int(self.algod.account_info(self.registry.sender)["amount"])

    def send(self, group: SignedGroup) -> Cost:
        mbr, balance = self._min_balance(), self._balance()
        confirmed = self.registry.submit(group)
        fees = 0
        for txid in group.txids:
            info = self.algod.pending_transaction_info(txid)
            assert info.get("confirmed-round") == confirmed.round, txid
            fees += int(info["txn"]["txn"].get("fee", 0))
        cost = Cost(fees, self._min_balance() - mbr, len(group.txids), confirmed.round)
        spent = balance - self._balance()
        if spent != cost.total:
            raise SystemExit(f"the writer spent {spent} µA but fees + deposit are {cost.total} "
                             f"µA (round {confirmed.round}): the measurement is not sound")
        return cost


def _digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _connect() -> AlgorandClient:
    algorand = AlgorandClient.default_localnet()
    algorand.set_suggested_params_cache_timeout(0)
    try:
        algorand.client.algod.status()
    except OSError as exc:
        raise SystemExit(f"LocalNet's algod is not reachable on localhost:4001 ({exc}); start "
                         "it with `algo-tracer localnet start`") from exc
    return algorand


def _fresh_registry(algorand: AlgorandClient) -> Registry:
    from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
        ExperimentRegistryFactory,
    )

    owner = algorand.account.random()
    algorand.account.ensure_funded(owner, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=10))
    factory = algorand.client.get_typed_app_factory(ExperimentRegistryFactory,
                                                    default_sender=owner.address)
    app, _ = factory.send.create.bare()
    algorand.send.payment(PaymentParams(sender=owner.address, receiver=app.app_address,
                                        amount=AlgoAmount(micro_algo=chain.ACCOUNT_MIN_BALANCE)))
    return Registry(algorand, app.app_id, owner.address, owner.signer)


def measure(algorand: AlgorandClient) -> dict[str, dict[str, Any]]:
    registry = _fresh_registry(algorand)
    meter = Meter(algorand, registry)
    experiment_id = secrets.token_bytes(32)

    create = meter.send(registry.prepare_create(experiment_id, _digest("metadata")))
    stages = [meter.send(registry.prepare_stage(experiment_id, i, 1, _digest(f"stage {i}")))
              for i in range(chain.PAGE_CAPACITY + 1)]  # 0..48: one full page, then page 1
    first_page = stages[: chain.PAGE_CAPACITY]
    in_page, page_opening = stages[1], stages[chain.PAGE_CAPACITY]
    assert stages[0].total == page_opening.total, "both page-opening stages cost the same"
    assert all(s.total == in_page.total for s in stages[1:chain.PAGE_CAPACITY])

    # The note path: one anchor call + 15 payments carrying a per-step `loss` metric stream.
    records = [NoteRecord(seq=i, kind=RecordKind.METRIC, name="loss", step=i,
                          value=1 / (i + 1)) for i in range(4_000)]
    packed = pack_notes(experiment_id, 0, records)
    assert len(packed.notes) == MAX_NOTES_PER_GROUP
    anchor = meter.send(registry.prepare_anchor(experiment_id, 0, packed.root, packed.count,
                                                list(packed.notes), packed.leases()))
    private = meter.send(registry.prepare_anchor(experiment_id, 1, _digest("private root"),
                                                 1_000, [], []))
    seal = meter.send(registry.prepare_seal(experiment_id, _digest("final")))

    page_mbr = chain.BOX_FLAT_MBR + chain.BOX_BYTE_MBR * chain.PAGE_KEY_SIZE
    amortized = sum(s.total for s in first_page) / len(first_page)
    anchor_group_fees = (1 + MAX_NOTES_PER_GROUP) * MIN_FEE
    documented_records_per_group = 1_440  # docs/note-format.md, "1 metric (loss), step +1"

    results: dict[str, dict[str, Any]] = {}

    def add(name: str, value: float, baseline: float, unit: str = "microAlgos", *,
            at_least: bool = False) -> None:
        """The target is the documented baseline: a ceiling for costs, a floor if `at_least`."""
        ok = value >= baseline if at_least else value <= baseline + 1e-9
        results[name] = {"value": _rounded(value), "unit": unit, "baseline": _rounded(baseline),
                         "target": _rounded(baseline), "pass": ok, "command": COMMAND}

    add("create_experiment_microalgos", create.total, chain.header_box_mbr() + 2 * MIN_FEE)
    add("create_experiment_deposit_microalgos", create.deposit, chain.header_box_mbr())
    add("box_stage_microalgos", in_page.total, chain.stage_mbr(1) + 2 * MIN_FEE)
    add("box_stage_deposit_microalgos", in_page.deposit, chain.stage_mbr(1))
    add("box_stage_fees_microalgos", in_page.fees, 2 * MIN_FEE)
    add("box_stage_page_opening_microalgos", page_opening.total,
        chain.stage_mbr(chain.PAGE_CAPACITY) + 2 * MIN_FEE)
    add("box_stage_page_opening_deposit_microalgos", page_opening.deposit,
        chain.stage_mbr(chain.PAGE_CAPACITY))
    add("box_stage_amortized_over_a_page_microalgos", amortized,
        chain.stage_mbr(1) + page_mbr / chain.PAGE_CAPACITY + 2 * MIN_FEE)
    add("anchor_batch_note_group_microalgos", anchor.total, anchor_group_fees)
    add("anchor_batch_note_group_deposit_microalgos", anchor.deposit, 0)
    add("anchor_batch_note_group_records", packed.count, documented_records_per_group,
        unit="records", at_least=True)
    add("anchor_batch_per_record_microalgos", anchor.total / packed.count,
        anchor_group_fees / documented_records_per_group)
    add("anchor_batch_private_root_microalgos", private.total, MIN_FEE)
    add("seal_microalgos", seal.total, MIN_FEE)
    add("seal_deposit_microalgos", seal.deposit, 0)
    return results


def _rounded(value: float) -> float:
    return round(value, 2) if isinstance(value, float) else value


def markdown(results: dict[str, dict[str, Any]]) -> str:
    def show(value: Any) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}"

    lines = ["| measurement | value | unit | baseline | target | pass |",
             "|---|---:|---|---:|---:|:---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {show(r['value'])} | {r['unit']} | {show(r['baseline'])} | "
                     f"{show(r['target'])} | {'yes' if r['pass'] else 'NO'} |")
    return "\n".join(lines)


def main() -> int:
    results = measure(_connect())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"\nwritten to {RESULTS}")
    return 0 if all(r["pass"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
