"""The row a scan reads, on the real node: scan totals as written, and open alerts that
follow raising, replays and closing (the lightweight transaction's answer when not applied)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from contract.alerts import Alert, AlertKind, alert_id
from contract.events import AlertClosed, InspectionVerdict
from contract.label import vietnam_date
from infra.schema import migrate
from infra.settings import StackSettings
from records.rows import ScanSummary
from records.session import connect
from records.store import RecordWriter
from tests.world import NOW

UNIT = "/01/08930000000016/21/ABCDEFGH2345"


def test_open_alerts_follow_raising_replays_and_closing(stack_settings: StackSettings, unique_name):
    settings = stack_settings.model_copy(update={"keyspace": unique_name})
    migrate(settings)
    cluster, session = connect(settings, keyspace=unique_name)
    try:
        asyncio.run(_story(RecordWriter(session)))
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
    assert await store.raise_alert(travel, day)
    assert await store.raise_alert(devices, day)
    assert not await store.raise_alert(travel, day)  # a replay: not new, still open
    assert (await store.unit_activity(UNIT)).open_alerts == {
        "impossible_travel", "too_many_devices",
    }  # fmt: skip

    closing = AlertClosed(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=1), alert_id=travel.alert_id,
        unit_key=UNIT, inspector_id="QLTT-TB-07", finding=InspectionVerdict.COUNTERFEIT,
    )  # fmt: skip
    assert await store.close_alert(closing)
    assert (await store.unit_activity(UNIT)).open_alerts == {"too_many_devices"}
    assert not await store.raise_alert(travel, day)  # replayed after closing: stays closed
    activity = await store.unit_activity(UNIT)
    assert (activity.open_alerts, activity.scans) == (frozenset({"too_many_devices"}), totals)


def _alert(kind: AlertKind) -> Alert:
    return Alert(
        alert_id=alert_id(UNIT, kind, vietnam_date(NOW)), kind=kind, unit_key=UNIT,
        raised_at=NOW, province="Thái Bình", detail="evidence", scan_event_id=uuid.uuid4(),
    )  # fmt: skip
