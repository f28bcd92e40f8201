"""The verify API's Prometheus metrics: one registry per app (never the process-wide default,
so tests can build many apps), served by verify_api.routes.metrics at `GET /metrics`.

- Requests: a latency histogram by route template, method and status class, taken by a pure
  ASGI middleware around everything else, the guards' refusals included; its `_count` is the
  number of requests. The route is the template the router matched (`/01/{gtin}/10/...`),
  never the path, and a request no route matched (a 404, or one refused before routing) is
  counted under one label, `unmatched`: a client trying random paths cannot grow the label
  set. Methods outside the usual seven are counted as `other`.
- Resolutions: by route, verdict level and reason, once the response that carried the verdict
  has started (a resolution cut short by a 5xx is not counted): the resolve and verify
  routes leave the resolution they answer on the request's ASGI scope (`RESOLUTION`), and
  the middleware reads it there.
- Deadlines missed: requests answered 503 `too_slow` (verify_api.deadline).
- Scan events: what the event sink counted (accepted, sent, dropped, failed) and how many wait
  in its queue, read at scrape time by a collector: the hot path keeps its plain integers.

Per request the middleware costs a closure (to see the status), two
clock readings and one histogram observation (about 1 µs) on a child cached by its labels.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify_api import views
from verify_api.events import EventSink
from verify_api.schemas import Resolution

UNMATCHED = "unmatched"
"""The route label of a request no route matched."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RESOLUTION = "ocop.resolution"
"""Where the resolve and verify routes leave the resolution they answer, on the scope."""


class ScanEvents:
    """The scan events' fate, read from the event sink when scraped."""

    def __init__(self) -> None:
        self.sink: EventSink | None = None

    def collect(self) -> Iterator[Metric]:
        sink = self.sink
        if sink is None:  # not started yet
            return
        counters = sink.counters
        for name, value, meaning in (
            ("accepted", counters.accepted, "Scan events taken into the queue."),
            ("sent", counters.sent, "Scan events Kafka acknowledged."),
            ("dropped", counters.dropped, "Scan events dropped: the queue was full."),
            ("failed", counters.failed, "Scan events Kafka refused or timed out on."),
        ):
            yield CounterMetricFamily(f"ocop_api_scan_events_{name}", meaning, value=value)
        yield GaugeMetricFamily(
            "ocop_api_scan_events_waiting",
            "Scan events accepted and not yet acknowledged nor failed: in the queue or in the "
            "producer, waiting for Kafka (what /health/ready compares with the capacity).",
            value=counters.waiting,
        )
        yield GaugeMetricFamily(
            "ocop_api_scan_queue_capacity", "How many scan events the queue holds.",
            value=sink.capacity,
        )  # fmt: skip


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "ocop_api_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template "
            "(`unmatched` when no route matched), method and status class; `_count` is the "
            "number of requests.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.resolutions = Counter(
            "ocop_api_resolutions",
            "Verdicts answered by the resolve and verify routes, by route, level and reason.",
            ["route", "level", "reason"],
            registry=self.registry,
        )
        self.deadline_missed = Counter(
            "ocop_api_deadline_missed",
            "Requests answered 503 too_slow at their deadline (OCOP_REQUEST_DEADLINE_S).",
            registry=self.registry,
        )
        from_held = Counter(
            "ocop_api_answers_from_held_facts",
            "Resolutions answered from what the API held because Cassandra did not answer in "
            "time (each says so), by what was not read: `unit_activity` (the unit's own scans "
            "and copy evidence: no copy warning), `shared_facts` (stars, product and batch "
            "past OCOP_RECORD_CACHE_S, within OCOP_RECORD_STALE_S).",
            ["missing"],
            registry=self.registry,
        )
        self._from_held = [
            (views.FROM_HELD_FACTS, from_held.labels("unit_activity")),
            (views.FROM_EARLIER_FACTS, from_held.labels("shared_facts")),
        ]
        self.scan_events = ScanEvents()
        self.registry.register(self.scan_events)
        self._timers: dict[tuple[str, str, int], Any] = {}
        self._verdicts: dict[tuple[str, str, str], Any] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path", UNMATCHED) if route is not None else UNMATCHED
        method = scope["method"] if scope["method"] in METHODS else "other"
        key = (template, method, status // 100 if 100 <= status < 600 else 0)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = self.latency.labels(
                template, method, STATUS_CLASSES[key[2]]
            )
        timer.observe(seconds)
        resolution: Resolution | None = scope.get(RESOLUTION)
        if resolution is not None and status < 500:
            verdict = (template, resolution.level.value, resolution.reason.value)
            counter = self._verdicts.get(verdict)
            if counter is None:
                counter = self._verdicts[verdict] = self.resolutions.labels(*verdict)
            counter.inc()
            for notice, held in self._from_held:
                if notice in resolution.notices:
                    held.inc()


class Timing:
    """The ASGI middleware: times every HTTP request and counts what it answered."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - started)
