"""From a scanned code to a verdict: facts, then judgement, then the view. Only orchestrates.

1. keys.verifier authenticates the label against the trust list: format, key, signature,
   and that the key was usable on the packing day. A failure there is final: nothing the
   label claims is looked up, so a forger's code never shows a real product's facts. The
   signature is taken as checked when the batch's chain, already held in memory, names this
   very label by its digest (its producer's signed packing record, verified by the
   processors when stored): a real label costs a hash, not an Ed25519 verification, and a
   code the held chain does not name has its signature checked before anything is read.
2. verify_api.facts holds what scans share (product, certifications, producer, batch and
   chain) and reads the rest: the unit's own activity, and the unit's row when the held
   chain does not name it.
3. verify_api.judgement judges: the star claim by contract.claims (the same judgement the
   offline verifier and the processors make), then what only the records tell.
4. verify_api.views builds the one `Resolution`, which the consumer page renders and JSON
   clients receive as it is.

Every code path ends in findings; there is no default verdict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from contract import identifiers
from contract.claims import judge_claim
from contract.verdict import FROM_RECORDS, Reason
from keys.trustlist import TrustList
from keys.verifier import LabelVerification, authenticate_label
from records.rows import Unit, UnitActivity
from verify_api import views
from verify_api.facts import Facts
from verify_api.judgement import Evidence, detail, judge
from verify_api.schemas import Resolution


@dataclass(frozen=True)
class Resolved:
    """A resolution and what a scan event needs besides it."""

    resolution: Resolution
    verification: LabelVerification
    findings: list[Reason]
    unit: tuple[str, str] | None = None
    """(batch id, serial) of an authentically signed label; None for any other code, so a
    forger's copy of a real serial never joins that unit's history."""
    facts_key: Hashable | None = None
    """Equal for two resolutions only if they show the same held facts (verify_api.facts)."""

    @property
    def scan_reason(self) -> Reason:
        """The reason a scan event carries: what the code and its claim say, as an offline
        verifier would; analytics re-derive what only the records tell."""
        return next((f for f in self.findings if f not in FROM_RECORDS), Reason.GENUINE)


class Resolver:
    """Resolves codes against the trust list and the records (through `facts`).

    When Cassandra stalls, a scan whose shared facts are held still gets its verdict in
    time: the unit's own activity (its scan totals and copy evidence) is given `live_s`,
    and without it the answer comes from the held facts and says so (a notice; no scan
    totals; a copy cannot be warned of); shared facts past their time answer, saying so, for
    a while if their reload does not (verify_api.facts). Anything else waits for the
    records, within the request's deadline (verify_api.deadline).
    """

    def __init__(self, facts: Facts, *, live_s: float = float("inf")) -> None:
        self.facts = facts
        self.live_s = live_s

    async def resolve(self, text: str, trust: TrustList, now: datetime) -> Resolved:
        verification = authenticate_label(text, trust=trust, now=now, recorded=self.facts.recorded)
        signer, key, label = verification.producer, verification.key, verification.label
        if signer is None or key is None or not key.usable or label is None:
            resolution = views.unvouched(verification, now)
            return Resolved(resolution, verification, [verification.reason])
        # 2. Facts: the shared ones held (the usual case) or loaded with the unit's activity.
        records = self.facts.records
        product_key, serial = label.batch.product_key, label.serial
        unit_key = identifiers.unit_key(product_key, serial)
        batch_id, producer_id = label.batch.batch_id, signer.producer_id
        held = self.facts.held(product_key, producer_id, batch_id)
        activity: UnitActivity | None
        if held is None:
            activity, shared = await asyncio.gather(
                self._activity(unit_key), self.facts.shared(product_key, producer_id, batch_id)
            )
        else:
            shared, activity = held, await self._activity(unit_key)
        product, batch = shared.product.value, shared.batch.value
        packing = batch.packed.get(serial) if batch else None
        if batch is not None and packing is not None:
            unit: Unit | None = Unit(
                unit_key, batch_id, product_key, batch.state.producer_id, serial,
                packing.stars, packing.key_id, packing.packed_on, packing.seq,
            )  # fmt: skip
        else:
            unit = await records.unit(unit_key)
        # 3. Judgement.
        rating = product.rating(producer_id, now)
        evidence = Evidence(
            label=label,
            batch_id=batch_id,
            producer_id=producer_id,
            unit=unit,
            batch=batch.state if batch else None,
            product=product.product,
            claim=judge_claim(label.batch.stars, rating.standing),
            copy_evidence=activity.copy_evidence if activity else frozenset(),
        )
        found = judge(evidence, now)
        # 4. The view.
        resolution = views.vouched(
            verification,
            found,
            detail(found[0], evidence),
            stars=rating.stars(label.batch.stars),
            product=product.view,
            producer=shared.producer.value,
            batch=batch.view if batch else None,
            packed_in_record=unit.seq if unit else None,
            scans=activity.scans if activity else None,
            notices=(
                *(() if activity else (views.FROM_HELD_FACTS,)),
                *((views.FROM_EARLIER_FACTS,) if shared.reloading else ()),
            ),
            now=now,
        )
        facts_key = shared.key(rating, label.batch.stars)
        return Resolved(resolution, verification, found, (batch_id, serial), facts_key)

    async def _activity(self, unit_key: str) -> UnitActivity | None:
        """The unit's activity, or None if the records do not answer within `live_s`."""
        try:
            async with asyncio.timeout(self.live_s):
                return await self.facts.records.unit_activity(unit_key)
        except TimeoutError:
            return None
