"""Scan events from the verify API become each unit's scan history (how often, since when).

Scans are not signed: the API records what it saw. A scan that names no unit (a forged or
foreign code) has no unit history to join; it is counted and left to counterfeit analytics.
"""

from __future__ import annotations

from contract import identifiers
from contract.errors import ContractError
from contract.events import ScanRecorded, decode_event
from records.store import RecordWriter
from stream_processors.outcomes import Message, Metrics, Refuser


class ScanIngest:
    def __init__(self, store: RecordWriter, refuse: Refuser, metrics: Metrics) -> None:
        self.store = store
        self.refuse = refuse
        self.metrics = metrics

    async def handle(self, message: Message) -> None:
        self.metrics.processed[message.topic] += 1
        try:
            event = decode_event(message.value)
        except ContractError as exc:
            await self.refuse(message, "malformed", str(exc))
            return
        if not isinstance(event, ScanRecorded):
            await self.refuse(message, "wrong_topic", f"{event.type} is not a scan")
            return
        if event.batch_id is None or event.serial is None:
            return
        product_key, _ = identifiers.split_batch_id(event.batch_id)
        await self.store.record_scan(identifiers.unit_key(product_key, event.serial), event)
