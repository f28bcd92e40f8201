"""Deadlines and health: a stalled store never leaves a request hanging, and the probes say
what is wrong. (The same on the real stack, with Cassandra and Kafka SIGSTOPped, is
tests/integration/test_api_faults.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.unit.test_api_http import JSON, Api
from tests.world import World


@contextlib.asynccontextmanager
async def serving(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run (the trust list loaded), and a client of it."""
    transport = httpx.ASGITransport(app=api.app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    async with api.app.router.lifespan_context(api.app), client:
        yield client


async def stalled_get(api: Api, path: str, *, warm: bool) -> tuple[float, httpx.Response]:
    """How long a GET took, and its answer, with every read of the store stalled 30 s."""
    async with serving(api) as client:
        if warm:
            await client.get(path, headers=JSON)  # the shared facts are held
        api.shelf.store.stall_s = 30.0
        t0 = time.monotonic()
        response = await client.get(path, headers=JSON)
        return time.monotonic() - t0, response


@pytest.fixture
def slow_api(world: World) -> Api:
    return Api(world, request_deadline_s=0.5, record_cache_s=60, trust_list_ttl_s=60)


def test_a_stalled_store_gets_a_held_answer_in_time_and_it_says_so(slow_api: Api):
    took, response = asyncio.run(stalled_get(slow_api, slow_api.path(), warm=True))
    assert took < 0.5 + 1.0  # the deadline, and a margin for a busy machine; the stall is 30 s
    body = response.json()
    assert (response.status_code, body["level"], body["reason"]) == (200, "genuine", "genuine")
    assert body["scans"] is None  # the unit's own read did not answer
    assert any("facts already held" in notice["en"] for notice in body["notices"])
    assert held_counts(slow_api) == {"unit_activity": 1.0, "shared_facts": 0.0}


def test_facts_past_their_time_answer_while_the_stalled_store_reloads_them_and_say_so(
    world: World,
):
    """The shared facts' time (record_cache_s) runs out while Cassandra stalls: they still
    answer, saying so, within record_stale_s; with none allowed, the scan waits and fails."""

    async def past_their_time(api: Api) -> tuple[float, httpx.Response]:
        async with serving(api) as client:
            await client.get(api.path(), headers=JSON)  # the shared facts are held
            api.shelf.store.stall_s = 30.0
            await asyncio.sleep(0.3)  # their time is up
            t0 = time.monotonic()
            response = await client.get(api.path(), headers=JSON)
            return time.monotonic() - t0, response

    settings = {"request_deadline_s": 0.5, "record_cache_s": 0.2, "trust_list_ttl_s": 60}
    api = Api(world, **settings)
    took, response = asyncio.run(past_their_time(api))
    assert took < 0.5 + 1.0  # the deadline, and a margin for a busy machine
    body = response.json()
    assert (response.status_code, body["level"], body["reason"]) == (200, "genuine", "genuine")
    notices = [notice["en"] for notice in body["notices"]]
    assert any("as read a little earlier" in notice for notice in notices), notices
    assert any("facts already held" in notice for notice in notices), notices  # no scan totals
    counted = held_counts(api)
    assert counted == {"unit_activity": 1.0, "shared_facts": 1.0}  # the metric operators watch

    took, response = asyncio.run(past_their_time(Api(world, **settings, record_stale_s=0)))
    assert took < 0.5 + 1.0
    assert (response.status_code, response.json()["error"]) == (503, "too_slow")


def test_what_no_held_fact_can_answer_is_503_with_retry_after_in_time(slow_api: Api):
    took, response = asyncio.run(stalled_get(slow_api, slow_api.path(), warm=False))
    assert took < 0.5 + 1.0  # the deadline, and a margin for a busy machine; the stall is 30 s
    assert response.status_code == 503
    assert response.json()["error"] == "too_slow"
    assert int(response.headers["retry-after"]) >= 1
    missed = slow_api.app.state.metrics.deadline_missed
    assert missed._value.get() == 1  # ocop_api_deadline_missed_total


def test_readiness_names_the_failing_check_and_liveness_does_not_care(slow_api: Api):
    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with serving(slow_api) as client:
            ready = await client.get("/health/ready")
            slow_api.shelf.store.stall_s = 30.0
            stalled = await client.get("/health/ready")
            live = await client.get("/health/live")
            return ready, stalled, live

    ready, stalled, live = asyncio.run(scenario())
    assert (ready.status_code, ready.json()["ready"]) == (200, True)
    body = stalled.json()
    # the probe gives the store 1 s; the request's own deadline (0.5 s here) comes first
    assert stalled.status_code == 503
    assert body.get("ready") is False or body.get("error") == "too_slow"
    assert live.status_code == 200


def test_scan_events_backing_up_make_the_api_not_ready(world: World):
    api = Api(world, ready_scan_backlog=0.5)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with serving(api) as client:
            ready = await client.get("/health/ready")
            api.events.counters.accepted = 51  # of a capacity of 100, none acknowledged
            return ready, await client.get("/health/ready")

    ready, backed_up = asyncio.run(scenario())
    assert ready.status_code == 200
    assert backed_up.status_code == 503
    check = backed_up.json()["checks"]["scan_events"]
    assert (check["ok"], check["detail"].split(";")[0]) == (False, "51 waiting of 100")


def held_counts(api: Api) -> dict[str, float]:
    """ocop_api_answers_from_held_facts_total by what was missing."""
    registry = api.app.state.metrics.registry
    return {
        sample.labels["missing"]: sample.value
        for metric in registry.collect()
        if metric.name == "ocop_api_answers_from_held_facts"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
