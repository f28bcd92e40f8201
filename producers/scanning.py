"""Checking a scanned label at packing, and why a scan is refused, in Vietnamese and English.

A barcode scanner in keyboard mode types one code per line; whatever it typed is checked
in the order below, and the first failing step names the problem. The first three steps
need only the code and the trust list (`check_label`); the station adds the rest, which
need its journal:

1. it is a label at all (contract.label's one canonical spelling);
2. it is authentic: signed by a key the trust list vouches for, usable on its packing day;
3. it is this producer's, and its star claim is true today (an outdated star logo must not
   leave the packing line);
4. it belongs to the batch being packed;
5. this station issued it, exactly as scanned;
6. it was not packed before.

A refusal is an exception with a reason code, because a packing line answers each bad
scan and carries on: the caller catches `ScanRejected`, shows its line, reads the next.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from contract.label import SignedLabel
from contract.verdict import Category, Lang, Reason
from keys.verifier import verify_label
from producers.errors import StationError
from producers.identity import StationIdentity


class ScanProblem(StrEnum):
    NOT_A_LABEL = "not_a_label"
    NOT_AUTHENTIC = "not_authentic"
    OTHER_PRODUCER = "other_producer"
    CLAIM_NOT_VALID = "claim_not_valid"
    BATCH_NOT_OPEN = "batch_not_open"
    OTHER_BATCH = "other_batch"
    NOT_ISSUED = "not_issued"
    ALREADY_PACKED = "already_packed"

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES = {
    ScanProblem.NOT_A_LABEL: ("Không phải tem OCOP", "Not an OCOP label"),
    ScanProblem.NOT_AUTHENTIC: (
        "Tem giả hoặc đã bị sửa",
        "Forged or altered label",
    ),
    ScanProblem.OTHER_PRODUCER: ("Tem của nhà sản xuất khác", "Another producer's label"),
    ScanProblem.CLAIM_NOT_VALID: (
        "Số sao in trên tem không còn đúng, cần in lại tem",
        "The stars printed no longer hold; print new labels",
    ),
    ScanProblem.BATCH_NOT_OPEN: ("Lô hàng không còn mở để đóng gói", "The batch is not open"),
    ScanProblem.OTHER_BATCH: ("Tem của lô khác", "Label of another batch"),
    ScanProblem.NOT_ISSUED: (
        "Tem không do trạm này in cho lô này",
        "Not a label this station printed for this batch",
    ),
    ScanProblem.ALREADY_PACKED: ("Tem đã được quét", "Already scanned"),
}


class ScanRejected(StationError):
    """A scan refused at packing; nothing was recorded."""

    def __init__(self, problem: ScanProblem, detail: str) -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem.sentence(Lang.VI)} / {problem.sentence(Lang.EN)}: {detail}")


def check_label(text: str, *, identity: StationIdentity, now: datetime) -> SignedLabel:
    """Steps 1 to 3: returns the label only if it is authentic, ours, and true today."""
    verification = verify_label(text, trust=identity.trust, now=now)
    label = verification.label
    if verification.reason is Reason.MALFORMED or label is None:
        raise ScanRejected(ScanProblem.NOT_A_LABEL, verification.detail)
    if verification.category is Category.NOT_AUTHENTIC:
        raise ScanRejected(ScanProblem.NOT_AUTHENTIC, verification.detail)
    producer = verification.producer
    if producer is None or producer.producer_id != identity.producer_id:
        owner = producer.producer_id if producer else "unknown"
        raise ScanRejected(ScanProblem.OTHER_PRODUCER, f"signed for {owner}")
    if not verification.genuine:
        raise ScanRejected(ScanProblem.CLAIM_NOT_VALID, verification.detail)
    return label
