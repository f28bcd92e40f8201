"""Counterfeit detection as pure functions: a consumer's scan, the unit's recent scans and
what the records say about the unit in; the alerts it raises out.

Only consumers' scans of validly signed codes are analysed here. Inspectors' own scans are
kept apart (an inspector checking a shop must not make its goods look copied), and forged
codes are already answered as counterfeit by the verify API itself.

Everything a consumer's scan says (its device id, its place) is the client's word: one
client can send any cookie, header and province it likes. What tells independent clients
apart is the network the request came from (`SeenScan.client`, keyed by the API), so the
copy checks count clients, not device ids, and never compare a client with itself. A copy
finding is CORROBORATED when at least `min_clients` independent clients took part and it
still holds with any one client's scans taken away: then no single client, whatever it
sends, made it. Only corroborated findings are shown to consumers; inspectors see them all.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.alerts import AlertKind
from contract.certification import NEVER_CERTIFIED, Standing
from contract.claims import judge_claim
from contract.label import vietnam_date
from contract.verdict import Reason
from records.rows import BatchState
from stream_processors.places import Place, place_of
from stream_processors.places import least_distance_km as _least_distance_km


@dataclass(frozen=True)
class Thresholds:
    """Settings with documented defaults (see stream_processors.settings)."""

    max_speed_kmh: float = 250.0
    """Faster than road or rail with transfers; a flight plus airport time averages less."""
    travel_window: timedelta = timedelta(days=3)
    max_devices: int = 5
    """A unit is scanned in the shop, at home, by a neighbour; more independent clients than
    this is a copy (the kind keeps its stored name, too_many_devices)."""
    device_window: timedelta = timedelta(days=30)
    delivery_km: float = 150.0
    """How far (beyond the places' slack) from the delivery province a scan may be."""
    min_clients: int = 3
    """Independent clients a copy finding must rest on to be corroborated. One client is one
    word; two are one word against another, and either may be the liar; three is the fewest
    where the finding can survive losing any one of them (two far-apart places need two
    clients on one side, or three places). More would keep a real copy sold where few people
    scan from consumers for longer; inspectors see every finding at once either way."""
    count_window: timedelta = timedelta(hours=1)
    """A client's consumer scans of a unit count once per this window in the scan totals
    shown to everyone ("scanned N times"): reloading a page is not another scan."""

    @property
    def window(self) -> timedelta:
        return max(self.travel_window, self.device_window)


COPY_KINDS = frozenset(
    {AlertKind.IMPOSSIBLE_TRAVEL, AlertKind.TOO_MANY_DEVICES, AlertKind.OUTSIDE_DELIVERY_PROVINCE}
)
"""The findings that rest on what consumers' scans say, and so can be corroborated."""

UNKNOWN_CLIENT = "unknown"
"""The one client all scans recorded without a client stand for (fail closed: together they
are one client, never many)."""

CLIENT_SCANS_KEPT = 8
"""A client's latest scans the window keeps: one client cannot crowd the others out."""
WINDOW_KEPT = 256
"""Scans the window keeps in all, the newest: bounds the pairwise travel check."""


@dataclass(frozen=True)
class SeenScan:
    """What the window remembers of one consumer scan of a unit."""

    event_id: str
    at: datetime
    device: str | None
    """The device id the client sent: its word, kept for inspectors, never counted."""
    place: Place | None
    client: str | None
    """The keyed hash of the network it came from; None for a scan recorded before clients
    were (all of those are one client, UNKNOWN_CLIENT)."""

    @property
    def client_key(self) -> str:
        return client_key(self.client)


def client_key(client: str | None) -> str:
    """The independent client a scan counts as."""
    return client or UNKNOWN_CLIENT


@dataclass(frozen=True)
class UnitFacts:
    """What the records say about the scanned unit, read before detection."""

    packed: bool
    printed_stars: int
    batch: BatchState | None
    standing: Standing | None
    """The producer's certifications of the product at the scan."""
    delivery: Place | None
    """The province the batch was received in for sale, if known."""


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    detail: str
    clients: int = 1
    """The independent clients it rests on (the records' findings: the one that scanned)."""
    corroborated: bool = False
    """A copy finding that at least `min_clients` clients took part in and that still holds
    without any one of them; never true of the records' findings."""


def detect(
    scan: SeenScan, recent: list[SeenScan], facts: UnitFacts, limits: Thresholds
) -> list[Finding]:
    if not facts.packed:
        return [Finding(AlertKind.NEVER_PACKED, "a validly signed code with no packed unit")]
    return [
        *_travel(scan, recent, limits),
        *_devices(scan, recent, limits),
        *_delivery(scan, recent, facts.delivery, limits),
        *_records(scan, facts),
    ]


def remember(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[SeenScan]:
    """The window after `scan`: scans older than every check's window are dropped, and of
    the rest each client's latest CLIENT_SCANS_KEPT and the newest WINDOW_KEPT are kept."""
    horizon = scan.at - limits.window
    kept = [seen for seen in recent if seen.at >= horizon and seen.event_id != scan.event_id]
    newest_first = sorted([*kept, scan], key=lambda seen: seen.at, reverse=True)
    per_client: dict[str, int] = {}
    window = []
    for seen in newest_first:
        held = per_client.get(seen.client_key, 0)
        if held < CLIENT_SCANS_KEPT:
            per_client[seen.client_key] = held + 1
            window.append(seen)
    return window[:WINDOW_KEPT][::-1]


def corroborated(
    clients: Iterable[str], holds_without: Callable[[str], bool], limits: Thresholds
) -> bool:
    """At least `min_clients` independent clients took part, and the finding still holds
    with any one client's scans taken away."""
    taking_part = set(clients)
    return len(taking_part) >= limits.min_clients and all(map(holds_without, taking_part))


def _too_fast(km: float, gap: timedelta, limits: Thresholds) -> bool:
    """Two scans `km` apart at least and `gap` apart in time: no one unit travels that."""
    hours = max(abs(gap.total_seconds()) / 3600, 1 / 60)
    return km > 0 and gap <= limits.travel_window and km / hours > limits.max_speed_kmh


def _travel(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[Finding]:
    """Raised when this scan and an earlier one of ANOTHER client are too far apart for the
    time between (one client claiming two places is no evidence); it rests on every pair of
    such scans in the travel window around this one."""
    if scan.place is None:
        return []
    window = [
        seen
        for seen in recent
        if seen.place is not None and abs(scan.at - seen.at) <= limits.travel_window
    ]
    trigger = next(
        (
            earlier
            for earlier in window
            if earlier.client_key != scan.client_key
            and _too_fast(_km(scan, earlier), scan.at - earlier.at, limits)
        ),
        None,
    )
    if trigger is None or trigger.place is None:
        return []
    pairs = _impossible_pairs([*window, scan], limits)
    clients: set[str] = set().union(*pairs)
    hours = max(abs((scan.at - trigger.at).total_seconds()) / 3600, 1 / 60)
    return [
        Finding(
            AlertKind.IMPOSSIBLE_TRAVEL,
            f"scanned in {_where(trigger.place)} at {trigger.at:%Y-%m-%d %H:%M} UTC and in "
            f"{_where(scan.place)} at {scan.at:%Y-%m-%d %H:%M} UTC: at least "
            f"{_km(scan, trigger):.0f} km in {hours * 60:.0f} min; {len(clients)} independent "
            f"clients in impossible pairs within {_span(limits.travel_window)}",
            clients=len(clients),
            corroborated=corroborated(
                clients, lambda gone: any(gone not in pair for pair in pairs), limits
            ),
        )
    ]


def _km(a: SeenScan, b: SeenScan) -> float:
    assert a.place is not None  # only scans with a place are compared
    assert b.place is not None
    return least_distance_km(a.place, b.place)


def _impossible_pairs(scans: list[SeenScan], limits: Thresholds) -> set[frozenset[str]]:
    """The pairs of different clients with a scan each that no one unit could have made.

    Scans are grouped by client and place first (a client mostly scans from one place), so
    the distances are computed once per pair of groups and the times compared by bisection.
    """
    groups: dict[tuple[str, Place], list[datetime]] = {}
    for seen in scans:
        if seen.place is not None:
            groups.setdefault((seen.client_key, seen.place), []).append(seen.at)
    keyed = [(client, place, sorted(times)) for (client, place), times in groups.items()]
    pairs: set[frozenset[str]] = set()
    for i, (client_a, place_a, times_a) in enumerate(keyed):
        for client_b, place_b, times_b in keyed[i + 1 :]:
            pair = frozenset((client_a, client_b))
            if client_a == client_b or pair in pairs:
                continue
            km = least_distance_km(place_a, place_b)
            if km > 0 and _too_fast(km, _closest(times_a, times_b), limits):
                pairs.add(pair)
    return pairs


def _closest(times_a: list[datetime], times_b: list[datetime]) -> timedelta:
    """The smallest gap between a time of one sorted list and a time of the other."""
    best: timedelta | None = None
    for at in times_a:
        i = bisect.bisect_left(times_b, at)
        for other in times_b[max(i - 1, 0) : i + 1]:
            gap = abs(at - other)
            best = gap if best is None else min(best, gap)
    assert best is not None  # groups are never empty
    return best


def _devices(scan: SeenScan, recent: list[SeenScan], limits: Thresholds) -> list[Finding]:
    """Independent clients, not device ids: one client can send a new cookie every time."""
    horizon = scan.at - limits.device_window
    clients = {seen.client_key for seen in recent if seen.at >= horizon} | {scan.client_key}
    if len(clients) > limits.max_devices:
        return [
            Finding(
                AlertKind.TOO_MANY_DEVICES,
                f"{len(clients)} independent clients in {_span(limits.device_window)} "
                f"(more than {limits.max_devices})",
                clients=len(clients),
                corroborated=corroborated(
                    clients, lambda _gone: len(clients) - 1 > limits.max_devices, limits
                ),
            )
        ]
    return []


def _records(scan: SeenScan, facts: UnitFacts) -> list[Finding]:
    found = []
    batch = facts.batch
    if batch is not None and batch.status == "recalled":
        when = f" on {batch.recalled_at:%Y-%m-%d}" if batch.recalled_at else ""
        found.append(
            Finding(AlertKind.RECALLED_BATCH, f"batch {batch.batch_id} was recalled{when}")
        )
    if batch is not None and vietnam_date(scan.at) > batch.expiry_date:
        found.append(Finding(AlertKind.PAST_EXPIRY, f"expired on {batch.expiry_date:%Y-%m-%d}"))
    found.extend(_stars(facts))
    return found


def _delivery(
    scan: SeenScan, recent: list[SeenScan], delivery: Place | None, limits: Thresholds
) -> list[Finding]:
    """Raised by this scan far from the delivery province; it rests on every client that
    scanned the unit that far away in the device window (one may have carried it home)."""
    if delivery is None or scan.place is None:
        return []
    km = least_distance_km(scan.place, delivery)
    if km <= limits.delivery_km:
        return []
    horizon = scan.at - limits.device_window
    far = {
        seen.client_key
        for seen in [*recent, scan]
        if seen.at >= horizon
        and seen.place is not None
        and least_distance_km(seen.place, delivery) > limits.delivery_km
    }
    return [
        Finding(
            AlertKind.OUTSIDE_DELIVERY_PROVINCE,
            f"delivered for sale in {_where(delivery)}, scanned in {_where(scan.place)}, at "
            f"least {km:.0f} km away; {len(far)} independent clients scanned it that far "
            f"within {_span(limits.device_window)}",
            clients=len(far),
            corroborated=corroborated(far, lambda gone: bool(far - {gone}), limits),
        )
    ]


def _stars(facts: UnitFacts) -> list[Finding]:
    """The label's star claim now, by the one judgement every verifier makes."""
    claim = judge_claim(facts.printed_stars, facts.standing or NEVER_CERTIFIED)
    if claim.holds:
        return []
    lapsed = claim.reason in (Reason.CERTIFICATION_EXPIRED, Reason.CERTIFICATION_REVOKED)
    kind = AlertKind.RATING_LAPSED if lapsed else AlertKind.STARS_EXCEED_RATING
    return [Finding(kind, f"{claim.reason}: {claim.detail}")]


@functools.lru_cache(maxsize=4096)
def least_distance_km(a: Place, b: Place) -> float:
    """stream_processors.places.least_distance_km, remembered: a unit's window compares the
    same few places (mostly provinces' centroids) on every scan."""
    return _least_distance_km(a, b)


@functools.lru_cache(maxsize=1024)
def province_place(province: str) -> Place | None:
    """The place of a scan that offers a province and no coordinates (place_of, remembered:
    naming a province folds the text's diacritics, on every scan)."""
    return place_of(province, None)


def _span(window: timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{window.total_seconds() / 3600:g} h"


def _where(place: Place) -> str:
    return place.province or f"({place.latitude:.2f}, {place.longitude:.2f})"
