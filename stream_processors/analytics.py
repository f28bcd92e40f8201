"""Scan analytics: each consumer scan of a validly signed code, checked against the unit's
recent scans and its records; what it finds becomes alerts in Cassandra and on a topic.

The recent scans of each unit live in a Faust table keyed by unit, on the same partitions
as the scan topic, with its changelog in Kafka: a restarted worker recovers the window and
a scan that arrives after the restart is still compared with the ones before it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from datetime import datetime

from contract.alerts import Alert, alert_id
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.label import vietnam_date
from contract.verdict import Category
from records.store import RecordWriter
from stream_processors.detect import SeenScan, Thresholds, UnitFacts, detect, remember
from stream_processors.outcomes import SendBytes
from stream_processors.places import Place, place_of

RAISED_KEPT = 32
"""Alert ids a unit's window remembers (ids are per kind and day, so a few days' worth)."""

ANALYSED = (Category.GENUINE, Category.CLAIM_NOT_VALID)
"""Codes that verified: forged ones are answered as counterfeit by the API already."""


class ScanAnalytics:
    def __init__(
        self,
        store: RecordWriter,
        window: MutableMapping[bytes, bytes],
        publish: SendBytes,
        limits: Thresholds,
    ) -> None:
        self.store = store
        self.window = window
        self.publish = publish
        self.limits = limits

    async def analyse(self, scan: ScanRecorded) -> list[Alert]:
        unit_key = scan.unit_key()
        if (
            unit_key is None
            or scan.scanner is not ScannerKind.CONSUMER
            or scan.reason.category not in ANALYSED
        ):
            return []
        key = unit_key.encode("utf-8")
        seen = SeenScan(str(scan.event_id), scan.occurred_at, scan.device,
                        place_of(scan.province, scan.location))  # fmt: skip
        held, already = _decode(self.window.get(key))
        recent = [s for s in held if s.event_id != seen.event_id]
        findings = detect(seen, recent, await self._facts(unit_key, scan.occurred_at), self.limits)
        alerts = [
            Alert(
                alert_id=alert_id(unit_key, finding.kind, vietnam_date(scan.occurred_at)),
                kind=finding.kind,
                unit_key=unit_key,
                raised_at=scan.occurred_at,
                province=seen.place.province if seen.place else None,
                detail=finding.detail,
                scan_event_id=scan.event_id,
            )
            for finding in findings
        ]
        # an alert this unit already raised is not raised again: that would cost a
        # lightweight transaction per scan of a copied code, only to change nothing
        fresh = [a for a in alerts if str(a.alert_id) not in already]
        raised = [a for a in fresh if await self.store.raise_alert(a, vietnam_date(a.raised_at))]
        for alert in raised:
            await self.publish(key, model_bytes(alert))
        remembered = [*already, *(str(a.alert_id) for a in fresh)][-RAISED_KEPT:]
        self.window[key] = _encode(remember(seen, recent, self.limits), remembered)
        return raised

    async def _facts(self, unit_key: str, at: datetime) -> UnitFacts:
        unit = await self.store.unit(unit_key)
        if unit is None:
            return UnitFacts(packed=False, printed_stars=0, batch=None, rating=None, delivery=None)
        batch, rating = await asyncio.gather(
            self.store.batch(unit.batch_id),
            self.store.rating(unit.product_key, unit.producer_id, at),
        )
        delivery = place_of(batch.received_province, None) if batch else None
        return UnitFacts(True, unit.printed_stars, batch, rating, delivery)


def _encode(scans: list[SeenScan], raised: list[str]) -> bytes:
    return json.dumps(
        {
            "scans": [
                {
                    "e": s.event_id,
                    "t": s.at.isoformat(),
                    "d": s.device,
                    "p": None
                    if s.place is None
                    else [s.place.latitude, s.place.longitude, s.place.slack_km, s.place.province],
                }
                for s in scans
            ],
            "raised": raised,
        },
        ensure_ascii=False,
    ).encode("utf-8")


def _decode(data: bytes | None) -> tuple[list[SeenScan], list[str]]:
    """The unit's recent scans and the ids of the alerts it raised lately."""
    if not data:
        return [], []
    held = json.loads(data)
    scans = [
        SeenScan(
            event_id=item["e"],
            at=datetime.fromisoformat(item["t"]),
            device=item["d"],
            place=None if item["p"] is None else Place(*item["p"]),
        )
        for item in held["scans"]
    ]
    return scans, list(held["raised"])
