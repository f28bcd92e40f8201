"""The workers' transport (stream_processors.transport): after a rebalance, a source
partition nothing was ever committed on is read from its start; the others stay where
Faust's seek to the committed offsets put them, and table changelogs are left to the
table recovery. The consumer thread is a stand-in: the rule is ours, Kafka's part of it
(where `seek_to_beginning` lands) is aiokafka's and is exercised by tests/cluster."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP

from stream_processors.transport import Consumer


class Thread:
    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.sought_to_beginning: list[TopicPartition] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.sought_to_beginning.extend(partitions)


def consumer(thread: Thread) -> Any:
    made: Any = Consumer.__new__(Consumer)
    made._thread = thread
    made.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={"app-table-changelog"}))
    return made


def test_partitions_never_committed_are_read_from_their_start() -> None:
    thread = Thread(
        {
            TP("batches", 0): 24,  # committed: Faust's seek put it there
            TP("batches", 5): None,  # nothing ever committed
            TP("scans", 1): 0,  # committed at 0: aiokafka does not seek either
            TP("app-table-changelog", 5): None,  # the table recovery's business
        }
    )
    returned = asyncio.run(consumer(thread).seek_to_committed())
    assert returned == thread.committed
    assert sorted(thread.sought_to_beginning) == [
        TopicPartition("batches", 5),
        TopicPartition("scans", 1),
    ]


def test_nothing_is_sought_when_every_partition_has_an_offset() -> None:
    thread = Thread({TP("batches", 0): 3, TP("scans", 0): 17})
    asyncio.run(consumer(thread).seek_to_committed())
    assert thread.sought_to_beginning == []
