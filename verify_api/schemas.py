"""The API's response and request bodies: one model per use, with field limits.

These are the public shapes, kept apart from the contract's events (what is signed and sent)
and the records' rows (what Cassandra holds): a column can be renamed or an event can grow
a field without the API's clients noticing.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contract.certification import CertificationStatus
from contract.events import InspectionVerdict, InspectorRole, Location
from contract.fields import Text
from contract.label import LabelDefect
from contract.verdict import Category, Level, Reason
from keys.chain import ChainDefect
from keys.trustlist import KeyStatus

Short = Annotated[str, Field(max_length=300)]
Code = Annotated[str, Field(max_length=1024)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Sentences(_Out):
    vi: str
    en: str


class FindingOut(_Out):
    reason: Reason
    level: Level
    sentence: Sentences


class LabelOut(_Out):
    """What the code says. Vouched for only when `signature_valid` is true."""

    host: Short
    product_key: Short
    lot: Short
    serial: Short
    packed_on: date
    printed_stars: int
    key_id: Short


class SignerOut(_Out):
    key_id: Short
    key_status: KeyStatus
    producer_id: Short
    authority_id: Short


class CertificateOut(_Out):
    certificate_no: Short
    decision_no: Short
    stars: int
    score: Short
    evaluation_level: Short
    authority_id: Short
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime


class RevocationOut(_Out):
    decision_no: Short
    reason: Short
    issued_at: datetime
    effective_at: datetime


class RatingChange(StrEnum):
    AWARDED = "awarded"
    RENEWED = "renewed"
    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RatingEvent(_Out):
    """One step of a product's rating history: what changed, when, and the stars after it."""

    change: RatingChange
    at: datetime
    certificate_no: Short
    stars: int
    """The certificate's stars (for revoked and expired: the stars that ended)."""


class StarsOut(_Out):
    """The star claim printed on the label beside the rating that holds now."""

    printed: int
    current: int
    """Stars in force now; 0 when no certification is in force."""
    status: CertificationStatus
    certificate: CertificateOut | None
    revocation: RevocationOut | None
    history: list[RatingEvent]


class ProductOut(_Out):
    product_key: Short
    name: Short
    name_en: Short | None
    product_group: Short
    description: Short | None


class ProducerOut(_Out):
    producer_id: Short
    name: Short
    kind: Short
    address: Short
    commune: Short
    district: Short
    province: Short


class MaterialOut(_Out):
    material: Short
    origin: Short
    quantity: Short
    unit: Short


class StoryStep(_Out):
    """One sealed record of the batch, as a consumer reads it: raw material to shelf."""

    seq: int
    kind: Literal[
        "batch_opened",
        "units_packed",
        "batch_closed",
        "batch_shipped",
        "batch_received",
        "batch_recalled",
    ]
    at: datetime
    units: int | None = None
    party: Short | None = None
    """Who the batch went to (shipped), who took it (received), who recalled it."""
    note: Short | None = None


class BatchOut(_Out):
    batch_id: Short
    lot: Short
    production_date: date
    expiry_date: date
    status: Short
    units_packed: int
    raw_materials: list[MaterialOut]
    recalled_at: datetime | None
    recall_reason: Short | None
    story: list[StoryStep]


class ScansOut(_Out):
    count: int
    first: datetime | None
    last: datetime | None


class TrustListOut(_Out):
    version: int
    issued_at: datetime
    next_update: datetime
    stale: bool


class Links(_Out):
    certifications: Short
    provenance: Short


class Resolution(_Out):
    """The verdict on one code and the facts it rests on; the consumer page shows the same."""

    level: Level
    reason: Reason
    category: Category
    sentence: Sentences
    detail: Annotated[str, Field(max_length=2000)]
    findings: list[FindingOut]
    notices: list[Sentences]
    """Caveats that do not change the verdict (a stale trust list)."""
    defect: LabelDefect | None
    label: LabelOut | None
    signer: SignerOut | None
    stars: StarsOut | None
    product: ProductOut | None
    producer: ProducerOut | None
    batch: BatchOut | None
    packed_in_record: int | None
    """The record of the batch's chain that packed this unit (None if none did)."""
    scans: ScansOut | None
    trust_list: TrustListOut
    links: Links | None
    checked_at: datetime


# -- requests ---------------------------------------------------------------------------------


Province = Annotated[Text, Field(max_length=64)]
"""The coarse place a client offers: a province name, never derived from its address."""


class VerifyRequest(BaseModel):
    """Raw QR text as a scanner read it, and the coarse place the client chooses to share."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1024),
        Field(description="the text read; surrounding whitespace (a scanner's newline) is "
              "not part of a code and is trimmed"),
    ]  # fmt: skip
    province: Province | None = None
    location: Location | None = None


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=1024, description="the QR text read")]
    stars_seen: Annotated[int, Field(ge=0, le=5, description="the star logo on the package")]
    verdict: InspectionVerdict
    place: Annotated[Text, Field(description="the shop or market where the label was seen")]
    province: Province | None = None
    location: Location | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None


class InspectionAccepted(_Out):
    event_id: UUID
    recorded_at: datetime
    reason: Reason
    """What verification answered for the code, as recorded with the finding."""
    level: Level


class InspectionOut(_Out):
    inspected_at: datetime
    inspector_id: Short
    code: Code
    stars_seen: int
    verdict: Short
    reason: Short
    place: Short
    province: Short | None
    note: Annotated[str, Field(max_length=2000)] | None


class InspectionList(_Out):
    unit_key: Short
    count: int
    inspections: list[InspectionOut]


class AlertOut(_Out):
    alert_id: UUID
    kind: Short
    unit_key: Short
    """A unit key, or the hash of a code that names no unit."""
    raised_at: datetime
    province: Short | None
    detail: Annotated[str, Field(max_length=1000)]
    sentence: Sentences | None
    """What the alert means, for a kind this API knows."""
    status: Short
    closed_by: Short | None
    finding: Short | None


class AlertList(_Out):
    count: int
    alerts: list[AlertOut]


class AlertClosing(BaseModel):
    """An inspector's finding that closes an alert."""

    model_config = ConfigDict(extra="forbid")

    unit_key: Annotated[str, Field(min_length=1, max_length=300)]
    finding: InspectionVerdict
    note: Annotated[str, Field(max_length=2000)] | None = None


class Accepted(_Out):
    """Kafka has the event; the processors store it shortly."""

    event_id: UUID
    recorded_at: datetime


class InspectorOut(_Out):
    inspector_id: Short
    name: Short
    role: InspectorRole
    authority_id: Short


# -- certification history and provenance -----------------------------------------------------


class CertificationOut(_Out):
    certificate: CertificateOut
    revocation: RevocationOut | None
    producer_id: Short
    document: str
    """The authority-signed certification, exactly as stored (canonical JSON)."""
    revocation_document: str | None


class CertificationHistory(_Out):
    product_key: Short
    product: ProductOut | None
    current: CertificationStatus
    current_certificate: Short | None
    history: list[RatingEvent]
    certifications: list[CertificationOut]
    checked_at: datetime


class ChainRecordOut(_Out):
    seq: int
    event: str
    """The producer-signed event, exactly the bytes the record hash covers (canonical JSON)."""
    prev_hash: Short
    record_hash: Short
    seal: Short
    """The processor's Ed25519 signature over the record hash, base64url."""
    sealed_by: Short


class ChainCheck(_Out):
    ok: bool
    defect: ChainDefect | None
    detail: Short
    verified: int


class Provenance(_Out):
    batch_id: Short
    head_seq: int
    head_hash: Short
    records: list[ChainRecordOut]
    seal_keys: dict[str, str]
    """Public keys (base64url) of the processors that sealed records, by key id."""
    check: ChainCheck
    """The server's own re-verification; a client should repeat it (keys.chain.verify_chain)."""
    batch: BatchOut


class ErrorBody(_Out):
    """Every error: a stable machine code and a sentence (in the requested language)."""

    error: Short
    detail: Annotated[str, Field(max_length=2000)]


class Liveness(_Out):
    status: Literal["live"]


class Check(_Out):
    ok: bool
    detail: Short


class Readiness(_Out):
    ready: bool
    checks: dict[str, Check]
    """`store` (Cassandra answers), `trust_list` (one is held), `scan_events` (they reach
    Kafka: the backlog waiting for it is under the threshold)."""
    trust_list: TrustListOut | None
