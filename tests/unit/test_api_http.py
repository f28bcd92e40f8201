"""The HTTP layer without servers: routes, status codes, formats, languages, auth, limits.

The app runs with in-memory records (test_api_resolution.FakeStore) and a recording event
sink instead of Cassandra and Kafka; tests/integration/test_api_stack.py runs the same
routes against the real stack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
import warnings
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import pytest
from cassandra.cluster import NoHostAvailable
from starlette.exceptions import StarletteDeprecationWarning

from contract import identifiers
from contract.events import (
    AlertClosed,
    InspectionRecorded,
    InspectionVerdict,
    ScannerKind,
    ScanRecorded,
)
from contract.verdict import Reason
from keys.certs import utc_now
from keys.chain import ChainRecord, verify_chain
from keys.ids import decode_public_key
from keys.signing import SigningKey
from keys.trustlist import build_trust_list
from records.rows import AlertRow, Inspection, Inspector
from tests.unit.test_api_resolution import Shelf, forge_stars
from tests.world import LOT, NOW, PRODUCT, World
from verify_api.app import create_app
from verify_api.events import EventCounters, EventsUnavailable, Finding
from verify_api.facts import Memory
from verify_api.rendering import Pages
from verify_api.services import Services, resolver_for
from verify_api.settings import ApiSettings
from verify_api.trustcache import TrustCache

with warnings.catch_warnings():  # Starlette suggests httpx2 for its test client; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SALT = "unit-test-salt-0123456789"
JSON = {"Accept": "application/json"}
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "vi-VN,vi;q=0.9",
}
INSPECTOR_TOKEN = "inspector-token-abcdefghijklmnop"
SUPERVISOR_TOKEN = "supervisor-token-abcdefghijklmnop"
WITHDRAWN_TOKEN = "withdrawn-token-abcdefghijklmnopq"


class FakeEvents:
    def __init__(self) -> None:
        self.counters = EventCounters()
        self.capacity = 100
        self.scans: list[ScanRecorded] = []
        self.findings: list[Finding] = []
        self.messages: list[tuple[str, bytes, bytes]] = []
        self.down = False

    def offer(self, scan: ScanRecorded) -> None:
        self.scans.append(scan)

    async def deliver(self, finding: Finding) -> None:
        if self.down:
            raise EventsUnavailable("Kafka is not connected")
        self.findings.append(finding)

    async def deliver_to(self, topic: str, key: bytes, value: bytes, event_id: Any) -> None:
        if self.down:
            raise EventsUnavailable("Kafka is not connected")
        self.messages.append((topic, key, value))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Api:
    """The app over a shelf of records, with a test client and what it sent."""

    def __init__(self, world: World, **settings: Any) -> None:
        self.shelf = Shelf(world)
        self.events = FakeEvents()
        store = self.shelf.store
        for token, role, active in (
            (INSPECTOR_TOKEN, "inspector", True),
            (SUPERVISOR_TOKEN, "supervisor", True),
            (WITHDRAWN_TOKEN, "inspector", False),
        ):
            store.inspectors[digest(token)] = Inspector(
                f"QLTT-{role}", "Nguyễn Văn An", role, "VN-34", active
            )
        store.trust_list = world.trust_list_bytes(now=utc_now())  # fresh: not stale today
        self.settings = ApiSettings.model_validate(
            {
                "root_key": world.root.public_key_text,
                "device_salt": SALT,
                "rate_limit_per_s": 0,
                "trust_list_ttl_s": 0,
                "record_cache_s": 0,
                "resolver_host": "ocop.vn",
            }
            | settings
        )
        self.app = create_app(self.settings, services=self.services)

    async def services(self, settings: ApiSettings) -> Services:
        async def close() -> None:
            return None

        store = self.shelf.store
        memory = Memory(64 * 1024 * 1024)
        return Services(
            settings=settings,
            store=store,
            trust=TrustCache(
                store, self.shelf.world.root.public_key, ttl_s=settings.trust_list_ttl_s
            ),
            resolver=resolver_for(settings, store, memory),
            events=self.events,
            device_key=SALT.encode(),
            close=close,
            pages=Pages(memory),
        )

    def path(self, index: int = 0) -> str:
        return self.shelf.labels[index].url.removeprefix("https://ocop.vn")


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app, base_url="http://testserver") as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- resolution ------------------------------------------------------------------------------


def test_an_app_gets_json_and_the_scan_names_the_unit(api: Api, client: TestClient):
    response = client.get(api.path(), headers=JSON | {"X-Device-Id": "app-device-0001"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["level"], body["reason"]) == ("genuine", "genuine")
    assert body["stars"]["printed"] == body["stars"]["current"] == 4

    (scan,) = api.events.scans
    label = api.shelf.labels[0]
    assert (scan.batch_id, scan.serial) == (identifiers.batch_id(PRODUCT, LOT), label.serial)
    assert (scan.reason, scan.scanner) == (Reason.GENUINE, ScannerKind.CONSUMER)
    expected = hmac.new(SALT.encode(), b"app-device-0001", hashlib.sha256).hexdigest()
    assert scan.device == expected


def test_a_browser_gets_the_page_in_vietnamese_and_a_device_cookie(api: Api, client: TestClient):
    response = client.get(api.path() + "&province=" + quote("Thái Bình"), headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Chính hãng" in page
    assert "★★★★" in page
    assert "Mắm cáy Hồng Tiến" in page
    assert "Huyện Kiến Xương" in page
    assert "Siêu thị BigC Thái Bình" in page
    cookie = response.cookies["ocop_device"]
    (morsel,) = SimpleCookie(response.headers["set-cookie"]).values()  # as a browser reads it
    assert (morsel.value, morsel["httponly"], morsel["samesite"], morsel["path"]) == (
        cookie, True, "lax", "/",
    )  # fmt: skip
    assert int(morsel["max-age"]) == 2 * 365 * 86_400
    assert morsel["secure"] is True  # the public origin, https://ocop.vn, is https
    (scan,) = api.events.scans
    assert scan.province == "Thái Bình"
    assert scan.device == hmac.new(SALT.encode(), cookie.encode(), hashlib.sha256).hexdigest()


def test_a_genuine_url_with_tracking_pairs_is_genuine_and_a_signed_pair_changed_is_not(
    api: Api, client: TestClient
):
    tracked = client.get(api.path() + "&utm_source=x&fbclid=y", headers=JSON).json()
    assert (tracked["level"], tracked["reason"]) == ("genuine", "genuine")
    for signed, changed in (("s=4", "s=5"), ("13=250310", "13=250311")):
        forged = client.get(api.path().replace(signed, changed) + "&utm_source=x", headers=JSON)
        assert forged.json()["level"] == "counterfeit", signed
    doubled = client.get(api.path() + "&s=5", headers=JSON)  # a signed pair said twice
    assert (doubled.status_code, doubled.json()["reason"]) == (400, "malformed")


def test_raw_text_to_verify_is_trimmed(api: Api, client: TestClient):
    text = api.shelf.labels[0].url
    for padded in (f" {text}", f"{text}\n", f"\t{text} \r\n"):
        body = client.post("/verify", json={"text": padded}, headers=JSON).json()
        assert (body["level"], body["reason"]) == ("genuine", "genuine"), repr(padded)
    blank = client.post("/verify", json={"text": "  \n"}, headers=JSON)
    assert blank.status_code == 422


def test_the_scan_names_the_clients_network_not_its_claims(api: Api, client: TestClient):
    client.get(api.path(), headers=JSON | {"X-Device-Id": "device-one-0001"})
    client.get(api.path(), headers=JSON | {"X-Forwarded-For": "203.0.113.9"})
    first, second = api.events.scans
    assert first.client is not None
    assert first.client == second.client  # a forwarded-for from an untrusted peer is ignored
    assert first.client != first.device


def test_the_device_cookie_is_secure_over_https(api: Api):
    with TestClient(api.app, base_url="https://ocop.vn") as client:
        response = client.get(api.path(), headers=BROWSER)
    (morsel,) = SimpleCookie(response.headers["set-cookie"]).values()
    assert morsel["secure"] is True


@pytest.mark.parametrize(
    ("query", "headers"),
    [("&lang=en", BROWSER), ("", {"Accept-Language": "en-US,en;q=0.9"})],
)
def test_english_on_request(api: Api, client: TestClient, query, headers):
    page = client.get(api.path() + query, headers=headers).text
    assert "Genuine" in page
    assert "Chính hãng" not in page
    assert "Hong Tien crab paste" in page
    assert "lang=vi" in page  # the link back to Vietnamese


def test_a_forged_label_is_an_answer_and_its_scan_names_no_unit(api: Api, client: TestClient):
    forged = forge_stars(api.shelf.labels[0], 5).removeprefix("https://ocop.vn")
    response = client.get(forged, headers=JSON)
    assert response.status_code == 200
    assert (response.json()["level"], response.json()["reason"]) == ("counterfeit", "bad_signature")
    page = client.get(forged, headers=BROWSER).text
    assert "nghi hàng giả" in page
    assert all(scan.batch_id is None for scan in api.events.scans)
    assert api.events.scans[0].reason is Reason.BAD_SIGNATURE


def test_a_label_for_another_host_does_not_verify_here(world: World):
    elsewhere = Api(world, resolver_host="tem.ocop.example")
    with TestClient(elsewhere.app) as client:
        body = client.get(elsewhere.path(), headers=JSON).json()
    assert body["reason"] == "bad_signature"  # the host is signed: a copy elsewhere fails


def test_a_malformed_label_field_is_400_with_the_verdict(api: Api, client: TestClient):
    path = api.path().replace("/01/08931234567897/", "/01/08931234567890/")  # check digit
    response = client.get(path, headers=JSON)
    assert response.status_code == 400
    assert (response.json()["reason"], response.json()["defect"]) == ("malformed", "bad_gtin")
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 400
    assert "Không phải mã OCOP" in page.text


def test_a_path_that_is_not_a_digital_link_is_404_with_a_clear_body(client: TestClient):
    response = client.get("/02/08931234567897", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "/01/<GTIN-14>/10/<lot>/21/<serial>" in response.json()["detail"]
    page = client.get("/nothing/here", headers=BROWSER)
    assert page.status_code == 404
    assert "/01/&lt;GTIN&gt;" in page.text  # escaped in HTML


def test_oversize_requests_are_413_and_414(client: TestClient, api: Api):
    assert client.get("/01/" + "9" * 3000, headers=JSON).status_code == 414
    response = client.post("/verify", content=b'{"text": "' + b"x" * 40_000 + b'"}', headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_the_rate_limit_answers_429_with_retry_after(world: World):
    api = Api(world, rate_limit_per_s=0.5, rate_limit_burst=3)
    with TestClient(api.app) as client:
        statuses = [client.get("/.well-known/ocop-trust-list").status_code for _ in range(4)]
        refused = client.get(api.path(), headers=JSON)
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1


def test_records_down_is_503_not_500(api: Api, client: TestClient):
    api.shelf.store.failure = NoHostAvailable("down", {})
    response = client.get(api.path(), headers=JSON)
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable"


def test_without_a_trust_list_codes_get_503(world: World):
    empty = Api(world)
    empty.shelf.store.trust_list = None
    with TestClient(empty.app) as client:
        response = client.get(empty.path(), headers=JSON)
        assert response.status_code == 503
        assert response.json()["error"] == "no_trust_list"
        assert client.get("/.well-known/ocop-trust-list").status_code == 503
        ready = client.get("/health/ready")
        assert (ready.status_code, ready.json()["checks"]["trust_list"]["ok"]) == (503, False)
        assert client.get("/health/live").status_code == 200


def test_a_key_certified_after_the_list_was_loaded_is_found_in_the_newer_list(world: World):
    api = Api(world, trust_list_ttl_s=600)  # only an unknown key makes it look again
    newcomer = SigningKey.generate()
    label = world.label(key=newcomer)
    with TestClient(api.app) as client:
        assert client.get("/health/ready").json()["trust_list"]["version"] == 1
        api.shelf.store.trust_list = build_trust_list(
            world.root, version=2, authorities=world.authorities,
            producer_keys=[*world.producer_keys, world.producer_key(newcomer, now=NOW)],
            certifications=world.certifications, now=utc_now(),
        )  # fmt: skip
        body = client.get(label.url.removeprefix("https://ocop.vn"), headers=JSON).json()
    assert body["reason"] == "not_packed"  # verified under the new key; no unit was packed
    assert body["trust_list"]["version"] == 2


# -- raw QR text -----------------------------------------------------------------------------


def test_raw_qr_text_gets_the_same_verdict_and_text_not_ours_is_200(api: Api, client: TestClient):
    label = api.shelf.labels[0]
    body = client.post("/verify", json={"text": label.url, "province": "Hà Nội"}).json()
    assert (body["level"], body["label"]["serial"]) == ("genuine", label.serial)
    other = client.post("/verify", json={"text": "WIFI:S:shop;T:WPA;P:secret;;"})
    assert other.status_code == 200
    assert (other.json()["reason"], other.json()["category"]) == ("malformed", "not_ours")
    assert [scan.province for scan in api.events.scans] == ["Hà Nội", None]


def test_an_invalid_body_is_422_with_every_problem(client: TestClient):
    response = client.post("/verify", json={"text": "", "province": "x" * 100})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "body.text" in body["detail"]
    assert "body.province" in body["detail"]


def test_an_inspectors_raw_scan_is_kept_apart_from_consumers(api: Api, client: TestClient):
    client.post("/verify", json={"text": api.shelf.labels[0].url}, headers=bearer(INSPECTOR_TOKEN))
    assert api.events.scans[0].scanner is ScannerKind.INSPECTOR
    refused = client.post(
        "/verify", json={"text": api.shelf.labels[0].url}, headers=bearer("not-a-token-at-all-xx")
    )
    assert refused.status_code == 401  # a bad token is refused, not taken as a consumer


# -- inspectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer("short"),
        bearer("unknown-token-abcdefghijklmnopq"),
        bearer(WITHDRAWN_TOKEN),
    ],
    ids=["missing", "not-bearer", "malformed", "unknown", "withdrawn"],
)
def test_inspector_endpoints_refuse_a_missing_or_wrong_token(client: TestClient, headers):
    for method, path, body in (
        ("GET", "/inspectors/me", None),
        ("POST", "/inspectors/inspections", {"code": "x", "stars_seen": 4,
                                             "verdict": "genuine", "place": "Chợ Bo"}),
        ("GET", "/inspectors/inspections?unit=/01/08931234567897/21/0123456789AB", None),
    ):  # fmt: skip
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_inspector_records_a_finding_once_kafka_has_it(api: Api, client: TestClient):
    label = api.shelf.labels[0]
    finding = {
        "code": forge_stars(label, 5), "stars_seen": 5, "verdict": "counterfeit",
        "place": "Chợ Bo, TP Thái Bình", "province": "Thái Bình", "note": "tem mờ",
    }  # fmt: skip
    response = client.post("/inspectors/inspections", json=finding, headers=bearer(INSPECTOR_TOKEN))
    assert response.status_code == 202
    assert (response.json()["reason"], response.json()["level"]) == ("bad_signature", "counterfeit")
    (sent,) = api.events.findings
    assert isinstance(sent, InspectionRecorded)
    assert (sent.inspector_id, sent.stars_seen, sent.verdict) == (
        "QLTT-inspector", 5, InspectionVerdict.COUNTERFEIT,
    )  # fmt: skip
    assert (sent.reason, sent.place, sent.note) == (
        Reason.BAD_SIGNATURE,
        finding["place"],
        "tem mờ",
    )
    assert sent.batch_id is None  # the forged code names no unit
    assert api.events.scans == []  # a finding is not also a consumer scan

    api.events.down = True
    failed = client.post("/inspectors/inspections", json=finding, headers=bearer(INSPECTOR_TOKEN))
    assert failed.status_code == 503
    assert failed.json()["error"] == "events_unavailable"


def test_only_supervisors_read_findings(api: Api, client: TestClient):
    unit = identifiers.unit_key(PRODUCT, api.shelf.labels[0].serial)
    api.shelf.store.findings[unit] = [
        Inspection(NOW, "QLTT-7", "https://ocop.vn/...", 4, "genuine", "genuine", "Chợ Bo",
                   None, None)
    ]  # fmt: skip
    url = f"/inspectors/inspections?unit={unit}"
    assert client.get(url, headers=bearer(INSPECTOR_TOKEN)).status_code == 403
    body = client.get(url, headers=bearer(SUPERVISOR_TOKEN)).json()
    assert (body["count"], body["inspections"][0]["inspector_id"]) == (1, "QLTT-7")
    bad = client.get("/inspectors/inspections?unit=/01/123/21/x", headers=bearer(SUPERVISOR_TOKEN))
    assert bad.status_code == 400
    me = client.get("/inspectors/me", headers=bearer(SUPERVISOR_TOKEN)).json()
    assert (me["inspector_id"], me["role"]) == ("QLTT-supervisor", "supervisor")


def test_inspectors_read_alerts_and_close_one_with_a_finding(api: Api, client: TestClient):
    unit = identifiers.unit_key(PRODUCT, api.shelf.labels[0].serial)
    raised = NOW + timedelta(days=400)
    api.shelf.store.alerts = [
        AlertRow(unit, uuid.uuid4(), "too_many_devices", raised, "Thái Bình", "9 devices", "open"),
        AlertRow(unit, uuid.uuid4(), "some_future_kind", raised, "Hà Nội", "?", "open"),
    ]
    headers = bearer(INSPECTOR_TOKEN)
    day = client.get(
        "/inspectors/alerts", params={"province": "Thái Bình", "day": raised.date().isoformat()},
        headers=headers,
    ).json()  # fmt: skip
    assert day["count"] == 1
    assert day["alerts"][0]["kind"] == "too_many_devices"
    assert "devices" in day["alerts"][0]["sentence"]["en"]
    on_unit = client.get("/inspectors/alerts/unit", params={"unit": unit}, headers=headers).json()
    assert [a["sentence"] for a in on_unit["alerts"]][1] is None  # a kind this API does not know
    assert client.get("/inspectors/alerts/unit?unit=nonsense", headers=headers).status_code == 400
    assert client.get("/inspectors/alerts").status_code == 401

    alert_id = day["alerts"][0]["alert_id"]
    closing = {"unit_key": unit, "finding": "counterfeit", "note": "tem giả"}
    response = client.post(f"/inspectors/alerts/{alert_id}/close", json=closing, headers=headers)
    assert response.status_code == 202
    (sent,) = api.events.findings
    assert isinstance(sent, AlertClosed)
    assert (str(sent.alert_id), sent.unit_key, sent.inspector_id) == (
        alert_id, unit, "QLTT-inspector",
    )  # fmt: skip


# -- trust list, certifications, provenance ---------------------------------------------------


def test_the_trust_list_is_served_as_signed_with_an_etag(api: Api, client: TestClient):
    response = client.get("/.well-known/ocop-trust-list")
    assert response.status_code == 200
    assert response.content == api.shelf.store.trust_list
    assert response.headers["x-ocop-trust-list-version"] == "1"
    again = client.get(
        "/.well-known/ocop-trust-list", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_certification_history_with_signed_documents(api: Api, client: TestClient):
    world = api.shelf.world
    api.shelf.certify(world.award(stars=3, score="61", number="9/GCN", valid_from=NOW))
    body = client.get(f"/products{PRODUCT}/certifications").json()
    assert (body["current"], body["current_certificate"]) == ("in_force", "9/GCN")
    assert [e["change"] for e in body["history"]] == ["awarded", "downgraded"]
    documents = {c["certificate"]["certificate_no"]: c["document"] for c in body["certifications"]}
    assert (
        documents["123/GCN-UBND"].encode()
        == api.shelf.store.awards[PRODUCT][0].certification_document
    )
    assert client.get("/products/01/08931234567890/certifications").status_code == 400
    unknown = client.get("/products/p/NO-SUCH-THING/certifications")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_product")


def test_a_batch_chain_comes_with_its_seals_and_reverifies(api: Api, client: TestClient):
    body = client.get(f"/batches{api.shelf.batch_id}").json()
    assert body["check"] == {
        "ok": True,
        "defect": None,
        "detail": "5 records verify",
        "verified": 5,
    }
    records = [  # rebuilt from the JSON alone, as a client would
        ChainRecord(body["batch_id"], r["seq"], r["event"].encode(), bytes.fromhex(r["prev_hash"]),
                    bytes.fromhex(r["record_hash"]),
                    base64.urlsafe_b64decode(r["seal"] + "=="), r["sealed_by"])
        for r in body["records"]
    ]  # fmt: skip
    keys = {kid: decode_public_key(text) for kid, text in body["seal_keys"].items()}
    assert verify_chain(body["batch_id"], records, keys).ok
    assert client.get("/batches/01/08931234567897/10/NOPE").status_code == 404


def test_openapi_has_stable_operation_ids(client: TestClient):
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "resolve_gtin_unit", "resolve_product_code_unit", "verify_code", "trust_list",
        "product_certifications_gtin", "batch_provenance_gtin", "record_inspection",
        "list_inspections", "inspector_me", "health_live", "health_ready", "list_alerts",
        "unit_alerts", "close_alert",
    } <= ids  # fmt: skip


def test_a_stale_trust_list_is_a_notice_not_a_verdict(api: Api, client: TestClient):
    world = api.shelf.world
    api.shelf.store.trust_list = world.trust_list_bytes(now=NOW - timedelta(days=30))
    body = client.get(api.path(), headers=JSON).json()
    assert body["level"] == "genuine"
    assert body["trust_list"]["stale"] is True
    assert "stale" in body["notices"][0]["en"]


def test_a_head_request_is_answered_but_is_no_scan(api: Api, client: TestClient):
    response = client.head(api.path(), headers=JSON)
    assert (response.status_code, response.content) == (200, b"")
    assert api.events.scans == []  # a link checker's HEAD does not count as a scan
