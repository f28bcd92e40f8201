"""Conditional appends on the real Cassandra: two writers of one batch, from one head.

Each writer is what a worker holds: its own cluster connection, session, RecordWriter and
BatchIngest. A stalled worker (past its Kafka session timeout, its partition already given
to another) is a writer that read the head and then waits before its append: the
`StallingWriter` below, the real store with a pause, released once the other writer is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from cassandra.cluster import Cluster, Session

from contract import identifiers
from contract.encoding import model_bytes
from contract.records import GENESIS_HASH, record_hash
from infra.schema import migrate
from infra.settings import StackSettings
from keys.chain import ChainRecord, seal, verify_chain
from keys.signing import SigningKey
from records.registry import RegistryWriter
from records.rows import BatchState
from records.session import connect
from records.store import HeadMoved, RecordWriter
from stream_processors.ingest import BatchIngest
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.rules import Facts, apply
from stream_processors.trust import TrustHolder
from tests.integration.pipeline import (
    batch_id,
    opened,
    packed,
    product_registration,
)
from tests.world import PRODUCT, World

TOPIC = "it.batch"


@pytest.fixture
def keyspace(stack_settings: StackSettings, unique_name: str) -> Iterator[StackSettings]:
    settings = stack_settings.model_copy(update={"keyspace": unique_name})
    migrate(settings)
    yield settings
    cluster, session = connect(settings)
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def seal_key() -> SigningKey:
    return SigningKey.generate()


async def _no_refusals(key: bytes, value: bytes) -> None:
    raise AssertionError(f"nothing here should be refused: {value[:300]!r}")


class StallingWriter(RecordWriter):
    """The real store; its first append waits after the head was read, until released."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()
        self.appends = 0

    async def append(
        self, record: ChainRecord, event_type: str, content_hash: str, state: BatchState
    ) -> None:
        self.appends += 1
        if self.appends == 1:
            self.stalled.set()
            await self.release.wait()
        await super().append(record, event_type, content_hash, state)


class Writer:
    """One worker's side of the store: its own connection, store, handler and counters."""

    def __init__(
        self, settings: StackSettings, world: World, seal_key: SigningKey, *, stalls: bool
    ) -> None:
        self.cluster: Cluster
        self.cluster, self.session = connect(settings, keyspace=settings.keyspace)
        self.store = StallingWriter(self.session) if stalls else RecordWriter(self.session)
        self.metrics = Metrics()
        trust = TrustHolder(self.store, world.root.public_key)
        trust.offer(trust.load(world.trust_list_bytes()))
        refuser = Refuser(_no_refusals, self.metrics, "it-writer")
        self.ingest = BatchIngest(
            self.store, trust, seal_key, refuser, self.metrics, RegistryWriter(self.session)
        )

    def close(self) -> None:
        self.cluster.shutdown()


def _message(world: World, event: Any, offset: int = 0) -> Message:
    value = model_bytes(world.producer.sign_document(event))
    return Message(TOPIC, 0, offset, event.topic_key(), value)


async def _stalled_behind(
    late: Writer, message: Message, first: Writer, *messages: Message
) -> None:
    """`late` reads the head for `message` and stalls; `first` handles `messages`; then
    `late` wakes up and finishes, from the head it read before."""
    assert isinstance(late.store, StallingWriter)
    task = asyncio.ensure_future(late.ingest.handle(message))
    await asyncio.wait_for(late.store.stalled.wait(), 30)
    for other in messages:
        await first.ingest.handle(other)
    late.store.release.set()
    await asyncio.wait_for(task, 30)


async def _setup(writer: Writer, world: World) -> None:
    """The product and its certification, as the authority agent would have stored them."""
    await writer.store.register_product(product_registration())
    await writer.store.store_certification(world.certifications[0])


def _verified(writer: Writer, batch: str, seal_key: SigningKey) -> list[ChainRecord]:
    records: list[ChainRecord] = asyncio.run(writer.store.chain(batch))
    head = asyncio.run(writer.store.batch(batch))
    assert head is not None
    verdict = verify_chain(
        batch, records, {seal_key.key_id: seal_key.public_key}, head=(head.head_seq, head.head_hash)
    )
    assert verdict.ok, verdict.detail
    return records


def _units(writer: Writer, serials: tuple[str, ...]) -> list[Any]:
    return [
        asyncio.run(writer.store.unit(identifiers.unit_key(PRODUCT, serial))) for serial in serials
    ]


@pytest.fixture
def writers(keyspace: StackSettings, world: World, seal_key: SigningKey) -> Iterator[list[Writer]]:
    made = [
        Writer(keyspace, world, seal_key, stalls=False),
        Writer(keyspace, world, seal_key, stalls=True),
    ]
    try:
        asyncio.run(_setup(made[0], world))
        yield made
    finally:
        for writer in made:
            writer.close()


def _record(
    state: BatchState | None, batch: str, seq: int, event: bytes, key: SigningKey
) -> ChainRecord:
    prev = state.head_hash if state is not None else GENESIS_HASH
    hashed = record_hash(batch, seq, prev, event)
    return ChainRecord(batch, seq, event, prev, hashed, seal(key, hashed), key.key_id)


def test_of_two_appends_from_one_head_exactly_one_applies(writers, world, seal_key):
    """Direct appends of two different records 2 (and two different records 1) on two
    sessions at once: one applies, the other is refused with the head that won."""
    a, b = writers
    lot = "L2516RACE1"
    batch = batch_id(lot)
    one, other = opened(lot), opened(lot, planned_units=10)

    async def race() -> None:
        b.store.release.set()  # no stall: both append at once
        # record 1: both find no batch
        assert await a.store.batch(batch) is None
        facts = Facts(product=await a.store.product(PRODUCT))
        records = [
            _record(None, batch, 1, _message(world, e).value, seal_key) for e in (one, other)
        ]
        states = [
            dataclasses.replace(apply(None, e, facts, 1).state, head_seq=1, head_hash=r.record_hash)
            for e, r in zip((one, other), records, strict=True)
        ]
        hashes = [one.content_hash(), other.content_hash()]
        results = await asyncio.gather(
            a.store.append(records[0], one.type, hashes[0], states[0]),
            b.store.append(records[1], other.type, hashes[1], states[1]),
            return_exceptions=True,
        )
        _one_applied(results, records, hashes)

        # record 2: both read the same head 1
        head = await a.store.batch(batch)
        assert head is not None
        assert head == await b.store.batch(batch)
        packs = [packed(world, 3, lot), packed(world, 4, lot)]
        values = [_message(world, p).value for p in packs]
        records = [_record(head, batch, 2, v, seal_key) for v in values]
        hashes = [p.content_hash() for p in packs]
        results = await asyncio.gather(
            *(
                w.store.append(
                    r,
                    p.type,
                    h,
                    dataclasses.replace(
                        head, head_seq=2, head_hash=r.record_hash, units_packed=len(p.serials)
                    ),
                )
                for w, r, p, h in zip((a, b), records, packs, hashes, strict=True)
            ),
            return_exceptions=True,
        )
        _one_applied(results, records, hashes)

    asyncio.run(race())
    records = _verified(a, batch, seal_key)
    assert len(records) == 2


def _one_applied(results: Sequence[Any], records: list[ChainRecord], hashes: list[str]) -> None:
    applied = [n for n, result in enumerate(results) if result is None]
    assert len(applied) == 1, results
    winner, loser = applied[0], 1 - applied[0]
    refused = results[loser]
    assert isinstance(refused, HeadMoved), refused
    assert refused.found.seq == records[winner].seq
    assert refused.found.hash == records[winner].record_hash
    assert refused.found.content_hash == hashes[winner]


def test_a_stalled_writer_reads_again_and_appends_on_the_new_head(writers, world, seal_key):
    """B reads head 1 for its packing and stalls; A appends another packing as record 2;
    B's append from head 1 is refused, B reads again and appends as record 3."""
    a, b = writers
    lot = "L2516STAL1"
    opening, first, second = opened(lot), packed(world, 5, lot), packed(world, 7, lot)

    async def scenario() -> None:
        await a.ingest.handle(_message(world, opening, 0))
        await _stalled_behind(b, _message(world, second, 2), a, _message(world, first, 1))

    asyncio.run(scenario())
    records = _verified(a, batch_id(lot), seal_key)
    assert [r.event for r in records] == [_message(world, e).value for e in (opening, first)] + [
        records[2].event
    ]
    state = asyncio.run(a.store.batch(batch_id(lot)))
    assert state is not None
    assert (state.head_seq, state.units_packed) == (3, 12)
    assert b.store.appends == 2  # refused once, then applied
    assert b.metrics.duplicates[TOPIC] == 0
    assert {u.seq for u in _units(a, first.serials)} == {2}
    assert {u.seq for u in _units(a, second.serials)} == {3}  # rewritten from 2 to 3
    assert asyncio.run(a.store.event_seq(batch_id(lot), second.content_hash())) == 3


@pytest.mark.parametrize("then_more", [False, True], ids=["at_head", "head_moved_on"])
def test_the_same_event_from_two_writers_is_one_record(writers, world, seal_key, then_more):
    """A and B both handle the same packing from head 1; B stalls until A stored it (and,
    in the second case, one more event). B recognises it as a duplicate: from the head
    its refused append returned, or from the hash row when it reads again."""
    a, b = writers
    lot = "L2516SAME1" if not then_more else "L2516SAME2"
    opening, packing, later = opened(lot), packed(world, 6, lot), packed(world, 2, lot)

    async def scenario() -> None:
        await a.ingest.handle(_message(world, opening, 0))
        message = _message(world, packing, 1)
        more = [_message(world, later, 2)] if then_more else []
        await _stalled_behind(b, message, a, message, *more)

    asyncio.run(scenario())
    records = _verified(a, batch_id(lot), seal_key)
    assert len(records) == (3 if then_more else 2)
    assert records[1].event == _message(world, packing).value
    assert b.metrics.duplicates[TOPIC] == 1
    assert b.store.appends == 1
    assert {u.seq for u in _units(a, packing.serials)} == {2}
    state = asyncio.run(a.store.batch(batch_id(lot)))
    assert state is not None
    assert state.units_packed == (8 if then_more else 6)


def test_a_record_whose_hash_row_is_missing_is_recognised_at_the_head(writers, world, seal_key):
    """A crash between the conditional write and the hash row leaves the record without its
    row. The redelivered event, handled by another writer, is recognised by the head, whether
    the rules accept it again (a packing: its append is refused) or refuse it (an opening:
    batch_exists), and the row is written; nothing is appended or dead-lettered."""
    a, b = writers
    lot, only_opened = "L2516LOST1", "L2516LOST2"
    opening, packing, second_opening = opened(lot), packed(world, 4, lot), opened(only_opened)
    messages = [_message(world, e, n) for n, e in enumerate((opening, packing, second_opening))]
    forget = "DELETE FROM batch_event_hashes WHERE batch_id = %s AND content_hash = %s"

    async def scenario() -> None:
        for message in messages:
            await a.ingest.handle(message)
        for event in (packing, second_opening):
            a.session.execute(forget, (event.batch_id, event.content_hash()))
            assert await b.store.event_seq(event.batch_id, event.content_hash()) is None
        b.store.release.set()  # B does not stall here
        await b.ingest.handle(messages[1])
        await b.ingest.handle(messages[2])

    asyncio.run(scenario())
    assert b.metrics.duplicates[TOPIC] == 2
    assert _verified(a, batch_id(lot), seal_key)[1].event == messages[1].value
    assert len(_verified(a, batch_id(lot), seal_key)) == 2
    assert len(_verified(a, batch_id(only_opened), seal_key)) == 1
    assert {u.seq for u in _units(a, packing.serials)} == {2}  # the units, pointed back at 2
    for event, seq in ((packing, 2), (second_opening, 1)):
        assert asyncio.run(a.store.event_seq(event.batch_id, event.content_hash())) == seq
