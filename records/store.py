"""Every query on the records' tables, prepared once per session.

`RecordReader` answers the questions of the verify API and of the processors' rules, each
with one partition read. `RecordWriter` adds the writes, which only processors make. Writes
are idempotent: keys are deterministic, so a replayed event overwrites what it wrote before
with the same values.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType, Statement
from pydantic import TypeAdapter

from contract.alerts import Alert
from contract.certification import (
    CertificationRevocation,
    Standing,
    StandingOverTime,
    StarCertification,
)
from contract.encoding import decode_model, model_bytes
from contract.events import (
    AlertClosed,
    InspectionRecorded,
    InspectorRegistered,
    ProducerRegistered,
    ProductRegistered,
    ScanRecorded,
)
from contract.signed import Signed, signed_type
from keys.chain import ChainRecord
from records.rows import (
    AlertRow,
    BatchState,
    Inspection,
    Inspector,
    Producer,
    Product,
    ScanSummary,
    StoredCertification,
    Unit,
    UnitActivity,
)
from records.session import (
    bound,
    chunks_by_group,
    prepare_read,
    replica_chunks,
    replicas_of,
    run,
    run_each,
)

TRUST_SCOPE = "ocop"
INSPECTION_EVIDENCE = "inspection:"
"""The prefix of an inspector's finding among a unit's copy evidence (the rest: alert ids)."""
NO_PLACE = "-"
"""The province of scans_by_province_day's scans that offered no place. Migration 0013 says
'', but the table's partition key is the province alone, and Cassandra refuses an empty
partition key ("Key may not be empty"): every such scan failed and was retried for ever."""

_BATCH_STATICS = (
    "product_key",
    "producer_id",
    "lot",
    "production_date",
    "expiry_date",
    "raw_materials",
    "planned_units",
    "units_packed",
    "status",
    "recalled_at",
    "recall_reason",
    "received_province",
    "head_seq",
    "head_hash",
)
_UNIT_COLUMNS = (
    "unit_key",
    "batch_id",
    "product_key",
    "producer_id",
    "serial",
    "printed_stars",
    "key_id",
    "packed_on",
    "seq",
)
_unit_values = operator.attrgetter(*_UNIT_COLUMNS)
"""A unit's values in the order of _UNIT_COLUMNS, by name."""
_PRODUCER_COLUMNS = (
    "producer_id",
    "name",
    "kind",
    "address",
    "commune",
    "district",
    "province",
    "gln",
    "authority_id",
    "registered_at",
)
_PRODUCT_COLUMNS = (
    "product_key",
    "producer_id",
    "name",
    "name_en",
    "product_group",
    "description",
    "image_url",
    "authority_id",
    "registered_at",
    "brand",
    "standards",
)
_INSPECTION_COLUMNS = (
    "inspected_at",
    "inspector_id",
    "code",
    "stars_seen",
    "verdict",
    "reason",
    "place",
    "province",
    "note",
    "event_id",
)
_SIGNED_CERTIFICATION = TypeAdapter(signed_type(StarCertification))
_SIGNED_REVOCATION = TypeAdapter(signed_type(CertificationRevocation))


def _unset_none(values: Iterable[Any]) -> list[Any]:
    """None becomes 'not set' rather than a null, which Cassandra would store as a tombstone."""
    return [UNSET_VALUE if value is None else value for value in values]


UNIT_ROWS_AT_ONCE = 16
"""Scan rows of one unit in one unlogged batch: about 4 kB. A unit with more is written in
batches of its own; one with fewer shares a batch with others (UNITS_AT_ONCE)."""
UNITS_AT_ONCE = 32
"""Units whose writes share one unlogged batch at most, their partitions stored on the same
nodes (`record_scans`): a request for each unit was most of what the scan processor spent
in the driver (docs/bench_analytics.md, session 12). Cassandra's
unlogged_batch_across_partitions_warn_threshold is set to it (infra/templates/
cassandra.yaml)."""
BATCH_BYTES = 16 * 1024
"""A shared batch's size at most, as `_unit_bytes` estimates it (more than Cassandra counts:
an alert's writes were underestimated at 256 bytes and its details, by up to 9 %), the
batch_size_warn_threshold set in infra/templates/cassandra.yaml; a batch above the fail
threshold, 50 KiB, would be refused and its micro-batch tried again for ever."""
DAY_ROWS_AT_ONCE = 8
"""A province and day's alert rows in one unlogged batch: about 4 KiB as Cassandra counts
a mutation (16 rows, with their details, measured 7.9 KiB and drew its warning)."""


@dataclass(frozen=True)
class StoredAlert:
    """What alerts_by_unit holds of an alert, as a later raising of its id needs it (the
    first raising stands)."""

    province: str | None
    day: date
    raised_at: datetime
    detail: str
    clients: int
    corroborated: bool
    closed: bool
    scan_event_id: UUID | None


@dataclass(frozen=True)
class AlertRaised:
    """An alert a scan raised, with what alerts_by_unit held for its id before it
    (`RecordWriter.stored_alerts`): None, and the alert is new; else the stored one stands."""

    alert: Alert
    day: date
    stored: StoredAlert | None

    @property
    def new(self) -> bool:
        return self.stored is None


@dataclass(frozen=True)
class ScansOfUnit:
    """A unit's new scans, its totals after them and the alerts they raised, written
    together (`record_scans`)."""

    unit_key: str
    scans: Sequence[ScanRecorded]
    totals: ScanSummary
    alerts: Sequence[AlertRaised] = ()


def _partition_batches(
    statement: Statement, rows: Sequence[Any], most: int = UNIT_ROWS_AT_ONCE
) -> list[BatchStatement]:
    """One partition's rows of `statement` in unlogged batches of `most` (one mutation each,
    under Cassandra's batch size warning); at least one batch, empty if there are no rows,
    for the caller to add the partition's other writes to."""
    batches = []
    for start in range(0, max(len(rows), 1), most):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for row in rows[start : start + most]:
            batch.add(bound(statement, row))
        batches.append(batch)
    return batches


def _unit_bytes(unit_rows: tuple[ScansOfUnit, list[Any]]) -> int:
    """A generous estimate of a unit's writes in a batch (UNITS_AT_ONCE, BATCH_BYTES): its
    scan rows, its totals and the partition, its alerts with their details."""
    unit, rows = unit_rows
    alerts = sum(512 + len(raised.alert.detail.encode("utf-8")) for raised in unit.alerts)
    return 128 + 256 * len(rows) + alerts


def _scan_row(unit_key: str, scan: ScanRecorded) -> list[Any]:
    where = scan.location
    return _unset_none((
        unit_key, scan.occurred_at, scan.event_id, scan.reason.value, scan.scanner.value,
        where and where.latitude_e6, where and where.longitude_e6, where and where.accuracy_m,
        where and where.source.value, scan.province, scan.device,
    ))  # fmt: skip


def run_statements(
    session: Session, statements: Sequence[Statement], concurrency: int = 128
) -> asyncio.Future[list[Any]]:
    """Execute different statements (bound, or batches), `concurrency` in flight, awaited as
    one: records.session.run_each for statements that are not one prepared statement's rows.
    The driver's callbacks start the next statements on its I/O thread and the event loop is
    woken once, when none is in flight any more (after a failure no more are started; the
    future then holds the first failure). The future holds each statement's answer (the rows
    of its first page: the reads here ask for a few rows), in the statements' order."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()
    lock = threading.Lock()
    answers: list[Any] = [None] * len(statements)
    started = in_flight = 0
    failure: BaseException | None = None

    def start() -> None:
        nonlocal started, in_flight
        with lock:
            if failure is not None or started == len(statements):
                if in_flight == 0 and not done.done():
                    loop.call_soon_threadsafe(_settle_all, done, answers, failure)
                return
            index = started
            started += 1
            in_flight += 1
        try:
            response = session.execute_async(statements[index])
        except Exception as exc:  # reported through the future, like a failed answer
            finished(exc)
            return
        response.add_callbacks(functools.partial(answered, index), finished)

    def answered(index: int, rows: Any) -> None:  # on the driver's thread
        answers[index] = rows
        finished(None)

    def finished(exc: BaseException | None) -> None:
        nonlocal in_flight, failure
        with lock:
            in_flight -= 1
            if exc is not None and failure is None:
                failure = exc
        start()

    for _ in range(max(1, min(concurrency, len(statements)))):
        start()
    return done


def _settle_all(
    done: asyncio.Future[list[Any]], answers: list[Any], failure: BaseException | None
) -> None:
    if done.done():
        return
    if failure is not None:
        done.set_exception(failure)
    else:
        done.set_result(answers)


class RecordReader:
    def __init__(self, session: Session) -> None:
        self.session = session
        p = functools.partial(prepare_read, session)
        self._batch = p(
            f"SELECT batch_id, {', '.join(_BATCH_STATICS)} FROM batch_records "
            "WHERE batch_id = ? LIMIT 1"
        )
        self._chain = p(
            "SELECT batch_id, seq, event, prev_hash, record_hash, seal, sealed_by "
            "FROM batch_records WHERE batch_id = ?"
        )
        self._event_seq = p(
            "SELECT seq FROM batch_event_hashes WHERE batch_id = ? AND content_hash = ?"
        )
        self._unit = p(f"SELECT {', '.join(_UNIT_COLUMNS)} FROM units WHERE unit_key = ?")
        self._units = p(f"SELECT {', '.join(_UNIT_COLUMNS)} FROM units WHERE unit_key IN ?")
        self._producer = p(
            f"SELECT {', '.join(_PRODUCER_COLUMNS)} FROM producers WHERE producer_id = ?"
        )
        self._product = p(
            f"SELECT {', '.join(_PRODUCT_COLUMNS)} FROM products WHERE product_key = ?"
        )
        self._certifications = p(
            "SELECT certification, revocation FROM certifications WHERE product_key = ?"
        )
        self._trust_list = p("SELECT document FROM trust_lists WHERE scope = ? LIMIT 1")
        self._seal_keys = p("SELECT key_id, public_key FROM seal_keys")
        self._ping = p("SELECT release_version FROM system.local")
        self._inspector = p(
            "SELECT inspector_id, name, role, authority_id, active, province "
            "FROM inspectors_by_token "
            "WHERE token_sha256 = ?"
        )
        self._inspections = p(
            f"SELECT {', '.join(_INSPECTION_COLUMNS)} FROM inspections_by_unit "
            "WHERE unit_key = ? LIMIT ?"
        )
        self._unit_alerts = p(
            "SELECT unit_key, alert_id, kind, raised_at, province, detail, status, closed_by, "
            "finding, day, clients, corroborated FROM alerts_by_unit WHERE unit_key = ?"
        )
        self._day_alerts = p(
            "SELECT unit_key, alert_id, kind, raised_at, detail, status, clients, corroborated "
            "FROM alerts_by_province_day WHERE province = ? AND day = ? LIMIT ?"
        )
        self._activity = p(
            "SELECT scans, first_scan, last_scan, open_alerts, copy_evidence FROM unit_activity "
            "WHERE unit_key = ?"
        )
        self._scans_by_day = p(
            "SELECT day, scans FROM scans_by_province_day "
            "WHERE province = ? AND day >= ? AND day <= ?"
        )

    async def batch(self, batch_id: str) -> BatchState | None:
        rows = await run(self.session, self._batch, (batch_id,))
        if not rows or rows[0].head_seq is None:
            return None
        row = rows[0]
        return BatchState(
            batch_id=row.batch_id,
            **{name: getattr(row, name) for name in _BATCH_STATICS},
        )

    async def chain(self, batch_id: str) -> list[ChainRecord]:
        rows = await run(self.session, self._chain, (batch_id,))
        return [
            ChainRecord(r.batch_id, r.seq, r.event, r.prev_hash, r.record_hash, r.seal, r.sealed_by)
            for r in rows
            if r.seq is not None
        ]

    async def event_seq(self, batch_id: str, content_hash: str) -> int | None:
        rows = await run(self.session, self._event_seq, (batch_id, content_hash))
        return rows[0].seq if rows else None

    async def unit(self, unit_key: str) -> Unit | None:
        rows = await run(self.session, self._unit, (unit_key,))
        return Unit(*rows[0]) if rows else None

    async def units(self, unit_keys: Iterable[str]) -> dict[str, Unit]:
        """The units of these keys that are stored, by key: KEYS_AT_ONCE in one read
        (records.session.replica_chunks), all reads at once."""
        chunks = replica_chunks(self.session, self._unit, unit_keys)
        answers = await run_statements(self.session, [self._units.bind((c,)) for c in chunks])
        return {row.unit_key: Unit(*row) for rows in answers for row in rows or ()}

    async def producer(self, producer_id: str) -> Producer | None:
        rows = await run(self.session, self._producer, (producer_id,))
        return Producer(*rows[0]) if rows else None

    async def product(self, product_key: str) -> Product | None:
        rows = await run(self.session, self._product, (product_key,))
        if not rows:
            return None
        row = rows[0]
        columns = {name: getattr(row, name) for name in _PRODUCT_COLUMNS}
        return Product(**columns | {"standards": tuple(row.standards or ())})

    async def certifications(self, product_key: str) -> list[StoredCertification]:
        """Every certification of the product, with its revocation, as the authority signed it."""
        rows = await run(self.session, self._certifications, (product_key,))
        stored = []
        for row in rows:
            if row.certification is None:  # a revocation that arrived before its award
                continue
            revocation = (
                decode_model(_SIGNED_REVOCATION, row.revocation).body if row.revocation else None
            )
            stored.append(
                StoredCertification(
                    certification=decode_model(_SIGNED_CERTIFICATION, row.certification).body,
                    certification_document=row.certification,
                    revocation=revocation,
                    revocation_document=row.revocation,
                )
            )
        return stored

    async def standing(self, product_key: str, producer_id: str, at: datetime) -> Standing:
        """What the producer's star claims on the product are judged against at `at`."""
        return standing_of(await self.certifications(product_key), producer_id, at)

    async def ping(self) -> None:
        """One read that needs no data of ours: does Cassandra answer at all?"""
        await run(self.session, self._ping)

    async def latest_trust_list(self) -> bytes | None:
        rows = await run(self.session, self._trust_list, (TRUST_SCOPE,))
        return rows[0].document if rows else None

    async def seal_keys(self) -> dict[str, str]:
        return {row.key_id: row.public_key for row in await run(self.session, self._seal_keys)}

    async def inspector(self, token_sha256: str) -> Inspector | None:
        rows = await run(self.session, self._inspector, (token_sha256,))
        return Inspector(*rows[0]) if rows else None

    async def inspections(self, unit_key: str, limit: int = 50) -> list[Inspection]:
        return [
            Inspection(*row)
            for row in await run(self.session, self._inspections, (unit_key, limit))
        ]

    async def alerts_for_unit(self, unit_key: str) -> list[AlertRow]:
        rows = await run(self.session, self._unit_alerts, (unit_key,))
        return [_alert_row(row, row.province) for row in rows]

    async def alerts_on(self, province: str | None, day: date, limit: int = 500) -> list[AlertRow]:
        """The alerts raised in a province (None: where the place was unknown) on a day."""
        rows = await run(self.session, self._day_alerts, (province or "", day, limit))
        return [_alert_row(row, province) for row in rows]

    async def scans_by_day(self, province: str | None, first: date, last: date) -> dict[date, int]:
        """Consumers' scans counted in a province (None: no place offered) on each day from
        `first` to `last` (one partition; days without scans are absent)."""
        rows = await run(self.session, self._scans_by_day, (province or NO_PLACE, first, last))
        return {row.day: row.scans for row in rows}

    async def unit_activity(self, unit_key: str) -> UnitActivity:
        rows = await run(self.session, self._activity, (unit_key,))
        if not rows:
            return UnitActivity(ScanSummary(0, None, None))
        row = rows[0]
        return UnitActivity(
            ScanSummary(row.scans or 0, row.first_scan, row.last_scan),
            frozenset((row.open_alerts or {}).values()),
            frozenset(row.copy_evidence or ()),
        )


def standing_of(stored: list[StoredCertification], producer_id: str, at: datetime) -> Standing:
    """Of a product's stored certifications, the producer's standing at `at`."""
    return standings_of(stored, producer_id).at(at)


def standings_of(stored: list[StoredCertification], producer_id: str) -> StandingOverTime:
    """Of a product's stored certifications, the producer's standing at any moment."""
    return StandingOverTime(
        [s.certification for s in stored if s.certification.producer_id == producer_id],
        {s.certification.certificate_no: s.revocation for s in stored if s.revocation},
    )


def _alert_row(row: Any, province: str | None) -> AlertRow:
    return AlertRow(
        unit_key=row.unit_key,
        alert_id=row.alert_id,
        kind=row.kind,
        raised_at=row.raised_at,
        province=province,
        detail=row.detail,
        status=row.status or "open",
        closed_by=getattr(row, "closed_by", None),
        finding=getattr(row, "finding", None),
        clients=row.clients or 1,  # null: stored before clients were counted
        corroborated=bool(row.corroborated),
    )


@dataclass(frozen=True)
class ChainHead:
    """A batch's head as the store holds it; all None where there is no batch yet."""

    seq: int | None
    hash: bytes | None
    content_hash: str | None
    """Of the head's event; None for heads written before migration 0006."""


class HeadMoved(Exception):
    """A conditional append was refused: the batch's head is not the one the record links
    to. Either another writer got there first (read again and judge again), or the head is
    this very event (`found.content_hash`), recorded by a write whose hash row is missing."""

    def __init__(self, batch_id: str, expected_seq: int | None, found: ChainHead) -> None:
        super().__init__(
            f"batch {batch_id}: the append expected head {expected_seq}, found {found.seq}"
        )
        self.batch_id = batch_id
        self.expected_seq = expected_seq
        self.found = found


class RecordWriter(RecordReader):
    """The processors' writes. Nothing else in the system writes records."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        p = session.prepare
        record_columns = (
            "event_type",
            "event",
            "prev_hash",
            "record_hash",
            "seal",
            "sealed_by",
            "recorded_at",
            *_BATCH_STATICS,
        )
        # one conditional write of the record and the head it advances (see append)
        self._append = p(
            f"UPDATE batch_records SET {', '.join(f'{c} = ?' for c in record_columns)}, "
            "head_content_hash = ? WHERE batch_id = ? AND seq = ? "
            "IF head_seq = ? AND head_hash = ? AND head_content_hash != ?"
        )
        self._head = p(
            "SELECT head_seq, head_hash, head_content_hash FROM batch_records "
            "WHERE batch_id = ? LIMIT 1"
        )
        self._remember = p(
            "INSERT INTO batch_event_hashes (batch_id, content_hash, seq) VALUES (?, ?, ?)"
        )
        self._write_unit = p(
            f"INSERT INTO units ({', '.join(_UNIT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_UNIT_COLUMNS))})"
        )
        self._write_producer = p(
            f"INSERT INTO producers ({', '.join(_PRODUCER_COLUMNS)}, event_id) "
            f"VALUES ({', '.join('?' * len(_PRODUCER_COLUMNS))}, ?)"
        )
        self._write_product = p(
            f"INSERT INTO products ({', '.join(_PRODUCT_COLUMNS)}, event_id) "
            f"VALUES ({', '.join('?' * len(_PRODUCT_COLUMNS))}, ?)"
        )
        self._write_certification = p(
            "INSERT INTO certifications (product_key, certificate_no, producer_id, stars, score, "
            "level, decision_no, authority_id, issued_at, valid_from, valid_until, certification) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._write_revocation = p(
            "UPDATE certifications SET revoked_at = ?, revocation = ? "
            "WHERE product_key = ? AND certificate_no = ?"
        )
        self._write_trust_list = p(
            "INSERT INTO trust_lists (scope, version, issued_at, next_update, document) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        self._write_seal_key = p(
            "INSERT INTO seal_keys (key_id, public_key, first_used) VALUES (?, ?, ?) IF NOT EXISTS"
        )
        self._write_scan = p(
            "INSERT INTO scans_by_unit (unit_key, scanned_at, event_id, reason, scanner, "
            "latitude_e6, longitude_e6, accuracy_m, location_source, province, device) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._write_scan_totals = p(
            "UPDATE unit_activity SET scans = ?, first_scan = ?, last_scan = ? WHERE unit_key = ?"
        )
        self._count_scan = p(
            "UPDATE scans_by_province_day SET scans = scans + 1 WHERE province = ? AND day = ?"
        )
        self._count_scans = p(
            "UPDATE scans_by_province_day SET scans = scans + ? WHERE province = ? AND day = ?"
        )
        self._open_alert = p(
            "UPDATE unit_activity SET open_alerts = open_alerts + ? WHERE unit_key = ?"
        )
        self._forget_alert = p(
            "UPDATE unit_activity SET open_alerts = open_alerts - ?, "
            "copy_evidence = copy_evidence - ? WHERE unit_key = ?"
        )
        self._add_evidence = p(
            "UPDATE unit_activity SET copy_evidence = copy_evidence + ? WHERE unit_key = ?"
        )
        self._drop_evidence = p(
            "UPDATE unit_activity SET copy_evidence = copy_evidence - ? WHERE unit_key = ?"
        )
        self._unit_alert = p(
            "SELECT province, day, raised_at, status, corroborated FROM alerts_by_unit "
            "WHERE unit_key = ? AND alert_id = ?"
        )
        self._stored_alerts = p(
            "SELECT unit_key, alert_id, province, day, raised_at, detail, clients, corroborated, "
            "status, scan_event_id FROM alerts_by_unit WHERE unit_key IN ? AND alert_id IN ?"
        )
        self._write_unit_alert = p(
            "INSERT INTO alerts_by_unit (unit_key, alert_id, kind, raised_at, day, province, "
            "detail, scan_event_id, clients, corroborated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._write_day_alert = p(
            "INSERT INTO alerts_by_province_day (province, day, raised_at, alert_id, unit_key, "
            "kind, detail, clients, corroborated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._corroborate_unit_alert = p(
            "UPDATE alerts_by_unit SET detail = ?, clients = ?, corroborated = true "
            "WHERE unit_key = ? AND alert_id = ?"
        )
        self._corroborate_day_alert = p(
            "UPDATE alerts_by_province_day SET detail = ?, clients = ?, corroborated = true "
            "WHERE province = ? AND day = ? AND raised_at = ? AND alert_id = ?"
        )
        self._close_unit_alert = p(
            "UPDATE alerts_by_unit SET status = 'closed', closed_at = ?, closed_by = ?, "
            "finding = ?, note = ? WHERE unit_key = ? AND alert_id = ?"
        )
        self._close_day_alert = p(
            "UPDATE alerts_by_province_day SET status = 'closed' "
            "WHERE province = ? AND day = ? AND raised_at = ? AND alert_id = ?"
        )
        self._write_inspector = p(
            "INSERT INTO inspectors_by_token (token_sha256, inspector_id, name, role, "
            "authority_id, active, registered_at, province) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._claim_inspection_time = p(
            "INSERT INTO inspection_times (event_id, inspected_at) VALUES (?, ?) IF NOT EXISTS"
        )
        self._write_inspection = p(
            "INSERT INTO inspections_by_unit "
            f"(unit_key, {', '.join(_INSPECTION_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(_INSPECTION_COLUMNS))})"
        )

    async def append(
        self, record: ChainRecord, event_type: str, content_hash: str, state: BatchState
    ) -> None:
        """Add a record and move the batch's head and facts to `state`, all or nothing, only
        if the head is still the one the record links to; raises HeadMoved otherwise.

        A worker that stalled past its session timeout may wake up after its partition moved
        to another worker, so the head it read may be stale. The record and the statics are
        one UPDATE of one partition, made a lightweight transaction on the head: record 1
        requires no head at all (`head_seq = null`, true while the partition does not exist),
        record n requires head n-1 with the hash the record links to. One conditional
        statement per append; nothing else writes batch_records, so no plain write races it.

        The content-hash row lives in another table (another partition), which a conditional
        batch cannot span, so the caller writes it (`remember`) once this returned: a hash
        row always means its record exists, which is what lets a replay be recognised on its
        strength. Until the row is written (a crash or stall in between), the head itself
        names the event: `head_content_hash`, set by the same write, must differ from the
        writer's content hash, so a replay of the head's event is refused with HeadMoved
        carrying that hash, and the caller recognises it and writes the row (`remember`).
        Moving the hashes into the partition instead (a static map) would have left the
        rows of batches written before, and every reader of them, behind.
        """
        expected_seq = record.seq - 1 if record.seq > 1 else None
        expected_hash = record.prev_hash if record.seq > 1 else None
        values = _unset_none(
            (
                event_type,
                record.event,
                record.prev_hash,
                record.record_hash,
                record.seal,
                record.sealed_by,
                datetime.now(UTC),
                *(getattr(state, name) for name in _BATCH_STATICS),
                content_hash,
                record.batch_id,
                record.seq,
            )
        )
        [result] = await run(
            self.session,
            self._append,
            (*values, expected_seq, expected_hash, content_hash),
        )
        if not result.applied:
            # a refused conditional write returns the columns of its condition as they are
            found = ChainHead(
                getattr(result, "head_seq", None),
                getattr(result, "head_hash", None),
                getattr(result, "head_content_hash", None),
            )
            raise HeadMoved(record.batch_id, expected_seq, found)

    async def remember(self, batch_id: str, content_hash: str, seq: int) -> None:
        """That the batch's record `seq` holds the event with this content hash. Only once
        the record is stored: by append, or by whoever finds the record without its row."""
        await run(self.session, self._remember, (batch_id, content_hash, seq))

    async def head(self, batch_id: str) -> ChainHead | None:
        """The batch's head as stored, with its event's content hash; None if no batch."""
        rows = await run(self.session, self._head, (batch_id,))
        if not rows or rows[0].head_seq is None:
            return None
        row = rows[0]
        return ChainHead(row.head_seq, row.head_hash, row.head_content_hash)

    async def write_units(self, units: Iterable[Unit]) -> int:
        """Every unit's row (one partition each, so one statement each: no batch), with the
        least CPU on the caller's loop (records.session.run_each)."""
        return await run_each(
            self.session,
            self._write_unit,
            [_unit_values(unit) for unit in units],
        )

    async def register_producer(self, event: ProducerRegistered) -> None:
        values = (
            event.producer_id,
            event.name,
            event.kind.value,
            event.address,
            event.commune,
            event.district,
            event.province,
            event.gln,
            event.authority_id,
            event.occurred_at,
            event.event_id,
        )
        await run(self.session, self._write_producer, _unset_none(values))

    async def register_product(self, event: ProductRegistered) -> None:
        values = (
            event.product_key,
            event.producer_id,
            event.name,
            event.name_en,
            event.product_group.value,
            event.description,
            event.image_url,
            event.authority_id,
            event.occurred_at,
            event.brand,
            list(event.standards) or None,
            event.event_id,
        )
        await run(self.session, self._write_product, _unset_none(values))

    async def store_certification(self, signed: Signed[StarCertification]) -> None:
        c = signed.body
        await run(
            self.session,
            self._write_certification,
            (
                c.product_key,
                c.certificate_no,
                c.producer_id,
                c.stars,
                c.score,
                c.evaluation_level.value,
                c.decision_no,
                c.authority_id,
                c.issued_at,
                c.valid_from,
                c.valid_until,
                model_bytes(signed),
            ),
        )

    async def store_revocation(self, signed: Signed[CertificationRevocation]) -> None:
        r = signed.body
        await run(
            self.session,
            self._write_revocation,
            (r.effective_at, model_bytes(signed), r.product_key, r.certificate_no),
        )

    async def store_trust_list(
        self, version: int, issued_at: datetime, next_update: datetime, document: bytes
    ) -> None:
        await run(
            self.session,
            self._write_trust_list,
            (TRUST_SCOPE, version, issued_at, next_update, document),
        )

    async def store_seal_key(self, key_id: str, public_key: str) -> None:
        await run(self.session, self._write_seal_key, (key_id, public_key, datetime.now(UTC)))

    async def record_scan(self, unit_key: str, scan: ScanRecorded) -> None:
        await run(self.session, self._write_scan, _scan_row(unit_key, scan))

    async def record_scans(self, units: Iterable[ScansOfUnit]) -> None:
        """Many units' new scans, their totals and the alerts they raised (stream_processors.
        scans: a micro-batch). A unit's rows are one mutation: scans_by_unit, unit_activity
        and alerts_by_unit are all keyed by the unit, so Cassandra applies them to its one
        partition all or nothing. Units stored on the same nodes share unlogged batches
        (UNITS_AT_ONCE, BATCH_BYTES), each unit's mutation still applied whole; a unit with
        more than UNIT_ROWS_AT_ONCE scan rows has batches of its own, its last holding its
        totals and alerts. All are in flight at once and awaited as one. Idempotent, like
        every write here: a replay, or a micro-batch written again after a failure, writes
        the same rows.

        A new alert's row is written; one stored before is left as its first raising wrote
        it (`stored_alerts` read it). Either is open on the unit unless an inspector closed it
        (a replay must not reopen a closed alert), and copy evidence if it is corroborated
        (see `corroborate` for one raised before it was). Its province and day's row is
        written once this is stored (`record_alert_days`)."""
        statements: list[BatchStatement] = []
        sharing: list[tuple[tuple[str, ...], tuple[ScansOfUnit, list[Any]]]] = []
        for unit in units:
            rows = [_scan_row(unit.unit_key, scan) for scan in unit.scans]
            if len(rows) > UNIT_ROWS_AT_ONCE:
                own = _partition_batches(self._write_scan, rows)
                statements.extend(own)
                self._add_unit_rest(own[-1], unit)
            else:
                where = replicas_of(self.session, bound(self._unit_alerts, (unit.unit_key,)))
                sharing.append((where, (unit, rows)))
        chunks = chunks_by_group(sharing, UNITS_AT_ONCE, size=_unit_bytes, most_size=BATCH_BYTES)
        for chunk in chunks:
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for unit, rows in chunk:
                for row in rows:
                    batch.add(bound(self._write_scan, row))
                self._add_unit_rest(batch, unit)
            statements.append(batch)
        await run_statements(self.session, statements)

    def _add_unit_rest(self, batch: BatchStatement, unit: ScansOfUnit) -> None:
        """A unit's totals and alerts, in the batch holding (the last of) its scan rows."""
        t = unit.totals
        batch.add(bound(self._write_scan_totals, (t.count, t.first, t.last, unit.unit_key)))
        for raised in unit.alerts:
            self._add_alert(batch, raised)

    def _add_alert(self, batch: BatchStatement, raised: AlertRaised) -> None:
        alert, stored = raised.alert, raised.stored
        if stored is None:
            batch.add(bound(self._write_unit_alert, _unset_none((
                alert.unit_key, alert.alert_id, alert.kind.value, alert.raised_at, raised.day,
                alert.province, alert.detail, alert.scan_event_id, alert.clients,
                alert.corroborated,
            ))))  # fmt: skip
        if stored is None or not stored.closed:
            batch.add(bound(self._open_alert, ({alert.alert_id: alert.kind.value}, alert.unit_key)))
            if stored.corroborated if stored is not None else alert.corroborated:
                batch.add(bound(self._add_evidence, ({str(alert.alert_id)}, alert.unit_key)))

    async def stored_alerts(
        self, wanted: Mapping[str, Collection[UUID]]
    ) -> dict[tuple[str, UUID], StoredAlert]:
        """What alerts_by_unit holds of these alerts (ids by unit), by (unit, id): one read
        of KEYS_AT_ONCE units (asking each for every id the read's units want), all at
        once. The scan processor asks before it stores the alerts a batch
        raised, which decides which are new: the unit's partition is written only by the
        worker owning it, one batch at a time, so what is stored here is what its earlier
        batches (or a crashed worker's, replayed now) stored. Plain reads, no lightweight
        transaction: nothing else races them but a stalled worker that lost the partition
        (docs/bench_analytics.md, 2026-12-02 session 9, for what that may leave)."""
        chunks = replica_chunks(self.session, self._unit_alerts, list(wanted))
        answers = await run_statements(
            self.session,
            [
                self._stored_alerts.bind((chunk, list({i for unit in chunk for i in wanted[unit]})))
                for chunk in chunks
            ],
        )
        return {
            (row.unit_key, row.alert_id): StoredAlert(
                province=row.province,
                day=row.day,
                raised_at=row.raised_at,
                detail=row.detail,
                clients=row.clients or 1,  # null: stored before clients were counted
                corroborated=bool(row.corroborated),
                closed=row.status is not None,  # written only when closed (migration 0003)
                scan_event_id=row.scan_event_id,
            )
            for rows in answers
            for row in rows or ()
            if row.alert_id in wanted[row.unit_key]
        }

    async def record_alert_days(self, raised: Iterable[AlertRaised]) -> None:
        """The province and day's row of each alert (an inspector's list), once the unit's
        row is stored (`record_scans`): written from the first raising's values, so a crash
        between the two is mended by the replay, never duplicated. Each province and day's
        rows in unlogged batches of DAY_ROWS_AT_ONCE (one partition each)."""
        by_day: dict[tuple[str, date], list[tuple[Any, ...]]] = {}
        for one in raised:
            alert, s = one.alert, one.stored
            province, day, raised_at, detail, clients, corroborated = (
                (alert.province, one.day, alert.raised_at, alert.detail, alert.clients,
                 alert.corroborated)
                if s is None
                else (s.province, s.day, s.raised_at, s.detail, s.clients, s.corroborated)
            )  # fmt: skip
            by_day.setdefault((province or "", day), []).append(
                (province or "", day, raised_at, alert.alert_id, alert.unit_key,
                 alert.kind.value, detail, clients, corroborated)
            )  # fmt: skip
        statements = [
            batch
            for rows in by_day.values()
            for batch in _partition_batches(self._write_day_alert, rows, DAY_ROWS_AT_ONCE)
        ]
        if statements:
            await run_statements(self.session, statements)

    async def count_scans(self, counts: Mapping[tuple[str | None, date], int]) -> None:
        """`count_scan` for many scans: each province and day's counter moved once by its
        number of scans. A counter: the caller counts each scan once (see migration 0013)."""
        await run_statements(
            self.session,
            [
                self._count_scans.bind((n, place or NO_PLACE, day))
                for (place, day), n in counts.items()
            ],
        )

    async def write_scan_totals(self, unit_key: str, scans: ScanSummary) -> None:
        """The unit's scan totals, as the processor owning its partition counted them."""
        await run(self.session, self._write_scan_totals,
                  (scans.count, scans.first, scans.last, unit_key))  # fmt: skip

    async def count_scan(self, province: str | None, day: date) -> None:
        """One more consumer's scan in a province (None: no place offered) on a day in
        Vietnam. A counter: the caller counts a scan once (see migration 0013)."""
        await run(self.session, self._count_scan, (province or NO_PLACE, day))

    async def corroborate(self, alert: Alert) -> bool:
        """Upgrade a stored alert to corroborated: both its rows take `alert`'s detail and
        client count, and its id joins the unit's copy evidence unless an inspector has
        closed it (closing is a judgement: the inspector looked). False if there is no such
        alert or it is corroborated already, which then stands as it was.

        One logged batch: a crash leaves the upgrade done or not done, and a replay finishes it.
        """
        rows = await run(self.session, self._unit_alert, (alert.unit_key, alert.alert_id))
        if not rows or rows[0].corroborated:
            return False
        row = rows[0]
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._corroborate_unit_alert,
                  (alert.detail, alert.clients, alert.unit_key, alert.alert_id))  # fmt: skip
        batch.add(self._corroborate_day_alert,
                  (alert.detail, alert.clients, row.province or "", row.day, row.raised_at,
                   alert.alert_id))  # fmt: skip
        if row.status is None:
            batch.add(self._add_evidence, ({str(alert.alert_id)}, alert.unit_key))
        await run(self.session, batch)
        return True

    async def hold_inspection_evidence(self, unit_key: str, evidence: str | None) -> None:
        """Make `evidence` (`inspection:<event id>`), or nothing, the unit's only copy
        evidence from inspectors' findings (alerts' evidence is left as it is)."""
        activity = await self.unit_activity(unit_key)
        held = {e for e in activity.copy_evidence if e.startswith(INSPECTION_EVIDENCE)}
        wanted = {evidence} if evidence is not None else set()
        if held - wanted:
            await run(self.session, self._drop_evidence, (held - wanted, unit_key))
        if wanted - held:
            await run(self.session, self._add_evidence, (wanted - held, unit_key))

    async def close_alert(self, event: AlertClosed) -> bool:
        """Close an alert with the inspector's finding; False if there is no such alert. It
        is no longer open, nor copy evidence: the inspector has looked."""
        rows = await run(self.session, self._unit_alerts, (event.unit_key,))
        found = [row for row in rows if row.alert_id == event.alert_id]
        if not found:
            return False
        row = found[0]
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(
            self._close_unit_alert,
            _unset_none((event.occurred_at, event.inspector_id, event.finding.value, event.note,
                         event.unit_key, event.alert_id)),
        )  # fmt: skip
        batch.add(self._close_day_alert, (row.province or "", row.day, row.raised_at, row.alert_id))
        batch.add(self._forget_alert, ({event.alert_id}, {str(event.alert_id)}, event.unit_key))
        await run(self.session, batch)
        return True

    async def register_inspector(self, event: InspectorRegistered) -> None:
        values = (
            event.token_sha256, event.inspector_id, event.name, event.role.value,
            event.authority_id, event.active, event.occurred_at, event.province,
        )  # fmt: skip
        await run(self.session, self._write_inspector, values)

    async def first_inspection_time(self, event: InspectionRecorded) -> datetime:
        """When this finding (by event id) was first recorded: its own time if it is new,
        else the time claimed by its first copy (a resend through another API process)."""
        values = (event.event_id, event.occurred_at)
        [result] = await run(self.session, self._claim_inspection_time, values)
        first: datetime = event.occurred_at if result.applied else result.inspected_at
        return first

    async def record_inspection(self, unit_key: str, event: InspectionRecorded) -> None:
        values = (
            unit_key, event.occurred_at, event.inspector_id, event.code, event.stars_seen,
            event.verdict.value, event.reason.value, event.place, event.province, event.note,
            event.event_id,
        )  # fmt: skip
        await run(self.session, self._write_inspection, _unset_none(values))
