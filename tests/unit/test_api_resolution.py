"""The verdict on a code, from the trust list and the records, without servers.

`FakeStore` holds records in memory behind the reader's interface (the real one is tested
against Cassandra in tests/integration/test_api_stack.py); `Shelf` builds the usual world:
a registered producer and product, a 4★ certification, a packed batch with its sealed chain.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import keys.verifier
from contract import identifiers
from contract.alerts import AlertKind
from contract.certification import CertificationStatus
from contract.encoding import model_bytes
from contract.events import BatchOpened, BatchShipped, RawMaterial, UnitsPacked
from contract.events import Unit as QuantityUnit
from contract.label import LabelBatch, SignedLabel
from contract.records import GENESIS_HASH, record_hash
from contract.verdict import Category, Lang, Level, Reason
from keys import certs
from keys.chain import ChainRecord, seal
from keys.signing import LabelSigner, SigningKey, verify_bytes
from records.rows import (
    AlertRow,
    BatchState,
    Inspection,
    Inspector,
    Producer,
    Product,
    ScanSummary,
    StoredCertification,
    Unit,
    UnitActivity,
)
from tests.world import HOST, LOT, NOW, PACKED_ON, PRODUCER, PRODUCT, World
from verify_api import ratings
from verify_api.facts import Facts, Memory
from verify_api.rendering import Pages
from verify_api.resolution import Resolver
from verify_api.schemas import RatingChange

LATER = NOW + timedelta(days=1)


@dataclass
class FakeStore:
    """The reads of records.store.RecordReader, from dictionaries; counts every read."""

    units: dict[str, Unit] = field(default_factory=dict)
    batches: dict[str, BatchState] = field(default_factory=dict)
    chains: dict[str, list[ChainRecord]] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    producers: dict[str, Producer] = field(default_factory=dict)
    awards: dict[str, list[StoredCertification]] = field(default_factory=dict)
    trust_list: bytes | None = None
    seals: dict[str, str] = field(default_factory=dict)
    inspectors: dict[str, Inspector] = field(default_factory=dict)
    findings: dict[str, list[Inspection]] = field(default_factory=dict)
    scans: dict[str, ScanSummary] = field(default_factory=dict)
    alerts: list[AlertRow] = field(default_factory=list)
    copy_evidence: dict[str, frozenset[str]] = field(default_factory=dict)
    reads: Counter[str] = field(default_factory=Counter)
    failure: Exception | None = None
    stall_s: float = 0.0
    """How long every read takes: a stalled Cassandra."""

    async def _read(self, what: str) -> None:
        self.reads[what] += 1
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        if self.failure is not None:
            raise self.failure

    async def unit(self, unit_key: str) -> Unit | None:
        await self._read("unit")
        return self.units.get(unit_key)

    async def batch(self, batch_id: str) -> BatchState | None:
        await self._read("batch")
        return self.batches.get(batch_id)

    async def chain(self, batch_id: str) -> list[ChainRecord]:
        await self._read("chain")
        return self.chains.get(batch_id, [])

    async def product(self, product_key: str) -> Product | None:
        await self._read("product")
        return self.products.get(product_key)

    async def producer(self, producer_id: str) -> Producer | None:
        await self._read("producer")
        return self.producers.get(producer_id)

    async def certifications(self, product_key: str) -> list[StoredCertification]:
        await self._read("certifications")
        return list(self.awards.get(product_key, []))

    async def unit_activity(self, unit_key: str) -> UnitActivity:
        await self._read("activity")
        open_kinds = {a.kind for a in self.alerts if a.unit_key == unit_key and a.status == "open"}
        return UnitActivity(
            self.scans.get(unit_key, ScanSummary(0, None, None)),
            frozenset(open_kinds),
            self.copy_evidence.get(unit_key, frozenset()),
        )

    async def ping(self) -> None:
        await self._read("ping")

    async def latest_trust_list(self) -> bytes | None:
        await self._read("trust_list")
        return self.trust_list

    async def seal_keys(self) -> dict[str, str]:
        await self._read("seal_keys")
        return dict(self.seals)

    async def inspector(self, token_sha256: str) -> Inspector | None:
        await self._read("inspector")
        return self.inspectors.get(token_sha256)

    async def inspections(self, unit_key: str, limit: int = 50) -> list[Inspection]:
        await self._read("inspections")
        return self.findings.get(unit_key, [])[:limit]

    async def alerts_for_unit(self, unit_key: str) -> list[AlertRow]:
        await self._read("alerts")
        return [alert for alert in self.alerts if alert.unit_key == unit_key]

    async def alerts_on(self, province: str | None, day: date, limit: int = 500) -> list[AlertRow]:
        await self._read("alerts")
        found = [a for a in self.alerts if a.province == province and a.raised_at.date() == day]
        return found[:limit]


def stored(signed: Any, revocation: Any = None) -> StoredCertification:
    return StoredCertification(
        certification=signed.body,
        certification_document=model_bytes(signed),
        revocation=revocation and revocation.body,
        revocation_document=revocation and model_bytes(revocation),
    )


def resolver_of(store: FakeStore, *, cache_s: float, memory_mb: int = 64) -> Resolver:
    return Resolver(Facts(store, Memory(memory_mb * 1024 * 1024), cache_s=cache_s))


def pages() -> Pages:
    return Pages(Memory(64 * 1024 * 1024))


class Shelf:
    """A producer, its 4★ product, and a batch of `LOT` whose labels are packed and sealed."""

    def __init__(self, world: World, *, stars: int = 4, packed_on: date = PACKED_ON) -> None:
        self.world = world
        self.store = FakeStore(trust_list=world.trust_list_bytes())
        self.seal_key = SigningKey.generate()
        self.store.seals[self.seal_key.key_id] = self.seal_key.public_key_text
        self.store.producers[PRODUCER] = Producer(
            PRODUCER, "HTX Hồng Tiến", "cooperative", "Thôn Hồng Tiến", "Xã Hồng Tiến",
            "Huyện Kiến Xương", "Thái Bình", None, "VN-34", NOW,
        )  # fmt: skip
        self.store.products[PRODUCT] = Product(
            PRODUCT, PRODUCER, "Mắm cáy Hồng Tiến", "Hong Tien crab paste", "food", None, None,
            "VN-34", NOW,
        )  # fmt: skip
        self.store.awards[PRODUCT] = [stored(world.certifications[0])]
        self.signer = LabelSigner(
            world.producer, LabelBatch(HOST, PRODUCT, LOT, packed_on, stars, world.producer.key_id)
        )
        self.labels = [self.signer.sign() for _ in range(3)]
        self.batch_id = identifiers.batch_id(PRODUCT, LOT)
        opened = BatchOpened(
            event_id=uuid.uuid4(), occurred_at=NOW, batch_id=self.batch_id, producer_id=PRODUCER,
            product_key=PRODUCT, lot=LOT, production_date=date(2025, 3, 9),
            expiry_date=date(2030, 3, 9),
            raw_materials=(RawMaterial(material="cáy", origin="Tiền Hải", quantity="250",
                                       unit=QuantityUnit.KILOGRAM),),
        )  # fmt: skip
        packs = [
            UnitsPacked(
                event_id=uuid.uuid4(),
                occurred_at=NOW + timedelta(minutes=n),
                batch_id=self.batch_id,
                producer_id=PRODUCER,
                serials=(label.serial,),
                stars=stars,
                key_id=world.producer.key_id,
                packed_on=packed_on,
                label_digests=(label.digest,),
            )
            for n, label in enumerate(self.labels)
        ]
        shipped = BatchShipped(
            event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=3), batch_id=self.batch_id,
            producer_id=PRODUCER, shipment_id="SHIP-1", to_party="Siêu thị BigC Thái Bình",
            units=3,
        )  # fmt: skip
        records = self.chain([opened, *packs, shipped])
        self.store.chains[self.batch_id] = records
        self.store.batches[self.batch_id] = BatchState(
            batch_id=self.batch_id, product_key=PRODUCT, producer_id=PRODUCER, lot=LOT,
            production_date=opened.production_date, expiry_date=opened.expiry_date,
            raw_materials=json.dumps([m.model_dump(mode="json") for m in opened.raw_materials]),
            planned_units=None, units_packed=3, status="shipped", recalled_at=None,
            recall_reason=None, received_province=None, head_seq=records[-1].seq,
            head_hash=records[-1].record_hash,
        )  # fmt: skip
        for seq, label in enumerate(self.labels, start=2):
            key = identifiers.unit_key(PRODUCT, label.serial)
            self.store.units[key] = Unit(
                key, self.batch_id, PRODUCT, PRODUCER, label.serial, stars,
                world.producer.key_id, packed_on, seq,
            )  # fmt: skip

    def chain(self, events: list[Any]) -> list[ChainRecord]:
        records, prev = [], GENESIS_HASH
        for seq, event in enumerate(events, start=1):
            data = model_bytes(self.world.producer.sign_document(event))
            hashed = record_hash(self.batch_id, seq, prev, data)
            records.append(
                ChainRecord(
                    self.batch_id,
                    seq,
                    data,
                    prev,
                    hashed,
                    seal(self.seal_key, hashed),
                    self.seal_key.key_id,
                )
            )
            prev = hashed
        return records

    def certify(self, signed: Any, revocation: Any = None) -> None:
        self.store.awards.setdefault(PRODUCT, []).append(stored(signed, revocation))

    def resolve(self, text: str, at: datetime = LATER, *, memory_mb: int = 64) -> Any:
        resolver = resolver_of(self.store, cache_s=0, memory_mb=memory_mb)
        return asyncio.run(resolver.resolve(text, self.world.trust(), at))


@pytest.fixture
def shelf(world: World) -> Shelf:
    return Shelf(world)


def forge_stars(label: SignedLabel, stars: int) -> str:
    return label.url.replace(f"&s={label.batch.stars}&", f"&s={stars}&")


# -- the verdicts ------------------------------------------------------------------------------


def test_a_packed_unit_under_a_rating_in_force_is_genuine_with_its_whole_story(shelf: Shelf):
    label = shelf.labels[1]
    result = shelf.resolve(label.url).resolution

    assert (result.level, result.reason, result.category) == (
        Level.GENUINE, Reason.GENUINE, Category.GENUINE,
    )  # fmt: skip
    assert result.stars is not None
    assert (result.stars.printed, result.stars.current) == (4, 4)
    assert result.stars.status is CertificationStatus.IN_FORCE
    assert [e.change for e in result.stars.history] == [RatingChange.AWARDED]
    assert result.product is not None
    assert result.product.name == "Mắm cáy Hồng Tiến"
    assert result.producer is not None
    assert (result.producer.commune, result.producer.district, result.producer.province) == (
        "Xã Hồng Tiến", "Huyện Kiến Xương", "Thái Bình",
    )  # fmt: skip
    assert result.batch is not None
    assert [step.kind for step in result.batch.story] == [
        "batch_opened", "units_packed", "batch_shipped",
    ]  # fmt: skip
    assert result.batch.story[1].units == 3  # three packing records, one step
    assert result.batch.story[2].party == "Siêu thị BigC Thái Bình"
    assert result.packed_in_record == 3
    assert result.batch.raw_materials[0].origin == "Tiền Hải"
    assert result.links is not None
    assert result.links.provenance == f"/batches{shelf.batch_id}"


def test_a_changed_label_is_counterfeit_and_shows_nothing_from_the_records(shelf: Shelf):
    resolved = shelf.resolve(forge_stars(shelf.labels[0], 5))
    result = resolved.resolution
    assert (result.level, result.reason, result.category) == (
        Level.COUNTERFEIT, Reason.BAD_SIGNATURE, Category.NOT_AUTHENTIC,
    )  # fmt: skip
    assert (result.product, result.producer, result.batch, result.stars) == (None,) * 4
    assert sum(shelf.store.reads.values()) == 0  # a forger's claims are never looked up
    assert resolved.scan_reason is Reason.BAD_SIGNATURE


def test_text_that_is_not_a_label_is_not_ours(shelf: Shelf):
    result = shelf.resolve("https://example.com/hello").resolution
    assert (result.level, result.reason, result.category) == (
        Level.COUNTERFEIT, Reason.MALFORMED, Category.NOT_OURS,
    )  # fmt: skip
    assert result.defect is not None


def test_a_label_signed_by_a_key_nobody_certified_is_counterfeit(shelf: Shelf, world: World):
    stranger = world.label(key=SigningKey.generate())
    assert shelf.resolve(stranger.url).resolution.reason is Reason.UNKNOWN_KEY


def test_a_downgrade_since_printing_is_a_warning_with_both_ratings(shelf: Shelf, world: World):
    shelf.certify(world.award(stars=3, score="61", number="9/GCN", valid_from=NOW))
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert (result.level, result.reason) == (Level.WARNING, Reason.RATING_DOWNGRADED)
    assert result.stars is not None
    assert (result.stars.printed, result.stars.current) == (4, 3)
    assert [(e.change, e.stars) for e in result.stars.history] == [
        (RatingChange.AWARDED, 4), (RatingChange.DOWNGRADED, 3),
    ]  # fmt: skip
    assert result.category is Category.CLAIM_NOT_VALID


def test_a_revoked_rating_is_a_warning_with_the_revocation(shelf: Shelf, world: World):
    award = world.certifications[0]
    revocation = certs.revoke_certification(
        world.provincial, award.body, decision_no="47/QĐ-UBND", reason="vi phạm",
        effective_at=NOW, now=NOW,
    )  # fmt: skip
    shelf.store.awards[PRODUCT] = [stored(award, revocation)]
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert (result.level, result.reason) == (Level.WARNING, Reason.CERTIFICATION_REVOKED)
    assert result.stars is not None
    assert (result.stars.printed, result.stars.current) == (4, 0)
    assert result.stars.revocation is not None
    assert result.stars.revocation.decision_no == "47/QĐ-UBND"
    assert result.stars.history[-1].change is RatingChange.REVOKED
    assert "47/QĐ-UBND" in result.detail


def test_an_expired_rating_is_a_warning(shelf: Shelf, world: World):
    award = world.certifications[0].body
    result = shelf.resolve(shelf.labels[0].url, at=award.valid_until + timedelta(days=1))
    assert result.resolution.reason is Reason.CERTIFICATION_EXPIRED
    assert result.resolution.stars.history[-1].change is RatingChange.EXPIRED


def test_more_stars_than_ever_awarded_is_counterfeit_even_if_signed(shelf: Shelf, world: World):
    five = world.label(stars=5)
    result = shelf.resolve(five.url).resolution
    assert (result.level, result.reason) == (Level.COUNTERFEIT, Reason.STARS_EXCEED_CERTIFICATION)


def test_stars_on_a_product_never_certified_are_counterfeit(shelf: Shelf):
    shelf.store.awards.clear()
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert (result.level, result.reason) == (Level.COUNTERFEIT, Reason.NO_CERTIFICATION)


def test_a_label_without_stars_claims_nothing(world: World):
    plain = Shelf(world, stars=0)
    plain.store.awards.clear()
    result = plain.resolve(plain.labels[0].url).resolution
    assert result.reason is Reason.GENUINE
    assert result.stars is not None
    assert (result.stars.printed, result.stars.current) == (0, 0)


def test_a_signed_label_that_was_never_packed_is_a_warning(shelf: Shelf, world: World):
    stray = world.label()  # the producer's key, a serial no packing event named
    result = shelf.resolve(stray.url).resolution
    assert (result.level, result.reason) == (Level.WARNING, Reason.NOT_PACKED)
    assert result.category is Category.NOT_AUTHENTIC
    assert result.batch is not None  # the batch the label names, though it was not packed
    assert result.packed_in_record is None


def test_a_label_that_differs_from_what_was_packed_was_not_packed(shelf: Shelf, world: World):
    serial = shelf.labels[0].serial  # packed with 4 stars; the same key signs it again with 3
    relabelled = LabelSigner(
        world.producer, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 3, world.producer.key_id)
    ).sign(serial)
    for memory_mb in (64, 0):  # the chain says so, and so does the units table
        result = shelf.resolve(relabelled.url, memory_mb=memory_mb).resolution
        assert result.reason is Reason.NOT_PACKED
        assert "stars 3 on the label, 4 when packed" in result.detail


def test_a_recalled_batch_past_its_expiry_warns_of_both_recall_first(shelf: Shelf):
    shelf.store.batches[shelf.batch_id] = replace(
        shelf.store.batches[shelf.batch_id],
        recalled_at=NOW + timedelta(hours=5),
        recall_reason="nhiễm khuẩn",
        expiry_date=date(2025, 3, 10),
    )
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert result.reason is Reason.RECALLED
    assert [f.reason for f in result.findings] == [Reason.RECALLED, Reason.PAST_EXPIRY]
    assert "nhiễm khuẩn" in result.detail


def test_a_real_key_signing_another_producers_product_is_counterfeit(shelf: Shelf):
    shelf.store.products[PRODUCT] = replace(shelf.store.products[PRODUCT], producer_id="OTHER-01")
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert (result.level, result.reason) == (Level.COUNTERFEIT, Reason.SIGNER_NOT_AUTHORISED)


def test_shared_facts_are_cached_and_a_scan_reads_only_its_own_row(shelf: Shelf, world: World):
    resolver = resolver_of(shelf.store, cache_s=60)
    trust = shelf.world.trust()
    late = shelf.signer.sign()  # packed after the chain was cached: only the units table knows
    key = identifiers.unit_key(PRODUCT, late.serial)
    shelf.store.units[key] = replace(
        shelf.store.units[identifiers.unit_key(PRODUCT, shelf.labels[0].serial)],
        unit_key=key, serial=late.serial, seq=9,
    )  # fmt: skip

    async def scans() -> list[Any]:
        return [
            await resolver.resolve(label.url, trust, LATER) for label in [*shelf.labels[:2], late]
        ]

    first, second, third = asyncio.run(scans())
    reads = shelf.store.reads
    assert reads["activity"] == 3  # every scan reads its own row, and nothing else of its own
    assert reads["unit"] == 1  # only the serial the cached chain does not name
    shared = ("product", "certifications", "producer", "batch", "chain")
    assert reads == Counter(activity=3, unit=1, **dict.fromkeys(shared, 1))
    assert [r.resolution.reason for r in (first, second, third)] == [Reason.GENUINE] * 3
    assert third.resolution.packed_in_record == 9


def test_a_label_the_held_chain_names_needs_no_signature_check_and_no_other_does(
    shelf: Shelf, monkeypatch: pytest.MonkeyPatch
):
    checked: list[bytes] = []

    def counted(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
        checked.append(signature)
        verify_bytes(public_key, signature, data)

    monkeypatch.setattr(keys.verifier, "verify_bytes", counted)
    resolver = resolver_of(shelf.store, cache_s=60)
    trust = shelf.world.trust()
    first, second = shelf.labels[:2]
    # a forger who read the second serial from the public chain, but not its signature
    copied = SignedLabel(second.batch, second.serial, shelf.world.producer.private_key.sign(b"x"))

    async def scans() -> list[Any]:
        return [
            await resolver.resolve(label.url, trust, LATER) for label in (first, second, copied)
        ]

    before, held, forged = asyncio.run(scans())
    assert checked == [first.signature, copied.signature]  # the batch was not held yet; a forgery
    assert [r.resolution.reason for r in (before, held)] == [Reason.GENUINE] * 2
    assert held.resolution.packed_in_record == 3
    assert forged.resolution.reason is Reason.BAD_SIGNATURE
    assert forged.resolution.product is None


def test_a_new_head_of_the_chain_is_a_new_story(shelf: Shelf):
    resolver = resolver_of(shelf.store, cache_s=0)
    trust = shelf.world.trust()
    first = asyncio.run(resolver.resolve(shelf.labels[0].url, trust, LATER))
    state = shelf.store.batches[shelf.batch_id]
    records = shelf.store.chains[shelf.batch_id][:-1]  # as if the shipment were not yet recorded
    shelf.store.chains[shelf.batch_id] = records
    shelf.store.batches[shelf.batch_id] = replace(
        state, head_seq=records[-1].seq, head_hash=records[-1].record_hash
    )
    second = asyncio.run(resolver.resolve(shelf.labels[0].url, trust, LATER))
    stories = [resolved.resolution.batch for resolved in (first, second)]
    assert [len(batch.story) if batch else None for batch in stories] == [3, 2]


# -- the rating's history ------------------------------------------------------------------


def test_a_renewal_on_the_day_of_expiry_is_a_renewal_not_an_expiry(world: World):
    first = world.certifications[0]
    renewal = world.award(stars=4, score="75", number="2/GCN", valid_from=first.body.valid_until)
    upgrade = world.award(stars=5, score="92", number="3/GCN", valid_from=renewal.body.valid_until)
    history = [stored(first), stored(renewal), stored(upgrade)]
    later = upgrade.body.valid_until + timedelta(days=1)
    assert [(e.change, e.certificate_no) for e in ratings.history(history, later)] == [
        (RatingChange.AWARDED, "123/GCN-UBND"),
        (RatingChange.RENEWED, "2/GCN"),
        (RatingChange.UPGRADED, "3/GCN"),
        (RatingChange.EXPIRED, "3/GCN"),
    ]


def test_an_award_after_a_lapse_is_a_new_award_and_a_revoked_downgrade_stays_revoked(
    world: World,
):
    first = world.certifications[0]
    downgrade = world.award(stars=3, score="61", number="2/GCN", valid_from=NOW)
    revocation = certs.revoke_certification(
        world.provincial, downgrade.body, decision_no="9/QĐ", reason="sai phạm",
        effective_at=NOW + timedelta(days=10), now=NOW + timedelta(days=10),
    )  # fmt: skip
    history = [stored(first), stored(downgrade, revocation)]
    at = NOW + timedelta(days=20)
    assert [e.change for e in ratings.history(history, at)] == [
        RatingChange.AWARDED, RatingChange.DOWNGRADED, RatingChange.REVOKED,
    ]  # fmt: skip
    assert ratings.state_at(history, at).status.value == "revoked"  # nothing revived
    again = world.award(stars=3, score="60", number="4/GCN", valid_from=NOW + timedelta(days=30))
    history.append(stored(again))
    assert ratings.history(history, NOW + timedelta(days=40))[-1].change is RatingChange.AWARDED


def test_units_of_a_batch_share_the_rendered_facts_until_the_rating_changes(
    shelf: Shelf, world: World
):
    award = world.certifications[0]
    revocation = certs.revoke_certification(
        world.provincial, award.body, decision_no="47/QĐ-UBND", reason="vi phạm",
        effective_at=LATER + timedelta(days=1), now=LATER,
    )  # fmt: skip
    shelf.store.awards[PRODUCT] = [stored(award, revocation)]
    resolver = resolver_of(shelf.store, cache_s=600)
    trust = world.trust()
    first, second, revoked = (
        asyncio.run(resolver.resolve(label.url, trust, at))
        for label, at in (
            (shelf.labels[0], LATER),
            (shelf.labels[1], LATER),
            (shelf.labels[0], LATER + timedelta(days=2)),  # same cached facts, rating revoked
        )
    )
    assert first.facts_key == second.facts_key != revoked.facts_key

    held = pages()
    html = [
        held.render(r.resolution, r.facts_key, Lang.VI, "?lang=en")
        for r in (first, second, revoked)
    ]
    assert shelf.labels[0].serial in html[0]
    assert shelf.labels[1].serial in html[1]  # the unit's own part is the unit's
    assert shelf.labels[0].serial not in html[1]
    assert "còn hiệu lực đến" in html[1]
    assert "đã bị thu hồi từ" in html[2]  # never the cached fragment of the earlier rating


def test_corroborated_copy_evidence_is_a_warning(shelf: Shelf):
    unit = identifiers.unit_key(PRODUCT, shelf.labels[0].serial)
    shelf.store.copy_evidence[unit] = frozenset({str(uuid4())})
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert (result.level, result.reason) == ("warning", Reason.SUSPECTED_COPY)
    assert result.detail.startswith("copy corroborated by ")
    assert shelf.resolve(shelf.labels[1].url).resolution.level == "genuine"  # another unit


def test_open_alerts_without_corroboration_are_no_suspected_copy(shelf: Shelf):
    shelf.store.alerts.append(
        AlertRow(identifiers.unit_key(PRODUCT, shelf.labels[0].serial), uuid4(),
                 AlertKind.IMPOSSIBLE_TRAVEL.value, NOW, "Thái Bình", "evidence", "open")
    )  # fmt: skip
    result = shelf.resolve(shelf.labels[0].url).resolution
    assert Reason.SUSPECTED_COPY not in [f.reason for f in result.findings]
    assert result.level == "genuine"


# -- what is worked out once and shared ---------------------------------------------------------


def test_a_rating_holds_from_one_change_to_the_next_and_no_further(world: World):
    award = world.certifications[0]
    revocation = certs.revoke_certification(
        world.provincial, award.body, decision_no="47/QĐ-UBND", reason="vi phạm",
        effective_at=LATER + timedelta(days=1), now=LATER,
    )  # fmt: skip
    history = [stored(award, revocation)]
    rating = ratings.rating_at(history, LATER)
    assert rating.state.status is CertificationStatus.IN_FORCE
    assert (rating.since, rating.until) == (award.body.valid_from, revocation.body.effective_at)
    assert rating.holds(revocation.body.effective_at - timedelta(microseconds=1))
    assert not rating.holds(revocation.body.effective_at)
    assert not rating.holds(award.body.valid_from - timedelta(microseconds=1))
    after = ratings.rating_at(history, revocation.body.effective_at)
    assert after.state.status is CertificationStatus.REVOKED
    assert after.until == award.body.valid_until  # still a change: the history gains nothing
    assert after.stars(4) is after.stars(4)  # one view per printed count
    assert (after.stars(4).current, after.stars(0).printed) == (0, 0)


def test_cached_facts_never_carry_a_rating_past_its_expiry_or_back_before_its_start(
    shelf: Shelf, world: World
):
    award = world.certifications[0].body
    resolver = resolver_of(shelf.store, cache_s=600)
    trust = world.trust()
    moments = [
        award.valid_until - timedelta(microseconds=1),
        award.valid_until,  # the same cached product facts, one microsecond later
        award.valid_from + timedelta(days=1),  # a scan stamped earlier than the held rating
    ]
    stars = [
        asyncio.run(resolver.resolve(shelf.labels[0].url, trust, at)).resolution.stars
        for at in moments
    ]
    assert [s and s.status for s in stars] == ["in_force", "expired", "in_force"]
    assert shelf.store.reads["certifications"] == 1


def test_the_verdict_is_shared_only_by_resolutions_with_the_same_findings(
    shelf: Shelf, world: World
):
    held = pages()
    packed = shelf.resolve(shelf.labels[0].url)
    never_packed = shelf.resolve(world.label().url)
    assert never_packed.resolution.reason is Reason.NOT_PACKED
    genuine, warning, genuine_again = (
        held.render(r.resolution, r.facts_key, Lang.VI, "?lang=en")
        for r in (packed, never_packed, packed)
    )
    assert "Chính hãng" in genuine
    assert "Cảnh báo" not in genuine
    assert "Cảnh báo" in warning
    assert "Chính hãng" not in warning
    assert genuine_again == genuine
