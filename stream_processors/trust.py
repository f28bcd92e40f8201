"""The newest trust list the processors have seen, shared by every agent of a worker.

Trust lists arrive on their own topic and are kept in Cassandra. An agent that meets a key
the list it holds does not know asks for a refresh before refusing: the list naming a new
producer key may have been stored a moment earlier by another worker. A version older than
the one held is never taken (no rollback to a list that predates a revocation).
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.errors import TrustListError
from keys.trustlist import TrustList
from records.store import RecordReader

log = logging.getLogger(__name__)


class TrustHolder:
    def __init__(self, reader: RecordReader, root_public_key: Ed25519PublicKey) -> None:
        self._reader = reader
        self._root = root_public_key
        self._current: TrustList | None = None

    @property
    def current(self) -> TrustList | None:
        return self._current

    def load(self, document: bytes) -> TrustList:
        """Verify a trust list against the root; raises TrustListError."""
        return TrustList.load(document, root_public_key=self._root)

    def offer(self, trust: TrustList) -> bool:
        """Hold `trust` if it is newer than what is held; True if it was taken."""
        if self._current is not None and trust.version <= self._current.version:
            return False
        self._current = trust
        return True

    async def refresh(self) -> TrustList | None:
        """Take the newest stored list, if it is newer than the one held."""
        document = await self._reader.latest_trust_list()
        if document is not None:
            try:
                self.offer(self.load(document))
            except TrustListError as exc:  # only verified lists are stored: keep what is held
                log.error("the stored trust list does not verify: %s", exc)
        return self._current
