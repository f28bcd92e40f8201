"""The inspectors' workspace without servers: its sessions (signing, expiry, tampering, the
CSRF check, a withdrawn token) as pure functions, then the workspace's pages through the
API app with in-memory records and a recording event sink (test_api_http's), where a forged
cookie and a form without its CSRF token send nothing.

tests/integration/test_backoffice_browser.py shows the same in Chromium on the real stack.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import re
import uuid
import warnings
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from backoffice.forms import Outcome, split_note, tagged_note
from backoffice.i18n import EN, VI
from backoffice.session import (
    COOKIE,
    PRE_SESSION_S,
    Refusal,
    Refused,
    Sessions,
    inspector_of,
    workspace_key,
)
from contract import identifiers
from contract.events import (
    AlertClosed,
    CaseClosed,
    InspectionRecorded,
    InspectionVerdict,
    ScannerKind,
)
from contract.label import vietnam_date
from contract.verdict import Lang
from keys.certs import utc_now
from records.rows import AlertRow, Inspector
from tests.unit.test_api_http import (
    INSPECTOR_TOKEN,
    SALT,
    SUPERVISOR_TOKEN,
    WITHDRAWN_TOKEN,
    Api,
    digest,
)
from tests.unit.test_api_reports import FakeCases, case_row
from tests.world import PRODUCT, World
from verify_api.routes.cases import closing_event_id
from verify_api.routes.inspectors import finding_event_id
from verify_api.schemas import CaseClosing
from verify_api.settings import ApiSettings, Environment

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

KEY = b"k" * 32
TOKEN_HASH = hashlib.sha256(b"a token").hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock: Clock) -> Sessions:
    return Sessions(KEY, 3600, clock=clock)


# -- signing and expiry ----------------------------------------------------------------------


def test_a_session_reads_back_as_signed(sessions: Sessions, clock: Clock):
    session = sessions.sign_in(TOKEN_HASH, "Thái Bình", Lang.EN)
    assert session.expires == int(clock.now) + 3600
    value = sessions.encode(session)
    assert value.startswith("v1.")
    assert "a token" not in value  # only the token's hash travels
    assert sessions.decode(value) == session
    assert sessions.max_age(session) == 3600
    again = sessions.sign_in(TOKEN_HASH, "Thái Bình", Lang.EN)
    assert again.sid != session.sid  # every sign-in is a new session


def test_a_session_ends_at_its_expiry(sessions: Sessions, clock: Clock):
    value = sessions.encode(sessions.sign_in(TOKEN_HASH, None, Lang.VI))
    clock.now += 3599
    assert sessions.decode(value).token_sha256 == TOKEN_HASH
    clock.now += 1
    with pytest.raises(Refused) as refused:
        sessions.decode(value)
    assert refused.value.reason is Refusal.EXPIRED
    pre = sessions.encode(sessions.pre_session(Lang.VI))
    clock.now += PRE_SESSION_S
    with pytest.raises(Refused):
        sessions.decode(pre)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_tampered_or_foreign_session_is_forged(sessions: Sessions, clock: Clock):
    session = sessions.sign_in(TOKEN_HASH, "Thái Bình", Lang.VI)
    value = sessions.encode(session)
    version, payload, mac = value.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=="))
    for change in ({"tok": hashlib.sha256(b"other").hexdigest()}, {"exp": fields["exp"] + 10**6},
                   {"prov": "Hà Nội"}):  # fmt: skip
        altered = _b64(json.dumps(fields | change, sort_keys=True, separators=(",", ":")).encode())
        with pytest.raises(Refused) as refused:
            sessions.decode(f"{version}.{altered}.{mac}")
        assert refused.value.reason is Refusal.FORGED
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    foreign = Sessions(b"another key of 32 bytes.........", 3600, clock=clock).encode(session)
    for value_sent in (f"{version}.{payload}.{flipped}", foreign, f"{version}.{payload}.!!"):
        with pytest.raises(Refused) as refused:
            sessions.decode(value_sent)
        assert refused.value.reason is Refusal.FORGED
    for malformed in ("", "v1", "v2." + payload + "." + mac, "a.b.c.d", "v1." + "x" * 2000 + ".y"):
        with pytest.raises(Refused) as refused:
            sessions.decode(malformed)
        assert refused.value.reason is Refusal.MALFORMED


def test_the_key_is_derived_from_the_salt_and_never_a_default(world: World):
    settings = ApiSettings(root_key=world.root.public_key_text, device_salt=SALT)
    key = workspace_key(settings)
    assert key == workspace_key(settings)  # every process of the API agrees
    assert SALT.encode() not in key
    assert len(key) == 32
    development = ApiSettings(
        root_key=world.root.public_key_text, environment=Environment.DEVELOPMENT
    )
    assert workspace_key(development) != workspace_key(development)  # random, per process
    with pytest.raises(ValueError, match="OCOP_DEVICE_SALT is required"):
        ApiSettings(root_key=world.root.public_key_text)
    with pytest.raises(ValueError, match="16 bytes"):
        Sessions(b"short", 3600)


# -- CSRF -------------------------------------------------------------------------------------


def test_a_form_needs_its_own_sessions_csrf_token(sessions: Sessions):
    session = sessions.sign_in(TOKEN_HASH, None, Lang.VI)
    token = sessions.csrf_token(session)
    sessions.check_csrf(session, token)
    refusals = [(None, Refusal.NO_CSRF), ("", Refusal.NO_CSRF)]
    refusals += [(token[:-1], Refusal.BAD_CSRF), (token + "x", Refusal.BAD_CSRF)]
    for sent, reason in refusals:
        with pytest.raises(Refused) as refused:
            sessions.check_csrf(session, sent)
        assert refused.value.reason is reason
    other = sessions.sign_in(TOKEN_HASH, None, Lang.VI)  # the same inspector, signed in again
    with pytest.raises(Refused):
        sessions.check_csrf(other, token)
    pre = sessions.pre_session(Lang.VI)  # the sign-in form's token is not the session's
    with pytest.raises(Refused):
        sessions.check_csrf(session, sessions.csrf_token(pre))


# -- the inspector behind a session -----------------------------------------------------------


class Inspectors:
    def __init__(self, *rows: tuple[str, Inspector]) -> None:
        self.rows = dict(rows)
        self.asked: list[str] = []

    async def inspector(self, token_sha256: str) -> Inspector | None:
        self.asked.append(token_sha256)
        return self.rows.get(token_sha256)


def test_a_withdrawn_token_ends_the_session_at_the_next_request(sessions: Sessions):
    session = sessions.sign_in(TOKEN_HASH, None, Lang.VI)
    active = Inspector("QLTT-TB-07", "Nguyễn Văn An", "inspector", "VN-34", True)
    store = Inspectors((TOKEN_HASH, active))
    assert asyncio.run(inspector_of(session, store)) == active
    assert store.asked == [TOKEN_HASH]  # looked up by the hash, at every request
    store.rows[TOKEN_HASH] = Inspector("QLTT-TB-07", "Nguyễn Văn An", "inspector", "VN-34", False)
    for rows, reason in (({TOKEN_HASH: store.rows[TOKEN_HASH]}, Refusal.WITHDRAWN),
                         ({}, Refusal.WITHDRAWN)):  # fmt: skip
        store.rows = rows
        with pytest.raises(Refused) as refused:
            asyncio.run(inspector_of(session, store))
        assert refused.value.reason is reason
    store.rows = {TOKEN_HASH: Inspector("X", "Y", "auditor", "VN-34", True)}
    with pytest.raises(Refused) as refused:
        asyncio.run(inspector_of(session, store))
    assert refused.value.reason is Refusal.FORBIDDEN
    with pytest.raises(Refused) as refused:
        asyncio.run(inspector_of(sessions.pre_session(Lang.VI), store))
    assert refused.value.reason is Refusal.SIGNED_OUT


def test_every_refusal_and_word_has_both_languages():
    assert VI.keys() == EN.keys()
    for reason in Refusal:
        assert reason.sentence(Lang.VI) != reason.sentence(Lang.EN)
        assert int(reason.status) in (401, 403)


def test_an_outcome_travels_as_a_verdict_and_a_tagged_note():
    assert Outcome.LOGO_LAPSED.verdict is InspectionVerdict.SUSPICIOUS
    assert Outcome.COPIED_CODE.verdict is InspectionVerdict.COUNTERFEIT
    for outcome in Outcome:
        assert split_note(tagged_note(outcome, "tem mờ")) == (outcome, "tem mờ")
        assert split_note(tagged_note(outcome, None)) == (outcome, None)
    assert split_note("[not_an_outcome] x") == (None, "[not_an_outcome] x")
    assert split_note(None) == (None, None)


# -- the workspace in the API app (no servers) ------------------------------------------------


@pytest.fixture
def api(world: World) -> Api:
    held = Api(world)
    held.app.state.cases = FakeCases()  # the cases' reader the API and the workspace share
    return held


@pytest.fixture
def browser(api: Api) -> Iterator[TestClient]:
    # https: the session cookie is Secure (the public origin is https://ocop.vn)
    with TestClient(api.app, base_url="https://testserver") as client:
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


def signed_in(client: TestClient, token: str = INSPECTOR_TOKEN) -> str:
    """Signs in through the form; the scan page's CSRF token."""
    form = client.get("/inspect/")
    assert form.status_code == 200
    assert 'id="sign-in-form"' in form.text
    sent = {"csrf": csrf_of(form.text), "token": token, "province": "Thái Bình"}
    response = client.post("/inspect/sign-in", data=sent, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/inspect/")
    page = client.get("/inspect/")
    assert 'id="scan-form"' in page.text
    return csrf_of(page.text)


def cookie_of(response: Any) -> Any:
    (morsel,) = SimpleCookie(response.headers["set-cookie"]).values()
    return morsel


def test_signing_in_sets_a_strict_secure_cookie_for_the_workspace_only(api: Api, browser):
    form = browser.get("/inspect/")
    pre = cookie_of(form)
    assert (pre["path"], pre["httponly"], pre["samesite"].lower(), pre["secure"]) == (
        "/inspect", True, "strict", True,
    )  # fmt: skip
    sent = {"csrf": csrf_of(form.text), "token": INSPECTOR_TOKEN, "province": "Thái Bình"}
    response = browser.post("/inspect/sign-in", data=sent, follow_redirects=False)
    session = cookie_of(response)
    assert (session["path"], session["httponly"], session["samesite"].lower()) == (
        "/inspect", True, "strict",
    )  # fmt: skip
    assert session["secure"] is True
    assert int(session["max-age"]) == 10 * 3600
    assert session.value != pre.value  # a new session at sign-in: a fixed one is worthless
    assert INSPECTOR_TOKEN not in session.value

    http = Api(api.shelf.world, public_base_url="http://127.0.0.1")
    with TestClient(http.app, base_url="http://testserver") as plain:
        assert not cookie_of(plain.get("/inspect/"))["secure"]


def test_a_wrong_or_withdrawn_token_does_not_sign_in(browser):
    for token in (WITHDRAWN_TOKEN, "not-the-token-of-anyone-at-all", "x"):
        form = browser.get("/inspect/")
        sent = {"csrf": csrf_of(form.text), "token": token}
        response = browser.post("/inspect/sign-in", data=sent, follow_redirects=False)
        assert response.status_code == 401
        assert 'id="sign-in-refused"' in response.text
    form = browser.get("/inspect/")
    no_csrf = browser.post("/inspect/sign-in", data={"token": INSPECTOR_TOKEN})
    assert no_csrf.status_code == 403  # login CSRF: the form's pre-session token is needed
    assert "csrf_missing" in no_csrf.text
    assert form.status_code == 200


def test_a_scan_shows_the_verdict_and_is_an_inspectors_scan(api: Api, browser):
    csrf = signed_in(browser)
    label = api.shelf.labels[0]
    unit = identifiers.unit_key(PRODUCT, label.serial)
    api.shelf.store.alerts = [
        AlertRow(unit, uuid.uuid4(), "too_many_devices", utc_now(), "Thái Bình", "9", "open"),
    ]
    page = browser.post("/inspect/check", data={"csrf": csrf, "code": label.url, "via": "zxing"})
    assert page.status_code == 200
    assert 'data-reason="genuine"' in page.text
    assert 'data-via="zxing"' in page.text
    assert "Mắm cáy Hồng Tiến" in page.text
    assert "quá nhiều thiết bị" in page.text  # the unit's open alert, inspectors only
    assert 'name="stars" value="4" checked' in page.text  # the printed stars, preselected
    assert 'name="outcome" value="genuine" checked' in page.text
    (scan,) = api.events.scans
    assert (scan.scanner, scan.province, scan.device) == (ScannerKind.INSPECTOR, "Thái Bình", None)

    ean = browser.post("/inspect/check", data={"csrf": csrf, "code": "8934567890120"})
    assert 'href="/registry/products/01/08934567890120"' in ean.text
    not_ean = browser.post("/inspect/check", data={"csrf": csrf, "code": "8934567890125"})
    assert "/registry/" not in not_ean.text  # a bad check digit is no barcode


def test_a_finding_is_sent_as_the_api_sends_one_and_a_resend_is_the_same(api: Api, browser):
    csrf = signed_in(browser)
    label = api.shelf.labels[0]
    page = browser.post("/inspect/check", data={"csrf": csrf, "code": label.url})
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    finding = {"csrf": csrf, "code": label.url, "key": key[1], "stars": "5", "shop": "Chợ Bo",
               "province": "Thái Bình", "outcome": "logo_above_rating",
               "note": "logo 5 sao"}  # fmt: skip
    api.events.down = True
    refused = browser.post("/inspect/findings", data=finding)
    assert refused.status_code == 503
    assert 'id="resend-form"' in refused.text
    assert key[1] in refused.text
    api.events.down = False
    recorded = browser.post("/inspect/findings", data=finding)
    assert recorded.status_code == 202
    resent = browser.post("/inspect/findings", data=finding)
    assert resent.status_code == 202
    first, second = api.events.findings
    assert isinstance(first, InspectionRecorded)
    assert first.event_id == second.event_id == finding_event_id("QLTT-inspector", key[1])
    assert (first.stars_seen, first.verdict, first.place, first.note) == (
        5, InspectionVerdict.COUNTERFEIT, "Chợ Bo", "[logo_above_rating] logo 5 sao",
    )  # fmt: skip
    assert first.occurred_at == second.occurred_at
    bad = browser.post("/inspect/findings", data=finding | {"stars": "6", "outcome": "maybe"})
    assert bad.status_code == 422
    assert "outcome" in bad.text
    assert "stars" in bad.text
    assert len(api.events.findings) == 2


def test_alerts_of_the_province_newest_first_filtered_and_closable(api: Api, browser):
    csrf = signed_in(browser)
    unit = identifiers.unit_key(PRODUCT, api.shelf.labels[0].serial)
    now = utc_now()
    older, newer, closed, elsewhere = (uuid.uuid4() for _ in range(4))
    api.shelf.store.alerts = [
        AlertRow(unit, older, "never_packed", now - timedelta(days=2), "Thái Bình", "", "open"),
        AlertRow(unit, newer, "too_many_devices", now - timedelta(hours=1), "Thái Bình", "",
                 "open"),
        AlertRow(unit, closed, "never_packed", now, "Thái Bình", "", "closed", "QLTT-1", "genuine"),
        AlertRow(unit, elsewhere, "never_packed", now, "Hà Nội", "", "open"),
    ]  # fmt: skip
    page = browser.get("/inspect/alerts").text
    assert page.index(str(newer)) < page.index(str(older))
    assert str(closed) not in page
    assert str(elsewhere) not in page
    kinds = browser.get("/inspect/alerts", params={"kind": "never_packed", "status": "any"}).text
    assert str(closed) in kinds
    assert str(older) in kinds
    assert str(newer) not in kinds
    hanoi = browser.get("/inspect/alerts", params={"province": "Hà Nội"}).text
    assert str(elsewhere) in hanoi

    closing = {"csrf": csrf, "unit_key": unit, "outcome": "copied_code", "note": "tem sao chép"}
    assert browser.post(f"/inspect/alerts/{newer}/close", data=closing).status_code == 202
    (sent,) = api.events.findings
    assert isinstance(sent, AlertClosed)
    assert (sent.alert_id, sent.finding, sent.note) == (
        newer, InspectionVerdict.COUNTERFEIT, "[copied_code] tem sao chép",
    )  # fmt: skip
    no_csrf = browser.post(f"/inspect/alerts/{older}/close", data=closing | {"csrf": ""})
    assert no_csrf.status_code == 403
    assert len(api.events.findings) == 1


def test_an_inspector_registered_for_a_province_triages_that_province_only(api: Api, browser):
    store = api.shelf.store
    held = store.inspectors[digest(INSPECTOR_TOKEN)]
    store.inspectors[digest(INSPECTOR_TOKEN)] = dataclasses.replace(held, province="Hà Nội")
    unit = identifiers.unit_key(PRODUCT, api.shelf.labels[0].serial)
    here, there = uuid.uuid4(), uuid.uuid4()
    store.alerts = [
        AlertRow(unit, here, "never_packed", utc_now(), "Hà Nội", "", "open"),
        AlertRow(unit, there, "never_packed", utc_now(), "Thái Bình", "", "open"),
    ]  # fmt: skip
    signed_in(browser)  # the form says Thái Bình; the records say Hà Nội
    page = browser.get("/inspect/alerts").text
    assert str(here) in page
    assert str(there) not in page
    elsewhere = browser.get("/inspect/alerts", params={"province": "Thái Bình"})
    assert elsewhere.status_code == 403
    assert str(there) not in elsewhere.text
    assert "Hà Nội" in elsewhere.text


def test_cases_of_the_province_newest_first_filtered_and_closable(api: Api, browser):
    cases: FakeCases = api.app.state.cases
    csrf = signed_in(browser)
    unit = identifiers.unit_key(PRODUCT, api.shelf.labels[0].serial)
    now = utc_now()
    today, yesterday = vietnam_date(now), vietnam_date(now - timedelta(days=1))
    older, newer, closed, elsewhere, old = (uuid.uuid4() for _ in range(5))
    linked = uuid.UUID(int=7)
    cases.rows = {
        older: case_row(older, unit, reported_at=now - timedelta(days=1), day=yesterday,
                        note="tem in mờ"),
        newer: case_row(newer, unit, reported_at=now, day=today, shop="Chợ Đồng Xuân"),
        closed: case_row(closed, unit, reported_at=now, day=today, status="closed",
                         closed_by="QLTT-1", finding="genuine", closed_at=now,
                         closing_event_id=uuid.uuid4()),
        elsewhere: case_row(elsewhere, unit, reported_at=now, day=today, province="Hà Nội"),
        old: case_row(old, unit, reported_at=now - timedelta(days=30),
                      day=vietnam_date(now - timedelta(days=30))),
    }  # fmt: skip
    page = browser.get("/inspect/alerts").text
    assert page.index(f'id="case-{newer}"') < page.index(f'id="case-{older}"')
    for absent in (closed, elsewhere, old):
        assert str(absent) not in page
    assert "Chợ Đồng Xuân" in page  # the shop, the consumer's choice and note, linked alerts
    assert 'data-problem="code_copied"' in page
    assert VI["problem_code_copied"] in page
    assert "tem in mờ" in page
    assert str(linked) in page
    assert "0912 345 678" not in page  # never a consumer's contact on a list
    closed_too = browser.get("/inspect/alerts", params={"status": "closed"}).text
    assert f'id="case-{closed}"' in closed_too
    assert f'id="case-{newer}"' not in closed_too
    hanoi = browser.get("/inspect/alerts", params={"province": "Hà Nội"}).text
    assert f'id="case-{elsewhere}"' in hanoi
    assert f'id="case-{newer}"' not in hanoi

    closing = {"csrf": csrf, "outcome": "copied_code", "note": "tem sao chép"}
    no_csrf = browser.post(f"/inspect/cases/{newer}/close", data=closing | {"csrf": ""})
    assert no_csrf.status_code == 403
    other = browser.post(f"/inspect/cases/{newer}/close", data=closing | {"csrf": "not-it"})
    assert other.status_code == 403
    assert api.events.findings == []
    done = browser.post(f"/inspect/cases/{newer}/close", data=closing)
    assert done.status_code == 202
    assert EN["case_closed"] in done.text or VI["case_closed"] in done.text
    (sent,) = api.events.findings
    assert isinstance(sent, CaseClosed)
    note = "[copied_code] tem sao chép"
    assert (sent.case_id, sent.unit_key, sent.finding, sent.note, sent.inspector_id) == (
        newer, unit, InspectionVerdict.COUNTERFEIT, note, "QLTT-inspector",
    )  # fmt: skip
    # the JSON route's own event id: one closing, whichever way it is sent
    body = CaseClosing(finding=InspectionVerdict.COUNTERFEIT, note=note)
    assert sent.event_id == closing_event_id(newer, "QLTT-inspector", body)
    refused = browser.post(f"/inspect/cases/{closed}/close", data=closing)
    assert refused.status_code == 409  # closed otherwise: the first closing stands
    unknown = browser.post(f"/inspect/cases/{uuid.uuid4()}/close", data=closing)
    assert unknown.status_code == 404
    assert len(api.events.findings) == 1


def test_a_forged_cookie_or_a_form_without_its_token_sends_nothing(api: Api, browser):
    csrf = signed_in(browser)
    code = api.shelf.labels[0].url
    session = browser.cookies[COOKIE]
    version, payload, mac = session.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = _b64(json.dumps(fields | {"tok": digest(SUPERVISOR_TOKEN)}).encode())
    for cookie in (f"{version}.{forged}.{mac}", "v1.e30.AAAA", "nonsense"):
        for method, data in (("GET", None), ("POST", {"csrf": csrf, "code": code})):
            browser.cookies.set(COOKIE, cookie, domain="testserver.local", path="/inspect")
            url = "/inspect/" if method == "GET" else "/inspect/check"
            response = browser.request(method, url, data=data, follow_redirects=False)
            assert response.status_code == 401
            assert 'id="error-vi"' in response.text
            assert 'id="error-en"' in response.text
            assert "Max-Age=0" in response.headers["set-cookie"]  # the cookie is cleared
        browser.cookies.clear()
    assert api.events.scans == []
    assert api.events.findings == []

    csrf = signed_in(browser)
    for sent in ({"code": code}, {"code": code, "csrf": "not-it"}):
        response = browser.post("/inspect/check", data=sent)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert api.events.scans == []
    signed_out = browser.post("/inspect/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert 'id="sign-in-form"' in browser.get("/inspect/").text
    assert browser.get("/inspect/alerts", follow_redirects=False).status_code == 303


def test_a_token_withdrawn_after_signing_in_ends_the_session(api: Api, browser):
    csrf = signed_in(browser)
    store = api.shelf.store
    held = store.inspectors[digest(INSPECTOR_TOKEN)]
    store.inspectors[digest(INSPECTOR_TOKEN)] = Inspector(
        held.inspector_id, held.name, held.role, held.authority_id, False
    )
    response = browser.post("/inspect/check", data={"csrf": csrf, "code": "x"})
    assert response.status_code == 401
    assert "token_withdrawn" in response.text
    assert api.events.scans == []


def test_the_workspace_has_its_own_policy_and_small_pages(api: Api, browser):
    page = browser.get("/inspect/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "form-action 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "wasm-unsafe-eval" not in policy
    assert page.headers["permissions-policy"].startswith("camera=(self)")
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text
    assert "style=" not in page.text
    api_page = browser.get("/inspectors/me")  # the API beside it asks for no camera
    assert api_page.headers["permissions-policy"].startswith("camera=()")

    csrf = signed_in(browser)
    scan = browser.get("/inspect/")
    verdict = browser.post("/inspect/check", data={"csrf": csrf, "code": api.shelf.labels[0].url})
    alerts = browser.get("/inspect/alerts")
    assets = re.findall(r'(?:href|src)="(/inspect/static/[^"]+)"', scan.text)
    assert len(assets) == 2  # the stylesheet and scan.js; the decoder only when needed
    files = [browser.get(url) for url in assets]
    for asset in files:
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    # what a phone fetches on a slow connection, before the camera: a few kilobytes
    pages = [("scan", scan), ("verdict", verdict), ("alerts", alerts)]
    sizes = {name: len(r.content) for name, r in [*pages, *zip(assets, files, strict=True)]}
    print("workspace bytes:", sizes)
    assert max(sizes["scan"], sizes["verdict"], sizes["alerts"]) < 8_000
    assert sizes["scan"] + sum(len(r.content) for r in files) < 16_000
    decoder = browser.get("/inspect/static/zxing.min.js", headers={"Accept-Encoding": "gzip"})
    assert decoder.headers["content-encoding"] == "gzip"
    assert int(decoder.headers["content-length"]) < 110_000  # the package's own gzip
