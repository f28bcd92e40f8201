"""The events of the system: a batch's life, certifications and scans.

One explicit class per event, each with a stable `type` name that is what Kafka and
Cassandra store (never a Python path, so modules can move). Every event has a unique
`event_id` (a UUID the sender chooses once and keeps on retries) and `occurred_at`, a
timezone-aware instant kept in UTC.

- `encode_event` / `decode_event`: the canonical bytes (contract.encoding); decoding is
  strict and refuses any other spelling. `parse_event` is the lenient door for JSON from
  outside (any UTC offset, "12.50"); both raise one ContractError listing every bad field.
- `Event.content_hash()`: sha256 of the canonical bytes without `event_id`, in the spirit
  of the EPCIS 2.0 event hash (which also leaves the event id out): the same fact captured
  twice has the same hash, so ingest can drop a duplicate even if a sender re-sent it under
  a new id. Identical facts are genuinely the same: every event names its batch and instant.
- `Event.topic_key()`: the Kafka key (see contract.topics). A batch's events are keyed by
  batch id, so they land on one partition in order; certification events by product key;
  scans by unit key, so all scans of one unit meet in one place for clone analytics.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)

from contract import identifiers
from contract.certification import CertificationRevocation, ProductGroup, StarCertification
from contract.encoding import decode_model, model_bytes, sha256_hex
from contract.errors import ContractError
from contract.evaluation import (
    CentralRecognised,
    CommunePreChecked,
    DossierSubmitted,
    MemberScored,
    ProposedToCentral,
    ProvinceDeclined,
    ProvinceRecognised,
)
from contract.event_base import EventBase
from contract.fields import (
    BatchId,
    Gln,
    Identifier,
    KeyId,
    LabelDigest,
    Lot,
    PrintedStars,
    ProductKey,
    Quantity,
    ScannedText,
    Serial,
    Text,
)
from contract.signed import Signed
from contract.verdict import Reason

MAX_SERIALS_PER_EVENT = 10_000


class _BatchEvent(EventBase):
    batch_id: BatchId
    producer_id: Identifier

    def topic_key(self) -> bytes:
        return self.batch_id.encode("utf-8")


class Unit(StrEnum):
    KILOGRAM = "kg"
    GRAM = "g"
    LITRE = "l"
    MILLILITRE = "ml"
    PIECE = "piece"


class RawMaterial(BaseModel):
    """One input of a batch: "one step back" of Circular 02/2024."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    material: Text
    origin: Text
    origin_gln: Gln | None = None
    quantity: Quantity
    unit: Unit


class BatchOpened(_BatchEvent):
    type: Literal["batch_opened"] = "batch_opened"
    product_key: ProductKey
    lot: Lot
    production_date: date
    expiry_date: date
    raw_materials: Annotated[tuple[RawMaterial, ...], Field(min_length=1, max_length=100)]
    planned_units: Annotated[int, Field(ge=1, le=10_000_000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BatchOpened:
        expected = identifiers.batch_id(self.product_key, self.lot)
        if self.batch_id != expected:
            raise ValueError(f"batch_id must be {expected!r} (product key and lot)")
        if self.expiry_date <= self.production_date:
            raise ValueError("expiry_date must be after production_date")
        return self


class UnitsPacked(_BatchEvent):
    """Labels signed for these serials; a scan of any other serial was never packed."""

    type: Literal["units_packed"] = "units_packed"
    serials: Annotated[tuple[Serial, ...], Field(min_length=1, max_length=MAX_SERIALS_PER_EVENT)]
    stars: PrintedStars
    key_id: KeyId
    packed_on: date
    label_digests: tuple[LabelDigest, ...] = ()
    """The digest of each serial's label (contract.label.SignedLabel.digest), in the order of
    `serials`: the producer's word for exactly which labels it packed, so the online
    resolver can recognise them without checking each scan's signature again. Empty from a
    station that does not send them; then the field is left out of the event's bytes, which
    keeps every event signed before it existed canonical."""

    @model_validator(mode="after")
    def _unique(self) -> UnitsPacked:
        if len(set(self.serials)) != len(self.serials):
            raise ValueError("serials must not repeat")
        if self.label_digests and len(self.label_digests) != len(self.serials):
            raise ValueError(
                f"{len(self.label_digests)} label digests for {len(self.serials)} serials: "
                "send one per serial, or none"
            )
        return self

    @model_serializer(mode="wrap")
    def _without_absent_digests(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = dump(self)
        if not self.label_digests:
            del data["label_digests"]
        return data


class BatchClosed(_BatchEvent):
    type: Literal["batch_closed"] = "batch_closed"
    units_packed: Annotated[int, Field(ge=0)]


class BatchShipped(_BatchEvent):
    """ "One step forward": who the batch (or part of it) went to."""

    type: Literal["batch_shipped"] = "batch_shipped"
    shipment_id: Identifier
    to_party: Text
    to_gln: Gln | None = None
    to_province: Text | None = None
    units: Annotated[int, Field(ge=1)]
    from_gln: Gln | None = None
    """Where the units left: a distributor's GLN when the producer records its distributor's
    onward shipment (one step forward from the distributor); None for the producer's own
    site. Left out of the bytes when None, so shipments signed before it keep theirs."""

    @model_serializer(mode="wrap")
    def _without_absent_origin(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = dump(self)
        if self.from_gln is None:
            del data["from_gln"]
        return data


class BatchReceived(_BatchEvent):
    type: Literal["batch_received"] = "batch_received"
    shipment_id: Identifier
    receiver: Text
    receiver_gln: Gln | None = None
    receiver_province: Text | None = None
    """Where the units are sold: a scan far from it suggests a diverted or copied code."""
    units: Annotated[int, Field(ge=1)]


class BatchRecalled(_BatchEvent):
    type: Literal["batch_recalled"] = "batch_recalled"
    recalled_by: Identifier
    reason: Text


class CertificationIssued(EventBase):
    type: Literal["certification_issued"] = "certification_issued"
    certification: Signed[StarCertification]

    def topic_key(self) -> bytes:
        return self.certification.body.product_key.encode("utf-8")


class CertificationRevoked(EventBase):
    type: Literal["certification_revoked"] = "certification_revoked"
    revocation: Signed[CertificationRevocation]

    def topic_key(self) -> bytes:
        return self.revocation.body.product_key.encode("utf-8")


class ProducerKind(StrEnum):
    """The subjects (chủ thể) of OCOP."""

    ENTERPRISE = "enterprise"
    COOPERATIVE = "cooperative"
    COOPERATIVE_GROUP = "cooperative_group"
    HOUSEHOLD = "household"


class ProducerRegistered(EventBase):
    """An authority registers a producer: who and where, for "one step back" and for the
    consumer page (Circular 02/2024: producer name and address). Signed by that authority;
    a later registration of the same producer replaces the earlier one."""

    type: Literal["producer_registered"] = "producer_registered"
    authority_id: Identifier
    producer_id: Identifier
    name: Text
    kind: ProducerKind
    address: Text
    commune: Text
    district: Text
    province: Text
    gln: Gln | None = None

    def topic_key(self) -> bytes:
        return self.producer_id.encode("utf-8")


class ProductRegistered(EventBase):
    """An authority registers a producer's product: what a consumer sees besides the stars
    (Circular 02/2024: product name and image). Keyed like the product's certifications, so
    a product's registration and ratings stay in order on one partition."""

    type: Literal["product_registered"] = "product_registered"
    authority_id: Identifier
    product_key: ProductKey
    producer_id: Identifier
    name: Text
    name_en: Text | None = None
    product_group: ProductGroup
    description: Text | None = None
    image_url: Annotated[str, Field(pattern=r"^https://[^\s]{1,500}$")] | None = None
    brand: Text | None = None
    """The brand or trademark the product is sold under, if any (Circular 02/2024,
    Art. 6(5)(h))."""
    standards: Annotated[tuple[Text, ...], Field(max_length=20)] = ()
    """The standards the product is made to (Art. 6(5)(k)): TCVN, QCVN, international or
    regional ones, or the producer's own TCCS, e.g. "TCVN 5107:2018"."""

    @model_serializer(mode="wrap")
    def _without_absent_fields(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`brand` and `standards` came later: left out when absent, so that every
        registration signed before them keeps its canonical bytes."""
        data: dict[str, Any] = dump(self)
        if self.brand is None:
            del data["brand"]
        if not self.standards:
            del data["standards"]
        return data

    def topic_key(self) -> bytes:
        return self.product_key.encode("utf-8")


class PartyRole(StrEnum):
    """What a registered location is, for Circular 02/2024's location tracing codes."""

    PRODUCER_SITE = "producer_site"
    PACKING_STATION = "packing_station"
    DISTRIBUTOR = "distributor"
    SHOP = "shop"


class PartyRegistered(EventBase):
    """An authority registers a party's location under its GLN (GS1 Global Location Number,
    the location tracing code of TCVN 13274:2020): a producer's site or packing station, a
    distributor's warehouse, a shop. Batch events name parties by GLN (BatchShipped.to_gln,
    BatchReceived.receiver_gln, RawMaterial.origin_gln); this says who and where each is.
    Keyed by GLN; a later registration of the same GLN replaces the earlier one."""

    type: Literal["party_registered"] = "party_registered"
    authority_id: Identifier
    gln: Gln
    name: Text
    role: PartyRole
    address: Text
    commune: Text
    province: Text
    producer_id: Identifier | None = None
    """The producer whose site or packing station this is (None for distributors, shops)."""

    @model_validator(mode="after")
    def _owned(self) -> Self:
        own = self.role in (PartyRole.PRODUCER_SITE, PartyRole.PACKING_STATION)
        if own != (self.producer_id is not None):
            raise ValueError(
                "a producer site or packing station names its producer_id; "
                "a distributor or shop does not"
            )
        return self

    def topic_key(self) -> bytes:
        return self.gln.encode("utf-8")


class ScannerKind(StrEnum):
    """Inspectors' scans are kept apart from consumers' in clone analytics."""

    CONSUMER = "consumer"
    INSPECTOR = "inspector"


class LocationSource(StrEnum):
    """How far to trust a position: an IP-based place can be a province off."""

    GPS = "gps"
    NETWORK = "network"
    IP = "ip"
    MANUAL = "manual"


class Location(BaseModel):
    """A position in micro-degrees (integers: the canonical encoding has no floats)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latitude_e6: Annotated[int, Field(ge=-90_000_000, le=90_000_000)]
    longitude_e6: Annotated[int, Field(ge=-180_000_000, le=180_000_000)]
    accuracy_m: Annotated[int, Field(ge=0, le=20_000_000)]
    source: LocationSource


DeviceHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A salted SHA-256 of a device identifier: tells devices apart, never identifies a person."""


class _SeenUnit(EventBase):
    """Something the verify API saw of a code: the raw text and, if it names one, the unit."""

    code: ScannedText
    batch_id: BatchId | None = None
    serial: Serial | None = None
    province: Text | None = None
    """The coarse place the client offered (a province), if any."""
    location: Location | None = None

    @model_validator(mode="after")
    def _unit(self) -> Self:
        if (self.batch_id is None) != (self.serial is None):
            raise ValueError("batch_id and serial are given together or not at all")
        return self

    def unit_key(self) -> str | None:
        if self.batch_id is None or self.serial is None:
            return None
        product, _ = identifiers.split_batch_id(self.batch_id)
        return identifiers.unit_key(product, self.serial)

    def topic_key(self) -> bytes:
        """The unit key; a code that names no unit is keyed by its hash, spreading them."""
        unit = self.unit_key()
        if unit is None:
            return sha256_hex(self.code.encode("utf-8")).encode("ascii")
        return unit.encode("utf-8")


class ScanRecorded(_SeenUnit):
    """A resolution at the verify API, with its verdict (no personal data)."""

    type: Literal["scan_recorded"] = "scan_recorded"
    producer_id: Identifier | None = None
    reason: Reason
    scanner: ScannerKind
    device: DeviceHash | None = None
    """A keyed hash of the device id the client sent (an app's header or the page's cookie):
    the client's word, so it never counts as independent evidence on its own."""
    client: DeviceHash | None = None
    """A keyed hash of the network the request came from (the source address, or the
    X-Forwarded-For entry a trusted proxy added): what tells independent clients apart, since
    one client can send any headers, cookies and claimed places it likes. None for scans
    recorded before it existed."""


class InspectionVerdict(StrEnum):
    GENUINE = "genuine"
    SUSPICIOUS = "suspicious"
    COUNTERFEIT = "counterfeit"


class InspectionRecorded(_SeenUnit):
    """An inspector's finding on a label in a shop, sent by the verify API for them."""

    type: Literal["inspection_recorded"] = "inspection_recorded"
    inspector_id: Identifier
    stars_seen: Annotated[int, Field(ge=0, le=5)]
    """The star logo printed on the package, as the inspector saw it."""
    verdict: InspectionVerdict
    reason: Reason
    """What verification answered for the code."""
    place: Text
    """The shop or market where the label was seen."""
    note: Annotated[str, Field(max_length=2000)] | None = None


class AlertClosed(EventBase):
    """An inspector closes a counterfeit alert with a finding, through the verify API."""

    type: Literal["alert_closed"] = "alert_closed"
    alert_id: UUID
    unit_key: Annotated[str, Field(min_length=1, max_length=300)]
    """Where the alert is filed: a unit key, or the hash of a code that names no unit."""
    inspector_id: Identifier
    finding: InspectionVerdict
    note: Annotated[str, Field(max_length=2000)] | None = None

    def topic_key(self) -> bytes:
        return self.unit_key.encode("utf-8")


class ReportProblem(StrEnum):
    """What a consumer says looks wrong with a product (the report form's choices)."""

    STARS_ABOVE_RATING = "stars_above_rating"
    """The star logo shows more stars than the product's rating."""
    LOGO_AFTER_LAPSE = "logo_after_lapse"
    """The OCOP logo is still used after the rating expired or was revoked."""
    CODE_COPIED = "code_copied"
    """The code looks copied, or was scanned elsewhere."""
    NO_RECOGNITION = "no_recognition"
    """The product claims OCOP and has no OCOP recognition at all."""
    FAKE_PACKAGING = "fake_packaging"
    """The packaging or the contents look fake."""
    OTHER = "other"
    """Something else, said in the note (a report of this kind must have one)."""


REPORT_SHOP_MAX = 120
REPORT_PROVINCE_MAX = 64
REPORT_NOTE_MAX = 500
REPORT_CONTACT_MAX = 120
_NOTE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _report_note(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    if _NOTE_CONTROL.search(value):
        raise ValueError("a note must not contain control characters other than line feeds")
    return value


ReportShop = Annotated[Text, StringConstraints(max_length=REPORT_SHOP_MAX)]
"""Where the product was bought: a shop or market, as the consumer names it."""
ReportProvince = Annotated[Text, StringConstraints(max_length=REPORT_PROVINCE_MAX)]
ReportContact = Annotated[Text, StringConstraints(max_length=REPORT_CONTACT_MAX)]
"""How inspectors may reach the consumer (a phone number, an e-mail address), if they wish."""
ReportNote = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REPORT_NOTE_MAX),
    AfterValidator(_report_note),
]
"""A short note: NFC, lines separated by line feeds, no other control characters."""

_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", identifiers.SERIAL_ALPHABET.encode("ascii")
)


def report_receipt(report_id: UUID) -> str:
    """A report's receipt number: the first 40 bits of its id in Crockford base32 (the
    serials' alphabet: no I, L, O or U), 8 characters a consumer can read out on the phone.
    The first bytes of a UUIDv5 are hash bits; two reports share a receipt one time in 2^40."""
    head = base64.b32encode(report_id.bytes[:5])  # 40 bits: 8 characters, no padding
    return head.translate(_TO_CROCKFORD).decode("ascii")


class ConsumerReported(_SeenUnit):
    """A consumer's report of a suspected fake, sent by the verify API for them (no login).
    The processors file it as a case for the inspectors of the province where the product
    was bought (records.cases). Its event id is the report's id, the same for every report
    of one client on one unit (or code) on one day (verify_api.routes.reports), so copies of
    a report are one case. Never copy evidence: one client can say anything."""

    type: Literal["consumer_reported"] = "consumer_reported"
    province: ReportProvince  # required here: the case's province
    """Where the product was bought: whose inspectors get the case."""
    reason: Reason
    """What verification answered for the code when it was reported."""
    shop: ReportShop
    problem: ReportProblem
    note: ReportNote | None = None
    contact: ReportContact | None = None
    """Only inspectors read it (records.cases keeps it in the case's own row only)."""
    client: DeviceHash | None = None
    """A keyed hash of the client's network (as ScanRecorded.client): whose report it is."""

    @model_validator(mode="after")
    def _explained(self) -> Self:
        if self.problem is ReportProblem.OTHER and self.note is None:
            raise ValueError("a report of another problem says what it is in its note")
        return self

    @property
    def receipt(self) -> str:
        return report_receipt(self.event_id)


class CaseClosed(EventBase):
    """An inspector closes a consumer's case with a finding, through the verify API."""

    type: Literal["case_closed"] = "case_closed"
    case_id: UUID
    unit_key: Annotated[str, Field(min_length=1, max_length=300)]
    """Where the case is filed (its report's topic key): a unit key, or the hash of a code
    that names no unit. The Kafka key, so a case's closing follows its report."""
    inspector_id: Identifier
    finding: InspectionVerdict
    note: Annotated[str, Field(max_length=2000)] | None = None

    def topic_key(self) -> bytes:
        return self.unit_key.encode("utf-8")


class InspectorRole(StrEnum):
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    OFFICE = "office"
    """The OCOP office's staff: the evaluation desk and the province's dashboard."""


class InspectorRegistered(EventBase):
    """An authority gives an inspector an API token, or withdraws it (`active` false).

    Only the token's SHA-256 travels and is stored: the token itself is handed to the
    inspector once, when it is made, so neither Kafka nor Cassandra can leak it.
    """

    type: Literal["inspector_registered"] = "inspector_registered"
    authority_id: Identifier
    inspector_id: Identifier
    name: Text
    role: InspectorRole
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    active: bool = True
    province: Text | None = None
    """The province whose alerts and cases the inspector triages (an inspector sees only
    those); None for an office-wide inspector, who chooses one when signing in."""

    def topic_key(self) -> bytes:
        return self.inspector_id.encode("utf-8")


Event = Annotated[
    BatchOpened
    | UnitsPacked
    | BatchClosed
    | BatchShipped
    | BatchReceived
    | BatchRecalled
    | CertificationIssued
    | CertificationRevoked
    | ProducerRegistered
    | ProductRegistered
    | InspectorRegistered
    | PartyRegistered
    | ScanRecorded
    | InspectionRecorded
    | AlertClosed
    | ConsumerReported
    | CaseClosed
    | DossierSubmitted
    | CommunePreChecked
    | MemberScored
    | ProvinceRecognised
    | ProvinceDeclined
    | ProposedToCentral
    | CentralRecognised,
    Field(discriminator="type"),
]
BatchEvent = BatchOpened | UnitsPacked | BatchClosed | BatchShipped | BatchReceived | BatchRecalled
RegistrationEvent = ProducerRegistered | ProductRegistered | InspectorRegistered | PartyRegistered
SignedEvent = Signed[Event]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
SIGNED_EVENT_ADAPTER: TypeAdapter[SignedEvent] = TypeAdapter(SignedEvent)


def encode_event(event: Event) -> bytes:
    return model_bytes(event)


def decode_event(data: bytes) -> Event:
    """Strict: only the canonical bytes of a valid event are accepted."""
    return decode_model(EVENT_ADAPTER, data)


def decode_signed_event(data: bytes) -> SignedEvent:
    return decode_model(SIGNED_EVENT_ADAPTER, data)


def parse_event(data: Mapping[str, Any] | str | bytes) -> Event:
    """Lenient: JSON text or a mapping from outside, normalised into an event."""
    try:
        if isinstance(data, str | bytes):
            return EVENT_ADAPTER.validate_python(json.loads(data))
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ContractError.from_validation(exc) from None
    except ValueError as exc:
        raise ContractError.single(f"not JSON: {exc}") from None
