"""The real broker accepts both Python clients the project uses, and gives messages back."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from infra.settings import StackSettings
from infra.topics import admin_client


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
