"""The offline verifier: a label's QR text (or a signed event) and a trust list in, a verdict out.

Never a bare bool: every answer has a reason code (contract.verdict.Reason) with its sentence
in Vietnamese and English, a specific `detail`, and the facts it rests on: the label's
claims, the producer's key certificate, the key's standing, the certification applied, and
how old the trust list is. Facts from the trust list are attached only once the signature
has verified, so nothing a forger wrote is ever shown as vouched for.

When a label was signed: labels carry only their packing day (AI 13), so the key must have
been usable for that whole day in Vietnam time (see TrustList.key_state). A thief holding a
revoked key can backdate that day; what stops him is the revocation's effective time being
set early enough, and online, the scan analytics finding codes that were never packed.

A label printed with its expiry date (AI 17, signed with the rest) that has passed is
PAST_EXPIRY, as the verify API says from the batch's records: a warning, not a fake. Labels
printed before the date was signed carry none, and only the records can tell.

Star claims are judged NOW (at verification), not at packing: consumers and inspectors need
the current status, and an expired or revoked rating makes the printed logo outdated. The
judgement is contract.claims.judge_claim, the same one the verify API and the processors
make. The status on the packing day is given as a fact beside it.

Anything unexpected raises rather than returns: no code path produces GENUINE by default.

Beside the verdict, two answers of the audit log (issue 21, docs/auditlog.md):
`check_log_proof` says whether a tlog-proof shows the label's packing record in the log the
trust list names, cosigned by k of its n witnesses ("recorded in the public log at position
i of n, witnessed by ..."), and warns when the newest witnessed checkpoint is older than a
limit; a proof that does not verify is FAILED with its reason, and none given is
NOT_CHECKED, never a silent pass. `apply_status_list` adds a signed status list's current
word (recall, revoked key, stars), relied on only while it is fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from auditlog.checkpoint import Checkpoint, MalformedCheckpoint, open_checkpoint
from auditlog.cosignature import WitnessPolicy, verify_cosignatures
from auditlog.leaves import MalformedLeaf, RecordLeaf, parse_entry
from auditlog.note import Ed25519Verifier, MalformedNote, NoteReason, NoteRejected, parse_note
from auditlog.proof import BundleCheck, MalformedProof, TlogProof, verify_proof
from contract import identifiers
from contract.certification import (
    CertificationRevocation,
    CertificationState,
    CertificationStatus,
    StarCertification,
)
from contract.claims import judge_claim
from contract.errors import ContractError
from contract.evaluation import EvaluationEvent
from contract.events import (
    BatchEvent,
    CertificationIssued,
    CertificationRevoked,
    Event,
    RegistrationEvent,
    decode_signed_event,
)
from contract.fields import format_utc
from contract.label import LabelDefect, MalformedLabel, SignedLabel, decode_label, vietnam_date
from contract.signed import Signed
from contract.verdict import Category, Lang, Reason, worst_first
from keys.certs import (
    AuthorityCertificate,
    DeskKeyCertificate,
    ProducerKeyCertificate,
    utc_now,
)
from keys.errors import SignatureInvalid, TrustListError
from keys.signing import verify_bytes
from keys.status import StatusList
from keys.trustlist import (
    Freshness,
    KeyCertificate,
    KeyState,
    KeyStatus,
    TrustList,
    a_key_role,
    instant,
)


@dataclass(frozen=True)
class _Verdict:
    reason: Reason
    detail: str
    trust_list: Freshness

    @property
    def genuine(self) -> bool:
        return self.reason is Reason.GENUINE

    @property
    def category(self) -> Category:
        return self.reason.category

    def sentence(self, lang: Lang) -> str:
        return self.reason.sentence(lang)

    def warnings(self, lang: Lang) -> list[str]:
        warning = self.trust_list.warning(lang)
        return [warning] if warning else []

    def as_json(self) -> dict[str, Any]:
        """The verdict and its facts as JSON-ready data, for CLIs and the API alike."""
        fresh = self.trust_list
        return {
            "reason": self.reason.value,
            "category": self.category.value,
            "sentence": {lang.value: self.sentence(lang) for lang in Lang},
            "detail": self.detail,
            "warnings": {lang.value: self.warnings(lang) for lang in Lang},
            "trust_list": {
                "version": fresh.version,
                "issued_at": format_utc(fresh.issued_at),
                "next_update": format_utc(fresh.next_update),
                "age_seconds": int(fresh.age.total_seconds()),
                "stale": fresh.stale,
            },
        }


@dataclass(frozen=True)
class LabelVerification(_Verdict):
    label: SignedLabel | None = None
    """What the code says; its claims are vouched for only if the reason is GENUINE."""
    defect: LabelDefect | None = None
    producer: ProducerKeyCertificate | None = None
    key: KeyState | None = None
    certification: CertificationState | None = None
    """The certification applied now."""
    certification_when_packed: CertificationStatus | None = None
    """The status at the start of the packing day: was the logo true when printed?"""

    def as_json(self) -> dict[str, Any]:
        label, key, state = self.label, self.key, self.certification
        return super().as_json() | {
            "defect": self.defect and self.defect.value,
            "label": label
            and {
                "host": label.batch.host,
                "product_key": label.batch.product_key,
                "lot": label.batch.lot,
                "serial": label.serial,
                "packed_on": label.batch.packed_on.isoformat(),
                "printed_stars": label.batch.stars,
                "key_id": label.batch.key_id,
                "expiry_date": label.batch.expiry_date and label.batch.expiry_date.isoformat(),
            },
            "producer": _dump(self.producer),
            "key": key and {"status": key.status.value, "revocation": _dump(key.revocation)},
            "certification": state
            and {
                "status": state.status.value,
                "certificate": _dump(state.certification),
                "revocation": _dump(state.revocation),
            },
            "certification_when_packed": (
                self.certification_when_packed and self.certification_when_packed.value
            ),
        }


@dataclass(frozen=True)
class EventVerification(_Verdict):
    event: Event | None = None
    """Set only once the event is authenticated."""
    signer: KeyCertificate | None = None
    key: KeyState | None = None

    def as_json(self) -> dict[str, Any]:
        return super().as_json() | {
            "event": _dump(self.event),
            "signer": _dump(self.signer),
            "key": self.key and self.key.status.value,
        }


_REVOKED = (KeyStatus.RETIRED, KeyStatus.REVOKED)


def _dump(document: BaseModel | None) -> dict[str, Any] | None:
    return None if document is None else document.model_dump(mode="json")


def verify_label(text: str, *, trust: TrustList, now: datetime | None = None) -> LabelVerification:
    now = now or utc_now()
    verification = authenticate_label(text, trust=trust, now=now)
    if not verification.genuine:
        return verification
    # 5. The star claim against the producer's certifications now (contract.claims, the
    #    one judgement every verifier makes).
    label, certificate = verification.label, verification.producer
    assert label is not None  # an authentic label has both
    assert certificate is not None
    batch = label.batch
    now_standing = trust.standing(batch.product_key, certificate.producer_id, now)
    when_packed = trust.certification_state(
        batch.product_key, certificate.producer_id, batch.packing_window()[0]
    ).status
    claim = judge_claim(batch.stars, now_standing)
    # 6. The signed expiry date, if the label has one (Vietnam's day, as it is printed).
    expired = batch.expiry_date is not None and batch.expiry_date < vietnam_date(now)
    lead = worst_first([claim.reason, Reason.PAST_EXPIRY] if expired else [claim.reason])[0]
    return replace(
        verification,
        reason=lead,
        detail=(
            f"expiry date {batch.expiry_date} printed and signed on the label"
            if lead is Reason.PAST_EXPIRY
            else claim.detail
        ),
        certification=now_standing.state,
        certification_when_packed=when_packed,
    )


def authenticate_label(
    text: str,
    *,
    trust: TrustList,
    now: datetime | None = None,
    recorded: Callable[[SignedLabel], bool] | None = None,
) -> LabelVerification:
    """Steps 1 to 4 of `verify_label`: GENUINE here says only that the label is authentic
    (well formed, signed by a producer key usable on its packing day); its star claim is
    left to the caller, who must judge it (the verify API judges it against the records).

    `recorded` may tell that the producer's own signed packing record names this very label
    (its digest, see contract.label): the processors verified that record's signature when
    they stored it, so the label's own signature need not be checked again. Anything else
    (False, or no `recorded`) checks the signature.
    """
    fresh = trust.freshness(now or utc_now())
    # 1. Parse. Malformed text is "not one of ours", a different answer from failed crypto.
    try:
        label = decode_label(text)
    except MalformedLabel as exc:
        return LabelVerification(Reason.MALFORMED, str(exc), fresh, defect=exc.defect)
    batch, kid = label.batch, label.batch.key_id
    # 2. The key the label names must be a producer key in the trust list.
    certificate = trust.key_certificate(kid)
    if certificate is None:
        detail = f"key {kid} is not in trust list version {trust.version}"
        return LabelVerification(Reason.UNKNOWN_KEY, detail, fresh, label)
    if not isinstance(certificate, ProducerKeyCertificate):
        detail = f"key {kid} is {a_key_role(certificate)}; only producer keys sign labels"
        return LabelVerification(Reason.SIGNER_NOT_AUTHORISED, detail, fresh, label)
    # 3. The signature, before any claim of the label is believed.
    if recorded is not None and recorded(label):
        detail = f"the label its producer recorded packing, signed by key {kid}"
    else:
        try:
            verify_bytes(trust.verification_key(kid), label.signature, label.signing_bytes())
        except SignatureInvalid:
            detail = f"signature does not verify under key {kid}"
            return LabelVerification(Reason.BAD_SIGNATURE, detail, fresh, label)
        detail = f"signature verifies under key {kid}"
    # 4. The key must have been usable for the whole packing day.
    key = trust.key_state(kid, batch.packing_window())
    assert key is not None  # the certificate was found in step 2
    if not key.usable:
        ended = key.revocation if key.status in _REVOKED else None
        detail = f"key {kid} is {key.status} for labels packed on {batch.packed_on} " + (
            f"(from {ended.effective_at:%Y-%m-%d %H:%M} UTC)"
            if ended
            else f"(valid {certificate.valid_from:%Y-%m-%d} to {certificate.valid_until:%Y-%m-%d})"
        )
        return LabelVerification(
            Reason.KEY_REVOKED, detail, fresh, label, producer=certificate, key=key
        )
    return LabelVerification(Reason.GENUINE, detail, fresh, label, producer=certificate, key=key)


def verify_event(
    data: bytes, *, trust: TrustList, now: datetime | None = None
) -> EventVerification:
    """Checks a signed event (canonical bytes of contract.events.SignedEvent).

    Batch events must be signed by a key of the event's producer, certification events by a
    key of the authority that issued the certification, registrations by the registering
    authority's key, the evaluation cycle's steps by the recording council's key or its
    desk key (and a desk key signs nothing else), and the key must have been usable at the
    event's `occurred_at`.
    """
    fresh = trust.freshness(now or utc_now())
    # 1. Parse.
    try:
        signed = decode_signed_event(data)
    except ContractError as exc:
        return EventVerification(Reason.MALFORMED, str(exc), fresh)
    # 2. The signer's key.
    signer = trust.key_certificate(signed.kid)
    if signer is None:
        detail = f"key {signed.kid} is not in trust list version {trust.version}"
        return EventVerification(Reason.UNKNOWN_KEY, detail, fresh)
    # 3. The signature.
    try:
        verify_bytes(trust.verification_key(signed.kid), signed.signature, signed.signing_bytes())
    except SignatureInvalid:
        detail = f"signature does not verify under key {signed.kid}"
        return EventVerification(Reason.BAD_SIGNATURE, detail, fresh)
    event = signed.body
    # 4. Is this key entitled to say this? (A certification inside must verify too.)
    try:
        entitled = _entitled(signer, event)
    except SignatureInvalid:
        detail = f"the document inside the {event.type} event does not verify"
        return EventVerification(Reason.BAD_SIGNATURE, detail, fresh)
    if not entitled:
        detail = f"key {signed.kid} may not sign a {event.type} event"
        return EventVerification(Reason.SIGNER_NOT_AUTHORISED, detail, fresh, signer=signer)
    # 5. Was it usable when the event happened?
    key = trust.key_state(signed.kid, instant(event.occurred_at))
    assert key is not None  # found in step 2
    if not key.usable:
        detail = f"key {signed.kid} is {key.status} at {event.occurred_at:%Y-%m-%d %H:%M} UTC"
        return EventVerification(Reason.KEY_REVOKED, detail, fresh, signer=signer, key=key)
    return EventVerification(
        Reason.GENUINE, f"{event.type} signed by {signed.kid}", fresh, event, signer, key
    )


def _entitled(signer: KeyCertificate, event: Event) -> bool:
    if isinstance(event, BatchEvent):
        return isinstance(signer, ProducerKeyCertificate) and (
            signer.producer_id == event.producer_id
        )
    if isinstance(event, EvaluationEvent):
        # The council's own key, or the desk key it certified for its back office.
        return isinstance(signer, AuthorityCertificate | DeskKeyCertificate) and (
            signer.authority_id == event.authority_id
        )
    if isinstance(event, RegistrationEvent):
        return isinstance(signer, AuthorityCertificate) and (
            signer.authority_id == event.authority_id
        )
    if isinstance(event, CertificationIssued):
        document: Signed[StarCertification] | Signed[CertificationRevocation] = event.certification
    elif isinstance(event, CertificationRevoked):
        document = event.revocation
    else:
        return False  # scans are recorded by the verify API, not signed by producers or authorities
    # The document inside must be the same authority's own signed document, verified too:
    # processors store and republish it on its own.
    if not isinstance(signer, AuthorityCertificate) or document.kid != signer.key_id:
        return False
    verify_bytes(signer.verification_key(), document.signature, document.signing_bytes())
    return signer.authority_id == document.body.authority_id


# -- the audit log's word: "recorded in the public log at position i of n, witnessed by ..." --

DEFAULT_MAX_CHECKPOINT_AGE = timedelta(hours=24)


class LogStatus(StrEnum):
    RECORDED = "recorded"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class LogCheck:
    """What the audit log says of the label's packing record; FAILED carries its reason."""

    status: LogStatus
    reason: str
    """`ok`, an auditlog.proof.BundleCheck value, or a check of ours (`wrong_record`,
    `no_log_key`, `no_witness_policy`, `split_view`, `not_checked`)."""
    detail: str
    index: int | None = None
    size: int | None = None
    witnessed_by: tuple[str, ...] = ()
    quorum: int = 0
    witnesses: int = 0
    checkpoint_age: timedelta | None = None
    """Since the newest witness cosignature of the checkpoints held (none: unknown)."""
    warnings: tuple[str, ...] = ()

    def sentence(self) -> str:
        if self.status is LogStatus.NOT_CHECKED:
            return "the public log was not checked (no proof given)"
        if self.status is LogStatus.FAILED:
            return f"the log proof does NOT verify ({self.reason}): {self.detail}"
        assert self.index is not None
        assert self.size is not None
        return (
            f"recorded in the public log at position {self.index} of {self.size}, witnessed by "
            f"{', '.join(self.witnessed_by)} ({self.quorum} of {self.witnesses} witnesses "
            "required)"
        )

    def as_json(self) -> dict[str, Any]:
        age = self.checkpoint_age
        return {
            "status": self.status.value,
            "reason": self.reason,
            "sentence": self.sentence(),
            "detail": self.detail,
            "index": self.index,
            "size": self.size,
            "witnessed_by": list(self.witnessed_by),
            "quorum": self.quorum,
            "witnesses": self.witnesses,
            "checkpoint_age_seconds": None if age is None else int(age.total_seconds()),
            "warnings": list(self.warnings),
        }


LOG_NOT_CHECKED = LogCheck(LogStatus.NOT_CHECKED, "not_checked", "no log proof was given")


def _failed(reason: str, detail: str) -> LogCheck:
    return LogCheck(LogStatus.FAILED, reason, detail)


def unit_proof_path(label: SignedLabel) -> str:
    """Where the API serves the label's unit's log proof (verify_api.routes.log), after the
    API's base URL."""
    return f"/log/proof/unit{identifiers.unit_key(label.batch.product_key, label.serial)}"


def check_log_proof(
    proof_text: bytes | str,
    *,
    trust: TrustList,
    label: SignedLabel | None = None,
    checkpoint: bytes | str | None = None,
    now: datetime | None = None,
    max_age: timedelta = DEFAULT_MAX_CHECKPOINT_AGE,
) -> LogCheck:
    """Whether the tlog-proof shows the label's packing record in the log the trust list
    names, cosigned by a quorum of its witnesses. `checkpoint` is a cached cosigned
    checkpoint (a newer view of the log): it must verify too, and must not be a second root
    for the proof's tree size. Never raises for a bad proof: FAILED says why."""
    now = now or utc_now()
    # 1. The bundle, and the entry it carries (the log's own copy of the leaf).
    try:
        proof = TlogProof.parse(proof_text)
        note = parse_note(proof.signed_checkpoint)
        origin = Checkpoint.parse(note.text).origin
    except (MalformedProof, MalformedNote, MalformedCheckpoint) as exc:
        return _failed(BundleCheck.MALFORMED.value, str(exc))
    if proof.extra is None:
        return _failed(BundleCheck.MALFORMED.value, "the proof carries no entry (`extra`)")
    try:
        leaf = parse_entry(proof.extra)
    except MalformedLeaf as exc:
        return _failed(BundleCheck.MALFORMED.value, f"its entry: {exc}")
    # 2. The entry is the record that packed this label's batch.
    if not isinstance(leaf, RecordLeaf) or leaf.event_type != "units_packed":
        return _failed("wrong_record", f"the entry is a {leaf.kind} leaf, not a packing record")
    if label is not None:
        wanted = identifiers.batch_id(label.batch.product_key, label.batch.lot)
        if leaf.batch_id != wanted:
            return _failed("wrong_record", f"the record is of batch {leaf.batch_id}, not {wanted}")
    # 3. The log's keys and the witnesses, as the trust list names them now.
    log_keys = trust.log_verifiers(now, origin=origin)
    if not log_keys:
        return _failed("no_log_key", f"trust list version {trust.version} names no key of {origin}")
    try:
        policy = trust.witness_policy(now)
    except TrustListError as exc:
        return _failed("no_witness_policy", str(exc))
    if policy is None:
        return _failed("no_witness_policy", f"trust list version {trust.version} names no witness")
    # 4. The proof: signed by the log, cosigned by k of n, the entry included.
    verdict = None
    for key in log_keys:
        verdict = verify_proof(proof, proof.extra, origin=origin, log=key, witnesses=policy)
        if verdict.reason is not BundleCheck.NOT_SIGNED_BY_LOG:
            break
    assert verdict is not None
    if not verdict.ok or verdict.checkpoint is None:
        return _failed(verdict.reason.value, verdict.detail)
    times = [c.timestamp for c in verdict.cosigned]
    # 5. The cached checkpoint, if any: the log's, cosigned, and no second root for a size.
    warnings: list[str] = []
    if checkpoint is not None:
        cached = _open_cached(checkpoint, origin, log_keys, policy)
        if isinstance(cached, LogCheck):
            return cached
        held, held_times = cached
        if held.size == verdict.checkpoint.size and held.root_hash != verdict.checkpoint.root_hash:
            return _failed("split_view", f"two roots for tree size {held.size}: a split view")
        times += held_times
    # 6. How old the newest witnessed view of the log is.
    age = now - datetime.fromtimestamp(max(times), UTC) if times else None
    if age is None or age > max_age:
        hours = max_age.total_seconds() / 3600
        warnings.append(
            f"the newest witnessed checkpoint is older than {hours:g} h"
            if age is not None
            else "no cosignature time is known"
        )
    policy_names = len(policy.witnesses)
    return LogCheck(
        LogStatus.RECORDED,
        BundleCheck.OK.value,
        f"{leaf.batch_id} record {leaf.seq}: {verdict.detail}",
        index=proof.index,
        size=verdict.checkpoint.size,
        witnessed_by=tuple(c.witness for c in verdict.cosigned),
        quorum=policy.quorum,
        witnesses=policy_names,
        checkpoint_age=age,
        warnings=tuple(warnings),
    )


def _open_cached(
    data: bytes | str,
    origin: str,
    log_keys: tuple[Ed25519Verifier, ...],
    policy: WitnessPolicy,
) -> tuple[Checkpoint, list[int]] | LogCheck:
    for key in log_keys:
        try:
            signed = open_checkpoint(data, origin=origin, log=key)
        except (MalformedNote, MalformedCheckpoint) as exc:
            return _failed(BundleCheck.MALFORMED.value, f"the cached checkpoint: {exc}")
        except NoteRejected as exc:
            if exc.reason is NoteReason.NO_KNOWN_SIGNATURE:
                continue
            return _failed("bad_checkpoint", f"the cached checkpoint: {exc}")
        quorum = verify_cosignatures(signed.note, policy)
        if not quorum.ok:
            return _failed("bad_checkpoint", f"the cached checkpoint: {quorum.detail}")
        return signed.checkpoint, [c.timestamp for c in quorum.cosigned]
    return _failed("bad_checkpoint", "the cached checkpoint is not signed by the log's key")


# -- the signed status list: the current word, used only while it is fresh -------------------


@dataclass(frozen=True)
class StatusCheck:
    """What a status list said of the label, and whether it was relied on."""

    signed_by: str
    issued_at: datetime
    expires_at: datetime
    age: timedelta
    stale: bool
    statement: str
    relied_on: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "signed_by": self.signed_by,
            "issued_at": format_utc(self.issued_at),
            "expires_at": format_utc(self.expires_at),
            "age_seconds": int(self.age.total_seconds()),
            "stale": self.stale,
            "statement": self.statement,
            "relied_on": self.relied_on,
        }


def apply_status_list(
    verification: LabelVerification, status: StatusList, *, now: datetime | None = None
) -> tuple[LabelVerification, StatusCheck]:
    """The verdict with a fresh status list's word on it: a recalled batch, a key revoked
    before the packing day ended, a product whose stars or status no longer back the label
    turn a GENUINE verdict into that reason. A stale list's statement is shown, marked stale,
    and changes nothing: the verdict stays the trust list's."""
    now = now or utc_now()
    fresh = status.freshness(now)
    label = verification.label
    findings: list[tuple[Reason, str]] = []
    if label is not None:
        batch = label.batch
        batch_id = identifiers.batch_id(batch.product_key, batch.lot)
        recalled = status.recalled(batch_id)
        if recalled is not None:
            findings.append((Reason.RECALLED, f"batch {batch_id} recalled: {recalled.reason}"))
        revoked = status.revoked(batch.key_id)
        if revoked is not None and revoked.effective_at < batch.packing_window()[1]:
            findings.append((Reason.KEY_REVOKED, f"key {batch.key_id} revoked ({revoked.reason})"))
        product = status.product(batch.product_key)
        if product is not None:
            reason = _STATUS_REASONS.get(product.status)
            if reason is not None:
                findings.append((reason, f"{batch.product_key} is {product.status.value}"))
            elif product.stars < batch.stars:
                findings.append(
                    (
                        Reason.STARS_EXCEED_CERTIFICATION,
                        f"{batch.product_key} holds {product.stars}★, the label prints "
                        f"{batch.stars}★",
                    )
                )
    statement = "; ".join(detail for _, detail in findings) or "nothing against this label"
    if fresh.stale:
        statement = f"STALE (expired {fresh.expires_at:%Y-%m-%d %H:%M} UTC): {statement}"
    check = StatusCheck(
        status.signed_by,
        fresh.issued_at,
        fresh.expires_at,
        fresh.age,
        fresh.stale,
        statement,
        relied_on=not fresh.stale,
    )
    if fresh.stale or not findings or not verification.genuine:
        return verification, check
    lead = worst_first([r for r, _ in findings])[0]
    detail = next(d for r, d in findings if r is lead)
    return replace(verification, reason=lead, detail=f"status list: {detail}"), check


_STATUS_REASONS = {
    CertificationStatus.REVOKED: Reason.CERTIFICATION_REVOKED,
    CertificationStatus.EXPIRED: Reason.CERTIFICATION_EXPIRED,
    CertificationStatus.NONE: Reason.NO_CERTIFICATION,
    CertificationStatus.NOT_YET_VALID: Reason.NO_CERTIFICATION,
}
