"""With Kafka unreachable, consumers' scans are dropped and counted (those still queued when
the API stops included), never waited for, and an inspector's finding is refused so the app
can send it again."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from contract.events import InspectionRecorded, InspectionVerdict, ScannerKind, ScanRecorded
from contract.verdict import Reason
from tests.world import NOW
from verify_api.events import EventsUnavailable, KafkaEvents


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def scan() -> ScanRecorded:
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW, code="https://example.com/x",
        reason=Reason.MALFORMED, scanner=ScannerKind.CONSUMER,
    )  # fmt: skip


def test_without_kafka_scans_are_dropped_and_findings_refused_at_once():
    async def scenario() -> None:
        events = KafkaEvents(
            f"127.0.0.1:{closed_port()}", "ocop.scan-events", linger_ms=5, queue_size=3,
            deliver_timeout_s=1,
        )  # fmt: skip
        await events.start()
        started = time.perf_counter()
        for _ in range(5):
            events.offer(scan())
        assert time.perf_counter() - started < 0.1  # never waits for Kafka
        assert (events.counters.dropped, events.counters.sent) == (2, 0)
        finding = InspectionRecorded(
            event_id=uuid.uuid4(), occurred_at=NOW, code="x", inspector_id="QLTT-1",
            stars_seen=4, verdict=InspectionVerdict.GENUINE, reason=Reason.MALFORMED,
            place="Chợ Bo",
        )  # fmt: skip
        with pytest.raises(EventsUnavailable):
            await events.deliver(finding)
        await asyncio.wait_for(events.stop(), 10)
        # the three still queued when the API stops are counted too, not lost silently
        assert (events.counters.dropped, events.counters.sent) == (5, 0)

    asyncio.run(scenario())
