"""Random sequences of calls keep the registry's invariants (hypothesis + the offline emulator).

Invariants after every call: the on-chain head equals the fold of the accepted calls
(algo_tracer.format.chain), only the owner's writes are accepted, writes with a stale or future
index are rejected, and once sealed nothing changes. A rejected call leaves the header as it was.
"""

from __future__ import annotations

import hashlib

from algopy_testing import algopy_testing_context
from hypothesis import given, settings
from hypothesis import strategies as st
from registry_harness import EXP_ID, METADATA, START_ROUND, Registry, stage_digest

from algo_tracer.format import chain
from smart_contracts.experiment_registry.contract import ExperimentRegistry

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("stage"), st.booleans(), st.sampled_from([-1, 0, 0, 0, 1]),
                  st.integers(1, 10)),
        st.tuples(st.just("anchor"), st.booleans(), st.sampled_from([-1, 0, 0, 0, 1]),
                  st.integers(1, 1_000)),
        st.tuples(st.just("seal"), st.booleans(), st.just(0), st.just(0)),
    ),
    max_size=14,
)


@settings(max_examples=40, deadline=None)
@given(ops=OPS)
def test_random_call_sequences_keep_the_chain_head_owner_and_seal_invariants(
    ops: list[tuple[str, bool, int, int]],
) -> None:
    with algopy_testing_context() as ctx:
        app = ExperimentRegistry()
        app.create()
        reg = Registry(ctx, app)
        reg.at_round(START_ROUND)
        stranger = ctx.any.account()
        reg.create()
        head = chain.genesis_head(EXP_ID, reg.owner.bytes.value, METADATA)
        stages = anchors = records = 0
        sealed = False

        for op, by_owner, offset, arg in ops:
            before = reg.box(chain.header_key(EXP_ID))
            sender = None if by_owner else stranger
            accepted = by_owner and not sealed
            try:
                if op == "stage":
                    index = max(stages + offset, 0)
                    accepted = accepted and index == stages
                    reg.stage(index, arg, sender=sender)
                elif op == "anchor":
                    index = max(anchors + offset, 0)
                    accepted = accepted and index == anchors
                    reg.anchor(index, hashlib.sha256(b"%d" % index).digest(), arg, sender=sender)
                else:
                    reg.seal(b"\x5e" * 32, sender=sender)
            except AssertionError:
                assert not accepted, f"{op} by {'owner' if by_owner else 'stranger'} rejected"
                assert reg.box(chain.header_key(EXP_ID)) == before, "a rejected call wrote"
                continue
            assert accepted, f"{op} offset {offset} sealed={sealed} by_owner={by_owner} accepted"
            if op == "stage":
                head = chain.fold_stage(head, stages, arg, stage_digest(stages), START_ROUND)
                stages += 1
            elif op == "anchor":
                head = chain.fold_anchor(head, anchors, hashlib.sha256(b"%d" % anchors).digest(),
                                         arg, START_ROUND - 10, START_ROUND)
                anchors += 1
                records += arg
            else:
                head = chain.fold_seal(head, b"\x5e" * 32, START_ROUND)
                sealed = True

            header = reg.header()
            assert header["head"] == head
            assert (header["stage_count"], header["anchor_count"], header["anchored_records"],
                    header["status"]) == (stages, anchors, records, int(sealed))
