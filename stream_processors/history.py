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

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


def encode(history: UnitHistory) -> bytes:
    return json.dumps(
        {
            "n": history.scans,
            "first": history.first and history.first.isoformat(),
            "last": history.last and history.last.isoformat(),
            "offset": history.counted_offset,
            "ids": history.counted_ids,
            "scans": [
                {
                    "e": s.event_id,
                    "t": s.at.isoformat(),
                    "d": s.device,
                    "c": s.client,
                    "p": None
                    if s.place is None
                    else [s.place.latitude, s.place.longitude, s.place.slack_km, s.place.province],
                }
                for s in history.recent
            ],
            "raised": history.raised,
            "confirmed": history.corroborated,
            "clients": {client: at.isoformat() for client, at in history.counted_clients.items()},
        },
        ensure_ascii=False,
    ).encode("utf-8")


def decode(data: bytes | None) -> UnitHistory:
    if not data:
        return UnitHistory()
    held = json.loads(data)
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
