"""From a scanned code to a verdict: the signature against the trust list, then the records.

1. keys.verifier authenticates the label against the trust list: format, key, signature,
   and that the key was usable on the packing day. A failure there is final: nothing the
   label claims is looked up, so a forger's code never shows a real product's facts. The
   signature is taken as checked when the batch's chain, already held in memory, names this
   very label by its digest (its producer's signed packing record, verified by the
   processors when stored): a real label costs a hash, not an Ed25519 verification, and a
   code the held chain does not name has its signature checked before anything is read.
2. The records say what the trust list cannot: the rating NOW (certifications reach
   Cassandra as soon as an authority issues them; the trust list is republished
   periodically), whether this exact label was packed (by the batch's sealed chain, or the
   units table), whether its batch was recalled or is past its expiry date. `judge` turns
   them into findings; it is a pure function.
3. The findings, the facts and the trust list's age become one `Resolution`, which the
   consumer page renders and JSON clients receive as it is.

Every code path ends in findings; there is no default verdict.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from contract import identifiers
from contract.alerts import AlertKind
from contract.certification import CertificationState, CertificationStatus
from contract.label import SignedLabel, vietnam_date
from contract.verdict import Lang, Reason
from keys.chain import ChainRecord
from keys.trustlist import KeyStatus, TrustList
from keys.verifier import LabelVerification, authenticate_label
from records.rows import (
    BatchState,
    Producer,
    Product,
    ScanSummary,
    StoredCertification,
    Unit,
    UnitActivity,
)
from verify_api import findings, ratings
from verify_api.cache import Miss, TtlCache
from verify_api.findings import ApiReason, Finding
from verify_api.ratings import Rating
from verify_api.schemas import (
    BatchOut,
    FindingOut,
    LabelOut,
    Links,
    ProducerOut,
    ProductOut,
    Resolution,
    ScansOut,
    Sentences,
    SignerOut,
    TrustListOut,
)
from verify_api.story import ChainFacts, Packing, batch_out, read_chain

CHAINS_HELD = 2_000


class Records(Protocol):
    """The reads a resolution makes (records.store.RecordReader has them all)."""

    async def unit(self, unit_key: str) -> Unit | None: ...
    async def batch(self, batch_id: str) -> BatchState | None: ...
    async def chain(self, batch_id: str) -> list[ChainRecord]: ...
    async def product(self, product_key: str) -> Product | None: ...
    async def producer(self, producer_id: str) -> Producer | None: ...
    async def certifications(self, product_key: str) -> list[StoredCertification]: ...
    async def unit_activity(self, unit_key: str) -> UnitActivity: ...


@dataclass(frozen=True)
class Evidence:
    """What the records hold about an authentically signed label."""

    label: SignedLabel
    batch_id: str
    producer_id: str
    unit: Unit | None
    batch: BatchState | None
    product: Product | None
    rating: Rating
    """The label's producer's rating of the product now."""
    open_alerts: Collection[str] = ()
    """The kinds of counterfeit analytics' alerts on this unit that are open."""


@dataclass(frozen=True)
class ProductFacts:
    """A product as the cache holds it: the row, its public view, its certifications, and
    each producer's rating worked out from them while it holds."""

    product: Product | None
    view: ProductOut | None
    certifications: list[StoredCertification]
    _ratings: dict[str, Rating] = field(default_factory=dict, repr=False, compare=False)

    def rating(self, producer_id: str, now: datetime) -> Rating:
        """Only the producer's own certifications count for its labels."""
        held = self._ratings.get(producer_id)
        if held is None or not held.holds(now):
            mine = ratings.of_producer(self.certifications, producer_id)
            held = self._ratings[producer_id] = ratings.rating_at(mine, now)
        return held


@dataclass(frozen=True)
class Resolved:
    """A resolution and what a scan event needs besides it."""

    resolution: Resolution
    verification: LabelVerification
    findings: list[Finding]
    unit: tuple[str, str] | None = None
    """(batch id, serial) of an authentically signed label; None for any other code, so a
    forger's copy of a real serial never joins that unit's history."""
    facts_key: Hashable | None = None
    """Equal for two resolutions only if they show the same rating, product, producer and
    batch: the very cached objects they came from."""

    @property
    def scan_reason(self) -> Reason:
        """The contract's reason for the scan event: the first contract reason found (the
        records-only findings have no contract code; analytics re-derive them)."""
        return next((f for f in self.findings if isinstance(f, Reason)), Reason.GENUINE)


COPY_ALERTS = frozenset(
    {AlertKind.IMPOSSIBLE_TRAVEL, AlertKind.TOO_MANY_DEVICES, AlertKind.OUTSIDE_DELIVERY_PROVINCE}
)
"""The alerts that speak of a copied code; the others are findings of the records already."""


def judge(evidence: Evidence, now: datetime) -> list[Finding]:
    """Everything that is wrong with an authentically signed label, worst first; GENUINE alone
    if nothing is."""
    label, product = evidence.label, evidence.product
    if product is not None and product.producer_id != evidence.producer_id:
        return [Reason.SIGNER_NOT_AUTHORISED]  # a real key signing another producer's product
    found: list[Finding] = []
    claim = _claim(label.batch.stars, evidence.rating.most_stars, evidence.rating.state)
    if claim is not None:
        if findings.level(claim) is findings.Level.COUNTERFEIT:
            return [claim]
        found.append(claim)
    if _not_as_packed(label, evidence.batch_id, evidence.unit) is not None:
        found.append(ApiReason.NOT_PACKED)
    batch = evidence.batch
    if batch is not None and batch.recalled_at is not None:
        found.append(ApiReason.RECALLED)
    if batch is not None and batch.expiry_date < vietnam_date(now):
        found.append(ApiReason.PAST_EXPIRY)
    if any(kind in COPY_ALERTS for kind in evidence.open_alerts):
        found.append(ApiReason.SUSPECTED_COPY)
    return sorted(found, key=findings.PRIORITY.index) or [Reason.GENUINE]


def _claim(printed: int, ever: int, state: CertificationState) -> Finding | None:
    """What is wrong with the printed stars today, if anything."""
    if printed == 0:
        return None  # no star logo, no claim
    if ever == 0:
        return Reason.NO_CERTIFICATION
    if printed > ever:
        return Reason.STARS_EXCEED_CERTIFICATION
    if state.status is CertificationStatus.REVOKED:
        return Reason.CERTIFICATION_REVOKED
    if state.status is not CertificationStatus.IN_FORCE:
        return Reason.CERTIFICATION_EXPIRED
    assert state.certification is not None  # in force means there is one
    if state.certification.stars < printed:
        return ApiReason.RATING_DOWNGRADED
    return None


def _not_as_packed(label: SignedLabel, batch_id: str, unit: Unit | None) -> str | None:
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


class Identity:
    """Hashes and compares as the very object it holds, which it keeps alive: a key for a
    cached object that no equal copy can stand in for."""

    __slots__ = ("held",)

    def __init__(self, held: object) -> None:
        self.held = held

    def __hash__(self) -> int:
        return id(self.held)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.held is self.held


@dataclass(frozen=True)
class BatchFacts:
    state: BatchState
    view: BatchOut
    packed: dict[str, Packing]
    digests: dict[str, str]
    """Serial to its label's digest, for the serials in `packed` whose station sent one."""


class Resolver:
    """Resolves codes against the trust list and the records, caching what scans share.

    The product with its certifications, the producer and the batch with its chain are
    shared by every unit of a batch, so they are read once per `cache_s` and kept with their
    public views built. The chain also says which serials were packed, so a scan usually
    needs one read of its own (its scan history); a serial the cached chain does not name
    (packed after it was read, or a batch too large to index) is looked up in the units
    table. The chain's packing records also name each label by digest, which authenticates
    a real label without an Ed25519 check (see the module's docstring). `index_serials`
    bounds the serials held, about 220 bytes each with their digests.
    """

    def __init__(self, records: Records, *, cache_s: float, index_serials: int = 200_000) -> None:
        self._records = records
        self._index_serials = index_serials
        self._products: TtlCache[str, ProductFacts] = TtlCache(cache_s)
        self._producers: TtlCache[str, ProducerOut | None] = TtlCache(cache_s)
        self._batches: TtlCache[str, BatchFacts | None] = TtlCache(cache_s)
        # a chain's facts are fixed by its head, so they are kept for as long as there is room
        self._chains: TtlCache[tuple[str, int, bytes], ChainFacts] = TtlCache(
            float("inf"),
            max_entries=CHAINS_HELD,
            weigh=lambda chain: 1 + len(chain.packed),
            max_weight=CHAINS_HELD + index_serials,
        )

    async def resolve(self, text: str, trust: TrustList, now: datetime) -> Resolved:
        verification = authenticate_label(text, trust=trust, now=now, recorded=self._recorded)
        signer = verification.producer
        key = verification.key
        label = verification.label
        if signer is None or key is None or not key.usable or label is None:
            reason = verification.reason
            return Resolved(_unvouched(verification, now), verification, [reason])
        product_key = label.batch.product_key
        unit_key = identifiers.unit_key(product_key, label.serial)
        batch_id, producer_id = label.batch.batch_id, signer.producer_id
        shared = self._held(product_key, producer_id, batch_id)
        if shared is None:
            activity, facts, producer, batch = await asyncio.gather(
                self._records.unit_activity(unit_key),
                self._products.get(product_key, lambda: self._product(product_key)),
                self._producers.get(producer_id, lambda: self._producer(producer_id)),
                self._batches.get(batch_id, lambda: self._batch(batch_id)),
            )
        else:  # the usual case: the unit's own row is the one read
            activity = await self._records.unit_activity(unit_key)
            facts, producer, batch = shared
        packing = batch.packed.get(label.serial) if batch else None
        if batch is not None and packing is not None:
            unit: Unit | None = Unit(
                unit_key, batch_id, product_key, batch.state.producer_id, label.serial,
                packing.stars, packing.key_id, packing.packed_on, packing.seq,
            )  # fmt: skip
        else:
            unit = await self._records.unit(unit_key)
        rating = facts.rating(producer_id, now)
        evidence = Evidence(
            label=label,
            batch_id=batch_id,
            producer_id=producer_id,
            unit=unit,
            batch=batch.state if batch else None,
            product=facts.product,
            rating=rating,
            open_alerts=activity.open_alerts,
        )
        found = judge(evidence, now)
        views = Views(facts.view, producer, batch.view if batch else None, activity.scans)
        resolution = _vouched(verification, evidence, found, views, now)
        facts_key = (
            Identity(facts), Identity(rating), Identity(producer), Identity(batch),
            label.batch.stars,
        )  # fmt: skip
        return Resolved(resolution, verification, found, (batch_id, label.serial), facts_key)

    def _recorded(self, label: SignedLabel) -> bool:
        """Whether the held chain of the label's batch names this exact label. Only what is
        in memory is consulted: a code is never a reason to read before it is authentic."""
        batch = self._batches.peek(label.batch.batch_id)
        if isinstance(batch, Miss) or batch is None:
            return False
        digest = batch.digests.get(label.serial)
        return digest is not None and hmac.compare_digest(digest, label.digest)

    def _held(
        self, product_key: str, producer_id: str, batch_id: str
    ) -> tuple[ProductFacts, ProducerOut | None, BatchFacts | None] | None:
        """The shared facts if all are cached."""
        facts = self._products.peek(product_key)
        producer = self._producers.peek(producer_id)
        batch = self._batches.peek(batch_id)
        if isinstance(facts, Miss) or isinstance(producer, Miss) or isinstance(batch, Miss):
            return None
        return facts, producer, batch

    async def _product(self, product_key: str) -> ProductFacts:
        product, stored = await asyncio.gather(
            self._records.product(product_key), self._records.certifications(product_key)
        )
        return ProductFacts(product, product_out(product) if product else None, stored)

    async def _producer(self, producer_id: str) -> ProducerOut | None:
        producer = await self._records.producer(producer_id)
        return producer_out(producer) if producer else None

    async def _batch(self, batch_id: str) -> BatchFacts | None:
        state = await self._records.batch(batch_id)
        if state is None:
            return None

        async def load() -> ChainFacts:
            records = await self._records.chain(batch_id)
            return read_chain(records, index_up_to=self._index_serials)

        chain = await self._chains.get((batch_id, state.head_seq, state.head_hash), load)
        return BatchFacts(state, batch_out(state, chain.steps), chain.packed, chain.digests)


# -- building the answer ------------------------------------------------------------------


@functools.cache
def _sentences(finding: Finding) -> Sentences:
    """Built once per finding: the sentences are fixed, and models are immutable."""
    return Sentences(vi=findings.sentence(finding, Lang.VI), en=findings.sentence(finding, Lang.EN))


@functools.cache
def _finding_out(finding: Finding) -> FindingOut:
    return FindingOut(reason=finding, level=findings.level(finding), sentence=_sentences(finding))


# The views below are the same for many scans and immutable, so each is built once.


@functools.lru_cache(maxsize=4_096)
def _signer_out(key_id: str, status: KeyStatus, producer_id: str, authority_id: str) -> SignerOut:
    return SignerOut(
        key_id=key_id, key_status=status, producer_id=producer_id, authority_id=authority_id
    )


@functools.lru_cache(maxsize=4_096)
def _links(product_key: str, batch_id: str) -> Links:
    return Links(
        certifications=f"/products{product_key}/certifications", provenance=f"/batches{batch_id}"
    )


def _head(
    verification: LabelVerification, found: list[Finding], detail: str, now: datetime
) -> dict[str, object]:
    """The fields every resolution has, vouched for or not."""
    lead = found[0]
    notices = [
        Sentences(vi=vi, en=en)
        for vi, en in zip(
            verification.warnings(Lang.VI), verification.warnings(Lang.EN), strict=True
        )
    ]
    label = verification.label
    return {
        "level": findings.level(lead),
        "reason": lead,
        "category": findings.category(lead),
        "sentence": _sentences(lead),
        "detail": detail[:2000],
        "findings": [_finding_out(f) for f in found],
        "notices": notices,
        "defect": verification.defect,
        "label": label
        and LabelOut(
            host=label.batch.host,
            product_key=label.batch.product_key,
            lot=label.batch.lot,
            serial=label.serial,
            packed_on=label.batch.packed_on,
            printed_stars=label.batch.stars,
            key_id=label.batch.key_id,
        ),
        "trust_list": TrustListOut.of(verification.trust_list),
        "checked_at": now,
    }


def _unvouched(verification: LabelVerification, now: datetime) -> Resolution:
    """A code that is not ours or not authentic: the verdict, and nothing from the records."""
    head = _head(verification, [verification.reason], verification.detail, now)
    return Resolution.model_validate(
        head
        | {
            "signer": None,
            "stars": None,
            "product": None,
            "producer": None,
            "batch": None,
            "packed_in_record": None,
            "scans": None,
            "links": None,
        }
    )


@dataclass(frozen=True)
class Views:
    """The public views of what the records hold, as the cache keeps them."""

    product: ProductOut | None
    producer: ProducerOut | None
    batch: BatchOut | None
    scans: ScanSummary


def product_out(product: Product) -> ProductOut:
    return ProductOut(
        product_key=product.product_key,
        name=product.name,
        name_en=product.name_en,
        product_group=product.product_group,
        description=product.description,
    )


def producer_out(producer: Producer) -> ProducerOut:
    return ProducerOut(
        producer_id=producer.producer_id,
        name=producer.name,
        kind=producer.kind,
        address=producer.address,
        commune=producer.commune,
        district=producer.district,
        province=producer.province,
    )


def _vouched(
    verification: LabelVerification,
    evidence: Evidence,
    found: list[Finding],
    views: Views,
    now: datetime,
) -> Resolution:
    label = evidence.label
    assert verification.producer is not None  # vouched for
    assert verification.key is not None
    head = _head(verification, found, _detail(found[0], evidence), now)
    return Resolution.model_validate(
        head
        | {
            "signer": _signer_out(
                verification.producer.key_id,
                verification.key.status,
                verification.producer.producer_id,
                verification.producer.authority_id,
            ),
            "stars": evidence.rating.stars(label.batch.stars),
            "product": views.product,
            "producer": views.producer,
            "batch": views.batch,
            "packed_in_record": evidence.unit.seq if evidence.unit else None,
            "scans": ScansOut(
                count=views.scans.count, first=views.scans.first, last=views.scans.last
            ),
            "links": _links(label.batch.product_key, evidence.batch_id),
        }
    )


def _detail(lead: Finding, evidence: Evidence) -> str:
    """The specific fact behind the leading finding, for support staff and logs (English)."""
    label, batch = evidence.label, evidence.batch
    award, revocation = evidence.rating.state.certification, evidence.rating.state.revocation
    printed = label.batch.stars
    if lead is Reason.SIGNER_NOT_AUTHORISED:
        owner = evidence.product.producer_id if evidence.product else "?"
        return f"{label.batch.product_key} belongs to {owner}, signed by {evidence.producer_id}"
    if lead is Reason.NO_CERTIFICATION:
        return f"label shows {printed}★; {evidence.producer_id} never held a certification of it"
    if lead is Reason.STARS_EXCEED_CERTIFICATION:
        ever = evidence.rating.most_stars
        return f"label shows {printed}★; the product never held more than {ever}★"
    if lead is ApiReason.NOT_PACKED:
        return _not_as_packed(label, evidence.batch_id, evidence.unit) or ""
    if lead is ApiReason.RECALLED and batch is not None and batch.recalled_at is not None:
        return (
            f"batch {batch.batch_id} recalled {batch.recalled_at:%Y-%m-%d}: {batch.recall_reason}"
        )
    if lead is Reason.CERTIFICATION_REVOKED and award and revocation:
        return (
            f"certificate {award.certificate_no} revoked from {revocation.effective_at:%Y-%m-%d} "
            f"by {revocation.decision_no}: {revocation.reason}"
        )
    if lead is Reason.CERTIFICATION_EXPIRED and award:
        return f"certificate {award.certificate_no} valid until {award.valid_until:%Y-%m-%d}"
    if lead is ApiReason.RATING_DOWNGRADED and award:
        return (
            f"label shows {printed}★; certificate {award.certificate_no} in force since "
            f"{award.valid_from:%Y-%m-%d} awards {award.stars}★"
        )
    if lead is ApiReason.PAST_EXPIRY and batch is not None:
        return f"expiry date {batch.expiry_date}"
    where = (
        f"packed in record {evidence.unit.seq} of {label.batch.batch_id}" if evidence.unit else ""
    )
    claim = (
        f"; {printed}★ backed by certificate {award.certificate_no} until "
        f"{award.valid_until:%Y-%m-%d}"
        if printed and award
        else ""
    )
    return f"signed by key {label.batch.key_id} of {evidence.producer_id}, {where}{claim}"
