"""Batch events become sealed records: verify, apply the rules, chain, seal, store.

The order matters for crashes. A packing's units (idempotent: deterministic keys) and the
record with the batch's new head are written at once; once both are stored, what follows
from the record is written: the event's content hash, the batch's public row, the parties'
rows, a recall's status row and the audit log's leaf. A crash before the record's write
leaves no record, and the redelivered event redoes everything. A crash after it leaves the
record, perhaps without all of its units, and the redelivered event is recognised by its
content hash: by its hash row, or, if the crash came before that row, by the head, which
names the content hash of its event (the row is written then). Such a duplicate is not
recorded again, but everything that follows from its record is written again, a packing's
units included (rebuilt from the event and the stored batch, pointing at the record that
holds it): a crash may have come before any of them was stored.

The record's write is conditional on the head this handler read (RecordWriter.append), for
a worker that stalls past its session timeout and wakes after its partition moved to
another worker: its stale head is refused rather than overwriting or rolling back a record.
The refused handler reads again: its event is then in the chain (a duplicate, skipped), or
the rules are applied again on the new head and the append is tried again, a few times;
after that the message fails, and the agent retries it with backoff, like any passing
failure. Units written beside a refused append are written again: with the seq of the
record appended on the new head, or of the record that holds their event (a duplicate).

After each record, the batch's row on its product's registry page is written from the new
head (records.registry: in circulation, recalled), and the parties' trace rows of the event
(stream_processors.trace); a duplicate writes them again from the stored head, for a crash
between the record and those rows.

A recall is also written to the one `recalls` partition (auditlog.status.RecallRows) that
the signed status list reads, and again on a duplicate.

The record is published as a leaf of the audit log (auditlog.leaves), and again for a
duplicate, for a crash before it was: the log writer keeps each leaf once.

None of the writes after the record needs another's answer, and each is idempotent, so they
go out together (one wait instead of five one after another); the handler returns, and the
agent lets the message's offset be committed, only once all of them are done. The hash row
waits for the record (a hash row means its record exists); nothing else waits for anything
but the reads and the rules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from typing import Protocol

from auditlog.leaves import PublishLeaf, publish_nothing, record_leaf
from auditlog.status import RecallRows, recall_rows_of
from contract import identifiers
from contract.events import BatchEvent, BatchOpened, BatchRecalled, UnitsPacked
from contract.records import record_hash
from keys.certs import ProducerKeyCertificate
from keys.chain import ChainRecord, seal
from keys.signing import SigningKey
from records.rows import BatchState, Unit
from records.store import ChainHead, HeadMoved, RecordWriter, standing_of
from stream_processors.handler import SignedHandler
from stream_processors.outcomes import Message, Metrics, Refuser, seconds_since
from stream_processors.rules import Facts, Refusal, apply, packed_units
from stream_processors.trust import TrustHolder

log = logging.getLogger(__name__)

APPEND_ATTEMPTS = 3
"""Reads, judgements and conditional appends of one event before its message fails."""


def recorded_at(found: ChainHead | None, content_hash: str) -> int | None:
    """The seq of the head, if the head is the event with this content hash."""
    if found is None or found.seq is None or found.content_hash != content_hash:
        return None
    return found.seq


class BatchRows(Protocol):
    """Where a batch's public row goes (records.registry.RegistryWriter)."""

    async def write_batch(self, state: BatchState) -> None: ...


class AfterRecord(Protocol):
    """What is derived from each record once it is stored (stream_processors.trace)."""

    async def after_record(self, event: BatchEvent, state: BatchState) -> None: ...


class BatchIngest(SignedHandler):
    def __init__(
        self,
        store: RecordWriter,
        trust: TrustHolder,
        seal_key: SigningKey,
        refuse: Refuser,
        metrics: Metrics,
        batch_rows: BatchRows,
        trace: AfterRecord | None = None,
        leaves: PublishLeaf = publish_nothing,
        recalls: RecallRows | None = None,
    ) -> None:
        super().__init__(store, trust, refuse, metrics)
        self.seal_key = seal_key
        self.batch_rows = batch_rows
        self.trace = trace
        self.leaves = leaves
        self.recalls = recalls if recalls is not None else recall_rows_of(store)

    async def handle(self, message: Message) -> None:
        self.metrics.count_processed(message.topic)
        # 1. The producer's signature, by a key valid when the event happened.
        event = await self.authenticated(message)
        if event is None:
            return
        if not isinstance(event, BatchEvent):
            await self.refuse(message, "wrong_topic", f"{event.type} is not a batch event")
            return
        content_hash = event.content_hash()
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                await self._attempt(message, event, content_hash)
                return
            except HeadMoved as moved:
                if attempt == APPEND_ATTEMPTS:
                    raise  # the agent retries the message with backoff; never dropped
                log.info("%s; reading it again (attempt %d)", moved, attempt + 1)

    async def _attempt(self, message: Message, event: BatchEvent, content_hash: str) -> None:
        """Read, judge, write; raises HeadMoved if another writer moved the head meanwhile."""
        # 2. Seen before? (A replay after a crash, the station re-sending, another writer.)
        # The batch, its hash row for this event and the rules' facts are read together.
        state, seen, facts = await self._read(event, content_hash)
        if seen:
            await self._duplicate(message, event, seen)
            return
        # 3. The rules, with the facts they need.
        seq = (state.head_seq if state else 0) + 1
        try:
            outcome = apply(state, event, facts, seq)
        except Refusal as refusal:
            # the head may be this event, recorded by a write that did not get to its hash row
            stored = await self.store.head(event.batch_id) if state else None
            at = recorded_at(stored, content_hash)
            if at is not None:
                await self._duplicate(message, event, at, content_hash)
                return
            await self.refuse(message, refusal.code, refusal.detail)
            return
        # 4. Chain, seal, store: the units and the record with the new head at once, the
        # record on the condition that the head is still `state`'s.
        prev = outcome.state.head_hash
        hashed = record_hash(event.batch_id, seq, prev, message.value)
        record = ChainRecord(
            batch_id=event.batch_id,
            seq=seq,
            event=message.value,
            prev_hash=prev,
            record_hash=hashed,
            seal=seal(self.seal_key, hashed),
            sealed_by=self.seal_key.key_id,
        )
        head = dataclasses.replace(outcome.state, head_seq=seq, head_hash=hashed)
        try:
            await self._store(record, event.type, content_hash, head, outcome.units)
        except HeadMoved as moved:
            at = recorded_at(moved.found, content_hash)
            if at is None:
                raise
            await self._duplicate(message, event, at, content_hash)
            return
        # 5. What follows from the record, all at once (none needs another's answer): the
        # hash row (the record and its units are stored), the public rows, the log's leaf.
        await asyncio.gather(
            self.store.remember(event.batch_id, content_hash, seq),
            self._derived(event, head),
            self.leaves(record_leaf(record, event.type)),
        )
        self.metrics.ingest_delay.observe(seconds_since(event.occurred_at))

    async def _store(
        self,
        record: ChainRecord,
        event_type: str,
        content_hash: str,
        head: BatchState,
        units: tuple[Unit, ...],
    ) -> None:
        """The units and the conditional append at once; returns or raises only once both
        are done, so a caller that finds the event recorded rewrites the units after them."""
        if not units:
            await self.store.append(record, event_type, content_hash, head)
            return
        stored, appended = await asyncio.gather(
            self.store.write_units(units),
            self.store.append(record, event_type, content_hash, head),
            return_exceptions=True,
        )
        if isinstance(stored, BaseException):  # a passing failure: the message is retried
            raise stored
        if isinstance(appended, BaseException):
            raise appended

    async def _duplicate(
        self, message: Message, event: BatchEvent, seq: int, unremembered: str | None = None
    ) -> None:
        """The event is record `seq` already. What follows from it is written again, at
        once, for a crash before it was: a packing's units (pointing at `seq`, also those this
        handler may have written for another record), the hash row if it was missing
        (`unremembered`), the public rows and the leaf."""
        batch_id = event.batch_id
        state = await self.store.batch(batch_id)
        writes: list[Awaitable[object]] = [self._leaf_again(batch_id, seq, event.type)]
        if unremembered is not None:
            writes.append(self.store.remember(batch_id, unremembered, seq))
            log.info("batch %s: record %d found at the head, its hash row written", batch_id, seq)
        if state is not None:
            if isinstance(event, UnitsPacked):
                writes.append(self.store.write_units(packed_units(state, event, seq)))
            writes.append(self._derived(event, state))
        await asyncio.gather(*writes)
        self.metrics.duplicates[message.topic] += 1

    async def _derived(self, event: BatchEvent, state: BatchState) -> None:
        """The rows derived from the record that made `state`: the batch's public row, a
        recall's status row and the parties' trace rows, written at once."""
        writes: list[Awaitable[object]] = [self.batch_rows.write_batch(state)]
        if isinstance(event, BatchRecalled) and self.recalls is not None:
            # the status list's row of a recall (the hook of migration 0016)
            writes.append(self.recalls.write_recall(state))
        if self.trace is not None:
            writes.append(self.trace.after_record(event, state))
        await asyncio.gather(*writes)

    async def _leaf_again(self, batch_id: str, seq: int, event_type: str) -> None:
        """The stored record's leaf, published again for a crash before it was (the log
        writer keeps a leaf once)."""
        if self.leaves is not publish_nothing:
            for record in await self.store.chain(batch_id):
                if record.seq == seq:
                    await self.leaves(record_leaf(record, event_type))

    async def _read(
        self, event: BatchEvent, content_hash: str
    ) -> tuple[BatchState | None, int | None, Facts]:
        """The batch's state, the seq of the record holding this event if one does, and the
        facts the rules need, read at once (they were three round trips one after another).
        None of the reads needs another's answer: the batch id names the product (a batch id
        is its product key and lot, contract.identifiers), and the producer whose standing
        counts is the batch's, taken from its state once read. An opening's batch normally
        does not exist yet: its hash row is read only if it does (a replayed opening)."""
        batch_id = event.batch_id
        if isinstance(event, BatchOpened):
            state, product = await asyncio.gather(
                self.store.batch(batch_id), self.store.product(event.product_key)
            )
            seen = await self.store.event_seq(batch_id, content_hash) if state else None
            return state, seen, Facts(product=product)
        if isinstance(event, UnitsPacked):
            product_key, _ = identifiers.split_batch_id(batch_id)
            state, seen, stored = await asyncio.gather(
                self.store.batch(batch_id),
                self.store.event_seq(batch_id, content_hash),
                self.store.certifications(product_key),
            )
            if state is None:
                return None, None, Facts()
            at_packing = standing_of(stored, state.producer_id, event.occurred_at)
            label_key = self.trust.current and self.trust.current.key_certificate(event.key_id)
            owner = label_key.producer_id if isinstance(label_key, ProducerKeyCertificate) else None
            return state, seen, Facts(standing=at_packing, label_key_producer=owner)
        state, seen = await asyncio.gather(
            self.store.batch(batch_id), self.store.event_seq(batch_id, content_hash)
        )
        return state, seen if state else None, Facts()
