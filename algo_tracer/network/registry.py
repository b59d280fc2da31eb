"""The ExperimentRegistry app on one network, written through one account.

Writes happen in steps so that nothing can be recorded twice: `prepare_*` builds and signs a
transaction group (its transaction ids are then fixed and go into the journal), `send` hands it
to algod's pool and `wait` waits for its confirmation (`submit` does both). Splitting the two
lets the writer keep several groups in flight per block. If the outcome of a submission is
unknown, the caller asks the chain (`header`) whether the index landed instead of sending again
blindly; the contract's expected index rejects a second landing anyway.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from algokit_utils import (
    AlgoAmount,
    AlgorandClient,
    AppCallMethodCallParams,
    CommonAppCallParams,
    PaymentParams,
)
from algokit_utils.errors.logic_error import parse_logic_error
from algosdk import encoding, transaction
from algosdk.atomic_transaction_composer import TransactionSigner
from algosdk.error import AlgodHTTPError, ConfirmationTimeoutError, TransactionRejectedError

from algo_tracer.errors import (
    AlreadySubmittedError,
    ContractError,
    InsufficientFundsError,
    JournalError,
    NetworkError,
)
from algo_tracer.format import chain
from algo_tracer.format.boxes import Header, Stage, decode_header, decode_page
from algo_tracer.network.algod import (
    ALGOD_ERRORS,
    account_balance,
    algod_call,
    algod_error,
    last_round,
    read_box,
)
from smart_contracts.artifacts.experiment_registry.experiment_registry_client import (
    APP_SPEC,
    AnchorBatchArgs,
    CreateExperimentArgs,
    ExperimentRegistryClient,
    RecordStageArgs,
    SealAfterArgs,
    SealArgs,
)

_RETURN_PREFIX = bytes.fromhex("151f7c75")
#: Selector of seal_after(byte[],byte[],uint64,uint64)byte[32] (docs/onchain-format.md).
_SEAL_AFTER = bytes.fromhex("882c9724")

#: What each contract error text means for a user, and what to do about it.
CONTRACT_ERRORS: dict[str, str] = {
    "experiment exists": "an experiment with this id is already registered; ids are derived "
    "with a random salt, so this is a retry of a create that already landed",
    "unknown experiment": "no experiment with this id in this registry app: check the app id "
    "and the network (ALGO_TRACER_APP_ID, ALGOD_SERVER)",
    "not owner": "the experiment belongs to another account: sign with the owner's key "
    "(ALGO_TRACER_MNEMONIC)",
    "experiment sealed": "sealed experiments are final: start a new experiment",
    "stale stage index": "that stage index is already recorded on chain",
    "future stage index": "the journal is behind the chain: run `algo-tracer resume`",
    "stale anchor index": "that batch is already anchored on chain",
    "future anchor index": "the journal is behind the chain: run `algo-tracer resume`",
    "stage count differs": "the seal was sent behind a stage that has not landed: it is sent "
    "again once the stages in flight are settled",
    "anchor count differs": "the seal was sent behind an anchor that has not landed: it is sent "
    "again once the anchors in flight are settled",
    "underpaid": "the storage deposit paid with the call is too small; this is a bug in "
    "algo-tracer, please report it",
}


@dataclass(frozen=True)
class SignedGroup:
    """A signed transaction group whose transaction ids are fixed before it is sent."""

    signed: list[transaction.SignedTransaction]
    app_call: int  # position of the registry call in the group
    first_valid: int
    last_valid: int

    @cached_property
    def txids(self) -> list[str]:
        # cached: each id is a msgpack encoding and a hash, and the writer asks several times
        return [s.get_txid() for s in self.signed]

    def to_bytes(self) -> bytes:
        """The signed group as the journal keeps it: sent again as is, its txids stay the same."""
        return json.dumps({"app_call": self.app_call,
                           "signed": [encoding.msgpack_encode(s) for s in self.signed]}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedGroup:
        try:
            kept = json.loads(data)
            signed = [encoding.msgpack_decode(s) for s in kept["signed"]]
            app_call = int(kept["app_call"])
            call = signed[app_call].transaction
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JournalError(f"a signed group in the journal cannot be read: {exc}",
                               fix="the journal file was edited or damaged; restore it, or "
                               "move it aside and start the experiment again") from exc
        return cls(signed=signed, app_call=app_call, first_valid=call.first_valid_round,
                   last_valid=call.last_valid_round)


@dataclass(frozen=True)
class Confirmed:
    txid: str  # the registry call's transaction id
    round: int
    head: bytes  # the chain head the contract returned


class Registry:
    def __init__(self, algorand: AlgorandClient, app_id: int, sender: str,
                 signer: TransactionSigner) -> None:
        self.algorand = algorand
        self.app_id = app_id
        self.sender = sender
        self.signer = signer
        self.client = ExperimentRegistryClient(algorand=algorand, app_id=app_id,
                                               default_sender=sender, default_signer=signer)

    @cached_property
    def app_address(self) -> str:
        return self.client.app_address

    # -- building ------------------------------------------------------------------------------

    def prepare_create(self, experiment_id: bytes, metadata_digest: bytes) -> SignedGroup:
        pay = self._deposit(chain.header_box_mbr())
        call = self.client.params.create_experiment(
            CreateExperimentArgs(id=experiment_id, metadata_digest=metadata_digest, payment=pay),
            params=self._refs(chain.header_key(experiment_id)))
        return self._sign([call])

    def prepare_stage(self, experiment_id: bytes, index: int, kind: int,
                      digest: bytes, note: bytes | None = None) -> SignedGroup:
        page, _ = chain.stage_location(index)
        pay = self._deposit(chain.stage_mbr(index))
        params = self._refs(chain.header_key(experiment_id), chain.page_key(experiment_id, page),
                            note=note)
        call = self.client.params.record_stage(
            RecordStageArgs(id=experiment_id, expected_index=index, kind=kind, digest=digest,
                            payment=pay), params=params)
        return self._sign([call])

    def prepare_anchor(self, experiment_id: bytes, index: int, root: bytes, count: int,
                       notes: list[bytes], leases: list[bytes]) -> SignedGroup:
        """The anchor call, plus one 0-ALGO self-payment per note (the note path).

        `first_round`/`last_round` are the group's validity window: the rounds within which
        the anchored records were submitted.
        """
        params = self._suggested_params()
        first, last = params.first, params.last
        call = self.client.params.anchor_batch(
            AnchorBatchArgs(id=experiment_id, expected_index=index, merkle_root=root,
                            record_count=count, first_round=first, last_round=last),
            params=self._refs(chain.header_key(experiment_id), first=first, last=last))
        if not notes:
            return self._sign([call])
        # The note payments are built with algosdk directly: the composer's per-transaction
        # steps cost ~3 ms each, which at 15 per group was most of the writer's time per group.
        (app_call,) = self._sign([call]).signed
        txns: list[transaction.Transaction] = [app_call.transaction]
        txns[0].group = None
        txns += [transaction.PaymentTxn(self.sender, params, self.sender, 0, note=note,
                                        lease=lease)
                 for note, lease in zip(notes, leases, strict=True)]
        signed = self.signer.sign_transactions(transaction.assign_group_id(txns),
                                               list(range(len(txns))))
        return SignedGroup(signed=cast(list[transaction.SignedTransaction], signed), app_call=0,
                           first_valid=first, last_valid=last)

    def prepare_seal(self, experiment_id: bytes, final_digest: bytes, *, stage_count: int,
                     anchor_count: int) -> SignedGroup:
        """`seal_after` with the counts where the app has it (see `seals_after_counts`), else
        `seal`."""
        refs = self._refs(chain.header_key(experiment_id))
        if self.seals_after_counts:
            call = self.client.params.seal_after(
                SealAfterArgs(id=experiment_id, final_digest=final_digest,
                              stage_count=stage_count, anchor_count=anchor_count), params=refs)
        else:
            call = self.client.params.seal(SealArgs(id=experiment_id, final_digest=final_digest),
                                           params=refs)
        return self._sign([call])

    def prepare_note(self, note: bytes) -> SignedGroup:
        """A 0-ALGO payment to the sender itself carrying `note` (a plan's reveal); its
        `app_call` index names the payment, which `send`/`wait` then follow."""
        params = self._suggested_params()
        txn = transaction.PaymentTxn(self.sender, params, self.sender, 0, note=note)
        signed = self.signer.sign_transactions([txn], [0])
        return SignedGroup(signed=cast(list[transaction.SignedTransaction], signed), app_call=0,
                           first_valid=params.first, last_valid=params.last)

    @cached_property
    def seals_after_counts(self) -> bool:
        """Whether this app has `seal_after` (a seal that checks the stage and anchor counts):
        apps deployed before it was added have only `seal`. Read from the app's program, which
        holds the method selectors it routes."""
        info = cast(dict[str, Any], algod_call(
            f"the program of app {self.app_id}",
            lambda: self.algorand.client.algod.application_info(self.app_id)))
        program = base64.b64decode(info["params"]["approval-program"])
        return _SEAL_AFTER in program

    def _suggested_params(self) -> transaction.SuggestedParams:
        # The client's cache (3 s), which the composer in `_sign` reads too: asking algod
        # directly cost the anchor group a second round trip to algod, the writer's largest
        # per-group cost against a remote node.
        return algod_call("suggested parameters", self.algorand.get_suggested_params)

    def _deposit(self, micro_algo: int) -> transaction.Transaction:
        payment = PaymentParams(sender=self.sender, receiver=self.app_address,
                                amount=AlgoAmount(micro_algo=micro_algo))
        return algod_call("suggested parameters",
                          lambda: self.algorand.create_transaction.payment(payment))

    @staticmethod
    def _refs(*keys: bytes, first: int | None = None, last: int | None = None,
              note: bytes | None = None) -> CommonAppCallParams:
        # Naming the boxes spares a simulate round trip per call (resource population).
        return CommonAppCallParams(box_references=list(keys), first_valid_round=first,
                                   last_valid_round=last, note=note)

    def _sign(self, items: list[AppCallMethodCallParams | PaymentParams]) -> SignedGroup:
        composer = self.algorand.new_group()
        for item in items:
            if isinstance(item, PaymentParams):
                composer.add_payment(item)
            else:
                composer.add_app_call_method_call(item)
        built = algod_call("suggested parameters", composer.build)
        signed = built.atc.gather_signatures()
        app_call = next(i for i, t in enumerate(signed)
                        if isinstance(t.transaction, transaction.ApplicationCallTxn))
        txn = signed[app_call].transaction
        # Our signer is one key (settings builds it from a mnemonic or a KMD account), so every
        # transaction comes back as a plain SignedTransaction, never a multisig or logicsig one.
        plain = cast(list[transaction.SignedTransaction], list(signed))
        return SignedGroup(signed=plain, app_call=app_call,
                           first_valid=txn.first_valid_round, last_valid=txn.last_valid_round)

    # -- sending -------------------------------------------------------------------------------

    def submit(self, group: SignedGroup) -> Confirmed:
        self.send(group)
        return self.wait(group)

    def send(self, group: SignedGroup) -> None:
        """send_raw_transaction of the signed group: algod checks it against its pending pool
        (the contract runs on top of the groups pending there) and keeps it there."""
        algod = self.algorand.client.algod
        txid = group.txids[group.app_call]
        try:
            algod.send_transactions(group.signed)
        except AlgodHTTPError as exc:
            raise self._translate(exc, group) from exc
        except (OSError, TimeoutError) as exc:
            raise algod_error(f"transaction group {txid}", exc,
                              fix="check ALGOD_SERVER/ALGOD_PORT (LocalNet: `algo-tracer "
                              "localnet status`); the journal keeps the write for `resume`",
                              ) from exc

    def wait(self, group: SignedGroup) -> Confirmed:
        """Poll pending_transaction_info of the registry call until it has a confirmed round."""
        algod = self.algorand.client.algod
        txid = group.txids[group.app_call]
        # Sent: from here on the group may land, so every failure means "outcome unknown".
        try:
            info = transaction.wait_for_confirmation(
                algod, txid, max(4, group.last_valid - group.first_valid))
        except ConfirmationTimeoutError as exc:
            raise NetworkError(f"transaction {txid} was not confirmed by round "
                               f"{group.last_valid}: {exc}",
                               fix="the journal keeps the write; `algo-tracer resume` settles "
                               "it from the chain") from exc
        except TransactionRejectedError as exc:
            raise NetworkError(f"algod accepted transaction {txid}, then dropped it: {exc}",
                               fix="the journal keeps the write; `algo-tracer resume` settles "
                               "it from the chain") from exc
        except ALGOD_ERRORS as exc:
            raise algod_error(f"the confirmation of transaction {txid} (it was sent)", exc,
                              fix=_WAIT_FIX) from exc
        return _confirmed(txid, info)

    def wait_unless(self, group: SignedGroup, interrupt: threading.Event) -> Confirmed | None:
        """`wait`, but None as soon as `interrupt` is set (the group stays in flight).

        algod's wait for the next block cannot be cut short, so this polls the transaction
        instead, four times a second: the writer waits this way at the end of a pass, where
        the end of an experiment should not have to wait for the block under way.
        """
        algod = self.algorand.client.algod
        txid = group.txids[group.app_call]
        polls = 0
        while not interrupt.wait(0 if polls == 0 else _POLL_S):
            polls += 1
            info = cast(dict[str, Any], algod_call(
                f"the confirmation of transaction {txid} (it was sent)",
                lambda: algod.pending_transaction_info(txid), fix=_WAIT_FIX))
            if info.get("confirmed-round"):
                return _confirmed(txid, info)
            if info.get("pool-error"):
                raise NetworkError(f"algod accepted transaction {txid}, then dropped it: "
                                   f"{info['pool-error']}", fix=_WAIT_FIX)
            if polls % 20 == 0 and last_round(self.algorand) > group.last_valid:
                raise NetworkError(f"transaction {txid} was not confirmed by round "
                                   f"{group.last_valid}", fix=_WAIT_FIX)
        return None

    def last_round(self) -> int:
        return last_round(self.algorand)

    def _translate(self, exc: AlgodHTTPError, group: SignedGroup) -> Exception:
        text = str(exc)
        if "transaction already in ledger" in text:
            # algod's duplicate check covers its pool and the blocks of the last MaxTxnLife
            # rounds: these bytes are pending or have landed.
            return AlreadySubmittedError(
                f"transaction group {group.txids[group.app_call]} is already pending or "
                f"confirmed (transaction already in ledger)",
                fix="nothing to do: wait for its confirmation")
        logic = parse_logic_error(text)
        if logic is not None:
            code = _error_text(logic["pc"]) or logic["message"]
            meaning = CONTRACT_ERRORS.get(code)
            return ContractError(f"the registry rejected the call: {code}", code=code, fix=meaning)
        if "overspend" in text or ("balance" in text and "below min" in text):
            need = sum(t.transaction.fee + getattr(t.transaction, "amt", 0) for t in group.signed)
            try:
                amount, locked = account_balance(self.algorand, self.sender)
                have = f"it holds {amount} µA, {locked} µA of it locked"
            except NetworkError:
                have = "its balance could not be read"
            return InsufficientFundsError(
                f"account {self.sender} cannot pay {need} µA for this write (fees and storage "
                f"deposit); {have}",
                fix=f"send at least {need} µA (0.1 ALGO covers many writes) to {self.sender}")
        return NetworkError(f"algod rejected the transaction group: {text}",
                            fix="see the message; the journal keeps the write for `resume`")

    # -- reading -------------------------------------------------------------------------------

    def header(self, experiment_id: bytes) -> Header | None:
        value = self._box(chain.header_key(experiment_id))
        return decode_header(value) if value is not None else None

    def stages(self, experiment_id: bytes, count: int) -> list[Stage]:
        out: list[Stage] = []
        for page in range((count + chain.PAGE_CAPACITY - 1) // chain.PAGE_CAPACITY):
            value = self._box(chain.page_key(experiment_id, page)) or b""
            out.extend(decode_page(page, value))
        return out[:count]

    def _box(self, key: bytes) -> bytes | None:
        found = read_box(self.algorand, self.app_id, key)
        return found[0] if found else None


_POLL_S = 0.25
_WAIT_FIX = "the journal keeps the write; `algo-tracer resume` settles it from the chain"


def _confirmed(txid: str, info: dict[str, Any]) -> Confirmed:
    logs = [base64.b64decode(x) for x in info.get("logs", [])]
    head = next((x[4:] for x in reversed(logs) if x.startswith(_RETURN_PREFIX)), b"")
    return Confirmed(txid=txid, round=int(info["confirmed-round"]), head=head)


def _error_text(pc: int) -> str | None:
    """The contract's assert text for a failing pc (puyapy keeps it in ARC-56 sourceInfo)."""
    approval = APP_SPEC.source_info.approval if APP_SPEC.source_info else None
    for entry in approval.source_info if approval else []:
        if pc in entry.pc and entry.error_message:
            return entry.error_message
    return None
