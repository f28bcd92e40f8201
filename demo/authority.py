"""The authorities' side of the story: keys, registrations, certifications, the trust list.

Keys are made on the first run and kept encrypted in the demo's keystore; a second run
loads them, so labels printed before stay verifiable. The passphrase is made at random on
the first run and kept beside the keys (mode 0600): this is a demo on one machine, and no
key or passphrase is ever committed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import TypeAdapter

from contract.certification import CertificationRevocation, StarCertification
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
from contract.signed import Signed, signed_type
from demo.cast import COUNCILS, PRODUCERS, PRODUCTS, Producer, Product
from keys import certs
from keys.keystore import Keystore
from keys.publish import AuthorityPublisher
from keys.signing import SigningKey
from keys.trustlist import build_trust_list

INSPECTOR_ID = "QLTT-TB-01"
_SIGNED_REVOCATION = TypeAdapter(signed_type(CertificationRevocation))


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

    @property
    def keystore(self) -> Path:
        return self.folder / "keystore"

    @property
    def seal_keystore(self) -> Path:
        return self.folder / "seal-keystore"

    @property
    def root_key_file(self) -> Path:
        return self.folder / "root.pub"

    @property
    def trust_list_file(self) -> Path:
        return self.folder / "trust-list.json"

    # -- documents --------------------------------------------------------------------------

    def authority_certificates(self) -> list[Signed[certs.AuthorityCertificate]]:
        return [
            certs.certify_authority(
                self.root, self.councils[c.authority_id].public_key, authority_id=c.authority_id,
                name=c.name, level=c.level, now=self.issued_at - timedelta(days=400),
            )
            for c in COUNCILS
        ]  # fmt: skip

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
        return office, False
    passphrase = secrets.token_urlsafe(24)
    _private(folder / "passphrase", passphrase)
    keystore, seals = Keystore(folder / "keystore"), Keystore(folder / "seal-keystore")
    office = Office(
        folder=folder,
        passphrase=passphrase,
        root=keystore.generate(passphrase),
        councils={c.authority_id: keystore.generate(passphrase) for c in COUNCILS},
        producers={p.producer_id: keystore.generate(passphrase) for p in PRODUCERS},
        seal=seals.generate(passphrase),
        inspector_token=secrets.token_urlsafe(32),
        issued_at=datetime.now(UTC).replace(microsecond=0),
    )
    _private(folder / "inspector-token", office.inspector_token)
    office.root_key_file.write_text(office.root.public_key_text + "\n")
    index.write_text(
        json.dumps(
            {
                "root": office.root.key_id,
                "councils": {k: v.key_id for k, v in office.councils.items()},
                "producers": {k: v.key_id for k, v in office.producers.items()},
                "seal": office.seal.key_id,
                "issued_at": office.issued_at.isoformat(),
            },
            indent=2,
        )
    )
    return office, True


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
