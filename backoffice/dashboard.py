"""The province at a glance, for the OCOP office: one description of a place's figures on a
date, which the page, the JSON and the CSV all show (backoffice.office_routes renders them).

Three layers, top to bottom:

- `place_of`: which area a question is about. A province is named as it was on the date
  (contract.admin_map): Thái Bình on 2023-11-30 is Thái Bình; Hưng Yên after 1 July 2025 is
  Hưng Yên with former Thái Bình, and says so; Thái Bình after the reform is former Thái
  Bình's area, now part of Hưng Yên, and says that.
- `figures`: pure. From the area's products (their registrations and every certification
  their producer holds), and the alerts, cases and scans per day, the figures AS OF the end
  of the date in Vietnam: a product counts as rated when a certification of 3★ or more was in
  force then (contract.certification.certification_state), never from today's registry row.
- `read_dashboard`: the reads, each bounded: the area's products by the registry's province
  index (one indexed query, paged); their certifications, one partition each, at most
  `CONCURRENCY` at a time; alerts and cases per day, one partition per province and day;
  scans per day, one partition per province (records.store.scans_by_day).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from contract import admin_map
from contract.certification import (
    CertificationRevocation,
    CertificationStatus,
    StarCertification,
    certification_state,
)
from contract.events import ProducerKind
from contract.label import VIETNAM_TIME
from contract.search import RegistryQuery, place_key
from contract.verdict import Lang
from keys.certs import utc_now
from records.registry import RegistryReader, RegistryRow
from records.rows import StoredCertification

OCOP_STARS = 3
"""The fewest stars of a recognised OCOP product (Decision 148/QĐ-TTg)."""
EXPIRY_WINDOWS = (30, 90, 180)
"""Days ahead in which certificates in force end: the shelves' list."""
DEFAULT_TARGET_PERCENT = 80
"""The plan's share of registered products at 3★ or more, unless the place has its own."""
PLAN_TARGETS: dict[tuple[str, str | None], int] = {
    ("Thái Bình", None): 80,
    ("Quảng Nam", "Huyện Thăng Bình"): 70,
}
"""The 2024 aims the news items give (shared/OCOP.md): Thái Bình over 80 %, Thăng Bình 70 %."""
ACTIVITY_DAYS = 30
"""Days of alerts, cases and scans shown, ending on the date."""
MAX_ACTIVITY_DAYS = 92
FIRST_DAY = date(2018, 1, 1)
"""The OCOP programme's first ratings: an earlier date has nothing to show."""
CONCURRENCY = 16
"""Certification partitions read at once."""
PAGE = 500
"""Registry rows read per page of the province query."""
DAY_LIMIT = 5_000
"""Alerts or cases read per province and day (a day that reaches it is shown as "at least")."""


# -- the question's area ------------------------------------------------------------------------


class PlaceError(ValueError):
    """A question the dashboard cannot answer, with its sentence in both languages."""

    status = 422
    """The HTTP status it is answered with."""

    def __init__(self, code: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.code = code
        self.vi = vi
        self.en = en

    def sentence(self, lang: Lang) -> str:
        return self.vi if lang is Lang.VI else self.en


_NAMES = {place_key(name): name for name in (*admin_map.FORMER_CODES, *admin_map.CURRENT_CODES)}


def canonical_province(text: str) -> str:
    """A province as typed ("thai binh", "Tỉnh Thái Bình") by its canonical name; PlaceError
    for a name that is no province before or after the 2025 reform."""
    name = _NAMES.get(place_key(text))
    if name is None:
        raise PlaceError(
            "unknown_province",
            f"Không có tỉnh, thành phố nào tên {text[:64]!r} (trước hoặc sau 1/7/2025).",
            f"No province of Vietnam is called {text[:64]!r} (before or after 1 July 2025).",
        )
    return name


class Place(BaseModel):
    """The area a dashboard is about."""

    model_config = ConfigDict(frozen=True)

    province: str
    """The province asked for, by its canonical name."""
    provinces: tuple[str, ...]
    """The provinces as records name them (before the reform) whose products count."""
    district: str | None = None
    commune: str | None = None
    now_part_of: str | None = None
    """The province the asked one is part of since 1 July 2025, if it was merged away."""
    note_vi: str = ""
    note_en: str = ""

    @property
    def label(self) -> str:
        parts = [p for p in (self.commune, self.district) if p]
        return ", ".join([*parts, self.province])

    def note(self, lang: Lang) -> str:
        return self.note_vi if lang is Lang.VI else self.note_en


def place_of(
    province: str, at: date, district: str | None = None, commune: str | None = None
) -> Place:
    """The area of `province` (as typed) on `at`, optionally one district or commune of it."""
    name = canonical_province(province)
    note_vi = note_en = ""
    now_part_of = None
    if at < admin_map.REFORM_DATE:
        if name in admin_map.FORMER_CODES:
            provinces: tuple[str, ...] = (name,)
        else:  # a name given only since the reform ("Huế"): what it was then
            provinces = admin_map.predecessors(name)
            note_vi = f"{name} trước 1/7/2025 là {', '.join(provinces)}."
            note_en = f"Before 1 July 2025 {name} was {', '.join(provinces)}."
    elif name in admin_map.CURRENT_CODES:
        provinces = admin_map.predecessors(name)
        others = [p for p in provinces if p != name]
        if others:
            note_vi = f"Từ 1/7/2025 {name} gồm cả tỉnh cũ {', '.join(others)}: đã tính cả."
            note_en = f"Since 1 July 2025 {name} includes former {', '.join(others)}: counted too."
    else:
        provinces = (name,)
        now_part_of = admin_map.province_now(name)
        note_vi = f"Tỉnh {name} cũ: từ 1/7/2025 thuộc {now_part_of}. Chỉ tính địa bàn cũ."
        note_en = (
            f"Former {name} province: part of {now_part_of} since 1 July 2025. "
            "Its former area only."
        )
    return Place(
        province=name,
        provinces=provinces,
        district=district.strip() if district and district.strip() else None,
        commune=commune.strip() if commune and commune.strip() else None,
        now_part_of=now_part_of,
        note_vi=note_vi,
        note_en=note_en,
    )


class OutsideProvince(PlaceError):
    """An area outside the province the office user is registered for."""

    status = 403


def check_reach(place: Place, home: str | None) -> None:
    """An office user registered for a province (`home`) sees its area only: the province as
    it is now and the former provinces merged into it, at any date ("Hưng Yên" sees former
    Thái Bình of 2023). One registered without a province (office-wide) sees any area. A
    home this map does not know sees nothing (OutsideProvince)."""
    if home is None:
        return
    try:
        name = canonical_province(home)
        home_now = name if name in admin_map.CURRENT_CODES else admin_map.province_now(name)
    except (PlaceError, admin_map.UnknownProvince):
        home_now = None
    if home_now is None or any(admin_map.province_now(p) != home_now for p in place.provinces):
        raise OutsideProvince(
            "outside_province",
            f"Tài khoản của {home} chỉ xem được số liệu của {home}.",
            f"An account of {home} sees {home}'s figures only.",
        )


def target_of(place: Place) -> int:
    for province in place.provinces:
        found = PLAN_TARGETS.get((province, place.district))
        if found is not None:
            return found
    return DEFAULT_TARGET_PERCENT


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Vietnam: what was in force at any time that day counts."""
    start = datetime.combine(day + timedelta(days=1), time(), VIETNAM_TIME)
    return start.astimezone(UTC) - timedelta(microseconds=1)


# -- the inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFacts:
    """A product of the area: its registration, its producer (as registered) and every
    certification its producer holds of it, with their revocations."""

    product_key: str
    name: str
    product_group: str
    producer_id: str
    producer_name: str
    producer_kind: str
    commune: str
    district: str
    province: str
    registered_at: datetime | None
    awards: tuple[StarCertification, ...] = ()
    revocations: Mapping[str, CertificationRevocation] = field(default_factory=dict)


def facts_of(row: RegistryRow, stored: Sequence[StoredCertification]) -> ProductFacts:
    """A registry row and the product's stored certifications (its producer's only: another
    producer's rating of the same key is not this product's)."""
    mine = [s for s in stored if s.certification.producer_id == row.producer_id]
    return ProductFacts(
        product_key=row.product_key,
        name=row.name,
        product_group=row.product_group,
        producer_id=row.producer_id,
        producer_name=row.producer_name or row.producer_id,
        producer_kind=row.producer_kind or "",
        commune=row.commune or "",
        district=row.district or "",
        province=row.province or "",
        registered_at=row.registered_at,
        awards=tuple(s.certification for s in mine),
        revocations={
            s.certification.certificate_no: s.revocation for s in mine if s.revocation is not None
        },
    )


@dataclass(frozen=True)
class DayCounts:
    """Alerts raised, cases filed and consumers' scans counted in the area on one day;
    `capped`: a province's day held more than was read (the counts are "at least")."""

    day: date
    alerts: int = 0
    cases: int = 0
    scans: int = 0
    capped: bool = False


# -- the figures --------------------------------------------------------------------------------


class ShelfState(StrEnum):
    EXPIRED = "expired"
    EXPIRING = "expiring"
    REVOKED = "revoked"


class ShelfItem(BaseModel):
    """A certificate inspectors should look for on shelves: ended (expired or revoked, and
    not renewed) or ending within the longest window."""

    state: ShelfState
    product_key: str
    product_name: str
    producer_id: str
    producer_name: str
    district: str
    commune: str
    stars: int
    certificate_no: str
    ends_on: date
    """The first day the certificate is no longer in force (Vietnam)."""
    days_left: int
    """Days from the date to `ends_on`: 0 or less once ended."""


class Activity(BaseModel):
    day: date
    alerts: int
    cases: int
    scans: int
    capped: bool = False


class Figures(BaseModel):
    """The dashboard of one place on one date: what the page, the JSON and the CSV show."""

    model_config = ConfigDict(frozen=True)

    at: date
    place: Place
    registered: int
    """Products registered by the end of the date (or certified by then: a registration
    recorded later, e.g. from paper, is not a reason to miss a rated product)."""
    rated: int
    """Products with a certification of 3★ or more in force at the end of the date."""
    rated_percent: float | None
    """`rated` out of `registered`, in per cent (None: nothing registered)."""
    target_percent: int
    target_met: bool
    rated_by_stars: dict[str, int]
    """"3", "4", "5": products in force by stars."""
    below_three: int
    """Products whose certification in force is 1★ or 2★: rated, not OCOP."""
    recognised: int
    """Products recognised 3★ or more at any time up to the date (in force, expired or
    revoked since): the "since 2018" figure of the news items."""
    recognised_by_stars: dict[str, int]
    """By the stars of each product's latest recognition started by the date."""
    rated_by_group: dict[str, int]
    rated_by_district: dict[str, int]
    rated_by_commune: dict[str, int]
    districts: int
    """Districts (or cities) with a rated product."""
    communes: int
    producers: int
    """Producers with a rated product."""
    producers_by_kind: dict[str, int]
    producers_registered: int
    """Producers with a registered product."""
    expiring: dict[str, int]
    """"30", "90", "180": certificates in force ending within that many days (each window
    includes the shorter ones)."""
    expired: int
    """Products whose latest certification of 3★ or more has expired, not renewed."""
    revoked: int
    shelf: list[ShelfItem]
    """Expired, revoked and expiring (180 days) certificates, soonest end first."""
    activity: list[Activity]
    """Alerts, cases and scans per day (Vietnam), oldest first, ending on the date. Where
    they happened: they are counted by province, never by district or commune."""

    # -- the CSV: one table, a section per figure ------------------------------------------------

    def csv_rows(self) -> list[list[str]]:
        rows: list[list[str]] = [["section", "key", "value", "detail"]]

        def add(section: str, key: str, value: object, detail: str = "") -> None:
            rows.append([section, key, "" if value is None else str(value), detail])

        add("place", "province", self.place.province, self.place.note_en)
        add("place", "provinces_counted", "; ".join(self.place.provinces))
        add("place", "district", self.place.district or "")
        add("place", "commune", self.place.commune or "")
        add("place", "at", self.at.isoformat())
        for name in ("registered", "rated", "rated_percent", "target_percent", "target_met",
                     "below_three", "recognised", "districts", "communes", "producers",
                     "producers_registered", "expired", "revoked"):  # fmt: skip
            add("summary", name, getattr(self, name))
        for section in ("rated_by_stars", "recognised_by_stars", "producers_by_kind",
                        "rated_by_group", "rated_by_district", "rated_by_commune",
                        "expiring"):  # fmt: skip
            for key, value in getattr(self, section).items():
                add(section, key, value)
        for item in self.shelf:
            add(
                f"shelf_{item.state.value}",
                item.certificate_no,
                item.ends_on.isoformat(),
                f"{item.product_name} | {item.producer_name} | {item.district} | "
                f"{item.stars}★ | {item.days_left} d",
            )
        for day in self.activity:
            add("activity", day.day.isoformat(), f"{day.alerts} {day.cases} {day.scans}",
                "alerts cases scans" + (" (at least)" if day.capped else ""))  # fmt: skip
        return rows

    def csv_text(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(self.csv_rows())
        return out.getvalue()


def _in_area(product: ProductFacts, place: Place) -> bool:
    if place_key(product.province) not in {place_key(p) for p in place.provinces}:
        return False
    if place.district is not None and place_key(product.district) != place_key(place.district):
        return False
    return place.commune is None or place_key(product.commune) == place_key(place.commune)


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def figures(
    place: Place,
    at: date,
    products: Iterable[ProductFacts],
    activity: Sequence[DayCounts] = (),
    target_percent: int | None = None,
) -> Figures:
    """The figures of `place` at the end of `at`, from its products (others are left out:
    `products` may hold more than the area) and its days of activity."""
    moment = end_of_day(at)
    target = target_of(place) if target_percent is None else target_percent
    registered: list[ProductFacts] = []
    rated: list[tuple[ProductFacts, StarCertification]] = []
    recognised: Counter[str] = Counter()
    below_three = expired = revoked = 0
    shelf: list[ShelfItem] = []
    for product in products:
        if not _in_area(product, place):
            continue
        started = [a for a in product.awards if a.valid_from <= moment]
        if not started and (product.registered_at is None or product.registered_at > moment):
            continue  # neither registered nor certified by then
        registered.append(product)
        state = certification_state(product.awards, product.revocations, moment)
        award = state.certification
        if award is None or state.status is CertificationStatus.NOT_YET_VALID:
            continue
        if award.stars >= OCOP_STARS:
            recognised[str(award.stars)] += 1
        if state.status is CertificationStatus.IN_FORCE:
            if award.stars < OCOP_STARS:
                below_three += 1
                continue
            rated.append((product, award))
            ends = _ends_on(award.valid_until)
            days_left = (ends - at).days
            if days_left <= EXPIRY_WINDOWS[-1]:
                shelf.append(_shelf(ShelfState.EXPIRING, product, award, ends, days_left))
        elif award.stars >= OCOP_STARS:
            if state.status is CertificationStatus.REVOKED and state.revocation is not None:
                revoked += 1
                ends = _ends_on(state.revocation.effective_at)
                shelf.append(_shelf(ShelfState.REVOKED, product, award, ends, (ends - at).days))
            elif state.status is CertificationStatus.EXPIRED:
                expired += 1
                ends = _ends_on(award.valid_until)
                shelf.append(_shelf(ShelfState.EXPIRED, product, award, ends, (ends - at).days))
    owners = {product.producer_id: product.producer_kind for product, _ in rated}
    kinds = Counter(owners.values())
    percent = round(100 * len(rated) / len(registered), 1) if registered else None
    return Figures(
        at=at,
        place=place,
        registered=len(registered),
        rated=len(rated),
        rated_percent=percent,
        target_percent=target,
        target_met=percent is not None and percent >= target,
        rated_by_stars={str(s): sum(1 for _, a in rated if a.stars == s) for s in (3, 4, 5)},
        below_three=below_three,
        recognised=sum(recognised.values()),
        recognised_by_stars={str(s): recognised[str(s)] for s in (3, 4, 5)},
        rated_by_group=_sorted(Counter(p.product_group for p, _ in rated)),
        rated_by_district=_sorted(Counter(p.district or "—" for p, _ in rated)),
        rated_by_commune=_sorted(Counter(p.commune or "—" for p, _ in rated)),
        districts=len({place_key(p.district) for p, _ in rated if p.district}),
        communes=len({place_key(p.commune) for p, _ in rated if p.commune}),
        producers=len(owners),
        producers_by_kind={kind.value: kinds[kind.value] for kind in ProducerKind},
        producers_registered=len({p.producer_id for p in registered}),
        expiring={
            str(days): sum(
                1 for i in shelf if i.state is ShelfState.EXPIRING and i.days_left <= days
            )
            for days in EXPIRY_WINDOWS
        },
        expired=expired,
        revoked=revoked,
        shelf=sorted(shelf, key=lambda i: (i.ends_on, i.product_name, i.certificate_no)),
        activity=[
            Activity(day=d.day, alerts=d.alerts, cases=d.cases, scans=d.scans, capped=d.capped)
            for d in sorted(activity, key=lambda d: d.day)
        ],
    )


def _ends_on(moment: datetime) -> date:
    """The first day (Vietnam) on which something that ends at `moment` is no longer in force
    all day: a certificate valid until midnight of a day has ended on that day."""
    local = moment.astimezone(VIETNAM_TIME)
    return local.date() if local.time() == time() else local.date() + timedelta(days=1)


def _shelf(
    state: ShelfState, product: ProductFacts, award: StarCertification, ends: date, days: int
) -> ShelfItem:
    return ShelfItem(
        state=state,
        product_key=product.product_key,
        product_name=product.name,
        producer_id=product.producer_id,
        producer_name=product.producer_name,
        district=product.district,
        commune=product.commune,
        stars=award.stars,
        certificate_no=award.certificate_no,
        ends_on=ends,
        days_left=days,
    )


# -- reading ------------------------------------------------------------------------------------


class Sources:
    """What the dashboard reads (the records' readers, or fakes in tests)."""

    def __init__(
        self,
        registry: RegistryReader,
        certifications: Callable[[str], Awaitable[list[StoredCertification]]],
        alerts_on: Callable[[str, date, int], Awaitable[Sequence[Any]]],
        cases_on: Callable[[str, date, int], Awaitable[Sequence[Any]]],
        scans_by_day: Callable[[str, date, date], Awaitable[Mapping[date, int]]],
    ) -> None:
        self.registry = registry
        self.certifications = certifications
        self.alerts_on = alerts_on
        self.cases_on = cases_on
        self.scans_by_day = scans_by_day


async def area_rows(registry: RegistryReader, place: Place) -> list[RegistryRow]:
    """The registry's rows of the area's provinces: one query on the province index (each row
    holds its province as registered and where that is now, so asking for the current name
    finds the former provinces' rows too), paged; the rows of other provinces it also finds
    (Thái Bình's, asking for Hưng Yên before the reform) are left out by `figures`."""
    keys = {place_key(p) for p in place.provinces}
    key = place_key(place.province) if len(keys) > 1 else next(iter(keys))
    rows: list[RegistryRow] = []
    after: str | None = None
    while True:
        query = RegistryQuery(province=key, after=after, limit=PAGE)
        page = await registry.search(query, utc_now())  # "now" shapes status terms only
        rows += page.rows
        if page.after is None:
            return rows
        after = page.after


async def _bounded(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def read_activity(
    sources: Sources, place: Place, at: date, days: int = ACTIVITY_DAYS
) -> list[DayCounts]:
    """Alerts, cases and scans in the area's provinces on each of `days` days up to `at`."""
    first = at - timedelta(days=days - 1)
    span = [first + timedelta(days=n) for n in range(days)]
    provinces = place.provinces

    def reads(province: str, day: date) -> list[Callable[[], Awaitable[Any]]]:
        return [
            lambda: sources.alerts_on(province, day, DAY_LIMIT),
            lambda: sources.cases_on(province, day, DAY_LIMIT),
        ]

    calls = [call for p in provinces for d in span for call in reads(p, d)]
    found = await _bounded(calls, CONCURRENCY)
    scans = await asyncio.gather(*(sources.scans_by_day(p, first, at) for p in provinces))
    counts = {day: DayCounts(day) for day in span}
    index = 0
    for province_scans in scans:
        for day, n in province_scans.items():
            if day in counts:
                old = counts[day]
                counts[day] = DayCounts(day, old.alerts, old.cases, old.scans + n, old.capped)
    for _province in provinces:
        for day in span:
            alerts, cases = found[index], found[index + 1]
            index += 2
            old = counts[day]
            counts[day] = DayCounts(
                day,
                old.alerts + len(alerts),
                old.cases + len(cases),
                old.scans,
                old.capped or len(alerts) >= DAY_LIMIT or len(cases) >= DAY_LIMIT,
            )
    return [counts[day] for day in span]


async def read_dashboard(
    sources: Sources,
    place: Place,
    at: date,
    *,
    days: int = ACTIVITY_DAYS,
    target_percent: int | None = None,
) -> Figures:
    """The place's figures on `at`, read from the records (see the module's docstring)."""
    rows = await area_rows(sources.registry, place)
    wanted = [row for row in rows if _in_area(_bare(row), place)]
    stored = await _bounded(
        [functools.partial(sources.certifications, row.product_key) for row in wanted],
        CONCURRENCY,
    )
    products = [facts_of(row, certs) for row, certs in zip(wanted, stored, strict=True)]
    activity = await read_activity(sources, place, at, days)
    return figures(place, at, products, activity, target_percent)


def _bare(row: RegistryRow) -> ProductFacts:
    return facts_of(row, ())
