"""The hierarchy's documents and how they are issued.

    root (national OCOP office)
     ├─ AuthorityCertificate: a province council's (or the national council's) key
     │   ├─ ProducerKeyCertificate: a producer's label-signing key
     │   ├─ DeskKeyCertificate: the key of the council's desk (its office's web back office),
     │   │   which records the evaluation cycle's steps and signs nothing else
     │   ├─ StarCertification (contract.certification): a product's star rating
     │   ├─ CertificationRevocation (contract.certification)
     │   └─ KeyRevocation: a producer or desk key retired or revoked from a given time
     ├─ LogKeyCertificate: the audit log's checkpoint key, under the log's origin line
     ├─ WitnessCertificate: a witness's cosignature key, and the office that runs it
     └─ KeyRevocation: an authority, log or witness key retired or revoked

Log and witness keys are the audit log's (auditlog/, C2SP signed notes): the certificates
hold them as Ed25519 keys with our key ids, so one key cannot be listed twice under two
roles, and hand them out as auditlog's verifiers (`verifier()`, and `vkey`, Go's verifier
key text) under the name the signed notes use: the log's origin, the witness's name.

A key is usable over [valid_from, min(valid_until, revocation's effective_at)). Rotation is
a new certificate for the new key plus a KeyRevocation of the old one with reason "retired":
what the old key signed before its retirement still verifies, nothing it signed later does.
Revocation for compromise is the same document with an earlier effective time. The root
revokes authority keys; an authority revokes the producer keys it certified.

The validity periods are settings with the rules in force as defaults (36 months for a star
certification under Decision 148/QĐ-TTg).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from auditlog.cosignature import CosignatureVerifier
from auditlog.note import Ed25519Verifier, valid_name
from contract.certification import (
    CertificationRevocation,
    EvaluationLevel,
    ProductGroup,
    StarCertification,
    level_for_stars,
)
from contract.errors import build
from contract.events import ProducerKind
from contract.fields import Identifier, KeyId, Text, UtcDateTime
from contract.label import VIETNAM_TIME, vietnam_date
from contract.signed import Signed
from keys.ids import decode_public_key, encode_public_key, key_id, raw_public_key
from keys.signing import SigningKey

CERTIFICATION_VALIDITY_MONTHS = 36
AUTHORITY_KEY_VALIDITY_MONTHS = 60
PRODUCER_KEY_VALIDITY_MONTHS = 24
DESK_KEY_VALIDITY_MONTHS = 12
"""Shorter than a council's own key: a desk key lives on a web server."""
LOG_KEY_VALIDITY_MONTHS = 60
WITNESS_KEY_VALIDITY_MONTHS = 60
MAX_NOTE_NAME_LENGTH = 200


def _public_key(text: str) -> str:
    decode_public_key(text)
    return text


PublicKeyText = Annotated[str, AfterValidator(_public_key)]


def _note_name(text: str) -> str:
    if not valid_name(text) or len(text) > MAX_NOTE_NAME_LENGTH:
        raise ValueError(
            f"a signed-note key name is 1 to {MAX_NOTE_NAME_LENGTH} characters with no space "
            f"and no '+' (e.g. ocop.vn/log), not {text[:40]!r}"
        )
    if any(ch < "\x20" or ch == "\x7f" for ch in text):
        raise ValueError("a signed-note key name holds no control character")
    return text


NoteName = Annotated[str, AfterValidator(_note_name)]
"""A key's name in C2SP signed notes: a log's origin line, a witness's name."""


class RevocationReason(StrEnum):
    RETIRED = "retired"
    """Rotated out in the ordinary way; nothing suggests misuse."""
    COMPROMISED = "compromised"
    """The private key may be in other hands from the effective time on."""
    WITHDRAWN = "withdrawn"
    """The holder is no longer entitled (producer deregistered, council dissolved)."""


class _KeyCertificate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: KeyId
    public_key: PublicKeyText
    issued_at: UtcDateTime
    valid_from: UtcDateTime
    valid_until: UtcDateTime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        derived = key_id(decode_public_key(self.public_key))
        if self.key_id != derived:
            raise ValueError(f"key_id {self.key_id} is not the public key's id {derived}")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def verification_key(self) -> Ed25519PublicKey:
        return decode_public_key(self.public_key)


class AuthorityCertificate(_KeyCertificate):
    """The root vouches that this key speaks for an OCOP council at the given level."""

    type: Literal["authority_certificate"] = "authority_certificate"
    authority_id: Identifier
    name: Text
    level: EvaluationLevel


class ProducerKeyCertificate(_KeyCertificate):
    """An authority vouches that this key signs the labels and events of this producer."""

    type: Literal["producer_key_certificate"] = "producer_key_certificate"
    authority_id: Identifier
    producer_id: Identifier
    producer_name: Text
    producer_kind: ProducerKind
    address: Text


class DeskKeyCertificate(_KeyCertificate):
    """A council vouches that this key is its desk's: the office's web back office, which
    records and signs the steps of the council's evaluation cycle (contract.evaluation) and
    may sign nothing else. The council's own key, which certifies stars, stays off the web."""

    type: Literal["desk_key_certificate"] = "desk_key_certificate"
    authority_id: Identifier
    desk_name: Text


class LogKeyCertificate(_KeyCertificate):
    """The root vouches that this Ed25519 key signs the checkpoints of the audit log whose
    origin line is `origin` (c2sp.org/tlog-checkpoint); the note key's name is the origin."""

    type: Literal["log_key_certificate"] = "log_key_certificate"
    origin: NoteName

    def verifier(self) -> Ed25519Verifier:
        """The log's signed-note verifier (type 0x01), named by its origin."""
        return Ed25519Verifier(self.origin, raw_public_key(self.verification_key()))

    @property
    def vkey(self) -> str:
        """Go's verifier key text, `<origin>+<hex id>+<base64 key>`."""
        return self.verifier().vkey


class WitnessCertificate(_KeyCertificate):
    """The root names a witness it trusts to cosign the log's checkpoints
    (c2sp.org/tlog-cosignature, type 0x04) and the office that runs it."""

    type: Literal["witness_certificate"] = "witness_certificate"
    name: NoteName
    operator: Text
    """The office that runs the witness (it holds the private key, not us)."""

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, raw_public_key(self.verification_key()))

    @property
    def vkey(self) -> str:
        """Go's verifier key text, `<name>+<hex id>+<base64 0x04 ‖ key>`."""
        return self.verifier().vkey


class KeyRevocation(BaseModel):
    """From `effective_at` on, nothing signed by the key is accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["key_revocation"] = "key_revocation"
    key_id: KeyId
    reason: RevocationReason
    issued_at: UtcDateTime
    effective_at: UtcDateTime


CertT = TypeVar(
    "CertT",
    AuthorityCertificate,
    ProducerKeyCertificate,
    DeskKeyCertificate,
    LogKeyCertificate,
    WitnessCertificate,
)

_DEFAULT_MONTHS: dict[type[_KeyCertificate], int] = {
    AuthorityCertificate: AUTHORITY_KEY_VALIDITY_MONTHS,
    ProducerKeyCertificate: PRODUCER_KEY_VALIDITY_MONTHS,
    DeskKeyCertificate: DESK_KEY_VALIDITY_MONTHS,
    LogKeyCertificate: LOG_KEY_VALIDITY_MONTHS,
    WitnessCertificate: WITNESS_KEY_VALIDITY_MONTHS,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day (31 Jan + 1)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _key_fields(
    public_key: Ed25519PublicKey, valid_from: datetime | None, months: int, now: datetime | None
) -> dict[str, Any]:
    """What every key certificate says of its key: id, key, issue time and validity window."""
    issued_at = now or utc_now()
    start = valid_from or issued_at
    return {
        "key_id": key_id(public_key),
        "public_key": encode_public_key(public_key),
        "issued_at": issued_at,
        "valid_from": start,
        "valid_until": add_months(start, months),
    }


def certify_authority(
    root: SigningKey,
    public_key: Ed25519PublicKey,
    *,
    authority_id: str,
    name: str,
    level: EvaluationLevel,
    valid_from: datetime | None = None,
    months: int = AUTHORITY_KEY_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[AuthorityCertificate]:
    return root.sign_document(
        build(
            AuthorityCertificate,
            **_key_fields(public_key, valid_from, months, now),
            authority_id=authority_id,
            name=name,
            level=level,
        )
    )


def certify_producer_key(
    authority: SigningKey,
    public_key: Ed25519PublicKey,
    *,
    authority_id: str,
    producer_id: str,
    producer_name: str,
    producer_kind: ProducerKind,
    address: str,
    valid_from: datetime | None = None,
    months: int = PRODUCER_KEY_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[ProducerKeyCertificate]:
    return authority.sign_document(
        build(
            ProducerKeyCertificate,
            **_key_fields(public_key, valid_from, months, now),
            authority_id=authority_id,
            producer_id=producer_id,
            producer_name=producer_name,
            producer_kind=producer_kind,
            address=address,
        )
    )


def certify_desk_key(
    authority: SigningKey,
    public_key: Ed25519PublicKey,
    *,
    authority_id: str,
    desk_name: str,
    valid_from: datetime | None = None,
    months: int = DESK_KEY_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[DeskKeyCertificate]:
    """A council certifies its desk's key: it may sign the council's evaluation steps only."""
    return authority.sign_document(
        build(
            DeskKeyCertificate,
            **_key_fields(public_key, valid_from, months, now),
            authority_id=authority_id,
            desk_name=desk_name,
        )
    )


def certify_log_key(
    root: SigningKey,
    log: Ed25519Verifier,
    *,
    valid_from: datetime | None = None,
    months: int = LOG_KEY_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[LogKeyCertificate]:
    """The root certifies the audit log's checkpoint key; `log.name` is the log's origin."""
    public_key = Ed25519PublicKey.from_public_bytes(log.public_key)
    return root.sign_document(
        build(
            LogKeyCertificate,
            **_key_fields(public_key, valid_from, months, now),
            origin=log.name,
        )
    )


def certify_witness(
    root: SigningKey,
    witness: CosignatureVerifier,
    *,
    operator: str,
    valid_from: datetime | None = None,
    months: int = WITNESS_KEY_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[WitnessCertificate]:
    """The root names a witness (its cosignature key under its name) and who runs it."""
    public_key = Ed25519PublicKey.from_public_bytes(witness.public_key)
    return root.sign_document(
        build(
            WitnessCertificate,
            **_key_fields(public_key, valid_from, months, now),
            name=witness.name,
            operator=operator,
        )
    )


def certify_product(
    authority: SigningKey,
    *,
    authority_id: str,
    certificate_no: str,
    decision_no: str,
    product_key: str,
    product_name: str,
    product_group: ProductGroup,
    producer_id: str,
    stars: int,
    score: Decimal,
    valid_from: datetime,
    months: int = CERTIFICATION_VALIDITY_MONTHS,
    now: datetime | None = None,
) -> Signed[StarCertification]:
    """Signs a star certification; stars and score are both asked for and must agree."""
    return authority.sign_document(
        build(
            StarCertification,
            certificate_no=certificate_no,
            decision_no=decision_no,
            product_key=product_key,
            product_name=product_name,
            product_group=product_group,
            producer_id=producer_id,
            stars=stars,
            score=score,
            evaluation_level=level_for_stars(stars),
            authority_id=authority_id,
            issued_at=now or utc_now(),
            valid_from=valid_from,
            valid_until=add_months(valid_from, months),
        )
    )


def revoke_key(
    issuer: SigningKey,
    key: str,
    *,
    reason: RevocationReason,
    effective_at: datetime | None = None,
    now: datetime | None = None,
) -> Signed[KeyRevocation]:
    issued_at = now or utc_now()
    return issuer.sign_document(
        build(
            KeyRevocation,
            key_id=key,
            reason=reason,
            issued_at=issued_at,
            effective_at=effective_at or issued_at,
        )
    )


def rotate(
    issuer: SigningKey,
    old: CertT,
    new_key: Ed25519PublicKey,
    *,
    months: int | None = None,
    now: datetime | None = None,
) -> tuple[Signed[CertT], Signed[KeyRevocation]]:
    """Certifies `new_key` for the same holder and retires the old key.

    The old key retires at the next midnight in Vietnam, not now: labels carry only their
    packing day, and a verifier accepts a label only if the whole day lies before the key's
    end, so retiring mid-day would fail the labels packed that morning. Both keys are valid
    for the rest of the day, which is what lets a packing line switch without stopping.
    """
    issued_at = now or utc_now()
    span = months or _DEFAULT_MONTHS[type(old)]
    new = build(
        type(old),
        **old.model_dump()
        | {
            "key_id": key_id(new_key),
            "public_key": encode_public_key(new_key),
            "issued_at": issued_at,
            "valid_from": issued_at,
            "valid_until": add_months(issued_at, span),
        },
    )
    retirement = revoke_key(
        issuer,
        old.key_id,
        reason=RevocationReason.RETIRED,
        effective_at=next_midnight_in_vietnam(issued_at),
        now=issued_at,
    )
    return issuer.sign_document(new), retirement


def next_midnight_in_vietnam(moment: datetime) -> datetime:
    next_day = vietnam_date(moment) + timedelta(days=1)
    return datetime.combine(next_day, time(), VIETNAM_TIME).astimezone(UTC)


def revoke_certification(
    authority: SigningKey,
    certification: StarCertification,
    *,
    decision_no: str,
    reason: str,
    effective_at: datetime | None = None,
    now: datetime | None = None,
) -> Signed[CertificationRevocation]:
    issued_at = now or utc_now()
    return authority.sign_document(
        build(
            CertificationRevocation,
            certificate_no=certification.certificate_no,
            product_key=certification.product_key,
            decision_no=decision_no,
            authority_id=certification.authority_id,
            reason=reason,
            issued_at=issued_at,
            effective_at=effective_at or issued_at,
        )
    )
