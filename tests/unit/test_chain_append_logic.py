"""What a batch handler does when its conditional append is refused, without servers.

The store here is a script: it answers an opening's reads as for a new batch and refuses
appends as told. The real conditional write is tested on Cassandra in
tests/integration/test_chain_append.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import date
from decimal import Decimal
from typing import Any, cast

import pytest

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import BatchOpened, RawMaterial, Unit, UnitsPacked
from keys.signing import SigningKey
from records.rows import BatchState, Product, StoredCertification
from records.store import ChainHead, HeadMoved, RecordWriter
from stream_processors.ingest import APPEND_ATTEMPTS, BatchIngest, recorded_at
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.trust import TrustHolder
from tests.world import LOT, NOW, PACKED_ON, PRODUCER, PRODUCT, World

BATCH = identifiers.batch_id(PRODUCT, LOT)
PRODUCT_ROW = Product(PRODUCT, PRODUCER, "Mắm cáy", None, "food", None, None, "VN-34", NOW)
TOPIC = "ocop.batch-events"


def test_the_head_is_the_event_only_when_its_content_hash_is():
    assert recorded_at(None, "h") is None
    assert recorded_at(ChainHead(None, None, None), "h") is None
    assert recorded_at(ChainHead(3, b"x", None), "h") is None  # a head from before 0006
    assert recorded_at(ChainHead(3, b"x", "other"), "h") is None
    assert recorded_at(ChainHead(3, b"x", "h"), "h") == 3


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
    metrics = Metrics()
    return store, metrics, event.content_hash(), _ingest(store, world, metrics, event)


def _ingest(store: Any, world: World, metrics: Metrics, event: Any) -> Coroutine[Any, Any, None]:
    """The batch processor handling `event`, signed by the world's producer, over `store`."""
    writer = cast(RecordWriter, store)
    ingest = BatchIngest(
        writer,
        TrustHolder(writer, world.root.public_key),
        SigningKey.generate(),
        Refuser(_no_refusals, metrics, "unit"),
        metrics,
        store,
    )
    signed = model_bytes(world.producer.sign_document(event))
    return ingest.handle(Message(TOPIC, 0, 0, event.topic_key(), signed))


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


class PackingStore(ScriptedStore):
    """A batch open at record 1; its packing's append refused with a head that holds the
    packing already, as record `at` (a crash after the record, before its hash row)."""

    def __init__(self, trust_list: bytes, world: Any, at: int) -> None:
        super().__init__(trust_list, [])
        self.world = world
        self.at = at
        self.units: list[tuple[str, int]] = []  # (unit key, seq), in the order written
        self.state = BatchState(
            batch_id=BATCH, product_key=PRODUCT, producer_id=PRODUCER, lot=LOT,
            production_date=date(2025, 3, 9), expiry_date=date(2026, 3, 9),
            raw_materials="[]", planned_units=10, units_packed=0, status="open",
            recalled_at=None, recall_reason=None, received_province=None, head_seq=1,
            head_hash=b"\x01" * 32,
        )  # fmt: skip

    async def batch(self, batch_id: str) -> BatchState:  # type: ignore[override]
        return self.state

    async def event_seq(self, batch_id: str, content_hash: str) -> None:
        return None

    async def certifications(self, product_key: str) -> list[StoredCertification]:
        signed = self.world.certifications[0]
        return [StoredCertification(signed.body, b"", None, None)]

    async def append(self, record: Any, event_type: str, content_hash: str, state: Any) -> None:
        self.appends += 1
        raise HeadMoved(record.batch_id, 1, ChainHead(self.at, b"\x02" * 32, self.refusals[0]))

    async def write_units(self, units: Any) -> int:
        await asyncio.sleep(0)  # beside the append, as on a real store
        self.units.extend((u.unit_key, u.seq) for u in units)
        return len(self.units)


def test_a_packing_found_at_the_head_has_its_units_written_again_for_that_record(world):
    serials = (identifiers.new_serial(), identifiers.new_serial())
    event = UnitsPacked(
        event_id=uuid.uuid4(), occurred_at=NOW, batch_id=BATCH, producer_id=PRODUCER,
        serials=serials, stars=4, key_id=world.producer.key_id, packed_on=PACKED_ON,
    )  # fmt: skip
    store = PackingStore(world.trust_list_bytes(), world, at=3)
    store.refusals = [event.content_hash()]  # the head holds this packing, as record 3
    metrics = Metrics()
    asyncio.run(_ingest(store, world, metrics, event))
    keys = [identifiers.unit_key(PRODUCT, serial) for serial in serials]
    # written beside the refused append as record 2, then again for the record holding them
    assert store.units == [(k, 2) for k in keys] + [(k, 3) for k in keys]
    assert (store.appends, metrics.duplicates[TOPIC]) == (1, 1)
    assert store.remembered == [(BATCH, event.content_hash(), 3)]
