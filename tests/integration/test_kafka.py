"""The real broker accepts both Python clients the project uses, and gives messages back."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from infra.settings import StackSettings
from infra.topics import admin_client
from stream_processors.transport import MissedReader


def test_kafka_python_and_aiokafka_messages_come_back(stack_settings: StackSettings, unique_name):
    topic = f"ocop.{unique_name}"
    with admin_client(stack_settings) as admin:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    try:
        producer = KafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap, acks="all")
        producer.send(topic, key=b"batch-1", value=b"from kafka-python").get(timeout=15)
        producer.close()

        async def send_with_aiokafka() -> None:
            aio = AIOKafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap, acks="all")
            await aio.start()
            try:
                await aio.send_and_wait(topic, key=b"batch-1", value=b"from aiokafka")
            finally:
                await aio.stop()

        asyncio.run(send_with_aiokafka())

        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=stack_settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=15_000,
            group_id=None,
        )
        received = []
        for message in consumer:
            received.append((message.key, message.value, message.partition))
            if len(received) == 2:
                break
        consumer.close()
    finally:
        with admin_client(stack_settings) as admin:
            admin.delete_topics([topic])

    assert sorted(value for _, value, _ in received) == [b"from aiokafka", b"from kafka-python"]
    # same key, same partition: both clients hash keys the way the Java client does
    assert len({partition for _, _, partition in received}) == 1


def test_the_missed_reader_reads_exactly_the_offsets_asked_for(stack_settings: StackSettings,
                                                               unique_name):  # fmt: skip
    # the transport fills a jump in what Faust hands on with it (stream_processors.transport)
    topic = f"ocop.{unique_name}"
    with admin_client(stack_settings) as admin:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    try:
        producer = KafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap, acks="all")
        for n in range(10):
            producer.send(topic, value=f"message {n}".encode(), partition=1)
        producer.flush(timeout=15)
        producer.close()

        async def read(start: int, end: int) -> list[tuple[int, bytes]]:
            reader = MissedReader(bootstrap_servers=stack_settings.kafka_bootstrap)
            try:
                return [(r.offset, r.value) async for r in reader.read(TP(topic, 1), start, end)]
            finally:
                await reader.stop()

        middle, tail, nothing = (asyncio.run(read(*hole)) for hole in ((3, 7), (8, 10), (5, 5)))
    finally:
        with admin_client(stack_settings) as admin:
            admin.delete_topics([topic])

    assert middle == [(n, f"message {n}".encode()) for n in range(3, 7)]
    assert [offset for offset, _ in tail] == [8, 9]
    assert nothing == []
