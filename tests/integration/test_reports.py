"""Consumers' reports become cases for inspectors, on the real stack: `ocop-api` as its own
process, the real worker, Kafka and Cassandra (tests/integration/test_api_stack.py's shop).

A consumer files a report on a real unit with open copy alerts, from its own loopback
address, through the consumer page's form; the worker files it as a case for the province
where it was bought, linked to those alerts; an inspector lists it, reads it and closes it,
and the closing is stored. A flood of 20 copies of one client's report is one case; another
client's is another. The form also goes through a real Chromium with JavaScript off, under
the page's Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract import identifiers
from contract.label import vietnam_date
from keys.certs import utc_now
from records.cases import CaseReader, CaseRow
from tests.integration.pipeline import wait_for
from tests.integration.test_api_stack import (
    FAR_APART,
    TOKENS,
    ApiProcess,
    Storefront,
    from_address,
    opened_shop,
    path_of,
)
from tests.world import PRODUCT

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "vi"}
INSPECTOR = {"Authorization": f"Bearer {TOKENS['inspector'][3]}"}
PROVINCE = "Thái Bình"


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess]]:
    with opened_shop(stack_settings, tmp_path_factory.mktemp("reports")) as opened:
        yield opened


@pytest.fixture(scope="module")
def cases(shop) -> CaseReader:
    storefront, _ = shop
    return CaseReader(storefront.pipeline.session)


def stored_case(cases: CaseReader, case_id: uuid.UUID) -> CaseRow | None:
    return asyncio.run(cases.case(case_id))


def cases_of(cases: CaseReader, unit: str) -> list[CaseRow]:
    return asyncio.run(cases.cases_for_unit(unit))


def listed(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    query = {"province": PROVINCE, "day": vietnam_date(utc_now()).isoformat()} | params
    response = client.get("/inspectors/cases", params=query, headers=INSPECTOR)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["cases"]
    return found


def report(path: str, **changes: str) -> dict[str, str]:
    return {
        "code": f"https://ocop.vn{path}",
        "shop": "Chợ Bo, TP Thái Bình",
        "province": PROVINCE,
        "problem": "code_copied",
        "note": "Cùng một mã trên nhiều hộp",
    } | changes


def test_a_report_becomes_a_case_an_inspector_lists_and_closes(shop, cases):
    storefront, api = shop
    (label,) = storefront.pack(PRODUCT, "L2503RPT01", 1, shipped_to="Siêu thị BigC Thái Bình")
    path, unit = path_of(label), identifiers.unit_key(PRODUCT, label.serial)
    # copy alerts on the unit: seven phones far apart
    for n, province in enumerate(FAR_APART):
        with from_address(api, f"127.0.0.{60 + n}") as phone:
            phone.get(path + f"&province={province}", headers=JSON)
    wait_for("copy alerts on the unit", lambda: storefront.pipeline.alerts(unit), timeout_s=60)
    time.sleep(1.5)  # the alerts of the last scans, if any, are written with them
    open_alerts = sorted(
        str(a.alert_id) for a in storefront.pipeline.alerts(unit) if a.status == "open"
    )
    assert open_alerts

    with from_address(api, "127.0.0.40") as consumer:
        page = consumer.get(path, headers=BROWSER)
        assert page.status_code == 200
        assert "form-action 'self'" in page.headers["content-security-policy"]
        (action,) = re.findall(r'<form [^>]*action="([^"]+)"', page.text)
        (label_field,) = re.findall(r'name="label" value="([^"]*)"', page.text)
        form = {
            "label": html.unescape(label_field), "shop": " Chợ Bo, TP Thái Bình ",
            "province": PROVINCE, "problem": "code_copied",
            "note": "Hộp giống hệt\r\nnhưng nắp khác màu", "contact": "0912 345 678",
        }  # fmt: skip
        sent = consumer.post(html.unescape(action), data=form, headers=BROWSER)
        assert sent.status_code == 202, sent.text
        (receipt,) = re.findall(r'id="receipt-number">([0-9A-Z]{8})<', sent.text)
        again = consumer.post(html.unescape(action), data=form, headers=BROWSER)
        assert again.status_code == 200
        assert receipt in again.text

    with api.client() as office:
        (case,) = wait_for("the case to be filed", lambda: listed(office), timeout_s=30)
        assert (case["receipt"], case["unit_key"], case["status"]) == (receipt, unit, "open")
        assert (case["shop"], case["problem"], case["note"]) == (
            "Chợ Bo, TP Thái Bình", "code_copied", "Hộp giống hệt\nnhưng nắp khác màu",
        )  # fmt: skip
        assert sorted(case["alert_ids"]) == open_alerts  # the unit's alerts open when filed
        assert (case["has_contact"], case["contact"]) == (True, None)  # not in lists
        one = office.get(f"/inspectors/cases/{case['case_id']}", headers=INSPECTOR).json()
        assert one["contact"] == "0912 345 678"
        by_unit = office.get("/inspectors/cases/unit", params={"unit": unit}, headers=INSPECTOR)
        assert [c["case_id"] for c in by_unit.json()["cases"]] == [case["case_id"]]

        closing = {"finding": "counterfeit", "note": "hàng giả, đã lập biên bản"}
        url = f"/inspectors/cases/{case['case_id']}/close"
        assert office.post(url, json=closing, headers=INSPECTOR).status_code == 202

        def closed() -> dict[str, Any] | None:
            found = listed(office, status="closed")
            return found[0] if found else None

        final = wait_for("the closing to be stored", closed, timeout_s=30)
        assert (final["closed_by"], final["finding"], final["closing_note"]) == (
            "QLTT-TB-07", "counterfeit", "hàng giả, đã lập biên bản",
        )  # fmt: skip
        assert listed(office, status="open") == []
        row = stored_case(cases, uuid.UUID(case["case_id"]))
        assert row is not None
        assert (row.status, row.closed_by, row.finding) == ("closed", "QLTT-TB-07", "counterfeit")
        assert row.closing_event_id is not None
        # the same closing again is the same; another finding is refused: the first stands
        assert office.post(url, json=closing, headers=INSPECTOR).status_code == 202
        other = office.post(url, json={"finding": "genuine"}, headers=INSPECTOR)
        assert (other.status_code, other.json()["error"]) == (409, "case_closed")


def test_a_flood_from_one_client_is_one_case(shop, cases):
    storefront, api = shop
    (label,) = storefront.pack(PRODUCT, "L2503RPT02", 1)
    path, unit = path_of(label), identifiers.unit_key(PRODUCT, label.serial)

    def send(_: int) -> httpx.Response:
        with from_address(api, "127.0.0.41") as flooder:
            return flooder.post("/reports", json=report(path), headers=JSON)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    assert sorted(a.status_code for a in answers) == [200] * 19 + [202]
    assert len({a.json()["receipt"] for a in answers}) == 1
    (case,) = wait_for("the case to be filed", lambda: cases_of(cases, unit), timeout_s=30)
    assert case.receipt == answers[0].json()["receipt"]
    time.sleep(2)  # were anything else sent, it would be stored by now
    assert len(cases_of(cases, unit)) == 1
    rows = storefront.pipeline.session.execute(
        "SELECT case_id FROM cases_by_province_day WHERE province = %s AND day = %s",
        (PROVINCE, case.day),
    ).all()
    assert [r.case_id for r in rows].count(case.case_id) == 1

    # another client is another report, another case
    with from_address(api, "127.0.0.42") as neighbour:
        other = neighbour.post("/reports", json=report(path), headers=JSON)
    assert other.status_code == 202
    assert other.json()["receipt"] != case.receipt
    wait_for("the second case", lambda: len(cases_of(cases, unit)) == 2, timeout_s=30)


def test_a_report_on_a_code_not_ours_is_filed_under_its_hash(shop, cases):
    _, api = shop
    code = "https://ocop-gia.example/01/08931234567897/21/KHONGPHAIMA"
    with from_address(api, "127.0.0.43") as consumer:
        sent = consumer.post("/reports", json=report("", code=code), headers=JSON)
    assert sent.status_code == 202
    receipt = sent.json()
    assert receipt["unit_key"] is None
    (case,) = wait_for(
        "the case on the code's hash", lambda: cases_of(cases, receipt["filed_under"]),
        timeout_s=30,
    )  # fmt: skip
    assert (case.code, case.reason, case.receipt) == (code, "malformed", receipt["receipt"])


# -- the form in a real browser, with scripts off --------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed")
def test_the_form_posts_from_chromium_without_scripts(shop, cases, tmp_path):
    from tests.integration.test_api_browser import FLAGS, PHONE

    playwright = pytest.importorskip("playwright.sync_api")
    storefront, api = shop
    (label,) = storefront.pack(PRODUCT, "L2503RPT03", 1)
    unit = identifiers.unit_key(PRODUCT, label.serial)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False,
            locale="vi-VN",
        )  # fmt: skip
        try:
            page = browser.new_page()
            refused: list[str] = []
            page.on("console", lambda message: refused.append(message.text))
            page.goto(api.base + path_of(label))
            page.locator("#report summary").click()
            page.fill("#report-shop", "Siêu thị BigC Thái Bình")
            page.fill("#report-province", PROVINCE)
            page.check("input[name=problem][value=fake_packaging]")
            page.fill("#report-note", "Nắp hộp bị bóc\nrồi dán lại")
            with page.expect_navigation():
                page.click("#report button[type=submit]")
            assert "Đã nhận báo cáo" in page.locator("#receipt").inner_text()
            receipt = page.locator("#receipt-number").inner_text().strip()
            page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
            assert not [m for m in refused if "Content Security Policy" in m], refused
        finally:
            browser.close()
    (case,) = wait_for("the case to be filed", lambda: cases_of(cases, unit), timeout_s=30)
    assert (case.receipt, case.shop, case.note) == (
        receipt, "Siêu thị BigC Thái Bình", "Nắp hộp bị bóc\nrồi dán lại",
    )  # fmt: skip
