"""Counterfeit detection without servers: each alert kind, and the near miss that must not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contract.alerts import AlertKind
from contract.certification import CertificationState, CertificationStatus
from contract.events import Location, LocationSource
from records.rows import BatchState
from stream_processors.detect import SeenScan, Thresholds, UnitFacts, detect, remember
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
) -> SeenScan:
    return SeenScan(f"e{n}", T0 + timedelta(minutes=minutes), device or f"{n:064x}",
                    place_of(province, location))  # fmt: skip


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
    in_force = CertificationState(CertificationStatus.IN_FORCE, world.certifications[0].body)
    return UnitFacts(True, printed, batch(**batch_changes), rating or in_force,
                     place_of(delivery, None))  # fmt: skip


def kinds(findings) -> set[AlertKind]:
    return {finding.kind for finding in findings}


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
    assert kinds(detect(scan(9, 10), recent, facts(world), LIMITS)) == {AlertKind.TOO_MANY_DEVICES}


def test_near_miss_the_same_phone_again_and_again(world):
    recent = [scan(n, n, device="aa" * 32) for n in range(10)]
    assert detect(scan(11, 11, device="aa" * 32), recent, facts(world), LIMITS) == []


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
    far = detect(scan(1, 0, "Đà Nẵng"), [], delivered, LIMITS)
    assert kinds(far) == {AlertKind.OUTSIDE_DELIVERY_PROVINCE}
    # near miss: carried home to the neighbouring province
    assert detect(scan(1, 0, "Hưng Yên"), [], delivered, LIMITS) == []


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
    found = detect(scan(1, 0), [], facts(world, printed, CertificationState(status, award)), LIMITS)
    assert kinds(found) == expected


def test_the_window_forgets_old_scans_and_keeps_one_copy_of_each():
    old = scan(1, -LIMITS.window.total_seconds() / 60 - 1)
    kept = remember(scan(3, 5), [old, scan(2, 0), scan(3, 5)], LIMITS)
    assert [s.event_id for s in kept] == ["e2", "e3"]
