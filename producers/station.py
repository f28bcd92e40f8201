"""The packing station: open a batch, print its labels, pack units by scanning them, close,
ship, record receipt, recall.

Every operation checks all it can first, then records the fact and the signed event that
announces it in ONE transaction of the journal (producers.journal), so a refusal writes
nothing and a crash leaves both or neither. Events reach Kafka later, through the outbox
(producers.sender): the station never waits for Kafka and keeps working while it is down.

Units are announced in UnitsPacked events of up to `pack_event_units` serials (250 by
default), and whatever is left when a scanning session ends, the batch closes or is
recalled. One event per scan would mean 10,000 signatures, messages and stored rows for
a 10,000-unit batch; one per batch would leave a unit unknown to the verify API for the
whole day it waits on the shelf of the packing room. 250 units is a few minutes of a
packing line. A scan is durable the moment it is acknowledged either way: it is committed
to the journal, and the event that will announce it is derived from the journal.

Labels are signed when printed (the serials are then "issued"), and units are packed when
their label is scanned; a serial issued but never packed (a misprint, a torn label) is
never announced, so a scan of it in a shop says "never packed".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from itertools import groupby
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import uuid4

from contract import identifiers
from contract.certification import CertificationStatus
from contract.encoding import model_bytes
from contract.errors import build
from contract.events import (
    MAX_SERIALS_PER_EVENT,
    BatchClosed,
    BatchEvent,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    RawMaterial,
    UnitsPacked,
)
from contract.fields import PRINTABLE_STARS, format_utc
from contract.label import VIETNAM_TIME, LabelBatch, SignedLabel, vietnam_date
from keys.certs import utc_now
from keys.signing import LabelSigner
from keys.trustlist import instant
from producers import journal
from producers.errors import BatchStateError, IdentityError, InvalidInput, UnknownProduct
from producers.identity import StationIdentity
from producers.labels import LabelContent
from producers.outbox import Backlog, Outbox
from producers.scanning import ScanProblem, ScanRejected, check_label
from producers.settings import StationSettings

EventT = TypeVar("EventT", bound=BatchEvent)
Clock = Callable[[], datetime]


class BatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    RECALLED = "recalled"


@dataclass(frozen=True)
class Product:
    product_key: str
    name: str
    certification: CertificationStatus
    stars: int
    """What labels printed now may claim: the certified stars in force, or 0 (no claim)."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    product_key: str
    lot: str
    product_name: str
    production_date: date
    expiry_date: date
    planned_units: int
    status: BatchStatus
    issued: int
    packed: int
    unreported: int
    """Packed units not yet in a UnitsPacked event."""
    shipped: int
    backlog: int
    """This batch's events not yet acknowledged by Kafka."""


@dataclass(frozen=True)
class PrintRun:
    run_id: int
    batch: Batch
    labels: tuple[SignedLabel, ...]
    content: LabelContent
    """What the labels say besides their code (producers.printing renders them)."""


@dataclass(frozen=True)
class Packed:
    serial: str
    batch_id: str
    packed: int
    planned: int


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    batch_id: str
    to_party: str
    units: int
    received_units: int | None


class StationView:
    """What a station's journal says: batches, shipments, the outbox backlog. It needs no key,
    so `ocop-station status` never asks for the keystore's passphrase."""

    def __init__(self, settings: StationSettings) -> None:
        self._settings = settings
        self._db = journal.connect(settings.journal_path)
        self._outbox = Outbox(self._db)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def batch(self, reference: str) -> Batch:
        """A batch by its id or, when unambiguous, by its lot."""
        rows = self._db.execute(
            "SELECT * FROM batches WHERE batch_id = ? OR lot = ?", (reference, reference)
        ).fetchall()
        exact = [row for row in rows if row[0] == reference]
        if exact:
            rows = exact
        if len(rows) != 1:
            problem = "no batch" if not rows else f"{len(rows)} batches (give the batch id)"
            raise BatchStateError(f"{problem} for {reference!r} at this station")
        return self._summary(rows[0])

    def batches(self) -> list[Batch]:
        rows = self._db.execute("SELECT * FROM batches ORDER BY opened_at").fetchall()
        return [self._summary(row) for row in rows]

    def shipment(self, shipment_id: str) -> Shipment:
        row = self._shipment_row(shipment_id)
        if row is None:
            raise BatchStateError(f"no shipment {shipment_id} at this station")
        return Shipment(*row)

    def backlog(self) -> Backlog:
        return self._outbox.backlog()

    def _shipment_row(self, shipment_id: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(
            "SELECT shipment_id, batch_id, to_party, units, received_units FROM shipments"
            " WHERE shipment_id = ?",
            (shipment_id,),
        ).fetchone()
        return row

    def _summary(self, row: tuple[Any, ...]) -> Batch:
        batch_id = row[0]
        issued, packed, unreported = self._db.execute(
            "SELECT count(*), count(packed_at), count(packed_at) - count(reported_in)"
            " FROM units WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()
        (shipped,) = self._db.execute(
            "SELECT coalesce(sum(units), 0) FROM shipments WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        return Batch(
            batch_id=batch_id,
            product_key=row[1],
            lot=row[2],
            product_name=row[3],
            production_date=date.fromisoformat(row[4]),
            expiry_date=date.fromisoformat(row[5]),
            planned_units=row[6],
            status=BatchStatus(row[7]),
            issued=issued,
            packed=packed,
            unreported=unreported,
            shipped=shipped,
            backlog=self._outbox.backlog(batch_id).events,
        )


class Station(StationView):
    """One packing station: its journal, and the producer identity it signs with."""

    def __init__(
        self, settings: StationSettings, identity: StationIdentity, *, clock: Clock = utc_now
    ) -> None:
        super().__init__(settings)
        self._identity = identity
        self._clock = clock

    @property
    def identity(self) -> StationIdentity:
        return self._identity

    # -- products and batches -------------------------------------------------------------

    def product(self, product_key: str) -> Product:
        """A product of this producer, as the trust list certifies it now."""
        _valid("product key", identifiers.validate_product_key, product_key)
        producer = self._identity.producer_id
        trust = self._identity.trust
        state = trust.certification_state(product_key, producer, self._clock())
        award = state.certification
        if award is None:
            raise UnknownProduct(
                f"{product_key} is not a certified product of {producer} "
                f"in trust list version {trust.version}"
            )
        in_force = state.status is CertificationStatus.IN_FORCE
        stars = award.stars if in_force and award.stars in PRINTABLE_STARS else 0
        return Product(product_key, award.product_name, state.status, stars)

    def open_batch(
        self,
        *,
        product_key: str,
        lot: str,
        production_date: date,
        expiry_date: date,
        raw_materials: Sequence[RawMaterial],
        planned_units: int,
    ) -> Batch:
        product = self.product(product_key)
        batch_id = _valid("lot", lambda value: identifiers.batch_id(product_key, value), lot)
        if planned_units < 1:
            raise InvalidInput(f"planned quantity must be at least 1, got {planned_units}")
        with journal.transaction(self._db):
            existing = self._db.execute(
                "SELECT status FROM batches WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if existing:
                raise BatchStateError(f"batch {batch_id} already exists ({existing[0]})")
            event = self._emit(
                BatchOpened,
                batch_id,
                product_key=product_key,
                lot=lot,
                production_date=production_date,
                expiry_date=expiry_date,
                raw_materials=tuple(raw_materials),
                planned_units=planned_units,
            )
            self._db.execute(
                "INSERT INTO batches (batch_id, product_key, lot, product_name, production_date,"
                " expiry_date, planned_units, status, opened_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    batch_id,
                    product_key,
                    lot,
                    product.name,
                    production_date.isoformat(),
                    expiry_date.isoformat(),
                    planned_units,
                    BatchStatus.OPEN,
                    format_utc(event.occurred_at),
                ),
            )
        return self.batch(batch_id)

    # -- labels and packing ---------------------------------------------------------------

    def print_labels(self, reference: str, count: int) -> PrintRun:
        """Signs `count` labels with fresh serials and records them as issued."""
        batch = self._open(reference)
        if count < 1:
            raise InvalidInput(f"number of labels must be at least 1, got {count}")
        spare = batch.planned_units * self._settings.spare_labels_percent // 100
        allowed = batch.planned_units + spare - batch.issued
        if count > allowed:
            raise BatchStateError(
                f"{count} labels would exceed the plan of {batch.planned_units} units plus "
                f"{spare} spare; {batch.issued} are printed, {max(allowed, 0)} more allowed"
            )
        now = self._clock()
        if vietnam_date(now) > batch.expiry_date:
            raise BatchStateError(
                f"batch {batch.batch_id} expired on {batch.expiry_date}: its labels would "
                "print an expiry date already past"
            )
        product = self.product(batch.product_key)
        key = self._identity.key
        label_batch = LabelBatch(
            self._settings.resolver_host,
            batch.product_key,
            batch.lot,
            vietnam_date(now),
            product.stars,
            key.key_id,
            expiry_date=batch.expiry_date,  # AI 17, signed: the date printed on the pack
        )
        self._usable(label_batch.packing_window(), f"labels packed on {label_batch.packed_on}")
        signer = LabelSigner(key, label_batch)
        serials: set[str] = set()
        while len(serials) < count:
            serials.add(identifiers.new_serial())
        labels = tuple(signer.sign(serial) for serial in serials)
        with journal.transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO print_runs (batch_id, packed_on, stars, key_id, labels, printed_at)"
                " VALUES (?,?,?,?,?,?)",
                (
                    batch.batch_id,
                    label_batch.packed_on.isoformat(),
                    label_batch.stars,
                    key.key_id,
                    count,
                    format_utc(now),
                ),
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            try:
                self._db.executemany(
                    "INSERT INTO units (serial, batch_id, run_id, label_digest) VALUES (?,?,?,?)",
                    [(label.serial, batch.batch_id, run_id, label.digest) for label in labels],
                )
            except sqlite3.IntegrityError:
                raise BatchStateError(
                    "a new serial collided with an issued one (about 1 in 10^12): print again"
                ) from None
        content = LabelContent(
            product_name=batch.product_name,
            producer_name=self._identity.certificate.producer_name,
            lot=batch.lot,
            production_date=batch.production_date,
            expiry_date=batch.expiry_date,
            stars=label_batch.stars,
        )
        return PrintRun(run_id, self.batch(batch.batch_id), labels, content)

    def scan(self, reference: str, text: str) -> Packed:
        """Packs the unit whose label was scanned; raises ScanRejected, writing nothing."""
        batch_id, status = self._batch_state(reference)
        if status is not BatchStatus.OPEN:
            raise ScanRejected(ScanProblem.BATCH_NOT_OPEN, f"batch {batch_id} is {status}")
        now = self._clock()
        label = check_label(text, identity=self._identity, now=now)
        if label.batch.batch_id != batch_id:
            raise ScanRejected(ScanProblem.OTHER_BATCH, f"the label is of {label.batch.batch_id}")
        issued = self._db.execute(
            "SELECT u.batch_id, u.packed_at, r.packed_on, r.stars, r.key_id"
            " FROM units u JOIN print_runs r USING (run_id) WHERE u.serial = ?",
            (label.serial,),
        ).fetchone()
        printed = label.batch
        signed = (batch_id, printed.packed_on.isoformat(), printed.stars, printed.key_id)
        if issued is None or (issued[0], *issued[2:]) != signed:
            raise ScanRejected(ScanProblem.NOT_ISSUED, f"serial {label.serial}")
        if issued[1] is not None:
            raise ScanRejected(
                ScanProblem.ALREADY_PACKED, f"serial {label.serial} at {_local_time(issued[1])}"
            )
        with journal.transaction(self._db):
            self._db.execute(
                "UPDATE units SET packed_at = ? WHERE serial = ?", (format_utc(now), label.serial)
            )
            unreported = self._count(batch_id, "packed_at IS NOT NULL AND reported_in IS NULL")
            if unreported >= self._settings.pack_event_units:
                self._report(batch_id)
        packed = self._count(batch_id, "packed_at IS NOT NULL")
        return Packed(label.serial, batch_id, packed, self._planned(batch_id))

    def report_packed(self, reference: str | None = None) -> int:
        """Announces packed units not yet announced (of one batch, or all); returns events."""
        with journal.transaction(self._db):
            if reference is not None:
                return self._report(self._batch_state(reference)[0])
            rows = self._db.execute(
                "SELECT DISTINCT batch_id FROM units"
                " WHERE packed_at IS NOT NULL AND reported_in IS NULL"
            ).fetchall()
            return sum(self._report(batch_id) for (batch_id,) in rows)

    def close_batch(self, reference: str) -> Batch:
        batch = self._open(reference)
        with journal.transaction(self._db):
            self._report(batch.batch_id)
            self._emit(BatchClosed, batch.batch_id, units_packed=batch.packed)
            self._set_status(batch.batch_id, BatchStatus.CLOSED, "closed_at")
        return self.batch(batch.batch_id)

    # -- after packing --------------------------------------------------------------------

    def ship(
        self,
        reference: str,
        *,
        to_party: str,
        units: int,
        to_gln: str | None = None,
        to_province: str | None = None,
        shipment_id: str | None = None,
    ) -> Shipment:
        batch = self.batch(reference)
        if batch.status is not BatchStatus.CLOSED:
            need = "close it first" if batch.status is BatchStatus.OPEN else "it must not ship"
            raise BatchStateError(f"batch {batch.batch_id} is {batch.status}: {need}")
        available = batch.packed - batch.shipped
        if not 1 <= units <= available:
            raise InvalidInput(
                f"units to ship must be 1 to {available} ({batch.packed} packed, "
                f"{batch.shipped} shipped), got {units}"
            )
        shipment_id = shipment_id or f"SHIP-{identifiers.new_serial()}"
        with journal.transaction(self._db):
            if self._shipment_row(shipment_id) is not None:
                raise BatchStateError(f"shipment {shipment_id} already exists")
            event = self._emit(
                BatchShipped,
                batch.batch_id,
                shipment_id=shipment_id,
                to_party=to_party,
                to_gln=to_gln,
                to_province=to_province,
                units=units,
            )
            self._db.execute(
                "INSERT INTO shipments (shipment_id, batch_id, to_party, units, shipped_at)"
                " VALUES (?,?,?,?,?)",
                (shipment_id, batch.batch_id, event.to_party, units, format_utc(event.occurred_at)),
            )
        return self.shipment(shipment_id)

    def receive(
        self,
        shipment_id: str,
        *,
        receiver: str,
        units: int,
        receiver_gln: str | None = None,
        receiver_province: str | None = None,
    ) -> Shipment:
        """Records that a shipment arrived; fewer units than shipped is a loss on the way."""
        shipment = self.shipment(shipment_id)
        if shipment.received_units is not None:
            raise BatchStateError(f"shipment {shipment_id} was already received")
        if not 1 <= units <= shipment.units:
            raise InvalidInput(f"units received must be 1 to {shipment.units}, got {units}")
        with journal.transaction(self._db):
            event = self._emit(
                BatchReceived,
                shipment.batch_id,
                shipment_id=shipment_id,
                receiver=receiver,
                receiver_gln=receiver_gln,
                receiver_province=receiver_province,
                units=units,
            )
            self._db.execute(
                "UPDATE shipments SET received_units = ?, received_at = ? WHERE shipment_id = ?",
                (units, format_utc(event.occurred_at), shipment_id),
            )
        return self.shipment(shipment_id)

    def recall(self, reference: str, *, reason: str, recalled_by: str | None = None) -> Batch:
        """Recalls a batch in any state; packed units not yet announced are announced first,
        so that the recall covers every unit that may be out there."""
        batch = self.batch(reference)
        if batch.status is BatchStatus.RECALLED:
            raise BatchStateError(f"batch {batch.batch_id} is already recalled")
        with journal.transaction(self._db):
            self._report(batch.batch_id)
            self._emit(
                BatchRecalled,
                batch.batch_id,
                recalled_by=recalled_by or self._identity.producer_id,
                reason=reason,
            )
            self._set_status(batch.batch_id, BatchStatus.RECALLED, "recalled_at")
        return self.batch(batch.batch_id)

    # -- inside ---------------------------------------------------------------------------

    def _emit(self, kind: type[EventT], batch_id: str, **fields: Any) -> EventT:
        """Signs an event and adds it to the outbox; call inside the recording transaction."""
        occurred_at = self._clock()
        self._usable(instant(occurred_at), f"events at {occurred_at:%Y-%m-%d %H:%M} UTC")
        event = build(
            kind,
            event_id=uuid4(),
            occurred_at=occurred_at,
            batch_id=batch_id,
            producer_id=self._identity.producer_id,
            **fields,
        )
        value = model_bytes(self._identity.key.sign_document(event))
        self._outbox.append(event, value, topic=self._settings.batch_topic, at=occurred_at)
        return event

    def _report(self, batch_id: str) -> int:
        """UnitsPacked events for the batch's unannounced packed units, one per print run's
        (packing day, stars, key) and at most MAX_SERIALS_PER_EVENT serials each, with each
        label's digest (labels printed before the journal kept digests go in events without)."""
        rows = self._db.execute(
            "SELECT u.serial, u.label_digest, r.packed_on, r.stars, r.key_id FROM units u"
            " JOIN print_runs r USING (run_id) WHERE u.batch_id = ?"
            " AND u.packed_at IS NOT NULL AND u.reported_in IS NULL"
            " ORDER BY r.packed_on, r.stars, r.key_id, u.label_digest IS NULL, u.packed_at,"
            " u.serial",
            (batch_id,),
        ).fetchall()
        events = 0
        for (packed_on, stars, key_id, _), group in groupby(
            rows, key=lambda row: (*row[2:], row[1] is None)
        ):
            units = list(group)
            for start in range(0, len(units), MAX_SERIALS_PER_EVENT):
                chunk = units[start : start + MAX_SERIALS_PER_EVENT]
                event = self._emit(
                    UnitsPacked,
                    batch_id,
                    serials=tuple(row[0] for row in chunk),
                    stars=stars,
                    key_id=key_id,
                    packed_on=date.fromisoformat(packed_on),
                    label_digests=tuple(row[1] for row in chunk if row[1] is not None),
                )
                self._db.executemany(
                    "UPDATE units SET reported_in = ? WHERE serial = ?",
                    [(str(event.event_id), row[0]) for row in chunk],
                )
                events += 1
        return events

    def _usable(self, window: tuple[datetime, datetime], what: str) -> None:
        key = self._identity.key.key_id
        state = self._identity.trust.key_state(key, window)
        if state is None or not state.usable:
            status = state.status if state else "unknown"
            raise IdentityError(f"key {key} is {status} for {what}: rotate the station's key")

    def _open(self, reference: str) -> Batch:
        batch = self.batch(reference)
        if batch.status is not BatchStatus.OPEN:
            raise BatchStateError(f"batch {batch.batch_id} is {batch.status}")
        return batch

    def _batch_state(self, reference: str) -> tuple[str, BatchStatus]:
        """Id and status only: what a scan needs, without counting units."""
        row = self._db.execute(
            "SELECT batch_id, status FROM batches WHERE batch_id = ?", (reference,)
        ).fetchone()
        if row is None:
            batch = self.batch(reference)
            return batch.batch_id, batch.status
        return row[0], BatchStatus(row[1])

    def _set_status(self, batch_id: str, status: BatchStatus, stamp: str) -> None:
        self._db.execute(
            f"UPDATE batches SET status = ?, {stamp} = ? WHERE batch_id = ?",  # noqa: S608 - a column name of ours
            (status, format_utc(self._clock()), batch_id),
        )

    def _count(self, batch_id: str, condition: str) -> int:
        query = f"SELECT count(*) FROM units WHERE batch_id = ? AND {condition}"  # noqa: S608
        return int(self._db.execute(query, (batch_id,)).fetchone()[0])

    def _planned(self, batch_id: str) -> int:
        row = self._db.execute(
            "SELECT planned_units FROM batches WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        return int(row[0])


T = TypeVar("T")


def _valid(what: str, check: Callable[[str], T], value: str) -> T:
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}") from None


def _local_time(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(VIETNAM_TIME)
    return f"{moment:%H:%M:%S %d/%m/%Y}"
