"""What the verify API saw: scans become each unit's scan history (how often, since when),
inspectors' findings each unit's inspection history.

These events are not signed: the API records what it saw, and only the API writes to this
topic. A scan that names no unit (a forged or foreign code) has no history to join; it is
left to counterfeit analytics.
"""

from __future__ import annotations

import asyncio

from contract.errors import ContractError
from contract.events import AlertClosed, InspectionRecorded, ScanRecorded, decode_event
from records.store import RecordWriter
from stream_processors.analytics import ScanAnalytics
from stream_processors.outcomes import Message, Metrics, Refuser


class ScanIngest:
    def __init__(
        self, store: RecordWriter, analytics: ScanAnalytics, refuse: Refuser, metrics: Metrics
    ) -> None:
        self.store = store
        self.analytics = analytics
        self.refuse = refuse
        self.metrics = metrics

    async def handle(self, message: Message) -> None:
        self.metrics.processed[message.topic] += 1
        try:
            event = decode_event(message.value)
        except ContractError as exc:
            await self.refuse(message, "malformed", str(exc))
            return
        if isinstance(event, InspectionRecorded):
            # a finding on a code that names no unit is kept under the code's hash
            await self.store.record_inspection(event.topic_key().decode("ascii"), event)
        elif isinstance(event, ScanRecorded):
            unit = event.unit_key()
            stored = self.store.record_scan(unit, event) if unit is not None else _nothing()
            # independent: the history write runs while the scan is analysed
            _, alerts = await asyncio.gather(stored, self.analytics.analyse(event))
            for alert in alerts:
                self.metrics.alerts[alert.kind.value] += 1
        elif isinstance(event, AlertClosed):
            if not await self.store.close_alert(event):
                await self.refuse(message, "unknown_alert", f"no alert {event.alert_id} for "
                                  f"{event.unit_key}")  # fmt: skip
        else:
            await self.refuse(
                message, "wrong_topic", f"{event.type} is not a scan, inspection or alert closing"
            )


async def _nothing() -> None:
    """A code that names no unit has no history to join."""
