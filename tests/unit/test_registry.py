"""The public registry without servers: folding of search terms (diacritics, đ/d, case),
places and the 2025 reform, EAN-13 to GTIN-14, the logo rule (Decision 1162), query parsing
and its bilingual refusals, the row's rating and status against the search's CQL, and the
routes over a registry held in memory (tests/integration/test_registry.py runs them on the
real stack)."""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from contract import search
from contract.certification import CertificationStatus, ProductGroup, certification_state
from contract.label import vietnam_date
from contract.logo import LogoReason, logo_for, may_print_logo
from contract.search import RegistryQuery, RegistryStatus, SearchTermError, parse_query
from keys import certs
from keys.certs import add_months, utc_now
from records.registry import (
    FAR,
    STATUS_CONDITIONS,
    RegistryBatch,
    RegistryPage,
    RegistryRow,
    rating_columns,
    search_statement,
    status_at,
)
from tests.unit.test_api_http import BROWSER, JSON, Api
from tests.unit.test_api_resolution import stored
from tests.world import GTIN, PRODUCER, PRODUCT, World
from verify_api import views
from verify_api.guards import page_style_sources
from verify_api.routes.registry import WORDS

with warnings.catch_warnings():  # as in test_api_http: httpx works for Starlette's client
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
MIGRATION = Path(__file__).resolve().parents[2] / "infra" / "migrations" / "0008_registry.cql"


# -- folding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Mắm cáy Hồng Tiến", "mam cay hong tien"),
        ("MẮM CÁY HỒNG TIẾN", "mam cay hong tien"),
        ("Bánh đa sợi Quỳnh Phụ", "banh da soi quynh phu"),
        ("ĐẬU PHỤ ĐÔNG HƯNG", "dau phu dong hung"),
        ("Nước mắm Cửa Hội", "nuoc mam cua hoi"),
        ("Gạo TBR39", "gao tbr39"),
    ],
)
def test_folding_drops_diacritics_and_case_and_maps_d_stroke(text, folded):
    assert search.fold(text) == folded
    decomposed = unicodedata.normalize("NFD", text)  # as some keyboards send it
    assert search.fold(decomposed) == folded


def test_words_are_the_distinct_folded_words_of_every_text():
    assert search.words("Mắm cáy Hồng Tiến", "Hong Tien crab paste") == [
        "mam", "cay", "hong", "tien", "crab", "paste",
    ]  # fmt: skip
    assert search.words("Bánh đa - bánh đa!") == ["banh", "da"]
    assert search.words(None, "") == []


def test_a_place_is_found_without_its_administrative_word():
    assert search.place_key("Tỉnh Thái Bình") == search.place_key("thai  binh") == "thai binh"
    assert search.place_key("Xã Hồng Tiến") == "hong tien"
    assert search.place_key("TP. Hồ Chí Minh") == search.place_key("Thành phố Hồ Chí Minh")
    assert search.place_key("Phường Đông Hưng") == "dong hung"


def test_a_former_province_is_found_under_the_province_it_is_in_since_2025():
    assert search.current_province("Thái Bình") == "Hưng Yên"
    assert search.current_province("tinh quang nam") == "Đà Nẵng"
    assert search.current_province("Hà Nội") is None  # unchanged
    assert search.current_province("Hưng Yên") is None  # itself the current one
    assert search.province_keys("Thái Bình") == {"thai binh", "hung yen"}
    assert search.province_keys("Lai Châu") == {"lai chau"}


def test_certificate_numbers_match_without_case_or_spaces():
    assert search.certificate_key("123/GCN-UBND") == search.certificate_key(" 123 / gcn-ubnd ")


# -- GTINs ----------------------------------------------------------------------------------------


def test_an_ean13_scanned_from_a_pack_reads_as_its_gtin14():
    ean13 = GTIN.lstrip("0")
    assert len(ean13) == 13
    assert search.parse_gtin(ean13) == GTIN
    assert search.parse_gtin(GTIN) == GTIN
    assert parse_query({"q": ean13}).gtin == GTIN  # a scanner typing into the search box
    assert parse_query({"q": "893 1234567897"}).gtin == GTIN
    assert parse_query({"q": "8931234567898"}).name_words == ("8931234567898",)  # not one
    assert parse_query({"gtin": ean13}).gtin == GTIN


@pytest.mark.parametrize(
    "bad", ["8931234567898", "123", "89312345678971", "abcdefghijklm", "", " 8931234567897"]
)
def test_a_bad_gtin_is_refused_in_both_languages(bad):
    with pytest.raises(SearchTermError) as refused:
        parse_query({"gtin": bad})
    error = refused.value
    assert error.parameter == "gtin"
    assert "mã vạch" in error.vi
    assert "barcode" in error.en
    assert not error.token


# -- the logo (Decision 1162/QĐ-VPĐP-OCOP) ---------------------------------------------------


def _award(world: World, stars: int, score: str, valid_from: datetime, **extra: Any) -> Any:
    return world.award(stars=stars, score=score, valid_from=valid_from, **extra).body


def _state(world: World, *awards: Any, revoked: Any = None, at: datetime = NOW) -> Any:
    revocations = {}
    if revoked is not None:
        revocation = certs.revoke_certification(
            world.provincial, revoked, decision_no="47/QĐ-UBND", reason="không đạt",
            effective_at=at - timedelta(days=3), now=at - timedelta(days=3),
        )  # fmt: skip
        revocations[revoked.certificate_no] = revocation.body
    return certification_state(list(awards), revocations, at)


def test_the_logo_may_be_printed_on_a_4_star_product_in_force(world: World):
    award = _award(world, 4, "78.5", NOW - timedelta(days=200))
    answer = logo_for(_state(world, award))
    assert (answer.allowed, answer.reason) == (True, LogoReason.IN_FORCE)
    assert "Được in logo OCOP" in answer.vi
    assert "4 sao" in answer.vi
    assert "may be printed" in answer.en
    assert award.valid_until.strftime("%d/%m/%Y") in answer.vi


def test_the_logo_may_not_be_printed_once_the_recognition_expired_yesterday(world: World):
    yesterday = NOW - timedelta(days=1)
    award = _award(world, 4, "78.5", add_months(yesterday, -36))
    assert award.valid_until == yesterday
    answer = logo_for(_state(world, award))
    assert (answer.allowed, answer.reason) == (False, LogoReason.EXPIRED)
    assert yesterday.strftime("%d/%m/%Y") in answer.vi
    assert "1162" in answer.vi
    assert "1162" in answer.en
    # a day earlier it was still allowed
    assert logo_for(_state(world, award, at=yesterday - timedelta(hours=1))).allowed


def test_the_logo_may_not_be_printed_on_a_revoked_product(world: World):
    award = _award(world, 4, "78.5", NOW - timedelta(days=200))
    answer = logo_for(_state(world, award, revoked=award))
    assert (answer.allowed, answer.reason) == (False, LogoReason.REVOKED)
    assert "thu hồi" in answer.vi
    assert "revoked" in answer.en


def test_the_logo_may_not_be_printed_on_a_product_rated_2_stars(world: World):
    award = _award(world, 2, "45", NOW - timedelta(days=30))
    state = _state(world, award)
    assert state.status is CertificationStatus.IN_FORCE  # rated, in force, but below 3★
    answer = logo_for(state)
    assert (answer.allowed, answer.reason) == (False, LogoReason.BELOW_THREE_STARS)
    assert "2 sao" in answer.vi
    assert "3 stars" in answer.en


def test_the_logo_may_not_be_printed_on_a_product_never_certified(world: World):
    answer = logo_for(_state(world))
    assert (answer.allowed, answer.reason) == (False, LogoReason.NEVER_CERTIFIED)
    assert answer == may_print_logo(CertificationStatus.NONE, 0)
    assert answer.vi != answer.en


def test_nor_before_a_recognition_starts(world: World):
    award = _award(world, 3, "55", NOW + timedelta(days=10))
    answer = logo_for(_state(world, award))
    assert (answer.allowed, answer.reason) == (False, LogoReason.NOT_YET_VALID)


# -- query parsing ------------------------------------------------------------------------------


def test_a_query_is_folded_and_normalised():
    query = parse_query(
        {"q": "Mắm Cáy", "producer": "HTX Hồng Tiến", "commune": "Xã Hồng Tiến",
         "province": "Tỉnh Thái Bình", "stars": "4", "group": "food", "status": "expiring",
         "certificate": "123/gcn-ubnd", "limit": "5", "lang": "en"}
    )  # fmt: skip
    assert query == RegistryQuery(
        name_words=("mam", "cay"), producer_words=("htx", "hong", "tien"), commune="hong tien",
        province="thai binh", stars=4, group=ProductGroup.FOOD, status=RegistryStatus.EXPIRING,
        certificate="123/gcn-ubnd", limit=5,
    )  # fmt: skip
    assert parse_query({}).empty
    assert parse_query({"q": "", "producer": "", "lang": "en"}).empty  # empty text is absent
    assert not parse_query({"status": "revoked"}).empty


@pytest.mark.parametrize(
    "params", [{"q": "!!! ???"}, {"q": "   "}, {"producer": "--"}, {"province": "--"},
               {"certificate": "  "}, {"commune": "..", "q": "mam"},
               {"status": "none", "stars": "3"}],  # never certified is 0 stars
)  # fmt: skip
def test_a_term_no_product_can_match_finds_nothing_and_asks_nothing(params):
    query = parse_query(params)
    assert query.nothing
    assert not query.empty


def test_a_page_token_round_trips_and_nothing_else_decodes():
    token = search.encode_page(PRODUCT)
    assert token == f"01-{GTIN}"
    assert parse_query({"q": "mam", "page": token}).after == PRODUCT
    assert search.decode_page(search.encode_page("/p/TB-BANHCAY-01")) == "/p/TB-BANHCAY-01"
    for bad in ("!!!", "a" * 200, search.encode_page("/01/123"), "L3AvVEI", token + "\n", ""):
        with pytest.raises(SearchTermError) as refused:
            parse_query({"q": "mam", "page": bad})
        assert refused.value.token  # a 400, not a 422
        assert "next_page" in refused.value.en


@pytest.mark.parametrize(
    ("params", "parameter", "english"),
    [
        ({"q": "x" * 101}, "q", "at most 100 characters"),
        ({"producer": "y" * 101}, "producer", "at most 100 characters"),
        ({"q": "mam\ncay"}, "q", "control characters"),
        ({"commune": "Xã\tA"}, "commune", "control characters"),
        ({"status": "valid"}, "status", "must be one of: in_force, expiring"),
        ({"group": "snacks"}, "group", "must be one of: food"),
        ({"stars": "9"}, "stars", "from 1 to 5"),
        ({"stars": "four"}, "stars", "from 1 to 5"),
        ({"stars": "٤"}, "stars", "from 1 to 5"),  # a digit, but not an ASCII one
        ({"stars": "04"}, "stars", "from 1 to 5"),  # as strict as its pattern
        ({"stars": ""}, "stars", "from 1 to 5"),
        ({"status": ""}, "status", "must be one of"),
        ({"limit": "07"}, "limit", "from 1 to 50"),
        ({"limit": "0"}, "limit", "from 1 to 50"),
        ({"limit": "51"}, "limit", "from 1 to 50"),
        ({"province": "p" * 65}, "province", "at most 64 characters"),
        ({"certificate": "9" * 65}, "certificate", "at most 64 characters"),
    ],
)
def test_a_term_that_cannot_be_searched_is_refused_saying_why_in_both_languages(
    params, parameter, english
):
    with pytest.raises(SearchTermError) as refused:
        parse_query(params)
    error = refused.value
    assert error.parameter == parameter
    assert english in error.en
    assert error.vi
    assert error.vi != error.en
    assert error.sentence() == f"{parameter}: {error.vi} / {error.en}"


# -- the row: its rating, its status, and the search's CQL -------------------------------------


def test_the_latest_certification_decides_and_a_renewal_ahead_of_its_start_keeps_coverage(
    world: World,
):
    first = world.award(stars=3, score="55", number="1/GCN", valid_from=NOW - timedelta(days=900))
    renewal = world.award(
        stars=4, score="75", number="2/GCN", valid_from=first.body.valid_until,
        issued_at=NOW - timedelta(days=5),
    )  # fmt: skip
    columns = rating_columns([stored(first), stored(renewal)], PRODUCER)
    assert (columns.stars, columns.certificate_no) == (4, "2/GCN")
    assert columns.valid_from == first.body.valid_from  # in force meanwhile, under the first
    assert columns.valid_until == renewal.body.valid_until
    assert columns.revoked_at == FAR
    assert columns.certificates == {"1/gcn", "2/gcn"}
    assert status_at(4, columns.valid_from, columns.valid_until, FAR, NOW) is (
        CertificationStatus.IN_FORCE
    )
    other = world.award(stars=5, score="95", number="3/GCN", valid_from=NOW)
    assert rating_columns([replace(stored(other))], "SOMEONE-ELSE").stars == 0
    never = rating_columns([], PRODUCER)
    assert (never.stars, never.valid_from, never.valid_until, never.revoked_at) == (
        0, FAR, FAR, FAR,
    )  # fmt: skip


_CONDITION = re.compile(r"(\w+) (<=|>=|<|>|=) (\?|\d+)")


def _holds(conditions: tuple[tuple[str, str | None], ...], row: dict[str, Any]) -> bool:
    """STATUS_CONDITIONS evaluated as Cassandra would, on one row."""
    moments = {"now": NOW, "soon": NOW + search.EXPIRING_WITHIN}
    for condition, moment in conditions:
        column, op, value = _CONDITION.fullmatch(condition).groups()  # type: ignore[union-attr]
        bound = moments[moment] if value == "?" and moment else int(value)
        have = row[column]
        ok = {"<=": have <= bound, ">=": have >= bound, "<": have < bound, ">": have > bound,
              "=": have == bound}[op]  # fmt: skip
        if not ok:
            return False
    return True


_DAY = timedelta(days=1)
_ROWS = {
    "never certified": (0, FAR, FAR, FAR),
    "in force": (4, NOW - 300 * _DAY, NOW + 400 * _DAY, FAR),
    "expiring": (3, NOW - 900 * _DAY, NOW + 30 * _DAY, FAR),
    "expired yesterday": (4, NOW - 1000 * _DAY, NOW - _DAY, FAR),
    "revoked": (4, NOW - 300 * _DAY, NOW + 400 * _DAY, NOW - 3 * _DAY),
    "revoked, then expired": (4, NOW - 1000 * _DAY, NOW - _DAY, NOW - 30 * _DAY),
    "revoked from next week": (4, NOW - 300 * _DAY, NOW + 400 * _DAY, NOW + 7 * _DAY),
    "not yet valid": (3, NOW + 10 * _DAY, NOW + 1000 * _DAY, FAR),
    "rated 2 stars": (2, NOW - 30 * _DAY, NOW + 1000 * _DAY, FAR),
}
_EXPECTED = {
    RegistryStatus.NONE: CertificationStatus.NONE,
    RegistryStatus.REVOKED: CertificationStatus.REVOKED,
    RegistryStatus.IN_FORCE: CertificationStatus.IN_FORCE,
    RegistryStatus.EXPIRED: CertificationStatus.EXPIRED,
}


@pytest.mark.parametrize("name", list(_ROWS))
def test_a_rows_status_and_the_searchs_conditions_agree(name):
    stars, valid_from, valid_until, revoked_at = _ROWS[name]
    row = {"stars": stars, "valid_from": valid_from, "valid_until": valid_until,
           "revoked_at": revoked_at}  # fmt: skip
    status = status_at(stars, valid_from, valid_until, revoked_at, NOW)
    for searched, conditions in STATUS_CONDITIONS.items():
        if searched is RegistryStatus.EXPIRING:
            expected = status is CertificationStatus.IN_FORCE and valid_until <= NOW + 90 * _DAY
        else:
            expected = status is _EXPECTED[searched]
        assert _holds(conditions, row) == expected, (name, searched)


def _indexed_columns() -> set[str]:
    text = MIGRATION.read_text()
    return set(re.findall(r"ON registry_products \((?:values\()?(\w+)\)?\)", text))


def test_every_search_restricts_only_the_key_and_indexed_columns_and_never_filters():
    indexed = _indexed_columns()
    assert {"name_words", "certificates", "province_keys", "revoked_at"} <= indexed
    everything = parse_query(
        {"q": "mam cay", "producer": "hong tien", "certificate": "1/GCN", "commune": "Xã A",
         "province": "Thái Bình", "stars": "4", "group": "food", "status": "expiring",
         "page": search.encode_page(PRODUCT)}
    )  # fmt: skip
    queries = [everything, parse_query({"gtin": GTIN, "status": "revoked"})]
    queries += [parse_query({"status": status.value}) for status in RegistryStatus]
    for query in queries:
        cql, params = search_statement(query, NOW)
        assert "ALLOW FILTERING" not in cql
        where = cql.split(" WHERE ", 1)[1].rsplit(" LIMIT ", 1)[0]
        for condition in where.split(" AND "):
            column = re.split(r"[ )]", condition.removeprefix("token("), maxsplit=1)[0]
            assert column in indexed | {"product_key"}, condition
        assert cql.count("?") == len(params)
        assert params[-1] == query.limit + 1  # one more than a page: is there a next?


def test_an_empty_query_is_never_sent():
    import asyncio

    from records.registry import RegistryReader

    reader = RegistryReader.__new__(RegistryReader)  # no session: it must refuse first
    with pytest.raises(ValueError, match="at least one term"):
        asyncio.run(reader.search(RegistryQuery(), NOW))


# -- the routes, over a registry held in memory ------------------------------------------------


def _row(world: World, **changes: Any) -> RegistryRow:
    award = world.certifications[0].body
    row = RegistryRow(
        product_key=PRODUCT, gtin=GTIN, name="Mắm cáy Hồng Tiến",
        name_en="Hong Tien crab paste", product_group="food", description=None,
        producer_id=PRODUCER, authority_id="VN-34", registered_at=NOW - 400 * _DAY,
        producer_name="HTX Hồng Tiến", producer_kind="cooperative", address="Thôn Hồng Tiến",
        commune="Xã Hồng Tiến", district="Huyện Kiến Xương", province="Thái Bình",
        stars=award.stars, certificate_no=award.certificate_no, level="provincial",
        valid_from=award.valid_from, valid_until=award.valid_until, revoked_at=FAR,
    )  # fmt: skip
    return replace(row, **changes)


class HeldRegistry:
    """records.registry.RegistryReader's two reads, from a list."""

    def __init__(self, rows: list[RegistryRow]) -> None:
        self.rows = rows
        self.queries: list[RegistryQuery] = []
        self.batch_rows: dict[str, list[RegistryBatch]] = {}

    async def product(self, product_key: str) -> RegistryRow | None:
        return next((row for row in self.rows if row.product_key == product_key), None)

    async def batches(self, product_key: str) -> list[RegistryBatch]:
        return self.batch_rows.get(product_key, [])

    async def search(self, query: RegistryQuery, now: datetime) -> RegistryPage:
        self.queries.append(query)
        keys = [row.product_key for row in self.rows]
        start = keys.index(query.after) + 1 if query.after else 0
        page = self.rows[start : start + query.limit]
        more = start + query.limit < len(self.rows)
        return RegistryPage(page, page[-1].product_key if more else None)


@pytest.fixture
def registry(world: World) -> Any:
    api = Api(world)
    rows = [_row(world), _row(world, product_key="/p/TB-GAO-03", gtin=None, name="Gạo TBR39",
                                 name_en=None, stars=0, certificate_no=None, valid_from=FAR,
                                 valid_until=FAR)]  # fmt: skip
    held = HeldRegistry(rows)
    with TestClient(api.app, base_url="http://testserver") as client:
        api.app.state.registry_reader = held
        yield client, held


def test_a_search_answers_json_with_each_products_logo_and_pages_on(registry):
    client, held = registry
    response = client.get("/registry/products?q=mam&limit=1", headers=JSON)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["count"] == 1
    (item,) = body["items"]
    assert (item["product_key"], item["status"], item["stars"]) == (PRODUCT, "in_force", 4)
    assert item["logo"]["allowed"] is True
    assert item["province_now"] == "Hưng Yên"
    assert item["link"] == f"/registry/products/01/{GTIN}"
    assert held.queries[-1].name_words == ("mam",)
    following = client.get(body["next"], headers=JSON).json()
    assert [i["product_key"] for i in following["items"]] == ["/p/TB-GAO-03"]
    assert following["items"][0]["logo"]["reason"] == "never_certified"
    assert following["next_page"] is None


def test_a_search_page_for_a_browser_uses_only_the_pages_own_style(registry):
    client, _ = registry
    response = client.get("/registry/products?province=Hưng Yên", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Mắm cáy Hồng Tiến" in page
    assert "Được in logo OCOP" in page
    assert "<script" not in page
    assert " style=" not in page
    policy = response.headers["content-security-policy"]
    assert f"style-src {page_style_sources()}" in policy
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert page_style_sources() == views_hash(style)
    english = client.get("/registry/products?province=Hưng Yên&lang=en", headers=BROWSER).text
    assert "The OCOP logo may be printed" in english


def test_the_search_page_has_a_search_form_that_may_only_ask_this_api(registry):
    client, _ = registry
    response = client.get("/registry/products?q=mam cay", headers=BROWSER)
    form = re.search(r'<form method="get" action="/registry/products"[^>]*>(.*?)</form>',
                     response.text, re.DOTALL)  # fmt: skip
    assert form is not None
    assert 'name="q"' in form.group(1)
    assert 'value="mam cay"' in form.group(1)  # the page's own query, to refine
    assert "form-action 'self'" in response.headers["content-security-policy"]


def views_hash(style: str) -> str:
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def test_a_product_page_says_whether_the_logo_may_be_printed_today(registry):
    client, _ = registry
    ean13 = GTIN.lstrip("0")
    assert client.get(f"/registry/products/01/{ean13}", headers=JSON).status_code == 400
    body = client.get(f"/registry/products/01/{GTIN}", headers=JSON).json()
    assert (body["status"], body["stars"], body["logo"]["reason"]) == ("in_force", 4, "in_force")
    assert body["product"]["name"] == "Mắm cáy Hồng Tiến"
    assert body["producer"]["commune"] == "Xã Hồng Tiến"
    assert body["certifications"][0]["certificate"]["certificate_no"] == "123/GCN-UBND"
    assert [event["change"] for event in body["history"]] == ["awarded"]
    page = client.get(f"/registry/products/01/{GTIN}", headers=BROWSER)
    assert page.status_code == 200
    assert 'data-reason="in_force"' in page.text
    assert "nay thuộc Hưng Yên" in page.text
    never = client.get("/registry/products/p/TB-GAO-03", headers=JSON).json()
    assert (never["status"], never["logo"]["reason"]) == ("none", "never_certified")
    assert "chưa được công nhận" in client.get("/registry/products/p/TB-GAO-03").text
    assert (body["in_circulation"], body["recalls"]) == ([], [])
    assert "Không có lô nào đang lưu hành." in page.text


def test_a_product_page_lists_batches_on_shelves_today_and_recalls(registry):
    client, held = registry
    today = vietnam_date(utc_now())

    def batch(lot: str, expiry: date, *, units: int = 10, recalled: bool = False) -> RegistryBatch:
        return RegistryBatch(
            batch_id=f"{PRODUCT}/{lot}", lot=lot, production_date=date(2025, 3, 9),
            expiry_date=expiry, units_packed=units, status="recalled" if recalled else "shipped",
            recalled_at=utc_now() if recalled else None,
            recall_reason="nhiễm khuẩn" if recalled else None,
        )  # fmt: skip

    held.batch_rows[PRODUCT] = [
        batch("LAST-DAY", today),  # on a shelf until the end of its expiry date
        batch("EXPIRED", today - timedelta(days=1)),
        batch("EMPTY", today, units=0),  # opened, nothing packed yet
        batch("RECALLED", today + timedelta(days=90), recalled=True),
    ]
    body = client.get(f"/registry/products/01/{GTIN}", headers=JSON).json()
    assert [b["lot"] for b in body["in_circulation"]] == ["LAST-DAY"]
    assert [(b["lot"], b["recall_reason"]) for b in body["recalls"]] == [
        ("RECALLED", "nhiễm khuẩn")
    ]
    page = client.get(f"/registry/products/01/{GTIN}?lang=en", headers=BROWSER).text
    assert "Lot LAST-DAY: made 09/03/2025" in page
    assert "Lot RECALLED (made 09/03/2025) recalled on" in page


@pytest.mark.parametrize(
    ("path", "status", "code", "words"),
    [
        ("/registry/products?gtin=8931234567898", 422, "invalid_request", ("mã vạch", "barcode")),
        ("/registry/products?status=valid", 422, "invalid_request", ("một trong", "one of")),
        ("/registry/products?stars=9", 422, "invalid_request", ("số nguyên", "whole number")),
        ("/registry/products?q=" + "x" * 101, 422, "invalid_request", ("ký tự", "characters")),
        ("/registry/products?q=mam&page=garbage!", 400, "bad_request", ("mã trang", "token")),
        ("/registry/products?q=mam&page=", 400, "bad_request", ("mã trang", "token")),
        ("/registry/products?limit=51", 422, "invalid_request", ("số nguyên", "whole number")),
        ("/registry/products/01/123", 400, "bad_request", ("không hợp lệ", "GTIN")),
        ("/registry/products/p/x", 400, "bad_request", ("không hợp lệ", "not a product key")),
        ("/registry/products/p/NOT-THERE", 404, "unknown_product", ("sổ đăng ký", "registry")),
    ],
)
def test_bad_input_is_refused_in_the_error_format_in_both_languages(
    registry, path, status, code, words
):
    client, held = registry
    asked = len(held.queries)
    response = client.get(path, headers=JSON)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code
    for word in words:
        assert word in body["detail"]
    assert len(held.queries) == asked  # nothing bad reached the registry


def test_no_term_or_one_without_letters_finds_nothing_without_asking_cassandra(registry):
    client, held = registry
    response = client.get("/registry/products", headers=BROWSER)
    assert response.status_code == 200
    assert "Sổ đăng ký sản phẩm OCOP" in response.text
    for path in ("/registry/products", "/registry/products?q=!!!&status=in_force"):
        body = client.get(path, headers=JSON).json()
        assert (body["count"], body["items"], body["next_page"]) == (0, [], None)
    assert held.queries == []


def test_the_pages_words_are_in_both_languages():
    assert WORDS[search_lang("vi")].keys() == WORDS[search_lang("en")].keys()


def search_lang(code: str) -> Any:
    from contract.verdict import Lang

    return Lang(code)


def test_an_item_of_an_expired_product_says_so_from_the_row_alone(world: World):
    row = _row(world, valid_until=utc_now() - _DAY)
    item = views.registry_item_out(row, utc_now())
    assert (item.status, item.logo.reason, item.logo.allowed) == ("expired", "expired", False)
