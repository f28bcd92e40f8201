"""Counterfeit detection without servers: each alert kind, and the near miss that must not."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contract.alerts import AlertKind
from contract.certification import CertificationState, CertificationStatus, Standing
from contract.events import Location, LocationSource
from keys import certs
from records.rows import BatchState
from stream_processors.detect import (
    CLIENT_SCANS_KEPT,
    WINDOW_KEPT,
    SeenScan,
    Thresholds,
    UnitFacts,
    detect,
    remember,
)
from stream_processors.places import least_distance_km, place_of, province_name
from tests.world import World

T0 = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
LIMITS = Thresholds()


def scan(
    n: int,
    minutes: float,
    province: str | None = "Thái Bình",
    device: str | None = None,
    location: Location | None = None,
    client: str | None = "",
) -> SeenScan:
    """Scan n, by default from client n with device n (`client=None`: recorded without one)."""
    return SeenScan(f"e{n}", T0 + timedelta(minutes=minutes), device or f"{n:064x}",
                    place_of(province, location),
                    f"c{n}" if client == "" else client)  # fmt: skip


def batch(**changes) -> BatchState:
    fields: dict[str, Any] = dict(
        batch_id="/01/08931234567897/10/L1", product_key="/01/08931234567897", producer_id="P",
        lot="L1", production_date=date(2025, 5, 1), expiry_date=date(2025, 12, 31),
        raw_materials="[]", planned_units=None, units_packed=10, status="received",
        recalled_at=None, recall_reason=None, received_province=None, head_seq=4,
        head_hash=bytes(32),
    )  # fmt: skip
    return BatchState(**(fields | changes))


def facts(
    world: World,
    printed: int = 4,
    rating: CertificationState | None = None,
    delivery: str | None = None,
    **batch_changes,
) -> UnitFacts:
    state = rating or CertificationState(CertificationStatus.IN_FORCE, world.certifications[0].body)
    standing = Standing(state, state.certification.stars if state.certification else 0)
    return UnitFacts(True, printed, batch(**batch_changes), standing,
                     place_of(delivery, None))  # fmt: skip


def kinds(findings) -> set[AlertKind]:
    return {finding.kind for finding in findings}


def travel(findings) -> tuple[int, bool] | None:
    """The impossible travel finding's clients and corroboration, if there is one."""
    found = [(f.clients, f.corroborated) for f in findings if f.kind is AlertKind.IMPOSSIBLE_TRAVEL]
    return found[0] if found else None


def test_province_names_are_recognised_loosely():
    assert province_name("tỉnh Thái Bình") == "Thái Bình"
    assert province_name("THAI BINH") == "Thái Bình"
    assert province_name("TP. Hồ Chí Minh") == province_name("HCM") == "Hồ Chí Minh"
    assert province_name("Atlantis") is None


def test_impossible_travel_between_far_provinces(world):
    far = detect(scan(2, 60, "Hồ Chí Minh"), [scan(1, 0)], facts(world), LIMITS)
    assert kinds(far) == {AlertKind.IMPOSSIBLE_TRAVEL}
    assert "Thái Bình" in far[0].detail
    assert "Hồ Chí Minh" in far[0].detail


def test_near_miss_a_short_hop_to_a_neighbouring_province(world):
    assert detect(scan(2, 20, "Nam Định"), [scan(1, 0)], facts(world), LIMITS) == []


def test_near_miss_the_same_far_trip_over_two_days_is_a_journey(world):
    assert detect(scan(2, 2 * 24 * 60, "Hồ Chí Minh"), [scan(1, 0)], facts(world), LIMITS) == []


def test_an_ip_based_place_gets_a_wide_margin(world):
    # Hà Nội by IP and Thái Bình by province 5 minutes apart: within the slack, no alert
    hanoi_by_ip = Location(latitude_e6=21_030_000, longitude_e6=105_850_000, accuracy_m=5_000,
                           source=LocationSource.IP)  # fmt: skip
    near = scan(2, 5, None, location=hanoi_by_ip)
    assert detect(near, [scan(1, 0)], facts(world), LIMITS) == []
    there = scan(1, 0).place
    assert near.place is not None
    assert there is not None
    assert least_distance_km(near.place, there) == 0


def test_too_many_devices(world):
    recent = [scan(n, n) for n in range(5)]
    [found] = detect(scan(9, 10), recent, facts(world), LIMITS)
    assert (found.kind, found.clients, found.corroborated) == (AlertKind.TOO_MANY_DEVICES, 6, False)
    assert "6 independent clients in 30 days" in found.detail


def test_near_miss_the_same_phone_again_and_again(world):
    recent = [scan(n, n, device="aa" * 32, client="phone") for n in range(10)]
    assert detect(scan(11, 11, device="aa" * 32, client="phone"), recent, facts(world),
                  LIMITS) == []  # fmt: skip


def test_one_client_with_seven_device_ids_is_one_client(world):
    """A page viewed seven times without its cookie: seven device ids, one network."""
    recent = [scan(n, n, client="one") for n in range(6)]
    assert {s.device for s in recent} == {f"{n:064x}" for n in range(6)}
    assert detect(scan(6, 6, client="one"), recent, facts(world), LIMITS) == []


def test_seven_independent_clients_are_corroborated(world):
    recent = [scan(n, n) for n in range(6)]
    [found] = detect(scan(6, 6), recent, facts(world), LIMITS)
    assert (found.kind, found.clients, found.corroborated) == (AlertKind.TOO_MANY_DEVICES, 7, True)


def test_scans_recorded_without_a_client_are_one_client_together(world):
    recent = [scan(n, n, client=None) for n in range(9)]
    assert detect(scan(9, 9, client=None), recent, facts(world), LIMITS) == []


def test_one_client_claiming_two_far_provinces_is_no_travel(world):
    """`?province=Hà Nội` then `?province=Cà Mau` from one network: its word against itself."""
    earlier = scan(1, 0, "Hà Nội", client="one")
    assert detect(scan(2, 1, "Cà Mau", client="one"), [earlier], facts(world), LIMITS) == []


def test_two_clients_far_apart_raise_travel_but_do_not_corroborate_it(world):
    [found] = detect(scan(2, 1, "Cà Mau"), [scan(1, 0, "Hà Nội")], facts(world), LIMITS)
    assert (found.kind, found.clients, found.corroborated) == (
        AlertKind.IMPOSSIBLE_TRAVEL,
        2,
        False,
    )
    assert "2 independent clients" in found.detail


def test_one_stranger_against_five_honest_shoppers_is_not_corroborated(world):
    """Six clients took part, but every impossible pair has the stranger in it."""
    honest = [scan(n, n * 10, "Hà Nội") for n in range(5)]
    stranger = scan(9, 45, "Cà Mau")
    assert travel(detect(stranger, honest, facts(world), LIMITS)) == (6, False)
    # an honest scan after the stranger's meets the same: still only the stranger's word
    later = detect(scan(5, 50, "Hà Nội"), [*honest, stranger], facts(world), LIMITS)
    assert travel(later) == (7, False)


def test_several_clients_in_each_of_two_far_places_are_corroborated(world):
    recent = [scan(1, 0, "Hà Nội"), scan(2, 5, "Hà Nội"), scan(3, 10, "Cà Mau")]
    [found] = detect(scan(4, 15, "Cà Mau"), recent, facts(world), LIMITS)
    assert (found.kind, found.clients, found.corroborated) == (AlertKind.IMPOSSIBLE_TRAVEL, 4, True)


def test_three_far_apart_places_one_client_each_are_corroborated(world):
    recent = [scan(1, 0, "Hà Nội"), scan(2, 5, "Đà Nẵng")]
    [found] = detect(scan(3, 10, "Cà Mau"), recent, facts(world), LIMITS)
    assert (found.clients, found.corroborated) == (3, True)


def test_corroboration_needs_min_clients(world):
    recent = [scan(1, 0, "Hà Nội"), scan(2, 5, "Đà Nẵng")]
    stricter = replace(LIMITS, min_clients=4)
    [found] = detect(scan(3, 10, "Cà Mau"), recent, facts(world), stricter)
    assert (found.clients, found.corroborated) == (3, False)


def test_a_client_claiming_every_place_cannot_corroborate_travel(world):
    """One network sending a scan from each of many provinces, against one honest shopper."""
    places = ["Cà Mau", "Đà Nẵng", "Lào Cai", "Hồ Chí Minh", "Huế"]
    liar = [scan(n, n, place, client="liar") for n, place in enumerate(places)]
    found = detect(scan(9, 9, "Hà Nội"), liar, facts(world), LIMITS)
    assert [(f.kind, f.clients, f.corroborated) for f in found] == [
        (AlertKind.IMPOSSIBLE_TRAVEL, 2, False)
    ]


def test_never_packed(world):
    unpacked = UnitFacts(False, 0, None, None, None)
    assert kinds(detect(scan(1, 0), [], unpacked, LIMITS)) == {AlertKind.NEVER_PACKED}


def test_recalled_batch_and_past_expiry(world):
    recalled = facts(world, status="recalled", recalled_at=T0 - timedelta(days=1))
    assert kinds(detect(scan(1, 0), [], recalled, LIMITS)) == {AlertKind.RECALLED_BATCH}
    expired = facts(world, expiry_date=date(2025, 5, 31))
    assert kinds(detect(scan(1, 0), [], expired, LIMITS)) == {AlertKind.PAST_EXPIRY}
    # near miss: expiring today is not past expiry (Vietnam date of the scan)
    assert detect(scan(1, 0), [], facts(world, expiry_date=date(2025, 6, 1)), LIMITS) == []


def test_outside_the_delivery_province(world):
    delivered = facts(world, delivery="Thái Bình")
    [far] = detect(scan(1, 0, "Đà Nẵng"), [], delivered, LIMITS)
    assert (far.kind, far.clients, far.corroborated) == (
        AlertKind.OUTSIDE_DELIVERY_PROVINCE, 1, False,
    )  # fmt: skip
    # near miss: carried home to the neighbouring province
    assert detect(scan(1, 0, "Hưng Yên"), [], delivered, LIMITS) == []


def test_outside_the_delivery_province_by_independent_clients_is_corroborated(world):
    delivered = facts(world, delivery="Thái Bình")
    # one client claiming to be far away again and again: one client
    alone = [scan(n, n * 100, "Cà Mau", client="one") for n in range(5)]
    [found] = detect(scan(5, 600, "Đà Nẵng", client="one"), alone, delivered, LIMITS)
    assert (found.clients, found.corroborated) == (1, False)
    # three shoppers in Đà Nẵng, days apart (no travel), one more at home
    sold_there = [scan(1, 0, "Đà Nẵng"), scan(2, 2000, "Thái Bình"), scan(3, 4000, "Đà Nẵng")]
    [found] = detect(scan(4, 6000, "Đà Nẵng"), sold_there, delivered, LIMITS)
    assert (found.kind, found.clients, found.corroborated) == (
        AlertKind.OUTSIDE_DELIVERY_PROVINCE, 3, True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("printed", "status", "stars", "expected"),
    [
        (5, CertificationStatus.IN_FORCE, 4, {AlertKind.STARS_EXCEED_RATING}),
        (4, CertificationStatus.REVOKED, 4, {AlertKind.RATING_LAPSED}),
        (4, CertificationStatus.EXPIRED, 4, {AlertKind.RATING_LAPSED}),
        (4, CertificationStatus.IN_FORCE, 4, set()),  # near miss: as printed
        (3, CertificationStatus.IN_FORCE, 4, set()),  # near miss: upgraded since
        (0, CertificationStatus.REVOKED, 4, set()),  # near miss: no star claim printed
    ],
)
def test_printed_stars_against_the_current_rating(world, printed, status, stars, expected):
    award = world.certifications[0].body.model_copy(update={"stars": stars})
    revocation = None
    if status is CertificationStatus.REVOKED:
        revocation = certs.revoke_certification(
            world.provincial, award, decision_no="47/QĐ-UBND", reason="vi phạm chất lượng",
            effective_at=T0 - timedelta(days=1), now=T0 - timedelta(days=1),
        ).body  # fmt: skip
    state = CertificationState(status, award, revocation)
    found = detect(scan(1, 0), [], facts(world, printed, state), LIMITS)
    assert kinds(found) == expected


def test_the_window_forgets_old_scans_and_keeps_one_copy_of_each():
    old = scan(1, -LIMITS.window.total_seconds() / 60 - 1)
    kept = remember(scan(3, 5), [old, scan(2, 0), scan(3, 5)], LIMITS)
    assert [s.event_id for s in kept] == ["e2", "e3"]


def test_one_client_cannot_crowd_the_others_out_of_the_window():
    honest = [scan(n, n) for n in range(3)]
    window = honest
    for n in range(10, 500):
        window = remember(scan(n, n, client="flood"), window, LIMITS)
    assert window[:3] == honest
    assert [s.event_id for s in window[3:]] == [f"e{n}" for n in range(492, 500)]
    assert len(window) == 3 + CLIENT_SCANS_KEPT


def test_the_pairwise_check_stays_quick_on_a_full_window(world):
    """WINDOW_KEPT scans of as many clients in two far places: the worst case per scan."""
    window = [scan(n, n / 10, "Hà Nội" if n % 2 else "Cà Mau") for n in range(WINDOW_KEPT)]
    started = time.perf_counter()
    found = detect(scan(9999, 30, "Cà Mau"), window, facts(world), LIMITS)
    assert travel(found) == (WINDOW_KEPT + 1, True)
    assert time.perf_counter() - started < 2.0
