"""The Faust app: one agent per topic, each handing messages to its handler.

The trust-list and authority agents take one message at a time. The batch agent runs events
of different batches (Kafka keys) at once, up to BATCH_EVENTS_AT_ONCE, and each batch's in
order (stream_processors.keyed.KeyedScheduler: a batch's events extend its chain), released for
commit in each partition's offset order. The scan agent takes micro-batches
(stream_processors.keyed.MicroBatches: whatever arrived while the previous batch was handled,
up to SCANS_AT_ONCE), handled different units at once and each unit's in order
(stream_processors.scans), acknowledged once the whole batch is done. The authority and batch
agents tell the scans' analytics which facts they are changing (stream_processors.unit_facts).

Delivery is at least once: an offset is committed only once its message and every earlier
message of its partition have been handled (acknowledged in offset order), so a crash
redelivers from the lowest unfinished message, and every handler is idempotent. Every
agent acknowledges by hand, and Faust's own acknowledgements are refused: it gives them to
messages it skips during a rebalance (stream_processors.transport). A handler
that fails for a passing reason (Cassandra busy or restarting) is retried with backoff on the
same message, which holds up its key, and the partition's commits behind it: skipping it
would lose the message, and moving on to its key's next would break its unit's or batch's
order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from cassandra.cluster import Cluster
from faust.types.tables import TableT

from auditlog.leaves import PublishLeaf, leaf_publisher
from contract.bilingual import bilingual
from infra.topics import admin_client
from keys.ids import decode_public_key
from keys.keystore import Keystore
from keys.signing import SigningKey
from records.parties import PartyWriter
from records.registry import RegistryWriter
from records.session import connect
from records.store import RecordWriter
from stream_processors import transport
from stream_processors.analytics import ScanAnalytics
from stream_processors.authority import AuthorityIngest, TrustListIngest
from stream_processors.handler import NoTrustListYet
from stream_processors.ingest import BatchIngest
from stream_processors.keyed import KeyedScheduler, MicroBatches
from stream_processors.metrics import serve as serve_metrics
from stream_processors.outcomes import Message, Metrics, Refuser, SendBytes, SendMany, all_done
from stream_processors.scans import ScanIngest
from stream_processors.settings import ProcessorSettings
from stream_processors.trace import PartyTrace
from stream_processors.trust import TrustHolder
from stream_processors.unit_facts import FactsCache

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]
MAX_BACKOFF_S = 10.0
BATCH_EVENTS_AT_ONCE = 8
"""Batch events of different batches handled at once by one worker (each batch's in order).
An event is mostly waiting for Cassandra and Kafka (its units, its conditional append, the
writes after it), so a few at once keep the worker and the servers busy; each holds up to a
few hundred unit writes in flight, which bounds how many are worth it."""
PRODUCER_BATCH_BYTES = 512 * 1024
"""The producer's batch per partition (see create_processors)."""
SCANS_AT_ONCE = 512
"""Scan messages handled as one micro-batch at most (stream_processors.keyed.MicroBatches):
big enough that a batch's fixed costs (its writes' round trips) are spread thin, small
enough that a batch takes a fraction of a second of the worker's CPU (an alert waits for
its batch at most)."""


class SetupError(Exception):
    """The worker cannot start: a setting, the seal key or Cassandra is missing."""


@dataclass
class Processors:
    """Everything a worker holds: its app, its store connection and its counters."""

    app: faust.App
    cluster: Cluster
    metrics: Metrics
    seal_key: SigningKey


def load_seal_key(settings: ProcessorSettings) -> SigningKey:
    return Keystore(settings.seal_keystore).load_named_or_only(
        settings.seal_key_id, settings.seal_passphrase.get_secret_value(),
        setting="OCOP_SEAL_KEY_ID", tool="ocop-worker",
    )  # fmt: skip


def create_processors(settings: ProcessorSettings) -> Processors:
    seal_key = load_seal_key(settings)
    cluster, session = connect(settings, keyspace=settings.keyspace)
    store = RecordWriter(session)
    metrics = Metrics()
    trust = TrustHolder(store, decode_public_key(settings.root_key))
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    app = transport.App(
        settings.app_id,
        broker=[f"{transport.SCHEME}://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,  # acks=all: every in-sync replica (at least 2 of 3 on a cluster)
        # a partition's records wait for its previous batch's acknowledgement once their
        # batch is full: at Faust's 16 kB, a scan micro-batch's changelog records (about
        # 0.5 kB a unit) took a round trip per 30 units (docs/bench_analytics.md); under the
        # 1 MB request and message size limits
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_host="127.0.0.1",
        web_port=settings.web_port,
        datadir=str(settings.data_dir / settings.app_id),
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 3,
    )
    refuse = Refuser(
        _sender(app, settings.dead_letter_topic),
        metrics,
        f"{settings.app_id}@{settings.processor_name}",
    )
    # each unit's scan history, on the scan topic's partitions, restored from Kafka (the
    # table's name predates the scan totals it now also holds)
    histories = app.Table(
        "ocop-scan-window",
        partitions=_partitions(settings, settings.scan_topic),
        key_type=bytes,
        value_type=bytes,
    )
    facts = FactsCache(store)
    analytics = ScanAnalytics(
        store, _many_sender(app, settings.alert_topic), settings.thresholds(), metrics, facts
    )
    leaves = _leaf_publisher(app, settings)
    handlers: dict[str, Handler] = {
        settings.trust_topic: TrustListIngest(store, trust, refuse, metrics, leaves).handle,
        settings.authority_topic: _changing_certifications(
            facts, AuthorityIngest(store, trust, refuse, metrics, leaves).handle
        ),
    }
    for topic_name, handler in handlers.items():
        _agent(app, topic_name, handler)
    batches = BatchIngest(
        store,
        trust,
        seal_key,
        refuse,
        metrics,
        RegistryWriter(session),
        PartyTrace(store, PartyWriter(session)),
        leaves=leaves,
    )
    _keyed_agent(
        app, settings.batch_topic, _changing_batch(facts, batches.handle), BATCH_EVENTS_AT_ONCE
    )
    scans = ScanIngest(store, TableHistories(histories), analytics, refuse, metrics)
    _batch_agent(app, settings.scan_topic, scans.handle_many, SCANS_AT_ONCE)

    @app.task  # type: ignore[untyped-decorator]
    async def publish_seal_key() -> None:
        await store.store_seal_key(seal_key.key_id, seal_key.public_key_text)

    serve_metrics(app, metrics, settings.kafka_bootstrap, settings.app_id)  # the group's id
    return Processors(app, cluster, metrics, seal_key)


def _many_sender(app: faust.App, topic_name: str) -> SendMany:
    """Sends to the topic straight through the producer, the key choosing the partition as
    Faust's `Topic.send` would (aiokafka's default partitioner), without its bookkeeping per
    message (a fifth of a millisecond: docs/bench_analytics.md); the topic must exist
    (`ocop-stack topics` creates every one). The records are all handed to the producer
    first, in their order, then their acknowledgements awaited together: the producer keeps
    a partition's records in the order they were handed to it (one request in flight per
    broker, a failed batch sent again before the next), so a key's records stay in order
    without a round trip each. Acknowledged by Kafka before the consumed message's offset
    moves on."""

    async def send(records: Sequence[tuple[bytes, bytes]]) -> None:
        deliveries = [
            await app.producer.send(topic_name, key, value, None, None, None)
            for key, value in records
        ]
        await all_done(deliveries)

    return send


def _sender(app: faust.App, topic_name: str) -> SendBytes:
    """`_many_sender` for one record at a time."""
    send_many = _many_sender(app, topic_name)

    async def send(key: bytes, value: bytes) -> None:
        await send_many([(key, value)])

    return send


def _leaf_publisher(app: faust.App, settings: ProcessorSettings) -> PublishLeaf:
    """The audit log's sequencer (auditlog.leaves), required: a worker that stored records
    the public log never hears of would leave the log silently incomplete, which is what a
    log exists to make impossible to hide."""
    with admin_client(settings) as admin:
        exists = settings.log_topic in set(admin.list_topics())
    if not exists:
        raise SetupError(
            bilingual(
                f"chủ đề Kafka {settings.log_topic} (bộ xếp thứ tự của nhật ký kiểm toán) chưa "
                "có; chạy `ocop-stack topics` trước",
                f"topic {settings.log_topic} (the audit log's sequencer) does not exist; run "
                "`ocop-stack topics` first",
            )
        )
    return leaf_publisher(_sender(app, settings.log_topic))


def _partitions(settings: ProcessorSettings, topic_name: str) -> int:
    """A table must have its source topic's partition count; ask the broker for it."""
    with admin_client(settings) as admin:
        described = admin.describe_topics([topic_name])
    partitions = described[0].get("partitions") if described else None
    if not partitions:
        raise SetupError(
            bilingual(
                f"chủ đề Kafka {topic_name} chưa có; chạy `ocop-stack topics` trước",
                f"topic {topic_name} does not exist; run `ocop-stack topics` first",
            )
        )
    return len(partitions)


def _agent(app: faust.App, topic_name: str, handler: Handler) -> None:
    """An agent handing the topic's messages to `handler`, one at a time."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def consume(stream: faust.StreamT[Any]) -> None:
        async for event in _unacknowledged_events(app, stream):
            message = _message_of(event)
            await _until_done(functools.partial(handler, message), _where(message))
            _acknowledge(app, event)

    app.agent(topic, name=f"consume-{topic_name}")(consume)


def _keyed_agent(app: faust.App, topic_name: str, handler: Handler, at_once: int) -> None:
    """An agent handing the topic's messages to `handler`, up to `at_once` of different keys
    at a time and each key's in order, acknowledged by hand in each partition's offset order
    (stream_processors.keyed.KeyedScheduler)."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def consume(stream: faust.StreamT[Any]) -> None:
        scheduler = KeyedScheduler(at_once)
        try:
            async for event in _unacknowledged_events(app, stream):
                message = _message_of(event)
                await scheduler.submit(
                    message.key,
                    message.partition,  # the agent reads one topic: its partitions are the lanes
                    functools.partial(
                        _until_done, functools.partial(handler, message), _where(message)
                    ),
                    functools.partial(_acknowledge, app, event),
                )
        finally:
            await scheduler.close()  # what did not finish is not acknowledged: replayed

    app.agent(topic, name=f"consume-{topic_name}")(consume)


def _batch_agent(app: faust.App, topic_name: str, handler: BatchHandler, most: int) -> None:
    """An agent handing the topic's messages to `handler` in micro-batches of up to `most`
    (stream_processors.keyed.MicroBatches), acknowledged by hand once their batch is done."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def handle(events: list[faust.EventT[Any]]) -> None:
        messages = [_message_of(event) for event in events]
        where = f"{_where(messages[0])} and {len(messages) - 1} more"
        await _until_done(functools.partial(handler, messages), where)

    async def consume(stream: faust.StreamT[Any]) -> None:
        batches = MicroBatches(most, handle, functools.partial(_acknowledge, app))
        try:
            async for event in _unacknowledged_events(app, stream):
                await batches.submit(event)
        finally:
            await batches.close()  # what was not handled is not acknowledged: replayed

    app.agent(topic, name=f"consume-{topic_name}")(consume)


class TableHistories:
    """The units' histories in the Faust table (stream_processors.history.HistoryStore).

    A table sends each write's changelog record to the partition of the event being
    processed, which Faust finds in a context variable; a micro-batch holds many events, of
    any partitions, so each write names its unit's partition itself: what `Table.__setitem__`
    does (the changelog record, then the value), with the partition given. The table is
    restored from that changelog after a restart or a rebalance.

    The record is handed straight to the producer, not through a Faust topic (its
    per-message work cost a fifth of a millisecond a unit) nor through the producer buffer
    `Table.send_changelog` uses: while more than 100 records wait in that buffer, Faust
    hands the consumer's messages to no agent (faust.transport.conductor,
    wait_until_producer_ebb), and a micro-batch puts hundreds, so the scan agent starved
    after each batch (docs/bench_analytics.md). Faust flushes the producer before each
    offset commit either way; the memory store keeps no persisted offsets (what the
    buffer's callback would set)."""

    def __init__(self, table: TableT[bytes, bytes]) -> None:
        self.table = table

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.table.get(key)
        return value

    async def put(self, key: bytes, value: bytes, partition: int) -> None:
        changelog = self.table.changelog_topic.get_topic_name()
        await self.table.app.producer.send(changelog, key, value, partition, None, None)
        self.table.data[key] = value


def _changing_batch(facts: FactsCache, handler: Handler) -> Handler:
    """A batch event's handler, during which its batch's facts are not held by the scans'
    analytics (stream_processors.unit_facts): a recall is seen by the next scan."""

    async def handle(message: Message) -> None:
        with facts.changing_batch((message.key or b"").decode("utf-8", errors="replace")):
            await handler(message)

    return handle


def _changing_certifications(facts: FactsCache, handler: Handler) -> Handler:
    """An authority's message's handler, during which no product's certifications are held."""

    async def handle(message: Message) -> None:
        with facts.changing_certifications():
            await handler(message)

    return handle


async def _unacknowledged_events(
    app: faust.App, stream: faust.StreamT[Any]
) -> AsyncIterator[faust.EventT[Any]]:
    """The stream's events, to be acknowledged by hand once handled (stream_processors.
    transport: Faust's own acknowledgements are refused)."""
    async for event in cast(faust.Stream[Any], stream).noack().events():
        yield event


def _message_of(event: faust.EventT[Any]) -> Message:
    m = event.message
    value = m.value if m.value is not None else b""  # a tombstone: refused, malformed
    return Message(m.topic, m.partition, m.offset, m.key, value)


def _acknowledge(app: faust.App, event: faust.EventT[Any]) -> None:
    """A handled message is safe to commit (stream_processors.transport: the only way a
    message is); then what the stream does after a message when it acknowledges by itself."""
    m = event.message
    if cast(transport.Consumer, app.consumer).acknowledge(m):
        app.sensors.on_message_out(m.tp, m.offset, m)


def _where(message: Message) -> str:
    return f"{message.topic}/{message.partition}@{message.offset}"


async def _until_done(attempt: Callable[[], Awaitable[None]], where: str) -> None:
    backoff = 0.5
    while True:
        try:
            await attempt()
            return
        except NoTrustListYet as waiting:  # expected at start-up: no traceback
            log.warning("%s; trying again in %.1f s", waiting, backoff)
        except Exception:  # a passing failure of Cassandra or Kafka: retry the same message
            log.exception("handling %s failed; retrying in %.1f s", where, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
