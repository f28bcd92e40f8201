"""The office's evaluation desk in a real headless Chromium (Debian's, driven by Playwright),
at an office screen's size, against `ocop-api` on the real stack (the shop of
test_evaluation_cycle.py: the desk of Thái Bình's council, VN-34): sign in with the office's
token and land on the dossiers; lodge a dossier on the form; see it stored by the worker;
record the commune's pre-check and a member's score sheet; and try a decision the rules
refuse (a 2026 decision of Thái Bình's former council: Hưng Yên's answers since the 2025
reform), which shows the rules' reason in both languages and sends nothing. No script or
console error on any page. Screenshots are kept in pytest's tmp dir (the path is printed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_api_browser import CHROMIUM, FLAGS
from tests.integration.test_backoffice_browser import read, watched
from tests.integration.test_evaluation_cycle import OFFICE_TOKEN, office, steps_of, wait_for_steps
from tests.world import PRODUCER

__all__ = ["office"]  # the shop and desk of test_evaluation_cycle, as this module's fixture

SCREEN = {"width": 1280, "height": 800}

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is not installed (./run installs it)"
)


@pytest.fixture(scope="module")
def browser(office) -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = chromium.new_context(viewport=SCREEN, locale="vi-VN")
        try:
            yield context
        finally:
            context.close()
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("desk-screenshots")
    print(f"\ndesk screenshots: {folder}")
    return folder


def _reload_until(page: Any, selector: str, attribute: str, value: str) -> None:
    """The worker stores a step a moment after the desk sent it: reload until it shows."""
    deadline = time.monotonic() + 30
    while True:
        found = page.locator(selector)
        if found.count() and found.get_attribute(attribute) == value:
            return
        assert time.monotonic() < deadline, f"{selector} never had {attribute}={value}"
        time.sleep(0.5)
        page.reload()


def test_the_office_lodges_prechecks_and_scores_a_dossier_and_a_refused_decision_sends_nothing(
    office, browser, shots
):
    storefront, api, _ = office
    page = browser.new_page()
    errors = watched(page)
    page.goto(api.base + "/inspect/")
    page.fill("#token", OFFICE_TOKEN)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#dossiers")  # an office's home is the dossiers' list
    page.screenshot(path=str(shots / "1-dossiers.png"), full_page=True)

    page.click("#new-dossier")
    form = page.locator("#dossier-form")
    for name, value in {
        "dossier_id": "HS-2026-TB-021", "product_name": "Bánh cáy làng Nguyễn",
        "product_key": "/p/TB-BANHCAY-21", "producer_id": PRODUCER,
        "raw_material_origin": "Xã Nguyên Xá", "standards": "TCCS 01:2026/HTX",
        "commune": "Xã Nguyên Xá", "province": "Thái Bình",
    }.items():  # fmt: skip
        form.locator(f"[name={name}]").fill(value)
    form.locator("[name=submitted_on]").fill("2026-11-20")
    page.screenshot(path=str(shots / "2-new-dossier.png"), full_page=True)
    page.click("#submit-dossier")
    page.wait_for_selector("#sent")
    read(lambda: wait_for_steps(storefront, "HS-2026-TB-021", 1))
    _reload_until(page, "#stage", "data-stage", "awaiting_precheck")

    page.click("#precheck-form button[type=submit]")  # nothing ticked: passed
    _reload_until(page, "#stage", "data-stage", "provincial")
    sheet = page.locator("#score-form")
    for name, value in {
        "member_id": "HD-01",
        "part_a": "31",
        "part_b": "19",
        "part_c": "26",
    }.items():
        sheet.locator(f"[name={name}]").fill(value)
    sheet.locator("button[type=submit]").click()
    read(lambda: wait_for_steps(storefront, "HS-2026-TB-021", 3))
    page.reload()
    assert page.locator("#score").get_attribute("data-score") == "76.00"
    assert "hạng 4 sao" in page.locator("#score").inner_text()
    page.screenshot(path=str(shots / "3-scored.png"), full_page=True)

    decision = page.locator("#decision-form")
    decision.locator("input[value=recognise]").check()
    decision.locator("[name=decision_no]").fill("99/QĐ-UBND")
    decision.locator("[name=certificate_no]").fill("9/GCN")
    decision.locator("button[type=submit]").click()
    page.wait_for_selector("#error")
    assert page.locator("#error").get_attribute("data-code") == "step_refused"
    assert "không gửi gì" in page.locator("#error-vi").inner_text()
    assert "wrong_province" in page.content()
    page.screenshot(path=str(shots / "4-refused.png"), full_page=True)
    time.sleep(2)  # anything sent would be stored by now
    assert len(read(lambda: steps_of(storefront, "HS-2026-TB-021"))) == 3
    unexpected = [e for e in errors if "/decide" not in e and "status of 422" not in e]
    assert unexpected == [], unexpected  # the refused decision's 422 is the one expected
    page.close()
