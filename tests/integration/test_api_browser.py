"""The consumer page in a real headless Chromium (Debian's, driven by Playwright), on a phone-
sized screen with JavaScript off, against the API on the real stack.

The screenshot is checked as pixels, not only as text: the verdict banner has the verdict's
colour and sits at the top of the screen, and the printed stars and the current stars show
as many gold stars as they should.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.test_api_stack import DOWNGRADED, ApiProcess, opened_shop, path_of
from tests.world import PRODUCT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 412, "height": 915}
GREEN, AMBER = (0x1B, 0x6E, 0x34), (0x8A, 0x4F, 0x00)
GOLD = (0xD9, 0x9A, 0x00)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is not installed (./run installs it)"
)


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[ApiProcess, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("browser")
    # pages, not deadlines, are tested here (see test_backoffice_browser.py)
    settings = {"record_cache_s": "0", "request_deadline_s": "15"}
    with opened_shop(stack_settings, folder, **settings) as (storefront, api):
        (genuine,) = storefront.pack(PRODUCT, "L2503WEB01", 1, shipped_to="Siêu thị BigC Thái Bình")
        (lowered,) = storefront.pack(DOWNGRADED, "L2503WEB02", 1)
        storefront.downgrade(DOWNGRADED)
        yield api, {"genuine": path_of(genuine), "downgraded": path_of(lowered)}


@pytest.fixture(scope="module")
def phone(tmp_path_factory) -> Iterator[Any]:
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
            java_script_enabled=False,  # the page must not need it
            locale="vi-VN",
        )
        try:
            yield context
        finally:
            context.close()


def screenshot(page: Any, selector: str, path: Path) -> Image.Image:
    page.locator(selector).screenshot(path=str(path))
    return Image.open(path).convert("RGB")


def share(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    """The fraction of pixels within `tolerance` of `colour` (per channel)."""
    pixels: list[tuple[int, int, int]] = list(image.get_flattened_data())  # type: ignore[arg-type]
    close = [
        p for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, colour, strict=True))
    ]
    return len(close) / len(pixels)


def test_a_genuine_unit_renders_green_with_its_stars_first(shop, phone, tmp_path):
    api, paths = shop
    page = phone.new_page()
    response = page.goto(api.base + paths["genuine"])
    assert response is not None
    assert response.status == 200
    page.screenshot(path=str(tmp_path / "genuine.png"), full_page=True)

    verdict = page.locator("#verdict")
    assert "Chính hãng" in verdict.inner_text()
    box = verdict.bounding_box()
    assert box is not None
    assert box["y"] < 10  # first thing on the screen, and well within it
    assert box["y"] + box["height"] < PHONE["height"] / 2
    assert share(screenshot(page, "#verdict", tmp_path / "verdict.png"), GREEN) > 0.6

    printed = page.locator("#stars-printed")
    assert printed.inner_text().strip() == "★★★★☆"
    stars_box = printed.bounding_box()
    assert stars_box is not None
    assert stars_box["y"] + stars_box["height"] < PHONE["height"]  # on the first screen
    printed_gold = share(screenshot(page, "#stars-printed", tmp_path / "printed.png"), GOLD)
    current_gold = share(screenshot(page, "#stars-current", tmp_path / "current.png"), GOLD)
    assert printed_gold > 0.05
    assert current_gold == pytest.approx(printed_gold, rel=0.15)  # 4★ printed, 4★ now

    text = page.locator("body").inner_text()
    for fact in ("Mắm cáy Hồng Tiến", "HTX Hồng Tiến", "Xã Hồng Tiến", "Huyện Kiến Xương",
                 "Thái Bình", "Siêu thị BigC Thái Bình", "còn hiệu lực đến"):  # fmt: skip
        assert fact in text, fact
    page.close()


def test_a_downgraded_unit_renders_amber_with_fewer_stars_now(shop, phone, tmp_path):
    api, paths = shop
    page = phone.new_page()
    page.goto(api.base + paths["downgraded"])
    page.screenshot(path=str(tmp_path / "downgraded.png"), full_page=True)

    verdict = page.locator("#verdict")
    assert "Cảnh báo" in verdict.inner_text()
    assert share(screenshot(page, "#verdict", tmp_path / "verdict.png"), AMBER) > 0.6
    assert page.locator("#stars-printed").inner_text().strip() == "★★★★☆"
    assert page.locator("#stars-current").inner_text().strip() == "★★★☆☆"
    printed_gold = share(screenshot(page, "#stars-printed", tmp_path / "printed.png"), GOLD)
    current_gold = share(screenshot(page, "#stars-current", tmp_path / "current.png"), GOLD)
    assert current_gold == pytest.approx(printed_gold * 3 / 4, rel=0.2)

    page.get_by_role("link", name="English").click()
    assert "Warning" in page.locator("#verdict").inner_text()
    assert "Downgraded to 3 stars" in page.locator("#rating-history").inner_text()
    page.screenshot(path=str(tmp_path / "downgraded-en.png"), full_page=True)
    page.close()
