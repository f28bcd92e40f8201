"""The workers' transport (stream_processors.transport): an offset is committed only past
messages a handler finished, in each partition's order, whatever Faust skips or fetches
during a rebalance. The consumer is built without its Kafka thread: the rules are ours; how
they hold with a broker dying under load is tests/cluster's."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from faust.transport import consumer as faust_consumer
from faust.types import TP, ConsumerMessage
from mode.utils.queues import FlowControlQueue

from stream_processors.transport import App, Consumer, FlowControl

GENERATION = 4


class Thread:
    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.sought_to_beginning: list[TopicPartition] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.sought_to_beginning.extend(partitions)

    def assignment(self) -> set[TP]:
        return {TP("batches", 1), TP("app-table-changelog", 1)}


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
    made._next_offsets = {}
    made._dropped_until = {}
    made._missed_reader = MissedReader()
    made.flow_active = True
    made._active_partitions = {TP("batches", 1)}
    made._paused_partitions = set()
    made._buffered_partitions = set()
    made._buffer_drained = asyncio.Event()
    made._to_message = lambda tp, record: message(record.offset, topic=tp.topic)
    return made


class MissedReader:
    """The partition as the broker holds it: offsets 0 to 99."""

    def __init__(self) -> None:
        self.reads: list[tuple[TP, int, int]] = []
        self.on_read = lambda offset: None

    async def read(self, tp: TP, start: int, end: int) -> AsyncIterator[Any]:
        self.reads.append((tp, start, end))
        for offset in range(start, end):
            self.on_read(offset)
            yield SimpleNamespace(offset=offset)


def message(offset: int, generation: int = GENERATION, topic: str = "batches") -> ConsumerMessage:
    return ConsumerMessage(topic, 1, offset, 0.0, 0, None, b"k", b"v", None,
                           generation_id=generation)  # fmt: skip


def handed_on(kafka: Any, fetched: Iterable[ConsumerMessage],
              monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:  # fmt: skip
    """What the transport hands on to Faust's streams when Faust's getmany yields `fetched`."""

    async def faust_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for m in fetched:
            yield m.tp, m

    async def drain() -> list[tuple[str, int]]:
        return [(m.topic, m.offset) async for _, m in kafka.getmany(1.0)]

    monkeypatch.setattr(faust_consumer.Consumer, "getmany", faust_getmany)
    return asyncio.run(drain())


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


def drained(kafka: Any, fetched: list[ConsumerMessage], monkeypatch: pytest.MonkeyPatch,
            deliver: Any = None, suspended: bool = False) -> list[int]:  # fmt: skip
    """The offsets the drain loop hands to the streams (Faust's conductor) when one fetch
    yields `fetched`; the loop ends once the fetch is handed on."""
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    delivered: list[int] = []

    async def hand_on(m: ConsumerMessage) -> None:
        delivered.append(m.offset)

    async def one_fetch(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for m in fetched:
            yield m.tp, m
        fetcher._stopped.set()

    async def scenario() -> None:
        kafka._stopped, kafka._crashed = asyncio.Event(), asyncio.Event()
        kafka.suspend_flow = asyncio.Event()
        if suspended:
            kafka.suspend_flow.set()
        kafka.callback = deliver(delivered) if deliver else hand_on
        await kafka._drain_messages(fetcher)

    monkeypatch.setattr(Consumer, "getmany", one_fetch)
    kafka.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
    kafka._read_offset = defaultdict(lambda: None)
    kafka._commit_every = None
    kafka.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))
    asyncio.run(asyncio.wait_for(scenario(), 5))  # a hand-over held for ever fails, not hangs
    return delivered


CHANGELOG = "app-table-changelog"


def test_a_changelog_is_handed_on_by_faust_s_read_offset(monkeypatch) -> None:
    kafka = consumer()
    kafka_read = [message(o, topic=CHANGELOG) for o in (40, 41, 39, 41, 45)]
    # 39 was read already; 41 again is handed on again (Faust's rule: not below the last
    # read); a jump (42-44) records no gap
    assert drained(kafka, kafka_read, monkeypatch) == [40, 41, 41, 45]
    assert kafka._read_offset[TP(CHANGELOG, 1)] == 45
    assert kafka._gap == {}


def test_a_source_partition_is_handed_on_as_getmany_orders_it(monkeypatch) -> None:
    # getmany hands each offset on once from where the partition was sought: what it
    # yields again was sought again (below, a seek back to 38), and is not skipped
    kafka = consumer()
    kafka_read = [message(40), message(41), message(38), message(39), message(40)]
    assert drained(kafka, kafka_read, monkeypatch) == [40, 41, 38, 39, 40]
    assert kafka._read_offset[TP("batches", 1)] is None
    assert kafka._gap == {}


def test_a_hand_over_running_across_a_seek_loses_nothing_read_again(monkeypatch) -> None:
    # 147's hand-over is still running when the recovery seeks the partition back to its
    # committed offset 146 (no new generation): 146 and 147 read again are handed on
    kafka = consumer()
    tp = TP("batches", 1)

    def across_a_seek(delivered: list[int]) -> Any:
        async def deliver(m: ConsumerMessage) -> None:
            if m.offset == 147 and not delivered.count(147):
                await asyncio.sleep(0)
                kafka._read_offset[tp] = 146  # perform_seek
            delivered.append(m.offset)

        return deliver

    fetched = [message(146), message(147), message(146), message(147), message(148)]
    assert drained(kafka, fetched, monkeypatch, across_a_seek) == [146, 147, 146, 147, 148]


def test_a_hand_over_that_waits_completes_while_the_flow_is_on(monkeypatch) -> None:
    def waits_a_turn(delivered: list[int]) -> Any:
        async def deliver(m: ConsumerMessage) -> None:
            await asyncio.sleep(0)  # a full stream buffer, the producer's buffer
            delivered.append(m.offset)

        return deliver

    assert drained(consumer(), [message(40), message(41)], monkeypatch, waits_a_turn) == [40, 41]


def test_a_changelog_hand_over_that_outlives_a_rebalance_leaves_its_read_offset(monkeypatch):
    # 41's hand-over waits (a full buffer) while a rebalance seeks the changelog back to
    # 38 (the table recovery): 38 to 40 are read again and must not be skipped
    kafka = consumer()
    tp = TP(CHANGELOG, 1)

    def across_a_rebalance(delivered: list[int]) -> Any:
        async def deliver(m: ConsumerMessage) -> None:
            if m.offset == 41:
                await asyncio.sleep(0)
                kafka.app.consumer_generation_id = GENERATION + 1
                kafka._read_offset[tp] = 38  # perform_seek
            delivered.append(m.offset)

        return deliver

    fetched = [message(40, topic=CHANGELOG), message(41, topic=CHANGELOG)]
    assert drained(kafka, fetched, monkeypatch, across_a_rebalance) == [40, 41]
    assert kafka._read_offset[tp] == 38


def test_while_the_flow_is_suspended_a_waiting_hand_over_is_dropped(monkeypatch) -> None:
    # a rebalance began: Faust's way, the message is read again from the committed offset
    def blocked(delivered: list[int]) -> Any:
        async def deliver(m: ConsumerMessage) -> None:
            await asyncio.Event().wait()  # the flow control, until the rebalance is over
            delivered.append(m.offset)

        return deliver

    kafka = consumer()
    kafka.loop = None
    assert drained(kafka, [message(40), message(41)], monkeypatch, blocked, suspended=True) == []


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


def test_partitions_are_handed_on_from_where_they_were_sought() -> None:
    kafka = consumer({TP("batches", 1): 40, TP("scans", 1): None,
                      TP("app-table-changelog", 1): None})  # fmt: skip
    asyncio.run(kafka.seek_to_committed())
    assert kafka._next_offsets == {TP("batches", 1): 40, TP("scans", 1): 0}


def test_an_unbroken_run_of_offsets_is_handed_on_as_fetched(monkeypatch) -> None:
    kafka = consumer()
    kafka._next_offsets[TP("batches", 1)] = 40
    fetched = [message(40), message(41), message(42)]
    assert handed_on(kafka, fetched, monkeypatch) == [("batches", 40), ("batches", 41),
                                                      ("batches", 42)]  # fmt: skip
    assert kafka._missed_reader.reads == []
    assert kafka._next_offsets[TP("batches", 1)] == 43


def test_offsets_handed_on_already_are_not_handed_on_again(monkeypatch) -> None:
    # a fetch from before the seek handed 40-42 on; the seek's own fetch reads them again
    kafka = consumer()
    kafka._next_offsets[TP("batches", 1)] = 43
    fetched = [message(40), message(41), message(42), message(43)]
    assert handed_on(kafka, fetched, monkeypatch) == [("batches", 43)]


def test_offsets_faust_dropped_are_read_before_what_follows_them(monkeypatch) -> None:
    # the committed offset is 40; Faust's fetch hands on 45 first: 40-44 are read by the
    # missed reader, then 45 and 46 follow
    kafka = consumer()
    kafka._next_offsets[TP("batches", 1)] = 40
    fetched = [message(45), message(46)]
    assert [offset for _, offset in handed_on(kafka, fetched, monkeypatch)] == list(range(40, 47))
    assert kafka._missed_reader.reads == [(TP("batches", 1), 40, 45)]
    assert kafka._next_offsets[TP("batches", 1)] == 47


def test_a_rebalance_while_a_jump_is_read_ends_the_batch(monkeypatch) -> None:
    kafka = consumer()
    kafka._next_offsets[TP("batches", 1)] = 40

    def rebalance_at(offset: int) -> None:
        if offset == 42:
            kafka.app.consumer_generation_id = GENERATION + 1

    kafka._missed_reader.on_read = rebalance_at
    fetched = [message(45), message(46)]
    assert handed_on(kafka, fetched, monkeypatch) == [("batches", 40), ("batches", 41)]


def test_table_changelogs_are_handed_on_as_fetched(monkeypatch) -> None:
    # compacted: their offsets have holes, and the table recovery positions them itself
    kafka = consumer()
    tp = TP("app-table-changelog", 1)
    kafka._next_offsets[tp] = 3
    fetched = [message(9, topic=tp.topic), message(2, topic=tp.topic)]
    assert handed_on(kafka, fetched, monkeypatch) == [(tp.topic, 9), (tp.topic, 2)]
    assert kafka._missed_reader.reads == []


def test_a_partition_not_sought_yet_is_handed_on_from_its_first_fetched_offset(monkeypatch) -> None:
    kafka = consumer()
    assert handed_on(kafka, [message(7), message(8)], monkeypatch) == [("batches", 7),
                                                                       ("batches", 8)]  # fmt: skip


def fetch(kafka: Any, records: dict[TP, list[Any]], monkeypatch: pytest.MonkeyPatch,
          rebalance_during_fetch: bool) -> Any:  # fmt: skip
    """What the transport keeps of a fetch of `records`."""

    async def faust_wait_next_records(self: Any, timeout: float) -> tuple[Any, Any]:
        if not self.flow_active:  # as Faust's does
            await self.wait(self.can_resume_flow)
        if rebalance_during_fetch:
            kafka.app.consumer_generation_id += 1
        return records, set(records)

    monkeypatch.setattr(faust_consumer.Consumer, "_wait_next_records", faust_wait_next_records)
    kept, _ = asyncio.run(kafka._wait_next_records(1.0))
    return kept


def test_source_records_fetched_across_a_rebalance_are_dropped(monkeypatch) -> None:
    kafka = consumer()
    source, changelog = TP("batches", 1), TP("app-table-changelog", 1)
    records = {source: [message(40)], changelog: [message(3, topic=changelog.topic)]}
    # the table recovery waits for every changelog offset it sought: those are kept
    assert fetch(kafka, records, monkeypatch, rebalance_during_fetch=True) == {
        changelog: records[changelog]
    }


def test_records_dropped_after_the_seek_are_read_again_though_nothing_follows(monkeypatch):
    """The seek to the committed offset came first, then a fetch across the rebalance moved
    the position past what it fetched: those are read at the next getmany, not when a later
    message shows the jump (on a quiet partition: maybe never)."""
    kafka = consumer({TP("batches", 1): 40})
    asyncio.run(kafka.seek_to_committed())
    records = {TP("batches", 1): [message(40), message(41)]}
    assert fetch(kafka, records, monkeypatch, rebalance_during_fetch=True) == {}
    kafka.app.consumer_generation_id = GENERATION + 1  # the generation the fetch straddled into
    assert handed_on(kafka, [], monkeypatch) == [("batches", 40), ("batches", 41)]
    assert kafka._missed_reader.reads == [(TP("batches", 1), 40, 42)]
    assert handed_on(kafka, [message(42)], monkeypatch) == [("batches", 42)]  # then as fetched


def test_records_dropped_before_the_seek_or_of_a_partition_given_up_are_left(monkeypatch):
    kafka = consumer({TP("batches", 1): 40})
    records = {TP("batches", 1): [message(40)], TP("batches", 2): [message(7)]}
    fetch(kafka, records, monkeypatch, rebalance_during_fetch=True)
    asyncio.run(kafka.seek_to_committed())  # sought after: the fetch from 40 reads them again
    assert handed_on(kafka, [], monkeypatch) == []
    kafka._next_offsets[TP("batches", 2)] = 7
    fetch(kafka, records, monkeypatch, rebalance_during_fetch=True)
    assert handed_on(kafka, [], monkeypatch) == [("batches", 40)]  # partition 2 is not ours
    assert kafka._missed_reader.reads == [(TP("batches", 1), 40, 41)]


def test_a_fetch_started_once_the_flow_resumed_keeps_its_records(monkeypatch) -> None:
    # the flow stops for a rebalance; the fetch waits for it to resume, in the new generation
    kafka = consumer()
    kafka.flow_active = False

    async def wait_for_resume(event: Any) -> None:
        kafka.app.consumer_generation_id += 1
        kafka.flow_active = True

    kafka.wait = wait_for_resume
    kafka.can_resume_flow = object()
    records = {TP("batches", 1): [message(40)]}
    assert fetch(kafka, records, monkeypatch, rebalance_during_fetch=False) == records


def test_with_every_partition_stopped_for_a_full_buffer_the_fetch_waits_for_one_to_drain():
    """Faust would sleep a whole second before looking again; here the fetch goes on as soon
    as a buffer has room, and at once while any partition is fetched."""
    kafka = consumer()
    full = TP("batches", 1)

    async def scenario() -> None:
        await asyncio.wait_for(kafka._wait_for_room(5.0), 0.5)  # fetched: no wait
        kafka.on_buffer_full(full)
        waiting = asyncio.ensure_future(kafka._wait_for_room(5.0))
        for _ in range(3):
            await asyncio.sleep(0)
        assert not waiting.done()  # nothing to fetch: waits
        kafka.on_buffer_drop(full)
        for _ in range(3):
            await asyncio.sleep(0)
        assert waiting.done()  # resumed: the fetch goes on at once
        assert kafka._get_active_partitions() == {full}
        kafka.on_buffer_full(full)
        await kafka._wait_for_room(0.01)  # still full at the timeout: Faust's way from here

    kafka.app.in_recovery = False
    asyncio.run(scenario())


def test_the_streams_buffers_are_cleared_when_a_rebalance_begins_not_when_the_flow_resumes():
    async def scenario() -> None:
        app = App("flow-control-test", broker="memory://")
        flow = app.flow_control
        assert isinstance(flow, FlowControl)
        buffer: FlowControlQueue[int] = FlowControlQueue(
            maxsize=10, flow_control=flow, clear_on_resume=True
        )
        flow.resume()  # the table recovery: the flow on for the changelogs
        buffer.put_nowait(146)  # handed on after the source partitions were sought
        flow.resume()  # the recovery's last resume
        assert buffer.qsize() == 1
        assert flow.is_active()
        flow.suspend()
        flow.clear()  # a rebalance begins (faust.App._on_partitions_revoked)
        assert buffer.empty()
        assert not flow.is_active()

    asyncio.run(scenario())
