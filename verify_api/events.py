"""What the API sends to Kafka: a scan event per resolution, an inspector's findings.

The two have opposite needs. A consumer's answer must never wait for Kafka or fail because
of it, so scans go into a bounded queue that one task drains into the producer; when Kafka is
down the queue fills and further scans are dropped and counted (and logged once per outage).
An inspector's finding is evidence: the request waits until Kafka has acknowledged it and
fails with 503 otherwise, so the inspector's app knows to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer

from contract.events import AlertClosed, InspectionRecorded, ScanRecorded, encode_event

log = logging.getLogger(__name__)

RETRY_START_S = (0.5, 1.0, 2.0, 5.0)
DRAIN_ON_STOP_S = 5.0


Finding = InspectionRecorded | AlertClosed
"""What an inspector sends: evidence that must reach Kafka or be refused."""


class EventsUnavailable(Exception):
    """Kafka did not take an event that had to be delivered."""


@dataclass
class EventCounters:
    sent: int = 0
    dropped: int = 0
    """Scans not sent because the queue was full (Kafka down or too slow)."""
    failed: int = 0
    """Scans Kafka refused or timed out on."""


class EventSink(Protocol):
    counters: EventCounters

    def offer(self, scan: ScanRecorded) -> None:
        """Queue a scan if there is room; never blocks, never raises."""

    async def deliver(self, finding: Finding) -> None:
        """Send a finding and wait for Kafka's acknowledgement; raises EventsUnavailable."""


class KafkaEvents:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        linger_ms: int,
        queue_size: int,
        deliver_timeout_s: float,
    ) -> None:
        self.counters = EventCounters()
        self._bootstrap = bootstrap
        self._topic = topic
        self._linger_ms = linger_ms
        self._deliver_timeout_s = deliver_timeout_s
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(queue_size)
        self._producer: AIOKafkaProducer | None = None
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._dropping = False

    async def start(self) -> None:
        """Connect in the background: the API serves consumers with or without Kafka."""
        self._tasks = [
            asyncio.create_task(self._connect(), name="kafka-connect"),
            asyncio.create_task(self._drain(), name="scan-drain"),
        ]

    async def stop(self) -> None:
        if self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), DRAIN_ON_STOP_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()  # sends what is batched

    def offer(self, scan: ScanRecorded) -> None:
        try:
            self._queue.put_nowait((scan.topic_key(), encode_event(scan)))
        except asyncio.QueueFull:
            self.counters.dropped += 1
            if not self._dropping:
                log.warning("scan queue full (Kafka down or slow): dropping scan events")
                self._dropping = True

    async def deliver(self, finding: Finding) -> None:
        producer = self._producer if self._ready.is_set() else None
        if producer is None:
            raise EventsUnavailable("Kafka is not connected")
        try:
            await asyncio.wait_for(
                producer.send_and_wait(self._topic, encode_event(finding), key=finding.topic_key()),
                self._deliver_timeout_s,
            )
        except Exception as exc:  # a timeout or any Kafka error: the finding is not recorded
            log.warning("an inspection finding was not delivered: %r", exc)
            raise EventsUnavailable(f"Kafka did not acknowledge the finding: {exc!r}") from exc

    async def _connect(self) -> None:
        attempt = 0
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap.split(","),
                acks="all",
                linger_ms=self._linger_ms,
                client_id="ocop-verify-api",
            )
            try:
                await producer.start()
            except Exception as exc:
                delay = RETRY_START_S[min(attempt, len(RETRY_START_S) - 1)]
                log.warning("Kafka at %s: %r; retrying in %.1f s", self._bootstrap, exc, delay)
                await producer.stop()
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self._producer = producer
            self._ready.set()
            return

    async def _drain(self) -> None:
        await self._ready.wait()
        assert self._producer is not None  # set before ready
        producer = self._producer
        while True:
            key, value = await self._queue.get()
            try:
                delivery = await producer.send(self._topic, value, key=key)
                delivery.add_done_callback(self._delivered)
            except Exception as exc:
                self.counters.failed += 1
                log.warning("a scan event was not sent: %r", exc)
            finally:
                self._queue.task_done()

    def _delivered(self, delivery: asyncio.Future[object]) -> None:
        if delivery.cancelled() or delivery.exception() is not None:
            self.counters.failed += 1
        else:
            self.counters.sent += 1
            self._dropping = False
