"""Who and what the demo story is about: the real products and places named in public
reporting (shared/OCOP.md), with the councils that rate them.

What the reporting names is used as named: Thái Bình's bánh cáy làng Nguyễn (Đông Hưng),
bánh đa sợi (Quỳnh Phụ), mắm cáy Hồng Tiến (4★ since 2020), gạo TBR39 milled by Công ty
TNHH Hưng Cúc in Đông Hưng town, and products of Thăng Bình district (Quảng Nam). What it
does not give (street addresses, the producers' exact legal names where not reported,
scores, GTINs, the Thăng Bình product's name) is illustrative and marked so; GTINs use the
GS1 Vietnam prefix 893 with made-up company numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contract.certification import EvaluationLevel, ProductGroup
from contract.events import ProducerKind
from contract.gs1 import check_digit


def gtin(item: str) -> str:
    """A GTIN-14: indicator 0, GS1 Vietnam prefix 893, 9 digits of company and item, check."""
    if len(item) != 9 or not item.isdigit():
        raise ValueError(f"9 digits of company and item, got {item!r}")
    body = f"0893{item}"
    return body + str(check_digit(body))


@dataclass(frozen=True)
class Council:
    authority_id: str
    name: str
    level: EvaluationLevel
    province: str


@dataclass(frozen=True)
class Producer:
    producer_id: str
    name: str
    kind: ProducerKind
    council: str
    address: str
    commune: str
    district: str
    province: str


@dataclass(frozen=True)
class Product:
    code: str
    """Short name used for lots, folders and the demo's output."""
    gtin: str
    name: str
    name_en: str
    group: ProductGroup
    producer: str
    stars: int
    score: Decimal
    certificate_no: str
    decision_no: str
    material: str
    origin: str
    units: int
    sold_at: str
    sold_in: str


COUNCILS = (
    Council("VN-NATIONAL", "Hội đồng OCOP trung ương", EvaluationLevel.NATIONAL, "Hà Nội"),
    Council("VN-34", "Hội đồng OCOP tỉnh Thái Bình", EvaluationLevel.PROVINCIAL, "Thái Bình"),
    Council("VN-49", "Hội đồng OCOP tỉnh Quảng Nam", EvaluationLevel.PROVINCIAL, "Quảng Nam"),
)

PRODUCERS = (
    Producer(
        "TB-HTX-HONGTIEN", "HTX Hồng Tiến (minh họa)", ProducerKind.COOPERATIVE, "VN-34",
        "Thôn Hồng Tiến (minh họa)", "Xã Hồng Tiến", "Huyện Kiến Xương", "Thái Bình",
    ),
    Producer(
        "TB-HKD-LANGNGUYEN", "Hộ kinh doanh bánh cáy làng Nguyễn (minh họa)",
        ProducerKind.HOUSEHOLD, "VN-34", "Làng Nguyễn", "Xã Nguyên Xá", "Huyện Đông Hưng",
        "Thái Bình",
    ),
    Producer(
        "TB-HTX-BANHDA-QP", "HTX bánh đa Quỳnh Phụ (minh họa)", ProducerKind.COOPERATIVE,
        "VN-34", "Quỳnh Phụ (minh họa)", "Xã Quỳnh Hồng (minh họa)", "Huyện Quỳnh Phụ",
        "Thái Bình",
    ),
    Producer(
        "TB-CTY-HUNGCUC", "Công ty TNHH Hưng Cúc", ProducerKind.ENTERPRISE, "VN-34",
        "Thị trấn Đông Hưng", "Thị trấn Đông Hưng", "Huyện Đông Hưng", "Thái Bình",
    ),
    Producer(
        "QN-HKD-THANGBINH", "Hộ kinh doanh Thăng Bình (minh họa)", ProducerKind.HOUSEHOLD,
        "VN-49", "Hà Lam (minh họa)", "Thị trấn Hà Lam", "Huyện Thăng Bình", "Quảng Nam",
    ),
)  # fmt: skip

PRODUCTS = (
    Product(
        "MAMCAY", gtin("100010001"), "Mắm cáy Hồng Tiến", "Hong Tien fiddler-crab paste",
        ProductGroup.FOOD, "TB-HTX-HONGTIEN", 4, Decimal("78"), "12/GCN-OCOP",
        "2468/QĐ-UBND", "cáy (fiddler crab)", "Bãi bồi Hồng Tiến, Kiến Xương", 48,
        "Siêu thị Thái Bình (minh họa)", "Thái Bình",
    ),
    Product(
        "BANHCAY", gtin("100020002"), "Bánh cáy làng Nguyễn", "Lang Nguyen cay cake",
        ProductGroup.FOOD, "TB-HKD-LANGNGUYEN", 4, Decimal("74"), "31/GCN-OCOP",
        "1120/QĐ-UBND", "gạo nếp, mạch nha, gấc", "Xã Nguyên Xá, Đông Hưng", 48,
        "Điểm bán sản phẩm OCOP Thái Bình (minh họa)", "Thái Bình",
    ),
    Product(
        "BANHDA", gtin("100030003"), "Bánh đa sợi Quỳnh Phụ", "Quynh Phu rice noodles",
        ProductGroup.FOOD, "TB-HTX-BANHDA-QP", 3, Decimal("63"), "47/GCN-OCOP",
        "3051/QĐ-UBND", "gạo tẻ", "Cánh đồng Quỳnh Phụ", 48,
        "Siêu thị Thái Bình (minh họa)", "Thái Bình",
    ),
    Product(
        "GAOTBR39", gtin("100040004"), "Gạo TBR39 Hưng Cúc", "Hung Cuc TBR39 rice",
        ProductGroup.FOOD, "TB-CTY-HUNGCUC", 4, Decimal("82"), "58/GCN-OCOP",
        "3051/QĐ-UBND", "thóc TBR39", "Cánh đồng Đông Hưng", 500,
        "Siêu thị Hà Nội (minh họa)", "Hà Nội",
    ),
    Product(
        "THANGBINH", gtin("200010001"), "Sản phẩm OCOP Thăng Bình (minh họa)",
        "A Thang Binh OCOP product (illustrative)", ProductGroup.FOOD, "QN-HKD-THANGBINH",
        3, Decimal("58"), "09/GCN-OCOP", "1790/QĐ-UBND", "nguyên liệu địa phương",
        "Huyện Thăng Bình, Quảng Nam", 48, "Điểm bán OCOP Quảng Nam (minh họa)", "Quảng Nam",
    ),
)  # fmt: skip

REVOKED = "BANHDA"
"""The product whose certification the story revokes (a province revoked 47 at once)."""
COPIED = "MAMCAY"
"""The product whose label the story copies and scans in far-apart places."""
