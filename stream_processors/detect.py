"""Counterfeit detection as pure functions: a consumer's scan, the unit's recent scans and
what the records say about the unit in; the alerts it raises out.

Only consumers' scans of validly signed codes are analysed here. Inspectors' own scans are
kept apart (an inspector checking a shop must not make its goods look copied), and forged
codes are already answered as counterfeit by the verify API itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.alerts import AlertKind
from contract.certification import CertificationState, CertificationStatus
from contract.label import vietnam_date
from records.rows import BatchState
from stream_processors.places import Place, least_distance_km


@dataclass(frozen=True)
class Thresholds:
    """Settings with documented defaults (see stream_processors.settings)."""

    max_speed_kmh: float = 250.0
    """Faster than road or rail with transfers; a flight plus airport time averages less."""
    travel_window: timedelta = timedelta(days=3)
    max_devices: int = 5
    """A unit is scanned in the shop, at home, by a neighbour; more phones than this is a copy."""
    device_window: timedelta = timedelta(days=30)
    delivery_km: float = 150.0
    """How far (beyond the places' slack) from the delivery province a scan may be."""

    @property
    def window(self) -> timedelta:
        return max(self.travel_window, self.device_window)


@dataclass(frozen=True)
class SeenScan:
    """What the window remembers of one consumer scan of a unit."""

    event_id: str
    at: datetime
    device: str | None
    place: Place | None


@dataclass(frozen=True)
class UnitFacts:
    """What the records say about the scanned unit, read before detection."""

    packed: bool
    printed_stars: int
    batch: BatchState | None
    rating: CertificationState | None
    delivery: Place | None
    """The province the batch was received in for sale, if known."""


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    detail: str


def detect(
    scan: SeenScan, recent: list[SeenScan], facts: UnitFacts, limits: Thresholds
) -> list[Finding]:
    if not facts.packed:
        return [Finding(AlertKind.NEVER_PACKED, "a validly signed code with no packed unit")]
    return [
        *_travel(scan, recent, limits),
        *_devices(scan, recent, limits),
        *_records(scan, facts, limits),
    ]


def remember(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[SeenScan]:
    """The window after `scan`: scans older than every check's window are dropped."""
    horizon = scan.at - limits.window
    kept = [seen for seen in recent if seen.at >= horizon and seen.event_id != scan.event_id]
    return sorted([*kept, scan], key=lambda seen: seen.at)


def _travel(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[Finding]:
    if scan.place is None:
        return []
    for earlier in recent:
        if earlier.place is None or abs(scan.at - earlier.at) > limits.travel_window:
            continue
        km = least_distance_km(scan.place, earlier.place)
        hours = max(abs((scan.at - earlier.at).total_seconds()) / 3600, 1 / 60)
        if km > 0 and km / hours > limits.max_speed_kmh:
            return [
                Finding(
                    AlertKind.IMPOSSIBLE_TRAVEL,
                    f"scanned in {_where(earlier.place)} at {earlier.at:%Y-%m-%d %H:%M} UTC and in "
                    f"{_where(scan.place)} at {scan.at:%Y-%m-%d %H:%M} UTC: at least {km:.0f} km "
                    f"in {hours * 60:.0f} min",
                )
            ]
    return []


def _devices(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[Finding]:
    horizon = scan.at - limits.device_window
    devices = {seen.device for seen in recent if seen.device and seen.at >= horizon}
    if scan.device:
        devices.add(scan.device)
    if len(devices) > limits.max_devices:
        days = limits.device_window.days
        return [
            Finding(
                AlertKind.TOO_MANY_DEVICES,
                f"{len(devices)} different devices in {days} days (more than {limits.max_devices})",
            )
        ]
    return []


def _records(scan: SeenScan, facts: UnitFacts, limits: Thresholds) -> list[Finding]:
    found = []
    batch = facts.batch
    if batch is not None and batch.status == "recalled":
        when = f" on {batch.recalled_at:%Y-%m-%d}" if batch.recalled_at else ""
        found.append(
            Finding(AlertKind.RECALLED_BATCH, f"batch {batch.batch_id} was recalled{when}")
        )
    if batch is not None and vietnam_date(scan.at) > batch.expiry_date:
        found.append(Finding(AlertKind.PAST_EXPIRY, f"expired on {batch.expiry_date:%Y-%m-%d}"))
    if facts.delivery is not None and scan.place is not None:
        km = least_distance_km(scan.place, facts.delivery)
        if km > limits.delivery_km:
            found.append(
                Finding(
                    AlertKind.OUTSIDE_DELIVERY_PROVINCE,
                    f"delivered for sale in {_where(facts.delivery)}, scanned in "
                    f"{_where(scan.place)}, at least {km:.0f} km away",
                )
            )
    found.extend(_stars(facts))
    return found


def _stars(facts: UnitFacts) -> list[Finding]:
    printed, rating = facts.printed_stars, facts.rating
    if not printed:
        return []
    if rating is None or rating.status is not CertificationStatus.IN_FORCE:
        status = rating.status.value if rating else CertificationStatus.NONE.value
        return [Finding(AlertKind.RATING_LAPSED, f"label shows {printed}★, certification {status}")]
    assert rating.certification is not None  # in force means there is one
    if printed > rating.certification.stars:
        return [
            Finding(
                AlertKind.STARS_EXCEED_RATING,
                f"label shows {printed}★, the product is rated {rating.certification.stars}★ now",
            )
        ]
    return []


def _where(place: Place) -> str:
    return place.province or f"({place.latitude:.2f}, {place.longitude:.2f})"
