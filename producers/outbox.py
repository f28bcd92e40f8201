"""The outbox: every event the station emits, kept on disk until Kafka has acknowledged it.

Rows are appended inside the transaction that records what the event announces (the
station's), and marked acknowledged only after Kafka acked them with acks=all (the
sender's). A row is never deleted: the acknowledged ones are the station's own record of
what it told the world, with the partition and offset Kafka gave it.

Delivery is at least once. A crash between Kafka's ack and the mark sends the row again
with the same bytes, so the same event id: consumers drop it (contract.events: event ids
are kept on retries). Order holds per batch because rows go out in sequence order, every
row of a batch has the batch's key, and the idempotent producer keeps a partition's order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from contract.events import BatchEvent
from contract.fields import format_utc
from producers.journal import transaction


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Backlog:
    """Events not yet acknowledged by Kafka."""

    events: int
    oldest: str | None
    """When the oldest of them was recorded (UTC, as stored)."""


@dataclass(frozen=True)
class Ack:
    seq: int
    partition: int
    offset: int


class Outbox:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def append(self, event: BatchEvent, value: bytes, *, topic: str, at: datetime) -> None:
        """Adds the signed event; call it inside the transaction that records the fact."""
        self._db.execute(
            "INSERT INTO outbox (event_id, event_type, batch_id, topic, key, value, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(event.event_id),
                event.type,
                event.batch_id,
                topic,
                event.topic_key(),
                value,
                format_utc(at),
            ),
        )

    def pending(self, *, after: int, limit: int) -> list[OutboxRow]:
        """Unacknowledged rows with a sequence number above `after`, oldest first."""
        rows = self._db.execute(
            "SELECT seq, event_id, topic, key, value FROM outbox"
            " WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [OutboxRow(*row) for row in rows]

    def mark_acked(self, acks: list[Ack], at: datetime) -> None:
        if not acks:
            return
        stamp = format_utc(at)
        with transaction(self._db):
            self._db.executemany(
                'UPDATE outbox SET acked_at = ?, partition = ?, "offset" = ? WHERE seq = ?',
                [(stamp, ack.partition, ack.offset, ack.seq) for ack in acks],
            )

    def backlog(self, batch_id: str | None = None) -> Backlog:
        query = "SELECT count(*), min(created_at) FROM outbox WHERE acked_at IS NULL"
        args: tuple[str, ...] = ()
        if batch_id is not None:
            query += " AND batch_id = ?"
            args = (batch_id,)
        events, oldest = self._db.execute(query, args).fetchone()
        return Backlog(events, oldest)
