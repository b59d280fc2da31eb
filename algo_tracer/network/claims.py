"""Sending a reproduction's claim notes: one atomic group of 0-ALGO self-payments with leases.

The notes (algo_tracer.format.claim_notes) land together or not at all. Each carries a lease
derived from the reproduction's id and the note's position, so a second send of the same claim
(a `resume` after a crash between sending and writing the local marker) is refused by the ledger
while the first one's validity window is open; the refusal is read as "already sent". A copy
that lands after that window is harmless: readers keep one claim per reproduction.
"""

from __future__ import annotations

from typing import cast

from algokit_utils import AlgorandClient
from algosdk import transaction
from algosdk.atomic_transaction_composer import TransactionSigner
from algosdk.error import AlgodHTTPError, ConfirmationTimeoutError, TransactionRejectedError

from algo_tracer.errors import NetworkError
from algo_tracer.network.algod import ALGOD_ERRORS, algod_call, algod_error

__all__ = ["send_claim_notes"]

_FIX = ("nothing is lost: the reproduction is sealed; `algo-tracer resume REPRODUCTION_ID` "
        "(or tracer.resume(id)) sends its claim once the node answers")


def send_claim_notes(algorand: AlgorandClient, sender: str, signer: TransactionSigner,
                     notes: list[bytes], leases: list[bytes]) -> list[str] | None:
    """Send and confirm the group; its txids, or None when the ledger says it was sent before
    (an overlapping lease: the earlier group is pending or landed)."""
    algod = algorand.client.algod
    params = algod_call("suggested parameters", algod.suggested_params)
    txns: list[transaction.Transaction] = [
        transaction.PaymentTxn(sender, params, sender, 0, note=note, lease=lease)
        for note, lease in zip(notes, leases, strict=True)]
    if len(txns) > 1:
        txns = transaction.assign_group_id(txns)
    signed = cast(list[transaction.SignedTransaction],
                  signer.sign_transactions(txns, list(range(len(txns)))))
    txids = [s.get_txid() for s in signed]
    try:
        algod.send_transactions(signed)
    except AlgodHTTPError as exc:
        text = str(exc)
        if "lease" in text or "already in ledger" in text:
            return None
        raise NetworkError(f"algod refused the reproduction's claim notes: {text}",
                           fix=_FIX) from exc
    except ALGOD_ERRORS as exc:
        raise algod_error("the reproduction's claim notes", exc, fix=_FIX) from exc
    try:
        transaction.wait_for_confirmation(algod, txids[0], 10)
    except (ConfirmationTimeoutError, TransactionRejectedError) as exc:
        raise NetworkError(f"the claim notes ({txids[0]}) were not confirmed: {exc}",
                           fix=_FIX) from exc
    except ALGOD_ERRORS as exc:
        raise algod_error(f"the confirmation of claim note {txids[0]}", exc, fix=_FIX) from exc
    return txids
