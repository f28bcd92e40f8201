"""The worker's Prometheus metrics: `GET /metrics` on its web port (OCOP_WEB_PORT).

The counts and delays are what the handlers record in outcomes.Metrics, read when scraped by
a collector: the handlers keep their plain counters.

Consumer lag is reported as Kafka's own tools report it (kafka-consumer-groups): for each
partition of a source topic this worker is assigned, the log end offset minus the group's
committed offset. Both are asked of Kafka when scraped: the end offsets through the Faust
consumer (`highwaters`: a ListOffsets request), the committed offsets from the group's
coordinator through an admin client (an OffsetFetch request, what the tool sends). Not the
consumer's fetch position: that counts messages fetched but not yet handled, so a worker
held up on one message with its fetch buffer full behind it would show no lag at all.

A scrape never hangs on Kafka: each of the two reads has OFFSETS_TIMEOUT_S, and what a read
did not get is left out (its `ocop_worker_offsets_read` is 0 for that scrape) while the other
is still reported. A partition the group has never committed has an end offset and no lag,
as with Kafka's tool. The table's changelog partitions are left out: the group commits none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import faust
from aiokafka.admin import AIOKafkaAdminClient
from faust.exceptions import ConsumerNotStarted
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stream_processors.outcomes import Metrics

log = logging.getLogger(__name__)

OFFSETS_TIMEOUT_S = 2.0
"""How long a scrape waits for each of the two offset reads (Prometheus waits 10 s)."""

Partition = tuple[str, int]
T = TypeVar("T")


@dataclass(frozen=True)
class Offsets:
    """What a scrape learned of this worker's partitions; None where a read failed."""

    assigned: list[Partition]
    end: dict[Partition, int] | None
    committed: dict[Partition, int] | None


class GroupOffsets:
    """The consumer group's committed offsets, as its coordinator holds them. The admin
    client is opened at the first scrape and kept; it is closed after a failure (the next
    scrape opens another) and when the worker stops."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap.split(",")
        self.group = group
        self._admin: AIOKafkaAdminClient | None = None

    async def read(self) -> dict[Partition, int]:
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.bootstrap,
                    client_id="ocop-worker-metrics",
                    request_timeout_ms=int(OFFSETS_TIMEOUT_S * 1000),
                )
                await self._admin.start()
            found = await self._admin.list_consumer_group_offsets(self.group)
        except BaseException:  # an error, or the scrape's timeout
            await self.close()
            raise
        return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()
                if meta.offset >= 0}  # fmt: skip

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()


async def read_offsets(app: faust.App, group: GroupOffsets) -> Offsets:
    try:
        assignment = app.consumer.assignment()
    except ConsumerNotStarted:
        assignment = set()
    changelogs = app.tables.changelog_topics
    partitions = sorted(tp for tp in assignment if tp.topic not in changelogs)
    assigned = [(tp.topic, tp.partition) for tp in partitions]

    async def end_offsets() -> dict[Partition, int]:
        if not partitions:
            return {}
        found = await app.consumer.highwaters(*partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in found.items()}

    end, committed = await asyncio.gather(
        _bounded("log end offsets", end_offsets()), _bounded("committed offsets", group.read())
    )
    return Offsets(assigned, end, committed)


async def _bounded(what: str, reading: Awaitable[T]) -> T | None:
    try:
        async with asyncio.timeout(OFFSETS_TIMEOUT_S):
            return await reading
    except Exception as exc:  # a timeout or any Kafka error: reported as not read
        log.warning("metrics: %s not read from Kafka: %r", what, exc)
        return None


class WorkerCollector:
    """Everything one scrape reports, as Prometheus metric families."""

    def __init__(self, metrics: Metrics, offsets: Offsets) -> None:
        self.metrics = metrics
        self.offsets = offsets

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        for name, label, counts, meaning in (
            ("processed", "topic", m.processed,
             "Messages handed to a handler, by topic (a retried message counts each time)."),
            ("duplicates", "topic", m.duplicates,
             "Messages recognised as already recorded, by topic."),
            ("refused", "reason", m.refused,
             "Messages refused, by reason code; each once its dead letter was acknowledged."),
            ("dead_letters", "topic", m.dead_letters,
             "Dead letters Kafka acknowledged, by the refused message's topic."),
            ("alerts_raised", "kind", m.alerts, "Alerts raised and stored, by kind."),
            ("alerts_corroborated", "kind", m.corroborated,
             "Alerts stored as corroborated by independent clients (when raised or later), "
             "by kind."),
        ):  # fmt: skip
            yield _counts(f"ocop_worker_{name}", meaning, label, counts)
        yield from m.ingest_delay.collect()
        yield from m.alert_delay.collect()
        yield GaugeMetricFamily(
            "ocop_worker_start_time_seconds", "When this worker started (Unix time).",
            value=m.started_at.timestamp(),
        )  # fmt: skip
        last = GaugeMetricFamily(
            "ocop_worker_last_processed_timestamp_seconds",
            "When the last message of each topic was handled (Unix time).", labels=["topic"],
        )  # fmt: skip
        for topic, at in sorted(m.last_processed_at.items()):
            last.add_metric([topic], at)
        yield last
        yield from self._partitions()

    def _partitions(self) -> Iterator[Metric]:
        offsets = self.offsets
        labels = ["topic", "partition"]
        assigned = GaugeMetricFamily(
            "ocop_worker_assigned_partitions", "Partitions of each source topic assigned to "
            "this worker.", labels=["topic"],
        )  # fmt: skip
        for topic, count in sorted(Counter(topic for topic, _ in offsets.assigned).items()):
            assigned.add_metric([topic], count)
        yield assigned
        read = GaugeMetricFamily(
            "ocop_worker_offsets_read", "1 if this scrape read these offsets from Kafka in "
            "time, else 0 (and their series are left out).", labels=["offsets"],
        )  # fmt: skip
        read.add_metric(["log_end"], offsets.end is not None)
        read.add_metric(["committed"], offsets.committed is not None)
        yield read
        end = GaugeMetricFamily(
            "ocop_worker_log_end_offset", "The partition's log end offset.", labels=labels
        )
        committed = GaugeMetricFamily(
            "ocop_worker_committed_offset", "The group's committed offset.", labels=labels
        )
        lag = GaugeMetricFamily(
            "ocop_worker_consumer_lag", "Log end offset minus the group's committed offset, "
            "as kafka-consumer-groups reports it.", labels=labels,
        )  # fmt: skip
        for partition in offsets.assigned:
            key = [partition[0], str(partition[1])]
            at_end = offsets.end.get(partition) if offsets.end is not None else None
            done = offsets.committed.get(partition) if offsets.committed is not None else None
            if at_end is not None:
                end.add_metric(key, at_end)
            if done is not None:
                committed.add_metric(key, done)
            if at_end is not None and done is not None:
                lag.add_metric(key, max(0, at_end - done))
        yield from (end, committed, lag)


def _counts(name: str, meaning: str, label: str, counts: Counter[str]) -> Metric:
    family = CounterMetricFamily(name, meaning, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


def serve(app: faust.App, metrics: Metrics, bootstrap: str, group: str) -> None:
    """`GET /metrics` on the worker's web server, in Prometheus' text exposition format."""
    offsets = GroupOffsets(bootstrap, group)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        scraped = await read_offsets(app, offsets)
        body = generate_latest(WorkerCollector(metrics, scraped))
        # aiohttp refuses a charset in `content_type`: the whole header is given instead
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def close_offsets(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        await offsets.close()

    # mode types its receivers with mypy_extensions' argument kinds, which mypy 2 rejects
    app.on_before_shutdown.connect(close_offsets)  # type: ignore[arg-type]
