"""Parties by GLN and their one step back, one step forward (Circular 02/2024/TT-BKHCN).

`PartyReader` answers the verify API: a party's registration, and its trace (from whom it
received each batch, to whom it shipped it), each one partition read. `PartyWriter` adds
the processors' writes: registrations (stream_processors.authority) and the trace rows
written after each batch record (stream_processors.trace). Keys are the facts themselves,
so a replayed event rewrites its own rows. The tables are infra/migrations/0014_parties.cql.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE

from contract.events import PartyRegistered
from records.session import run, run_many

TRACE_LIMIT = 500
"""The most rows of one direction a trace answer holds (newest first)."""

_PARTY_COLUMNS = (
    "gln",
    "name",
    "role",
    "address",
    "commune",
    "province",
    "producer_id",
    "authority_id",
    "registered_at",
)
_TRACE_COLUMNS = (
    "gln",
    "direction",
    "at",
    "batch_id",
    "shipment_id",
    "product_key",
    "lot",
    "other_gln",
    "other_name",
    "units",
    "what",
)
_SHIPMENT_COLUMNS = (
    "batch_id",
    "shipment_id",
    "from_gln",
    "from_name",
    "to_gln",
    "to_name",
    "units",
    "shipped_at",
)


class Direction(StrEnum):
    RECEIVED = "received"
    """One step back: what the party received, and from whom."""
    SHIPPED = "shipped"
    """One step forward: what the party shipped, and to whom."""


@dataclass(frozen=True)
class Party:
    gln: str
    name: str
    role: str
    address: str
    commune: str
    province: str
    producer_id: str | None
    authority_id: str
    registered_at: datetime


@dataclass(frozen=True)
class TraceRow:
    """One batch (or a raw material of one) that came to or left the party `gln`."""

    gln: str
    direction: Direction
    at: datetime
    batch_id: str
    shipment_id: str
    """The shipment's id; for a raw material received at opening, "material-<n>"."""
    product_key: str
    lot: str
    other_gln: str | None
    """The party on the other side, if it has a GLN."""
    other_name: str
    units: int | None
    what: str | None
    """A raw material's name (for a material received); None for the product's units."""


@dataclass(frozen=True)
class Shipment:
    batch_id: str
    shipment_id: str
    from_gln: str | None
    from_name: str
    to_gln: str | None
    to_name: str
    units: int
    shipped_at: datetime


def _unset_none(values: Iterable[Any]) -> list[Any]:
    """None becomes 'not set' rather than a null, which Cassandra would store as a tombstone."""
    return [UNSET_VALUE if value is None else value for value in values]


def _insert(table: str, names: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608


# column lists are module constants; every value goes through a bind marker
_SELECT_PARTY = f"SELECT {', '.join(_PARTY_COLUMNS)} FROM parties WHERE gln = ?"  # noqa: S608
_SELECT_TRACE = (
    f"SELECT {', '.join(_TRACE_COLUMNS)} FROM party_trace "  # noqa: S608
    "WHERE gln = ? AND direction = ? LIMIT ?"
)
_SELECT_SHIPMENT = (
    f"SELECT {', '.join(_SHIPMENT_COLUMNS)} FROM batch_shipments "  # noqa: S608
    "WHERE batch_id = ? AND shipment_id = ?"
)
_INSERT_PARTY = _insert("parties", (*_PARTY_COLUMNS, "event_id"))
_INSERT_TRACE = _insert("party_trace", _TRACE_COLUMNS)
_INSERT_SHIPMENT = _insert("batch_shipments", _SHIPMENT_COLUMNS)


class PartyReader:
    def __init__(self, session: Session) -> None:
        self.session = session
        p = session.prepare
        self._party = p(_SELECT_PARTY)
        self._trace = p(_SELECT_TRACE)
        self._shipment = p(_SELECT_SHIPMENT)

    async def party(self, gln: str) -> Party | None:
        rows = await run(self.session, self._party, (gln,))
        if not rows:
            return None
        return Party(**{name: getattr(rows[0], name) for name in _PARTY_COLUMNS})

    async def trace(
        self, gln: str, direction: Direction, limit: int = TRACE_LIMIT
    ) -> list[TraceRow]:
        """The party's rows of one direction, newest first."""
        rows = await run(self.session, self._trace, (gln, direction.value, limit))
        return [
            TraceRow(
                **{name: getattr(row, name) for name in _TRACE_COLUMNS if name != "direction"},
                direction=Direction(row.direction),
            )
            for row in rows
        ]

    async def shipment(self, batch_id: str, shipment_id: str) -> Shipment | None:
        rows = await run(self.session, self._shipment, (batch_id, shipment_id))
        if not rows:
            return None
        return Shipment(**{name: getattr(rows[0], name) for name in _SHIPMENT_COLUMNS})


class PartyWriter(PartyReader):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        p = session.prepare
        self._write_party = p(_INSERT_PARTY)
        self._write_trace = p(_INSERT_TRACE)
        self._write_shipment = p(_INSERT_SHIPMENT)

    async def register(self, event: PartyRegistered) -> None:
        values = (
            event.gln,
            event.name,
            event.role.value,
            event.address,
            event.commune,
            event.province,
            event.producer_id,
            event.authority_id,
            event.occurred_at,
            event.event_id,
        )
        await run(self.session, self._write_party, _unset_none(values))

    async def write_shipment(self, shipment: Shipment) -> None:
        values = [getattr(shipment, name) for name in _SHIPMENT_COLUMNS]
        await run(self.session, self._write_shipment, _unset_none(values))

    async def write_trace(self, rows: Iterable[TraceRow]) -> int:
        return await run_many(
            self.session,
            self._write_trace,
            (
                _unset_none(
                    row.direction.value if name == "direction" else getattr(row, name)
                    for name in _TRACE_COLUMNS
                )
                for row in rows
            ),
        )
