"""What the verify API holds in memory, under one budget: the facts many scans share.

A hot product is scanned by thousands of phones a minute; reading its certifications, its
producer and its batch's chain once per scan would spend Cassandra on the same answer. So
they are held here, and only here: a product with its certifications (and each producer's
rating worked out from them), a producer, a batch with its decoded chain (the story, the
packed serials and their labels' digests), and the consumer page's rendered frames. Every
entry has a weight in bytes (estimated per kind, see `Weights`) and all of them share one
budget (`ApiSettings.facts_memory_mb`); when it is full the least recently loaded go first.
What else the API keeps is small and bounded by count: the trust list in use (TrustCache),
and the memo tables of fixed views (views.py, negotiation.py, each with its `maxsize`).

What each kind saves, measured with bench/bench_api.py (docs/bench_api.md):
- products, producers, batches: three reads per scan become one (the unit's own activity);
  they live `record_cache_s`, so a revocation or recall shows that much later at most while
  Cassandra answers (below);
- a chain's facts are fixed by its head (a new record is a new head), so they live as long
  as there is room; the packed serials answer "was this packed, as labelled?" without a read
  of the units table, and the digests authenticate a real label with a hash instead of an
  Ed25519 verification (see resolution.py);
- page frames: everything on the consumer page but the unit's own part, rendered once per
  facts and findings (see rendering.py).

Entries are known by their generation, a number given at each load and never reused: a key
made of generations (`Shared.key`) names exactly the facts a resolution showed, so a frame
rendered from them can never be served for newer facts, and no object identity is involved.
Concurrent misses of one key share one load: fifty phones arriving together after an entry
expired cause one read, not fifty.

A stalled Cassandra must not turn every scan into an error the moment its facts' time is up
(a lost node stalls reads for seconds before the others convict it: docs/cluster.md,
session 12). An entry past its time but within `stale_s` of it is reloaded in the
background, and if the reload has not answered within `wait_s` (half the request's
deadline, as the unit's own read gets: verify_api.resolution) the scan is answered from it
and says so (`Shared.reloading`, views.FROM_EARLIER_FACTS): a revocation or recall
then shows at most `record_cache_s` + `record_stale_s` later, and only while Cassandra does
not answer.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from contract.label import SignedLabel
from keys.chain import ChainRecord
from records.rows import BatchState, Producer, Product, StoredCertification, Unit, UnitActivity
from verify_api import ratings, views
from verify_api.ratings import Rating
from verify_api.schemas import BatchOut, ProducerOut, ProductOut
from verify_api.story import ChainFacts, Packing, read_chain

V = TypeVar("V")


class Records(Protocol):
    """The reads a resolution makes (records.store.RecordReader has them all)."""

    async def unit(self, unit_key: str) -> Unit | None: ...
    async def batch(self, batch_id: str) -> BatchState | None: ...
    async def chain(self, batch_id: str) -> list[ChainRecord]: ...
    async def product(self, product_key: str) -> Product | None: ...
    async def producer(self, producer_id: str) -> Producer | None: ...
    async def certifications(self, product_key: str) -> list[StoredCertification]: ...
    async def unit_activity(self, unit_key: str) -> UnitActivity: ...


class Weights:
    """Bytes an entry of each kind holds, as measured with tracemalloc on this code's
    objects (tests/unit/test_api_facts.py checks them against a fresh measurement)."""

    PRODUCT = 6_000
    CERTIFICATION = 3_000
    PRODUCER = 2_000
    BATCH = 4_500
    STORY_STEP = 1_300
    PACKED_SERIAL = 200
    """A serial's Packing entry and its label's digest, with their dict slots."""


@dataclass(frozen=True, slots=True)
class Held(Generic[V]):
    value: V
    generation: int
    expires: float
    weight: int


class Memory:
    """Every held entry, by key, under one budget in bytes; least recently loaded go first."""

    def __init__(self, budget_bytes: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_bytes = budget_bytes
        self.weight = 0
        self._clock = clock
        self._entries: OrderedDict[Hashable, Held[Any]] = OrderedDict()
        self._loading: dict[Hashable, asyncio.Future[Held[Any]]] = {}
        self._refreshes: set[asyncio.Task[Held[Any]]] = set()
        """Reloads of entries past their time that no scan waits for (kept from the garbage
        collector until done)."""
        self._generations = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: Hashable) -> Held[Any] | None:
        """The entry if held and fresh, without awaiting: most scans find everything held,
        and an await per fact would cost them a task each."""
        held = self._entries.get(key)
        return held if held is not None and self.fresh(held) else None

    def fresh(self, held: Held[Any]) -> bool:
        """Whether the entry is within its time (a stale one may answer: `get`)."""
        return held.expires > self._clock()

    def put(self, key: Hashable, value: V, *, weight: int, ttl_s: float) -> Held[V]:
        held = Held(value, next(self._generations), self._clock() + ttl_s, weight)
        if ttl_s <= 0 or weight > self.budget_bytes:
            return held  # not kept: nothing to hold, or it would push out everything else
        replaced = self._entries.pop(key, None)
        self.weight += weight - (replaced.weight if replaced else 0)
        self._entries[key] = held
        while self.weight > self.budget_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.weight -= dropped.weight
        return held

    async def get(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[V]],
        *,
        ttl_s: float,
        weigh: Callable[[V], int],
        stale_s: float = 0.0,
        wait_s: float = 0.0,
    ) -> Held[V]:
        """The entry, loaded if it is not held or is past its time. One past its time by less
        than `stale_s` is reloaded in the background and answers if the reload does not
        within `wait_s`, or fails (the caller tells with `fresh`)."""
        while True:
            held = self._entries.get(key)
            now = self._clock()
            if held is not None and held.expires > now:
                return held
            pending = self._loading.get(key)
            if held is not None and now < held.expires + stale_s:
                pending = pending or self._refresh(key, load, ttl_s, weigh)
                return await self._reloaded(held, pending, wait_s)
            if pending is None:
                return await self._load(key, self._begin(key), load, ttl_s, weigh)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this waiter was cancelled, not the load
                # the loading request was cancelled: try again, loading if need be

    async def _reloaded(
        self, held: Held[V], pending: asyncio.Future[Held[Any]], wait_s: float
    ) -> Held[V]:
        """The reloaded entry if it comes within `wait_s`, else the one held."""
        try:
            return await asyncio.wait_for(asyncio.shield(pending), wait_s)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this waiter was cancelled, not the load
            return held
        except Exception:  # the reload is slow or failed: the held entry answers (`get`)
            return held

    def _refresh(
        self, key: Hashable, load: Callable[[], Awaitable[V]], ttl_s: float,
        weigh: Callable[[V], int],
    ) -> asyncio.Future[Held[Any]]:  # fmt: skip
        """A reload no scan's deadline cancels: the first scan to find the entry past its
        time starts it, and a scan answered from the held entry leaves it running."""
        pending = self._begin(key)
        task = asyncio.create_task(self._load(key, pending, load, ttl_s, weigh))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshed)
        return pending

    def _refreshed(self, task: asyncio.Task[Held[Any]]) -> None:
        self._refreshes.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its waiters saw it, or were answered from the entry

    def _begin(self, key: Hashable) -> asyncio.Future[Held[Any]]:
        """The load of `key` that concurrent requests share."""
        pending: asyncio.Future[Held[Any]] = asyncio.get_running_loop().create_future()
        self._loading[key] = pending
        return pending

    async def _load(
        self,
        key: Hashable,
        pending: asyncio.Future[Held[Any]],
        load: Callable[[], Awaitable[V]],
        ttl_s: float,
        weigh: Callable[[V], int],
    ) -> Held[V]:
        try:
            value = await load()
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except Exception as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: a failure no one else awaited is not "unhandled"
            raise
        finally:
            del self._loading[key]
        held = self.put(key, value, weight=weigh(value), ttl_s=ttl_s)
        pending.set_result(held)
        return held


@dataclass(frozen=True)
class ProductFacts:
    """A product as held: the row, its public view, its certifications, and each producer's
    rating worked out from them while it holds."""

    product: Product | None
    view: ProductOut | None
    certifications: list[StoredCertification]
    _ratings: dict[str, Rating] = field(default_factory=dict, repr=False, compare=False)

    def rating(self, producer_id: str, now: datetime) -> Rating:
        """Only the producer's own certifications count for its labels."""
        held = self._ratings.get(producer_id)
        if held is None or not held.holds(now):
            mine = ratings.of_producer(self.certifications, producer_id)
            held = self._ratings[producer_id] = ratings.rating_at(mine, now)
        return held


@dataclass(frozen=True)
class BatchFacts:
    state: BatchState
    view: BatchOut
    packed: dict[str, Packing]
    """Serial to the record that packed it (empty when the batch is too large to index)."""
    digests: dict[str, str]
    """Serial to its label's digest, for the serials in `packed` whose station sent one."""


@dataclass(frozen=True)
class Shared:
    """The facts every unit of a batch shares, as held."""

    product: Held[ProductFacts]
    producer: Held[ProducerOut | None]
    batch: Held[BatchFacts | None]
    reloading: bool = False
    """Some of them are past their time: their reload did not answer in time (Memory.get)."""

    def key(self, rating: Rating, printed_stars: int) -> Hashable:
        """Equal for two resolutions only if they show the same rating, product, producer and
        batch, loaded at the same time."""
        return (
            self.product.generation, self.producer.generation, self.batch.generation,
            rating.since, printed_stars,
        )  # fmt: skip


class Facts:
    """The shared facts of scans, read through `records` and held in `memory`."""

    def __init__(
        self,
        records: Records,
        memory: Memory,
        *,
        cache_s: float,
        stale_s: float = 0.0,
        wait_s: float = 0.0,
    ) -> None:
        self.records = records
        self.memory = memory
        self.cache_s = cache_s
        self.stale_s = stale_s
        self.wait_s = wait_s
        """Facts past `cache_s` by less than `stale_s` answer if their reload does not within
        `wait_s` (Memory.get)."""
        self.index_serials = memory.budget_bytes // 4 // Weights.PACKED_SERIAL
        """The most serials of one batch indexed: a quarter of the budget, so that one huge
        batch never pushes every other fact out."""

    def held(self, product_key: str, producer_id: str, batch_id: str) -> Shared | None:
        """The shared facts if all are held."""
        product = self.memory.peek(("product", product_key))
        producer = self.memory.peek(("producer", producer_id))
        batch = self.memory.peek(("batch", batch_id))
        if product is None or producer is None or batch is None:
            return None
        return Shared(product, producer, batch)

    async def shared(self, product_key: str, producer_id: str, batch_id: str) -> Shared:
        cache_s, stale_s, wait_s = self.cache_s, self.stale_s, self.wait_s
        product, producer, batch = await asyncio.gather(
            self.memory.get(
                ("product", product_key), lambda: self._product(product_key),
                ttl_s=cache_s, stale_s=stale_s, wait_s=wait_s, weigh=_product_weight,
            ),
            self.memory.get(
                ("producer", producer_id), lambda: self._producer(producer_id),
                ttl_s=cache_s, stale_s=stale_s, wait_s=wait_s, weigh=lambda _: Weights.PRODUCER,
            ),
            self.memory.get(
                ("batch", batch_id), lambda: self._batch(batch_id),
                ttl_s=cache_s, stale_s=stale_s, wait_s=wait_s, weigh=_batch_weight,
            ),
        )  # fmt: skip
        held: tuple[Held[Any], ...] = (product, producer, batch)
        return Shared(product, producer, batch, not all(map(self.memory.fresh, held)))

    def recorded(self, label: SignedLabel) -> bool:
        """Whether the held chain of the label's batch names this exact label. Only what is
        in memory is consulted: a code is never a reason to read before it is authentic."""
        held = self.memory.peek(("batch", label.batch.batch_id))
        batch: BatchFacts | None = held.value if held is not None else None
        if batch is None:
            return False
        digest = batch.digests.get(label.serial)
        return digest is not None and hmac.compare_digest(digest, label.digest)

    async def _product(self, product_key: str) -> ProductFacts:
        product, stored = await asyncio.gather(
            self.records.product(product_key), self.records.certifications(product_key)
        )
        return ProductFacts(product, views.product_out(product) if product else None, stored)

    async def _producer(self, producer_id: str) -> ProducerOut | None:
        producer = await self.records.producer(producer_id)
        return views.producer_out(producer) if producer else None

    async def _batch(self, batch_id: str) -> BatchFacts | None:
        state = await self.records.batch(batch_id)
        if state is None:
            return None

        async def load() -> ChainFacts:
            records = await self.records.chain(batch_id)
            return read_chain(records, index_up_to=self.index_serials)

        chain = await self.memory.get(
            ("chain", batch_id, state.head_seq, state.head_hash),
            load,
            ttl_s=float("inf"),  # fixed by its head
            weigh=_chain_weight,
        )
        facts = chain.value
        return BatchFacts(state, views.batch_out(state, facts.steps), facts.packed, facts.digests)


def _product_weight(facts: ProductFacts) -> int:
    return Weights.PRODUCT + Weights.CERTIFICATION * len(facts.certifications)


def _batch_weight(facts: BatchFacts | None) -> int:
    return Weights.BATCH + (Weights.STORY_STEP * len(facts.view.story) if facts else 0)


def _chain_weight(chain: ChainFacts) -> int:
    return (
        Weights.BATCH
        + Weights.STORY_STEP * len(chain.steps)
        + Weights.PACKED_SERIAL * len(chain.packed)
    )
