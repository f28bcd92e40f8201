"""The office's dashboard figures (backoffice.dashboard) from demo.province's events folded in
memory: the news items' figures at 2023-11-30, the province then and now, the expiry windows,
registered versus rated versus the target; the CSV and JSON shapes; the charts fit the
workspace's policy; the page shows the figures; bad input is refused in both languages."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from backoffice import dashboard
from backoffice.dashboard import DayCounts, PlaceError, ProductFacts, figures, place_of
from backoffice.i18n import STRINGS
from backoffice.office_routes import CHARTS_CSS, WORDS, BadQuery, _charts, chart_svg, parse_day
from backoffice.pages import render
from contract.certification import CertificationRevocation
from contract.events import ProducerRegistered, ProductRegistered
from contract.verdict import Lang
from demo import province_load
from demo.province import province_events
from keys.signing import SigningKey

EVENTS = province_events()
NEWS_DAY = date(2023, 11, 30)


def _products() -> list[ProductFacts]:
    producers = {e.producer_id: e for e in EVENTS if isinstance(e, ProducerRegistered)}
    awards = province_load.recognitions(EVENTS)
    products = []
    for e in EVENTS:
        if isinstance(e, ProductRegistered):
            p = producers[e.producer_id]
            products.append(
                ProductFacts(
                    e.product_key, e.name, e.product_group.value, p.producer_id, p.name,
                    p.kind.value, p.commune, p.district, p.province, e.occurred_at,
                    (awards[e.product_key],),
                )
            )  # fmt: skip
    return products


PRODUCTS = _products()


def test_thai_binh_in_november_2023_is_the_news_item() -> None:
    f = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, PRODUCTS)
    assert f.place.provinces == ("Thái Bình",)
    assert (f.rated, f.rated_by_stars) == (138, {"3": 90, "4": 48, "5": 0})
    assert f.producers == 91
    assert f.producers_by_kind == {
        "enterprise": 32, "cooperative": 36, "cooperative_group": 0, "household": 23,
    }  # fmt: skip
    assert f.districts == 8
    assert (f.registered, f.rated_percent, f.target_percent, f.target_met) == (138, 100.0, 80, True)
    assert f.recognised == 138
    assert sum(f.rated_by_district.values()) == 138 == sum(f.rated_by_group.values())


def test_thang_binh_counts_31_recognised_and_their_expiry() -> None:
    place = place_of("quang nam", NEWS_DAY, district="Huyện Thăng Bình")
    f = figures(place, NEWS_DAY, PRODUCTS)
    # "31 products since 2018, 4 at 4★ and 27 at 3★": recognitions up to the date
    assert (f.recognised, f.recognised_by_stars) == (31, {"3": 27, "4": 4, "5": 0})
    # the 2019 session's six have expired after 36 months (16/12/2022); 25 are in force
    assert (f.rated, f.rated_by_stars, f.expired) == (25, {"3": 22, "4": 3, "5": 0}, 6)
    assert f.districts == 1
    assert (f.registered, f.target_percent) == (31, 70)
    assert f.rated_percent == round(100 * 25 / 31, 1)
    assert f.target_met
    expired = [i for i in f.shelf if i.state.value == "expired"]
    assert len(expired) == 6
    assert {i.ends_on for i in expired} == {date(2022, 12, 16)}
    assert all(i.days_left == (date(2022, 12, 16) - NEWS_DAY).days for i in expired)


def test_expiry_windows_count_what_ends_within_30_90_180_days() -> None:
    # Thái Bình's 2020-12-18 recognition (mắm cáy Hồng Tiến) ends on 2023-12-18: 18 days on
    f = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, PRODUCTS)
    assert f.expiring == {"30": 1, "90": 1, "180": 1}
    (item,) = f.shelf
    assert (item.product_name, item.ends_on, item.days_left) == (
        "Mắm cáy Hồng Tiến", date(2023, 12, 18), 18,
    )  # fmt: skip
    # half a year later the 2021-06-15 session (9 products) ends within 30 days of 2024-06-01
    later = figures(place_of("Thái Bình", date(2024, 6, 1)), date(2024, 6, 1), PRODUCTS)
    assert later.expired == 1
    assert later.expiring == {"30": 9, "90": 9, "180": 9}
    assert later.rated == 137
    # on 2024-07-01 those nine have expired too; 2021-12-20's eight end within 180 days
    july = figures(place_of("Thái Bình", date(2024, 7, 1)), date(2024, 7, 1), PRODUCTS)
    assert (july.expired, july.expiring) == (10, {"30": 0, "90": 0, "180": 8})


def test_a_revoked_certificate_is_on_the_shelf_list() -> None:
    product = next(p for p in PRODUCTS if p.province == "Thái Bình")
    award = product.awards[0]
    revocation = CertificationRevocation(
        certificate_no=award.certificate_no, product_key=award.product_key,
        decision_no="47/QĐ-UBND", authority_id=award.authority_id, reason="test",
        issued_at=datetime(2023, 10, 1, tzinfo=UTC), effective_at=datetime(2023, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    revoked = ProductFacts(
        **{**product.__dict__, "revocations": {award.certificate_no: revocation}}
    )
    others = [p for p in PRODUCTS if p.product_key != product.product_key]
    f = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, [revoked, *others])
    assert (f.rated, f.revoked, f.registered) == (137, 1, 138)
    assert [i.certificate_no for i in f.shelf if i.state.value == "revoked"] == [
        award.certificate_no
    ]


def test_registered_counts_products_registered_or_certified_by_the_date() -> None:
    # the day before the 2021-06-15 session: its nine were registered, not yet rated
    f = figures(place_of("Thái Bình", date(2021, 6, 14)), date(2021, 6, 14), PRODUCTS)
    assert (f.rated, f.registered, f.rated_percent, f.target_met) == (1, 10, 10.0, False)
    # recorded later (a registration loaded after the fact) but rated by then: registered
    late = [
        ProductFacts(**{**p.__dict__, "registered_at": datetime(2026, 1, 1, tzinfo=UTC)})
        for p in PRODUCTS
    ]
    g = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, late)
    assert (g.registered, g.rated) == (138, 138)
    assert figures(place_of("Thái Bình", date(2019, 1, 1)), date(2019, 1, 1), late).registered == 0


def test_the_province_then_and_now() -> None:
    then = place_of("Thái Bình", NEWS_DAY)
    assert (then.provinces, then.now_part_of, then.note_en) == (("Thái Bình",), None, "")
    now = place_of("hung yen", date(2026, 1, 5))
    assert now.provinces == ("Hưng Yên", "Thái Bình")
    assert "former Thái Bình" in now.note_en
    assert "Thái Bình" in now.note_vi
    f = figures(now, date(2026, 1, 5), PRODUCTS)
    assert f.registered == 138  # former Thái Bình's products count in Hưng Yên now
    hung_yen_then = figures(place_of("Hưng Yên", NEWS_DAY), NEWS_DAY, PRODUCTS)
    assert hung_yen_then.registered == 0  # Hưng Yên of 2023 did not hold Thái Bình
    former = place_of("Thái Bình", date(2026, 1, 5))
    assert (former.provinces, former.now_part_of) == (("Thái Bình",), "Hưng Yên")
    assert "part of Hưng Yên" in former.note_en
    with pytest.raises(PlaceError) as refused:
        place_of("Atlantis", NEWS_DAY)
    assert refused.value.code == "unknown_province"
    assert "Atlantis" in refused.value.vi
    assert "Atlantis" in refused.value.en


def test_the_dates_asked_are_checked() -> None:
    today = date(2026, 12, 2)
    assert parse_day(None, today) == today
    assert parse_day("2023-11-30", today) == NEWS_DAY
    for text, code in (("30/11/2023", "bad_date"), ("2023-13-01", "bad_date"),
                       ("2027-01-01", "future_date"), ("2017-12-31", "early_date")):  # fmt: skip
        with pytest.raises(BadQuery) as refused:
            parse_day(text, today)
        assert refused.value.code == code
        assert refused.value.vi
        assert refused.value.en
        assert refused.value.vi != refused.value.en


def test_the_csv_and_the_json_carry_the_same_figures() -> None:
    activity = [DayCounts(NEWS_DAY - timedelta(days=1), 2, 1, 40), DayCounts(NEWS_DAY, 0, 0, 7)]
    f = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, PRODUCTS, activity)
    rows = list(csv.reader(io.StringIO(f.csv_text())))
    assert rows[0] == ["section", "key", "value", "detail"]
    table = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert table[("summary", "rated")] == "138"
    assert table[("rated_by_stars", "4")] == "48"
    assert table[("rated_by_stars", "3")] == "90"
    assert table[("producers_by_kind", "enterprise")] == "32"
    assert table[("summary", "districts")] == "8"
    assert table[("expiring", "30")] == "1"
    assert table[("activity", "2023-11-29")] == "2 1 40"
    body = json.loads(f.model_dump_json())
    assert (body["rated"], body["rated_by_stars"]["4"], body["producers"]) == (138, 48, 91)
    assert body["place"]["provinces"] == ["Thái Bình"]
    assert body["activity"][-1] == {"day": "2023-11-30", "alerts": 0, "cases": 0, "scans": 7,
                                    "capped": False}  # fmt: skip
    assert set(body) >= {"registered", "rated_percent", "target_percent", "target_met",
                         "expiring", "expired", "shelf", "producers_by_kind"}  # fmt: skip


def test_charts_carry_no_script_and_no_inline_style() -> None:
    svg = str(chart_svg("bar", "Sao", ["3★", "4★"], [("n", [90, 48])], chart_id="c1"))
    assert svg.startswith("<svg")
    assert 'id="c1"' in svg
    assert 'role="img"' in svg
    for refused in ("<script", "<style", "style=", "javascript:"):
        assert refused not in svg, refused
    assert "90" in svg
    assert "48" in svg
    css = CHARTS_CSS.decode()
    assert "svg.pygal-chart .color-0" in css
    assert "\n{" not in css  # every rule is scoped to the charts


def test_the_page_shows_the_figures_in_both_languages() -> None:
    f = figures(place_of("Thái Bình", NEWS_DAY), NEWS_DAY, PRODUCTS)
    for lang in Lang:
        html = bytes(render("dashboard.html", **_context(lang, f)).body).decode()
        assert 'id="fig-rated" data-value="138"' in html
        assert 'id="fig-stars-4" data-value="48"' in html
        assert 'id="fig-producers" data-value="91"' in html
        assert 'id="fig-districts" data-value="8"' in html
        assert '<tr data-kind="enterprise"><td>' in html
        assert "<script" not in html
        assert "style=" not in html
        assert WORDS[lang]["rated"] in html


def _context(lang: Lang, f: dashboard.Figures) -> dict[str, Any]:
    return {
        "base": "/inspect", "lang": lang, "t": STRINGS[lang],
        "other": Lang.EN if lang is Lang.VI else Lang.VI, "here": "/inspect/office/dashboard",
        "asset": lambda name: f"/inspect/static/{name}", "inspector": None, "csrf": "",
        "province": None, "d": WORDS[lang], "f": f, "values": {"province": "Thái Bình"},
        "problem": None, "charts": _charts(f, WORDS[lang]), "css": "/c.css",
        "json_link": "/j", "csv_link": "/c", "note": "",
    }  # fmt: skip


def test_the_words_have_the_same_keys_in_both_languages() -> None:
    assert set(WORDS[Lang.VI]) == set(WORDS[Lang.EN])


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[SigningKey, Any]] = []

    def event(self, signer: SigningKey, event: Any) -> None:
        self.sent.append((signer, event))

    def flush(self) -> int:
        return len(self.sent)


@pytest.mark.parametrize("named", [True, False])
def test_the_loader_signs_with_each_council_and_registers_the_named_once(named: bool) -> None:
    signers = {"VN-34": SigningKey.generate(), "VN-49": SigningKey.generate()}
    publisher = _Publisher()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    loaded = province_load.load_province(publisher, signers, named=named, now=now)  # type: ignore[arg-type]
    assert loaded.certifications == 138 + 31
    named_products = 5 if named else 0
    assert loaded.products == 138 + 31 - 5 + named_products
    numbers = set()
    for signer, event in publisher.sent:
        assert event.occurred_at == now
        if event.type == "certification_issued":
            body = event.certification.body
            assert signer is signers[body.authority_id]
            assert event.certification.kid == signer.key_id
            numbers.add(body.certificate_no)
    assert ("12/GCN-OCOP" in numbers) is named
    assert ("12/GCN-OCOP/2020" in numbers) is not named
    again = _Publisher()
    province_load.load_province(again, signers, named=named, now=now)  # type: ignore[arg-type]
    assert [e.event_id for _, e in again.sent] == [e.event_id for _, e in publisher.sent]
    with pytest.raises(KeyError):
        province_load.load_province(publisher, {"VN-34": signers["VN-34"]})  # type: ignore[arg-type]


def test_reading_uses_the_province_index_once_and_reads_each_product_once() -> None:
    asyncio.run(_read())


async def _read() -> None:
    from records.registry import RegistryPage

    rows = _rows()
    queries: list[Any] = []

    class Registry:
        async def search(self, query: Any, now: datetime) -> RegistryPage:
            queries.append(query)
            start = (
                0 if query.after is None else [r.product_key for r in rows].index(query.after) + 1
            )
            page = rows[start : start + query.limit]
            more = start + query.limit < len(rows)
            return RegistryPage(page, page[-1].product_key if more else None)

    awards = province_load.recognitions(EVENTS)
    read: list[str] = []

    async def certifications(key: str) -> list[Any]:
        read.append(key)
        return [_Stored(awards[key])]

    async def nothing(*_: Any) -> list[Any]:
        return []

    async def scans(province: str, first: date, last: date) -> dict[date, int]:
        return {last: 5}

    sources = dashboard.Sources(Registry(), certifications, nothing, nothing, scans)  # type: ignore[arg-type]
    f = await dashboard.read_dashboard(sources, place_of("Thái Bình", NEWS_DAY), NEWS_DAY, days=7)
    assert {q.province for q in queries} == {"thai binh"}
    assert len(queries) == -(-len(rows) // dashboard.PAGE)
    thai_binh = [r for r in rows if r.province == "Thái Bình"]
    assert sorted(read) == sorted(r.product_key for r in thai_binh)
    assert (f.rated, f.rated_by_stars["4"], f.producers) == (138, 48, 91)
    assert [a.scans for a in f.activity] == [0] * 6 + [5]


class _Stored:
    def __init__(self, award: Any) -> None:
        self.certification = award
        self.revocation = None


def _rows() -> list[Any]:
    from records.registry import FAR, RegistryRow

    def first(out: list[RegistryRow]) -> bool:
        return len(out) < len(PRODUCTS)

    out: list[RegistryRow] = []
    for p in PRODUCTS * 4:  # more rows than a page: the province query is paged
        out.append(
            RegistryRow(
                product_key=p.product_key if first(out) else f"{p.product_key}-{len(out)}",
                gtin=None, name=p.name, name_en=None, product_group=p.product_group,
                description=None, producer_id=p.producer_id, authority_id="VN-34",
                registered_at=p.registered_at or FAR, producer_name=p.producer_name,
                producer_kind=p.producer_kind, address=None, commune=p.commune,
                district=p.district, province=p.province if first(out) else "Hà Nội",
                stars=0, certificate_no=None, level=None, valid_from=FAR, valid_until=FAR,
                revoked_at=FAR,
            )
        )  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("asked", "at"),
    [("Hưng Yên", date(2026, 11, 30)), ("Thái Bình", date(2023, 11, 30)),
     ("thai binh", date(2026, 11, 30)), ("Hưng Yên", date(2024, 1, 1))],
)  # fmt: skip
def test_an_office_of_hung_yen_sees_its_area_and_former_thai_binh(asked: str, at: date) -> None:
    dashboard.check_reach(place_of(asked, at), "Hưng Yên")


@pytest.mark.parametrize(
    ("asked", "at", "home"),
    [("Hà Nội", date(2026, 11, 30), "Hưng Yên"), ("Quảng Nam", date(2023, 11, 30), "Hưng Yên"),
     ("Huế", date(2024, 1, 1), "Hưng Yên"), ("Hưng Yên", date(2026, 11, 30), "Atlantis")],
)  # fmt: skip
def test_an_office_user_is_refused_another_provinces_figures(asked: str, at: date,
                                                            home: str) -> None:  # fmt: skip
    with pytest.raises(dashboard.OutsideProvince) as refused:
        dashboard.check_reach(place_of(asked, at), home)
    assert (refused.value.code, refused.value.status) == ("outside_province", 403)


def test_an_office_wide_user_sees_any_province() -> None:
    dashboard.check_reach(place_of("Cần Thơ", date(2026, 11, 30)), None)


def test_a_former_provinces_office_sees_the_province_it_is_part_of_now() -> None:
    # an account registered for Thái Bình before the reform answers for Hưng Yên today
    dashboard.check_reach(place_of("Hưng Yên", date(2026, 11, 30)), "Thái Bình")
