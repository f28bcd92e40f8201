"""What happened to each message: counted for /ocop/metrics, and refused ones dead-lettered."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contract.encoding import model_bytes
from contract.records import DeadLetter


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
    processed: Counter[str] = field(default_factory=Counter)  # by topic
    duplicates: Counter[str] = field(default_factory=Counter)  # by topic
    refused: Counter[str] = field(default_factory=Counter)  # by reason code
    alerts: Counter[str] = field(default_factory=Counter)  # by alert kind
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


SendBytes = Callable[[bytes, bytes], Awaitable[None]]
"""Sends (key, value) to the dead-letter topic and returns once Kafka acknowledged it."""


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
