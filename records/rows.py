"""The records as the services see them: small frozen dataclasses, not driver rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from contract.certification import CertificationRevocation, StarCertification


@dataclass(frozen=True)
class BatchState:
    """A batch's facts and chain head: the static columns of its partition."""

    batch_id: str
    product_key: str
    producer_id: str
    lot: str
    production_date: date
    expiry_date: date
    raw_materials: str  # JSON of the contract's RawMaterial list
    planned_units: int | None
    units_packed: int
    status: str
    recalled_at: datetime | None
    recall_reason: str | None
    received_province: str | None
    head_seq: int
    head_hash: bytes


@dataclass(frozen=True)
class Unit:
    unit_key: str
    batch_id: str
    product_key: str
    producer_id: str
    serial: str
    printed_stars: int
    key_id: str
    packed_on: date
    seq: int


@dataclass(frozen=True)
class Producer:
    producer_id: str
    name: str
    kind: str
    address: str
    commune: str
    district: str
    province: str
    gln: str | None
    authority_id: str
    registered_at: datetime


@dataclass(frozen=True)
class Product:
    product_key: str
    producer_id: str
    name: str
    name_en: str | None
    product_group: str
    description: str | None
    image_url: str | None
    authority_id: str
    registered_at: datetime
    brand: str | None = None
    """Circular 02/2024, Art. 6(5)(h); None for products registered without one."""
    standards: tuple[str, ...] = ()
    """The standards applied (Art. 6(5)(k)): TCVN, QCVN, international, or the producer's TCCS."""


@dataclass(frozen=True)
class StoredCertification:
    """A certification as the authority signed it, with its revocation if there is one."""

    certification: StarCertification
    certification_document: bytes
    revocation: CertificationRevocation | None
    revocation_document: bytes | None


@dataclass(frozen=True)
class Inspector:
    inspector_id: str
    name: str
    role: str
    authority_id: str
    active: bool
    province: str | None = None
    """Whose alerts and cases the inspector triages; None: chosen at sign-in."""


@dataclass(frozen=True)
class Inspection:
    inspected_at: datetime
    inspector_id: str
    code: str
    stars_seen: int
    verdict: str
    reason: str
    place: str
    province: str | None
    note: str | None
    event_id: UUID | None = None


@dataclass(frozen=True)
class AlertRow:
    """An alert with its state: open until an inspector closes it with a finding."""

    unit_key: str
    alert_id: UUID
    kind: str
    raised_at: datetime
    province: str | None
    detail: str
    status: str  # open | closed
    closed_by: str | None = None
    finding: str | None = None
    clients: int = 1
    """The independent clients the finding rests on (1 for alerts stored before)."""
    corroborated: bool = False
    """A copy finding no single client can have made (contract.alerts.Alert.corroborated):
    while open, it warns consumers of a copy."""


@dataclass(frozen=True)
class ScanSummary:
    count: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class UnitActivity:
    """What a scan of a unit shows besides its fixed facts: its scans so far, the kinds of
    the alerts on it that are still open, and its copy evidence."""

    scans: ScanSummary
    open_alerts: frozenset[str] = frozenset()
    copy_evidence: frozenset[str] = frozenset()
    """Why consumers are warned of a copy (empty: they are not): the ids of the open,
    corroborated copy alerts on the unit, and `inspection:<event id>` when the newest
    inspector's finding that says genuine or counterfeit says counterfeit. Uncorroborated
    alerts are never here: one client, whatever it sends, cannot make the unit look copied
    to others."""
