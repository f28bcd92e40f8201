"""What the scan processor remembers of each unit, in a Faust table keyed by unit on the scan
topic's partitions, restored from its changelog after a restart or a rebalance.

- The scan totals the verify API shows on every scan (how many, the first and the last).
  The processor owning the unit's partition keeps them here and writes them into the unit's
  one row in Cassandra, so a scan costs the API one read instead of an aggregate over the
  unit's whole scan history. With them, what makes a scan count once: the offset of the
  last scan counted (a unit's scans all arrive on one partition, in order, so a scan replayed
  after a crash is at or below it) and the ids of the last few (a producer's retry can write
  one event twice, at two offsets). A consumer's scans are not authenticated, so they count
  once per independent client and window (`Thresholds.count_window`): the totals everyone
  sees cannot be inflated by one client reloading a page.
- The recent consumer scans analytics compares a new scan with, the alerts it raised and
  which of those it found corroborated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pydantic_core

from records.rows import ScanSummary
from stream_processors.detect import SeenScan
from stream_processors.places import Place

IDS_KEPT = 16
"""Producer retries resend within seconds, when a unit has had a few scans at most."""


@dataclass
class UnitHistory:
    scans: int = 0
    first: datetime | None = None
    last: datetime | None = None
    counted_offset: int = -1
    """The scan topic's offset of the last scan counted."""
    counted_ids: list[str] = field(default_factory=list)
    """Event ids of the last scans counted."""
    recent: list[SeenScan] = field(default_factory=list)
    """Analytics' window: the unit's recent consumer scans."""
    raised: list[str] = field(default_factory=list)
    """Ids of the alerts analytics raised on the unit lately."""
    corroborated: list[str] = field(default_factory=list)
    """Ids of those analytics found corroborated (made copy evidence), so it is done once."""
    counted_clients: dict[str, datetime] = field(default_factory=dict)
    """When each client's consumer scan last counted in the totals, within the window."""

    def count(
        self,
        event_id: str,
        at: datetime,
        offset: int,
        client: str | None = None,
        window: timedelta = timedelta(hours=1),
    ) -> bool:
        """Take the scan read at `offset`; False if it was taken before (a replay).

        `client` is the independent client of an unauthenticated (consumer's) scan, which
        counts in the totals only if none of that client's scans counted within `window` of
        it; None for an authenticated scan (an inspector's), which always counts. A scan that
        does not count leaves the totals as they are, but is remembered as taken.
        """
        if offset <= self.counted_offset or event_id in self.counted_ids:
            return False
        self.counted_offset = offset
        self.counted_ids = [*self.counted_ids, event_id][-IDS_KEPT:]
        if client is not None:
            self.counted_clients = {
                held: when for held, when in self.counted_clients.items() if when > at - window
            }
            last = self.counted_clients.get(client)
            if last is not None and abs(at - last) < window:
                return True
            self.counted_clients[client] = at
        self.scans += 1
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)
        return True

    @property
    def totals(self) -> ScanSummary:
        return ScanSummary(self.scans, self.first, self.last)


HISTORIES_KEPT = 20_000
"""Units whose decoded history a worker keeps beside the table (a few kB each)."""


class HistoryStore(Protocol):
    """Where the encoded histories live: in the worker, the Faust table."""

    def get(self, key: bytes) -> bytes | None: ...

    async def put(self, key: bytes, value: bytes, partition: int) -> None:
        """Store `value`, its changelog record on `partition`: the partition of the scan
        topic the unit's messages come from. Returns once the record is handed to the
        producer (its delivery is what the offset commit waits for)."""


class MemoryHistories:
    """A HistoryStore in a plain mapping (tests; partitions are ignored)."""

    def __init__(self, data: MutableMapping[bytes, bytes] | None = None) -> None:
        self.data: MutableMapping[bytes, bytes] = {} if data is None else data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    async def put(self, key: bytes, value: bytes, partition: int) -> None:
        self.data[key] = value


class Histories:
    """Each unit's history: the store holds it encoded (the source of truth, restored after a
    restart or a rebalance); the worker keeps the decoded form of the units it handled last,
    with the very bytes object it stored. A decoded history is used only while the store
    still holds that object (a restore puts new objects), so it never differs from the store.

    `take` hands a history out and forgets it until `put` brings it back with its new
    encoding: a batch that fails half-way leaves nothing half-changed behind, its retry
    decodes again what the store holds."""

    def __init__(self, store: HistoryStore, kept: int = HISTORIES_KEPT) -> None:
        self.store = store
        self.kept = kept
        self._decoded: OrderedDict[bytes, tuple[bytes, UnitHistory]] = OrderedDict()

    def take(self, key: bytes) -> UnitHistory:
        stored = self.store.get(key)
        held = self._decoded.pop(key, None)
        if held is not None and stored is not None and held[0] is stored:
            return held[1]
        return decode(stored)

    async def put(self, key: bytes, history: UnitHistory, partition: int) -> None:
        encoded = encode(history)
        await self.store.put(key, encoded, partition)
        self._decoded[key] = (encoded, history)
        if len(self._decoded) > self.kept:
            self._decoded.popitem(last=False)


FORMAT = 2
"""The encoding's version, its first element: a JSON array, times in microseconds since the
epoch, each remembered scan an array. Version 1 (a JSON object, times in ISO 8601) is still
read: the changelog of a worker before it restores a unit's history in that form."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLACES: dict[tuple[float, float, float, str | None], Place] = {}
"""Places as decoded, one object per distinct place (few: mostly provinces' centroids)."""
PLACES_KEPT = 4096


def encode(history: UnitHistory) -> bytes:
    """A dense array, written once per unit and micro-batch of its scans (times as integers:
    ISO text cost most of the version 1 encoding's time), as compact JSON with pydantic's
    encoder (a sixth of the standard library's time, the same bytes)."""
    return pydantic_core.to_json(
        [
            FORMAT,
            history.scans,
            _micros(history.first),
            _micros(history.last),
            history.counted_offset,
            history.counted_ids,
            [
                [
                    s.event_id,
                    _us(s.at),
                    s.device,
                    s.client,
                    None
                    if s.place is None
                    else [s.place.latitude, s.place.longitude, s.place.slack_km, s.place.province],
                ]
                for s in history.recent
            ],
            history.raised,
            history.corroborated,
            {client: _us(at) for client, at in history.counted_clients.items()},
        ]
    )


def decode(data: bytes | None) -> UnitHistory:
    if not data:
        return UnitHistory()
    held = pydantic_core.from_json(data)
    if isinstance(held, dict):
        return _decode_version_1(held)
    version, scans, first, last, offset, ids, recent, raised, confirmed, clients = held
    if version != FORMAT:
        raise ValueError(f"a unit history of format {version}, not {FORMAT}")
    return UnitHistory(
        scans=scans,
        first=_instant_us(first),
        last=_instant_us(last),
        counted_offset=offset,
        counted_ids=ids,
        recent=[
            SeenScan(event_id, _at(at), device, None if place is None else _place(*place), client)
            for event_id, at, device, client, place in recent
        ],
        raised=raised,
        corroborated=confirmed,
        counted_clients={client: _at(at) for client, at in clients.items()},
    )


def _us(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _micros(at: datetime | None) -> int | None:
    return None if at is None else _us(at)


def _at(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _instant_us(micros: int | None) -> datetime | None:
    return None if micros is None else _at(micros)


def _place(latitude: float, longitude: float, slack_km: float, province: str | None) -> Place:
    key = (latitude, longitude, slack_km, province)
    place = _PLACES.get(key)
    if place is None:
        if len(_PLACES) >= PLACES_KEPT:
            _PLACES.clear()
        place = _PLACES[key] = Place(latitude, longitude, slack_km, province)
    return place


def _decode_version_1(held: dict[str, Any]) -> UnitHistory:
    return UnitHistory(
        scans=held.get("n", 0),
        first=_instant(held.get("first")),
        last=_instant(held.get("last")),
        counted_offset=held.get("offset", -1),
        counted_ids=held.get("ids", []),
        recent=[
            SeenScan(
                event_id=item["e"],
                at=datetime.fromisoformat(item["t"]),
                device=item["d"],
                place=None if item["p"] is None else Place(*item["p"]),
                client=item.get("c"),  # None: a scan remembered before clients were
            )
            for item in held["scans"]
        ],
        raised=list(held["raised"]),
        corroborated=list(held.get("confirmed", [])),
        counted_clients={
            client: datetime.fromisoformat(at) for client, at in held.get("clients", {}).items()
        },
    )


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
