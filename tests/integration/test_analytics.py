"""Counterfeit analytics on the real stack: one test per alert kind, each with the near miss
that must not alert, a worker restart in the middle of a window, and the copy evidence that
warns consumers: never from one client's word, always from independent clients' (each scan
names its client, as the verify API sets it from the source address), an inspector's
counterfeit finding, and gone when an inspector closes the alert."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from datetime import timedelta

import pytest

from contract import identifiers
from contract.alerts import AlertKind
from contract.encoding import model_bytes
from contract.events import (
    AlertClosed,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    CertificationIssued,
    CertificationRevoked,
    InspectionRecorded,
    InspectionVerdict,
    ScannerKind,
    ScanRecorded,
)
from contract.verdict import Reason
from keys import certs
from records.rows import AlertRow
from tests.integration.pipeline import Pipeline, batch_id, closed, opened, packed, wait_for
from tests.world import NOW, PRODUCER, PRODUCT, World


@pytest.fixture(scope="module")
def pipeline(stack_settings, tmp_path_factory):
    running = Pipeline(stack_settings, tmp_path_factory.mktemp("analytics"), World())
    try:
        running.start_worker()
        running.publish_authority_setup()
        yield running
    finally:
        running.close()


def packed_units(pipeline: Pipeline, lot: str, count: int, *, close: bool = False) -> list[str]:
    units = packed(pipeline.world, count, lot)
    events = [opened(lot), units, *([closed(count, lot)] if close else [])]
    for event in events:
        pipeline.send_signed("batch", pipeline.world.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), len(events))
    return list(units.serials)


ONE_CLIENT = "ee" * 32


def client(n: int) -> str:
    """The n-th independent client (a keyed hash of a source network, as the API sends)."""
    return f"{0xC1E47 + n:064x}"


def scan(
    pipeline: Pipeline,
    lot: str,
    serial: str,
    minutes: float,
    province: str | None,
    device: str = "aa" * 32,
    scanner: ScannerKind = ScannerKind.CONSUMER,
    client: str | None = ONE_CLIENT,
) -> None:
    event = ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(minutes=minutes),
        code=f"https://ocop.vn/01/x/10/{lot}/21/{serial}", batch_id=batch_id(lot), serial=serial,
        province=province, reason=Reason.GENUINE, scanner=scanner, device=device, client=client,
    )  # fmt: skip
    pipeline.send("scan", event.topic_key(), model_bytes(event))


def alerts(pipeline: Pipeline, serial: str) -> set[str]:
    return {a.kind for a in pipeline.alerts(identifiers.unit_key(PRODUCT, serial))}


def alert_rows(pipeline: Pipeline, serial: str) -> dict[str, AlertRow]:
    return {a.kind: a for a in pipeline.alerts(identifiers.unit_key(PRODUCT, serial))}


def evidence(pipeline: Pipeline, serial: str) -> frozenset[str]:
    """What warns consumers of a copy of the unit (empty: nothing does)."""
    unit = identifiers.unit_key(PRODUCT, serial)
    return asyncio.run(pipeline.reader.unit_activity(unit)).copy_evidence


def raised(pipeline: Pipeline, serial: str, kind: AlertKind) -> set[str]:
    def found() -> set[str] | None:
        kinds = alerts(pipeline, serial)
        return kinds if kind in kinds else None

    return wait_for(f"a {kind} alert", found, explain=pipeline.diagnosis)


def processed(pipeline: Pipeline, serial: str, count: int) -> None:
    """Wait until `count` scans of the unit are recorded (not counted: one client's scans of a
    unit count once an hour in the totals consumers see)."""
    unit = identifiers.unit_key(PRODUCT, serial)
    recorded = pipeline.session.prepare("SELECT count(*) FROM scans_by_unit WHERE unit_key = ?")
    wait_for(f"{count} scans of {serial}",
             lambda: pipeline.session.execute(recorded, (unit,)).one()[0] >= count,
             explain=pipeline.diagnosis)  # fmt: skip


def test_impossible_travel_but_not_a_short_hop(pipeline: Pipeline):
    near, far = packed_units(pipeline, "L2506TRAV1", 2)
    scan(pipeline, "L2506TRAV1", near, 0, "Thái Bình", client=client(1))
    scan(pipeline, "L2506TRAV1", near, 20, "Nam Định", device="bb" * 32, client=client(2))
    scan(pipeline, "L2506TRAV1", far, 0, "Thái Bình", client=client(1))
    scan(pipeline, "L2506TRAV1", far, 60, "Hồ Chí Minh", device="bb" * 32, client=client(2))
    pipeline.flush()
    assert raised(pipeline, far, AlertKind.IMPOSSIBLE_TRAVEL) == {"impossible_travel"}
    travel = alert_rows(pipeline, far)["impossible_travel"]
    assert (travel.clients, travel.corroborated) == (2, False)  # one's word against another's
    processed(pipeline, near, 2)
    assert alerts(pipeline, near) == set()


def test_too_many_devices_but_not_one_phone_many_times(pipeline: Pipeline):
    same, many = packed_units(pipeline, "L2506DEVS1", 2)
    for n in range(7):
        scan(pipeline, "L2506DEVS1", same, n, "Thái Bình")
    for n in range(6):
        scan(pipeline, "L2506DEVS1", many, n, "Thái Bình", device=f"{n:064x}", client=client(n))
    # an inspector's scans never count: theirs are kept apart
    scan(pipeline, "L2506DEVS1", same, 9, "Thái Bình", device="cc" * 32,
         scanner=ScannerKind.INSPECTOR)  # fmt: skip
    pipeline.flush()
    assert raised(pipeline, many, AlertKind.TOO_MANY_DEVICES) == {"too_many_devices"}
    devices = alert_rows(pipeline, many)["too_many_devices"]
    assert (devices.clients, devices.corroborated) == (6, False)  # 5 without any one of them
    processed(pipeline, same, 8)
    assert alerts(pipeline, same) == set()


def test_a_validly_signed_code_never_packed(pipeline: Pipeline):
    [real] = packed_units(pipeline, "L2506LEAK1", 1)
    never = identifiers.new_serial()
    scan(pipeline, "L2506LEAK1", real, 0, "Thái Bình")
    scan(pipeline, "L2506LEAK1", never, 0, "Thái Bình")
    pipeline.flush()
    assert raised(pipeline, never, AlertKind.NEVER_PACKED) == {"never_packed"}
    processed(pipeline, real, 1)
    assert alerts(pipeline, real) == set()


def test_recalled_batch_and_expired_product(pipeline: Pipeline):
    [kept] = packed_units(pipeline, "L2506KEEP1", 1, close=True)
    [recalled] = packed_units(pipeline, "L2506RECL1", 1, close=True)
    recall(pipeline, "L2506RECL1")
    day = 24 * 60
    scan(pipeline, "L2506KEEP1", kept, 2 * day, "Thái Bình")  # before expiry (2026-03-09)
    scan(pipeline, "L2506RECL1", recalled, 2 * day, "Thái Bình")
    scan(pipeline, "L2506KEEP1", kept, 400 * day, "Thái Bình", device="dd" * 32)  # after
    pipeline.flush()
    assert raised(pipeline, recalled, AlertKind.RECALLED_BATCH) == {"recalled_batch"}
    assert raised(pipeline, kept, AlertKind.PAST_EXPIRY) == {"past_expiry"}


def test_a_label_naming_another_lot_is_judged_by_the_lot_it_was_packed_in(pipeline: Pipeline):
    [unit] = packed_units(pipeline, "L2506RECL2", 1, close=True)
    recall(pipeline, "L2506RECL2")
    scan(pipeline, "L2506OTHR1", unit, 2 * 24 * 60, "Thái Bình")  # a lot never opened
    pipeline.flush()
    assert raised(pipeline, unit, AlertKind.RECALLED_BATCH) == {"recalled_batch"}


def recall(pipeline: Pipeline, lot: str) -> None:
    event = BatchRecalled(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=1), batch_id=batch_id(lot),
        producer_id=PRODUCER, recalled_by="VN-34", reason="nhiễm khuẩn",
    )  # fmt: skip
    pipeline.send_signed("batch", pipeline.world.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), 4)


def delivered_units(pipeline: Pipeline, lot: str, count: int) -> list[str]:
    """Units of a batch shipped to and received in Thái Bình for sale."""
    units = packed_units(pipeline, lot, count, close=True)
    common = {"event_id": uuid.uuid4, "batch_id": batch_id(lot), "producer_id": PRODUCER}
    shipped = BatchShipped(
        **{k: v() if callable(v) else v for k, v in common.items()},
        occurred_at=NOW + timedelta(hours=3),
        shipment_id="S1",
        to_party="Siêu thị Thái Bình",
        to_province="Thái Bình",
        units=count,
    )
    received = BatchReceived(
        **{k: v() if callable(v) else v for k, v in common.items()},
        occurred_at=NOW + timedelta(hours=6),
        shipment_id="S1",
        receiver="Siêu thị Thái Bình",
        receiver_province="Thái Bình",
        units=count,
    )
    for event in (shipped, received):
        pipeline.send_signed("batch", pipeline.world.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), 5)
    return units


def test_scanned_far_from_the_delivery_province(pipeline: Pipeline):
    lot = "L2506SHIP1"
    home, away = delivered_units(pipeline, lot, 2)
    scan(pipeline, lot, home, 600, "Hưng Yên")  # carried home to the next province
    scan(pipeline, lot, away, 600, "Cà Mau")
    pipeline.flush()
    assert raised(pipeline, away, AlertKind.OUTSIDE_DELIVERY_PROVINCE) == {
        "outside_delivery_province"
    }
    processed(pipeline, home, 1)
    assert alerts(pipeline, home) == set()


def test_the_window_and_the_totals_survive_a_worker_killed_mid_stream(pipeline: Pipeline):
    unit, busy = packed_units(pipeline, "L2506RSTR1", 2)
    scan(pipeline, "L2506RSTR1", unit, 0, "Thái Bình", client=client(1))
    pipeline.flush()
    processed(pipeline, unit, 1)
    time.sleep(2.5)  # past the commit interval, so the restart resumes after this scan
    for minutes in range(3):  # killed right after these: they are likely read again
        scan(pipeline, "L2506RSTR1", busy, minutes, "Thái Bình", client=client(minutes))
    pipeline.flush()
    processed(pipeline, busy, 3)
    pipeline.stop_worker(signal.SIGKILL)
    pipeline.start_worker()
    scan(pipeline, "L2506RSTR1", unit, 90, "Đà Nẵng", device="bb" * 32, client=client(2))
    scan(pipeline, "L2506RSTR1", busy, 10, "Thái Bình", client=client(3))
    pipeline.flush()
    assert raised(pipeline, unit, AlertKind.IMPOSSIBLE_TRAVEL) == {"impossible_travel"}
    processed(pipeline, busy, 4)
    time.sleep(1)  # a replay counted twice would show by now
    totals = pipeline.scan_summary(identifiers.unit_key(PRODUCT, busy))
    assert (totals.count, totals.first, totals.last) == (
        4, NOW, NOW + timedelta(minutes=10),
    )  # fmt: skip


def test_one_clients_poisoning_leaves_no_copy_evidence(pipeline: Pipeline):
    """Seven device ids, two far-apart provinces and a scan far from the delivery province,
    all from one client: at most an unconfirmed alert for inspectors, nothing for consumers,
    and the page's scan total counts the client once."""
    lot = "L2506POIS1"
    [unit] = delivered_units(pipeline, lot, 1)
    for n in range(7):  # a page viewed seven times without its cookie
        scan(pipeline, lot, unit, 600 + n, "Thái Bình", device=f"{n:064x}")
    scan(pipeline, lot, unit, 610, "Hà Nội", device="bb" * 32)
    scan(pipeline, lot, unit, 611, "Cà Mau", device="cc" * 32)
    pipeline.flush()
    processed(pipeline, unit, 9)
    assert raised(pipeline, unit, AlertKind.OUTSIDE_DELIVERY_PROVINCE) == {
        "outside_delivery_province"
    }
    time.sleep(1)  # an alert raised late would show by now
    rows = alert_rows(pipeline, unit)
    assert set(rows) == {"outside_delivery_province"}  # no travel, no devices
    assert [(a.clients, a.corroborated) for a in rows.values()] == [(1, False)]
    assert evidence(pipeline, unit) == frozenset()
    assert pipeline.scan_summary(identifiers.unit_key(PRODUCT, unit)).count == 1


def test_independent_clients_corroborate_the_same_alert_into_copy_evidence(pipeline: Pipeline):
    lot = "L2506CORR1"
    [unit] = delivered_units(pipeline, lot, 1)
    scan(pipeline, lot, unit, 600, "Hà Nội", client=client(1))
    scan(pipeline, lot, unit, 601, "Cà Mau", client=client(2))
    pipeline.flush()
    raised(pipeline, unit, AlertKind.IMPOSSIBLE_TRAVEL)
    first = alert_rows(pipeline, unit)["impossible_travel"]
    assert (first.clients, first.corroborated) == (2, False)
    assert evidence(pipeline, unit) == frozenset()

    # more clients on both sides, the same day: the same alert, upgraded, becomes evidence
    scan(pipeline, lot, unit, 602, "Cà Mau", client=client(3))
    scan(pipeline, lot, unit, 603, "Hà Nội", client=client(4))
    scan(pipeline, lot, unit, 604, "Cà Mau", client=client(5))  # three far from delivery
    pipeline.flush()
    wanted = {str(first.alert_id)}
    wait_for("the travel alert as copy evidence", lambda: wanted <= evidence(pipeline, unit),
             explain=pipeline.diagnosis)  # fmt: skip
    rows = alert_rows(pipeline, unit)
    travel = rows["impossible_travel"]
    # upgraded by the fourth client's scan, the first that no one client could have made
    assert (travel.alert_id, travel.clients, travel.corroborated) == (first.alert_id, 4, True)
    assert "4 independent clients" in travel.detail
    assert len(pipeline.alerts(identifiers.unit_key(PRODUCT, unit))) == len(rows)  # no twin
    delivery = rows["outside_delivery_province"]
    wait_for("the delivery alert as copy evidence",
             lambda: str(delivery.alert_id) in evidence(pipeline, unit))  # fmt: skip
    assert evidence(pipeline, unit) == {str(first.alert_id), str(delivery.alert_id)}
    assert "too_many_devices" not in rows  # five clients are not too many
    assert pipeline.scan_summary(identifiers.unit_key(PRODUCT, unit)).count == 5


def test_an_inspectors_finding_adds_evidence_and_closing_an_alert_removes_it(pipeline: Pipeline):
    lot = "L2506INSP1"
    shop, other = packed_units(pipeline, lot, 2)
    for n in range(7):  # seven shoppers on seven networks
        scan(pipeline, lot, shop, n, "Thái Bình", device=f"{n:064x}", client=client(n))
    pipeline.flush()
    raised(pipeline, shop, AlertKind.TOO_MANY_DEVICES)
    devices = alert_rows(pipeline, shop)["too_many_devices"]
    wait_for("the devices alert as copy evidence",
             lambda: str(devices.alert_id) in evidence(pipeline, shop),
             explain=pipeline.diagnosis)  # fmt: skip

    counterfeit = inspect(pipeline, lot, shop, InspectionVerdict.COUNTERFEIT)
    inspect(pipeline, lot, other, InspectionVerdict.GENUINE)
    closing = AlertClosed(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=2), alert_id=devices.alert_id,
        unit_key=identifiers.unit_key(PRODUCT, shop), inspector_id="QLTT-TB-07",
        finding=InspectionVerdict.GENUINE,
    )  # fmt: skip
    pipeline.send("scan", closing.topic_key(), model_bytes(closing))
    pipeline.flush()
    wanted = frozenset({f"inspection:{counterfeit}"})
    wait_for("the finding as evidence, the closed alert not",
             lambda: evidence(pipeline, shop) == wanted, explain=pipeline.diagnosis)  # fmt: skip
    assert alert_rows(pipeline, shop)["too_many_devices"].status == "closed"
    wait_for("the genuine finding recorded",
             lambda: pipeline.inspections(identifiers.unit_key(PRODUCT, other)))  # fmt: skip
    assert evidence(pipeline, other) == frozenset()


def inspect(pipeline: Pipeline, lot: str, serial: str, verdict: InspectionVerdict) -> uuid.UUID:
    event = InspectionRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=1),
        code=f"https://ocop.vn/01/x/10/{lot}/21/{serial}", batch_id=batch_id(lot), serial=serial,
        inspector_id="QLTT-TB-07", stars_seen=4, verdict=verdict, reason=Reason.GENUINE,
        place="Chợ Bo", province="Thái Bình",
    )  # fmt: skip
    pipeline.send("scan", event.topic_key(), model_bytes(event))
    return event.event_id


def test_stars_above_a_downgraded_rating_then_a_revoked_one(pipeline: Pipeline):
    """Last in the module: it changes the product's rating for good."""
    w = pipeline.world
    before, after, revoked = packed_units(pipeline, "L2506STAR1", 3)
    scan(pipeline, "L2506STAR1", before, 0, "Thái Bình")  # as printed: 4★ in force
    pipeline.flush()
    processed(pipeline, before, 1)
    assert alerts(pipeline, before) == set()

    downgrade = w.award(stars=3, score="62", number="200/GCN-UBND",
                        valid_from=NOW + timedelta(days=1))  # fmt: skip
    pipeline.send_signed(
        "authority",
        w.provincial,
        CertificationIssued(
            event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=1), certification=downgrade
        ),
    )
    pipeline.flush()
    wait_for("the downgrade", lambda: pipeline.session.execute(
        "SELECT stars FROM certifications WHERE product_key = %s AND certificate_no = %s",
        (PRODUCT, "200/GCN-UBND")).one())  # fmt: skip
    scan(pipeline, "L2506STAR1", after, 2 * 24 * 60, "Thái Bình")
    pipeline.flush()
    assert raised(pipeline, after, AlertKind.STARS_EXCEED_RATING) == {"stars_exceed_rating"}

    revocation = certs.revoke_certification(
        w.provincial, downgrade.body, decision_no="47/QĐ-UBND", reason="vi phạm chất lượng",
        effective_at=NOW + timedelta(days=3), now=NOW + timedelta(days=3),
    )  # fmt: skip
    pipeline.send_signed(
        "authority",
        w.provincial,
        CertificationRevoked(
            event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=3), revocation=revocation
        ),
    )
    pipeline.flush()
    wait_for("the revocation", lambda: pipeline.session.execute(
        "SELECT revoked_at FROM certifications WHERE product_key = %s AND certificate_no = %s",
        (PRODUCT, "200/GCN-UBND")).one().revoked_at)  # fmt: skip
    scan(pipeline, "L2506STAR1", revoked, 4 * 24 * 60, "Thái Bình")
    pipeline.flush()
    assert raised(pipeline, revoked, AlertKind.RATING_LAPSED) == {"rating_lapsed"}
