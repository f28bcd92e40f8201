"""The verify API through faults of the real stack: Cassandra frozen (SIGSTOP, as a long
garbage collection or a lost node looks to its clients) under a steady trickle of scans, and
Kafka frozen while scans keep coming. Every answer arrives within the request deadline plus
a margin, from held facts (saying so, and so once their time is up) or as 503 with
Retry-After; readiness says what is wrong and comes back with the servers.

The servers are shared with the rest of the suite: each is frozen for seconds only and
always resumed (tests/integration/pipeline.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.pipeline import cassandra_paused, kafka_paused, wait_for
from tests.integration.test_api_stack import JSON, ApiProcess, Storefront, opened_shop, path_of
from tests.world import PRODUCT

DEADLINE_S = 2.0
MARGIN_S = 1.5
"""Beyond the deadline: the event loop's turn and the client's, on a busy 2-core machine."""
FACTS_TIME_S = 2.0
"""record_cache_s: the shared facts' time runs out early in a freeze (record_stale_s, 60 s,
lets them answer after it, saying so)."""


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess]]:
    settings = {"request_deadline_s": str(DEADLINE_S), "scan_queue_size": "20",
                "record_cache_s": str(FACTS_TIME_S)}  # fmt: skip
    with opened_shop(stack_settings, tmp_path_factory.mktemp("faults"), **settings) as opened:
        yield opened


def trickle(client: httpx.Client, paths: list[str], seconds: float) -> list[dict[str, Any]]:
    """One resolution every 0.2 s, cycling through `paths`, for `seconds`: each answer's
    status, time taken and body."""
    answers = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            response = client.get(paths[n % len(paths)], headers=JSON, timeout=30)
            status, body = response.status_code, response.json()
        except httpx.HTTPError as exc:
            status, body = 0, {"error": repr(exc)}
        answers.append({"status": status, "sent": t0, "took": time.monotonic() - t0,
                        "body": body})  # fmt: skip
        n += 1
        time.sleep(max(0.0, 0.2 - (time.monotonic() - t0)))
    return answers


def test_a_frozen_cassandra_gets_every_answer_in_time_and_normal_ones_after(shop, stack_settings):
    storefront, api = shop
    labels = storefront.pack(PRODUCT, "L2503FAUL1", 6)
    paths = [path_of(label) for label in labels]
    with api.client() as client:
        for path in paths[:3]:  # their batch is now held; the other three are not scanned yet
            assert client.get(path, headers=JSON).json()["level"] == "genuine"
        with cassandra_paused(stack_settings):
            frozen = time.monotonic()
            during = trickle(client, paths, seconds=10)
        after = wait_for(
            "normal answers after Cassandra resumed",
            lambda: _normal(client, paths),
            timeout_s=20,
        )
    slowest = max(answer["took"] for answer in during)
    assert slowest < DEADLINE_S + MARGIN_S, [round(a["took"], 2) for a in during]
    statuses = {answer["status"] for answer in during}
    assert statuses <= {200, 503}, statuses
    held = [a["body"] for a in during if a["status"] == 200]
    assert held, "no answer came from held facts"
    assert all(body["level"] == "genuine" for body in held)
    # once the facts' time is up, what answers says the stars and batch are as read earlier
    late = [a for a in during if a["sent"] > frozen + FACTS_TIME_S + 0.5 and a["status"] == 200]
    assert late, "no answer came from facts past their time"
    assert all(
        any("as read a little earlier" in n["en"] for n in a["body"]["notices"]) for a in late
    )
    refused = [a["body"] for a in during if a["status"] == 503]
    assert all(body["error"] in ("too_slow", "store_unavailable") for body in refused)
    assert after


def _normal(client: httpx.Client, paths: list[str]) -> bool:
    bodies = [client.get(path, headers=JSON).json() for path in paths]
    return all(body.get("level") == "genuine" and not body["notices"] for body in bodies)


def test_a_frozen_kafka_makes_the_api_not_ready_and_ready_again(shop, stack_settings):
    storefront, api = shop
    labels = storefront.pack(PRODUCT, "L2503FAUL2", 2)
    with api.client() as client:
        assert client.get("/health/ready").status_code == 200
        with kafka_paused(stack_settings):
            trickle(client, [path_of(label) for label in labels], seconds=4)  # 20 scans
            during = client.get("/health/ready")
        check = during.json()["checks"]["scan_events"]
        ready_again = wait_for(
            "readiness after Kafka resumed",
            lambda: client.get("/health/ready").status_code == 200,
            timeout_s=30,
        )
    assert (during.status_code, check["ok"]) == (503, False), check
    assert during.json()["checks"]["store"]["ok"]
    assert ready_again
