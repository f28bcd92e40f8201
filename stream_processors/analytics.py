"""Scan analytics: each consumer scan of a validly signed code, checked against the unit's
recent scans and its records; what it finds becomes alerts in Cassandra and on a topic.

The recent scans of each unit are part of its history (stream_processors.history), which
survives a restart: a scan that arrives after the restart is still compared with the ones
before it.

Every finding is raised as an alert for inspectors. A copy finding that independent clients
corroborate (stream_processors.detect) also becomes copy evidence on the unit, which is what
warns consumers; an alert raised unconfirmed earlier the same day (same id) is upgraded then,
once, and published again.

A micro-batch's scans are analysed first (`analyse`: no write), and what they raised is
stored with the batch's scan rows and published after them (`BatchAlerts`): per batch one
read of each alerting unit's stored alerts, its alert rows in the unit's one write, the
provinces' day rows, then the messages, all at once. An alert's id is its unit, kind and
Vietnam day (contract.alerts.alert_id), so a replayed scan raises the same id: the read
tells a new alert from one stored before, whose first raising stands; no lightweight
transaction is needed, as only the worker owning the unit's partition writes its alerts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from contract.alerts import Alert, AlertKind, alert_id
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.label import vietnam_date
from contract.verdict import Category
from records.store import AlertRaised, RecordWriter
from stream_processors.detect import (
    Finding,
    SeenScan,
    Thresholds,
    UnitFacts,
    detect,
    province_place,
    remember,
)
from stream_processors.history import UnitHistory
from stream_processors.outcomes import Metrics, SendMany, all_done, seconds_since
from stream_processors.places import Place, place_of
from stream_processors.unit_facts import FactsCache

RAISED_KEPT = 32
"""Alert ids a unit's window remembers (ids are per kind and day, so a few days' worth), and
as many of the corroborated ones."""

RAISED_IDS_KEPT = 65_536
"""Alert ids remembered as worked out (`_alert_id`): units scanned lately, a finding or two
each."""

ANALYSED = (Category.GENUINE, Category.CLAIM_NOT_VALID)
"""Codes that verified: forged ones are answered as counterfeit by the API already."""


class ScanAnalytics:
    def __init__(
        self,
        store: RecordWriter,
        publish: SendMany,
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

    def analyse(
        self, scan: ScanRecorded, unit_key: str, history: UnitHistory, facts: UnitFacts
    ) -> Raised:
        """What this `analysed` scan raises, given its unit's facts (`self.facts.facts_of`),
        to be stored and published with its batch (`BatchAlerts`); `history` (the unit's)
        is updated with the scan and the alerts, and is put back only once they are stored
        and published."""
        seen = SeenScan(str(scan.event_id), scan.occurred_at, scan.device,
                        _place(scan), scan.client)  # fmt: skip
        already = history.raised
        recent = [s for s in history.recent if s.event_id != seen.event_id]
        findings = detect(seen, recent, facts, self.limits)
        day = vietnam_date(scan.occurred_at)
        confirmed = history.corroborated
        fresh: list[Alert] = []
        newly: list[Alert] = []
        for finding in findings:
            raised_id = _alert_id(unit_key, finding.kind, day)
            # an alert this unit already raised is not raised again (nor built: a unit's
            # records finding, an expired batch, is found again on every scan): that would
            # cost a read and writes per scan of a copied code, only to change nothing
            is_fresh = raised_id not in already
            # corroborated now, not when first raised (or the raising was not new: a replay,
            # or an id the window forgot): the stored alert is upgraded, once
            is_newly = finding.corroborated and raised_id not in confirmed
            if is_fresh or is_newly:
                alert = self._alert(scan, seen, unit_key, finding, raised_id)
                if is_fresh:
                    fresh.append(alert)
                if is_newly:
                    newly.append(alert)
        history.raised = [*already, *(str(a.alert_id) for a in fresh)][-RAISED_KEPT:]
        history.corroborated = [*confirmed, *(str(a.alert_id) for a in newly)][-RAISED_KEPT:]
        history.recent = remember(seen, recent, self.limits)
        return Raised(fresh, newly)

    @staticmethod
    def _alert(
        scan: ScanRecorded, seen: SeenScan, unit_key: str, finding: Finding, raised_id: str
    ) -> Alert:
        return Alert(
            alert_id=UUID(raised_id),
            kind=finding.kind,
            unit_key=unit_key,
            raised_at=scan.occurred_at,
            province=seen.place.province if seen.place else None,
            detail=finding.detail,
            scan_event_id=scan.event_id,
            clients=finding.clients,
            corroborated=finding.corroborated,
        )

    @staticmethod
    def analysed(scan: ScanRecorded) -> bool:
        """Whether the scan is analysed: a consumer's, of a code that verified."""
        return scan.scanner is ScannerKind.CONSUMER and scan.reason.category in ANALYSED

    def alerts(self) -> BatchAlerts:
        """The alerts of a micro-batch, to be gathered while its scans are analysed."""
        return BatchAlerts(self)


@dataclass
class Raised:
    """What one scan's analysis found, to be stored and published with its batch."""

    fresh: list[Alert] = field(default_factory=list)
    """Alerts the unit's history has not raised: new, unless stored before (a replay)."""
    newly: list[Alert] = field(default_factory=list)
    """Alerts found corroborated for the first time."""


class BatchAlerts:
    """A micro-batch's alerts (stream_processors.scans): gathered per unit in its scans'
    order, then `stored` (which are new), written with the scan rows (records.store.
    record_scans), then `published`. Each step for every unit at once; a failure anywhere
    fails the batch, which is handled again from the histories as they were: the read then
    finds the alerts stored, whose first raising stands."""

    def __init__(self, analytics: ScanAnalytics) -> None:
        self.analytics = analytics
        self.units: dict[str, list[Raised]] = {}
        self.raised: dict[str, list[AlertRaised]] = {}
        """Each unit's fresh alerts with what was stored of them (`stored`)."""

    def add(self, unit_key: str, raised: Raised) -> None:
        if raised.fresh or raised.newly:
            self.units.setdefault(unit_key, []).append(raised)

    async def stored(self) -> Mapping[str, Sequence[AlertRaised]]:
        """The batch's fresh alerts by unit, each with what was stored of it before (one
        read per alerting unit): to be written with the unit's scans."""
        wanted = {
            unit: {a.alert_id for r in found for a in r.fresh} for unit, found in self.units.items()
        }
        wanted = {unit: ids for unit, ids in wanted.items() if ids}
        stored = await self.analytics.store.stored_alerts(wanted) if wanted else {}
        self.raised = {
            unit: [
                AlertRaised(a, vietnam_date(a.raised_at), stored.get((unit, a.alert_id)))
                for r in self.units[unit]
                for a in r.fresh
            ]
            for unit in wanted
        }
        return self.raised

    async def published(self) -> None:
        """Once the unit rows are written: the province and day rows, then the upgrades to
        corroborated, then the messages, in each unit's order (a new alert, then its
        upgrade), sent together. A new alert is published, and so is one stored by this very
        scan before and still open (a replay: the crash may have come between storing and
        publishing it; consumers take an alert id once, as they must for an upgrade); one
        raised by another scan before is not. Counted once stored, never on a replay."""
        store, metrics = self.analytics.store, self.analytics.metrics
        raised = [one for ones in self.raised.values() for one in ones]
        if raised:
            await store.record_alert_days(raised)
        upgrading = [unit for unit, found in self.units.items() if any(r.newly for r in found)]
        upgraded = await all_done(self._upgraded(unit) for unit in upgrading)
        messages: dict[str, list[Alert]] = {}
        for one in raised:
            if one.new or _replayed(one):
                messages.setdefault(one.alert.unit_key, []).append(one.alert)
            if one.new:
                metrics.alerts[one.alert.kind.value] += 1
                if one.alert.corroborated:
                    metrics.corroborated[one.alert.kind.value] += 1
                metrics.alert_delay.observe(seconds_since(one.alert.raised_at))
        for unit, alerts in zip(upgrading, upgraded, strict=True):
            for alert in alerts:
                metrics.corroborated[alert.kind.value] += 1
            if alerts:
                messages.setdefault(unit, []).extend(alerts)
        if messages:
            await self.analytics.publish([
                (unit.encode("utf-8"), model_bytes(alert))
                for unit, alerts in messages.items()
                for alert in alerts
            ])  # fmt: skip

    async def _upgraded(self, unit: str) -> list[Alert]:
        """The unit's alerts upgraded to corroborated now, in its scans' order: not those a
        scan raised corroborated and new itself."""
        new = {_raising(one.alert) for one in self.raised.get(unit, ()) if one.new}
        upgraded = []
        for found in self.units[unit]:
            for alert in found.newly:
                if _raising(alert) not in new and await self.analytics.store.corroborate(alert):
                    upgraded.append(alert)
        return upgraded


def _raising(alert: Alert) -> tuple[object, object]:
    """An alert as one scan raised it (a scan raises an id once)."""
    return alert.alert_id, alert.scan_event_id


def _replayed(one: AlertRaised) -> bool:
    """Stored, open, by this very scan before: its message may not have been sent."""
    s = one.stored
    return s is not None and not s.closed and s.scan_event_id == one.alert.scan_event_id


@functools.lru_cache(maxsize=RAISED_IDS_KEPT)
def _alert_id(unit_key: str, kind: AlertKind, day: date) -> str:
    """contract.alerts.alert_id as text, remembered: a unit's scans of a day find the same
    few findings again (a name-based UUID is a SHA-1 of its name, 4 us here)."""
    return str(alert_id(unit_key, kind, day))


def _place(scan: ScanRecorded) -> Place | None:
    if scan.location is None:
        return province_place(scan.province) if scan.province else None
    return place_of(scan.province, scan.location)
