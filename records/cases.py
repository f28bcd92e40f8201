"""Consumers' cases: the reports consumers file about suspected fakes, kept for inspectors
(tables in infra/migrations/0009_cases.cql).

`CaseReader` answers the verify API (a case by id, a province's cases on a day, a unit's
cases), one partition read each. `CaseWriter` adds the writes, which only the scan processor
makes (stream_processors.scans): a report opens a case, an inspector's CaseClosed closes it.

Idempotent: a case's key is its report's event id, deterministic per client, unit and day,
so every copy of a report is one case. The case's own row is claimed with a lightweight
transaction, so its first stored copy's facts stand (its time, its note, the alerts open
then); the province-and-day and unit rows are then written from whatever the case's row
holds, so a crash between the writes is mended by the replay, never duplicated. The status
is written only by a closing (null is open), so a replayed report never reopens a case. The
consumer's contact is kept in the case's own row only: lists say whether there is one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType

from contract.events import CaseClosed, ConsumerReported
from contract.label import vietnam_date
from records.session import run

OPEN = "open"
CLOSED = "closed"

DAY_READ_LIMIT = 5_000
"""The most cases one read of a province's day returns (a status filter applies after it)."""


@dataclass(frozen=True)
class CaseRow:
    """A case as the API shows it to inspectors."""

    case_id: UUID
    receipt: str
    unit_key: str
    """A unit key, or the hash of a code that names no unit."""
    code: str
    """What the consumer's code read, as sent."""
    reason: str
    """What verification answered for the code when it was reported."""
    reported_at: datetime
    day: date
    province: str
    shop: str
    problem: str
    note: str | None
    has_contact: bool
    alert_ids: tuple[UUID, ...]
    """The unit's alerts that were open when the case was stored."""
    status: str  # open | closed
    closed_at: datetime | None = None
    closed_by: str | None = None
    finding: str | None = None
    closing_note: str | None = None
    contact: str | None = None
    """Only from `CaseReader.case` (the case's own row)."""
    closing_event_id: UUID | None = None
    """Only from `CaseReader.case`: the closing that stands."""


_FACTS = ("receipt", "unit_key", "code", "reason", "reported_at", "day", "province", "shop",
          "problem", "note")  # fmt: skip
_CLOSING = ("status", "closed_at", "closed_by", "finding", "closing_note")


def _unset_none(values: Iterable[Any]) -> list[Any]:
    """None (and an empty set) is 'not set' rather than a null, which is a tombstone."""
    return [UNSET_VALUE if value is None or value == frozenset() else value for value in values]


def _row(row: Any, **known: Any) -> CaseRow:
    values = {name: known[name] if name in known else getattr(row, name, None)
              for name in ("case_id", *_FACTS, *_CLOSING)}  # fmt: skip
    contact = getattr(row, "contact", None)
    has_contact = getattr(row, "has_contact", None)
    return CaseRow(
        **values | {"status": values["status"] or OPEN},
        has_contact=bool(contact) if has_contact is None else bool(has_contact),
        alert_ids=tuple(sorted(row.alert_ids or ())),
        contact=contact,
        closing_event_id=getattr(row, "closing_event_id", None),
    )


def _reported(report: ConsumerReported, unit_key: str, alert_ids: Sequence[UUID]) -> CaseRow:
    return CaseRow(
        case_id=report.event_id, receipt=report.receipt, unit_key=unit_key, code=report.code,
        reason=report.reason.value, reported_at=report.occurred_at,
        day=vietnam_date(report.occurred_at), province=report.province, shop=report.shop,
        problem=report.problem.value, note=report.note, has_contact=report.contact is not None,
        alert_ids=tuple(sorted(alert_ids)), status=OPEN, contact=report.contact,
    )  # fmt: skip


class CaseReader:
    def __init__(self, session: Session) -> None:
        self.session = session
        p = session.prepare
        self._case = p(
            "SELECT case_id, receipt, unit_key, code, reason, reported_at, day, province, shop, "
            "problem, note, contact, client, alert_ids, status, closed_at, closed_by, finding, "
            "closing_note, closing_event_id FROM cases WHERE case_id = ?"
        )
        self._on_day = p(
            "SELECT case_id, receipt, unit_key, code, reason, reported_at, shop, problem, note, "
            "has_contact, alert_ids, status, closed_at, closed_by, finding, closing_note "
            "FROM cases_by_province_day WHERE province = ? AND day = ? LIMIT ?"
        )
        self._for_unit = p(
            "SELECT case_id, receipt, code, reason, reported_at, day, province, shop, problem, "
            "note, has_contact, alert_ids, status, closed_at, closed_by, finding, closing_note "
            "FROM cases_by_unit WHERE unit_key = ? LIMIT ?"
        )

    async def case(self, case_id: UUID) -> CaseRow | None:
        rows = await run(self.session, self._case, (case_id,))
        return _row(rows[0]) if rows and rows[0].receipt is not None else None

    async def cases_on(
        self, province: str, day: date, limit: int = DAY_READ_LIMIT
    ) -> list[CaseRow]:
        """The cases of a province on a day in Vietnam, newest first."""
        rows = await run(self.session, self._on_day, (province, day, limit))
        return [_row(row, province=province, day=day) for row in rows if row.receipt]

    async def cases_for_unit(self, unit_key: str, limit: int = 200) -> list[CaseRow]:
        """The cases on a unit (or a code's hash), newest first."""
        rows = await run(self.session, self._for_unit, (unit_key, limit))
        return [_row(row, unit_key=unit_key) for row in rows if row.receipt]


class CaseWriter(CaseReader):
    """The scan processor's writes. Nothing else writes cases."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        p = session.prepare
        self._claim = p(
            "INSERT INTO cases (case_id, receipt, unit_key, code, reason, reported_at, day, "
            "province, shop, problem, note, contact, client, alert_ids) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self._file_on_day = p(
            "INSERT INTO cases_by_province_day (province, day, reported_at, case_id, receipt, "
            "unit_key, code, reason, shop, problem, note, has_contact, alert_ids) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._file_on_unit = p(
            "INSERT INTO cases_by_unit (unit_key, reported_at, case_id, receipt, code, reason, "
            "day, province, shop, problem, note, has_contact, alert_ids) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._close = p(
            "UPDATE cases SET status = 'closed', closed_at = ?, closed_by = ?, finding = ?, "
            "closing_note = ?, closing_event_id = ? WHERE case_id = ?"
        )
        self._close_on_day = p(
            "UPDATE cases_by_province_day SET status = 'closed', closed_at = ?, closed_by = ?, "
            "finding = ?, closing_note = ? "
            "WHERE province = ? AND day = ? AND reported_at = ? AND case_id = ?"
        )
        self._close_on_unit = p(
            "UPDATE cases_by_unit SET status = 'closed', closed_at = ?, closed_by = ?, "
            "finding = ?, closing_note = ? WHERE unit_key = ? AND reported_at = ? AND case_id = ?"
        )

    async def open_case(self, report: ConsumerReported, alert_ids: Sequence[UUID]) -> bool:
        """File a report as a case, linked to `alert_ids` (the unit's open alerts); True if
        it is new. A copy of a stored report changes nothing but mends missing list rows."""
        unit_key = report.topic_key().decode("utf-8")
        values = (
            report.event_id, report.receipt, unit_key, report.code, report.reason.value,
            report.occurred_at, vietnam_date(report.occurred_at), report.province, report.shop,
            report.problem.value, report.note, report.contact, report.client,
            frozenset(alert_ids),
        )  # fmt: skip
        [result] = await run(self.session, self._claim, _unset_none(values))
        new = bool(result.applied)
        # not applied: the driver returns the stored row, whose first copy stands
        case = _reported(report, unit_key, alert_ids) if new else _row(result)
        listed = (case.receipt, case.code, case.reason, case.shop, case.problem, case.note,
                  case.has_contact, frozenset(case.alert_ids))  # fmt: skip
        on_day = (case.province, case.day, case.reported_at, case.case_id, case.receipt,
                  case.unit_key, *listed[1:])  # fmt: skip
        on_unit = (case.unit_key, case.reported_at, case.case_id, case.receipt, case.code,
                   case.reason, case.day, case.province, *listed[3:])  # fmt: skip
        await asyncio.gather(
            run(self.session, self._file_on_day, _unset_none(on_day)),
            run(self.session, self._file_on_unit, _unset_none(on_unit)),
        )
        return new

    async def close_case(self, closing: CaseClosed) -> bool:
        """Close a case with an inspector's finding; False if there is no such case. The
        first closing stands: any later one, a copy of it included, changes nothing (its
        three rows are one logged batch, so a case's row that names its closing means all
        three have it)."""
        case = await self.case(closing.case_id)
        if case is None:
            return False
        if case.closing_event_id is not None:
            return True
        done = (closing.occurred_at, closing.inspector_id, closing.finding.value, closing.note)
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._close, _unset_none((*done, closing.event_id, case.case_id)))
        batch.add(self._close_on_day, _unset_none(
            (*done, case.province, case.day, case.reported_at, case.case_id)))  # fmt: skip
        batch.add(self._close_on_unit, _unset_none(
            (*done, case.unit_key, case.reported_at, case.case_id)))  # fmt: skip
        await run(self.session, batch)
        return True
