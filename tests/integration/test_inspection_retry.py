"""An inspector's resend after a 503 is stored once (issue 16), on the real stack.

The shared Kafka broker is paused (SIGSTOP) for about two seconds: its socket still takes the
API's produce request, so the API, waiting one second, answers 503 `finding_unconfirmed` ("may
or may not be recorded"), and the broker does write the finding when it resumes. The
inspector's app then sends it again, with its Idempotency-Key, and another finding without
one: each is read back from Cassandra (records.store.RecordReader) exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import InspectionRecorded, InspectionVerdict
from contract.label import SignedLabel
from contract.verdict import Reason
from tests.integration.pipeline import kafka_paused, wait_for
from tests.integration.test_api_stack import TOKENS, ApiProcess, Storefront, opened_shop
from tests.world import PRODUCT

URL = "/inspectors/inspections"
HEADERS = {"Authorization": f"Bearer {TOKENS['inspector'][3]}", "Accept-Language": "en"}


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess]]:
    """test_api_stack's shop, with an API that waits one second for Kafka, not ten."""
    folder = tmp_path_factory.mktemp("retry")
    with opened_shop(stack_settings, folder, inspection_timeout_s="1") as opened:
        yield opened


def finding(label: SignedLabel, note: str) -> dict[str, Any]:
    return {"code": label.url, "stars_seen": 4, "verdict": "genuine", "note": note,
            "place": "Chợ Bo, TP Thái Bình", "province": "Thái Bình"}  # fmt: skip


def test_a_finding_answered_503_while_kafka_is_paused_is_stored_once_after_resends(
    shop, stack_settings
):
    storefront, api = shop
    pipeline = storefront.pipeline
    labels = [storefront.world.label() for _ in range(3)]  # signed: each names its unit
    keyed, keyless, other = (identifiers.unit_key(PRODUCT, label.serial) for label in labels)
    key = str(uuid.uuid4())
    with api.client() as client:
        # the API's producer has met the topic's partition leader before the pause
        assert client.post(URL, json=finding(labels[2], "1"), headers=HEADERS).status_code == 202

        with kafka_paused(stack_settings):
            unsure = client.post(URL, json=finding(labels[0], "k"), headers=HEADERS | {
                "Idempotency-Key": key})  # fmt: skip
            unsure_without_key = client.post(URL, json=finding(labels[1], "-"), headers=HEADERS)
        for response in (unsure, unsure_without_key):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "finding_unconfirmed"
            assert "it may or may not be recorded" in response.json()["detail"]

        # true to its word: the broker wrote both when it resumed, and the worker stored them
        wait_for(
            "the findings answered 503 to be stored all the same",
            lambda: pipeline.inspections(keyed) and pipeline.inspections(keyless),
            explain=pipeline.diagnosis,
        )
        wait_for(
            "the API to log that Kafka acknowledged them after all",
            lambda: api.log.read_text().count(", unconfirmed, was later acknowledged") == 2,
        )

        resent = client.post(URL, json=finding(labels[0], "k"), headers=HEADERS | {
            "Idempotency-Key": f'"{key}"'})  # fmt: skip
        resent_without_key = client.post(URL, json=finding(labels[1], "-"), headers=HEADERS)
        assert (resent.status_code, resent_without_key.status_code) == (202, 202)
        assert resent.json()["event_id"] in unsure.json()["detail"]
        assert resent_without_key.json()["event_id"] in unsure_without_key.json()["detail"]
        # one partition carries all findings: once this last one is stored, so are the resends
        assert client.post(URL, json=finding(labels[2], "2"), headers=HEADERS).status_code == 202
        wait_for("the last finding to be stored", lambda: len(pipeline.inspections(other)) == 2)

    for unit, response in ((keyed, resent), (keyless, resent_without_key)):
        (stored,) = pipeline.inspections(unit)  # one finding, not one per attempt
        assert stored.inspector_id == TOKENS["inspector"][0]
        first = datetime.fromisoformat(response.json()["recorded_at"])  # the first attempt's
        assert stored.inspected_at.replace(tzinfo=UTC) == first.replace(  # Cassandra keeps ms
            microsecond=first.microsecond // 1000 * 1000
        )


def test_a_resend_through_another_api_process_is_stored_once(shop):
    """Another process (or a restart) gives a resend another time; the processor stores it
    under the first copy's time, so the finding is still one row."""
    storefront, _ = shop
    pipeline = storefront.pipeline
    label = storefront.world.label()
    unit = identifiers.unit_key(PRODUCT, label.serial)
    first = InspectionRecorded(
        event_id=uuid.uuid4(), occurred_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        code=label.url, batch_id=label.batch.batch_id, serial=label.serial,
        inspector_id="QLTT-TB-07", stars_seen=4, verdict=InspectionVerdict.GENUINE,
        reason=Reason.GENUINE, place="Chợ Bo, TP Thái Bình",
    )  # fmt: skip
    later = first.model_copy(update={"occurred_at": first.occurred_at + timedelta(minutes=3)})
    for copy in (first, later, first):
        pipeline.send("scan", copy.topic_key(), model_bytes(copy))
    marker = first.model_copy(update={"event_id": uuid.uuid4(), "note": "after the copies"})
    pipeline.send("scan", marker.topic_key(), model_bytes(marker))  # one partition: in order
    pipeline.flush()
    wait_for("the marker finding", lambda: len(pipeline.inspections(unit)) >= 2)
    stored = pipeline.inspections(unit)
    assert sorted((row.inspected_at, row.note or "") for row in stored) == [
        (first.occurred_at, ""), (first.occurred_at, "after the copies"),
    ]  # fmt: skip
