"""The trust list the API judges labels with: the newest one in Cassandra, checked against
the pinned root key, reloaded every few seconds.

Only the root's signature makes a list trusted; Cassandra is just where it is fetched from,
so a stored list that does not verify is refused and the one held is kept. A version older
than the one held is never taken (no rollback to a list from before a revocation). Re-reading
the same bytes does not re-verify them: a list with thousands of certificates takes a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.errors import TrustListError
from keys.trustlist import TrustList

log = logging.getLogger(__name__)

FORCED_REFRESH_INTERVAL_S = 1.0
"""How often a label naming an unknown key may make the API look for a newer list: a flood
of forged codes must not become a flood of reads."""


class TrustListSource(Protocol):
    async def latest_trust_list(self) -> bytes | None: ...


class NoTrustList(Exception):
    """No verified trust list is available: the API cannot judge labels yet."""


@dataclass(frozen=True)
class HeldTrustList:
    trust: TrustList
    document: bytes
    """The root-signed bytes, served as they are to offline verifiers."""
    etag: str


class TrustCache:
    def __init__(
        self,
        source: TrustListSource,
        root_public_key: Ed25519PublicKey,
        *,
        ttl_s: float,
        wait_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._root = root_public_key
        self._ttl_s = ttl_s
        self._clock = clock
        self._held: HeldTrustList | None = None
        self._checked_at = float("-inf")
        self._forced_at = float("-inf")
        self._lock = asyncio.Lock()
        self._wait_s = wait_s
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def held(self) -> HeldTrustList | None:
        return self._held

    async def get(self) -> HeldTrustList:
        """The list to judge with; raises NoTrustList if none was ever loaded.

        A due refresh is shared by every request that finds it due. While a list is held,
        a request waits for the refresh at most `wait_s` and then judges with the held one:
        a stalled Cassandra must not hold up every scan behind the trust list's reload (the
        refresh goes on, and its result is used once it comes)."""
        if self._due():
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh(force=False))
            refreshing = asyncio.shield(self._refreshing)
            if self._held is None:
                await refreshing
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(refreshing, self._wait_s)
        if self._held is None:
            raise NoTrustList("no trust list has been published yet")
        return self._held

    async def newer(self) -> HeldTrustList | None:
        """A newer list than the one held, if there is one and looking is allowed now."""
        now = self._clock()
        if now - self._forced_at < FORCED_REFRESH_INTERVAL_S:
            return None
        self._forced_at = now
        before = self._held
        await self._refresh(force=True)
        held = self._held
        if held is None or (before is not None and held.trust.version <= before.trust.version):
            return None
        return held

    def _due(self) -> bool:
        return self._clock() - self._checked_at >= self._ttl_s

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not (force or self._due()):  # another request refreshed while this one waited
                return
            self._checked_at = self._clock()
            try:
                document = await self._source.latest_trust_list()
            except Exception:
                if self._held is None:
                    raise
                log.warning(
                    "cannot read the trust list; keeping version %d", self._held.trust.version
                )
                return
            if document is None or (self._held is not None and document == self._held.document):
                return
            try:
                trust = TrustList.load(document, root_public_key=self._root)
            except TrustListError as exc:
                log.error("the stored trust list does not verify: %s", exc)
                return
            if self._held is not None and trust.version < self._held.trust.version:
                log.error(
                    "refusing trust list version %d: version %d is held",
                    trust.version,
                    self._held.trust.version,
                )
                return
            etag = f'"{trust.version}-{hashlib.sha256(document).hexdigest()[:16]}"'
            self._held = HeldTrustList(trust, document, etag)
