"""One step back, one step forward (Circular 02/2024/TT-BKHCN, Art. 6(1)): after each record
of a batch, the rows that let any party (by GLN) say from whom it received the batch and to
whom it shipped it (records.parties).

- An opening: the producer's site received each raw material from its supplier (a row
  only for a supplier with a GLN, on the side of a site with one).
- A shipment: the sender (the producer's site, or `from_gln` when the producer records its
  distributor's onward shipment) shipped so many units to the receiver; the shipment is
  kept with its sender, for the receipt.
- A receipt: the receiver (`receiver_gln`, else the shipment's `to_gln`) received so many
  units from the shipment's sender.

Only parties with a GLN get rows of their own; the other side is always named, by its
registration (records.parties) if its GLN is registered, else as the event says. The rows'
keys are the record's facts, so a replayed event rewrites them (BatchIngest calls this after
a duplicate too, for a crash between the record and these rows). The rules are pure
functions (`material_rows`, `shipment_of`, `shipped_row`, `received_row`); `PartyTrace`
reads what they need and writes what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contract.events import BatchEvent, BatchOpened, BatchReceived, BatchShipped
from records.parties import Direction, Party, Shipment, TraceRow
from records.rows import BatchState, Producer


@dataclass(frozen=True)
class Named:
    """A party as a trace row names it: its GLN if it has one, and a name."""

    gln: str | None
    name: str


def material_rows(event: BatchOpened, site: Named) -> list[TraceRow]:
    """The producer's site received each raw material that has a supplier's GLN."""
    if site.gln is None:
        return []
    return [
        TraceRow(
            gln=site.gln,
            direction=Direction.RECEIVED,
            at=event.occurred_at,
            batch_id=event.batch_id,
            shipment_id=f"material-{index}",
            product_key=event.product_key,
            lot=event.lot,
            other_gln=material.origin_gln,
            other_name=material.origin,
            units=None,
            what=material.material,
        )
        for index, material in enumerate(event.raw_materials, start=1)
        if material.origin_gln is not None
    ]


def shipment_of(event: BatchShipped, sender: Named) -> Shipment:
    return Shipment(
        batch_id=event.batch_id,
        shipment_id=event.shipment_id,
        from_gln=sender.gln,
        from_name=sender.name,
        to_gln=event.to_gln,
        to_name=event.to_party,
        units=event.units,
        shipped_at=event.occurred_at,
    )


def shipped_row(shipment: Shipment, state: BatchState) -> TraceRow | None:
    """One step forward of the sender, if it has a GLN."""
    if shipment.from_gln is None:
        return None
    return TraceRow(
        gln=shipment.from_gln,
        direction=Direction.SHIPPED,
        at=shipment.shipped_at,
        batch_id=shipment.batch_id,
        shipment_id=shipment.shipment_id,
        product_key=state.product_key,
        lot=state.lot,
        other_gln=shipment.to_gln,
        other_name=shipment.to_name,
        units=shipment.units,
        what=None,
    )


def received_row(
    event: BatchReceived, state: BatchState, shipment: Shipment | None, producer: Named
) -> TraceRow | None:
    """One step back of the receiver, if it has a GLN; from the shipment's sender (the
    producer, for a shipment recorded before this table existed)."""
    receiver = event.receiver_gln or (shipment.to_gln if shipment else None)
    if receiver is None:
        return None
    sender = Named(shipment.from_gln, shipment.from_name) if shipment else producer
    return TraceRow(
        gln=receiver,
        direction=Direction.RECEIVED,
        at=event.occurred_at,
        batch_id=event.batch_id,
        shipment_id=event.shipment_id,
        product_key=state.product_key,
        lot=state.lot,
        other_gln=sender.gln,
        other_name=sender.name,
        units=event.units,
        what=None,
    )


class Producers(Protocol):
    async def producer(self, producer_id: str) -> Producer | None: ...


class Parties(Protocol):
    """records.parties.PartyWriter."""

    async def party(self, gln: str) -> Party | None: ...
    async def shipment(self, batch_id: str, shipment_id: str) -> Shipment | None: ...
    async def write_shipment(self, shipment: Shipment) -> None: ...
    async def write_trace(self, rows: list[TraceRow]) -> int: ...


class PartyTrace:
    def __init__(self, producers: Producers, parties: Parties) -> None:
        self.producers = producers
        self.parties = parties

    async def after_record(self, event: BatchEvent, state: BatchState) -> None:
        """The trace rows of `event`, now record of `state`'s batch."""
        if isinstance(event, BatchOpened):
            await self.parties.write_trace(material_rows(event, await self._producer(state)))
        elif isinstance(event, BatchShipped):
            if event.from_gln is not None:
                sender = await self._named(event.from_gln, event.from_gln)
            else:
                sender = await self._producer(state)
            sent = shipment_of(event, sender)
            await self.parties.write_shipment(sent)
            row = shipped_row(sent, state)
            await self.parties.write_trace([row] if row else [])
        elif isinstance(event, BatchReceived):
            shipment = await self.parties.shipment(event.batch_id, event.shipment_id)
            row = received_row(event, state, shipment, await self._producer(state))
            await self.parties.write_trace([row] if row else [])

    async def _producer(self, state: BatchState) -> Named:
        """The producer's site: its registered GLN, named as registered."""
        producer = await self.producers.producer(state.producer_id)
        if producer is None:
            return Named(None, state.producer_id)
        if producer.gln is None:
            return Named(None, producer.name)
        return await self._named(producer.gln, producer.name)

    async def _named(self, gln: str, fallback: str) -> Named:
        party = await self.parties.party(gln)
        return Named(gln, party.name if party else fallback)
