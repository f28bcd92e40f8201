"""One batch's history as an EPCIS 2.0 JSON-LD document, built from its contract events.

EPCIS 2.0 is the open standard a national traceability portal or a buyer's system can read
(the Vietnamese portal's own exchange format is not public). Each contract event becomes
one ObjectEvent:

- BatchOpened: ADD, commissioning, active; the lot class in quantityList (the planned
  units), ILMD lot number and expiry date.
- UnitsPacked: ADD, commissioning, active; the units' Digital Links in epcList, the same ILMD.
- BatchShipped: OBSERVE, shipping, in_transit; source and destination parties and places.
- BatchReceived: OBSERVE, receiving, in_progress, at the receiver's place.
- BatchRecalled: OBSERVE, disposition recalled.
- The expiry, once passed: OBSERVE, disposition expired, at the start of the day after the
  expiry date (Vietnam time).

BatchClosed has no EPCIS event of its own: the units it counts were commissioned by the
packing events. Identifiers are GS1 Digital Links on https://id.gs1.org (a unit's has no
query: our signature pairs are not part of its identity); a product without a GTIN (our
"/p/" keys) is named by its URI on our resolver, which EPCIS allows for any identifier.
A party or place appears only where it has a GLN: without one there is nothing to name it
by. Times are the events' own, to the millisecond, written in Vietnam time (+07:00).

Every event's eventID is its CBV 2.0 event hash (interop.event_hash), so another system
that receives the document can recompute it and recognise a duplicate. The pydantic models
below are the one description of the document's shape; GS1's JSON schema checks it in the
tests (interop/schemas/).

Master data uses the vocabulary types EPCClass and BusinessLocation, and Party for parties
as GDST and OpenTraceability name it; attributes are from urn:epcglobal:cbv:mda.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contract import identifiers
from contract.events import (
    BatchClosed,
    BatchEvent,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    ProducerRegistered,
    ProductRegistered,
    UnitsPacked,
)
from contract.identifiers import KeyScheme
from contract.label import VIETNAM_TIME
from interop.digital_link import epcis_uri, gtin_link, location_uri, party_uri
from interop.event_hash import event_hash

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CBVMDA = "urn:epcglobal:cbv:mda:"
MDA = "urn:epcglobal:cbv:mda#"
TIME_ZONE_OFFSET = "+07:00"


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, validate_by_name=True
    )


class Action(StrEnum):
    ADD = "ADD"
    OBSERVE = "OBSERVE"


class BizStep(StrEnum):
    COMMISSIONING = "commissioning"
    SHIPPING = "shipping"
    RECEIVING = "receiving"


class Disposition(StrEnum):
    ACTIVE = "active"
    IN_TRANSIT = "in_transit"
    IN_PROGRESS = "in_progress"
    RECALLED = "recalled"
    EXPIRED = "expired"


class PartyType(StrEnum):
    """CBV source/destination types."""

    OWNING_PARTY = "owning_party"
    LOCATION = "location"


class QuantityElement(_Model):
    epc_class: str
    quantity: int | None = None
    """A count of units (no uom): the contract counts units, not weights."""


class Place(_Model):
    id: str


class Source(_Model):
    type: PartyType  # before the id: the event hash's reference reads them in this order
    source: str


class Destination(_Model):
    type: PartyType
    destination: str


class ObjectEvent(_Model):
    type: Literal["ObjectEvent"] = "ObjectEvent"
    event_time: str
    event_time_zone_offset: str = TIME_ZONE_OFFSET
    event_id: Annotated[str | None, Field(alias="eventID")] = None
    epc_list: tuple[str, ...] | None = None
    quantity_list: tuple[QuantityElement, ...] | None = None
    action: Action
    biz_step: BizStep | None = None
    disposition: Disposition
    read_point: Place | None = None
    biz_location: Place | None = None
    source_list: tuple[Source, ...] | None = None
    destination_list: tuple[Destination, ...] | None = None
    ilmd: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def with_hash_id(self) -> ObjectEvent:
        return self.model_copy(update={"event_id": event_hash(self.as_json())})


class Attribute(_Model):
    id: str
    attribute: str


class VocabularyElement(_Model):
    id: str
    attributes: tuple[Attribute, ...]


class Vocabulary(_Model):
    type: str
    vocabulary_element_list: tuple[VocabularyElement, ...]


class MasterData(_Model):
    vocabulary_list: tuple[Vocabulary, ...]


class Header(_Model):
    epcis_master_data: MasterData


class Body(_Model):
    event_list: tuple[ObjectEvent, ...]


class EPCISDocument(_Model):
    context: Annotated[tuple[str | dict[str, str], ...], Field(alias="@context")] = (
        EPCIS_CONTEXT,
        {"cbvmda": CBVMDA},  # as the EPCIS context has it; declared so ILMD keys expand alike
    )
    type: Literal["EPCISDocument"] = "EPCISDocument"
    schema_version: Literal["2.0"] = "2.0"
    creation_date: str
    epcis_header: Header | None = None
    epcis_body: Body

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def batch_document(
    events: Sequence[BatchEvent],
    *,
    root: str,
    now: datetime,
    product: ProductRegistered | None = None,
    producer: ProducerRegistered | None = None,
) -> EPCISDocument:
    """The EPCIS document of one batch: its events in the order given, the expiry if it has
    passed at `now`, and master data for the product, the parties and places named.

    `events` must hold the batch's BatchOpened (its lot and expiry are on every commissioning
    event) and only that batch's events; `root` is our resolver's scheme and host, which
    names a product without a GTIN. Raises ValueError otherwise."""
    opened = [e for e in events if isinstance(e, BatchOpened)]
    if len(opened) != 1 or any(e.batch_id != opened[0].batch_id for e in events):
        raise ValueError("the events must be one batch's, with exactly one BatchOpened")
    batch = _Batch(opened[0], root, producer)
    converted = [batch.event(e) for e in events if not isinstance(e, BatchClosed)]
    expired = batch.expiry(now)
    if expired is not None:
        converted.append(expired)
    vocabularies = _master_data(batch, events, product, producer)
    return EPCISDocument(
        creation_date=now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        epcis_header=Header(epcis_master_data=MasterData(vocabulary_list=vocabularies))
        if vocabularies
        else None,
        epcis_body=Body(event_list=tuple(e.with_hash_id() for e in converted)),
    )


def event_time(moment: datetime) -> str:
    """An instant as EPCIS writes ours: Vietnam time, to the millisecond."""
    return moment.astimezone(VIETNAM_TIME).isoformat(timespec="milliseconds")


class _Batch:
    """What every event of one batch shares: its identifiers, ILMD and producer's place."""

    def __init__(self, opened: BatchOpened, root: str, producer: ProducerRegistered | None) -> None:
        self.opened = opened
        self.root = root
        self.producer_gln = producer.gln if producer is not None else None
        scheme, value = identifiers.split_product_key(opened.product_key)
        self.gtin = value if scheme is KeyScheme.GTIN else None
        if self.gtin is not None:
            self.class_id = epcis_uri(gtin_link(self.gtin, lot=opened.lot))
            self.product_id = epcis_uri(gtin_link(self.gtin))
        else:
            self.class_id = f"{root}{opened.batch_id}"
            self.product_id = f"{root}{opened.product_key}"
        self.ilmd = {
            "cbvmda:lotNumber": opened.lot,
            "cbvmda:itemExpirationDate": opened.expiry_date.isoformat(),
        }

    def unit_id(self, serial: str) -> str:
        if self.gtin is not None:
            return epcis_uri(gtin_link(self.gtin, serial=serial))
        return f"{self.root}{identifiers.unit_key(self.opened.product_key, serial)}"

    def lot(self, units: int | None = None) -> tuple[QuantityElement, ...]:
        return (QuantityElement(epc_class=self.class_id, quantity=units),)

    def event(self, event: BatchEvent) -> ObjectEvent:
        when = event_time(event.occurred_at)
        home = _place(self.producer_gln)
        if isinstance(event, BatchOpened):
            return ObjectEvent(
                event_time=when,
                quantity_list=self.lot(event.planned_units),
                action=Action.ADD,
                biz_step=BizStep.COMMISSIONING,
                disposition=Disposition.ACTIVE,
                read_point=home,
                biz_location=home,
                ilmd=self.ilmd,
            )
        if isinstance(event, UnitsPacked):
            return ObjectEvent(
                event_time=when,
                epc_list=tuple(self.unit_id(serial) for serial in event.serials),
                action=Action.ADD,
                biz_step=BizStep.COMMISSIONING,
                disposition=Disposition.ACTIVE,
                read_point=home,
                biz_location=home,
                ilmd=self.ilmd,
            )
        if isinstance(event, BatchShipped):
            return ObjectEvent(
                event_time=when,
                quantity_list=self.lot(event.units),
                action=Action.OBSERVE,
                biz_step=BizStep.SHIPPING,
                disposition=Disposition.IN_TRANSIT,
                read_point=home,
                source_list=_ends(Source, "source", self.producer_gln),
                destination_list=_ends(Destination, "destination", event.to_gln),
            )
        if isinstance(event, BatchReceived):
            there = _place(event.receiver_gln)
            return ObjectEvent(
                event_time=when,
                quantity_list=self.lot(event.units),
                action=Action.OBSERVE,
                biz_step=BizStep.RECEIVING,
                disposition=Disposition.IN_PROGRESS,
                read_point=there,
                biz_location=there,
                source_list=_ends(Source, "source", self.producer_gln),
                destination_list=_ends(Destination, "destination", event.receiver_gln),
            )
        if isinstance(event, BatchRecalled):
            return ObjectEvent(
                event_time=when,
                quantity_list=self.lot(),
                action=Action.OBSERVE,
                disposition=Disposition.RECALLED,
            )
        raise ValueError(f"no EPCIS event for {event.type}")

    def expiry(self, now: datetime) -> ObjectEvent | None:
        """The batch's expiry as an event, once its day is over in Vietnam."""
        day_after: date = self.opened.expiry_date + timedelta(days=1)
        moment = datetime.combine(day_after, time(), VIETNAM_TIME)
        if now < moment:
            return None
        return ObjectEvent(
            event_time=event_time(moment),
            quantity_list=self.lot(),
            action=Action.OBSERVE,
            disposition=Disposition.EXPIRED,
        )


def _place(gln: str | None) -> Place | None:
    return Place(id=location_uri(gln)) if gln else None


_End = TypeVar("_End", Source, Destination)


def _ends(kind: type[_End], member: str, gln: str | None) -> tuple[_End, ...] | None:
    """A source or destination list: the party that owns the goods and its place."""
    if gln is None:
        return None
    return (
        kind.model_validate({"type": PartyType.OWNING_PARTY, member: party_uri(gln)}),
        kind.model_validate({"type": PartyType.LOCATION, member: location_uri(gln)}),
    )


def _attributes(**values: str | None) -> tuple[Attribute, ...]:
    return tuple(Attribute(id=MDA + k, attribute=v) for k, v in values.items() if v)


def _master_data(
    batch: _Batch,
    events: Sequence[BatchEvent],
    product: ProductRegistered | None,
    producer: ProducerRegistered | None,
) -> tuple[Vocabulary, ...]:
    products, places, parties = [], {}, {}
    if product is not None:
        products.append(
            VocabularyElement(
                id=batch.product_id, attributes=_attributes(descriptionShort=product.name)
            )
        )
    if producer is not None and producer.gln:
        places[location_uri(producer.gln)] = _attributes(
            name=producer.name,
            streetAddressOne=producer.address,
            city=producer.district,
            state=producer.province,
            countryCode="VN",
        )
        parties[party_uri(producer.gln)] = _attributes(name=producer.name)
    for event in events:
        if isinstance(event, BatchShipped) and event.to_gln:
            name, province, gln = event.to_party, event.to_province, event.to_gln
        elif isinstance(event, BatchReceived) and event.receiver_gln:
            name, province, gln = event.receiver, event.receiver_province, event.receiver_gln
        else:
            continue
        places.setdefault(
            location_uri(gln), _attributes(name=name, state=province, countryCode="VN")
        )
        parties.setdefault(party_uri(gln), _attributes(name=name))
    vocabularies = [
        ("urn:epcglobal:epcis:vtype:EPCClass", products),
        (
            "urn:epcglobal:epcis:vtype:BusinessLocation",
            [VocabularyElement(id=k, attributes=v) for k, v in places.items()],
        ),
        (
            "urn:epcglobal:epcis:vtype:Party",
            [VocabularyElement(id=k, attributes=v) for k, v in parties.items()],
        ),
    ]
    return tuple(
        Vocabulary(type=kind, vocabulary_element_list=tuple(elements))
        for kind, elements in vocabularies
        if elements
    )
