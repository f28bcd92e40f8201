"""Kafka goes away in the middle of a batch. The shared broker is never stopped: a second,
throwaway broker from the same jars, on free ports and in a temporary state folder, is the
one this test stops and starts again (infra.stack, as `ocop-stack` does).

Two outages: in the first the station keeps running and its sender's producer retries
through it; in the second the station also restarts while Kafka is down, so a new sender
delivers what the old one left in the outbox. Scanning never stops, and once the broker is
back every event is in the topic exactly once: not once per event id, once in the log.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from infra import kafka, stack
from infra.settings import StackSettings
from producers.sender import Sender
from producers.settings import StationSettings
from tests.integration.test_station_kafka import (
    check_exactly_once,
    create_topic,
    open_batch,
    read_back,
    station_for,
)
from tests.world import LOT, World

KAFKA = next(server for server in stack.SERVERS if server.name == kafka.NAME)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def spare_broker(stack_settings, tmp_path) -> Iterator[StackSettings]:
    state = tmp_path / "spare-kafka"
    (state / "lib").mkdir(parents=True)
    (state / "lib" / kafka.NAME).symlink_to(stack_settings.state_dir / "lib" / kafka.NAME)
    port = free_port()
    settings = StackSettings(
        state_dir=state,
        kafka_port=port,
        kafka_controller_port=free_port(),
        kafka_bootstrap=f"127.0.0.1:{port}",
        topic_partitions=3,
    )
    stack.up(settings, servers=[KAFKA])
    yield settings
    stack.down(settings, only={kafka.NAME})


def test_scans_go_on_through_outages_and_every_event_arrives_once(spare_broker, tmp_path):
    topic = "ocop.batch-events"  # this broker is ours alone
    create_topic(spare_broker, topic)
    world = World()
    settings = StationSettings(
        state_dir=tmp_path / "station",
        kafka_bootstrap=spare_broker.kafka_bootstrap,
        batch_topic=topic,
        pack_event_units=50,
    )

    def scan(station, labels) -> float:
        """Scans, returning the slowest scan's seconds: a broker outage must not show."""
        slowest = 0.0
        for label in labels:
            started = time.monotonic()
            station.scan(LOT, label.url)
            slowest = max(slowest, time.monotonic() - started)
        return slowest

    sender = Sender(settings)
    sender.start()
    station = station_for(world, settings)
    batch = open_batch(station, planned=1000)
    labels = station.print_labels(LOT, 1000).labels
    scan(station, labels[:250])
    assert sender.drain(30)

    # 1. The broker stops; the station and its sender keep running.
    stack.down(spare_broker, only={kafka.NAME})
    assert scan(station, labels[250:500]) < 1.0
    assert station.backlog().events == 5  # five UnitsPacked of 50, held in the outbox
    stack.up(spare_broker, servers=[KAFKA])
    assert sender.drain(120), "the sender did not deliver after the broker came back"

    # 2. The broker stops again, and the station restarts while it is down.
    stack.down(spare_broker, only={kafka.NAME})
    scan(station, labels[500:750])
    sender.stop()
    station.close()
    station = station_for(world, settings)
    assert scan(station, labels[750:]) < 1.0
    station.close_batch(LOT)
    assert station.backlog().events == 11  # 10 UnitsPacked and the close
    station.close()
    stack.up(spare_broker, servers=[KAFKA])
    assert Sender(settings).run(until_empty=True, timeout=120)

    records = read_back(spare_broker.kafka_bootstrap, topic)
    events = check_exactly_once(records, settings, world, batch.batch_id)
    assert len(events) == 1 + 20 + 1
    serials = [
        s for event in events if event.body.type == "units_packed" for s in event.body.serials
    ]
    assert sorted(serials) == sorted(label.serial for label in labels)
