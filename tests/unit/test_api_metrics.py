"""The API's /metrics without servers: the app of test_api_http (in-memory records, a recording
event sink), scraped in Prometheus' text format and read back with prometheus_client's parser."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator

import pytest
from cassandra.cluster import NoHostAvailable
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from tests.unit.test_api_http import JSON, Api
from tests.unit.test_api_resolution import forge_stars
from tests.world import World
from verify_api.events import KafkaEvents
from verify_api.services import Services
from verify_api.settings import ApiSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

GTIN_ROUTE = "/01/{gtin}/10/{lot:path}/21/{serial}"

Series = dict[tuple[tuple[str, str], ...], float]


def scrape(client: TestClient) -> dict[str, Series]:
    """Every sample of /metrics, by sample name, then by its labels (sorted pairs)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    found: dict[str, Series] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict[str, Series], name: str, **labels: str) -> float:
    return found.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app, base_url="http://testserver") as test_client:
        yield test_client


def test_metrics_are_in_the_exposition_format_and_documented(client: TestClient):
    client.get("/health/live")
    found = scrape(client)
    assert value(found, "ocop_api_request_duration_seconds_count", route="/health/live",
                 method="GET", status="2xx") == 1  # fmt: skip
    assert "ocop_api_request_duration_seconds_bucket" in found
    spec = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert spec["operationId"] == "metrics"
    assert "text/plain" in spec["responses"]["200"]["content"]


def test_a_resolution_counts_by_route_template_level_and_reason(api: Api, client: TestClient):
    client.get(api.path(), headers=JSON)
    client.get(api.path(1), headers=JSON)
    forged = forge_stars(api.shelf.labels[0], 5).removeprefix("https://ocop.vn")
    assert client.get(forged, headers=JSON).json()["reason"] == "bad_signature"
    malformed = api.path().replace("/01/08931234567897/", "/01/08931234567890/")
    assert client.get(malformed, headers=JSON).status_code == 400
    assert client.post("/verify", json={"text": "not a label"}).json()["reason"] == "malformed"
    found = scrape(client)

    resolutions = "ocop_api_resolutions_total"
    assert value(found, resolutions, route=GTIN_ROUTE, level="genuine", reason="genuine") == 2
    assert value(found, resolutions, route=GTIN_ROUTE, level="counterfeit",
                 reason="bad_signature") == 1  # fmt: skip
    assert value(found, resolutions, route=GTIN_ROUTE, level="counterfeit",
                 reason="malformed") == 1  # fmt: skip
    assert value(found, resolutions, route="/verify", level="counterfeit", reason="malformed") == 1
    assert sum(found[resolutions].values()) == 5
    requests = "ocop_api_request_duration_seconds_count"
    assert value(found, requests, route=GTIN_ROUTE, method="GET", status="2xx") == 3
    assert value(found, requests, route=GTIN_ROUTE, method="GET", status="4xx") == 1
    assert value(found, requests, route="/verify", method="POST", status="2xx") == 1
    # the raw path (a serial, a lot) is never a label
    labels = {v for series in found.values() for key in series for _, v in key}
    assert not any(api.shelf.labels[0].serial in label for label in labels)


def test_a_resolution_cut_short_by_the_store_is_not_counted(api: Api, client: TestClient):
    api.shelf.store.failure = NoHostAvailable("down", {})
    assert client.get(api.path(), headers=JSON).status_code == 503
    found = scrape(client)
    assert "ocop_api_resolutions_total" not in found
    requests = "ocop_api_request_duration_seconds_count"
    assert value(found, requests, route=GTIN_ROUTE, method="GET", status="5xx") == 1


def test_unknown_paths_are_one_label(client: TestClient):
    for path in ("/nothing/here", "/wp-admin/setup.php", "/02/08931234567897", "/x" * 40):
        assert client.get(path).status_code == 404
    client.request("BREW", "/coffee")
    found = scrape(client)
    requests = found["ocop_api_request_duration_seconds_count"]
    unmatched = {key: n for key, n in requests.items() if ("route", "unmatched") in key}
    assert unmatched == {
        (("method", "GET"), ("route", "unmatched"), ("status", "4xx")): 4,
        (("method", "other"), ("route", "unmatched"), ("status", "4xx")): 1,
    }
    routes = {dict(key)["route"] for key in requests}
    assert routes <= {"unmatched", "/metrics"}


def test_the_scan_events_counters_are_exposed(api: Api, client: TestClient):
    counters = api.events.counters
    counters.accepted, counters.sent, counters.dropped, counters.failed = 9, 5, 3, 1
    found = scrape(client)
    assert value(found, "ocop_api_scan_events_accepted_total") == 9
    assert value(found, "ocop_api_scan_events_sent_total") == 5
    assert value(found, "ocop_api_scan_events_dropped_total") == 3
    assert value(found, "ocop_api_scan_events_failed_total") == 1
    assert value(found, "ocop_api_scan_queue_capacity") == api.events.capacity


class KafkaSinkApi(Api):
    """The real event sink, never started (no Kafka): the scans it takes stay queued."""

    def __init__(self, world: World) -> None:
        self.sink = KafkaEvents(
            "127.0.0.1:9", "scans", linger_ms=5, queue_size=8, deliver_timeout_s=1.0
        )
        super().__init__(world)

    async def services(self, settings: ApiSettings) -> Services:
        return dataclasses.replace(await super().services(settings), events=self.sink)


def test_the_scan_events_waiting_are_read_when_scraped(world: World):
    api = KafkaSinkApi(world)
    with TestClient(api.app) as client:
        for _ in range(3):
            client.get(api.path(), headers=JSON)
        found = scrape(client)
    assert value(found, "ocop_api_scan_events_waiting") == 3  # no broker at port 9
    assert value(found, "ocop_api_scan_events_accepted_total") == 3
    assert value(found, "ocop_api_scan_queue_capacity") == 8


def test_each_app_has_its_own_registry(world: World):
    first, second = Api(world), Api(world)
    with TestClient(first.app) as one, TestClient(second.app) as other:
        one.get(first.path(), headers=JSON)
        assert "ocop_api_resolutions_total" in scrape(one)
        assert "ocop_api_resolutions_total" not in scrape(other)
