"""A micro-batch's alerts (stream_processors.analytics.BatchAlerts): which are new, which are
published and counted, with the records faked (tests/integration/test_unit_activity.py runs
the rows on the real node)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from contract.alerts import Alert, AlertKind, alert_id
from contract.label import vietnam_date
from records.store import AlertRaised, StoredAlert
from stream_processors.analytics import Raised, ScanAnalytics
from stream_processors.detect import Thresholds
from stream_processors.outcomes import Metrics
from tests.world import NOW

UNIT = "/01/08930000000016/21/ABCDEFGH2345"


class FakeRecords:
    """What BatchAlerts asks of records.store.RecordWriter."""

    def __init__(self, stored: dict[tuple[str, uuid.UUID], StoredAlert]) -> None:
        self.stored = stored
        self.days: list[AlertRaised] = []
        self.upgraded: list[Alert] = []

    async def stored_alerts(
        self, wanted: Mapping[str, Iterable[uuid.UUID]]
    ) -> dict[tuple[str, uuid.UUID], StoredAlert]:
        return {
            (unit, i): self.stored[(unit, i)]
            for unit, ids in wanted.items()
            for i in ids
            if (unit, i) in self.stored
        }

    async def record_alert_days(self, raised: Iterable[AlertRaised]) -> None:
        self.days.extend(raised)

    async def corroborate(self, alert: Alert) -> bool:
        self.upgraded.append(alert)
        return True

    async def batch(self, batch_id: str) -> None:  # the facts' reads: not asked here
        raise AssertionError("no scan is analysed here")

    certifications = batch


def _alert(kind: AlertKind, scan: uuid.UUID, corroborated: bool = False) -> Alert:
    return Alert(
        alert_id=alert_id(UNIT, kind, vietnam_date(NOW)), kind=kind, unit_key=UNIT,
        raised_at=NOW, province="Thái Bình", detail="evidence", scan_event_id=scan,
        corroborated=corroborated,
    )  # fmt: skip


def _stored(alert: Alert, closed: bool = False) -> StoredAlert:
    return StoredAlert(
        province=alert.province, day=vietnam_date(NOW), raised_at=alert.raised_at - timedelta(1),
        detail=alert.detail, clients=1, corroborated=False, closed=closed,
        scan_event_id=alert.scan_event_id,
    )  # fmt: skip


def _run(records: FakeRecords, found: list[Raised]) -> tuple[list[Alert], Metrics, Any]:
    sent: list[Alert] = []

    async def publish(records: Sequence[tuple[bytes, bytes]]) -> None:
        for key, value in records:
            assert key == UNIT.encode("utf-8")
            sent.append(Alert.model_validate_json(value))

    metrics = Metrics()
    analytics = ScanAnalytics(records, publish, Thresholds(), metrics)  # type: ignore[arg-type]

    async def scenario() -> Mapping[str, Any]:
        alerts = analytics.alerts()
        for raised in found:
            alerts.add(UNIT, raised)
        stored = await alerts.stored()
        await alerts.published()
        return stored

    return sent, metrics, asyncio.run(scenario())


def test_a_new_alert_is_stored_published_and_counted_once():
    scan = uuid.uuid4()
    travel = _alert(AlertKind.IMPOSSIBLE_TRAVEL, scan)
    records = FakeRecords({})
    sent, metrics, stored = _run(records, [Raised([travel])])
    assert [one.new for one in stored[UNIT]] == [True]
    assert sent == [travel]
    assert [one.alert for one in records.days] == [travel]
    assert metrics.alerts == {"impossible_travel": 1}


def test_a_replayed_raising_is_published_again_but_not_counted_and_another_scans_is_not():
    replayed = _alert(AlertKind.IMPOSSIBLE_TRAVEL, uuid.uuid4())
    earlier = _alert(AlertKind.PAST_EXPIRY, uuid.uuid4())
    later = earlier.model_copy(update={"scan_event_id": uuid.uuid4()})
    closed = _alert(AlertKind.RECALLED_BATCH, uuid.uuid4())
    records = FakeRecords({
        (UNIT, replayed.alert_id): _stored(replayed),
        (UNIT, earlier.alert_id): _stored(earlier),
        (UNIT, closed.alert_id): _stored(closed, closed=True),
    })  # fmt: skip
    sent, metrics, stored = _run(records, [Raised([replayed, later, closed])])
    assert [one.new for one in stored[UNIT]] == [False, False, False]
    # the same scan's raising may not have been published before the crash: again, same id
    assert sent == [replayed]
    # the day rows are written from what was stored (the first raising stands)
    assert [one.stored for one in records.days] == [
        records.stored[(UNIT, a.alert_id)] for a in (replayed, earlier, closed)
    ]
    assert not metrics.alerts


def test_an_upgrade_follows_its_raising_in_the_same_batch_and_a_new_corroborated_one_needs_none():
    raised = _alert(AlertKind.TOO_MANY_DEVICES, uuid.uuid4())
    upgrade = raised.model_copy(update={"scan_event_id": uuid.uuid4(), "corroborated": True})
    at_once = _alert(AlertKind.IMPOSSIBLE_TRAVEL, uuid.uuid4(), corroborated=True)
    records = FakeRecords({})
    found = [Raised([raised]), Raised([], [upgrade]), Raised([at_once], [at_once])]
    sent, metrics, _ = _run(records, found)
    assert records.upgraded == [upgrade]
    assert sent == [raised, at_once, upgrade]
    assert metrics.alerts == {"too_many_devices": 1, "impossible_travel": 1}
    assert metrics.corroborated == {"too_many_devices": 1, "impossible_travel": 1}
