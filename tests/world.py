"""A small OCOP world for tests: keys made at run time, never committed.

Used by the unit tests (the `world` fixture) and by the integration tests, which send its
documents and events through the real Kafka and Cassandra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from contract.certification import EvaluationLevel, ProductGroup
from contract.events import ProducerKind
from contract.label import LabelBatch, SignedLabel
from contract.signed import Signed
from keys import certs
from keys.signing import LabelSigner, SigningKey
from keys.trustlist import TrustList, build_trust_list

NOW = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
PACKED_ON = date(2025, 3, 10)
GTIN = "08931234567897"
PRODUCT = f"/01/{GTIN}"
OTHER_PRODUCT = "/p/TB-BANHCAY-01"
PRODUCER = "TB-HTX-HONGTIEN"
LOT = "L2503A0001"  # 10 characters, as on a real label
HOST = "ocop.vn"


@dataclass
class World:
    """Root, a provincial and a national council, one producer, and a 4★ certification."""

    root: SigningKey = field(default_factory=SigningKey.generate)
    provincial: SigningKey = field(default_factory=SigningKey.generate)
    national: SigningKey = field(default_factory=SigningKey.generate)
    producer: SigningKey = field(default_factory=SigningKey.generate)

    def __post_init__(self) -> None:
        long_ago = NOW - timedelta(days=500)
        self.authorities = [
            certs.certify_authority(
                self.root,
                self.provincial.public_key,
                authority_id="VN-34",
                name="Hội đồng OCOP tỉnh Thái Bình",
                level=EvaluationLevel.PROVINCIAL,
                now=long_ago,
            ),
            certs.certify_authority(
                self.root,
                self.national.public_key,
                authority_id="VN-NATIONAL",
                name="Hội đồng OCOP trung ương",
                level=EvaluationLevel.NATIONAL,
                now=long_ago,
            ),
        ]
        self.producer_keys = [self.producer_key(self.producer, now=long_ago)]
        self.certifications = [self.award(stars=4, score="78.5")]

    def producer_key(
        self, key: SigningKey, *, producer_id: str = PRODUCER, now: datetime = NOW, **extra: Any
    ) -> Signed[certs.ProducerKeyCertificate]:
        return certs.certify_producer_key(
            self.provincial,
            key.public_key,
            authority_id="VN-34",
            producer_id=producer_id,
            producer_name="HTX Hồng Tiến",
            producer_kind=ProducerKind.COOPERATIVE,
            address="xã Hồng Tiến, huyện Kiến Xương, tỉnh Thái Bình",
            now=now,
            **extra,
        )

    def award(
        self,
        *,
        stars: int,
        score: str,
        number: str = "123/GCN-UBND",
        product: str = PRODUCT,
        valid_from: datetime = NOW - timedelta(days=200),
        issued_at: datetime | None = None,
        **extra: Any,
    ) -> Signed[Any]:
        national = stars == 5
        return certs.certify_product(
            self.national if national else self.provincial,
            authority_id="VN-NATIONAL" if national else "VN-34",
            certificate_no=number,
            decision_no="1234/QĐ-UBND",
            product_key=product,
            product_name="Mắm cáy Hồng Tiến",
            product_group=ProductGroup.FOOD,
            producer_id=PRODUCER,
            stars=stars,
            score=Decimal(score),
            valid_from=valid_from,
            now=issued_at or valid_from,
            **extra,
        )

    def trust_list_bytes(self, *, now: datetime = NOW, **documents: Any) -> bytes:
        parts: dict[str, Any] = {
            "authorities": self.authorities,
            "producer_keys": self.producer_keys,
            "certifications": self.certifications,
        }
        for name, extra in documents.items():
            parts[name] = [*parts.get(name, []), *extra]
        return build_trust_list(self.root, version=1, now=now, **parts)

    def trust(self, **documents: Any) -> TrustList:
        return TrustList.load(
            self.trust_list_bytes(**documents), root_public_key=self.root.public_key
        )

    def label(
        self,
        *,
        stars: int = 4,
        key: SigningKey | None = None,
        product: str = PRODUCT,
        packed_on: date = PACKED_ON,
        serial: str | None = None,
    ) -> SignedLabel:
        key = key or self.producer
        batch = LabelBatch(HOST, product, LOT, packed_on, stars, key.key_id)
        return LabelSigner(key, batch).sign(serial)
