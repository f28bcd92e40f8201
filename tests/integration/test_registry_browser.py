"""The public registry in a real headless Chromium (Debian's, driven by Playwright) at phone
size (390 x 844, Vietnamese), against `ocop-api` on the real stack: the shelf of
test_registry.py (registered, certified, revoked and expired products, sent as authority
events through Kafka and the worker), a search typed without diacritics into the page's
search form, the results, a product's page (its stars, validity and whether the OCOP logo
may be printed today), the page in English, and a search from the English page. No
script error and no console error on any page.

Screenshots are kept in pytest's tmp dir (the path is printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_api_browser import CHROMIUM, FLAGS
from tests.integration.test_api_stack import opened_shop
from tests.integration.test_backoffice_browser import watched
from tests.integration.test_registry import TWO_STARS, Registry
from tests.world import PRODUCT

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is not installed (./run installs it)"
)


@pytest.fixture(scope="module")
def registry(stack_settings, tmp_path_factory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("registry-browser")
    # pages, not deadlines, are tested here (see test_backoffice_browser.py)
    settings = {"record_cache_s": "0", "request_deadline_s": "15"}
    with opened_shop(stack_settings, folder, **settings) as (storefront, api):
        yield Registry(storefront, api)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry-screenshots")
    print(f"\nregistry screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def phone(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A phone's browser, opened once the shelf is stored (the shelf's waits run their own
    event loops, which Playwright's would hold)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user data dir
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="vi-VN",
        )
        try:
            yield context
        finally:
            context.close()


def fits_the_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_search_without_diacritics_opens_the_products_page(registry, phone, shots):
    page = phone.new_page()
    errors = watched(page)
    response = page.goto(registry.api.base + "/registry/products")
    assert response is not None
    assert response.status == 200
    assert page.locator("#results").count() == 0  # no term: nothing listed
    page.screenshot(path=str(shots / "1-search.png"), full_page=True)

    search = page.get_by_role("search")
    search.locator("input[name=q]").fill("mam cay hong tien")
    with page.expect_navigation():
        search.locator("button[type=submit]").click()
    assert "q=mam+cay+hong+tien" in page.url
    results = page.locator("#results")
    assert results.get_attribute("data-count") == "1"
    (item,) = results.locator("li[data-product]").all()
    assert (item.get_attribute("data-product"), item.get_attribute("data-status")) == (
        PRODUCT, "in_force",
    )  # fmt: skip
    assert item.get_attribute("data-logo") == "in_force"
    assert "Mắm cáy Hồng Tiến" in item.inner_text()
    assert "Được in logo OCOP" in item.inner_text()
    assert page.locator("#q").input_value() == "mam cay hong tien"  # the search stays in its box
    fits_the_phone(page)
    page.screenshot(path=str(shots / "2-results.png"), full_page=True)

    with page.expect_navigation():
        item.get_by_role("link", name="Mắm cáy Hồng Tiến").click()
    assert page.url.endswith(f"/registry/products{PRODUCT}")
    logo = page.locator("#logo")
    assert (logo.get_attribute("data-allowed"), logo.get_attribute("data-reason")) == (
        "true", "in_force",
    )  # fmt: skip
    assert "Được in logo OCOP" in logo.inner_text()
    stars = page.locator("#stars-current")
    assert stars.get_attribute("data-stars") == "4"
    assert stars.inner_text().strip() == "★★★★☆"
    status = page.locator("#status")
    assert status.get_attribute("data-status") == "in_force"
    assert "còn hiệu lực đến" in status.inner_text()
    assert "123/GCN-UBND" in page.locator("#stars").inner_text()
    product = page.locator("#product").inner_text()
    for fact in ("Mắm cáy Hồng Tiến", "HTX Hồng Tiến", "nay thuộc Hưng Yên"):
        assert fact in product, fact
    box = logo.bounding_box()
    assert box is not None
    assert box["y"] < 10  # the logo's answer is the first thing on the screen
    fits_the_phone(page)
    page.screenshot(path=str(shots / "3-product.png"), full_page=True)
    page.screenshot(path=str(shots / "3-product-first-screen.png"))

    with page.expect_navigation():
        page.get_by_role("link", name="English").click()
    assert "lang=en" in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    assert "The OCOP logo may be printed" in page.locator("#logo").inner_text()
    assert "in force until" in page.locator("#status").inner_text()
    assert page.locator("#stars-current").get_attribute("data-stars") == "4"
    page.screenshot(path=str(shots / "4-product-en.png"), full_page=True)
    assert errors == [], errors
    page.close()


def test_a_search_from_the_english_page_stays_in_english(registry, phone, shots):
    page = phone.new_page()
    errors = watched(page)
    page.goto(registry.api.base + "/registry/products?lang=en")
    assert "OCOP product registry" in page.locator("h1").inner_text()
    search = page.get_by_role("search")
    search.locator("input[name=q]").fill("BANH DA")  # đ typed as d, capitals
    with page.expect_navigation():
        search.locator("button[type=submit]").click()
    assert "lang=en" in page.url
    (item,) = page.locator("#results li[data-product]").all()
    assert item.get_attribute("data-product") == TWO_STARS
    assert item.get_attribute("data-logo") == "below_three_stars"
    assert "The OCOP logo may not be printed" in item.inner_text()
    page.screenshot(path=str(shots / "5-results-en.png"), full_page=True)

    with page.expect_navigation():
        item.get_by_role("link").click()
    assert "lang=en" in page.url
    logo = page.locator("#logo")
    assert (logo.get_attribute("data-allowed"), logo.get_attribute("data-reason")) == (
        "false", "below_three_stars",
    )  # fmt: skip
    assert "The OCOP logo may not be printed" in logo.inner_text()
    assert page.locator("#stars-current").get_attribute("data-stars") == "2"
    assert page.locator("#status").get_attribute("data-status") == "in_force"
    fits_the_phone(page)
    page.screenshot(path=str(shots / "6-product-en-two-stars.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="Tiếng Việt").click()
    assert "Không được in logo OCOP" in page.locator("#logo").inner_text()
    assert errors == [], errors
    page.close()
