"""Province-scale demo data: the OCOP figures of the news items, as the events that make them.

`province_events` generates, purely and deterministically (seeded), the registrations and
evaluation cycles (contract.evaluation) whose recognitions reproduce exactly:

- former Thái Bình province, November 2023: 138 rated products, 48 at 4★ and 90 at 3★, from
  91 producers (32 enterprises, 36 cooperatives, 23 household businesses) in its 8 districts
  and cities; the first products of 2021 were 17 at 4★, and mắm cáy Hồng Tiến 4★ in 2020;
- Thăng Bình district (Quảng Nam): 31 products recognised since 2018, 4 at 4★ and 27 at 3★.

What the reporting names is used as named: the districts, and the products and producers of
demo.cast (mắm cáy Hồng Tiến, bánh cáy làng Nguyễn, bánh đa sợi Quỳnh Phụ, gạo TBR39 Hưng
Cúc, the Thăng Bình product), with the same ids, product keys, scores and document numbers,
so they are among the figures and are registered once. Everything else is illustrative:
every name, commune and address the generator makes up ends in ILLUSTRATIVE ("(minh họa)",
as in demo.cast); the scores, dates, member ids, standards and document numbers are made up
too (the reporting gives none), and so are Thăng Bình's producers (its item counts only
products), whose number and kinds are marked `reported=False` in THANG_BINH.

The cycles follow the rules the councils followed then, as contract.evaluation models them:
no commune pre-check (Decision 1489 came in 2025), five provincial council members each, the
province council deciding. One simplification: under Decision 148 as first issued (24 Feb
2023 to 6 July 2025) a district council recognised 3★; here the province does, as the
evaluation model has two tiers only.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from contract.certification import EvaluationLevel, ProductGroup
from contract.evaluation import (
    Authority,
    DossierSubmitted,
    MemberScored,
    ProvinceRecognised,
)
from contract.events import ProducerKind, ProducerRegistered, ProductRegistered
from contract.identifiers import KeyScheme, product_key
from contract.label import VIETNAM_TIME
from demo import cast

SEED = 2023
ILLUSTRATIVE = " (minh họa)"
"""The suffix of every name the generator makes up (a name the reporting gives has none)."""
MEMBERS = 5
"""Council members scoring each dossier (illustrative)."""
_NAMESPACE = uuid.UUID("6f1c3d2e-0c4b-5a7e-9d61-2f0a8b4c7e15")

DemoEvent = (
    ProducerRegistered | ProductRegistered | DossierSubmitted | MemberScored | ProvinceRecognised
)


@dataclass(frozen=True)
class Session:
    """A council's recognition decision: its day, number, and how many products of each
    star count it recognised (the named products are placed in their own sessions)."""

    decided_on: date
    decision_no: str
    stars: Mapping[int, int]


@dataclass(frozen=True)
class Figures:
    """One place's reported figures, and the sessions that reach them."""

    code: str
    """The prefix of the place's ids and product codes."""
    authority_id: str
    province: str
    districts: tuple[str, ...]
    kinds: Mapping[ProducerKind, int]
    reported: bool
    """Whether `kinds` (the producers) is reported (True) or illustrative (False)."""
    sessions: tuple[Session, ...]

    @property
    def stars(self) -> dict[int, int]:
        totals: dict[int, int] = {}
        for session in self.sessions:
            for stars, count in session.stars.items():
                totals[stars] = totals.get(stars, 0) + count
        return totals


THAI_BINH = Figures(
    code="TB",
    authority_id="VN-34",
    province="Thái Bình",
    districts=(
        "Thành phố Thái Bình", "Huyện Đông Hưng", "Huyện Hưng Hà", "Huyện Kiến Xương",
        "Huyện Quỳnh Phụ", "Huyện Thái Thụy", "Huyện Tiền Hải", "Huyện Vũ Thư",
    ),
    kinds={ProducerKind.ENTERPRISE: 32, ProducerKind.COOPERATIVE: 36, ProducerKind.HOUSEHOLD: 23},
    reported=True,
    sessions=(
        Session(date(2020, 12, 18), "2468/QĐ-UBND", {4: 1}),
        Session(date(2021, 6, 15), "1120/QĐ-UBND", {4: 9}),
        Session(date(2021, 12, 20), "2985/QĐ-UBND", {4: 8}),
        Session(date(2022, 6, 20), "3051/QĐ-UBND", {4: 8, 3: 22}),
        Session(date(2022, 12, 19), "3120/QĐ-UBND", {4: 9, 3: 25}),
        Session(date(2023, 6, 19), "1380/QĐ-UBND", {4: 6, 3: 20}),
        Session(date(2023, 11, 20), "2745/QĐ-UBND", {4: 7, 3: 23}),
    ),
)  # fmt: skip
"""Former Thái Bình, November 2023 (Thái Bình's council, VN-34 before the reform). The
2021 sessions' 17 products are all 4★; the 2020 one is mắm cáy Hồng Tiến."""

THANG_BINH = Figures(
    code="QN",
    authority_id="VN-49",
    province="Quảng Nam",
    districts=("Huyện Thăng Bình",),
    kinds={ProducerKind.ENTERPRISE: 4, ProducerKind.COOPERATIVE: 8, ProducerKind.HOUSEHOLD: 10},
    reported=False,
    sessions=(
        Session(date(2019, 12, 16), "3790/QĐ-UBND", {4: 1, 3: 5}),
        Session(date(2020, 12, 14), "1790/QĐ-UBND", {4: 1, 3: 6}),
        Session(date(2021, 12, 13), "3630/QĐ-UBND", {4: 1, 3: 6}),
        Session(date(2022, 12, 12), "3410/QĐ-UBND", {3: 5}),
        Session(date(2023, 11, 13), "2980/QĐ-UBND", {4: 1, 3: 5}),
    ),
)
"""Thăng Bình district, Quảng Nam (Quảng Nam's council, VN-49 before the reform)."""

FIGURES = (THAI_BINH, THANG_BINH)

COUNCILS = {
    figures.authority_id: Authority(EvaluationLevel.PROVINCIAL, figures.province)
    for figures in FIGURES
}
"""The councils that decided, for contract.evaluation.Context."""

_TYPES = (
    ("Bánh cáy", ProductGroup.FOOD), ("Giò chả", ProductGroup.FOOD),
    ("Gạo nếp cái hoa vàng", ProductGroup.FOOD), ("Mật ong", ProductGroup.FOOD),
    ("Ruốc tôm", ProductGroup.FOOD), ("Nước mắm", ProductGroup.FOOD),
    ("Rượu nếp", ProductGroup.DRINKS), ("Trà hoa", ProductGroup.DRINKS),
    ("Tinh dầu sả", ProductGroup.HERBAL), ("Chiếu cói", ProductGroup.HANDICRAFTS),
    ("Tranh thêu", ProductGroup.HANDICRAFTS), ("Cây cảnh bonsai", ProductGroup.ORNAMENTAL),
)  # fmt: skip
_KIND_CODES = {
    ProducerKind.ENTERPRISE: ("DN", "Công ty TNHH"),
    ProducerKind.COOPERATIVE: ("HTX", "HTX"),
    ProducerKind.COOPERATIVE_GROUP: ("THT", "Tổ hợp tác"),
    ProducerKind.HOUSEHOLD: ("HKD", "Hộ kinh doanh"),
}


@dataclass(frozen=True)
class _Product:
    key: str
    producer: ProducerRegistered
    name: str
    group: ProductGroup
    stars: int
    hundredths: int
    """The council's score in hundredths."""
    session: Session
    certificate_no: str


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(map(str, parts)))


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), VIETNAM_TIME).astimezone(UTC)


def _short(district: str) -> str:
    return district.removeprefix("Thành phố ").removeprefix("Huyện ")


def _named(figures: Figures) -> tuple[list[cast.Producer], list[cast.Product]]:
    """demo.cast's producers and products in this place (matched by province)."""
    producers = [p for p in cast.PRODUCERS if p.province == figures.province]
    ids = {p.producer_id for p in producers}
    return producers, [p for p in cast.PRODUCTS if p.producer in ids]


def _producers(figures: Figures, rng: random.Random) -> list[ProducerRegistered]:
    """The named producers, then made-up ones to the reported kinds, every district with
    at least one producer."""
    named, _ = _named(figures)
    pool = [kind for kind, count in figures.kinds.items() for _ in range(count)]
    for producer in named:
        pool.remove(producer.kind)
    rng.shuffle(pool)
    covered = {producer.district for producer in named}
    districts = [d for d in figures.districts if d not in covered]
    districts += [rng.choice(figures.districts) for _ in range(len(pool) - len(districts))]
    rng.shuffle(districts)
    events = [
        ProducerRegistered(
            event_id=_id(figures.code, "producer", p.producer_id),
            occurred_at=_at(figures.sessions[0].decided_on - timedelta(days=150), 9),
            authority_id=figures.authority_id,
            producer_id=p.producer_id,
            name=p.name,
            kind=p.kind,
            address=p.address,
            commune=p.commune,
            district=p.district,
            province=p.province,
        )
        for p in named
    ]
    for number, (kind, district) in enumerate(zip(pool, districts, strict=True), start=1):
        code, title = _KIND_CODES[kind]
        producer_id = f"{figures.code}-{code}-{number:03d}"
        commune = f"Xã {_short(district)} {number}{ILLUSTRATIVE}"
        events.append(
            ProducerRegistered(
                event_id=_id(figures.code, "producer", producer_id),
                occurred_at=_at(figures.sessions[0].decided_on - timedelta(days=150), 9),
                authority_id=figures.authority_id,
                producer_id=producer_id,
                name=f"{title} {_short(district)} số {number}{ILLUSTRATIVE}",
                kind=kind,
                address=f"Thôn {number}{ILLUSTRATIVE}, {commune}",
                commune=commune,
                district=district,
                province=figures.province,
            )
        )
    return events


def _products(
    figures: Figures, producers: list[ProducerRegistered], rng: random.Random
) -> list[_Product]:
    """One product at least per producer, the named ones in their sessions, the stars of
    each session exactly."""
    by_id = {producer.producer_id: producer for producer in producers}
    _, named = _named(figures)
    slots = [(s, stars) for s in figures.sessions for stars, n in s.stars.items() for _ in range(n)]
    products: list[_Product] = []
    for item in named:
        session = next(s for s in figures.sessions if s.decision_no == item.decision_no)
        slots.remove((session, item.stars))
        products.append(
            _Product(
                product_key(KeyScheme.GTIN, item.gtin), by_id[item.producer], item.name,
                item.group, item.stars, int(item.score * 100), session, item.certificate_no,
            )
        )  # fmt: skip
    owners = [p for p in producers if p.producer_id not in {i.producer for i in named}]
    owners += [rng.choice(producers) for _ in range(len(slots) - len(owners))]
    rng.shuffle(owners)
    for number, ((session, stars), owner) in enumerate(zip(slots, owners, strict=True), 1):
        kind, group = rng.choice(_TYPES)
        low = 5000 if stars == 3 else 7000
        products.append(
            _Product(
                product_key(KeyScheme.PRODUCT_CODE, f"{figures.code}-OCOP-{number:03d}"),
                owner,
                f"{kind} {_short(owner.district)}{ILLUSTRATIVE}",
                group,
                stars,
                rng.randint(low, low + 1999),
                session,
                f"{number:03d}/GCN-OCOP-{figures.code}",
            )
        )
    return products


def _cycle(figures: Figures, product: _Product, rng: random.Random) -> Iterator[DemoEvent]:
    """A product's registration and its dossier, scored and recognised."""
    decided_on = product.session.decided_on
    submitted_on = decided_on - timedelta(days=rng.randint(45, 120))
    dossier_id = f"{figures.code}-HS-{product.key.rsplit('/', 1)[1]}"
    common = {
        "dossier_id": dossier_id,
        "product_key": product.key,
        "authority_id": figures.authority_id,
    }
    yield ProductRegistered(
        event_id=_id(product.key, "registered"),
        occurred_at=_at(submitted_on - timedelta(days=1), 9),
        authority_id=figures.authority_id,
        product_key=product.key,
        producer_id=product.producer.producer_id,
        name=product.name,
        product_group=product.group,
    )
    yield DossierSubmitted(
        event_id=_id(product.key, "submitted"),
        occurred_at=_at(submitted_on, 9),
        **common,
        producer_id=product.producer.producer_id,
        product_name=product.name,
        product_group=product.group,
        raw_material_origin=f"{_short(product.producer.district)}, {figures.province}",
        standards=(f"TCCS 01:{submitted_on.year}{ILLUSTRATIVE}",),
        commune=product.producer.commune,
        province=figures.province,
        submitted_on=submitted_on,
    )
    # members' totals differ by pairs of opposite deviations, so their mean is the score
    spread = [rng.randint(0, 500) for _ in range(MEMBERS // 2)]
    deviations = [*spread, *(-d for d in spread), *([0] * (MEMBERS % 2))]
    rng.shuffle(deviations)
    for member, deviation in enumerate(deviations, start=1):
        total = product.hundredths + deviation
        part_a, part_c = total * 40 // 100, total * 35 // 100
        yield MemberScored(
            event_id=_id(product.key, "scored", member),
            occurred_at=_at(decided_on - timedelta(days=7), 9 + member),
            **common,
            level=EvaluationLevel.PROVINCIAL,
            member_id=f"{figures.authority_id}-M{member}",
            part_a=Decimal(part_a).scaleb(-2),
            part_b=Decimal(total - part_a - part_c).scaleb(-2),
            part_c=Decimal(part_c).scaleb(-2),
        )
    yield ProvinceRecognised(
        event_id=_id(product.key, "recognised"),
        occurred_at=_at(decided_on, 15),
        **common,
        decided_on=decided_on,
        score=Decimal(product.hundredths).scaleb(-2),
        stars=product.stars,
        decision_no=product.session.decision_no,
        certificate_no=product.certificate_no,
    )


def province_events(seed: int = SEED) -> list[DemoEvent]:
    """Every place's events in the order they happened (by `occurred_at`; the same seed,
    the same events, ids included)."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets: reproducible on purpose)
    events: list[DemoEvent] = []
    for figures in FIGURES:
        producers = _producers(figures, rng)
        events += producers
        for product in _products(figures, producers, rng):
            events += _cycle(figures, product, rng)
    return sorted(events, key=lambda event: event.occurred_at)
