"""The verify API's scan sender on the real broker: queued scans go out in batches, each
exactly once, every scan of a unit in the partition a plain keyed send would have chosen."""

from __future__ import annotations

import asyncio
import uuid

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from contract import identifiers
from contract.events import ScannerKind, ScanRecorded, decode_event
from contract.verdict import Reason
from infra.settings import StackSettings
from infra.topics import admin_client
from tests.world import LOT, NOW, PRODUCT
from verify_api.events import KafkaEvents

UNITS = 40
SCANS_PER_UNIT = 10


def scan(serial: str) -> ScanRecorded:
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW, code=f"https://ocop.vn/x/{serial}",
        batch_id=identifiers.batch_id(PRODUCT, LOT), serial=serial, reason=Reason.GENUINE,
        scanner=ScannerKind.CONSUMER,
    )  # fmt: skip


def test_queued_scans_arrive_once_each_in_their_units_partition(
    stack_settings: StackSettings, unique_name: str
):
    topic = f"ocop.{unique_name}"
    with admin_client(stack_settings) as admin:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    serials = [identifiers.new_serial() for _ in range(UNITS)]
    scans = [scan(serial) for _ in range(SCANS_PER_UNIT) for serial in serials]
    try:

        async def offer_all() -> tuple[int, int]:
            events = KafkaEvents(
                stack_settings.kafka_bootstrap, topic, linger_ms=5, queue_size=len(scans),
                deliver_timeout_s=15,
            )  # fmt: skip
            await events.start()

            async def connected() -> None:
                while not events.connected:
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(connected(), 30)
            for start in range(0, len(scans), 50):  # a burst at a time, as requests come
                for event in scans[start : start + 50]:
                    events.offer(event)
                await asyncio.sleep(0)
            await asyncio.wait_for(events.stop(), 30)
            return events.counters.sent, events.counters.failed

        assert asyncio.run(offer_all()) == (len(scans), 0)
        # where the Java client (and kafka-python) puts each unit's key
        plain = KafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap)
        expected = {
            s.topic_key(): plain.send(topic, key=s.topic_key(), value=b"probe").get(15).partition
            for s in scans[:UNITS]
        }
        plain.close()
        consumer = KafkaConsumer(
            topic, bootstrap_servers=stack_settings.kafka_bootstrap,
            auto_offset_reset="earliest", consumer_timeout_ms=15_000, group_id=None,
        )  # fmt: skip
        received = []
        for message in consumer:
            if message.value != b"probe":
                received.append((message.key, message.partition, decode_event(message.value)))
            if len(received) == len(scans):
                break
        consumer.close()
    finally:
        with admin_client(stack_settings) as admin:
            admin.delete_topics([topic])

    assert sorted(str(e.event_id) for *_, e in received) == sorted(str(s.event_id) for s in scans)
    assert all(partition == expected[key] for key, partition, _ in received)
    assert len(set(expected.values())) > 1  # the units were spread, not all in one partition
