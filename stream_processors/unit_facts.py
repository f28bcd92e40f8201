"""What the records say about a scanned unit (stream_processors.detect.UnitFacts), held by the
scan processor so that a scan costs no read of its own.

Three reads per scan were a third of the analytics' statements, and they asked the same few
questions again and again: a batch's thousands of units share its row and its product's
certifications. What each answer may be held for:

- a unit's row: for as long as the worker likes (up to UNITS_KEPT units). A packed unit's row
  never changes (its batch, product, producer, printed stars); a unit not packed yet is not
  held (its next scan asks again: it may be packed by then).
- a batch's row and a product's certifications: FACTS_TTL_S at most, from the start of the
  read that fetched them. A recall, a shipment received or a rating changed by ANOTHER
  worker is seen by this worker's analytics that much later at most; the scans analysed in
  between are judged by what was stored before (an alert one of them would have raised is
  raised by the unit's next scan instead: alert ids are per unit, kind and day).
- changes this worker makes itself are seen at once: the batch agent and the authority agent
  wrap each message in `changing_batch` / `changing_certifications`, during which the
  batch's (every product's) facts are read afresh and not held, and after which what was
  held is dropped. A read begun before a change is never held (generations).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Generic, TypeVar

from contract import identifiers
from records.rows import BatchState, StoredCertification, Unit
from records.store import RecordReader, standing_of
from stream_processors.detect import UnitFacts, province_place

FACTS_TTL_S = 5.0
"""How long a batch's row and a product's certifications are held (see the module's text)."""
UNITS_KEPT = 50_000
"""Packed units' rows held (about half a kB each)."""
SHELVED_KEPT = 10_000
"""Batches (products) held at most; all are dropped past that (a worker sees few)."""

ANY = "\x00any"
"""The key of a change to every entry of a shelf (an authority's message)."""

V = TypeVar("V")


class _Shelf(Generic[V]):
    """Answers by key, each held for `ttl` seconds; concurrent askers of one key share one
    read; nothing read while a change of the key may be under way is held."""

    def __init__(
        self, read: Callable[[str], Awaitable[V]], ttl: float, clock: Callable[[], float]
    ) -> None:
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._held: dict[str, tuple[float, V]] = {}
        self._reading: dict[str, asyncio.Task[V]] = {}
        self._changing: Counter[str] = Counter()
        self._generation = 0

    def held(self, key: str) -> tuple[bool, V | None]:
        """(True, the answer) if one is held and fresh, else (False, None)."""
        found = self._held.get(key)
        if found is not None and self._clock() - found[0] < self._ttl:
            return True, found[1]
        return False, None

    async def get(self, key: str) -> V:
        found, value = self.held(key)
        if found:
            return value  # type: ignore[return-value]  # held: a V (which may be None)
        if self._changing[key] or self._changing[ANY]:
            return await self._read(key)  # afresh, and not held
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._fill(key, self._generation))
            self._reading[key] = reading
        return await asyncio.shield(reading)

    async def _fill(self, key: str, generation: int) -> V:
        started = self._clock()
        try:
            value = await self._read(key)
        finally:
            if self._reading.get(key) is asyncio.current_task():
                del self._reading[key]
        if generation == self._generation:  # no change began or ended meanwhile
            if len(self._held) >= SHELVED_KEPT:
                self._held.clear()
            self._held[key] = (started, value)
        return value

    @contextmanager
    def changing(self, key: str = ANY) -> Iterator[None]:
        self._begin(key)
        try:
            yield
        finally:
            self._changing[key] -= 1
            if not self._changing[key]:
                del self._changing[key]
            self._forget(key)

    def _begin(self, key: str) -> None:
        self._changing[key] += 1
        self._forget(key)

    def _forget(self, key: str) -> None:
        self._generation += 1
        if key == ANY:
            self._held.clear()
            self._reading.clear()
        else:
            self._held.pop(key, None)
            self._reading.pop(key, None)


class FactsCache:
    """The facts detection needs about a scanned unit, read from the records only when not
    held (see the module's text for what is held how long)."""

    def __init__(
        self,
        store: RecordReader,
        *,
        ttl: float = FACTS_TTL_S,
        units_kept: int = UNITS_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.units_kept = units_kept
        self._units: OrderedDict[str, Unit] = OrderedDict()
        self._batches: _Shelf[BatchState | None] = _Shelf(store.batch, ttl, clock)
        self._certifications: _Shelf[list[StoredCertification]] = _Shelf(
            store.certifications, ttl, clock
        )

    def changing_batch(self, batch_id: str) -> AbstractContextManager[None]:
        """Around a batch event's handling: the batch's row is read afresh meanwhile."""
        return self._batches.changing(batch_id)

    def changing_certifications(self) -> AbstractContextManager[None]:
        """Around an authority's message: every product's certifications read afresh."""
        return self._certifications.changing()

    async def facts(self, unit_key: str, batch_id: str, at: datetime) -> UnitFacts:
        """The unit, its batch and its product's certifications: the scan names the batch
        (and so the product), so what is not held is read at once, not after the unit."""
        product_key, _ = identifiers.split_batch_id(batch_id)
        unit = self._units.get(unit_key)
        has_batch, batch = self._batches.held(batch_id)
        has_stored, stored = self._certifications.held(product_key)
        if unit is None or not has_batch or not has_stored:
            unit, batch, stored = await asyncio.gather(
                self._unit(unit_key) if unit is None else _given(unit),
                self._batches.get(batch_id) if not has_batch else _given(batch),
                self._certifications.get(product_key) if not has_stored else _given(stored),
            )
        if unit is None:
            return UnitFacts(False, printed_stars=0, batch=None, standing=None, delivery=None)
        if unit.batch_id != batch_id:  # the label names another lot than the one packed
            batch = await self._batches.get(unit.batch_id)
        standing = standing_of(stored or [], unit.producer_id, at)
        received = batch.received_province if batch else None
        delivery = province_place(received) if received else None
        return UnitFacts(True, unit.printed_stars, batch, standing, delivery)

    async def _unit(self, unit_key: str) -> Unit | None:
        unit = await self.store.unit(unit_key)
        if unit is not None:  # packed: its row never changes
            self._units[unit_key] = unit
            if len(self._units) > self.units_kept:
                self._units.popitem(last=False)
        return unit


async def _given(value: V) -> V:
    return value
