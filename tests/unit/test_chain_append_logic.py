"""What a batch handler does when its conditional append is refused, without servers.

The store here is a script: it answers an opening's reads as for a new batch and refuses
appends as told. The real conditional write is tested on Cassandra in
tests/integration/test_chain_append.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, cast

import pytest

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import BatchOpened, RawMaterial, Unit
from keys.signing import SigningKey
from records.rows import Product
from records.rows import Unit as UnitRow
from records.store import ChainHead, HeadMoved, RecordWriter
from stream_processors.ingest import APPEND_ATTEMPTS, BatchIngest, recorded_at, repointed
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.trust import TrustHolder
from tests.world import LOT, NOW, PRODUCER, PRODUCT

BATCH = identifiers.batch_id(PRODUCT, LOT)
PRODUCT_ROW = Product(PRODUCT, PRODUCER, "Mắm cáy", None, "food", None, None, "VN-34", NOW)
TOPIC = "ocop.batch-events"


def test_the_head_is_the_event_only_when_its_content_hash_is():
    assert recorded_at(None, "h") is None
    assert recorded_at(ChainHead(None, None, None), "h") is None
    assert recorded_at(ChainHead(3, b"x", None), "h") is None  # a head from before 0006
    assert recorded_at(ChainHead(3, b"x", "other"), "h") is None
    assert recorded_at(ChainHead(3, b"x", "h"), "h") == 3


def test_units_are_pointed_at_the_record_that_holds_their_event():
    first, second = identifiers.new_serial(), identifiers.new_serial()
    unit = UnitRow(
        unit_key=identifiers.unit_key(PRODUCT, first), batch_id=BATCH, product_key=PRODUCT,
        producer_id=PRODUCER, serial=first, printed_stars=4, key_id="k", packed_on=NOW.date(),
        seq=3,
    )  # fmt: skip
    other = dataclasses.replace(
        unit, unit_key=identifiers.unit_key(PRODUCT, second), serial=second, seq=2
    )
    assert repointed([unit, other], 3) == (dataclasses.replace(other, seq=3),)
    assert repointed([unit], 3) == ()
    assert repointed([], 3) == ()


def test_head_moved_says_what_was_expected_and_found():
    moved = HeadMoved(BATCH, None, ChainHead(1, b"x", "h"))
    assert str(moved) == f"batch {BATCH}: the append expected head None, found 1"
    assert moved.found.content_hash == "h"


class ScriptedStore:
    """What BatchIngest reads and writes for an opening; appends refused as scripted."""

    def __init__(self, trust_list: bytes, refusals: list[str | None]) -> None:
        self.trust_list = trust_list
        self.refusals = refusals  # per append: the head's content hash, or None to apply
        self.appends = 0
        self.remembered: list[tuple[str, str, int]] = []
        self.batch_rows: list[Any] = []

    async def latest_trust_list(self) -> bytes:
        return self.trust_list

    async def batch(self, batch_id: str) -> None:
        return None

    async def product(self, product_key: str) -> Product:
        return PRODUCT_ROW

    async def append(self, record: Any, event_type: str, content_hash: str, state: Any) -> None:
        self.appends += 1
        found = self.refusals[min(self.appends, len(self.refusals)) - 1]
        if found is not None:
            raise HeadMoved(record.batch_id, None, ChainHead(1, b"\x01" * 32, found))

    async def remember(self, batch_id: str, content_hash: str, seq: int) -> None:
        self.remembered.append((batch_id, content_hash, seq))

    async def write_batch(self, state: Any) -> None:
        self.batch_rows.append(state)


async def _no_refusals(key: bytes, value: bytes) -> None:
    raise AssertionError("nothing here is refused")


def _handle(world, refusals: list[str | None]) -> tuple[ScriptedStore, Metrics, str, Any]:
    event = BatchOpened(
        event_id=uuid.uuid4(), occurred_at=NOW, batch_id=BATCH, producer_id=PRODUCER,
        product_key=PRODUCT, lot=LOT, production_date=date(2025, 3, 9),
        expiry_date=date(2026, 3, 9), planned_units=10,
        raw_materials=(
            RawMaterial(material="cáy", origin="Tiền Hải", quantity=Decimal(5), unit=Unit.KILOGRAM),
        ),
    )  # fmt: skip
    store = ScriptedStore(world.trust_list_bytes(), refusals)
    writer = cast(RecordWriter, store)
    metrics = Metrics()
    ingest = BatchIngest(
        writer,
        TrustHolder(writer, world.root.public_key),
        SigningKey.generate(),
        Refuser(_no_refusals, metrics, "unit"),
        metrics,
        store,
    )
    message = Message(
        TOPIC, 0, 0, event.topic_key(), model_bytes(world.producer.sign_document(event))
    )
    return store, metrics, event.content_hash(), ingest.handle(message)


def test_a_persistent_conflict_fails_the_message_after_a_few_attempts(world):
    store, metrics, _, handling = _handle(world, ["another event"])
    with pytest.raises(HeadMoved):
        asyncio.run(handling)
    assert store.appends == APPEND_ATTEMPTS
    assert metrics.duplicates[TOPIC] == 0
    assert store.remembered == []
    assert store.batch_rows == []  # no record, no public row


def test_a_conflict_that_passes_is_tried_again(world):
    store, metrics, _, handling = _handle(world, ["another event", None])
    asyncio.run(handling)
    assert store.appends == 2
    assert metrics.duplicates[TOPIC] == 0
    [row] = store.batch_rows  # the batch's public row, from the head that was stored
    assert (row.batch_id, row.head_seq, row.status) == (BATCH, 1, "open")


def test_a_head_that_is_the_event_makes_it_a_duplicate_and_its_row_is_written(world):
    store, metrics, content_hash, handling = _handle(world, [])
    store.refusals = [content_hash]  # the head another writer stored is this very event
    asyncio.run(handling)
    assert store.appends == 1
    assert metrics.duplicates[TOPIC] == 1
    assert store.remembered == [(BATCH, content_hash, 1)]
