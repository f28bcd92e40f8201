"""Scan analytics: each consumer scan of a validly signed code, checked against the unit's
recent scans and its records; what it finds becomes alerts in Cassandra and on a topic.

The recent scans of each unit are part of its history (stream_processors.history), which
survives a restart: a scan that arrives after the restart is still compared with the ones
before it.

Every finding is raised as an alert for inspectors. A copy finding that independent clients
corroborate (stream_processors.detect) also becomes copy evidence on the unit, which is what
warns consumers; an alert raised unconfirmed earlier the same day (same id) is upgraded then,
once, and published again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from contract.alerts import Alert, alert_id
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.label import vietnam_date
from contract.verdict import Category
from records.store import RecordWriter
from stream_processors.detect import SeenScan, Thresholds, detect, province_place, remember
from stream_processors.history import UnitHistory
from stream_processors.outcomes import Metrics, SendBytes, seconds_since
from stream_processors.places import Place, place_of
from stream_processors.unit_facts import FactsCache

RAISED_KEPT = 32
"""Alert ids a unit's window remembers (ids are per kind and day, so a few days' worth), and
as many of the corroborated ones."""

ANALYSED = (Category.GENUINE, Category.CLAIM_NOT_VALID)
"""Codes that verified: forged ones are answered as counterfeit by the API already."""


class ScanAnalytics:
    def __init__(
        self,
        store: RecordWriter,
        publish: SendBytes,
        limits: Thresholds,
        metrics: Metrics,
        facts: FactsCache | None = None,
    ) -> None:
        self.store = store
        self.publish = publish
        self.limits = limits
        self.metrics = metrics
        self.facts = facts if facts is not None else FactsCache(store)
        """What the records say about units, held (stream_processors.unit_facts)."""

    async def analyse(self, scan: ScanRecorded, unit_key: str, history: UnitHistory) -> list[Alert]:
        """The alerts this scan raises; `history` (the unit's) is updated with the scan."""
        if scan.scanner is not ScannerKind.CONSUMER or scan.reason.category not in ANALYSED:
            return []
        key = unit_key.encode("utf-8")
        seen = SeenScan(str(scan.event_id), scan.occurred_at, scan.device,
                        _place(scan), scan.client)  # fmt: skip
        already = history.raised
        recent = [s for s in history.recent if s.event_id != seen.event_id]
        assert scan.batch_id is not None  # a scan that names a unit names its batch
        facts = await self.facts.facts(unit_key, scan.batch_id, scan.occurred_at)
        findings = detect(seen, recent, facts, self.limits)
        alerts = [
            Alert(
                alert_id=alert_id(unit_key, finding.kind, vietnam_date(scan.occurred_at)),
                kind=finding.kind,
                unit_key=unit_key,
                raised_at=scan.occurred_at,
                province=seen.place.province if seen.place else None,
                detail=finding.detail,
                scan_event_id=scan.event_id,
                clients=finding.clients,
                corroborated=finding.corroborated,
            )
            for finding in findings
        ]
        # an alert this unit already raised is not raised again: that would cost a
        # lightweight transaction per scan of a copied code, only to change nothing
        fresh = [a for a in alerts if str(a.alert_id) not in already]
        # different alerts' rows and cells, so raised at once, each published once stored;
        # all are let finish before a failure is raised (the message is then tried again)
        outcomes = await asyncio.gather(
            *(self._raise(key, alert, scan.occurred_at) for alert in fresh),
            return_exceptions=True,
        )
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            raise failed[0]
        raised = [alert for alert, new in zip(fresh, outcomes, strict=True) if new is True]
        # corroborated now, not when first raised (or the raising was not new: a replay, or
        # an id the window forgot): the stored alert is upgraded, once
        confirmed = history.corroborated
        newly = [a for a in alerts if a.corroborated and str(a.alert_id) not in confirmed]
        for alert in newly:
            if alert not in raised and await self.store.corroborate(alert):
                self.metrics.corroborated[alert.kind.value] += 1
                await self.publish(key, model_bytes(alert))
        history.raised = [*already, *(str(a.alert_id) for a in fresh)][-RAISED_KEPT:]
        history.corroborated = [*confirmed, *(str(a.alert_id) for a in newly)][-RAISED_KEPT:]
        history.recent = remember(seen, recent, self.limits)
        return raised

    async def _raise(self, key: bytes, alert: Alert, scanned_at: datetime) -> bool:
        """Store the alert; if it is new, count it and publish it. True if it was new."""
        if not await self.store.raise_alert(alert, vietnam_date(alert.raised_at)):
            return False
        self._count(alert, scanned_at)
        await self.publish(key, model_bytes(alert))
        return True

    def _count(self, alert: Alert, scanned_at: datetime) -> None:
        """A raised alert, stored: counted by kind, and the delay since its scan."""
        self.metrics.alerts[alert.kind.value] += 1
        if alert.corroborated:
            self.metrics.corroborated[alert.kind.value] += 1
        self.metrics.alert_delay.observe(seconds_since(scanned_at))


def _place(scan: ScanRecorded) -> Place | None:
    if scan.location is None:
        return province_place(scan.province) if scan.province else None
    return place_of(scan.province, scan.location)
