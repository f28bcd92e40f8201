"""What an operator types, read strictly: dates and raw-material lines.

Dates are accepted as ISO (2025-03-10) or as Vietnamese write them (10/03/2025), and
nothing else: "03/10/2025" is 3 October, never guessed to be 10 March.
"""

from __future__ import annotations

import re
from datetime import date

from contract.bilingual import bilingual
from contract.errors import ContractError, build
from contract.events import RawMaterial
from producers.errors import InvalidInput

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_VIETNAMESE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_QUANTITY = re.compile(r"\s*(\S+)\s+(\S+)\s*")

RAW_MATERIAL_FORMAT = "material|origin|quantity unit[|origin GLN]"


def parse_date(text: str, what: str) -> date:
    """`what` names the input in both languages' messages: the option it came from."""
    text = text.strip()
    try:
        if iso := _ISO.fullmatch(text):
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if local := _VIETNAMESE.fullmatch(text):
            return date(int(local[3]), int(local[2]), int(local[1]))
    except ValueError as exc:
        raise InvalidInput(
            bilingual(
                f"{what}: {text!r} không phải ngày hợp lệ",
                f"{what}: {text!r} is not a date ({exc})",
            )
        ) from None
    raise InvalidInput(
        bilingual(
            f"{what}: {text!r} không phải ngày; viết YYYY-MM-DD hoặc DD/MM/YYYY",
            f"{what}: {text!r} is not a date; write YYYY-MM-DD or DD/MM/YYYY",
        )
    )


def parse_raw_material(text: str) -> RawMaterial:
    """'gạo nếp cái hoa vàng|ruộng thôn Nguyễn, Đông Hưng|1200 kg|8930000000019'"""
    parts = text.split("|")
    if len(parts) not in (3, 4) or not (amount := _QUANTITY.fullmatch(parts[2])):
        raise InvalidInput(
            bilingual(
                f"nguyên liệu {text!r}: viết theo dạng {RAW_MATERIAL_FORMAT}",
                f"raw material {text!r}: write {RAW_MATERIAL_FORMAT}",
            )
        )
    try:
        return build(
            RawMaterial,
            material=parts[0],
            origin=parts[1],
            quantity=amount[1],
            unit=amount[2],
            origin_gln=parts[3].strip() if len(parts) == 4 else None,
        )
    except ContractError as exc:
        raise InvalidInput(
            bilingual(f"nguyên liệu {text!r} không hợp lệ", f"raw material {text!r}: {exc}")
        ) from None
