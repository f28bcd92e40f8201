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
  Here records whose fetch straddled a generation change are dropped instead: they are
  read again from the committed offset.
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
offset (Faust accepts one that begins one past it).

That keeps commits honest, but a message Faust fetched and then dropped (its queues are
cleared when the flow resumes after a rebalance) would still not be read again until the
next rebalance: the commit would wait behind it, and its batch's later events would be
handled without it. So the agents take each partition's messages strictly in offset order
from the offset the last seek put it at (`admit`): a message past a hole is not handled, and
the partition is sought back to the first missing offset, once, to read it again. A message
handled twice because of all this is handled twice: every handler is idempotent.

Known not to be enough (docs/cluster.md): the seek back does not always lead to the hole
being read again (two cluster runs stalled on a few partitions after one). A seek made in
the consumer's thread, waiting for it, and Faust's read offset set aside until the hole is
filled were tried and stalled single-node tests; what is here is what passed them.

Faust picks a transport by the broker URL's scheme; this one is registered under
`ocop-kafka` in pyproject.toml (the `faust.transports` entry points).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)

SCHEME = "ocop-kafka"
"""The broker URL scheme of this transport (`ocop-kafka://host:9092`)."""


class Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next: dict[TP, int] = {}
        """Each source partition's next offset to hand to an agent, from the last seek on."""
        self._seeking_back: set[TP] = set()

    async def admit(self, message: Message) -> bool:
        """Whether an agent should handle `message` now: it is the next of its partition (or
        the partition's first since the last seek). A message past a hole is not: the
        partition is sought back to the hole, and what follows it comes again. A message not
        handed over is not waited for (a rebalance waits for every message taken and not
        acknowledged)."""
        tp, offset = message.tp, message.offset
        expected = self._next.get(tp)
        current = message.generation_id == self.app.consumer_generation_id
        if current and (expected is None or offset == expected):
            self._next[tp] = offset + 1
            self._seeking_back.discard(tp)
            return True
        self._unacked_messages.discard(message)
        if not current:
            return False  # of an earlier assignment: read again from the committed offset
        if expected is not None and offset > expected and tp not in self._seeking_back:
            log.warning("%s: offset %d came after %d, which was never handed over: reading "
                        "again from %d", tp, offset, expected - 1, expected)  # fmt: skip
            try:
                self._thread.seek(tp, expected)
            except IllegalStateError:  # no longer assigned: its next owner reads it
                return False
            self._seeking_back.add(tp)
            self._read_offset[tp] = expected  # or Faust drops what comes again as read
        return False

    async def perform_seek(self) -> None:
        await super().perform_seek()
        changelogs = self.app.tables.changelog_topics
        sources = [tp for tp in self.assignment() if tp.topic not in changelogs]
        committed = {tp: self._committed_offset[tp] for tp in sources}
        never = [tp for tp, offset in committed.items() if offset is None]
        earliest = await self.earliest_offsets(*never) if never else {}
        self._next = {
            tp: offset if offset is not None else earliest[tp]
            for tp, offset in committed.items()
            if offset is not None or tp in earliest
        }
        self._seeking_back = set()

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

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        generation = self.app.consumer_generation_id
        records, active = await super()._wait_next_records(timeout)
        if records and self.app.consumer_generation_id != generation:
            log.info("dropped %d partitions' records fetched across a rebalance", len(records))
            return {}, active
        return records, active

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """No holes in our topics' offsets: a jump is messages not handled yet."""

    def _new_offset(self, tp: TP) -> int | None:
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        if acked and committed is not None and min(acked) > committed:
            return None  # the message at the committed offset is not finished yet
        offset: int | None = super()._new_offset(tp)
        return offset

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        uncommitted = [
            TopicPartition(tp.topic, tp.partition)
            for tp, offset in committed.items()
            if not offset and tp.topic not in changelogs
        ]
        if uncommitted:
            log.info("no committed offset: reading %s from the start", sorted(uncommitted))
            await self._thread.seek_to_beginning(*uncommitted)
        return committed


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = Consumer
