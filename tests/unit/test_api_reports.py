"""Consumers' reports and inspectors' cases, without servers: the form on the consumer page,
the JSON route, one report per client, unit and day (the same receipt, no second event),
bad input refused in both languages with nothing sent, the inspectors' case routes, and the
scan processor filing and closing cases (with fakes of records.cases).

The app is built as tests/unit/test_api_http.py builds it (its `Api`); its fake event sink
records every delivery in `findings`, reports and case closings included.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import re
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from contract import identifiers
from contract.encoding import canonical_bytes
from contract.events import (
    CaseClosed,
    ConsumerReported,
    InspectionVerdict,
    ReportProblem,
    decode_event,
    encode_event,
    report_receipt,
)
from contract.identifiers import SERIAL_ALPHABET
from contract.label import vietnam_date
from contract.verdict import Reason
from keys.certs import utc_now
from records.cases import CaseRow
from records.rows import AlertRow
from stream_processors.outcomes import Message, Metrics
from stream_processors.scans import ScanIngest
from tests.unit.test_api_http import BROWSER, INSPECTOR_TOKEN, JSON, SALT, Api, bearer
from tests.world import LOT, PRODUCT, World
from verify_api.events import EventCounters
from verify_api.routes import reports
from verify_api.routes.cases import closing_event_id, get_cases
from verify_api.routes.reports import REPORT_IDS, RecentReports
from verify_api.schemas import CaseClosing

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

FORM = "/reports/form"
SHOPPER = ("203.0.113.7", 50000)
"""The test client's address: its own network."""


@dataclass
class FakeCases:
    """records.cases.CaseReader's reads, from a dictionary."""

    rows: dict[uuid.UUID, CaseRow] = field(default_factory=dict)

    async def case(self, case_id: uuid.UUID) -> CaseRow | None:
        return self.rows.get(case_id)

    async def cases_on(self, province: str, day: date, limit: int = 5000) -> list[CaseRow]:
        found = [r for r in self.rows.values() if (r.province, r.day) == (province, day)]
        return sorted(found, key=lambda r: r.reported_at, reverse=True)[:limit]

    async def cases_for_unit(self, unit_key: str, limit: int = 200) -> list[CaseRow]:
        found = [r for r in self.rows.values() if r.unit_key == unit_key]
        return sorted(found, key=lambda r: r.reported_at, reverse=True)[:limit]


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def cases(api: Api) -> FakeCases:
    held = FakeCases()
    api.app.dependency_overrides[get_cases] = lambda: held
    return held


@pytest.fixture
def client(api: Api, cases: FakeCases) -> Iterator[TestClient]:
    with TestClient(api.app, client=SHOPPER) as test_client:
        yield test_client


def reported(api: Api) -> list[ConsumerReported]:
    sent: list[Any] = api.events.findings  # typed for findings; it records every delivery
    return [event for event in sent if isinstance(event, ConsumerReported)]


def unit_of(api: Api, index: int = 0) -> str:
    return identifiers.unit_key(PRODUCT, api.shelf.labels[index].serial)


def body(api: Api, **changes: Any) -> dict[str, Any]:
    return {
        "code": api.shelf.labels[0].url,
        "shop": "Chợ Bo, TP Thái Bình",
        "province": "Thái Bình",
        "problem": "fake_packaging",
        "note": "Bao bì in mờ, nắp không niêm phong",
        "contact": "0912 345 678",
    } | changes


def form(api: Api, **changes: str) -> dict[str, str]:
    fields = body(api) | {"label": api.path()} | changes
    del fields["code"]
    return fields


def expected_id(network: str, filed_under: str, day: date) -> uuid.UUID:
    """The documented scheme, computed here on its own: a UUIDv5 of the keyed hash of the
    client's network, what the report is filed under and the day in Vietnam."""
    client = hmac.new(SALT.encode(), f"network {network}".encode(), hashlib.sha256).hexdigest()
    name = canonical_bytes([client, filed_under, day.isoformat()]).decode()
    return uuid.uuid5(REPORT_IDS, name)


# -- the form on the consumer page ------------------------------------------------------------


def test_the_consumer_page_carries_the_report_form(api: Api, client: TestClient):
    page = client.get(api.path() + "&province=Th%C3%A1i%20B%C3%ACnh", headers=BROWSER)
    assert page.status_code == 200
    text = page.text
    (opening,) = re.findall(r"<form [^>]*>", text)
    assert 'method="post"' in opening
    assert 'action="/reports/form?lang=vi"' in opening
    # the unit's own field: the page's path and query, without a `lang` pair
    (label,) = re.findall(r'<input type="hidden" name="label" value="([^"]*)">', text)
    assert html.unescape(label) == api.path() + "&province=Th%C3%A1i%20B%C3%ACnh"
    assert text.index("<form") < text.index('name="label"') < text.index("</form>")
    assert re.findall(r'name="problem" value="([a-z_]+)"', text) == [p.value for p in ReportProblem]
    assert "Báo nghi ngờ hàng giả" in text
    for name in ("shop", "province", "note", "contact"):
        assert f'name="{name}"' in text
    assert "<details>" in text  # a genuine unit: the form is folded away
    assert "<script" not in text
    assert " style=" not in text

    # a forgery's page has it open, in English too
    forged = client.get(api.path().replace("&s=4&", "&s=5&") + "&lang=en", headers=BROWSER)
    assert "<details open>" in forged.text
    assert 'action="/reports/form?lang=en"' in forged.text
    assert "Report a suspected fake" in forged.text


def test_only_the_pages_with_the_form_may_post_and_only_here(api: Api, client: TestClient):
    def form_action(path: str, headers: dict[str, str]) -> str:
        policy: str = client.get(path, headers=headers).headers["content-security-policy"]
        (directive,) = [d for d in policy.split("; ") if d.startswith("form-action ")]
        return directive.removeprefix("form-action ")

    assert form_action(api.path(), BROWSER) == "'self'"
    assert form_action(api.path(), JSON) == "'self'"
    assert form_action("/nothing/here", BROWSER) == "'none'"
    assert form_action("/.well-known/ocop-trust-list", {}) == "'none'"
    receipt = client.post(FORM, data=form(api), headers=BROWSER)
    assert "form-action 'none'" in receipt.headers["content-security-policy"]


# -- one report per client, unit and day ------------------------------------------------------


def test_a_report_sends_one_event_with_its_deterministic_id_and_gets_a_receipt(
    api: Api, client: TestClient
):
    response = client.post("/reports", json=body(api), headers=JSON)
    assert response.status_code == 202
    receipt = response.json()
    unit = unit_of(api)
    (event,) = api.events.findings
    assert isinstance(event, ConsumerReported)
    assert event.event_id == expected_id(SHOPPER[0], unit, vietnam_date(utc_now()))
    assert str(event.event_id) == receipt["report_id"]
    assert event.topic_key() == unit.encode()
    assert (event.batch_id, event.serial) == (
        identifiers.batch_id(PRODUCT, LOT), api.shelf.labels[0].serial,
    )  # fmt: skip
    assert (event.province, event.shop, event.problem, event.contact) == (
        "Thái Bình", "Chợ Bo, TP Thái Bình", ReportProblem.FAKE_PACKAGING, "0912 345 678",
    )  # fmt: skip
    assert event.reason is Reason.GENUINE
    assert (
        event.client
        == hmac.new(SALT.encode(), f"network {SHOPPER[0]}".encode(), hashlib.sha256).hexdigest()
    )
    # the receipt: the id's first 40 bits in Crockford base32
    crockford = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", SERIAL_ALPHABET.encode())
    expected = base64.b32encode(event.event_id.bytes[:5]).translate(crockford).decode()
    assert receipt["receipt"] == expected == event.receipt
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", expected)
    assert (receipt["status"], receipt["unit_key"], receipt["filed_under"]) == (
        "received", unit, unit,
    )  # fmt: skip
    assert expected in receipt["sentence"]["vi"]
    assert "Thái Bình" in receipt["sentence"]["vi"]
    assert expected in receipt["sentence"]["en"]
    # the event is part of the contract: canonical bytes, decoded as a scan-topic event
    assert decode_event(encode_event(event)) == event


def test_the_same_client_the_same_day_gets_the_same_receipt_and_sends_nothing_more(
    api: Api, client: TestClient
):
    first = client.post("/reports", json=body(api), headers=JSON).json()
    again = client.post(
        "/reports", json=body(api, problem="code_copied", note="khác hẳn"), headers=JSON
    )
    assert again.status_code == 200
    assert (again.json()["receipt"], again.json()["status"]) == (
        first["receipt"], "already_received",
    )  # fmt: skip
    assert "đã được nhận trước đó" in again.json()["sentence"]["vi"]
    assert "already received" in again.json()["sentence"]["en"]
    # the page's form is the same report: the same client, unit and day
    page = client.post(FORM, data=form(api), headers=BROWSER)
    assert page.status_code == 200
    assert first["receipt"] in page.text
    assert "đã được nhận trước đó" in page.text
    assert len(api.events.findings) == 1


def test_another_client_or_another_day_is_another_report(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    first = client.post("/reports", json=body(api), headers=JSON).json()
    with TestClient(api.app, client=("198.51.100.20", 40000)) as neighbour:
        other = neighbour.post("/reports", json=body(api), headers=JSON)
    assert other.status_code == 202
    assert other.json()["receipt"] != first["receipt"]

    tomorrow = utc_now() + timedelta(days=1)
    monkeypatch.setattr(reports, "utc_now", lambda: tomorrow)
    later = client.post("/reports", json=body(api), headers=JSON)
    assert later.status_code == 202
    assert later.json()["receipt"] not in (first["receipt"], other.json()["receipt"])
    ids = [event.event_id for event in reported(api)]
    assert len(set(ids)) == 3
    assert ids[2] == expected_id(SHOPPER[0], unit_of(api), vietnam_date(tomorrow))

    # another unit is another report too
    assert client.post("/reports", json=body(api, code=api.shelf.labels[1].url)).status_code == 202
    assert len(reported(api)) == 4


def test_a_case_stored_by_another_api_process_is_already_received(
    api: Api, client: TestClient, cases: FakeCases
):
    report_id = expected_id(SHOPPER[0], unit_of(api), vietnam_date(utc_now()))
    cases.rows[report_id] = case_row(report_id, unit_of(api))
    response = client.post("/reports", json=body(api), headers=JSON)
    assert (response.status_code, response.json()["status"]) == (200, "already_received")
    assert response.json()["receipt"] == report_receipt(report_id)
    assert api.events.findings == []


def test_a_burst_of_one_reports_copies_is_one_event():
    """Copies that arrive while the first is still on its way to Kafka join it."""

    class SlowKafka:
        counters = EventCounters()
        capacity = 10

        def __init__(self) -> None:
            self.sent: list[Any] = []

        def offer(self, scan: Any) -> None:
            raise AssertionError("no scans here")

        async def deliver(self, finding: Any) -> None:
            await asyncio.sleep(0.05)
            self.sent.append(finding)

        async def deliver_to(self, topic: str, key: bytes, value: bytes, event_id: Any) -> None:
            raise AssertionError("reports go to the scan topic (deliver)")

    report = ConsumerReported(
        event_id=uuid.uuid4(), occurred_at=utc_now(), code="https://ocop.vn/x",
        province="Hà Nội", reason=Reason.MALFORMED, shop="Chợ Đồng Xuân",
        problem=ReportProblem.NO_RECOGNITION,
    )  # fmt: skip
    kafka, recent = SlowKafka(), RecentReports()

    async def burst() -> list[bool]:
        return await asyncio.gather(*(recent.file(report, kafka, FakeCases()) for _ in range(20)))

    answers = asyncio.run(burst())
    assert sorted(answers) == [False] * 19 + [True]
    assert kafka.sent == [report]
    assert asyncio.run(recent.file(report, kafka, FakeCases())) is False  # remembered
    assert kafka.sent == [report]


def test_the_form_answers_a_receipt_page(api: Api, client: TestClient):
    typed = form(api, shop="  Chợ Bo  ", note="  dòng một\r\ndòng hai \r\n", contact="  ")
    response = client.post(FORM + "?lang=en", data=typed, headers=BROWSER)
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    (event,) = reported(api)
    assert (event.shop, event.note, event.contact) == ("Chợ Bo", "dòng một\ndòng hai", None)
    page = response.text
    assert "Report received" in page
    assert f'<p class="receipt" id="receipt-number">{event.receipt}</p>' in page
    assert "The market inspectors of Thái Bình will look into it" in page
    (back,) = re.findall(r'<a href="([^"]*)">Back to the product page</a>', page)
    assert html.unescape(back) == api.path() + "&lang=en"
    assert "<script" not in page
    assert " style=" not in page
    # an app may ask the form route for JSON
    again = client.post(FORM, data=form(api), headers=JSON)
    assert (again.status_code, again.json()["receipt"]) == (200, event.receipt)


def test_a_code_that_is_not_ours_is_taken_under_its_hash(api: Api, client: TestClient):
    code = "https://ocop-fake.example/01/08931234567897/21/ABC"
    response = client.post("/reports", json=body(api, code=code), headers=JSON)
    assert response.status_code == 202
    receipt = response.json()
    code_hash = hashlib.sha256(code.encode()).hexdigest()
    assert (receipt["unit_key"], receipt["filed_under"], receipt["reason"]) == (
        None, code_hash, "malformed",
    )  # fmt: skip
    assert "không phải mã OCOP" in receipt["sentence"]["vi"]
    assert "not one of ours" in receipt["sentence"]["en"]
    (event,) = reported(api)
    assert (event.batch_id, event.serial, event.topic_key()) == (None, None, code_hash.encode())
    assert event.event_id == expected_id(SHOPPER[0], code_hash, vietnam_date(utc_now()))


def test_a_report_kafka_did_not_take_is_refused_and_taken_when_sent_again(
    api: Api, client: TestClient
):
    api.events.down = True
    for lang, words in (("vi", "Chưa gửi được báo cáo"), ("en", "could not be sent")):
        refused = client.post(f"/reports?lang={lang}", json=body(api), headers=JSON)
        assert (refused.status_code, refused.json()["error"]) == (503, "report_not_sent")
        assert words in refused.json()["detail"]
    api.events.down = False
    taken = client.post("/reports", json=body(api), headers=JSON)
    assert (taken.status_code, taken.json()["status"]) == (202, "received")
    assert len(reported(api)) == 1


# -- bad input: clear in both languages, nothing sent -----------------------------------------

BAD_REPORTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("note too long", {"note": "x" * 501}, "ghi chú: tối đa 500 ký tự", "note: at most 500"),
    ("note with a tab", {"note": "a\tb"}, "ghi chú", "note: "),
    ("contact too long", {"contact": "0" * 121}, "liên hệ: tối đa 120", "contact: at most 120"),
    ("shop too long", {"shop": "x" * 121}, "nơi mua: bắt buộc", "where bought: required"),
    ("shop with a line break", {"shop": "Chợ\nBo"}, "nơi mua", "where bought"),
    ("shop empty", {"shop": ""}, "nơi mua", "where bought"),
    ("shop missing", {"shop": None}, "nơi mua", "where bought"),
    ("province missing", {"province": None}, "tỉnh/thành phố", "province: required"),
    ("unknown choice", {"problem": "bad_taste"}, "một trong: stars_above_rating",
     "one of: stars_above_rating"),
    ("other without a note", {"problem": "other", "note": None}, "bắt buộc khi chọn «Khác»",
     "required when «Other»"),
    ("code missing", {"code": None}, "mã: cần nội dung mã QR", "code: the QR code's text"),
    ("an unknown field", {"price": "100"}, "không có mục «price»", "«price» is not a field"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "changes", "vi", "en"), BAD_REPORTS, ids=[b[0] for b in BAD_REPORTS]
)
def test_a_bad_report_is_refused_clearly_in_both_languages_and_nothing_is_sent(
    api: Api, client: TestClient, case: str, changes: dict[str, Any], vi: str, en: str
):
    sent = {k: v for k, v in body(api, **changes).items() if v is not None}
    for lang, words, sentence in (
        ("vi", vi, "Báo cáo chưa hợp lệ"), ("en", en, "The report is not valid"),
    ):  # fmt: skip
        refused = client.post("/reports", json=sent, headers=JSON | {"Accept-Language": lang})
        assert refused.status_code == 422, case
        answer = refused.json()
        assert answer["error"] == "invalid_report"
        assert sentence in answer["detail"]
        assert words in answer["detail"], answer["detail"]
    assert api.events.findings == []


def test_unreadable_reports_are_refused_and_nothing_is_sent(api: Api, client: TestClient):
    for content, content_type in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b'{"shop": "Ch\xff"}', "application/json"),  # not UTF-8
    ):
        refused = client.post("/reports?lang=en", content=content,
                              headers=JSON | {"Content-Type": content_type})  # fmt: skip
        assert (refused.status_code, refused.json()["error"]) == (422, "invalid_report")
        assert "could not be read" in refused.json()["detail"]
    assert api.events.findings == []


def test_bad_forms_are_refused_on_an_error_page_and_nothing_is_sent(api: Api, client: TestClient):
    encoded = "&".join(f"{k}={v}" for k, v in {"label": "/p/X", "shop": "a"}.items())
    for content, content_type, words in (
        (encoded + "&shop=b", "application/x-www-form-urlencoded", "được gửi nhiều lần"),
        (b"shop=Ch%FF", "application/x-www-form-urlencoded", "không đọc được"),
        (b'{"shop": "a"}', "application/json", "không đọc được"),
    ):
        refused = client.post(FORM, content=content,
                              headers=BROWSER | {"Content-Type": content_type})  # fmt: skip
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("text/html")
        assert "Báo cáo chưa hợp lệ" in refused.text
        assert words in refused.text
    for changes, words in (
        ({"label": "https://evil.example/01/x"}, "hãy quét lại mã QR"),
        ({"note": " \r\n ", "problem": "other"}, "bắt buộc khi chọn «Khác»"),
        ({"province": "  "}, "tỉnh/thành phố: bắt buộc"),
    ):
        refused = client.post(FORM, data=form(api, **changes), headers=BROWSER)
        assert refused.status_code == 422
        assert words in refused.text
    missing = form(api)
    del missing["label"]
    assert "hãy quét lại mã QR" in client.post(FORM, data=missing, headers=BROWSER).text
    assert api.events.findings == []


def test_a_form_posted_from_another_site_is_refused(api: Api, client: TestClient):
    for site in ("cross-site", "same-site"):
        refused = client.post(FORM, data=form(api), headers=BROWSER | {"Sec-Fetch-Site": site})
        assert refused.status_code == 403
        assert "cross_site_form" in refused.text
    assert api.events.findings == []
    ours = client.post(FORM, data=form(api), headers=BROWSER | {"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 202


# -- inspectors' cases ------------------------------------------------------------------------


def case_row(case_id: uuid.UUID, unit_key: str, **changes: Any) -> CaseRow:
    row = CaseRow(
        case_id=case_id, receipt=report_receipt(case_id), unit_key=unit_key,
        code=f"https://ocop.vn{unit_key}", reason="genuine",
        reported_at=datetime(2025, 3, 10, 3, 0, tzinfo=utc_now().tzinfo), day=date(2025, 3, 10),
        province="Thái Bình", shop="Chợ Bo", problem="code_copied", note=None, has_contact=True,
        alert_ids=(uuid.UUID(int=7),), status="open", contact="0912 345 678",
    )  # fmt: skip
    return replace(row, **changes)


def test_inspectors_list_their_provinces_cases_newest_first_by_status(
    api: Api, client: TestClient, cases: FakeCases
):
    unit = unit_of(api)
    first, second, third = (uuid.uuid4() for _ in range(3))
    at = datetime(2025, 3, 10, 3, 0, tzinfo=utc_now().tzinfo)
    cases.rows[first] = case_row(first, unit, reported_at=at)
    cases.rows[second] = case_row(second, unit, reported_at=at + timedelta(hours=1),
                                  status="closed", finding="counterfeit")  # fmt: skip
    cases.rows[third] = case_row(third, unit, province="Hà Nội")
    headers = bearer(INSPECTOR_TOKEN)
    query = {"province": "Thái Bình", "day": "2025-03-10"}
    listed = client.get("/inspectors/cases", params=query, headers=headers)
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    found = listed.json()["cases"]
    assert [c["case_id"] for c in found] == [str(second), str(first)]
    assert found[1]["alert_ids"] == [str(uuid.UUID(int=7))]
    assert found[1]["problem_sentence"]["en"] == "The code looks copied, or was scanned elsewhere"
    for status, expected in (("open", [first]), ("closed", [second])):
        only = client.get("/inspectors/cases", params=query | {"status": status}, headers=headers)
        assert [c["case_id"] for c in only.json()["cases"]] == [str(c) for c in expected]
    assert client.get("/inspectors/cases", params=query).status_code == 401
    bad = client.get("/inspectors/cases", params=query | {"status": "pending"}, headers=headers)
    assert bad.status_code == 422
    by_unit = client.get("/inspectors/cases/unit", params={"unit": unit}, headers=headers)
    assert by_unit.json()["count"] == 3
    one = client.get(f"/inspectors/cases/{first}", headers=headers).json()
    assert (one["contact"], one["receipt"]) == ("0912 345 678", report_receipt(first))
    assert client.get(f"/inspectors/cases/{uuid.uuid4()}", headers=headers).status_code == 404


def test_an_inspector_closes_a_case_through_kafka_once(
    api: Api, client: TestClient, cases: FakeCases
):
    unit, case_id = unit_of(api), uuid.uuid4()
    cases.rows[case_id] = case_row(case_id, unit)
    headers = bearer(INSPECTOR_TOKEN)
    closing = {"finding": "counterfeit", "note": "tem in lại, đã lập biên bản"}
    closed = client.post(f"/inspectors/cases/{case_id}/close", json=closing, headers=headers)
    assert closed.status_code == 202
    (event,) = api.events.findings
    assert isinstance(event, CaseClosed)
    expected = closing_event_id(case_id, "QLTT-inspector", CaseClosing.model_validate(closing))
    assert (event.event_id, event.case_id, event.unit_key) == (expected, case_id, unit)
    assert (event.finding, event.inspector_id) == (InspectionVerdict.COUNTERFEIT, "QLTT-inspector")
    assert event.topic_key() == unit.encode()  # follows the case's report

    # once stored: the same closing again is accepted without a second event, another is 409
    cases.rows[case_id] = replace(
        cases.rows[case_id], status="closed", closed_at=utc_now(), closed_by="QLTT-inspector",
        finding="counterfeit", closing_event_id=expected,
    )  # fmt: skip
    again = client.post(f"/inspectors/cases/{case_id}/close", json=closing, headers=headers)
    assert (again.status_code, again.json()["event_id"]) == (202, str(expected))
    other = client.post(f"/inspectors/cases/{case_id}/close",
                        json={"finding": "genuine"}, headers=headers)  # fmt: skip
    assert (other.status_code, other.json()["error"]) == (409, "case_closed")
    unknown = client.post(f"/inspectors/cases/{uuid.uuid4()}/close", json=closing,
                          headers=headers)  # fmt: skip
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_case")
    assert len(api.events.findings) == 1


def test_the_openapi_documents_every_status_of_the_new_routes(client: TestClient):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"202", "200", "422", "403", "503", "429"} <= set(paths["/reports"]["post"]["responses"])
    form_route = paths["/reports/form"]["post"]
    assert "application/x-www-form-urlencoded" in form_route["requestBody"]["content"]
    assert "text/html" in form_route["responses"]["202"]["content"]
    close = paths["/inspectors/cases/{case_id}/close"]["post"]["responses"]
    assert {"202", "401", "403", "404", "409", "422", "503"} <= set(close)
    assert "finding_unconfirmed" in close["503"]["description"]
    assert "report_unconfirmed" in paths["/reports"]["post"]["responses"]["503"]["description"]
    assert {"/inspectors/cases", "/inspectors/cases/unit", "/inspectors/cases/{case_id}"} <= set(
        paths
    )


# -- the scan processor files and closes cases ------------------------------------------------


@dataclass
class FakeCaseWriter:
    opened: list[tuple[ConsumerReported, list[uuid.UUID]]] = field(default_factory=list)
    closed: list[CaseClosed] = field(default_factory=list)
    known: set[uuid.UUID] = field(default_factory=set)

    async def open_case(self, report: ConsumerReported, alert_ids: list[uuid.UUID]) -> bool:
        self.opened.append((report, alert_ids))
        new = report.event_id not in self.known
        self.known.add(report.event_id)
        return new

    async def close_case(self, closing: CaseClosed) -> bool:
        self.closed.append(closing)
        return closing.case_id in self.known


@dataclass
class AlertShelf:
    alerts: list[AlertRow]

    async def alerts_for_unit(self, unit_key: str) -> list[AlertRow]:
        return [alert for alert in self.alerts if alert.unit_key == unit_key]


def test_the_processor_files_a_report_with_the_units_open_alerts_and_closes_it():
    unit = identifiers.unit_key(PRODUCT, "NRK7V270YXWP")
    alerts = [
        AlertRow(unit, uuid.UUID(int=1), "impossible_travel", utc_now(), None, "", "open"),
        AlertRow(unit, uuid.UUID(int=2), "never_packed", utc_now(), None, "", "closed"),
        AlertRow("/p/OTHER-01/21/NRK7V270YXWP", uuid.UUID(int=3), "x", utc_now(), None, "", "open"),
    ]
    writer, metrics, refused = FakeCaseWriter(), Metrics(), []

    async def refuse(message: Message, reason: str, detail: str) -> None:
        refused.append(reason)

    ingest = ScanIngest(AlertShelf(alerts), {}, None, refuse, metrics, cases=writer)  # type: ignore[arg-type]
    report = ConsumerReported(
        event_id=uuid.uuid4(), occurred_at=utc_now(), code=f"https://ocop.vn{unit}",
        batch_id=identifiers.batch_id(PRODUCT, LOT), serial="NRK7V270YXWP", province="Thái Bình",
        reason=Reason.GENUINE, shop="Chợ Bo", problem=ReportProblem.CODE_COPIED,
    )  # fmt: skip

    def message(event: Any) -> Message:
        return Message("ocop.scan-events", 0, 0, event.topic_key(), encode_event(event))

    asyncio.run(ingest.handle(message(report)))
    asyncio.run(ingest.handle(message(report)))  # a copy: the same case
    assert writer.opened == [(report, [uuid.UUID(int=1)])] * 2
    assert metrics.duplicates["ocop.scan-events"] == 1
    closing = CaseClosed(
        event_id=uuid.uuid4(), occurred_at=utc_now(), case_id=report.event_id, unit_key=unit,
        inspector_id="QLTT-TB-07", finding=InspectionVerdict.COUNTERFEIT,
    )  # fmt: skip
    asyncio.run(ingest.handle(message(closing)))
    assert writer.closed == [closing]
    assert refused == []
    stray = closing.model_copy(update={"case_id": uuid.uuid4()})
    asyncio.run(ingest.handle(message(stray)))
    assert refused == ["unknown_case"]
