"""A small time-bounded cache for facts that many scans share (a product, a batch's story).

A hot product is scanned by thousands of phones a minute; reading its certifications once
per scan would spend Cassandra on the same answer. Each entry lives `ttl_s` seconds, so a
revocation or recall shows that much later at most; the oldest entries go first when the
cache is full (by count, and by weight when entries differ in size, like the packed serials
of batches). Concurrent misses of one key share one load: fifty phones arriving together
after an entry expired cause one read (and one decoding of a long chain), not fifty.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Miss(enum.Enum):
    MISS = "miss"


MISS = Miss.MISS
"""What `peek` returns for a key not held (a cached value may itself be None)."""


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 10_000,
        weigh: Callable[[V], int] = lambda _: 1,
        max_weight: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.weigh = weigh
        self.max_weight = max_weight
        self.weight = 0
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V, int]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V]] = {}

    def peek(self, key: K) -> V | Miss:
        """The value if held and fresh, without awaiting: most scans find everything cached,
        and an await per cached fact would cost them a task each."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return MISS

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if self.ttl_s <= 0:
            return await load()
        while True:
            hit = self.peek(key)
            if not isinstance(hit, Miss):
                return hit
            pending = self._loading.get(key)
            if pending is None:
                return await self._load(key, load)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this waiter was cancelled, not the load
                # the loading request was cancelled: try again, loading if need be

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        pending = self._loading[key] = asyncio.get_running_loop().create_future()
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
        pending.set_result(value)
        weight = self.weigh(value)
        replaced = self._entries.pop(key, None)
        self.weight += weight - (replaced[2] if replaced else 0)
        self._entries[key] = (self._clock() + self.ttl_s, value, weight)
        while len(self._entries) > self.max_entries or self.weight > self.max_weight:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.weight -= dropped
        return value
