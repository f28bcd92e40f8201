"""What happened to each message: counted for the worker's /metrics (stream_processors.metrics
exposes these counts to Prometheus when scraped), and refused ones dead-lettered."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from prometheus_client import Histogram

from contract.encoding import model_bytes
from contract.records import DeadLetter

T = TypeVar("T")

DELAY_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    4 * 3600.0, 86_400.0, 7 * 86_400.0,
)  # fmt: skip
"""From milliseconds (a worker keeping up) to a week (a station's outbox that was offline)."""


def _delay(name: str, documentation: str) -> Histogram:
    # registry=None: each Metrics has its own; stream_processors.metrics collects them
    return Histogram(name, documentation, buckets=DELAY_BUCKETS, registry=None)


def seconds_since(at: datetime) -> float:
    """Seconds from `at` to now; 0 for a time in the future (another machine's clock)."""
    return max(0.0, (datetime.now(UTC) - at).total_seconds())


async def all_done(work: Iterable[Awaitable[T]]) -> list[T]:
    """Every result, all run at once; every one is let finish before the first failure is
    raised, so a retry of the message (the same writes again) never races them."""
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]  # no exception among them


@dataclass(frozen=True)
class Message:
    """A consumed Kafka message, as the handlers see it (no Faust types past the agents)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class Metrics:
    """Plain counts on the hot path, read by Prometheus when it scrapes."""

    processed: Counter[str] = field(default_factory=Counter)  # by topic
    duplicates: Counter[str] = field(default_factory=Counter)  # by topic
    refused: Counter[str] = field(default_factory=Counter)  # by reason code
    dead_letters: Counter[str] = field(default_factory=Counter)  # by the refused message's topic
    alerts: Counter[str] = field(default_factory=Counter)  # raised, by alert kind
    corroborated: Counter[str] = field(default_factory=Counter)  # by alert kind
    ingest_delay: Histogram = field(
        default_factory=lambda: _delay(
            "ocop_worker_ingest_delay_seconds",
            "From a batch event's occurred_at to its record stored.",
        )
    )
    alert_delay: Histogram = field(
        default_factory=lambda: _delay(
            "ocop_worker_scan_to_alert_delay_seconds",
            "From a scan's occurred_at to an alert it raised stored.",
        )
    )
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_processed_at: dict[str, float] = field(default_factory=dict)
    """When the last message of each topic was handled (Unix time): when a backlog was done,
    which a scrape, answered between micro-batches, can only show later."""

    def count_processed(self, topic: str, messages: int = 1) -> None:
        """Messages of `topic` handled, now."""
        self.processed[topic] += messages
        self.last_processed_at[topic] = time.time()


SendBytes = Callable[[bytes, bytes], Awaitable[None]]
"""Sends (key, value) to a topic and returns once Kafka acknowledged it."""

SendMany = Callable[[Sequence[tuple[bytes, bytes]]], Awaitable[None]]
"""Sends (key, value) records to a topic in their order (records of one key reach its
partition in that order) and returns once Kafka acknowledged every one."""


@dataclass
class Refuser:
    """Puts refused messages on the dead-letter topic, whole, with the reason."""

    send: SendBytes
    metrics: Metrics
    processor: str

    async def __call__(self, message: Message, reason: str, detail: str) -> None:
        letter = DeadLetter(
            reason=reason,
            detail=detail[:2000],
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key.decode("utf-8", errors="replace") if message.key else None,
            value=base64.urlsafe_b64encode(message.value).rstrip(b"=").decode("ascii"),
            refused_at=datetime.now(UTC),
            processor=self.processor,
        )
        await self.send(message.key or b"", model_bytes(letter))
        self.metrics.refused[reason] += 1
        self.metrics.dead_letters[message.topic] += 1
