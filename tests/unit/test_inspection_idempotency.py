"""An inspector's finding is idempotent (issue 16): a resend is the same finding, never a second.

Over HTTP with the fake sinks of test_api_http: the event id comes from the inspector and the
Idempotency-Key (or, without one, the finding's content and the day in Vietnam), and a resend
gets the time of the first attempt, so the processors' row key (unit, time, event id) is the
same; a bad key is refused before anything is sent. Then KafkaEvents.deliver on a stand-in
producer: what its 503 may claim depends on whether aiokafka had taken the message.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from contract.events import InspectionRecorded, InspectionVerdict
from contract.verdict import Reason
from tests.unit.test_api_http import INSPECTOR_TOKEN, SUPERVISOR_TOKEN, Api, FakeEvents, bearer
from tests.world import NOW, World
from verify_api.events import DeliveryUnconfirmed, EventsUnavailable, Finding, KafkaEvents
from verify_api.routes.inspectors import derived_key, finding_event_id

with warnings.catch_warnings():  # as in test_api_http: Starlette suggests httpx2; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

URL = "/inspectors/inspections"
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


class UnconfirmedEvents(FakeEvents):
    """Kafka takes each finding and does not say so in time, until `confirming`."""

    def __init__(self) -> None:
        super().__init__()
        self.confirming = False

    async def deliver(self, finding: Finding) -> None:
        self.findings.append(finding)
        if not self.confirming:
            raise DeliveryUnconfirmed("Kafka did not acknowledge it within 1 s")


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def client(api: Api):
    with TestClient(api.app, base_url="http://testserver") as test_client:
        yield test_client


def finding(api: Api, **changes: Any) -> dict[str, Any]:
    return {
        "code": api.shelf.labels[0].url, "stars_seen": 4, "verdict": "genuine",
        "place": "Chợ Bo, TP Thái Bình", "province": "Thái Bình", "note": "tem rõ",
    } | changes  # fmt: skip


def post(client: TestClient, body: dict[str, Any], key: str | None = None, **headers: str) -> Any:
    sent = bearer(INSPECTOR_TOKEN) | headers | ({"Idempotency-Key": key} if key else {})
    return client.post(URL, json=body, headers=sent)


def row_key(sent: InspectionRecorded) -> tuple[str, datetime, uuid.UUID]:
    """What inspections_by_unit keys a finding by: a resend must give the same."""
    return sent.topic_key().decode(), sent.occurred_at, sent.event_id


def test_a_resend_under_one_key_is_the_same_finding(api: Api, client: TestClient):
    body = finding(api)
    first = post(client, body, KEY)
    again = post(client, body, f'"{KEY}"')  # the draft's sf-string spelling of the same key
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["event_id"] == again.json()["event_id"]
    assert first.json()["recorded_at"] == again.json()["recorded_at"]
    one, two = api.events.findings
    assert isinstance(one, InspectionRecorded)
    assert isinstance(two, InspectionRecorded)
    assert row_key(one) == row_key(two)  # the second write overwrites the first row
    assert str(one.event_id) == first.json()["event_id"]
    assert one.event_id == finding_event_id("QLTT-inspector", KEY)

    other = post(client, body, "another-key-0001")  # the inspector says: a second finding
    assert other.json()["event_id"] != first.json()["event_id"]


def test_without_a_key_the_finding_is_its_content_its_inspector_and_its_day(
    api: Api, client: TestClient
):
    body = finding(api)
    first, again = post(client, body), post(client, body)
    assert first.json()["event_id"] == again.json()["event_id"]
    assert first.json()["recorded_at"] == again.json()["recorded_at"]
    decomposed = post(client, body | {"note": unicodedata.normalize("NFD", "tem rõ")})
    assert decomposed.status_code == 202
    assert decomposed.json()["event_id"] == first.json()["event_id"]  # one text, two spellings

    ids = {first.json()["event_id"]}
    for changed in ({"note": "tem mờ"}, {"verdict": "suspicious"}, {"stars_seen": 5},
                    {"province": None}, {"place": "Chợ Đồng Xuân"}):  # fmt: skip
        response = post(client, body | changed)
        assert response.status_code == 202, changed
        ids.add(response.json()["event_id"])
    assert len(ids) == 6  # every different finding is its own
    supervisor = client.post(URL, json=body, headers=bearer(SUPERVISOR_TOKEN))
    assert supervisor.json()["event_id"] not in ids  # another inspector's finding

    content = {"code": "x", "stars_seen": 4}
    evening = datetime(2025, 3, 10, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam
    night = datetime(2025, 3, 10, 17, 1, tzinfo=UTC)  # 00:01 the next day there
    morning = datetime(2025, 3, 10, 1, 0, tzinfo=UTC)
    assert derived_key("QLTT-1", content, evening) == derived_key("QLTT-1", content, morning)
    assert derived_key("QLTT-1", content, evening) != derived_key("QLTT-1", content, night)
    assert derived_key("QLTT-1", content, evening) != derived_key("QLTT-2", content, evening)


@pytest.mark.parametrize(
    "headers",
    [
        [("Idempotency-Key", "short")],
        [("Idempotency-Key", "x" * 129)],
        [("Idempotency-Key", "")],
        [("Idempotency-Key", "has spaces in it")],
        [("Idempotency-Key", "content:0123456789abcdef")],  # a colon: derived keys' own mark
        [("Idempotency-Key", '"unterminated-0123')],
        [("Idempotency-Key", "khóa-0123456789".encode())],
        [("Idempotency-Key", "key-one-000001"), ("Idempotency-Key", "key-two-000002")],
    ],
    ids=["short", "long", "empty", "space", "colon", "quote", "non-ascii", "twice"],
)
def test_a_bad_key_is_400_in_both_languages_and_nothing_is_sent(
    api: Api, client: TestClient, headers: list[tuple[str, str | bytes]]
):
    sent = [*bearer(INSPECTOR_TOKEN).items(), *headers]
    response = client.post(URL, json=finding(api), headers=sent)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_idempotency_key"
    assert body["detail"].startswith("Idempotency-Key không hợp lệ")
    english = client.post(URL + "?lang=en", json=finding(api), headers=sent).json()
    assert english["detail"].startswith("The Idempotency-Key is not valid: one value, 8 to 128")
    assert api.events.findings == []


def test_a_key_used_for_another_finding_is_422_and_not_sent(api: Api, client: TestClient):
    assert post(client, finding(api), KEY).status_code == 202
    reused = post(client, finding(api, verdict="counterfeit"), KEY, **{"Accept-Language": "en"})
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert "already used for a different finding" in reused.json()["detail"]
    assert len(api.events.findings) == 1


def test_an_unconfirmed_finding_is_a_503_that_says_so_and_its_resend_is_the_same(world: World):
    api = Api(world)
    api.events = events = UnconfirmedEvents()
    with TestClient(api.app, base_url="http://testserver") as client:
        body = finding(api)
        english = {"Accept-Language": "en"}
        unsure = post(client, body, KEY, **english)
        unsure_without_key = post(client, body, **english)
        events.confirming = True
        resent = post(client, body, KEY)
        resent_without_key = post(client, body)
    for response in (unsure, unsure_without_key):
        assert response.status_code == 503
        assert response.json()["error"] == "finding_unconfirmed"
        assert "it may or may not be recorded" in response.json()["detail"]
    assert (resent.status_code, resent_without_key.status_code) == (202, 202)
    assert resent.json()["event_id"] in unsure.json()["detail"]  # the 503 names the finding
    assert resent_without_key.json()["event_id"] in unsure_without_key.json()["detail"]
    first, second, third, fourth = events.findings
    assert isinstance(first, InspectionRecorded)
    assert isinstance(second, InspectionRecorded)
    assert isinstance(third, InspectionRecorded)
    assert isinstance(fourth, InspectionRecorded)
    assert row_key(first) == row_key(third)  # one row each, whichever attempts Kafka kept
    assert row_key(second) == row_key(fourth)
    assert first.event_id != second.event_id  # a key is the inspector's word: two findings


def test_a_finding_not_sent_is_still_the_plain_503(api: Api, client: TestClient):
    api.events.down = True  # FakeEvents: "Kafka is not connected"
    response = post(client, finding(api), KEY, **{"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.json()["error"] == "events_unavailable"
    assert "could not be recorded" in response.json()["detail"]


def test_the_openapi_declares_the_key_and_the_answers(client: TestClient):
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header["required"] is False
    assert "[A-Za-z0-9._~+/=-]{8,128}" in header["schema"]["pattern"]
    responses = operation["responses"]
    assert {"202", "400", "422", "503"} <= responses.keys()
    assert "invalid_idempotency_key" in responses["400"]["description"]
    assert "idempotency_key_reused" in responses["422"]["description"]
    assert "finding_unconfirmed" in responses["503"]["description"]
    assert "Idempotency-Key" in operation["description"]


# -- KafkaEvents.deliver: what a failure means depends on whether aiokafka took the message --


class StandInProducer:
    """AIOKafkaProducer's two steps: send() appends to a batch and returns the delivery's
    future, which the background sender resolves from the broker's answer."""

    def __init__(self, *, takes: bool) -> None:
        self.takes = takes
        self.deliveries: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        if not self.takes:  # waiting for metadata or for room in the accumulator
            await asyncio.Event().wait()
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]


def inspection() -> InspectionRecorded:
    return InspectionRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW, code="x", inspector_id="QLTT-1",
        stars_seen=4, verdict=InspectionVerdict.GENUINE, reason=Reason.MALFORMED,
        place="Chợ Bo",
    )  # fmt: skip


def events_on(producer: StandInProducer) -> KafkaEvents:
    events = KafkaEvents("127.0.0.1:9", "scans", linger_ms=5, queue_size=10, deliver_timeout_s=0.2)
    events._producer = producer  # as _connect() would have set it
    events._ready.set()
    return events


def test_a_finding_kafka_never_took_is_not_sent():
    async def scenario() -> None:
        with pytest.raises(EventsUnavailable) as refused:
            await events_on(StandInProducer(takes=False)).deliver(inspection())
        assert not isinstance(refused.value, DeliveryUnconfirmed)
        assert "not sent" in str(refused.value)

    asyncio.run(scenario())


def test_a_finding_kafka_took_but_did_not_acknowledge_may_still_be_recorded(caplog):
    async def scenario() -> None:
        producer = StandInProducer(takes=True)
        finding = inspection()
        with pytest.raises(DeliveryUnconfirmed, match="may or may not be recorded"):
            await events_on(producer).deliver(finding)
        (delivery,) = producer.deliveries
        assert not delivery.cancelled()  # the producer still holds it: it is not withdrawn
        with caplog.at_level(logging.WARNING, logger="verify_api.events"):
            delivery.set_result(None)  # the broker answers after the API's 503
            await asyncio.sleep(0)
        assert f"finding {finding.event_id}, unconfirmed, was later acknowledged" in caplog.text

    asyncio.run(scenario())


def test_a_finding_kafka_failed_after_taking_it_is_unconfirmed():
    async def scenario() -> None:
        producer = StandInProducer(takes=True)
        events = events_on(producer)
        delivering = asyncio.create_task(events.deliver(inspection()))
        while not producer.deliveries:
            await asyncio.sleep(0)
        producer.deliveries[0].set_exception(TimeoutError("request timed out"))  # written?
        with pytest.raises(DeliveryUnconfirmed, match="failed it after taking it"):
            await delivering

    asyncio.run(scenario())
