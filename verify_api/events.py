"""What the API sends to Kafka: a scan event per resolution, an inspector's findings.

The two have opposite needs. A consumer's answer must never wait for Kafka or fail because
of it, so scans go into a bounded queue that one task drains into the producer; when Kafka is
down the queue fills and further scans are dropped and counted (and logged once per outage).
The task takes all that is queued at once and appends it to one batch per partition (chosen
by Kafka's default partitioner, as a plain send would): a scan then costs an append, not a
send of its own with its future and wake-ups, which was a tenth of a resolution's time.
An inspector's finding is evidence: the request waits until Kafka has acknowledged it. What
a failure means depends on where it happened, because of how aiokafka (0.14) sends: `send()`
only appends the message to a batch in the producer's accumulator and returns a future, and a
background task writes the batches to the partition leaders and resolves those futures from
the broker's answers. Once the message is in the accumulator nothing on this side can take it
back: cancelling its future does not withdraw it (aiokafka's own docstring says so), and the
producer's expiry (`request_timeout_ms`, 40 s) fails a batch only while its partition has no
leader, or on a retriable error once the batch is old, which includes a produce request that
timed out after its bytes were written to a broker that may still read and append them (a
paused broker does, when it resumes). So a failure after that point is DeliveryUnconfirmed:
the finding may or may not be recorded. Only a failure before it (Kafka never connected,
metadata or room in the accumulator not found in time) is a plain EventsUnavailable: not
sent. Either way the inspector's app sends it again; verify_api.routes.inspectors gives a
resent finding the same event id, so it is not recorded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from contract.events import (
    AlertClosed,
    CaseClosed,
    ConsumerReported,
    InspectionRecorded,
    ScanRecorded,
    encode_event,
)

log = logging.getLogger(__name__)

RETRY_START_S = (0.5, 1.0, 2.0, 5.0)
DRAIN_ON_STOP_S = 5.0
DRAIN_AT_ONCE = 1_000
"""Scans taken from the queue for one round of batches."""


Finding = InspectionRecorded | AlertClosed | ConsumerReported | CaseClosed
"""What must reach Kafka, acknowledged, or be refused: an inspector's finding or closing of
an alert or case, a consumer's report."""


class EventsUnavailable(Exception):
    """Kafka did not take an event that had to be delivered: it was not sent."""


class DeliveryUnconfirmed(EventsUnavailable):
    """The event was handed to the producer but not acknowledged in time: it may still be
    written (see the module's docstring), so it may or may not be recorded."""


@dataclass
class EventCounters:
    accepted: int = 0
    """Scans taken into the queue."""
    sent: int = 0
    dropped: int = 0
    """Scans not sent because the queue was full (Kafka down or too slow)."""
    failed: int = 0
    """Scans Kafka refused or timed out on."""

    @property
    def waiting(self) -> int:
        """Scans accepted but not yet acknowledged nor given up: in the queue, or in the
        producer waiting for the broker. What backs up when Kafka stalls."""
        return self.accepted - self.sent - self.failed


class EventSink(Protocol):
    counters: EventCounters
    capacity: int
    """How many scans may wait (the queue's size)."""

    def offer(self, scan: ScanRecorded) -> None:
        """Queue a scan if there is room; never blocks, never raises."""

    async def deliver(self, finding: Finding) -> None:
        """Send a finding and wait for Kafka's acknowledgement. Raises EventsUnavailable if it
        was not sent, DeliveryUnconfirmed (a subclass) if it may or may not be recorded."""

    async def deliver_to(self, topic: str, key: bytes, value: bytes, event_id: UUID) -> None:
        """`deliver` for a message already encoded, to any topic."""


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
        self.capacity = queue_size
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

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def stop(self) -> None:
        if self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), DRAIN_ON_STOP_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()  # sends what is batched
        if left := self._queue.qsize():  # Kafka never came, or did not take them in time
            self.counters.dropped += left
            log.warning("stopping with %d scan event(s) not sent: dropped", left)

    def offer(self, scan: ScanRecorded) -> None:
        try:
            self._queue.put_nowait((scan.topic_key(), encode_event(scan)))
            self.counters.accepted += 1
        except asyncio.QueueFull:
            self.counters.dropped += 1
            if not self._dropping:
                log.warning("scan queue full (Kafka down or slow): dropping scan events")
                self._dropping = True

    async def deliver(self, finding: Finding) -> None:
        """Send a finding and wait, at most `deliver_timeout_s`, for Kafka's acknowledgement
        (`deliver_to` the scan topic)."""
        await self.deliver_to(
            self._topic, finding.topic_key(), encode_event(finding), finding.event_id
        )

    async def deliver_to(self, topic: str, key: bytes, value: bytes, event_id: UUID) -> None:
        """Send a message that must be delivered (a finding; an office's signed step of a
        dossier, on the authority topic) and wait, at most `deliver_timeout_s`, for Kafka's
        acknowledgement.

        Raises EventsUnavailable when the finding was not sent: Kafka never connected, or
        `send()` failed or ran out of time before the message was in the accumulator
        (cancelling `send()` itself does stop it). Raises DeliveryUnconfirmed when it was
        handed over and not acknowledged in time, or failed afterwards: the producer still
        holds or has sent it, so it may yet be recorded; the eventual outcome is logged.
        """
        producer = self._producer if self._ready.is_set() else None
        if producer is None:
            raise EventsUnavailable("Kafka is not connected: not sent")
        queued: asyncio.Future[Any] | None = None
        try:
            async with asyncio.timeout(self._deliver_timeout_s):
                queued = await producer.send(topic, value, key=key)
                await asyncio.shield(queued)  # a timeout here leaves the message to the producer
        except Exception as exc:  # a timeout or any Kafka error
            if queued is None:
                log.warning("a finding was not sent to Kafka: %r", exc)
                raise EventsUnavailable(f"Kafka did not take it: {exc!r}; not sent") from exc
            if queued.done():  # the producer gave up, perhaps after the broker had written it
                why = f"Kafka failed it after taking it ({exc!r})"
            else:  # timed out: the producer keeps it, and may deliver it later

                def late(delivery: asyncio.Future[Any]) -> None:
                    if not delivery.cancelled():
                        error = delivery.exception()
                        outcome = f"refused ({error!r})" if error else "acknowledged"
                        log.warning("finding %s, unconfirmed, was later %s", event_id, outcome)

                queued.add_done_callback(late)
                why = f"Kafka did not acknowledge it within {self._deliver_timeout_s:g} s"
            log.warning("finding %s unconfirmed: %s", event_id, why)
            raise DeliveryUnconfirmed(f"{why}; it may or may not be recorded") from exc

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
            scans = [await self._queue.get()]
            while len(scans) < DRAIN_AT_ONCE and not self._queue.empty():
                scans.append(self._queue.get_nowait())
            try:
                await self._send(producer, scans)
            finally:
                for _ in scans:
                    self._queue.task_done()

    async def _send(self, producer: AIOKafkaProducer, scans: list[tuple[bytes, bytes]]) -> None:
        try:
            partitions = sorted(await producer.partitions_for(self._topic))
        except Exception as exc:  # no metadata for the topic: none of these can be sent
            self._not_sent(len(scans), exc)
            return
        for partition, batch in self._batches(producer, scans, partitions):
            try:
                delivery = await producer.send_batch(batch, self._topic, partition=partition)
            except Exception as exc:
                self._not_sent(batch.record_count(), exc)
                continue
            delivery.add_done_callback(functools.partial(self._delivered, batch.record_count()))

    def _batches(
        self, producer: AIOKafkaProducer, scans: list[tuple[bytes, bytes]], partitions: list[int]
    ) -> list[tuple[int, BatchBuilder]]:
        """One batch per partition, and another whenever one is full."""
        done: list[tuple[int, BatchBuilder]] = []
        filling: dict[int, BatchBuilder] = {}
        for key, value in scans:
            partition = _PARTITIONER(key, partitions, partitions)
            batch = filling.get(partition)
            if batch is not None and batch.append(key=key, value=value, timestamp=None) is not None:
                continue
            if batch is not None:  # full
                done.append((partition, batch))
            batch = filling[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                del filling[partition]
                self._not_sent(1, ValueError(f"a scan event of {len(value)} bytes fills no batch"))
        return done + list(filling.items())

    def _not_sent(self, scans: int, exc: Exception) -> None:
        self.counters.failed += scans
        log.warning("%d scan event(s) not sent: %r", scans, exc)

    def _delivered(self, scans: int, delivery: asyncio.Future[object]) -> None:
        if delivery.cancelled() or delivery.exception() is not None:
            self.counters.failed += scans
        else:
            self.counters.sent += scans
            self._dropping = False


_PARTITIONER = DefaultPartitioner()
"""Kafka's murmur2 of the key: every scan of a unit goes to one partition."""
