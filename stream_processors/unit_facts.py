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
- a product's standing for a producer is worked out once per stretch of time it cannot
  change in (contract.certification.StandingOverTime), from the certifications held.
- a micro-batch's scans ask at once (`facts_of`): the units not held are read together,
  many in one read (records.store.units), and each batch and product not held once.
- changes this worker makes itself are seen at once: the batch agent and the authority agent
  wrap each message in `changing_batch` / `changing_certifications`, during which the
  batch's (every product's) facts are read afresh and not held, and after which what was
  held is dropped. A read begun before a change is never held (generations).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Generic, TypeVar

from contract import identifiers
from contract.certification import StandingOverTime
from records.rows import BatchState, StoredCertification, Unit
from records.store import RecordReader, standings_of
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
        self._standings: dict[
            tuple[str, str], tuple[list[StoredCertification], StandingOverTime]
        ] = {}
        """Each product's and producer's standing over time, with the held certifications it
        was worked out from (worked out again once they are read again)."""

    def changing_batch(self, batch_id: str) -> AbstractContextManager[None]:
        """Around a batch event's handling: the batch's row is read afresh meanwhile."""
        return self._batches.changing(batch_id)

    def changing_certifications(self) -> AbstractContextManager[None]:
        """Around an authority's message: every product's certifications read afresh."""
        return self._certifications.changing()

    async def facts_of(self, scans: Sequence[tuple[str, str, datetime]]) -> list[UnitFacts]:
        """The facts of scans (unit, the batch its label names, when), in their order: the
        unit, its batch and its product's certifications. What is not held is read at once,
        the units not held in one call (records.store.units); the label names the batch (and
        so the product), so its batch and certifications are read with the units, not after
        them, and a unit packed in another lot than its label names costs a second read."""
        named = {batch_id for _, batch_id, _ in scans}
        units, batches, stored = await asyncio.gather(
            self._units_of({unit_key for unit_key, _, _ in scans}),
            _all(self._batches, named),
            _all(self._certifications, {identifiers.split_batch_id(b)[0] for b in named}),
        )
        other = {u.batch_id for u in units.values() if u is not None} - batches.keys()
        if other:
            batches.update(await _all(self._batches, other))
        return [
            self._facts(units[unit_key], batches, stored, identifiers.split_batch_id(batch_id)[0],
                        at)
            for unit_key, batch_id, at in scans
        ]  # fmt: skip

    def _facts(
        self,
        unit: Unit | None,
        batches: dict[str, BatchState | None],
        stored: dict[str, list[StoredCertification]],
        product: str,
        at: datetime,
    ) -> UnitFacts:
        if unit is None:
            return UnitFacts(False, printed_stars=0, batch=None, standing=None, delivery=None)
        batch = batches[unit.batch_id]
        received = batch.received_province if batch else None
        delivery = province_place(received) if received else None
        standing = self._standings_of(product, unit.producer_id, stored[product]).at(at)
        return UnitFacts(True, unit.printed_stars, batch, standing, delivery)

    def _standings_of(
        self, product: str, producer: str, stored: list[StoredCertification]
    ) -> StandingOverTime:
        """The standing over time worked out from these very certifications (held: the same
        list object until they are read again), else worked out now."""
        worked_out = self._standings.get((product, producer))
        if worked_out is not None and worked_out[0] is stored:
            return worked_out[1]
        if len(self._standings) >= SHELVED_KEPT:
            self._standings.clear()
        standings = standings_of(stored, producer)
        self._standings[(product, producer)] = (stored, standings)
        return standings

    async def _units_of(self, unit_keys: Collection[str]) -> dict[str, Unit | None]:
        """The units (None: not packed), those not held read in one call; packed ones held
        (their rows never change)."""
        found: dict[str, Unit | None] = {key: self._units.get(key) for key in unit_keys}
        missing = [key for key, unit in found.items() if unit is None]
        if missing:
            read = await self.store.units(missing)
            for key in missing:
                unit = found[key] = read.get(key)
                if unit is not None:
                    self._units[key] = unit
                    if len(self._units) > self.units_kept:
                        self._units.popitem(last=False)
        return found


async def _all(shelf: _Shelf[V], keys: Collection[str]) -> dict[str, V]:
    """The shelf's answers for these keys, held or read (all at once)."""
    answers = {}
    missing = []
    for key in keys:
        found, value = shelf.held(key)
        if found:
            answers[key] = value
        else:
            missing.append(key)
    if missing:
        answers.update(zip(missing, await asyncio.gather(*map(shelf.get, missing)), strict=True))
    return answers  # type: ignore[return-value]  # held: V (which may be None)
