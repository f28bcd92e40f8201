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
offset (Faust accepts one that begins one past it). A message handled twice because of all
this is handled twice: every handler is idempotent.

Not handled yet (docs/cluster.md): Faust also drops messages it fetched during a rebalance
without reading them again (a fetch that lands after the seek to the committed offset). With
the rules above such a message is not committed past: its partition's commits stop there
(lag grows) until the next rebalance reads it again, but the messages after it are handled
without it. Holding those back and seeking the partition back to the hole was tried and was
not reliable (the hole was not always read again, and the tests stalled); reading a hole
with a consumer of our own is the next step.

Faust picks a transport by the broker URL's scheme; this one is registered under
`ocop-kafka` in pyproject.toml (the `faust.transports` entry points).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)

SCHEME = "ocop-kafka"
"""The broker URL scheme of this transport (`ocop-kafka://host:9092`)."""


class Consumer(faust_aiokafka.Consumer):
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
