"""Vietnam's provinces before and after the reform of 1 July 2025, in one place.

Resolution 202/2025/QH15 (National Assembly, 12 June 2025; local government of the new
provinces in office from 1 July 2025) merged 52 of the 63 provinces and centrally-run cities
into 23, leaving 34; the same reform abolished the district tier, so since that day an
address is "commune or ward, province". Records made before it keep the district and
province they named (a certificate of Thái Bình's council stays valid to its end date); what
changes is who answers for them now. This module says which province a former one is part
of, which former provinces make up a current one, and which council inherits a former
council's products.

Sources: the mergers are Article 1 of Resolution 202/2025/QH15 (English text at
english.luatvietnam.vn, "Resolution 202/2025/QH15 on the reorganization of provincial-level
administrative divisions"); the 63 former province codes are the General Statistics
Office's of Decision 124/2004/QĐ-TTg, the 34 current ones those of Decision 19/2025/QĐ-TTg
(in force 1 July 2025), where each new province took the code of the former province that
holds its seat. Thừa Thiên Huế had already become Huế city on 1 January 2025 (Resolution
1314/NQ-UBTVQH15) and kept its borders in 2025.

Names are the canonical names records use ("Thái Bình", "Hồ Chí Minh", "Bà Rịa - Vũng
Tàu"); a name typed by a person is made canonical first (contract.search.place_key for
search, stream_processors.places.province_name for scans). An unknown name is refused with
UnknownProvince rather than taken as "unchanged", so a misspelling never hides a merger.
Nothing here does I/O.
"""

from __future__ import annotations

import re
from datetime import date

REFORM_DATE = date(2025, 7, 1)
"""The first day of the two-tier map: 34 provinces, no districts (Resolution 202/2025/QH15)."""

AUTHORITY_PREFIX = "VN-"
"""A province council's authority id is "VN-" and its province's two-digit code ("VN-34",
Thái Bình's council before the reform); other authorities (the national council,
"VN-NATIONAL") belong to no province."""

MERGED: dict[str, tuple[str, ...]] = {
    "Tuyên Quang": ("Hà Giang",),
    "Lào Cai": ("Yên Bái",),
    "Thái Nguyên": ("Bắc Kạn",),
    "Phú Thọ": ("Vĩnh Phúc", "Hòa Bình"),
    "Bắc Ninh": ("Bắc Giang",),
    "Hưng Yên": ("Thái Bình",),
    "Hải Phòng": ("Hải Dương",),
    "Ninh Bình": ("Hà Nam", "Nam Định"),
    "Quảng Trị": ("Quảng Bình",),
    "Đà Nẵng": ("Quảng Nam",),
    "Quảng Ngãi": ("Kon Tum",),
    "Gia Lai": ("Bình Định",),
    "Khánh Hòa": ("Ninh Thuận",),
    "Lâm Đồng": ("Đắk Nông", "Bình Thuận"),
    "Đắk Lắk": ("Phú Yên",),
    "Hồ Chí Minh": ("Bình Dương", "Bà Rịa - Vũng Tàu"),
    "Đồng Nai": ("Bình Phước",),
    "Tây Ninh": ("Long An",),
    "Cần Thơ": ("Sóc Trăng", "Hậu Giang"),
    "Vĩnh Long": ("Bến Tre", "Trà Vinh"),
    "Đồng Tháp": ("Tiền Giang",),
    "Cà Mau": ("Bạc Liêu",),
    "An Giang": ("Kiên Giang",),
}
"""Each of the 23 merged provinces and the former provinces it took in besides its namesake
(Resolution 202/2025/QH15, Article 1)."""

UNCHANGED = (
    "Hà Nội", "Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn", "Quảng Ninh",
    "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Cao Bằng",
)  # fmt: skip
"""The eleven provinces and cities the resolution left as they were."""

RENAMED = {"Thừa Thiên Huế": "Huế"}
"""A former name of an unchanged province: Huế city since 1 January 2025."""

FORMER_CODES: dict[str, str] = {
    "Hà Nội": "01", "Hà Giang": "02", "Cao Bằng": "04", "Bắc Kạn": "06", "Tuyên Quang": "08",
    "Lào Cai": "10", "Điện Biên": "11", "Lai Châu": "12", "Sơn La": "14", "Yên Bái": "15",
    "Hòa Bình": "17", "Thái Nguyên": "19", "Lạng Sơn": "20", "Quảng Ninh": "22",
    "Bắc Giang": "24", "Phú Thọ": "25", "Vĩnh Phúc": "26", "Bắc Ninh": "27", "Hải Dương": "30",
    "Hải Phòng": "31", "Hưng Yên": "33", "Thái Bình": "34", "Hà Nam": "35", "Nam Định": "36",
    "Ninh Bình": "37", "Thanh Hóa": "38", "Nghệ An": "40", "Hà Tĩnh": "42",
    "Quảng Bình": "44", "Quảng Trị": "45", "Thừa Thiên Huế": "46", "Đà Nẵng": "48",
    "Quảng Nam": "49", "Quảng Ngãi": "51", "Bình Định": "52", "Phú Yên": "54",
    "Khánh Hòa": "56", "Ninh Thuận": "58", "Bình Thuận": "60", "Kon Tum": "62",
    "Gia Lai": "64", "Đắk Lắk": "66", "Đắk Nông": "67", "Lâm Đồng": "68", "Bình Phước": "70",
    "Tây Ninh": "72", "Bình Dương": "74", "Đồng Nai": "75", "Bà Rịa - Vũng Tàu": "77",
    "Hồ Chí Minh": "79", "Long An": "80", "Tiền Giang": "82", "Bến Tre": "83",
    "Trà Vinh": "84", "Vĩnh Long": "86", "Đồng Tháp": "87", "An Giang": "89",
    "Kiên Giang": "91", "Cần Thơ": "92", "Hậu Giang": "93", "Sóc Trăng": "94",
    "Bạc Liêu": "95", "Cà Mau": "96",
}  # fmt: skip
"""The 63 provinces before the reform and their codes (Decision 124/2004/QĐ-TTg)."""

CURRENT_CODES: dict[str, str] = {
    "Hà Nội": "01", "Cao Bằng": "04", "Tuyên Quang": "08", "Điện Biên": "11",
    "Lai Châu": "12", "Sơn La": "14", "Lào Cai": "15", "Thái Nguyên": "19", "Lạng Sơn": "20",
    "Quảng Ninh": "22", "Bắc Ninh": "24", "Phú Thọ": "25", "Hải Phòng": "31",
    "Hưng Yên": "33", "Ninh Bình": "37", "Thanh Hóa": "38", "Nghệ An": "40", "Hà Tĩnh": "42",
    "Quảng Trị": "44", "Huế": "46", "Đà Nẵng": "48", "Quảng Ngãi": "51", "Gia Lai": "52",
    "Khánh Hòa": "56", "Đắk Lắk": "66", "Lâm Đồng": "68", "Đồng Nai": "75",
    "Hồ Chí Minh": "79", "Tây Ninh": "80", "Đồng Tháp": "82", "Vĩnh Long": "86",
    "An Giang": "91", "Cần Thơ": "92", "Cà Mau": "96",
}  # fmt: skip
"""The 34 provinces since 1 July 2025 and their codes (Decision 19/2025/QĐ-TTg)."""

NOW_IN: dict[str, str] = {
    **{old: new for new, olds in MERGED.items() for old in (new, *olds)},
    **{name: name for name in UNCHANGED},
    **RENAMED,
}
"""Every former province (and current name) to the province it is part of today."""

_BY_FORMER_CODE = {code: name for name, code in FORMER_CODES.items()}
_BY_CURRENT_CODE = {code: name for name, code in CURRENT_CODES.items()}
_AUTHORITY = re.compile(re.escape(AUTHORITY_PREFIX) + r"([0-9]{2})")


class UnknownProvince(KeyError):
    """A name that is neither one of the 63 former provinces nor one of the 34 current ones."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"{self.name!r} is not a province of Vietnam before or after 1 July 2025"


def province_now(province: str) -> str:
    """The province that `province`, as named in a record of any date, is part of since
    1 July 2025: "Thái Bình" -> "Hưng Yên", "Quảng Nam" -> "Đà Nẵng", "Hà Nội" -> "Hà Nội"."""
    try:
        return NOW_IN[province]
    except KeyError:
        raise UnknownProvince(province) from None


def province_on(province: str, day: date) -> str:
    """The province whose authorities answered for `province` (a name from a record) on
    `day`: itself before the reform, the province it is part of from REFORM_DATE on."""
    if day < REFORM_DATE:
        if province not in FORMER_CODES:
            raise UnknownProvince(province)
        return province
    return province_now(province)


def predecessors(province: str) -> tuple[str, ...]:
    """The former provinces a current province is made of, its namesake (or former name)
    first: "Hưng Yên" -> ("Hưng Yên", "Thái Bình"); "Huế" -> ("Thừa Thiên Huế",)."""
    if province not in CURRENT_CODES:
        raise UnknownProvince(province)
    return tuple(old for old, new in NOW_IN.items() if new == province and old in FORMER_CODES)


def authority_province(authority_id: str, day: date) -> str | None:
    """The province of a province council's authority id on `day` (codes were reassigned on
    1 July 2025: "VN-15" was Yên Bái's council before and is Lào Cai's since); None for an
    authority of no province. UnknownProvince for a "VN-" code that was no province then."""
    match = _AUTHORITY.fullmatch(authority_id)
    if match is None:
        return None
    codes = _BY_FORMER_CODE if day < REFORM_DATE else _BY_CURRENT_CODE
    try:
        return codes[match[1]]
    except KeyError:
        raise UnknownProvince(authority_id) from None


def successor_authority(authority_id: str) -> str:
    """The council that answers today for the products of a council of before the reform:
    "VN-34" (Thái Bình) -> "VN-33" (Hưng Yên), "VN-49" (Quảng Nam) -> "VN-48" (Đà Nẵng).
    Each new province took a former member's code, so a current council's id maps to itself;
    an authority of no province ("VN-NATIONAL") is its own successor."""
    former = authority_province(authority_id, date.min)
    if former is None:
        return authority_id
    return AUTHORITY_PREFIX + CURRENT_CODES[province_now(former)]


def province_answering_now(authority_id: str) -> str | None:
    """The province whose council answers today for an authority's decisions: Hưng Yên for
    Thái Bình's "VN-34"; None for an authority of no province ("VN-NATIONAL", or an id that
    is no province code)."""
    try:
        return authority_province(successor_authority(authority_id), date.max)
    except UnknownProvince:
        return None
