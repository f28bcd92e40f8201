"""Batch events become sealed records: verify, apply the rules, chain, seal, store.

The order matters for crashes. Units are written first (idempotent: deterministic keys),
then the record and the batch's new head in one write. A crash before that write leaves no
record, and the redelivered event redoes both; a crash after it leaves the record, and the
redelivered event is recognised by its content hash and skipped.
"""

from __future__ import annotations

import dataclasses
import logging

from contract.events import BatchEvent, BatchOpened, UnitsPacked
from contract.records import record_hash
from keys.certs import ProducerKeyCertificate
from keys.chain import ChainRecord, seal
from keys.signing import SigningKey
from records.rows import BatchState
from records.store import RecordWriter
from stream_processors.handler import SignedHandler
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.rules import Facts, Refusal, apply
from stream_processors.trust import TrustHolder

log = logging.getLogger(__name__)


class BatchIngest(SignedHandler):
    def __init__(
        self,
        store: RecordWriter,
        trust: TrustHolder,
        seal_key: SigningKey,
        refuse: Refuser,
        metrics: Metrics,
    ) -> None:
        super().__init__(store, trust, refuse, metrics)
        self.seal_key = seal_key

    async def handle(self, message: Message) -> None:
        self.metrics.processed[message.topic] += 1
        # 1. The producer's signature, by a key valid when the event happened.
        event = await self.authenticated(message)
        if event is None:
            return
        if not isinstance(event, BatchEvent):
            await self.refuse(message, "wrong_topic", f"{event.type} is not a batch event")
            return
        # 2. Seen before? (A replay after a crash, or the station re-sending.)
        content_hash = event.content_hash()
        state = await self.store.batch(event.batch_id)
        if state is not None and await self.store.event_seq(event.batch_id, content_hash):
            self.metrics.duplicates[message.topic] += 1
            return
        # 3. The rules, with the facts they need.
        seq = (state.head_seq if state else 0) + 1
        try:
            facts = await self._facts(event, state)
            outcome = apply(state, event, facts, seq)
        except Refusal as refusal:
            await self.refuse(message, refusal.code, refusal.detail)
            return
        # 4. Chain, seal, store: units first, then the record with the new head.
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
        if outcome.units:
            await self.store.write_units(outcome.units)
        head = dataclasses.replace(outcome.state, head_seq=seq, head_hash=hashed)
        await self.store.append(record, event.type, content_hash, head)

    async def _facts(self, event: BatchEvent, state: BatchState | None) -> Facts:
        if isinstance(event, BatchOpened):
            return Facts(product=await self.store.product(event.product_key))
        if isinstance(event, UnitsPacked) and state is not None:
            rating = await self.store.rating(
                state.product_key, state.producer_id, event.occurred_at
            )
            label_key = self.trust.current and self.trust.current.key_certificate(event.key_id)
            owner = label_key.producer_id if isinstance(label_key, ProducerKeyCertificate) else None
            return Facts(rating=rating, label_key_producer=owner)
        return Facts()
