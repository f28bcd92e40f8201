"""The public registry on the real stack: authority events signed by the test world go
through real Kafka to the real worker, which writes the registry's rows in Cassandra; the
real `ocop-api` searches them (Storage-Attached Indexes) and answers each product's page.

The shelf: test_api_stack's storefront (mắm cáy Hồng Tiến at 4★ in force, and two
bánh cáy products), one of them revoked here, plus a rice whose recognition expired
yesterday, a bánh đa rated 2★, and a Quảng Nam product never certified whose producer is
registered after it (Kafka gives no order between the two).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from contract import identifiers
from contract.certification import ProductGroup
from contract.events import BatchRecalled, ProducerKind, ProducerRegistered, ProductRegistered
from keys.certs import add_months, utc_now
from tests.integration.pipeline import wait_for
from tests.integration.test_api_stack import (
    DOWNGRADED,
    JSON,
    REVOKED,
    ApiProcess,
    Storefront,
    opened_shop,
)
from tests.world import GTIN, NOW, PRODUCER, PRODUCT

EXPIRED = "/p/TB-GAO-03"
TWO_STARS = "/p/TB-BANHDA-04"
NEVER = "/p/QN-NUOCMAM-05"
QN_PRODUCER = "QN-HKD-BINHTRIEU"
BROWSER = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


def _product(key: str, name: str, producer: str = PRODUCER, **extra: Any) -> ProductRegistered:
    return ProductRegistered(
        event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34", product_key=key,
        producer_id=producer, name=name, product_group=ProductGroup.FOOD, **extra,
    )  # fmt: skip


def _qn_producer(address: str = "Thôn Bình Triều") -> ProducerRegistered:
    return ProducerRegistered(
        event_id=uuid.uuid4(), occurred_at=utc_now(), authority_id="VN-34",
        producer_id=QN_PRODUCER, name="Hộ kinh doanh Bình Triều",
        kind=ProducerKind.HOUSEHOLD, address=address, commune="Xã Bình Triều",
        district="Huyện Thăng Bình", province="Quảng Nam",
    )  # fmt: skip


class Registry:
    """The shelf above, and reads of the API over it."""

    def __init__(self, storefront: Storefront, api: ApiProcess) -> None:
        self.storefront, self.api = storefront, api
        pipeline, w = storefront.pipeline, storefront.world
        storefront.revoke(REVOKED)
        yesterday = utc_now() - timedelta(days=1)
        awards = {
            EXPIRED: w.award(stars=4, score="72", number="31/GCN-UBND", product=EXPIRED,
                             valid_from=add_months(yesterday, -36)),
            TWO_STARS: w.award(stars=2, score="45", number="32/GCN-UBND", product=TWO_STARS,
                               valid_from=utc_now() - timedelta(days=30)),
        }  # fmt: skip
        assert awards[EXPIRED].body.valid_until == yesterday
        pipeline.send_signed("authority", w.provincial, _product(EXPIRED, "Gạo TBR39"))
        pipeline.send_signed("authority", w.provincial, _product(TWO_STARS, "Bánh đa sợi"))
        # the product before its producer: the producer's registration must reach its row
        pipeline.send_signed(
            "authority", w.provincial,
            _product(NEVER, "Nước mắm Bình Triều", QN_PRODUCER, name_en="Binh Trieu fish sauce"),
        )  # fmt: skip
        pipeline.flush()
        for key in (EXPIRED, TWO_STARS, NEVER):
            storefront.wait_for_product(key)
        pipeline.send_signed("authority", w.provincial, _qn_producer())
        for award in awards.values():
            storefront.issue(award)
        for key in awards:
            storefront.wait_for_certifications(key, 1)
        self.wait(NEVER, lambda body: body["producer"] is not None)
        # the authority topic has one partition here: once the last certification is on its
        # row, every event before it is on theirs
        wait_for("the last rating's row", lambda: self.search(certificate="32/GCN-UBND"))

    def client(self) -> httpx.Client:
        return self.api.client()

    def page(self, key: str) -> httpx.Response:
        with self.client() as http:
            return http.get(f"/registry/products{key}", headers=JSON)

    def wait(self, key: str, ready: Any) -> dict[str, Any]:
        def answered() -> dict[str, Any] | None:
            response = self.page(key)
            if response.status_code != 200:
                return None
            body: dict[str, Any] = response.json()
            return body if ready(body) else None

        return wait_for(f"the registry's page of {key}", answered)

    def search(self, **params: str) -> list[str]:
        """Every product key of a search, page after page."""
        keys: list[str] = []
        with self.client() as http:
            response = http.get("/registry/products", params=params, headers=JSON)
            while True:
                assert response.status_code == 200, response.text
                body = response.json()
                keys += [item["product_key"] for item in body["items"]]
                if body["next"] is None:
                    return keys
                response = http.get(body["next"], headers=JSON)


@pytest.fixture(scope="module")
def registry(stack_settings, tmp_path_factory) -> Iterator[Registry]:
    with opened_shop(stack_settings, tmp_path_factory.mktemp("registry")) as (storefront, api):
        yield Registry(storefront, api)


def test_a_search_finds_a_product_with_or_without_diacritics_and_d_for_d_stroke(registry):
    for q in ("mam cay hong tien", "Mắm cáy Hồng Tiến", "MẮM CÁY", "hong tien crab paste"):
        assert registry.search(q=q) == [PRODUCT], q
    assert sorted(registry.search(q="mam")) == sorted([PRODUCT, NEVER])  # every word must match
    for q in ("banh da soi", "bánh đa", "BANH DA"):
        assert registry.search(q=q) == [TWO_STARS], q
    assert registry.search(q="banh dd") == []
    assert sorted(registry.search(q="banh cay")) == sorted([DOWNGRADED, REVOKED])


def test_a_search_by_the_ean13_of_a_packs_barcode_or_by_gtin14(registry):
    ean13 = GTIN.lstrip("0")
    assert registry.search(gtin=ean13) == [PRODUCT]
    assert registry.search(q=ean13) == [PRODUCT]  # a scanner typing into the search box
    assert registry.search(gtin=GTIN) == [PRODUCT]
    assert registry.search(gtin="4006381333931") == []  # a good barcode, not registered
    body = registry.page(f"/01/{GTIN}").json()
    assert (body["product"]["product_key"], body["gtin"]) == (PRODUCT, GTIN)
    assert registry.page(f"/01/{ean13}").status_code == 400  # a page's path is the GTIN-14


def test_a_search_by_certificate_number(registry):
    assert registry.search(certificate="123/GCN-UBND") == [PRODUCT]
    assert registry.search(certificate=" 123/gcn-ubnd ") == [PRODUCT]
    assert registry.search(certificate="31/GCN-UBND") == [EXPIRED]


def test_filters_combine_and_pages_follow_one_another(registry):
    thai_binh = {PRODUCT, DOWNGRADED, REVOKED, EXPIRED, TWO_STARS}
    assert set(registry.search(province="Thái Bình")) == thai_binh
    # Thái Bình is part of Hưng Yên since 1 July 2025
    assert set(registry.search(province="hung yen")) == thai_binh
    assert registry.search(province="Đà Nẵng") == [NEVER]  # Quảng Nam: merged into Đà Nẵng
    assert registry.search(commune="Xã Bình Triều") == [NEVER]
    assert registry.search(producer="ho kinh doanh binh trieu") == [NEVER]
    assert set(registry.search(producer=PRODUCER)) == thai_binh
    assert registry.search(status="revoked") == [REVOKED]
    assert registry.search(status="expired") == [EXPIRED]
    assert registry.search(status="none") == [NEVER]
    assert set(registry.search(status="in_force")) == {PRODUCT, DOWNGRADED, TWO_STARS}
    assert set(registry.search(status="in_force", stars="4")) == {PRODUCT, DOWNGRADED}
    assert registry.search(stars="2", province="Thái Bình") == [TWO_STARS]
    assert registry.search(status="expiring") == []
    assert set(registry.search(group="food", status="in_force", q="banh")) == {
        DOWNGRADED, TWO_STARS,
    }  # fmt: skip
    assert registry.search(group="handicrafts") == []
    assert registry.search() == []  # no term: nothing, the registry is never listed whole
    assert registry.search(q="!!!") == []

    # page by page: two at a time, no product twice, none left out
    paged = registry.search(province="Thái Bình", limit="2")
    assert len(paged) == len(set(paged)) == len(thai_binh)
    assert set(paged) == thai_binh
    with registry.client() as http:
        first = http.get("/registry/products?province=thai+binh&limit=2", headers=JSON).json()
    assert (first["count"], bool(first["next_page"])) == (2, True)


def test_the_logo_answer_today(registry):
    expected = {
        PRODUCT: (True, "in_force", "in_force", 4),
        DOWNGRADED: (True, "in_force", "in_force", 4),
        EXPIRED: (False, "expired", "expired", 4),
        REVOKED: (False, "revoked", "revoked", 4),
        TWO_STARS: (False, "below_three_stars", "in_force", 2),
        NEVER: (False, "never_certified", "none", 0),
    }
    for key, (allowed, reason, status, stars) in expected.items():
        body = registry.page(key).json()
        logo = body["logo"]
        assert (logo["allowed"], logo["reason"], body["status"], body["stars"]) == (
            allowed, reason, status, stars,
        ), key  # fmt: skip
        assert logo["sentence"]["vi"]
        assert logo["sentence"]["en"]
    expired = registry.page(EXPIRED).json()
    assert "1162" in expired["logo"]["sentence"]["en"]
    assert [e["change"] for e in expired["history"]] == ["awarded", "expired"]
    revoked = registry.page(REVOKED).json()
    assert revoked["revocation"]["decision_no"] == "47/QĐ-UBND"
    assert [e["change"] for e in revoked["history"]] == ["awarded", "revoked"]
    # the list says the same from the rows alone
    with registry.client() as http:
        items = http.get("/registry/products?province=Thái Bình", headers=JSON).json()["items"]
    by_key = {item["product_key"]: item["logo"]["reason"] for item in items}
    assert by_key == {key: expected[key][1] for key in by_key}


def test_the_product_page_for_a_browser(registry):
    with registry.client() as http:
        response = http.get(f"/registry/products{PRODUCT}", headers=BROWSER)
        english = http.get(f"/registry/products{EXPIRED}?lang=en", headers=BROWSER)
        listing = http.get("/registry/products?q=mam", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Được in logo OCOP" in response.text
    assert "HTX Hồng Tiến" in response.text
    assert "nay thuộc Hưng Yên" in response.text
    assert "<script" not in response.text
    assert "style-src 'sha256-" in response.headers["content-security-policy"]
    assert "The OCOP logo may not be printed" in english.text
    assert "Nước mắm Bình Triều" in listing.text


def test_the_product_page_lists_batches_in_circulation_and_recalls(registry):
    storefront, w = registry.storefront, registry.storefront.world
    storefront.pack(PRODUCT, "L2503REG01", 2, shipped_to="Siêu thị BigC Thái Bình")
    storefront.pack(PRODUCT, "L2503REG02", 1)
    recalled = identifiers.batch_id(PRODUCT, "L2503REG02")
    recall = BatchRecalled(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=1), batch_id=recalled,
        producer_id=PRODUCER, recalled_by="VN-34", reason="nhiễm khuẩn",
    )  # fmt: skip
    storefront.pipeline.send_signed("batch", w.producer, recall)
    storefront.pipeline.flush()
    body = registry.wait(PRODUCT, lambda b: b["recalls"])
    lots = {batch["lot"]: batch for batch in body["in_circulation"]}
    assert "L2503REG01" in lots
    assert (lots["L2503REG01"]["units_packed"], lots["L2503REG01"]["status"]) == (2, "shipped")
    [gone] = body["recalls"]
    assert (gone["batch_id"], gone["recall_reason"]) == (recalled, "nhiễm khuẩn")
    assert "L2503REG02" not in lots
    with registry.client() as http:
        page = http.get(f"/registry/products{PRODUCT}?lang=en", headers=BROWSER).text
    assert "Lot L2503REG01: made 09/03/2025, use by 09/03/2030, 2 units" in page
    assert "Lot L2503REG02 (made 09/03/2025) recalled on" in page


def test_a_producers_new_registration_reaches_its_products_rows(registry):
    pipeline, w = registry.storefront.pipeline, registry.storefront.world
    pipeline.send_signed("authority", w.provincial, _qn_producer("Số 2, thôn Bình Triều"))
    pipeline.flush()
    body = registry.wait(
        NEVER, lambda b: b["producer"] and b["producer"]["address"] == "Số 2, thôn Bình Triều"
    )
    assert body["producer"]["name"] == "Hộ kinh doanh Bình Triều"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/registry/products?gtin=8931234567898", 422, "invalid_request"),
        ("/registry/products?status=valid", 422, "invalid_request"),
        ("/registry/products?q=" + "x" * 101, 422, "invalid_request"),
        ("/registry/products?q=mam&page=not-a-token", 400, "bad_request"),
        ("/registry/products?q=mam&stars=6", 422, "invalid_request"),
        ("/registry/products/01/8931234567898", 400, "bad_request"),
        ("/registry/products/p/NOT-REGISTERED", 404, "unknown_product"),
    ],
)
def test_bad_input_gets_the_projects_error_in_both_languages(registry, path, status, code):
    with registry.client() as http:
        response = http.get(path, headers=JSON | {"Accept-Language": "en"})
        again = http.get("/registry/products?q=mam", headers=JSON)  # the API is unharmed
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code
    assert " / " in body["detail"]  # Vietnamese / English
    assert again.status_code == 200
