"""The OCOP office's dashboard in a real headless Chromium (Debian's, driven by Playwright) at
an office screen's size, against `ocop-api` on the real stack: demo.province's registrations
and councils' certifications loaded through Kafka (demo.province_load, signed by Thái Bình's
"VN-34" and a Quảng Nam "VN-49" council made here), an office-role token registered through
Kafka, signed in; the dashboard for Thái Bình at 2023-11-30 shows the news item's figures
(138 products, 48 at 4★ and 90 at 3★, 91 producers: 32 enterprises, 36 cooperatives, 23
household businesses, 8 districts), and so does its JSON; Thăng Bình's 31 (4 at 4★, 27 at
3★); the CSV downloads; bad input is refused in both languages; no console error (a CSP
refusal of the inline charts would be one).

Screenshots are kept in pytest's tmp dir (the path is printed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.certification import EvaluationLevel
from contract.events import InspectorRegistered, InspectorRole
from demo.province_load import load_province
from keys import certs
from keys.certs import utc_now
from keys.publish import AuthorityPublisher
from keys.signing import SigningKey
from tests.integration.pipeline import Pipeline, wait_for
from tests.integration.test_api_browser import CHROMIUM, FLAGS
from tests.integration.test_api_stack import ApiProcess, Storefront
from tests.world import NOW, World

OFFICE = ("VP-OCOP-TB-01", "token-of-the-ocop-office-0123456789")
HUNG_YEN_OFFICE = ("VP-OCOP-HY-01", "token-of-hung-yen-s-ocop-office-01234")
"""Registered for Hưng Yên: sees it and former Thái Bình, no other province."""
SCREEN = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
THAI_BINH_2023 = "/inspect/office/dashboard?province=Th%C3%A1i+B%C3%ACnh&at=2023-11-30"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is not installed (./run installs it)"
)


class Office:
    def __init__(self, api: ApiProcess, pipeline: Pipeline) -> None:
        self.api = api
        self.pipeline = pipeline


@pytest.fixture(scope="module")
def office(stack_settings, tmp_path_factory) -> Iterator[Office]:
    folder = tmp_path_factory.mktemp("dashboard-browser")
    world = World()
    quang_nam = SigningKey.generate()
    world.authorities.append(
        certs.certify_authority(
            world.root, quang_nam.public_key, authority_id="VN-49",
            name="Hội đồng OCOP tỉnh Quảng Nam", level=EvaluationLevel.PROVINCIAL,
            now=NOW - timedelta(days=500),
        )
    )  # fmt: skip
    pipeline = Pipeline(stack_settings, folder, world)
    api = None
    try:
        pipeline.start_worker()
        Storefront(pipeline)  # the trust lists (with VN-49), the shelf's inspectors
        started = time.monotonic()
        publisher = AuthorityPublisher(
            pipeline.settings.kafka_bootstrap,
            authority_topic=pipeline.topics["authority"],
            trust_topic=pipeline.topics["trust"],
        )
        try:
            token = hashlib.sha256(OFFICE[1].encode()).hexdigest()
            publisher.event(world.provincial, InspectorRegistered(
                event_id=uuid.uuid4(), occurred_at=utc_now(), authority_id="VN-34",
                inspector_id=OFFICE[0], name="Văn phòng OCOP (minh họa)",
                role=InspectorRole.OFFICE, token_sha256=token,
            ))  # fmt: skip
            hung_yen = hashlib.sha256(HUNG_YEN_OFFICE[1].encode()).hexdigest()
            publisher.event(world.provincial, InspectorRegistered(
                event_id=uuid.uuid4(), occurred_at=utc_now(), authority_id="VN-34",
                inspector_id=HUNG_YEN_OFFICE[0], name="Văn phòng OCOP Hưng Yên (minh họa)",
                role=InspectorRole.OFFICE, token_sha256=hung_yen, province="Hưng Yên",
            ))  # fmt: skip
            loaded = load_province(
                publisher, {"VN-34": world.provincial, "VN-49": quang_nam}, named=True
            )
        finally:
            publisher.close()
        assert loaded.certifications == 138 + 31
        wait_for("the offices' tokens", lambda: pipeline.inspector(token)
                 and pipeline.inspector(hung_yen))  # fmt: skip
        wait_for("every certification to be stored", lambda: _stored(pipeline) >= 169,
                 timeout_s=180)  # fmt: skip
        wait_for("the registry to hold the producers", lambda: _registry(pipeline) >= 169,
                 timeout_s=120)  # fmt: skip
        print(f"\nprovince data loaded and stored in {time.monotonic() - started:.1f} s")
        settings = {"record_cache_s": "0", "request_deadline_s": "15"}
        api = ApiProcess(pipeline, folder, **settings)
        yield Office(api, pipeline)
    finally:
        if api is not None:
            api.stop()
        pipeline.close()


def _stored(pipeline: Pipeline) -> int:
    rows = pipeline.session.execute(
        "SELECT count(*) FROM certifications WHERE certificate_no > '' ALLOW FILTERING"
    ).one()
    return int(rows[0])


def _registry(pipeline: Pipeline) -> int:
    rows = pipeline.session.execute(
        "SELECT count(*) FROM registry_products WHERE province_keys CONTAINS 'thai binh'"
    ).one()
    tb = int(rows[0])
    rows = pipeline.session.execute(
        "SELECT count(*) FROM registry_products WHERE province_keys CONTAINS 'quang nam'"
    ).one()
    return tb + int(rows[0])


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-screenshots")
    print(f"\ndashboard screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(office: Office, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport=SCREEN,
            locale="vi-VN",
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()


def watched(page: Any) -> list[str]:
    """Script errors and console errors (a CSP refusal is one); not the browser's note that a
    refused query's page came with 422, which is the point of those pages."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text} {m.location}")
            if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico")
            and "status of 422" not in m.text
            else None
        ),
    )
    return errors


def sign_in(page: Any, base: str, token: str = OFFICE[1]) -> None:
    page.context.clear_cookies()
    page.goto(base + "/inspect/")
    page.fill("#token", token)
    page.fill("#province", "Thái Bình")
    with page.expect_navigation():
        page.click("#sign-in-form button[type=submit]")


def refusal(page: Any, url: str, status: int) -> str:
    """The problem a page shows where `url` is refused with `status`."""
    response = page.goto(url)
    assert response is not None
    assert response.status == status
    return str(page.locator("#problem").inner_text())


def _value(page: Any, figure: str) -> str:
    return str(page.locator(f"#fig-{figure}").get_attribute("data-value"))


def test_the_dashboard_shows_the_news_figures_for_thai_binh(office, browser, shots):
    page = browser.new_page()
    sign_in(page, office.api.base)  # lands on the office's desk, which this stack does not run
    errors = watched(page)
    started = time.monotonic()
    response = page.goto(office.api.base + THAI_BINH_2023)
    took = time.monotonic() - started
    assert response is not None
    assert response.status == 200, page.content()[:2000]
    print(f"\nthe dashboard of Thái Bình at 2023-11-30 answered in {took:.2f} s")
    figures = {
        name: _value(page, name)
        for name in ("rated", "stars-4", "stars-3", "stars-5", "producers", "districts")
    }
    assert figures == {"rated": "138", "stars-4": "48", "stars-3": "90", "stars-5": "0",
                       "producers": "91", "districts": "8"}  # fmt: skip
    kinds = {
        row.get_attribute("data-kind"): row.locator("td").nth(1).inner_text()
        for row in page.locator("#table-kinds tr[data-kind]").all()
    }
    assert kinds == {"enterprise": "32", "cooperative": "36", "cooperative_group": "0",
                     "household": "23"}  # fmt: skip
    assert page.locator("#target-state").get_attribute("data-met") == "true"
    for chart in ("stars", "kinds", "target", "districts", "expiry", "activity"):
        svg = page.locator(f"svg#chart-{chart}")
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box is not None
        assert box["width"] > 200, chart
    # the charts are styled by the served stylesheet: a bar is filled in OCOP green
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('#chart-stars .color-0 rect, "
        "#chart-stars .color-0 path')).fill"
    )
    assert fill == "rgb(27, 122, 62)", fill
    assert "Mắm cáy Hồng Tiến" in page.locator("#shelf").inner_text()  # ends 2023-12-18
    page.screenshot(path=str(shots / "1-thai-binh-2023-11-30.png"), full_page=True)
    page.screenshot(path=str(shots / "1-thai-binh-first-screen.png"))

    # the same figures as JSON, with the session's cookie
    cookies = {c["name"]: c["value"] for c in browser.cookies()}
    with httpx.Client(base_url=office.api.base, cookies=cookies, timeout=30) as http:
        body = http.get(THAI_BINH_2023, headers={"Accept": "application/json"}).json()
        assert (body["rated"], body["rated_by_stars"]) == (138, {"3": 90, "4": 48, "5": 0})
        assert body["producers"] == 91
        assert body["districts"] == 8
        assert body["producers_by_kind"] == {
            "enterprise": 32, "cooperative": 36, "cooperative_group": 0, "household": 23,
        }  # fmt: skip
        assert body["place"]["provinces"] == ["Thái Bình"]
        also = http.get(THAI_BINH_2023 + "&format=json").json()
        assert also["rated"] == 138
        thang_binh = http.get(
            "/inspect/office/dashboard",
            params={"province": "Quảng Nam", "district": "Huyện Thăng Bình",
                    "at": "2023-11-30", "format": "json"},
        ).json()  # fmt: skip
        assert (thang_binh["recognised"], thang_binh["recognised_by_stars"]) == (
            31, {"3": 27, "4": 4, "5": 0},
        )  # fmt: skip
        assert (thang_binh["rated"], thang_binh["expired"]) == (25, 6)
        now = http.get("/inspect/office/dashboard",
                       params={"province": "Hưng Yên", "format": "json"}).json()  # fmt: skip
        assert now["place"]["provinces"] == ["Hưng Yên", "Thái Bình"]
        assert now["registered"] >= 138
    assert errors == [], errors
    page.close()


def test_the_csv_downloads_with_the_same_figures(office, browser, shots):
    page = browser.new_page()
    sign_in(page, office.api.base)
    page.goto(office.api.base + THAI_BINH_2023)
    with page.expect_download() as download:
        page.click("#csv-link")
    path = shots / "thai-binh-2023-11-30.csv"
    download.value.save_as(str(path))
    assert download.value.suggested_filename == "ocop-thai-binh-2023-11-30.csv"
    text = path.read_text(encoding="utf-8-sig")
    table = {(r[0], r[1]): r[2] for r in csv.reader(io.StringIO(text)) if len(r) >= 3}
    assert table[("summary", "rated")] == "138"
    assert table[("rated_by_stars", "4")] == "48"
    assert table[("rated_by_stars", "3")] == "90"
    assert table[("summary", "producers")] == "91"
    assert table[("producers_by_kind", "household")] == "23"
    assert table[("summary", "districts")] == "8"
    page.close()


def test_bad_input_is_refused_in_both_languages(office, browser, shots):
    page = browser.new_page()
    sign_in(page, office.api.base)  # lands on the office's desk, which this stack does not run
    errors = watched(page)
    base = office.api.base + "/inspect/office/dashboard"
    problem = refusal(page, base + "?province=Atlantis&at=2023-11-30", 422)
    assert "Không có tỉnh" in problem
    assert "No province of Vietnam" in problem
    assert page.locator("#dashboard-query").count() == 1  # the form stays, to correct
    page.screenshot(path=str(shots / "2-unknown-province.png"), full_page=True)
    assert "NNNN-TT-NN" in refusal(page, base + "?province=Thai+Binh&at=30-11-2023", 422)
    cookies = {c["name"]: c["value"] for c in browser.cookies()}
    with httpx.Client(base_url=office.api.base, cookies=cookies, timeout=30) as http:
        future = {"province": "Thái Bình", "at": "2099-01-01", "format": "json"}
        answer = http.get("/inspect/office/dashboard", params=future)
        assert answer.status_code == 422
        assert answer.json()["error"] == "future_date"
        assert set(answer.json()["message"]) == {"vi", "en"}
        assert http.get("/inspect/office/dashboard.csv",
                        params={"province": "Nowhere"}).status_code == 422  # fmt: skip
    # a field inspector is not the office: refused
    with httpx.Client(base_url=office.api.base, timeout=30) as anonymous:
        assert anonymous.get("/inspect/office/dashboard").status_code in (303, 307)
    page.set_viewport_size(PHONE)
    page.goto(office.api.base + THAI_BINH_2023)
    assert _value(page, "rated") == "138"
    page.screenshot(path=str(shots / "3-thai-binh-phone.png"), full_page=True)
    assert errors == [], errors
    page.close()


def test_an_office_registered_for_a_province_sees_only_its_area(office, browser, shots):
    page = browser.new_page()
    sign_in(page, office.api.base, HUNG_YEN_OFFICE[1])
    base = office.api.base + "/inspect/office/dashboard"
    response = page.goto(base)  # no province asked: its own
    assert response is not None
    assert response.status == 200
    assert page.locator("#dashboard").get_attribute("data-province") == "Hưng Yên"
    page.goto(office.api.base + THAI_BINH_2023)  # former Thái Bình is part of Hưng Yên now
    assert _value(page, "rated") == "138"
    problem = refusal(page, base + "?province=Qu%E1%BA%A3ng+Nam&at=2023-11-30", 403)
    assert "chỉ xem được số liệu của Hưng Yên" in problem
    assert "sees Hưng Yên's figures only" in problem
    assert page.locator("#fig-rated").count() == 0  # no figure of Quảng Nam on the page
    page.screenshot(path=str(shots / "4-outside-province.png"), full_page=True)
    cookies = {c["name"]: c["value"] for c in browser.cookies()}
    with httpx.Client(base_url=office.api.base, cookies=cookies, timeout=30) as http:
        asked = {"province": "Quang Nam", "district": "Huyện Thăng Bình", "format": "json"}
        answer = http.get("/inspect/office/dashboard", params=asked)
        assert (answer.status_code, answer.json()["error"]) == (403, "outside_province")
        assert "rated" not in answer.json()
        assert http.get("/inspect/office/dashboard.csv",
                        params={"province": "Hà Nội"}).status_code == 403  # fmt: skip
    page.close()
