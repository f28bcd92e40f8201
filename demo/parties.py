"""The demo's locations and what Circular 02/2024/TT-BKHCN asks a product's page to show.

Every producer's site and packing station, the distributor and the shops get a GLN (GS1
Global Location Number, the location tracing code of TCVN 13274:2020). They are
illustrative: GS1 Vietnam's prefix 893 with made-up company and location numbers, valid
check digits, registered by each place's council as PartyRegistered events. The products'
brands, the standards they are made to and their images are illustrative too (the image
addresses are under the reserved .example domain, marked so).

`publish_parties` sends, after the office's own registrations (demo.authority), the parties
and a registration of each producer with its site's GLN and of each product with its brand,
standards and image: a later registration of the same producer or product replaces the
earlier one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from contract.events import (
    PartyRegistered,
    PartyRole,
    ProducerRegistered,
    ProductRegistered,
)
from contract.gs1 import check_digit
from demo.authority import Office, product_key_of
from demo.cast import PRODUCERS, PRODUCTS, Producer, Product
from keys.publish import AuthorityPublisher

PREFIX = "893"
"""GS1 Vietnam: every demo GLN starts with it."""


def gln(company: int, location: int) -> str:
    """An illustrative GLN: 893, five digits of company, four of location, check digit."""
    body = f"{PREFIX}{company:05d}{location:04d}"
    return body + str(check_digit(body))


@dataclass(frozen=True)
class Place:
    gln: str
    name: str
    role: PartyRole
    council: str
    address: str
    commune: str
    province: str
    producer_id: str | None = None


def _sites(number: int, producer: Producer) -> tuple[Place, Place]:
    """A producer's site (location 1) and its packing station (location 2)."""
    return (
        Place(
            gln(10_000 + number, 1), f"{producer.name}: cơ sở sản xuất", PartyRole.PRODUCER_SITE,
            producer.council, producer.address, producer.commune, producer.province,
            producer.producer_id,
        ),
        Place(
            gln(10_000 + number, 2), f"{producer.name}: trạm đóng gói", PartyRole.PACKING_STATION,
            producer.council, producer.address, producer.commune, producer.province,
            producer.producer_id,
        ),
    )  # fmt: skip


SITES: dict[str, tuple[Place, Place]] = {
    p.producer_id: _sites(number, p) for number, p in enumerate(PRODUCERS, start=1)
}
"""Each producer's (site, packing station)."""

DISTRIBUTOR = Place(
    gln(20_001, 1), "Công ty phân phối nông sản Thái Bình (minh họa)", PartyRole.DISTRIBUTOR,
    "VN-34", "Kho số 1, đường Trần Thái Tông (minh họa)", "Phường Bồ Xuyên", "Thái Bình",
)  # fmt: skip
"""Where every demo batch goes first, and from where it reaches the shops."""

SHOPS: dict[str, Place] = {
    name: Place(
        gln(30_000 + number, 1), name, PartyRole.SHOP, council, f"{name}: quầy OCOP (minh họa)",
        "Trung tâm (minh họa)", province,
    )
    for number, (name, province, council) in enumerate(
        dict.fromkeys(
            (p.sold_at, p.sold_in, "VN-49" if p.sold_in == "Quảng Nam" else "VN-34")
            for p in PRODUCTS
        ),
        start=1,
    )
}  # fmt: skip
"""Each shop the cast's products are sold at, by its name (demo.cast.Product.sold_at)."""


@dataclass(frozen=True)
class Details:
    brand: str
    standards: tuple[str, ...]
    image_url: str


DETAILS: dict[str, Details] = {
    "MAMCAY": Details("Mắm cáy Hồng Tiến", ("TCVN 5107:2018", "TCCS 01:2024/HTXHT (minh họa)"),
                      "https://images.ocop.example/mamcay.jpg"),
    "BANHCAY": Details("Bánh cáy làng Nguyễn", ("TCCS 02:2023/LN (minh họa)",),
                       "https://images.ocop.example/banhcay.jpg"),
    "BANHDA": Details("Bánh đa Quỳnh Phụ", ("TCVN 11887:2017 (minh họa)",),
                      "https://images.ocop.example/banhda.jpg"),
    "GAOTBR39": Details("Hưng Cúc", ("TCVN 11888:2017", "TCCS 03:2024/HC (minh họa)"),
                        "https://images.ocop.example/gaotbr39.jpg"),
    "THANGBINH": Details("OCOP Thăng Bình (minh họa)", ("TCCS 01:2024/TB (minh họa)",),
                         "https://images.ocop.example/thangbinh.jpg"),
}  # fmt: skip
"""What each product's page shows for Circular 02/2024, Art. 6(5)(b), (h) and (k)."""


def places() -> list[Place]:
    return [*(place for pair in SITES.values() for place in pair), DISTRIBUTOR, *SHOPS.values()]


def producer_of(product: Product) -> Producer:
    return next(p for p in PRODUCERS if p.producer_id == product.producer)


def publish_parties(office: Office, publisher: AuthorityPublisher) -> int:
    """Every place, and each producer and product again with what Circular 02 adds; returns
    the documents sent (once Kafka acknowledged them)."""
    now = datetime.now(UTC)
    for place in places():
        publisher.event(office.councils[place.council], PartyRegistered(
            event_id=uuid.uuid4(), occurred_at=now, authority_id=place.council, gln=place.gln,
            name=place.name, role=place.role, address=place.address, commune=place.commune,
            province=place.province, producer_id=place.producer_id,
        ))  # fmt: skip
    for p in PRODUCERS:
        publisher.event(office.councils[p.council], ProducerRegistered(
            event_id=uuid.uuid4(), occurred_at=now, authority_id=p.council,
            producer_id=p.producer_id, name=p.name, kind=p.kind, address=p.address,
            commune=p.commune, district=p.district, province=p.province,
            gln=SITES[p.producer_id][0].gln,
        ))  # fmt: skip
    for product in PRODUCTS:
        council = producer_of(product).council
        details = DETAILS[product.code]
        publisher.event(office.councils[council], ProductRegistered(
            event_id=uuid.uuid4(), occurred_at=now, authority_id=council,
            product_key=product_key_of(product), producer_id=product.producer,
            name=product.name, name_en=product.name_en, product_group=product.group,
            image_url=details.image_url, brand=details.brand, standards=details.standards,
        ))  # fmt: skip
    return publisher.flush()
