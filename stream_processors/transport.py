"""The workers' Kafka transport: Faust's aiokafka transport, with its consumer held to one
rule, so that no rebalance loses a message: an offset is committed only past messages a
handler of ours finished, in each partition's order.

Faust's consumer breaks that rule in four places, each found by a three-node cluster run
(tests/cluster) that lost batch events while a broker died and the group rebalanced (a
batch's first events, or a few in its middle, never stored though their offsets were
committed):

- Its streams acknowledge the messages they skip during a rebalance (flow stopped, or a
  message of an earlier generation), "so that the lag does not grow": a skipped message is
  then committed without ever being handled. Here only `acknowledge`, which the agents call
  once a handler has finished, marks a message safe to commit; Faust's own `ack` is refused.
- A fetch that straddles a rebalance hands the new generation messages read under the old
  assignment; the first of them moves the partition's read offset past the messages that
  the seek to the committed offset then reads again, and those are dropped as already read.
  Here source records whose fetch straddled a generation change are dropped instead: they
  are read again from the committed offset, or, when the seek came before the drop (the
  consumer's position then is past them), by the missed reader below, at once rather than
  when a later message shows the jump (which on a quiet partition may be hours: a two-worker
  benchmark on the cluster waited three minutes for a batch's first two events). (Table
  changelogs' are kept: the table recovery seeks and counts them itself, and waits for ever
  for one dropped.)
- A jump in the offsets it reads (that very straddle) is recorded as a "gap" and committed
  as if handled, the message at the jump's end included. Our topics are neither compacted
  nor transactional: their offsets have no holes, so a jump is a message not handled yet,
  and no gap is recorded.
- After a rebalance it seeks each partition to its committed offset, but aiokafka seeks only
  where an offset above 0 was committed: on a partition never committed the position stays
  where a fetch during the rebalance left it, past messages that Faust then dropped. Here
  such a partition is sought to its start, as `auto.offset.reset=earliest` means (table
  changelogs are left alone: the table recovery positions them itself).

And a commit is made only from a run of acknowledged offsets that begins at the committed
offset (Faust accepts one that begins one past it). A message handled twice because of all
this is handled twice: every handler is idempotent.

And Faust drops messages it fetched during a rebalance without reading them again (a fetch
that lands after the seek to the committed offset hands on what follows the dropped ones;
Faust's read offset then refuses them when they are read again). Here each source partition
must hand on its offsets one after another from where it was last sought: an offset already
handed on is not handed on again, and a jump is filled first by reading the missing offsets
with a consumer of its own (`MissedReader`: no group, nothing committed). Seeking Faust's
consumer back to the hole instead was tried twice and did not reliably read it again.

And Faust's flow control clears the streams' buffers each time it resumes the flow, which
the table recovery does last, after seeking the source partitions to their committed
offsets with the flow already running (it reads the changelogs): a message handed to a
stream between that seek and that resume was cleared from the buffer, never handled, never
committed (session 15's cluster runs: one scan in the middle of a run of handled ones, its
partition's commit stuck there, or a batch closed before one of its packed events). Here
the buffers are cleared when a rebalance begins only (`FlowControl`, the app being `App`).

And two that cost time, not messages (docs/bench_analytics.md, session 10: a scan worker
under load sat idle about a second of every three):

- aiokafka fetches a node's partitions in one request, one request at a time, and leaves out
  a partition whose fetched records are not all consumed yet: that request, for the idle
  partitions only, waits at the broker for data up to the fetch wait, which Faust sets to
  1.5 s, and the busy partition cannot be fetched again until it returns. Here the wait is
  FETCH_MAX_WAIT_MS (`ConsumerThread`).
- Faust stops fetching a partition whose stream buffer is full, resumes it once the buffer
  is half empty, and when no partition is left to fetch sleeps a whole second before it
  looks again. Here the fetcher waits for a buffer to drain instead (`_wait_for_room`).

Faust picks a transport by the broker URL's scheme; this one is registered under
`ocop-kafka` in pyproject.toml (the `faust.transports` entry points).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar, cast

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode import Service, ServiceT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)

SCHEME = "ocop-kafka"
"""The broker URL scheme of this transport (`ocop-kafka://host:9092`)."""
FETCH_MAX_WAIT_MS = 100
"""How long the broker holds a fetch for data (Kafka's fetch.max.wait.ms): the longest a
busy partition waits behind a fetch of idle ones; an idle worker asks ten times a second."""


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer's fetch wait FETCH_MAX_WAIT_MS."""

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes 1,500 ms and no way to change it; aiokafka reads the value when the
        # consumer starts, to build its fetcher
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class MissedReader:
    """Reads a partition's messages between two offsets, for the messages Faust's consumer
    dropped: a consumer of its own, in no group (it commits nothing and takes part in no
    rebalance), started on first use and assigned one partition at a time."""

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, tp: TP, start: int, end: int) -> AsyncIterator[ConsumerRecord[Any, Any]]:
        """The records at offsets start to end - 1 (fewer if retention removed the first)."""
        if start >= end:
            return
        consumer = await self._started()
        partition = TopicPartition(tp.topic, tp.partition)
        consumer.assign([partition])
        consumer.seek(partition, start)
        while await consumer.position(partition) < end:
            fetched = await consumer.getmany(partition, timeout_ms=1000)
            for record in fetched.get(partition, []):
                if record.offset >= end:
                    return
                yield record

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                **self._settings,
            )  # fmt: skip
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class Consumer(faust_aiokafka.Consumer):
    _next_offsets: dict[TP, int]
    """Each source partition's next offset to hand on, from where it was last sought."""

    _dropped_until: dict[TP, int]
    """Source partitions whose records a fetch across a rebalance dropped, with the offset
    past the last of them: read by the missed reader from `_next_offsets` (`getmany`)."""

    _missed_reader: MissedReader
    _buffer_drained: asyncio.Event
    """Set when a partition Faust stopped fetching (its stream buffer full) is resumed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._next_offsets = {}
        self._dropped_until = {}
        self._buffer_drained = asyncio.Event()
        conf, transport = self.app.conf, cast(faust_aiokafka.Transport, self.transport)
        self._missed_reader = MissedReader(
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            client_id=f"{conf.broker_client_id}-missed",
            request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
            **faust_aiokafka.credentials_to_aiokafka_auth(
                conf.broker_credentials, conf.ssl_context
            ),
        )

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_stop(self) -> None:
        await super().on_stop()
        await self._missed_reader.stop()

    def acknowledge(self, message: Message) -> bool:
        """A message its handler has finished: safe to commit once every earlier message of
        its partition is (the agents acknowledge in offset order). One handled under an
        earlier assignment is not: the partition's owner reads it again from the committed
        offset. True if it was acknowledged now."""
        if message.generation_id != self.app.consumer_generation_id:
            self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    def ack(self, message: Message) -> bool:
        """Faust's own acknowledgement, which it gives the messages its streams skip during
        a rebalance: refused (the message is read again), and not waited for."""
        self._unacked_messages.discard(message)
        return False

    def on_buffer_drop(self, tp: TP) -> None:
        super().on_buffer_drop(tp)
        self._buffer_drained.set()

    async def _wait_for_room(self, timeout: float) -> None:
        """While every partition is stopped because its stream buffer is full, wait until
        one is resumed (`timeout` at most), not Faust's whole second."""
        if self._get_active_partitions() or not self._buffered_partitions:
            return
        self._buffer_drained.clear()
        with contextlib.suppress(TimeoutError):  # still full then: Faust sleeps, looks again
            await asyncio.wait_for(self._buffer_drained.wait(), timeout)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        if not self.flow_active:  # Faust waits here too: a fetch starts once the flow resumes
            await self.wait(self.can_resume_flow)  # type: ignore[arg-type]
        await self._wait_for_room(timeout)
        generation = self.app.consumer_generation_id
        records, active = await super()._wait_next_records(timeout)
        if records and self.app.consumer_generation_id != generation:
            changelogs = self.app.tables.changelog_topics
            stale = [tp for tp in records if tp.topic not in changelogs and records[tp]]
            log.info("dropped %d partitions' records fetched across a rebalance", len(stale))
            for tp in stale:
                past = records[tp][-1].offset + 1
                self._dropped_until[tp] = max(self._dropped_until.get(tp, 0), past)
            records = {tp: got for tp, got in records.items() if tp.topic in changelogs}
        return records, active

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's fetched messages, each source partition's in an unbroken run of offsets
        from where it was last sought: what was handed on already is left out, a jump is
        filled by the missed reader first. A rebalance while a jump is read ends the batch
        (the partitions are sought again)."""
        generation = self.app.consumer_generation_id
        changelogs = self.app.tables.changelog_topics

        def moved_on() -> bool:  # a rebalance began: the partitions will be sought again
            return self.app.consumer_generation_id != generation or not self.flow_active

        async for tp, message in self._dropped(moved_on):
            yield tp, message
        if moved_on():
            return
        async for tp, message in super().getmany(timeout):
            if tp.topic in changelogs:
                yield tp, message
                continue
            expected = self._next_offsets.get(tp)
            if expected is None or message.offset == expected:
                self._next_offsets[tp] = message.offset + 1
                yield tp, message
                continue
            if message.offset < expected:
                continue  # handed on already since the partition was sought
            log.info("reading %s offsets %d to %d, dropped by Faust", tp, expected,
                     message.offset - 1)  # fmt: skip
            async for missed in self._missed(tp, expected, message.offset, moved_on):
                yield tp, missed
            if moved_on():
                return
            self._next_offsets[tp] = message.offset + 1
            yield tp, message

    async def _dropped(self, moved_on: Callable[[], bool]) -> AsyncIterator[tuple[TP, Message]]:
        """The records a fetch across a rebalance dropped after the partition was sought,
        read again from where it is handed on (partitions of this assignment only)."""
        if not self._dropped_until:
            return
        assigned = self.assignment()
        for tp, until in list(self._dropped_until.items()):
            if moved_on():
                return  # the partitions will be sought again
            del self._dropped_until[tp]
            expected = self._next_offsets.get(tp)
            if tp not in assigned or expected is None or expected >= until:
                continue
            log.info("reading %s offsets %d to %d, dropped across a rebalance", tp, expected,
                     until - 1)  # fmt: skip
            async for missed in self._missed(tp, expected, until, moved_on):
                yield tp, missed

    async def _missed(
        self, tp: TP, start: int, end: int, moved_on: Callable[[], bool]
    ) -> AsyncIterator[Message]:
        """Offsets `start` to `end` of a partition, read by the missed reader and handed on in
        order, until a rebalance begins (the partitions will be sought again)."""
        async for record in self._missed_reader.read(tp, start, end):
            if moved_on():
                return
            self._next_offsets[tp] = record.offset + 1
            yield self._to_message(tp, record)

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """Faust's loop handing each fetched message to the streams (faust.transport.consumer,
        0.15.3), with three changes.

        No gap is recorded at a jump in the offsets (see the module's docstring).

        Faust's read offset (a message below the last one handed on is dropped) is kept for
        the table changelogs only, which the table recovery seeks itself: a source partition's
        messages come from `getmany` once each and in order from where it was last sought, and
        there the rule can only lose them: a hand-over still running when a seek put the read
        offset back at the committed offset (one waiting on a full buffer through a whole
        rebalance, below; one running across the table recovery's seek) set it past that
        again, and the messages read again below it were skipped, never handled, never
        committed. For a changelog, a hand-over that outlived its generation leaves the read
        offset where the seek put it.

        And while the flow is on, a message is handed on by awaiting the conductor directly:
        Faust awaits it through `wait_first` together with the flow's suspension and the
        consumer's stop and crash, four tasks a message of which three are cancelled (25 us,
        a tenth of the worker's CPU a scan); the event loop still gets a turn after each
        message, as it did while those tasks ran (handing on a hundred between two turns, as
        Faust's loop would without them, held the scan agent to about 3,400 scans/s here,
        against 3,700-4,400 with a turn each). A message met while the flow is suspended (a
        rebalance began) goes Faust's way, and so is dropped at once as Faust drops it (it is
        read again from the committed offset). A hand-over that waits (a full stream buffer)
        and meets a rebalance ends after it instead of being dropped: its stream then skips a
        message of an earlier generation (and `ack` refuses it), as it skips one taken from
        the buffer during a rebalance. A stop cancels the loop."""
        deliver, app = self.callback, self.app
        stopped = cast(Service, self)._stopped.is_set
        fetcher_stopped = cast(Service, fetcher)._stopped.is_set
        suspended = self.suspend_flow.is_set
        read_offset = self._read_offset
        try:
            while not (stopped() or fetcher_stopped()):
                self.diag.set_flag(faust_consumer.CONSUMER_FETCHING)
                changelogs = app.tables.changelog_topics
                fetched = self.getmany(timeout=1.0)
                await self.sleep(0)  # Faust's: getmany may not give the loop a turn
                if self.should_stop:
                    continue
                async for tp, message in fetched:
                    changelog = tp.topic in changelogs
                    read = read_offset[tp] if changelog else None
                    if read is not None and message.offset < read:
                        continue  # read already (Faust's rule)
                    commit_every = self._commit_every
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    handing = deliver(message)
                    if suspended():
                        await self.wait_first(handing, self.suspend_flow.wait())
                    else:
                        await handing
                    if changelog and message.generation_id == app.consumer_generation_id:
                        read_offset[tp] = message.offset
                    await asyncio.sleep(0)  # the loop's turn, as Faust's tasks gave it
                self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            log.info("the broker stopped the consumer; shutting down")
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)

    def _new_offset(self, tp: TP) -> int | None:
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        if acked and committed is not None and min(acked) > committed:
            return None  # the message at the committed offset is not finished yet
        offset: int | None = super()._new_offset(tp)
        return offset

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        self._dropped_until.clear()  # sought back: fetched again
        changelogs = self.app.tables.changelog_topics
        self._next_offsets.update(
            (tp, offset or 0) for tp, offset in committed.items() if tp.topic not in changelogs
        )
        uncommitted = [
            TopicPartition(tp.topic, tp.partition)
            for tp, offset in committed.items()
            if not offset and tp.topic not in changelogs
        ]
        if uncommitted:
            log.info("no committed offset: reading %s from the start", sorted(uncommitted))
            await self._thread.seek_to_beginning(*uncommitted)
        return committed


class FlowControl(FlowControlEvent):
    """Faust's flow control of the streams' buffers (`app.flow_control`), which suspends and
    resumes the flow into them and clears them. Faust clears them when a rebalance begins
    (`clear`, on revocation) and again whenever it resumes the flow; here only the first:
    nothing is put into a buffer while the flow is suspended, an event of an earlier
    generation taken from one is skipped by its stream, and what a resume cleared was
    handed on under the current assignment, after its partition was sought (the module's
    docstring)."""

    def resume(self) -> None:
        """Let the flow into the buffers go on, keeping what they hold."""
        self._suspend.clear()
        self._resume.set()


class App(faust.App):
    """Faust's app with `FlowControl` as its flow control; the workers' app."""

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return FlowControl(loop=self.loop)


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = Consumer
