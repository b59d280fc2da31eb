"""What the writer sent and what it cost: groups, transactions, fees, deposits, groups per block."""

from __future__ import annotations

from dataclasses import dataclass, field

from algosdk.transaction import PaymentTxn

from algo_tracer.network.registry import Confirmed, SignedGroup


@dataclass
class WriterStats:
    groups: int = 0
    transactions: int = 0
    fees: int = 0
    deposits: int = 0
    #: confirmed groups (and stages among them) per confirmation round: "stages per block"
    groups_per_round: dict[int, int] = field(default_factory=dict)
    stages_per_round: dict[int, int] = field(default_factory=dict)

    def most_groups_per_block(self) -> int:
        return max(self.groups_per_round.values(), default=0)

    def count(self, group: SignedGroup, done: Confirmed, *, app_address: str,
              stage: bool = False) -> None:
        """Count a confirmed group; payments to `app_address` are storage deposits."""
        self.groups += 1
        for per_round in (self.groups_per_round, *([self.stages_per_round] if stage else [])):
            per_round[done.round] = per_round.get(done.round, 0) + 1
        self.transactions += len(group.signed)
        self.fees += sum(s.transaction.fee for s in group.signed)
        self.deposits += sum(s.transaction.amt for s in group.signed
                             if isinstance(s.transaction, PaymentTxn)
                             and s.transaction.receiver == app_address)
