"""The published trust list: every key, certification and revocation, signed by the root.

An offline verifier holds a copy and the root's public key, pinned out of band (printed,
published on the OCOP office's site): a trust list is only loaded if that root signed it.
Loading also checks every document inside under its issuer (authority certificates under the
root, producer keys and certifications under an authority that was valid when it issued
them and whose level matches the award), and refuses the whole list on the first problem:
a list the root signed with a bad entry in it means the publishing side is broken, and
guessing which part to trust is the verifier's worst option.

Beside the hierarchy of the label's trust, the list carries the audit log's: the log's
checkpoint key(s) and the witnesses with the quorum of their cosignatures a checkpoint
needs (`log_verifiers`, `witness_policy`), handed out as auditlog's verifier objects.

The list has a version and an issue time, and EXPIRES: after `next_update` it is stale.
A stale copy is still used (a shop with no signal must still get an answer) but every
verdict reports its age and carries a warning, because revocations may be missing from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from auditlog.cosignature import WitnessPolicy
from auditlog.note import Ed25519Verifier
from contract.certification import (
    CertificationRevocation,
    CertificationState,
    Standing,
    StarCertification,
    standing,
)
from contract.encoding import decode_model, model_bytes
from contract.errors import ContractError, build
from contract.fields import UtcDateTime
from contract.signed import Signed
from contract.verdict import Lang
from keys.certs import (
    AuthorityCertificate,
    DeskKeyCertificate,
    KeyRevocation,
    LogKeyCertificate,
    ProducerKeyCertificate,
    PublicKeyText,
    RevocationReason,
    WitnessCertificate,
    utc_now,
)
from keys.errors import SignatureInvalid, TrustListError
from keys.ids import encode_public_key, key_id
from keys.signing import BodyT, SigningKey, verify_document

DEFAULT_VALIDITY = timedelta(days=7)

KeyCertificate = (
    AuthorityCertificate
    | ProducerKeyCertificate
    | DeskKeyCertificate
    | LogKeyCertificate
    | WitnessCertificate
)
_RootCertifiedT = TypeVar(
    "_RootCertifiedT", AuthorityCertificate, LogKeyCertificate, WitnessCertificate
)
"""The keys the root certifies (and alone revokes)."""
_AuthorityCertifiedT = TypeVar("_AuthorityCertifiedT", ProducerKeyCertificate, DeskKeyCertificate)

_ROLES: dict[str, str] = {
    "authority_certificate": "authority key",
    "producer_key_certificate": "producer key",
    "desk_key_certificate": "desk key",
    "log_key_certificate": "log key",
    "witness_certificate": "witness key",
}


def key_role(certificate: KeyCertificate) -> str:
    """What the key is, for messages: "authority key", "desk key", "log key", ..."""
    return _ROLES[certificate.type]


def a_key_role(certificate: KeyCertificate) -> str:
    """The same with its article: "an authority key", "a desk key"."""
    role = key_role(certificate)
    return ("an " if role[0] in "aeiou" else "a ") + role


class TrustListBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["trust_list"] = "trust_list"
    version: Annotated[int, Field(ge=1)]
    issued_at: UtcDateTime
    next_update: UtcDateTime
    root_public_key: PublicKeyText
    authorities: tuple[Signed[AuthorityCertificate], ...] = ()
    producer_keys: tuple[Signed[ProducerKeyCertificate], ...] = ()
    certifications: tuple[Signed[StarCertification], ...] = ()
    key_revocations: tuple[Signed[KeyRevocation], ...] = ()
    certification_revocations: tuple[Signed[CertificationRevocation], ...] = ()
    desk_keys: tuple[Signed[DeskKeyCertificate], ...] = ()
    log_keys: tuple[Signed[LogKeyCertificate], ...] = ()
    witnesses: tuple[Signed[WitnessCertificate], ...] = ()
    witness_quorum: Annotated[int, Field(ge=0)] = 0
    """How many of the witnesses must cosign a checkpoint; 0 exactly when none is named."""

    @model_validator(mode="after")
    def _expires(self) -> Self:
        if self.next_update <= self.issued_at:
            raise ValueError("next_update must be after issued_at")
        return self

    @model_validator(mode="after")
    def _quorum(self) -> Self:
        named = len(self.witnesses)
        if not (1 <= self.witness_quorum <= named if named else self.witness_quorum == 0):
            raise ValueError(
                f"a witness quorum of {self.witness_quorum} with {named} witnesses named "
                f"(1 to {named} if any is named, else 0)"
            )
        return self


_SIGNED_BODY: TypeAdapter[Signed[TrustListBody]] = TypeAdapter(Signed[TrustListBody])


class KeyStatus(StrEnum):
    ACTIVE = "active"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    RETIRED = "retired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KeyState:
    """A key's standing for signatures made within a time window."""

    status: KeyStatus
    certificate: KeyCertificate
    revocation: KeyRevocation | None

    @property
    def usable(self) -> bool:
        return self.status is KeyStatus.ACTIVE


@dataclass(frozen=True)
class Freshness:
    """How old the verifier's copy of the trust list is, reported with every verdict."""

    version: int
    issued_at: datetime
    next_update: datetime
    age: timedelta
    stale: bool

    def warning(self, lang: Lang) -> str | None:
        if not self.stale:
            return None
        issued, due = f"{self.issued_at:%Y-%m-%d %H:%M} UTC", f"{self.next_update:%Y-%m-%d}"
        if lang is Lang.VI:
            return (
                f"Danh sách tin cậy (phiên bản {self.version}, phát hành {issued}) đã quá hạn "
                f"cập nhật từ {due}: kết quả có thể chưa phản ánh các thu hồi gần đây."
            )
        return (
            f"Trust list version {self.version} (issued {issued}) is stale since {due}: "
            f"recent revocations may be missing."
        )


def instant(moment: datetime) -> tuple[datetime, datetime]:
    """A signing window for a signature made at a known instant."""
    return moment, moment + timedelta(microseconds=1)


class TrustList:
    """A verified, indexed trust list. Make one with `load`, never from unchecked parts."""

    def __init__(self, body: TrustListBody, root_key_id: str) -> None:
        self.body = body
        self.root_key_id = root_key_id
        self._keys: dict[str, KeyCertificate] = {}
        self._public_keys: dict[str, Ed25519PublicKey] = {}
        self._key_revocations: dict[str, KeyRevocation] = {}
        self._certifications: dict[str, StarCertification] = {}
        self._by_product: defaultdict[tuple[str, str], list[StarCertification]] = defaultdict(list)
        self._certification_revocations: dict[str, CertificationRevocation] = {}

    @classmethod
    def load(cls, data: bytes, *, root_public_key: Ed25519PublicKey) -> TrustList:
        """Checks and indexes a trust list; raises TrustListError saying what is wrong."""
        # 1. Parse: a malformed list is refused before any cryptography.
        try:
            signed = decode_model(_SIGNED_BODY, data)
        except ContractError as exc:
            raise TrustListError(f"trust list is malformed: {exc}") from None
        # 2. The list must name, and be signed by, the pinned root.
        root_id = key_id(root_public_key)
        if signed.kid != root_id or signed.body.root_public_key != encode_public_key(
            root_public_key
        ):
            raise TrustListError(f"trust list is not signed by the pinned root {root_id}")
        try:
            body = verify_document(signed, root_public_key)
        except SignatureInvalid:
            raise TrustListError("trust list signature does not verify under the root") from None
        trust = cls(body, root_id)
        # 3. Each document under its issuer, parents before children: the root's keys and
        #    their revocations, then the keys the authorities certify, then theirs.
        for authority in body.authorities:
            trust._add_root_certified(authority, root_public_key)
        for log_key in body.log_keys:
            trust._add_root_certified(log_key, root_public_key)
        for witness in body.witnesses:
            trust._add_root_certified(witness, root_public_key)
        of_root_keys = [r for r in body.key_revocations if r.body.key_id in trust._keys]
        for revocation in of_root_keys:
            trust._add_key_revocation(revocation, root_public_key)
        for producer in body.producer_keys:
            trust._add_authority_certified(producer)
        for desk in body.desk_keys:
            trust._add_authority_certified(desk)
        for revocation in body.key_revocations:
            if revocation not in of_root_keys:
                trust._add_key_revocation(revocation, root_public_key)
        for certification in body.certifications:
            trust._add_certification(certification)
        for withdrawal in body.certification_revocations:
            trust._add_certification_revocation(withdrawal)
        return trust

    @property
    def version(self) -> int:
        return self.body.version

    def freshness(self, now: datetime) -> Freshness:
        return Freshness(
            version=self.body.version,
            issued_at=self.body.issued_at,
            next_update=self.body.next_update,
            age=now - self.body.issued_at,
            stale=now >= self.body.next_update,
        )

    def key_certificate(self, kid: str) -> KeyCertificate | None:
        return self._keys.get(kid)

    def verification_key(self, kid: str) -> Ed25519PublicKey:
        """The public key of a listed key, decoded once per trust list."""
        public_key = self._public_keys.get(kid)
        if public_key is None:
            public_key = self._public_keys[kid] = self._keys[kid].verification_key()
        return public_key

    def key_state(self, kid: str, window: tuple[datetime, datetime]) -> KeyState | None:
        """The key's standing for a signature made at some unknown time in [start, end).

        Lenient at the start, strict at the end: a signature counts as made before a
        revocation or expiry only if the WHOLE window ends by then (a label packed on the
        day its key was revoked is refused), because what is signed after the end is what
        a thief or a retired station would sign; a window that merely overlaps the start of
        validity is accepted (a key certified at noon signs that day's labels).
        """
        certificate = self._keys.get(kid)
        if certificate is None:
            return None
        _, end = window
        revocation = self._key_revocations.get(kid)
        if end <= certificate.valid_from:
            status = KeyStatus.NOT_YET_VALID
        elif revocation is not None and end > revocation.effective_at:
            retired = revocation.reason is RevocationReason.RETIRED
            status = KeyStatus.RETIRED if retired else KeyStatus.REVOKED
        elif end > certificate.valid_until:
            status = KeyStatus.EXPIRED
        else:
            status = KeyStatus.ACTIVE
        return KeyState(status, certificate, revocation)

    def log_keys(self) -> tuple[LogKeyCertificate, ...]:
        """Every audit log key the list certifies, usable or not (see `key_state`)."""
        return tuple(item.body for item in self.body.log_keys)

    def log_verifiers(
        self, at: datetime, *, origin: str | None = None
    ) -> tuple[Ed25519Verifier, ...]:
        """The audit log's checkpoint verifiers usable at `at` (of the log `origin`, if given):
        one, or two while a log key is rotated. Each is named by its log's origin, as
        auditlog.checkpoint.open_checkpoint wants it; `.vkey` gives Go's key text."""
        return tuple(
            certificate.verifier()
            for certificate in self.log_keys()
            if (origin is None or certificate.origin == origin)
            and self._usable(certificate.key_id, at)
        )

    def witnesses(self) -> tuple[WitnessCertificate, ...]:
        """Every witness the list names, usable or not (see `key_state`)."""
        return tuple(item.body for item in self.body.witnesses)

    @property
    def witness_quorum(self) -> int:
        """How many witnesses must cosign a checkpoint (0: the list names no witness)."""
        return self.body.witness_quorum

    def witness_policy(self, at: datetime) -> WitnessPolicy | None:
        """The k-of-n policy a checkpoint's cosignatures are checked with at `at`: the
        witnesses whose keys are usable then, and the root's quorum. None if the list names
        no witness. A witness that is rotating its key counts once (its newest usable key),
        so one witness cannot make up a quorum of two. Raises TrustListError when revocations
        left fewer usable witnesses than the quorum: no checkpoint can be trusted then, and
        lowering the quorum silently would weaken what the root asked for."""
        if not self.body.witnesses:
            return None
        newest: dict[str, WitnessCertificate] = {}
        for certificate in self.witnesses():
            if not self._usable(certificate.key_id, at):
                continue
            held = newest.get(certificate.name)
            if held is None or certificate.valid_from > held.valid_from:
                newest[certificate.name] = certificate
        quorum = self.body.witness_quorum
        if len(newest) < quorum:
            raise TrustListError(
                f"only {len(newest)} witnesses are usable at {at:%Y-%m-%d %H:%M} UTC; "
                f"trust list version {self.version} asks for {quorum}"
            )
        return WitnessPolicy(tuple(c.verifier() for c in newest.values()), quorum)

    def _usable(self, kid: str, at: datetime) -> bool:
        state = self.key_state(kid, instant(at))
        return state is not None and state.usable

    def certification_state(
        self, product_key: str, producer_id: str, at: datetime
    ) -> CertificationState:
        """The producer's certification of the product that applies at `at`."""
        return self.standing(product_key, producer_id, at).state

    def standing(self, product_key: str, producer_id: str, at: datetime) -> Standing:
        """What the producer's star claims on the product are judged against at `at`."""
        return standing(
            self._by_product.get((product_key, producer_id), ()),
            self._certification_revocations,
            at,
        )

    def _authority_at(self, signed: Signed[BodyT], authority_id: str, at: datetime) -> None:
        """Checks that `signed` is signed by a key of `authority_id` that was usable at `at`."""
        what = f"{getattr(signed.body, 'type', 'document')} signed by {signed.kid}"
        certificate = self._keys.get(signed.kid)
        if not isinstance(certificate, AuthorityCertificate):
            raise TrustListError(f"{what}: not an authority key")
        if certificate.authority_id != authority_id:
            raise TrustListError(f"{what}: that key belongs to {certificate.authority_id}")
        state = self.key_state(signed.kid, instant(at))
        if state is None or not state.usable:
            raise TrustListError(f"{what}: the key was not usable when it signed")
        _verify(signed, self.verification_key(signed.kid), what)

    def _add_root_certified(
        self, signed: Signed[_RootCertifiedT], root_public_key: Ed25519PublicKey
    ) -> None:
        what = f"{key_role(signed.body)} {signed.body.key_id}"
        if signed.kid != self.root_key_id:
            raise TrustListError(f"{what} is not signed by the root")
        _verify(signed, root_public_key, what)
        self._add_key(signed.body)

    def _add_key(self, certificate: KeyCertificate) -> None:
        if certificate.key_id in self._keys or certificate.key_id == self.root_key_id:
            raise TrustListError(f"key id {certificate.key_id} appears twice")
        self._keys[certificate.key_id] = certificate

    def _add_key_revocation(
        self, signed: Signed[KeyRevocation], root_public_key: Ed25519PublicKey
    ) -> None:
        revocation = signed.body
        target = self._keys.get(revocation.key_id)
        what = f"revocation of {revocation.key_id}"
        if target is None:
            raise TrustListError(f"{what}: no such key")
        if signed.kid == self.root_key_id:
            _verify(signed, root_public_key, what)
        elif isinstance(target, ProducerKeyCertificate | DeskKeyCertificate):
            self._authority_at(signed, target.authority_id, revocation.issued_at)
        else:
            raise TrustListError(f"{what}: only the root revokes {a_key_role(target)}")
        earlier = self._key_revocations.get(revocation.key_id)
        if earlier is None or revocation.effective_at < earlier.effective_at:
            self._key_revocations[revocation.key_id] = revocation

    def _add_authority_certified(self, signed: Signed[_AuthorityCertifiedT]) -> None:
        certificate = signed.body
        self._authority_at(signed, certificate.authority_id, certificate.issued_at)
        self._add_key(certificate)

    def _add_certification(self, signed: Signed[StarCertification]) -> None:
        award = signed.body
        self._authority_at(signed, award.authority_id, award.issued_at)
        authority = self._keys[signed.kid]
        assert isinstance(authority, AuthorityCertificate)  # checked by _authority_at
        if authority.level is not award.evaluation_level:
            raise TrustListError(
                f"certificate {award.certificate_no}: a {award.evaluation_level} award signed "
                f"by a {authority.level} authority"
            )
        if award.certificate_no in self._certifications:
            raise TrustListError(f"certificate {award.certificate_no} appears twice")
        self._certifications[award.certificate_no] = award
        self._by_product[(award.product_key, award.producer_id)].append(award)

    def _add_certification_revocation(self, signed: Signed[CertificationRevocation]) -> None:
        revocation = signed.body
        award = self._certifications.get(revocation.certificate_no)
        if award is None or award.product_key != revocation.product_key:
            raise TrustListError(
                f"revocation of certificate {revocation.certificate_no}: no such certificate "
                f"for {revocation.product_key}"
            )
        self._authority_at(signed, award.authority_id, revocation.issued_at)
        if revocation.certificate_no in self._certification_revocations:
            raise TrustListError(f"certificate {revocation.certificate_no} is revoked twice")
        self._certification_revocations[revocation.certificate_no] = revocation


def build_trust_list(
    root: SigningKey,
    *,
    version: int,
    authorities: Iterable[Signed[AuthorityCertificate]] = (),
    producer_keys: Iterable[Signed[ProducerKeyCertificate]] = (),
    certifications: Iterable[Signed[StarCertification]] = (),
    key_revocations: Iterable[Signed[KeyRevocation]] = (),
    certification_revocations: Iterable[Signed[CertificationRevocation]] = (),
    desk_keys: Iterable[Signed[DeskKeyCertificate]] = (),
    log_keys: Iterable[Signed[LogKeyCertificate]] = (),
    witnesses: Iterable[Signed[WitnessCertificate]] = (),
    witness_quorum: int = 0,
    valid_for: timedelta = DEFAULT_VALIDITY,
    now: datetime | None = None,
) -> bytes:
    """Signs a trust list with the root, after checking it loads: nothing is published that
    a verifier would refuse, nor a witness quorum that the witnesses usable now cannot meet."""
    issued_at = now or utc_now()
    body = build(
        TrustListBody,
        version=version,
        issued_at=issued_at,
        next_update=issued_at + valid_for,
        root_public_key=encode_public_key(root.public_key),
        authorities=tuple(authorities),
        producer_keys=tuple(producer_keys),
        certifications=tuple(certifications),
        key_revocations=tuple(key_revocations),
        certification_revocations=tuple(certification_revocations),
        desk_keys=tuple(desk_keys),
        log_keys=tuple(log_keys),
        witnesses=tuple(witnesses),
        witness_quorum=witness_quorum,
    )
    data = model_bytes(root.sign_document(body))
    TrustList.load(data, root_public_key=root.public_key).witness_policy(issued_at)
    return data


def _verify(signed: Signed[BodyT], public_key: Ed25519PublicKey, what: str) -> None:
    try:
        verify_document(signed, public_key)
    except SignatureInvalid:
        raise TrustListError(f"{what}: signature does not verify") from None
