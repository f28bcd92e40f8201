"""The workers' transport (stream_processors.transport): an offset is committed only past
messages a handler finished, in each partition's order, whatever Faust skips or fetches
during a rebalance. The consumer is built without its Kafka thread: the rules are ours; how
they hold with a broker dying under load is tests/cluster's."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP, ConsumerMessage

from stream_processors.transport import Consumer

GENERATION = 4


class Thread:
    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.sought_to_beginning: list[TopicPartition] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.sought_to_beginning.extend(partitions)


def consumer(committed: dict[TP, int | None] | None = None) -> Any:
    made: Any = Consumer.__new__(Consumer)
    made._thread = Thread(committed or {})
    made.app = SimpleNamespace(
        consumer_generation_id=GENERATION,
        tables=SimpleNamespace(changelog_topics={"app-table-changelog"}),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
    )
    made._unacked_messages = set()
    made._acked = defaultdict(list)
    made._acked_index = defaultdict(set)
    made._committed_offset = defaultdict(lambda: None)
    made._gap = defaultdict(list)
    made._n_acked = 0
    made._waiting_for_ack = None
    return made


def message(offset: int, generation: int = GENERATION) -> ConsumerMessage:
    return ConsumerMessage("batches", 1, offset, 0.0, 0, None, b"k", b"v", None,
                           generation_id=generation)  # fmt: skip


def test_a_handled_message_of_this_generation_is_acknowledged() -> None:
    kafka, m = consumer(), message(7)
    kafka._unacked_messages.add(m)
    assert kafka.acknowledge(m) is True
    assert kafka._acked[TP("batches", 1)] == [7]
    assert m not in kafka._unacked_messages


def test_faust_acknowledging_a_message_it_skipped_is_refused() -> None:
    # what a stream does with a message taken while the flow is stopped for a rebalance
    kafka, m = consumer(), message(7)
    kafka._unacked_messages.add(m)
    assert m.ack(kafka) is False
    assert kafka._acked[TP("batches", 1)] == []
    assert m not in kafka._unacked_messages  # a rebalance does not wait for it


def test_a_message_handled_under_an_earlier_assignment_is_not_acknowledged() -> None:
    kafka = consumer()
    assert kafka.acknowledge(message(7, generation=GENERATION - 1)) is False
    assert kafka._acked[TP("batches", 1)] == []


def test_a_commit_starts_at_the_committed_offset() -> None:
    kafka = consumer()
    tp = TP("batches", 1)
    kafka._committed_offset[tp] = 31  # the next message to handle is 31
    kafka._acked[tp] = [32, 33]  # Faust would commit 34, past 31
    assert kafka._new_offset(tp) is None
    kafka._acked[tp] = [31, 32, 33, 35]
    assert kafka._new_offset(tp) == 34


def test_a_jump_in_the_offsets_read_is_not_committed_as_handled() -> None:
    kafka = consumer()
    tp = TP("batches", 1)
    kafka._committed_offset[tp] = 10
    asyncio.run(kafka._add_gap(tp, 11, 20))
    kafka._acked[tp] = [10]
    assert kafka._new_offset(tp) == 11


def test_partitions_never_committed_are_read_from_their_start() -> None:
    committed: dict[TP, int | None] = {
        TP("batches", 0): 24,  # committed: Faust's seek put it there
        TP("batches", 5): None,  # nothing ever committed
        TP("scans", 1): 0,  # committed at 0: aiokafka does not seek either
        TP("app-table-changelog", 5): None,  # the table recovery's business
    }
    kafka = consumer(committed)
    assert asyncio.run(kafka.seek_to_committed()) == committed
    assert sorted(kafka._thread.sought_to_beginning) == [
        TopicPartition("batches", 5),
        TopicPartition("scans", 1),
    ]


def test_nothing_is_sought_when_every_partition_has_an_offset() -> None:
    kafka = consumer({TP("batches", 0): 3, TP("scans", 0): 17})
    asyncio.run(kafka.seek_to_committed())
    assert kafka._thread.sought_to_beginning == []
