"""The Faust app: one agent per topic, each handing messages to its handler.

The trust-list, authority and batch agents take one message at a time. The scan agent runs
messages of different Kafka keys (units) concurrently and each key's in order
(stream_processors.keyed): a unit's scans read and write its history in the Faust table, and
nothing else is shared between units that needs an order. Batches stay one at a time: with
several batches at once, a cluster run lost a whole batch's records and a crash test failed
once in three, neither explained yet (docs/bench_pipeline.md); a batch's own reads are
merged (stream_processors.ingest).

Delivery is at least once: an offset is committed only once its message and every earlier
message of its partition have been handled (acknowledged in offset order), so a crash
redelivers from the lowest unfinished message, and every handler is idempotent. A handler
that fails for a passing reason (Cassandra busy or restarting) is retried with backoff on the
same message, which holds up its key, and the partition's commits behind it: skipping it
would lose the message, and moving on to its key's next would break its unit's or batch's
order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import faust
from cassandra.cluster import Cluster

from auditlog.leaves import PublishLeaf, leaf_publisher, publish_nothing
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
from stream_processors.keyed import KeyedScheduler
from stream_processors.metrics import serve as serve_metrics
from stream_processors.outcomes import Message, Metrics, Refuser, SendBytes
from stream_processors.scans import ScanIngest
from stream_processors.settings import ProcessorSettings
from stream_processors.trace import PartyTrace
from stream_processors.trust import TrustHolder

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]
MAX_BACKOFF_S = 10.0
SCANS_AT_ONCE = 64
"""Scan messages of different units handled at once by one worker. Each holds a few reads
and writes in flight; past a few dozen the worker's one core, not the waiting, is the limit."""


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
    keystore = Keystore(settings.seal_keystore)
    key_id = settings.seal_key_id
    if key_id is None:
        found = keystore.key_ids()
        if len(found) != 1:
            raise SetupError(
                f"{settings.seal_keystore} holds {len(found)} keys; set OCOP_SEAL_KEY_ID, or "
                "create one with `ocop-worker init-key`"
            )
        key_id = found[0]
    return keystore.load(key_id, settings.seal_passphrase.get_secret_value())


def create_processors(settings: ProcessorSettings) -> Processors:
    seal_key = load_seal_key(settings)
    cluster, session = connect(settings, keyspace=settings.keyspace)
    store = RecordWriter(session)
    metrics = Metrics()
    trust = TrustHolder(store, decode_public_key(settings.root_key))
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    app = faust.App(
        settings.app_id,
        broker=[f"{transport.SCHEME}://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,  # acks=all: every in-sync replica (at least 2 of 3 on a cluster)
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
    analytics = ScanAnalytics(
        store, _sender(app, settings.alert_topic), settings.thresholds(), metrics
    )
    leaves = _leaf_publisher(app, settings)
    handlers: dict[str, Handler] = {
        settings.trust_topic: TrustListIngest(store, trust, refuse, metrics, leaves).handle,
        settings.authority_topic: AuthorityIngest(store, trust, refuse, metrics, leaves).handle,
        settings.batch_topic: BatchIngest(
            store,
            trust,
            seal_key,
            refuse,
            metrics,
            RegistryWriter(session),
            PartyTrace(store, PartyWriter(session)),
            leaves=leaves,
        ).handle,
        settings.scan_topic: ScanIngest(store, histories, analytics, refuse, metrics).handle,
    }
    at_once = {settings.scan_topic: SCANS_AT_ONCE}
    for topic_name, handler in handlers.items():
        _agent(app, topic_name, handler, at_once.get(topic_name, 1))

    @app.task  # type: ignore[untyped-decorator]
    async def publish_seal_key() -> None:
        await store.store_seal_key(seal_key.key_id, seal_key.public_key_text)

    serve_metrics(app, metrics, settings.kafka_bootstrap, settings.app_id)  # the group's id
    return Processors(app, cluster, metrics, seal_key)


def _sender(app: faust.App, topic_name: str) -> SendBytes:
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def send(key: bytes, value: bytes) -> None:
        delivery = await topic.send(key=key, value=value)
        await delivery  # acknowledged by Kafka before the consumed message's offset moves on

    return send


def _leaf_publisher(app: faust.App, settings: ProcessorSettings) -> PublishLeaf:
    """The audit log's sequencer (auditlog.leaves). A worker whose deployment has not created
    it (`ocop-stack topics` does) publishes no leaf and says so at start-up."""
    with admin_client(settings) as admin:
        exists = settings.log_topic in set(admin.list_topics())
    if not exists:
        log.warning("topic %s does not exist: no audit log leaf is published", settings.log_topic)
        return publish_nothing
    return leaf_publisher(_sender(app, settings.log_topic))


def _partitions(settings: ProcessorSettings, topic_name: str) -> int:
    """A table must have its source topic's partition count; ask the broker for it."""
    with admin_client(settings) as admin:
        described = admin.describe_topics([topic_name])
    partitions = described[0].get("partitions") if described else None
    if not partitions:
        raise SetupError(f"topic {topic_name} does not exist; run `ocop-stack topics` first")
    return len(partitions)


def _agent(app: faust.App, topic_name: str, handler: Handler, at_once: int = 1) -> None:
    """An agent handing the topic's messages to `handler`: one at a time, or up to `at_once`
    of different keys at a time, each key's in order (stream_processors.keyed)."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def consume(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            m = event.message
            await _until_done(handler, Message(m.topic, m.partition, m.offset, m.key, m.value))

    async def consume_by_key(stream: faust.StreamT[Any]) -> None:
        # acknowledged by hand, by the scheduler, in each partition's offset order
        scheduler = KeyedScheduler(at_once)
        try:
            async for event in cast(faust.Stream[Any], stream).noack().events():
                m = event.message
                message = Message(m.topic, m.partition, m.offset, m.key, m.value)
                await scheduler.submit(
                    m.key,
                    m.partition,
                    functools.partial(_until_done, handler, message),
                    functools.partial(_acknowledge, app, event),
                )
        finally:
            await scheduler.close()  # what did not finish is not acknowledged: replayed

    app.agent(topic, name=f"consume-{topic_name}")(consume if at_once == 1 else consume_by_key)


def _acknowledge(app: faust.App, event: faust.EventT[Any]) -> None:
    """What the stream does after a message when it acknowledges by itself (Stream.ack, which
    is a coroutine only in name): the message is then safe to commit."""
    if event.ack():
        m = event.message
        app.sensors.on_message_out(m.tp, m.offset, m)


async def _until_done(handler: Handler, message: Message) -> None:
    backoff = 0.5
    while True:
        try:
            await handler(message)
            return
        except NoTrustListYet as waiting:  # expected at start-up: no traceback
            log.warning("%s; trying again in %.1f s", waiting, backoff)
        except Exception:  # a passing failure of Cassandra or Kafka: retry the same message
            log.exception(
                "handling %s/%d@%d failed; retrying in %.1f s",
                message.topic,
                message.partition,
                message.offset,
                backoff,
            )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
