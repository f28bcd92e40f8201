"""The packing station against the real broker: a 1,000-unit batch goes out through the
outbox, and a consumer reads every event back exactly once, in order, signed."""

from __future__ import annotations

import itertools
import sqlite3
import time
import warnings
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from contract.encoding import model_bytes
from contract.events import SignedEvent, UnitsPacked, decode_signed_event
from contract.verdict import Reason
from infra.settings import DataSettings
from infra.topics import admin_client
from keys.verifier import verify_event
from producers.identity import StationIdentity
from producers.inputs import parse_raw_material
from producers.sender import Sender
from producers.settings import StationSettings
from producers.station import Station
from tests.world import LOT, NOW, PRODUCT, World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import NewTopic

PARTITIONS = 3


def create_topic(settings: DataSettings, name: str) -> None:
    with admin_client(settings) as admin:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])


def delete_topic(settings: DataSettings, name: str) -> None:
    with admin_client(settings) as admin:
        admin.delete_topics([name])


def station_for(world: World, settings: StationSettings) -> Station:
    """A station on the world's fixed day, its clock moving a millisecond per reading."""
    ticks = itertools.count()
    identity = StationIdentity.of(world.producer, world.trust())
    return Station(settings, identity, clock=lambda: NOW + timedelta(milliseconds=next(ticks)))


def open_batch(station: Station, planned: int):
    return station.open_batch(
        product_key=PRODUCT,
        lot=LOT,
        production_date=date(2025, 3, 1),
        expiry_date=date(2026, 3, 1),
        raw_materials=[parse_raw_material("cua cáy|bãi triều xã Hồng Tiến, Kiến Xương|400 kg")],
        planned_units=planned,
    )


def read_back(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Any]:
    """Every record of the topic, up to its end offsets at the time of the call."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, "records did not come back in time"
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def outbox_ids(settings: StationSettings) -> list[str]:
    with sqlite3.connect(settings.journal_path) as db:
        return [row[0] for row in db.execute("SELECT event_id FROM outbox ORDER BY seq")]


def check_exactly_once(
    records: list[Any], settings: StationSettings, world: World, batch_id: str
) -> list[SignedEvent]:
    """Each event recorded by the station is in the topic exactly once, in the outbox's
    order, keyed by its batch on one partition, and verifies under the trust list."""
    ordered = sorted(records, key=lambda record: record.offset)
    events = [decode_signed_event(record.value) for record in ordered]
    ids = [str(event.body.event_id) for event in events]
    assert [event_id for event_id, n in Counter(ids).items() if n > 1] == []
    assert ids == outbox_ids(settings)
    assert {(record.key, record.partition) for record in ordered} == {
        (batch_id.encode(), ordered[0].partition)
    }
    trust = world.trust()
    for event in events:
        verdict = verify_event(model_bytes(event), trust=trust, now=NOW)
        assert verdict.reason is Reason.GENUINE, verdict.detail
    return events


@pytest.fixture
def topic(stack_settings, unique_name):
    name = f"ocop.station.{unique_name}"
    create_topic(stack_settings, name)
    yield name
    delete_topic(stack_settings, name)


def test_a_batch_of_1000_units_is_read_back_exactly_once(stack_settings, topic, tmp_path):
    world = World()
    settings = StationSettings(
        state_dir=tmp_path, kafka_bootstrap=stack_settings.kafka_bootstrap, batch_topic=topic
    )
    sender = Sender(settings)
    sender.start()
    try:
        with station_for(world, settings) as station:
            batch = open_batch(station, planned=1000)
            run = station.print_labels(LOT, 1000)
            for label in run.labels:
                station.scan(batch.batch_id, label.url)
            station.close_batch(LOT)
            shipment = station.ship(LOT, to_party="Siêu thị OCOP Thái Bình", units=600)
            station.receive(shipment.shipment_id, receiver="Siêu thị OCOP Thái Bình", units=600)
        assert sender.drain(60), "the outbox did not empty"
    finally:
        sender.stop()

    records = read_back(settings.kafka_bootstrap, topic)
    events = check_exactly_once(records, settings, world, batch.batch_id)
    kinds = [event.body.type for event in events]
    assert kinds == [
        "batch_opened",
        *["units_packed"] * 4,  # 250 units each (the default)
        "batch_closed",
        "batch_shipped",
        "batch_received",
    ]
    packed = [s for e in events if isinstance(e.body, UnitsPacked) for s in e.body.serials]
    assert packed == [label.serial for label in run.labels]


def test_after_a_crash_between_ack_and_mark_the_resent_events_are_dropped_by_id(
    stack_settings, topic, tmp_path
):
    world = World()
    settings = StationSettings(
        state_dir=tmp_path, kafka_bootstrap=stack_settings.kafka_bootstrap, batch_topic=topic
    )
    with station_for(world, settings) as station:
        open_batch(station, planned=10)
        station.recall(LOT, reason="Thử nghiệm")
    assert Sender(settings).run(until_empty=True, timeout=60)
    with sqlite3.connect(settings.journal_path) as db:  # as if the marks were never written
        db.execute("UPDATE outbox SET acked_at = NULL")
    assert Sender(settings).run(until_empty=True, timeout=60)

    records = read_back(settings.kafka_bootstrap, topic)
    ids = [str(decode_signed_event(record.value).body.event_id) for record in records]
    assert len(ids) == 4  # at least once: each event twice in the log
    assert list(dict.fromkeys(ids)) == outbox_ids(settings)  # once each, by id, in order
