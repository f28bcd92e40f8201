"""What is wrong with an authentically signed label, judged from the records: pure functions.

The label's star claim is judged by contract.claims.judge_claim, the one judgement every
verifier makes (the offline verifier, the processors, scan analytics), so the API and
`ocop-verify` give the same reason for the same history. The records add what only they can
tell: whether this exact label was packed, whether its batch was recalled or is past its
expiry date, and whether a copy of the code is corroborated (an inspector's finding, or
scans from enough independent clients: see stream_processors.detect). Every case is walked
once, in `judge`; `detail` states the fact behind the leading reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contract.claims import ClaimVerdict
from contract.label import SignedLabel, vietnam_date
from contract.verdict import Level, Reason, worst_first
from records.rows import BatchState, Product, Unit


@dataclass(frozen=True)
class Evidence:
    """What the records hold about an authentically signed label."""

    label: SignedLabel
    batch_id: str
    producer_id: str
    unit: Unit | None
    batch: BatchState | None
    product: Product | None
    claim: ClaimVerdict
    """The label's printed stars against its producer's certifications now."""
    copy_evidence: frozenset[str] = frozenset()
    """Why a copy of this code is corroborated (alert ids, inspectors' findings); empty
    when nothing is. Unconfirmed alerts are for inspectors, never shown to consumers."""


def judge(evidence: Evidence, now: datetime) -> list[Reason]:
    """Everything that is wrong with an authentically signed label, worst first; GENUINE alone
    if nothing is."""
    label, product = evidence.label, evidence.product
    if product is not None and product.producer_id != evidence.producer_id:
        return [Reason.SIGNER_NOT_AUTHORISED]  # a real key signing another producer's product
    found: list[Reason] = []
    claim = evidence.claim.reason
    if claim is not Reason.GENUINE:
        if claim.level is Level.COUNTERFEIT:
            return [claim]  # a fake logo: nothing else about the unit matters
        found.append(claim)
    if not_as_packed(label, evidence.batch_id, evidence.unit) is not None:
        found.append(Reason.NOT_PACKED)
    batch = evidence.batch
    if batch is not None and batch.recalled_at is not None:
        found.append(Reason.RECALLED)
    if batch is not None and batch.expiry_date < vietnam_date(now):
        found.append(Reason.PAST_EXPIRY)
    if evidence.copy_evidence:
        found.append(Reason.SUSPECTED_COPY)
    return worst_first(found)


def not_as_packed(label: SignedLabel, batch_id: str, unit: Unit | None) -> str | None:
    """Why this exact label was never packed, or None if it was."""
    if unit is None:
        return f"no unit {label.serial} of {label.batch.product_key} was ever packed"
    batch = label.batch
    differences = [
        f"{name} {printed} on the label, {packed} when packed"
        for name, printed, packed in (
            ("batch", batch_id, unit.batch_id),
            ("stars", batch.stars, unit.printed_stars),
            ("key", batch.key_id, unit.key_id),
            ("packing day", batch.packed_on, unit.packed_on),
        )
        if printed != packed
    ]
    return "; ".join(differences) or None


def detail(lead: Reason, evidence: Evidence) -> str:
    """The specific fact behind the leading reason, for support staff and logs (English)."""
    label, batch = evidence.label, evidence.batch
    if lead is Reason.SIGNER_NOT_AUTHORISED:
        owner = evidence.product.producer_id if evidence.product else "?"
        return f"{label.batch.product_key} belongs to {owner}, signed by {evidence.producer_id}"
    if lead is evidence.claim.reason and lead is not Reason.GENUINE:
        return evidence.claim.detail
    if lead is Reason.NOT_PACKED:
        return not_as_packed(label, evidence.batch_id, evidence.unit) or ""
    if lead is Reason.RECALLED and batch is not None and batch.recalled_at is not None:
        return (
            f"batch {batch.batch_id} recalled {batch.recalled_at:%Y-%m-%d}: {batch.recall_reason}"
        )
    if lead is Reason.PAST_EXPIRY and batch is not None:
        return f"expiry date {batch.expiry_date}"
    if lead is Reason.SUSPECTED_COPY:
        return "copy corroborated by " + ", ".join(sorted(evidence.copy_evidence))
    where = (
        f", packed in record {evidence.unit.seq} of {label.batch.batch_id}" if evidence.unit else ""
    )
    claim = f"; {evidence.claim.detail}" if label.batch.stars else ""
    return f"signed by key {label.batch.key_id} of {evidence.producer_id}{where}{claim}"
