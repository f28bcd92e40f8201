"""The row a scan reads, on the real node: scan totals as written, open alerts that follow
raising, replays and closing (what a replay reads of the alert stored before it), and copy
evidence that only corroborated alerts and inspectors' findings put there."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from datetime import date, timedelta
from typing import Any

from contract import identifiers
from contract.alerts import Alert, AlertKind, alert_id
from contract.events import AlertClosed, InspectionVerdict, ScannerKind, ScanRecorded
from contract.label import vietnam_date
from contract.verdict import Reason
from infra.schema import migrate
from infra.settings import StackSettings
from records.rows import ScanSummary, Unit
from records.session import connect, run
from records.store import AlertRaised, RecordWriter, ScansOfUnit
from tests.world import LOT, NOW, PRODUCT

UNIT = "/01/08930000000016/21/ABCDEFGH2345"


def test_open_alerts_follow_raising_replays_and_closing(stack_settings: StackSettings, unique_name):
    _on_a_keyspace_of_its_own(stack_settings, unique_name, _story)


def _on_a_keyspace_of_its_own(
    stack_settings: StackSettings,
    unique_name: str,
    story: Callable[[RecordWriter], Coroutine[Any, Any, None]],
) -> None:
    """Run `story` on the real node, in a keyspace of its own dropped afterwards."""
    settings = stack_settings.model_copy(update={"keyspace": unique_name})
    migrate(settings)
    cluster, session = connect(settings, keyspace=unique_name)
    try:
        asyncio.run(story(RecordWriter(session)))
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")
        cluster.shutdown()


async def _story(store: RecordWriter) -> None:
    assert (await store.unit_activity(UNIT)).scans == ScanSummary(0, None, None)
    totals = ScanSummary(3, NOW, NOW + timedelta(minutes=5))
    await store.write_scan_totals(UNIT, totals)
    assert (await store.unit_activity(UNIT)).scans == totals

    travel = _alert(AlertKind.IMPOSSIBLE_TRAVEL)
    devices = _alert(AlertKind.TOO_MANY_DEVICES)
    day = vietnam_date(NOW)
    assert await _raise(store, travel, day)
    assert await _raise(store, devices, day)
    assert not await _raise(store, travel, day)  # a replay: not new, still open
    assert (await store.unit_activity(UNIT)).open_alerts == {
        "impossible_travel", "too_many_devices",
    }  # fmt: skip

    closing = AlertClosed(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=1), alert_id=travel.alert_id,
        unit_key=UNIT, inspector_id="QLTT-TB-07", finding=InspectionVerdict.COUNTERFEIT,
    )  # fmt: skip
    assert await store.close_alert(closing)
    assert (await store.unit_activity(UNIT)).open_alerts == {"too_many_devices"}
    assert not await _raise(store, travel, day)  # replayed after closing: stays closed
    activity = await store.unit_activity(UNIT)
    assert (activity.open_alerts, activity.scans) == (frozenset({"too_many_devices"}), totals)
    # none of these was corroborated: consumers are not warned
    assert activity.copy_evidence == frozenset()


def test_copy_evidence_follows_corroboration_inspections_and_closing(
    stack_settings: StackSettings, unique_name
):
    _on_a_keyspace_of_its_own(stack_settings, unique_name, _evidence)


async def _evidence(store: RecordWriter) -> None:
    day = vietnam_date(NOW)
    travel = _alert(AlertKind.IMPOSSIBLE_TRAVEL, clients=2)
    assert await _raise(store, travel, day)
    assert (await store.unit_activity(UNIT)).copy_evidence == frozenset()
    [row] = await store.alerts_for_unit(UNIT)
    assert (row.clients, row.corroborated) == (2, False)

    # later the same day, more clients: the same alert id, upgraded once
    confirmed = travel.model_copy(update={"clients": 4, "corroborated": True,
                                          "detail": "four clients"})  # fmt: skip
    assert await store.corroborate(confirmed)
    assert not await store.corroborate(confirmed)  # done already
    assert (await store.unit_activity(UNIT)).copy_evidence == {str(travel.alert_id)}
    [row] = await store.alerts_for_unit(UNIT)
    assert (row.clients, row.corroborated, row.detail) == (4, True, "four clients")
    [day_row] = await store.alerts_on("Thái Bình", day)
    assert (day_row.clients, day_row.corroborated, day_row.detail) == (4, True, "four clients")
    assert not await _raise(store, confirmed, day)  # a replay: still evidence, once

    # raised corroborated at once: evidence with the raising
    devices = _alert(AlertKind.TOO_MANY_DEVICES, clients=7, corroborated=True)
    assert await _raise(store, devices, day)
    found = f"inspection:{uuid.uuid4()}"
    await store.hold_inspection_evidence(UNIT, found)
    assert (await store.unit_activity(UNIT)).copy_evidence == {
        str(travel.alert_id), str(devices.alert_id), found,
    }  # fmt: skip

    # closed by an inspector: neither open nor evidence, and a replay does not bring it back
    assert await store.close_alert(_closing(devices))
    assert not await _raise(store, devices, day)
    activity = await store.unit_activity(UNIT)
    assert activity.copy_evidence == {str(travel.alert_id), found}
    assert activity.open_alerts == {"impossible_travel"}

    # closed before it was corroborated: corroboration marks it, but warns no one
    delivery = _alert(AlertKind.OUTSIDE_DELIVERY_PROVINCE)
    assert await _raise(store, delivery, day)
    assert await store.close_alert(_closing(delivery))
    assert await store.corroborate(delivery.model_copy(update={"corroborated": True}))
    assert (await store.unit_activity(UNIT)).copy_evidence == {str(travel.alert_id), found}
    assert not await store.corroborate(_alert(AlertKind.PAST_EXPIRY))  # no such alert


async def _raise(store: RecordWriter, alert: Alert, day: date) -> bool:
    """Raise an alert as the scan processor does with its batch (stream_processors.analytics.
    BatchAlerts): what is stored of it read, its unit's rows (the totals as they are), its
    province and day's row; True if it was new."""
    stored = await store.stored_alerts({alert.unit_key: [alert.alert_id]})
    raised = AlertRaised(alert, day, stored.get((alert.unit_key, alert.alert_id)))
    totals = (await store.unit_activity(alert.unit_key)).scans
    await store.record_scans([ScansOfUnit(alert.unit_key, [], totals, [raised])])
    await store.record_alert_days([raised])
    return raised.new


def _closing(alert: Alert) -> AlertClosed:
    return AlertClosed(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=1), alert_id=alert.alert_id,
        unit_key=UNIT, inspector_id="QLTT-TB-07", finding=InspectionVerdict.COUNTERFEIT,
    )  # fmt: skip


def _alert(
    kind: AlertKind, clients: int = 1, corroborated: bool = False, unit: str = UNIT
) -> Alert:
    return Alert(
        alert_id=alert_id(unit, kind, vietnam_date(NOW)), kind=kind, unit_key=unit,
        raised_at=NOW, province="Thái Bình", detail="evidence", scan_event_id=uuid.uuid4(),
        clients=clients, corroborated=corroborated,
    )  # fmt: skip


def test_many_units_rows_are_stored_and_read_back_many_at_once(
    stack_settings: StackSettings, unique_name
):
    """A micro-batch's writes and reads of many units: every unit's scans (past
    UNIT_ROWS_AT_ONCE in two batches), totals and alerts stored; every stored unit and alert
    found by the reads of many at once (records.session.replica_chunks), no other."""
    _on_a_keyspace_of_its_own(stack_settings, unique_name, _many_units)


async def _many_units(store: RecordWriter) -> None:
    keys = [identifiers.unit_key(PRODUCT, f"MANY{n:08d}") for n in range(75)]
    day = vietnam_date(NOW)
    units = []
    for n, key in enumerate(keys):
        scans = [_scan(key, minutes) for minutes in range(n % 20)]  # up to 19: two mutations
        alerts = (
            [] if n % 3 else [AlertRaised(_alert(AlertKind.TOO_MANY_DEVICES, unit=key), day, None)]
        )
        units.append(ScansOfUnit(key, scans, ScanSummary(len(scans), NOW, NOW), alerts))
    await store.record_scans(units)
    for unit in units:
        activity = await store.unit_activity(unit.unit_key)
        assert activity.scans.count == len(unit.scans)
        assert activity.open_alerts == ({"too_many_devices"} if unit.alerts else set())
        rows = await run(
            store.session,
            "SELECT count(*) AS n FROM scans_by_unit WHERE unit_key = %s",
            (unit.unit_key,),
        )
        assert rows[0].n == len(unit.scans)
    wanted = {u.unit_key: {a.alert.alert_id for a in u.alerts} or {uuid.uuid4()} for u in units}
    found = await store.stored_alerts(wanted)
    assert set(found) == {(u.unit_key, a.alert.alert_id) for u in units for a in u.alerts}
    packed = [
        Unit(key, identifiers.batch_id(PRODUCT, LOT), PRODUCT, "p1", key[-12:], 4, "k1",
             date(2026, 1, 1), n)
        for n, key in enumerate(keys)
    ]  # fmt: skip
    await store.write_units(packed)
    read = await store.units([*keys, identifiers.unit_key(PRODUCT, "NTPACKED0000")])
    assert read == {unit.unit_key: unit for unit in packed}


def _scan(unit_key: str, minutes: int) -> ScanRecorded:
    serial = unit_key.rsplit("/", 1)[1]
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(minutes=minutes),
        code=f"https://ocop.vn{identifiers.batch_id(PRODUCT, LOT)}/21/{serial}",
        batch_id=identifiers.batch_id(PRODUCT, LOT), serial=serial, province="Thái Bình",
        reason=Reason.GENUINE, scanner=ScannerKind.CONSUMER, device="d" * 64, client="c" * 64,
    )  # fmt: skip
