"""The authorities' side of the story: keys, registrations, certifications, the trust list.

Keys are made on the first run and kept encrypted in the demo's keystore; a second run
loads them, so labels printed before stay verifiable. The passphrase is made at random on
the first run and kept beside the keys (mode 0600): this is a demo on one machine, and no
key or passphrase is ever committed. A key that a newer demo needs and an older run did not
make (the reform's councils, the desk, the audit log's and the witnesses' keys) is made on
the next run and added to office.json; nothing made before is replaced.

Each holder's private keys are in a keystore of their own, as they would be on separate
machines: the councils', producers' and root's in keystore/, the processors' seal in
seal-keystore/, the office's web desk in desk-keystore/, the audit log's checkpoint key in
log-keystore/, and the witnesses' cosignature keys in witness-keystore/.

The 2025 reform (contract.admin_map): Hưng Yên's council (VN-33) answers for former Thái
Bình's (VN-34) products, Đà Nẵng's (VN-48) for former Quảng Nam's (VN-49). Both successors
are certified from 1 July 2025; VN-33 has the desk key. The former councils keep their keys
and certificates, so all they signed still verifies. They are not retired here: the cast's
producers are still certified, registered and awarded by them at run time (demo.cast), and
a key retired on 1 July 2025 would make those documents, dated after it, invalid. Retiring
them is for when the cast's current documents move to the successors.

The audit log's witnesses: two, with a quorum of 2 of 2. With two witnesses and a quorum of
1, the log could show one history to one witness and another to the other, each cosigned by
one honest witness, and both would be trusted; a quorum of 2 makes any two cosigned
checkpoints share an honest witness, who would refuse the split. The price is that a witness
that is down delays trusted checkpoints; a third witness (2 of 3) would remove it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from auditlog.cosignature import CosignatureSigner
from auditlog.note import Ed25519Signer
from contract import admin_map
from contract.certification import (
    CertificationRevocation,
    EvaluationLevel,
    StarCertification,
)
from contract.encoding import decode_model, model_bytes
from contract.events import (
    CertificationIssued,
    CertificationRevoked,
    InspectorRegistered,
    InspectorRole,
    ProducerRegistered,
    ProductRegistered,
)
from contract.identifiers import KeyScheme, product_key
from contract.label import VIETNAM_TIME
from contract.signed import Signed, signed_type
from demo.cast import COUNCILS, PRODUCERS, PRODUCTS, Council, Producer, Product
from keys import certs
from keys.keystore import Keystore
from keys.publish import AuthorityPublisher
from keys.signing import SigningKey
from keys.trustlist import build_trust_list

INSPECTOR_ID = "QLTT-TB-01"
OFFICE_ID = "VPDP-OCOP-HY-01"
_SIGNED_REVOCATION = TypeAdapter(signed_type(CertificationRevocation))

REFORM_START = datetime.combine(admin_map.REFORM_DATE, time(), VIETNAM_TIME).astimezone(UTC)
"""Midnight in Vietnam on 1 July 2025: the successor councils' keys are valid from here."""

SUCCESSOR_COUNCILS = (
    Council("VN-33", "Hội đồng OCOP tỉnh Hưng Yên", EvaluationLevel.PROVINCIAL, "Hưng Yên"),
    Council("VN-48", "Hội đồng OCOP thành phố Đà Nẵng", EvaluationLevel.PROVINCIAL, "Đà Nẵng"),
)
"""The councils that answer since the reform for the cast's former ones (VN-34, VN-49)."""

ALL_COUNCILS = COUNCILS + SUCCESSOR_COUNCILS

DESK_COUNCIL = "VN-33"
DESK_NAME = "Văn phòng OCOP tỉnh Hưng Yên: bàn đánh giá (minh họa)"

LOG_ORIGIN = "ocop.vn/log"
"""The audit log's origin line (c2sp.org/tlog-checkpoint), the name its key signs under."""

WITNESSES = (
    ("witness.hungyen.ocop.vn", "Sở Khoa học và Công nghệ tỉnh Hưng Yên (minh họa)"),
    ("witness.danang.ocop.vn", "Sở Khoa học và Công nghệ thành phố Đà Nẵng (minh họa)"),
)
"""(name, operator) of each witness; illustrative, run by the demo itself."""
WITNESS_QUORUM = 2
"""2 of 2: see the module's docstring."""


def product_key_of(product: Product) -> str:
    return product_key(KeyScheme.GTIN, product.gtin)


@dataclass
class Office:
    """Every key and document of the demo's authorities, producers and processors."""

    folder: Path
    passphrase: str
    root: SigningKey
    councils: dict[str, SigningKey]
    producers: dict[str, SigningKey]
    seal: SigningKey
    inspector_token: str
    issued_at: datetime
    revocations: list[Signed[CertificationRevocation]] = field(default_factory=list)
    desks: dict[str, SigningKey] = field(default_factory=dict)
    """The desk key of each council that has one (the office's web back office's)."""
    log_key: SigningKey | None = None
    witness_keys: dict[str, SigningKey] = field(default_factory=dict)
    """Each witness's cosignature key, by the witness's name."""

    @property
    def keystore(self) -> Path:
        return self.folder / "keystore"

    @property
    def office_token(self) -> str:
        """The OCOP office's sign-in token (role office: the evaluation desk and the
        dashboard), made on first use; only its SHA-256 is published."""
        path = self.folder / "office-token"
        if not path.exists():
            _private(path, secrets.token_urlsafe(32))
        return path.read_text().strip()

    @property
    def seal_keystore(self) -> Path:
        return self.folder / "seal-keystore"

    @property
    def desk_keystore(self) -> Path:
        return self.folder / "desk-keystore"

    @property
    def log_keystore(self) -> Path:
        return self.folder / "log-keystore"

    @property
    def witness_keystore(self) -> Path:
        return self.folder / "witness-keystore"

    @property
    def root_key_file(self) -> Path:
        return self.folder / "root.pub"

    @property
    def trust_list_file(self) -> Path:
        return self.folder / "trust-list.json"

    # -- documents --------------------------------------------------------------------------

    def authority_certificates(self) -> list[Signed[certs.AuthorityCertificate]]:
        before = [
            certs.certify_authority(
                self.root, self.councils[c.authority_id].public_key, authority_id=c.authority_id,
                name=c.name, level=c.level, now=self.issued_at - timedelta(days=400),
            )
            for c in COUNCILS
        ]  # fmt: skip
        successors = [
            certs.certify_authority(
                self.root, self.councils[c.authority_id].public_key, authority_id=c.authority_id,
                name=c.name, level=c.level, valid_from=REFORM_START,
                now=REFORM_START - timedelta(days=1),
            )
            for c in SUCCESSOR_COUNCILS
        ]  # fmt: skip
        return before + successors

    def desk_certificates(self) -> list[Signed[certs.DeskKeyCertificate]]:
        return [
            certs.certify_desk_key(
                self.councils[council], key.public_key, authority_id=council,
                desk_name=DESK_NAME, now=self.issued_at - timedelta(days=30),
            )
            for council, key in self.desks.items()
        ]  # fmt: skip

    def log_signer(self) -> Ed25519Signer:
        """The audit log's checkpoint signer (auditlog.note), named by the log's origin."""
        assert self.log_key is not None  # open_office makes it
        return Ed25519Signer(LOG_ORIGIN, self.log_key.private_key)

    def witness_signers(self) -> tuple[CosignatureSigner, ...]:
        """The witnesses' cosigners (auditlog.cosignature), in WITNESSES' order."""
        return tuple(
            CosignatureSigner(name, self.witness_keys[name].private_key) for name, _ in WITNESSES
        )

    def log_certificates(self) -> list[Signed[certs.LogKeyCertificate]]:
        return [
            certs.certify_log_key(
                self.root, self.log_signer().verifier(), now=self.issued_at - timedelta(days=30)
            )
        ]

    def witness_certificates(self) -> list[Signed[certs.WitnessCertificate]]:
        operators = dict(WITNESSES)
        return [
            certs.certify_witness(
                self.root, signer.verifier(), operator=operators[signer.name],
                now=self.issued_at - timedelta(days=30),
            )
            for signer in self.witness_signers()
        ]  # fmt: skip

    def desk_env(self) -> dict[str, str]:
        """What the API's office desk is told (verify_api.settings, OCOP_DESK_*)."""
        return {
            "OCOP_DESK_COUNCIL": DESK_COUNCIL,
            "OCOP_DESK_KEYSTORE": str(self.desk_keystore),
            "OCOP_DESK_KEY_ID": self.desks[DESK_COUNCIL].key_id,
            "OCOP_DESK_PASSPHRASE": self.passphrase,
        }

    def producer_certificates(self) -> list[Signed[certs.ProducerKeyCertificate]]:
        return [
            certs.certify_producer_key(
                self.councils[p.council], self.producers[p.producer_id].public_key,
                authority_id=p.council, producer_id=p.producer_id, producer_name=p.name,
                producer_kind=p.kind, address=_address(p), now=self.issued_at - timedelta(days=30),
            )
            for p in PRODUCERS
        ]  # fmt: skip

    def certification(self, product: Product) -> Signed[StarCertification]:
        producer = _producer(product.producer)
        council = "VN-NATIONAL" if product.stars == 5 else producer.council
        valid_from = self.issued_at - timedelta(days=200)
        return certs.certify_product(
            self.councils[council], authority_id=council, certificate_no=product.certificate_no,
            decision_no=product.decision_no, product_key=product_key_of(product),
            product_name=product.name, product_group=product.group,
            producer_id=product.producer, stars=product.stars, score=product.score,
            valid_from=valid_from, now=valid_from,
        )  # fmt: skip

    def trust_list(self, version: int) -> bytes:
        return build_trust_list(
            self.root,
            version=version,
            authorities=self.authority_certificates(),
            producer_keys=self.producer_certificates(),
            certifications=[self.certification(p) for p in PRODUCTS],
            certification_revocations=self.revocations,
            desk_keys=self.desk_certificates(),
            log_keys=self.log_certificates(),
            witnesses=self.witness_certificates(),
            witness_quorum=WITNESS_QUORUM,
        )

    @property
    def revocations_dir(self) -> Path:
        return self.folder / "revocations"

    def revoked(self, product: Product) -> Signed[CertificationRevocation] | None:
        number = product.certificate_no
        return next((r for r in self.revocations if r.body.certificate_no == number), None)

    def revoke(self, product: Product, now: datetime) -> Signed[CertificationRevocation]:
        """Revoke, and keep the decision: every later trust list must still carry it."""
        revocation = certs.revoke_certification(
            self.councils[_producer(product.producer).council],
            self.certification(product).body,
            decision_no="47/QĐ-UBND",
            reason="Sản phẩm không duy trì được chất lượng như khi đánh giá (minh họa)",
            effective_at=now,
            now=now,
        )
        self.revocations.append(revocation)
        self.revocations_dir.mkdir(exist_ok=True)
        (self.revocations_dir / f"{product.code}.json").write_bytes(model_bytes(revocation))
        return revocation

    # -- publishing -------------------------------------------------------------------------

    def publish_all(self, publisher: AuthorityPublisher, version: int) -> int:
        """The trust list, then every registration, certification and the inspector."""
        document = self.trust_list(version)
        self.trust_list_file.write_bytes(document)
        publisher.trust_list(document)
        publisher.flush()  # the list first: the events below are checked against it
        now = datetime.now(UTC)
        for p in PRODUCERS:
            publisher.event(self.councils[p.council], ProducerRegistered(
                event_id=uuid.uuid4(), occurred_at=now, authority_id=p.council,
                producer_id=p.producer_id, name=p.name, kind=p.kind, address=p.address,
                commune=p.commune, district=p.district, province=p.province,
            ))  # fmt: skip
        for product in PRODUCTS:
            council = _producer(product.producer).council
            publisher.event(self.councils[council], ProductRegistered(
                event_id=uuid.uuid4(), occurred_at=now, authority_id=council,
                product_key=product_key_of(product), producer_id=product.producer,
                name=product.name, name_en=product.name_en, product_group=product.group,
            ))  # fmt: skip
            certification = self.certification(product)
            publisher.event(self.councils[certification.body.authority_id], CertificationIssued(
                event_id=uuid.uuid4(), occurred_at=now, certification=certification,
            ))  # fmt: skip
        publisher.event(self.councils["VN-34"], InspectorRegistered(
            event_id=uuid.uuid4(), occurred_at=now, authority_id="VN-34",
            inspector_id=INSPECTOR_ID, name="Thanh tra viên QLTT Thái Bình (minh họa)",
            role=InspectorRole.SUPERVISOR, token_sha256=_sha256(self.inspector_token),
        ))  # fmt: skip
        publisher.event(self.councils[DESK_COUNCIL], InspectorRegistered(
            event_id=uuid.uuid4(), occurred_at=now, authority_id=DESK_COUNCIL,
            inspector_id=OFFICE_ID, name="Văn phòng Điều phối OCOP Hưng Yên (minh họa)",
            role=InspectorRole.OFFICE, token_sha256=_sha256(self.office_token),
            province="Hưng Yên",
        ))  # fmt: skip
        return publisher.flush() + 1

    def publish_revocation(
        self, publisher: AuthorityPublisher, product: Product, version: int
    ) -> Signed[CertificationRevocation]:
        revocation = self.revoke(product, datetime.now(UTC))
        council = self.councils[_producer(product.producer).council]
        publisher.event(council, CertificationRevoked(
            event_id=uuid.uuid4(), occurred_at=revocation.body.issued_at, revocation=revocation,
        ))  # fmt: skip
        document = self.trust_list(version)
        self.trust_list_file.write_bytes(document)
        publisher.trust_list(document)
        publisher.flush()
        return revocation


def open_office(folder: Path) -> tuple[Office, bool]:
    """The demo's office: made on the first run, loaded after. True if it was made now."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "office.json"
    if index.exists():
        saved = json.loads(index.read_text())
        passphrase = (folder / "passphrase").read_text().strip()
        keystore, seals = Keystore(folder / "keystore"), Keystore(folder / "seal-keystore")
        office = Office(
            folder=folder,
            passphrase=passphrase,
            root=keystore.load(saved["root"], passphrase),
            councils={k: keystore.load(v, passphrase) for k, v in saved["councils"].items()},
            producers={k: keystore.load(v, passphrase) for k, v in saved["producers"].items()},
            seal=seals.load(saved["seal"], passphrase),
            inspector_token=(folder / "inspector-token").read_text().strip(),
            issued_at=datetime.fromisoformat(saved["issued_at"]),
            revocations=_current_revocations(folder / "revocations"),
        )
        if _load_or_make_later_keys(office, saved):
            _save_index(office)
        return office, False
    passphrase = secrets.token_urlsafe(24)
    _private(folder / "passphrase", passphrase)
    keystore, seals = Keystore(folder / "keystore"), Keystore(folder / "seal-keystore")
    office = Office(
        folder=folder,
        passphrase=passphrase,
        root=keystore.generate(passphrase),
        councils={c.authority_id: keystore.generate(passphrase) for c in ALL_COUNCILS},
        producers={p.producer_id: keystore.generate(passphrase) for p in PRODUCERS},
        seal=seals.generate(passphrase),
        inspector_token=secrets.token_urlsafe(32),
        issued_at=datetime.now(UTC).replace(microsecond=0),
    )
    _private(folder / "inspector-token", office.inspector_token)
    office.root_key_file.write_text(office.root.public_key_text + "\n")
    _load_or_make_later_keys(office, {})
    _save_index(office)
    return office, True


def _load_or_make_later_keys(office: Office, saved: dict[str, Any]) -> bool:
    """Loads the keys added since the first demo (successor councils, desk, audit log,
    witnesses) that office.json names, and makes those it does not. True if any was made."""
    passphrase, made = office.passphrase, False

    def key(keystore: Path, key_id: str | None) -> SigningKey:
        nonlocal made
        if key_id is not None:
            return Keystore(keystore).load(key_id, passphrase)
        made = True
        return Keystore(keystore).generate(passphrase)

    for council in ALL_COUNCILS:
        if council.authority_id not in office.councils:
            office.councils[council.authority_id] = key(office.folder / "keystore", None)
    desks = saved.get("desks", {})
    office.desks = {DESK_COUNCIL: key(office.desk_keystore, desks.get(DESK_COUNCIL))}
    office.log_key = key(office.log_keystore, saved.get("log"))
    witnesses = saved.get("witnesses", {})
    office.witness_keys = {
        name: key(office.witness_keystore, witnesses.get(name)) for name, _ in WITNESSES
    }
    return made


def _save_index(office: Office) -> None:
    assert office.log_key is not None
    (office.folder / "office.json").write_text(
        json.dumps(
            {
                "root": office.root.key_id,
                "councils": {k: v.key_id for k, v in office.councils.items()},
                "producers": {k: v.key_id for k, v in office.producers.items()},
                "seal": office.seal.key_id,
                "desks": {k: v.key_id for k, v in office.desks.items()},
                "log": office.log_key.key_id,
                "witnesses": {k: v.key_id for k, v in office.witness_keys.items()},
                "issued_at": office.issued_at.isoformat(),
            },
            indent=2,
        )
    )


def _current_revocations(folder: Path) -> list[Signed[CertificationRevocation]]:
    """The saved revocations of certificates the cast still has. One saved by an older demo,
    whose certificate has since been renumbered, would make every trust list invalid."""
    awarded = {(product_key_of(p), p.certificate_no) for p in PRODUCTS}
    saved = [
        decode_model(_SIGNED_REVOCATION, path.read_bytes())
        for path in sorted(folder.glob("*.json"))
    ]
    return [r for r in saved if (r.body.product_key, r.body.certificate_no) in awarded]


def _private(path: Path, text: str) -> None:
    path.write_text(text + "\n")
    path.chmod(0o600)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _producer(producer_id: str) -> Producer:
    return next(p for p in PRODUCERS if p.producer_id == producer_id)


def _address(p: Producer) -> str:
    return f"{p.address}, {p.commune}, {p.district}, tỉnh {p.province}"
