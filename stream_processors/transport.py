"""The workers' Kafka transport: Faust's aiokafka transport with one fix, so that a rebalance
never skips the messages of a partition nothing was ever committed on.

What went wrong (a three-node cluster run, tests/cluster): a broker died, the group
rebalanced, and while the worker that got batch partition 5 restored its table from the
changelogs, the station's first six events of a new batch arrived on that partition, which
had never had an offset committed. The worker's fetcher read them; Faust then dropped them,
as it drops every message fetched during a rebalance (its channels' queues are cleared when
the flow resumes), counting on "seek stream partitions to committed offsets" to read them
again. aiokafka's `seek_to_committed` seeks only where an offset above 0 was committed; on
partition 5 it did nothing, the position stayed after the six events, and the batch's later
events were refused as "never opened". Kafka's `auto.offset.reset=earliest` did not help:
the position was valid, only wrong.

So after Faust's seek, every assigned source partition with no committed offset (or 0) is
sought to its beginning, as `earliest` means: its messages are delivered from the first, and
handled again if they were handled before (every handler is idempotent). Table changelogs are
left alone: the table recovery positions them itself.

Faust picks a transport by the broker URL's scheme; this one is registered under
`ocop-kafka` in pyproject.toml (the `faust.transports` entry points).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)

SCHEME = "ocop-kafka"
"""The broker URL scheme of this transport (`ocop-kafka://host:9092`)."""


class Consumer(faust_aiokafka.Consumer):
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
