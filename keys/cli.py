"""`ocop-keys`: the issuing office's tool. A thin layer over keys.certs, keystore, registry and
trustlist; every rule lives in the library, so the API and tests get the same behaviour.

The keystore passphrase comes from OCOP_KEYSTORE_PASSPHRASE or a prompt. Errors are printed
as one line and exit with status 1, never as a traceback; what the commands check themselves
is said in Vietnamese, then English (contract.bilingual).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditlog.cosignature import CosignatureVerifier
from auditlog.note import Ed25519Verifier, MalformedNote, valid_name
from contract.bilingual import bilingual
from contract.certification import EvaluationLevel, ProductGroup, level_for_stars
from contract.errors import ContractError
from contract.events import ProducerKind
from contract.label import VIETNAM_TIME
from contract.signed import Signed
from keys import certs
from keys.certs import (
    AuthorityCertificate,
    DeskKeyCertificate,
    LogKeyCertificate,
    ProducerKeyCertificate,
    RevocationReason,
    WitnessCertificate,
)
from keys.errors import KeysError
from keys.ids import decode_public_key, key_id, raw_public_key
from keys.keystore import Keystore
from keys.registry import KEY_KINDS, Kind, Registry
from keys.signing import SigningKey
from keys.trustlist import DEFAULT_VALIDITY, KeyCertificate, build_trust_list

PASSPHRASE_VARIABLE = "OCOP_KEYSTORE_PASSPHRASE"  # noqa: S105 - a variable's name, no secret

app = typer.Typer(no_args_is_help=True, help="Keys, certificates and the trust list of OCOP.")
issue_app = typer.Typer(no_args_is_help=True, help="Certify a key or a product's stars.")
revoke_app = typer.Typer(no_args_is_help=True, help="Revoke a key or a certification.")
app.add_typer(issue_app, name="issue")
app.add_typer(revoke_app, name="revoke")


@dataclass
class Office:
    """The state the commands share: the keystore, the registry and, once asked, the passphrase."""

    keystore: Keystore
    registry: Registry
    _passphrase: str | None = None

    @property
    def passphrase(self) -> str:
        if self._passphrase is None:
            self._passphrase = os.environ.get(PASSPHRASE_VARIABLE) or typer.prompt(
                "Keystore passphrase", hide_input=True
            )
        return self._passphrase

    def key(self, key_id: str) -> SigningKey:
        return self.keystore.load(key_id, self.passphrase)

    def root(self) -> SigningKey:
        return self.key(key_id(self.registry.root_public_key()))

    def revoked(self) -> set[str]:
        return {doc.body.key_id for doc in self.registry.documents(Kind.KEY_REVOCATIONS)}

    def authority(self, authority_id: str) -> tuple[SigningKey, AuthorityCertificate]:
        """The newest unrevoked key of the authority whose private key is in the keystore."""
        revoked, held = self.revoked(), set(self.keystore.key_ids())
        candidates = [
            doc.body
            for doc in self.registry.documents(Kind.AUTHORITIES)
            if doc.body.authority_id == authority_id
            and doc.body.key_id in held
            and doc.body.key_id not in revoked
        ]
        if not candidates:
            raise KeysError(
                bilingual(
                    f"không có khóa còn hiệu lực của hội đồng {authority_id} trong kho khóa",
                    f"no usable key of authority {authority_id} in the keystore",
                )
            )
        newest = max(candidates, key=lambda cert: cert.issued_at)
        return self.key(newest.key_id), newest

    def certificate(self, key_id: str) -> Signed[Any]:
        for kind in KEY_KINDS:
            for doc in self.registry.documents(kind):
                if doc.body.key_id == key_id:
                    return doc
        raise KeysError(
            bilingual(
                f"không có giấy chứng nhận nào cho khóa {key_id} trong {self.registry.folder}",
                f"no certificate for key {key_id} in {self.registry.folder}",
            )
        )

    def issuer_of(self, certificate: KeyCertificate) -> SigningKey:
        """The root for the keys it certifies, else the certifying authority's key."""
        if isinstance(certificate, ProducerKeyCertificate | DeskKeyCertificate):
            return self.authority(certificate.authority_id)[0]
        return self.root()

    def usable_witnesses(self) -> list[WitnessCertificate]:
        """The witnesses named and not revoked (the quorum counts these)."""
        revoked = self.revoked()
        return [
            doc.body
            for doc in self.registry.documents(Kind.WITNESSES)
            if doc.body.key_id not in revoked
        ]


_LEVELS_VI = {EvaluationLevel.PROVINCIAL: "cấp tỉnh", EvaluationLevel.NATIONAL: "cấp trung ương"}

_KINDS: dict[type[KeyCertificate], Kind] = {
    AuthorityCertificate: Kind.AUTHORITIES,
    ProducerKeyCertificate: Kind.PRODUCER_KEYS,
    DeskKeyCertificate: Kind.DESK_KEYS,
    LogKeyCertificate: Kind.LOG_KEYS,
    WitnessCertificate: Kind.WITNESSES,
}


@app.callback()
def _office(
    context: typer.Context,
    state: Annotated[
        Path, typer.Option(envvar="OCOP_STATE_DIR", help="Folder holding keystore/ and trust/.")
    ] = Path(".state"),
) -> None:
    context.obj = Office(Keystore(state / "keystore"), Registry(state / "trust"))


@app.command()
def init(context: typer.Context) -> None:
    """Create the root key (the national OCOP office's)."""
    office: Office = context.obj
    if office.registry.root_exists():
        folder = office.registry.folder
        raise KeysError(bilingual(f"{folder} đã có khóa gốc", f"{folder} already has a root"))
    root = office.keystore.generate(office.passphrase)
    path = office.registry.set_root(root.public_key)
    typer.echo(f"root key {root.key_id}\npublic key {root.public_key_text}")
    typer.echo(f"Pin this public key in every verifier (ocop-verify --root-key {path}).")


@issue_app.command("authority")
def issue_authority(
    context: typer.Context,
    authority_id: Annotated[str, typer.Option(help="e.g. VN-34 for Thái Bình")],
    name: Annotated[str, typer.Option(help="The council's name")],
    level: Annotated[EvaluationLevel, typer.Option()] = EvaluationLevel.PROVINCIAL,
    months: int = certs.AUTHORITY_KEY_VALIDITY_MONTHS,
) -> None:
    """Create an authority key and certify it with the root."""
    office: Office = context.obj
    root = office.root()
    key = office.keystore.generate(office.passphrase)
    signed = certs.certify_authority(
        root, key.public_key, authority_id=authority_id, name=name, level=level, months=months
    )
    _saved(office, Kind.AUTHORITIES, signed, f"authority key {key.key_id} for {authority_id}")


@issue_app.command("producer-key")
def issue_producer_key(
    context: typer.Context,
    authority: Annotated[str, typer.Option(help="Certifying authority id")],
    producer_id: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option(help="The producer's name")],
    kind: Annotated[ProducerKind, typer.Option()],
    address: Annotated[str, typer.Option()],
    public_key: Annotated[
        str | None,
        typer.Option(help="The producer's public key (base64url); generated here if omitted"),
    ] = None,
    months: int = certs.PRODUCER_KEY_VALIDITY_MONTHS,
) -> None:
    """Certify a producer's label-signing key."""
    office: Office = context.obj
    signer, _ = office.authority(authority)
    if public_key is None:
        verification_key = office.keystore.generate(office.passphrase).public_key
    else:
        verification_key = _public_key(public_key)
    signed = certs.certify_producer_key(
        signer,
        verification_key,
        authority_id=authority,
        producer_id=producer_id,
        producer_name=name,
        producer_kind=kind,
        address=address,
        months=months,
    )
    _saved(office, Kind.PRODUCER_KEYS, signed, f"producer key {signed.body.key_id}")


@issue_app.command("certification")
def issue_certification(
    context: typer.Context,
    authority: Annotated[str, typer.Option(help="Awarding authority id")],
    certificate_no: Annotated[str, typer.Option()],
    decision_no: Annotated[str, typer.Option()],
    product_key: Annotated[str, typer.Option(help="/01/<GTIN-14> or /p/<product code>")],
    product_name: Annotated[str, typer.Option()],
    group: Annotated[ProductGroup, typer.Option()],
    producer_id: Annotated[str, typer.Option()],
    stars: Annotated[int, typer.Option(min=1, max=5)],
    score: Annotated[str, typer.Option(help="Average score out of 100, e.g. 78.5")],
    valid_from: Annotated[str | None, typer.Option(help="Date or ISO time; default now")] = None,
    months: int = certs.CERTIFICATION_VALIDITY_MONTHS,
) -> None:
    """Certify a product's star rating (the score must fall in the stars' band)."""
    office: Office = context.obj
    signer, certificate = office.authority(authority)
    awarding = level_for_stars(stars)
    if certificate.level is not awarding:
        raise KeysError(
            bilingual(
                f"{authority} là hội đồng {_LEVELS_VI[certificate.level]}; {stars}★ được công "
                f"nhận ở {_LEVELS_VI[awarding]}",
                f"{authority} is a {certificate.level} council; {stars}★ is awarded at "
                f"{awarding} level",
            )
        )
    signed = certs.certify_product(
        signer,
        authority_id=authority,
        certificate_no=certificate_no,
        decision_no=decision_no,
        product_key=product_key,
        product_name=product_name,
        product_group=group,
        producer_id=producer_id,
        stars=stars,
        score=_decimal(score),
        valid_from=_moment(valid_from) if valid_from else certs.utc_now(),
        months=months,
    )
    _saved(office, Kind.CERTIFICATIONS, signed, f"certificate {certificate_no}: {stars}★")


@issue_app.command("desk-key")
def issue_desk_key(
    context: typer.Context,
    authority: Annotated[str, typer.Option(help="The council whose desk it is, e.g. VN-33")],
    desk_name: Annotated[
        str, typer.Option(help="Which desk, e.g. 'Văn phòng OCOP tỉnh Hưng Yên (back office)'")
    ],
    public_key: Annotated[
        str | None,
        typer.Option(help="The desk's public key (base64url); generated here if omitted"),
    ] = None,
    months: int = certs.DESK_KEY_VALIDITY_MONTHS,
) -> None:
    """Certify the key of a council's desk (its office's web back office), signed by the
    council's own key.

    A desk key signs the steps of that council's evaluation cycle (dossier submitted,
    commune pre-check, members' scores, the province's and the centre's decisions) and
    nothing else: no registration, star certification or revocation, so the web server
    never holds a key that can award stars. Revoke it like any key (`revoke key`).
    """
    office: Office = context.obj
    signer, _ = office.authority(authority)
    if public_key is None:
        verification_key = office.keystore.generate(office.passphrase).public_key
    else:
        verification_key = _public_key(public_key)
    signed = certs.certify_desk_key(
        signer, verification_key, authority_id=authority, desk_name=desk_name, months=months
    )
    _saved(office, Kind.DESK_KEYS, signed, f"desk key {signed.body.key_id} for {authority}")


@issue_app.command("log-key")
def issue_log_key(
    context: typer.Context,
    origin: Annotated[
        str, typer.Option(help="The log's origin line (C2SP), e.g. ocop.vn/log; no space or '+'")
    ],
    vkey: Annotated[
        str | None,
        typer.Option(
            help="The log's verifier key text (<origin>+<hex id>+<base64>, type 0x01, as Go's "
            "note.GenerateKey writes it); a key is generated in the keystore if omitted"
        ),
    ] = None,
    months: int = certs.LOG_KEY_VALIDITY_MONTHS,
) -> None:
    """Certify the audit log's checkpoint key with the root.

    Verifiers take the log's key from the trust list, named by its origin, and check each
    checkpoint (c2sp.org/tlog-checkpoint) under it. To rotate, certify the new key and
    retire the old one (`rotate KEY_ID`).
    """
    office: Office = context.obj
    if not valid_name(origin):
        raise KeysError(
            bilingual(
                f"--origin {origin!r} không hợp lệ: không rỗng, không có khoảng trắng hay dấu '+'",
                f"--origin {origin!r} is not valid: not empty, no space and no '+'",
            )
        )
    if vkey is None:
        key = office.keystore.generate(office.passphrase)
        log = Ed25519Verifier(origin, raw_public_key(key.public_key))
    else:
        try:
            log = Ed25519Verifier.from_vkey(vkey)
        except MalformedNote as exc:
            raise KeysError(
                bilingual(
                    f"--vkey không phải khóa xác minh Ed25519 (0x01) của nhật ký: {exc}",
                    f"--vkey is not the log's Ed25519 (0x01) verifier key: {exc}",
                )
            ) from None
        if log.name != origin:
            raise KeysError(
                bilingual(
                    f"--vkey mang tên {log.name!r}, khác --origin {origin!r}",
                    f"--vkey is named {log.name!r}, not --origin {origin!r}",
                )
            )
    root = office.root()
    signed = certs.certify_log_key(root, log, months=months)
    _saved(office, Kind.LOG_KEYS, signed, f"log key {signed.body.key_id} for {origin}")
    typer.echo(f"vkey {signed.body.vkey}")


@issue_app.command("witness")
def issue_witness(
    context: typer.Context,
    vkey: Annotated[
        str,
        typer.Option(
            help="The witness's cosignature verifier key text (<name>+<hex id>+<base64>, "
            "type 0x04, c2sp.org/tlog-cosignature); its name is the witness's name"
        ),
    ],
    operator: Annotated[str, typer.Option(help="The office that runs the witness")],
    quorum: Annotated[
        int,
        typer.Option(help="How many of the named witnesses, this one included, must cosign"),
    ],
    months: int = certs.WITNESS_KEY_VALIDITY_MONTHS,
) -> None:
    """Name a witness of the audit log with the root, and restate the quorum.

    A checkpoint is trusted once QUORUM of the witnesses (not revoked) cosigned it; the
    quorum goes into every trust list exported from now on. The witness's private key
    stays with its operator: give its public verifier key text.
    """
    office: Office = context.obj
    try:
        witness = CosignatureVerifier.from_vkey(vkey)
    except MalformedNote as exc:
        raise KeysError(
            bilingual(
                f"--vkey không phải khóa xác minh đồng ký (cosignature/v1, 0x04): {exc}",
                f"--vkey is not a cosignature/v1 (0x04) verifier key: {exc}",
            )
        ) from None
    named = len(office.usable_witnesses()) + 1
    _check_quorum(quorum, named)
    root = office.root()
    signed = certs.certify_witness(root, witness, operator=operator, months=months)
    _saved(office, Kind.WITNESSES, signed, f"witness key {signed.body.key_id} ({witness.name})")
    office.registry.set_witness_quorum(quorum)
    typer.echo(f"witness quorum {quorum} of {named}")


@app.command("witness-quorum")
def witness_quorum(
    context: typer.Context,
    quorum: Annotated[int, typer.Argument(help="How many witnesses must cosign a checkpoint")],
) -> None:
    """Set how many of the named witnesses must cosign a checkpoint (e.g. after revoking
    one); the next exported trust list carries it."""
    office: Office = context.obj
    named = len(office.usable_witnesses())
    _check_quorum(quorum, named)
    office.registry.set_witness_quorum(quorum)
    typer.echo(f"witness quorum {quorum} of {named}")


@app.command()
def rotate(
    context: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key to retire")],
    months: Annotated[int | None, typer.Option(help="Validity of the new key")] = None,
) -> None:
    """Replace a key: certify a new one, retire the old one at the next midnight (Vietnam)."""
    office: Office = context.obj
    old = office.certificate(key_id).body
    if isinstance(old, WitnessCertificate):
        raise KeysError(
            bilingual(
                "khóa mới của nhân chứng do đơn vị vận hành tạo: dùng `issue witness --vkey ...` "
                f"rồi `revoke key {key_id} --reason retired`",
                "a witness's new key comes from its operator: `issue witness --vkey ...`, then "
                f"`revoke key {key_id} --reason retired`",
            )
        )
    issuer = office.issuer_of(old)
    new_key = office.keystore.generate(office.passphrase)
    kind = _KINDS[type(old)]
    certificate, retirement = certs.rotate(issuer, old, new_key.public_key, months=months)
    _saved(office, kind, certificate, f"new key {new_key.key_id}")
    _saved(
        office,
        Kind.KEY_REVOCATIONS,
        retirement,
        f"key {key_id} retires at {retirement.body.effective_at:%Y-%m-%d %H:%M} UTC",
    )


@revoke_app.command("key")
def revoke_key(
    context: typer.Context,
    key_id: Annotated[str, typer.Argument()],
    reason: Annotated[RevocationReason, typer.Option()],
    at: Annotated[str | None, typer.Option(help="Effective date or ISO time; default now")] = None,
) -> None:
    """Revoke a key from a given time; what it signed before stays valid."""
    office: Office = context.obj
    issuer = office.issuer_of(office.certificate(key_id).body)
    signed = certs.revoke_key(
        issuer, key_id, reason=reason, effective_at=_moment(at) if at else None
    )
    _saved(office, Kind.KEY_REVOCATIONS, signed, f"key {key_id} {reason}")


@revoke_app.command("certification")
def revoke_certification(
    context: typer.Context,
    certificate_no: Annotated[str, typer.Argument()],
    decision_no: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()],
    at: Annotated[str | None, typer.Option(help="Effective date or ISO time; default now")] = None,
) -> None:
    """Revoke a product's star certification."""
    office: Office = context.obj
    award = next(
        (
            doc.body
            for doc in office.registry.documents(Kind.CERTIFICATIONS)
            if doc.body.certificate_no == certificate_no
        ),
        None,
    )
    if award is None:
        folder = office.registry.folder
        raise KeysError(
            bilingual(
                f"không có giấy chứng nhận {certificate_no} trong {folder}",
                f"no certificate {certificate_no} in {folder}",
            )
        )
    signer, _ = office.authority(award.authority_id)
    signed = certs.revoke_certification(
        signer,
        award,
        decision_no=decision_no,
        reason=reason,
        effective_at=_moment(at) if at else None,
    )
    _saved(office, Kind.CERTIFICATION_REVOCATIONS, signed, f"certificate {certificate_no} revoked")


@app.command("export-trust-list")
def export_trust_list(
    context: typer.Context,
    output: Annotated[Path, typer.Argument(help="Where to write the signed trust list")],
    valid_days: Annotated[int, typer.Option(min=1)] = DEFAULT_VALIDITY.days,
) -> None:
    """Sign and write the trust list: every key, certification and revocation issued."""
    office: Office = context.obj
    registry = office.registry
    root = office.root()
    data = build_trust_list(
        root,
        version=registry.next_version(),
        authorities=registry.documents(Kind.AUTHORITIES),
        producer_keys=registry.documents(Kind.PRODUCER_KEYS),
        certifications=registry.documents(Kind.CERTIFICATIONS),
        key_revocations=registry.documents(Kind.KEY_REVOCATIONS),
        certification_revocations=registry.documents(Kind.CERTIFICATION_REVOCATIONS),
        desk_keys=registry.documents(Kind.DESK_KEYS),
        log_keys=registry.documents(Kind.LOG_KEYS),
        witnesses=registry.documents(Kind.WITNESSES),
        witness_quorum=registry.witness_quorum(),
        valid_for=timedelta(days=valid_days),
    )
    output.write_bytes(data)
    typer.echo(f"trust list written to {output} ({len(data)} bytes)")


def _saved(office: Office, kind: Kind, signed: Signed[Any], what: str) -> None:
    path = office.registry.add(kind, signed)
    typer.echo(f"{what} (signed by {signed.kid}) -> {path}")


def _check_quorum(quorum: int, named: int) -> None:
    if not 1 <= quorum <= named:
        raise KeysError(
            bilingual(
                f"ngưỡng {quorum} không hợp lệ: phải từ 1 đến {named} (số nhân chứng đang có "
                "hiệu lực)",
                f"a quorum of {quorum} is not valid: it must be 1 to {named} (the witnesses named "
                f"and not revoked)",
            )
        )


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        return decode_public_key(text)
    except ValueError as exc:
        raise KeysError(
            bilingual(
                "--public-key không phải khóa công khai Ed25519",
                f"--public-key: {exc}",
            )
        ) from None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise KeysError(
            bilingual(f"{text!r} không phải là số", f"not a number: {text!r}")
        ) from None


def _moment(text: str) -> datetime:
    """A date is read as midnight in Vietnam; a time must say its offset."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), VIETNAM_TIME)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise KeysError(
            bilingual(
                f"{text!r} không phải ngày hay thời điểm theo định dạng ISO",
                f"not an ISO date or time: {text!r}",
            )
        ) from None
    if moment.tzinfo is None:
        raise KeysError(
            bilingual(
                f"{text!r} thiếu độ lệch so với UTC (thêm +07:00 hoặc Z)",
                f"{text!r} has no UTC offset (add +07:00 or Z)",
            )
        )
    return moment


def main() -> None:
    try:
        app()
    except (KeysError, ContractError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
