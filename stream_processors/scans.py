"""What the verify API saw: scans become each unit's scan history (each scan, and the totals
the API shows), inspectors' findings each unit's inspection history.

These events are not signed: the API records what it saw, and only the API writes to this
topic. A scan that names no unit (a forged or foreign code) has no history to join: the API
has already given its verdict on it.

Besides corroborated copy alerts (stream_processors.analytics), an inspector's finding that a
unit is counterfeit is copy evidence on it (`inspection:<event id>`): an inspector held the
package. Closing an alert with a finding takes the alert out of the evidence.

A consumer's report (ConsumerReported) becomes a case for the inspectors of the province where
the product was bought (records.cases), linked to the alerts open on its unit when it is
stored; an inspector's CaseClosed closes it. A report is never copy evidence: one client can
report anything.

A consumer's scan the unit's history counts for the first time also counts once in its
province's day (scans_by_province_day, migration 0013: the office's dashboard).

Messages come in micro-batches (`handle_many`, docs/bench_analytics.md): per batch, a unit's
history is taken and put back once, its new scans' rows, its totals and the rows of the
alerts they raised are one statement, each province and day's counter one statement, and
the alerts are published together, so the work per scan shrinks as load grows.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from contract.errors import ContractError
from contract.events import (
    AlertClosed,
    CaseClosed,
    ConsumerReported,
    Event,
    InspectionRecorded,
    InspectionVerdict,
    ScannerKind,
    ScanRecorded,
    decode_event,
)
from contract.label import vietnam_date
from records.cases import CaseWriter
from records.store import INSPECTION_EVIDENCE, RecordWriter, ScansOfUnit
from stream_processors.analytics import BatchAlerts, ScanAnalytics
from stream_processors.detect import client_key
from stream_processors.history import Histories, HistoryStore, MemoryHistories, UnitHistory
from stream_processors.outcomes import Message, Metrics, Refuser, all_done
from stream_processors.places import province_name

FINDINGS_WEIGHED = 50
"""A unit's newest findings read to find the one that decides its copy evidence."""


class ScanIngest:
    def __init__(
        self,
        store: RecordWriter,
        histories: HistoryStore | MutableMapping[bytes, bytes],
        analytics: ScanAnalytics,
        refuse: Refuser,
        metrics: Metrics,
        cases: CaseWriter | None = None,
    ) -> None:
        self.store = store
        self.cases = cases if cases is not None else CaseWriter(store.session)
        """Consumers' cases, on the records' session."""
        if isinstance(histories, MutableMapping):
            histories = MemoryHistories(histories)
        self.histories = Histories(histories)
        """Each unit's UnitHistory by unit key: in the worker, a Faust table's."""
        self.analytics = analytics
        self.refuse = refuse
        self.metrics = metrics

    async def handle(self, message: Message) -> None:
        await self.handle_many([message])

    async def handle_many(self, messages: Sequence[Message]) -> None:
        """A micro-batch of the topic's messages, handled as each would be alone, in order
        for each unit (Kafka key), different units' at once. Scans go in runs (`_scans`); an
        inspection, an alert's closing, a report or a case's closing is handled alone once
        the scans before it are stored (it may need the alerts they raised)."""
        run: list[tuple[Message, Event | ContractError]] = []
        for message in messages:
            try:
                event: Event | ContractError = decode_event(message.value)
            except ContractError as exc:
                event = exc
            if isinstance(event, ScanRecorded | ContractError):
                run.append((message, event))
                continue
            if run:
                await self._scans(run)
                run = []
            await self._other(event, message)
        if run:
            await self._scans(run)
        for topic, handled in Counter(message.topic for message in messages).items():
            self.metrics.count_processed(topic, handled)

    async def _scans(self, run: list[tuple[Message, Event | ContractError]]) -> None:
        """A run of scans (and malformed messages), in three steps. Counting: a unit's scans
        are counted in their order in its history, taken once. Judging: the facts of every
        scan to analyse are read at once (what is not held: stream_processors.unit_facts),
        then each unit's scans are analysed in their order. Storing, for all units at once:
        the stored alerts they raised read (which are new), their rows, the unit's totals
        and its alerts' rows written together (records.store.record_scans), the alerts'
        province and day rows, the alerts published (stream_processors.analytics.
        BatchAlerts), the province day counters moved once per province and day, and the
        histories put back only once all that succeeded: a batch that fails is handled again
        from the histories as they were, and every write here is idempotent but the day
        counters, which are written last (a retry after their write failed may count twice,
        as before: see migration 0013)."""
        groups: dict[bytes, list[tuple[Message, Event | ContractError]]] = {}
        for message, event in run:
            key = (message.key or b"") if isinstance(event, ContractError) else event.topic_key()
            groups.setdefault(key, []).append((message, event))
        batch = _BatchWrites(self.analytics.alerts())
        malformed: list[tuple[Message, ContractError]] = []
        for held in groups.values():
            self._count(held, batch, malformed)
        await all_done(self._other(error, message) for message, error in malformed)
        analysed = [
            (unit, scan)
            for unit in batch.units
            for scan in unit.scans
            if self.analytics.analysed(scan)
        ]
        found = await self.analytics.facts.facts_of(
            [(unit.unit_key, _batch_named(scan), scan.occurred_at) for unit, scan in analysed]
        )
        for (unit, scan), facts in zip(analysed, found, strict=True):
            raised = self.analytics.analyse(scan, unit.unit_key, unit.history, facts)
            batch.alerts.add(unit.unit_key, raised)
        raised_by = await batch.alerts.stored()
        if batch.units:
            await self.store.record_scans(
                ScansOfUnit(unit.unit_key, unit.scans, unit.history.totals,
                            raised_by.get(unit.unit_key, ()))
                for unit in batch.units
            )  # fmt: skip
        await batch.alerts.published()
        if batch.counts:
            await self.store.count_scans(batch.counts)
        for unit in batch.units:
            await self.histories.put(unit.unit_key.encode("utf-8"), unit.history, unit.partition)

    def _count(
        self,
        held: list[tuple[Message, Event | ContractError]],
        batch: _BatchWrites,
        malformed: list[tuple[Message, ContractError]],
    ) -> None:
        """One key's messages of a run, in order: each scan of a unit counted in its history
        (taken once), a malformed message set aside to be refused."""
        unit: _UnitScans | None = None
        for message, event in held:
            if isinstance(event, ContractError):
                malformed.append((message, event))
                continue
            assert isinstance(event, ScanRecorded)  # a run holds scans and malformed messages
            scanned = event.unit_key()
            if scanned is None:  # a scan naming no unit: nothing to do
                continue
            if unit is None:
                history = self.histories.take(scanned.encode("utf-8"))
                unit = _UnitScans(scanned, history, message.partition)
                batch.units.append(unit)
            self._count_scan(event, message, unit.history, batch)
            # its row is written with the batch's (even a replay's, whose first writing may
            # not have happened), and so are the totals and the alerts it raises
            unit.scans.append(event)

    def _count_scan(
        self, event: ScanRecorded, message: Message, history: UnitHistory, batch: _BatchWrites
    ) -> None:
        # a consumer's scans count once per client and window: they are not authenticated
        client = client_key(event.client) if event.scanner is ScannerKind.CONSUMER else None
        window = self.analytics.limits.count_window
        before = history.scans
        if not history.count(str(event.event_id), event.occurred_at, message.offset, client,
                             window):  # fmt: skip
            self.metrics.duplicates[message.topic] += 1  # counted once
        # the province's day counter (the office's dashboard): a consumer's scan the history
        # counted just now, never a replay the history recognises (a counter is not
        # idempotent: see migration 0013 for the one case it can count twice)
        if client is not None and history.scans > before:
            place = _province_name(event.province) if event.province else None
            batch.counts[(place, vietnam_date(event.occurred_at))] += 1

    async def _other(self, event: Event | ContractError, message: Message) -> None:
        if isinstance(event, ContractError):
            await self.refuse(message, "malformed", str(event))
        elif isinstance(event, InspectionRecorded):
            await self._inspection(event)
        elif isinstance(event, AlertClosed):
            if not await self.store.close_alert(event):
                await self.refuse(message, "unknown_alert", f"no alert {event.alert_id} for "
                                  f"{event.unit_key}")  # fmt: skip
        elif isinstance(event, ConsumerReported):
            await self._report(event, message)
        elif isinstance(event, CaseClosed):
            if not await self.cases.close_case(event):
                await self.refuse(message, "unknown_case", f"no case {event.case_id} for "
                                  f"{event.unit_key}")  # fmt: skip
        else:
            await self.refuse(
                message,
                "wrong_topic",
                f"{event.type} is not a scan, inspection, alert closing, report or case closing",
            )

    async def _report(self, event: ConsumerReported, message: Message) -> None:
        # filed where the unit's alerts are: its unit key, or the hash of a code naming none
        filed = event.topic_key().decode("utf-8")
        alerts = await self.store.alerts_for_unit(filed)
        open_alerts = [alert.alert_id for alert in alerts if alert.status == "open"]
        if not await self.cases.open_case(event, open_alerts):
            self.metrics.duplicates[message.topic] += 1  # another copy of a stored report

    async def _inspection(self, event: InspectionRecorded) -> None:
        # one row per finding, however often it was sent: every copy under its first time
        first = await self.store.first_inspection_time(event)
        if first != event.occurred_at:
            event = event.model_copy(update={"occurred_at": first})
        # a finding on a code that names no unit is kept under the code's hash
        await self.store.record_inspection(event.topic_key().decode("ascii"), event)
        unit = event.unit_key()
        if unit is not None:
            await self.store.hold_inspection_evidence(unit, await self._inspectors_word(unit))

    async def _inspectors_word(self, unit: str) -> str | None:
        """The copy evidence inspectors' findings give: the newest finding that says genuine
        or counterfeit decides (a later look at the shelf overrules an earlier one, in
        whatever order the findings arrive); `suspicious` decides nothing."""
        for found in await self.store.inspections(unit, FINDINGS_WEIGHED):
            if found.verdict == InspectionVerdict.COUNTERFEIT:
                return f"{INSPECTION_EVIDENCE}{found.event_id}"
            if found.verdict == InspectionVerdict.GENUINE:
                return None
        return None


@dataclass
class _UnitScans:
    """A unit's scans in a run, its history after them and its partition of the scan topic."""

    unit_key: str
    history: UnitHistory
    partition: int
    scans: list[ScanRecorded] = field(default_factory=list)


@dataclass
class _BatchWrites:
    """What a run of scans writes once its units' messages are handled."""

    alerts: BatchAlerts
    units: list[_UnitScans] = field(default_factory=list)
    counts: Counter[tuple[str | None, date]] = field(default_factory=Counter)


def _batch_named(scan: ScanRecorded) -> str:
    assert scan.batch_id is not None  # a scan that names a unit names its batch
    return scan.batch_id


@functools.lru_cache(maxsize=1024)
def _province_name(text: str) -> str | None:
    """province_name, remembered (it folds the text's diacritics)."""
    return province_name(text)
