"""The 2025 administrative map (contract.admin_map): 63 provinces became 34 on 1 July 2025
(Resolution 202/2025/QH15), and who answers now for what a former council recognised."""

from __future__ import annotations

from datetime import date

import pytest

from contract import admin_map, search
from contract.admin_map import (
    CURRENT_CODES,
    FORMER_CODES,
    REFORM_DATE,
    UnknownProvince,
    authority_province,
    predecessors,
    province_now,
    province_on,
    successor_authority,
)


def test_sixty_three_provinces_became_thirty_four() -> None:
    assert len(FORMER_CODES) == 63
    assert len(CURRENT_CODES) == 34
    assert len(set(FORMER_CODES.values())) == 63
    assert len(admin_map.MERGED) + len(admin_map.UNCHANGED) == 34
    assert {province_now(former) for former in FORMER_CODES} == set(CURRENT_CODES)
    merged_away = [old for olds in admin_map.MERGED.values() for old in olds]
    assert len(merged_away) == 63 - 34
    assert date(2025, 7, 1) == REFORM_DATE


@pytest.mark.parametrize(
    ("then", "now"),
    [
        ("Thái Bình", "Hưng Yên"), ("Hưng Yên", "Hưng Yên"), ("Quảng Nam", "Đà Nẵng"),
        ("Đà Nẵng", "Đà Nẵng"), ("Hà Nội", "Hà Nội"), ("Thừa Thiên Huế", "Huế"),
        ("Bà Rịa - Vũng Tàu", "Hồ Chí Minh"), ("Kon Tum", "Quảng Ngãi"),
        ("Hà Giang", "Tuyên Quang"),
    ],
)  # fmt: skip
def test_the_province_now_of_a_province_then(then: str, now: str) -> None:
    assert province_now(then) == now


def test_predecessors_name_the_namesake_first() -> None:
    assert predecessors("Hưng Yên") == ("Hưng Yên", "Thái Bình")
    assert predecessors("Đà Nẵng") == ("Đà Nẵng", "Quảng Nam")
    assert predecessors("Phú Thọ") == ("Phú Thọ", "Vĩnh Phúc", "Hòa Bình")
    assert predecessors("Huế") == ("Thừa Thiên Huế",)
    assert predecessors("Lai Châu") == ("Lai Châu",)
    assert sorted(p for now in CURRENT_CODES for p in predecessors(now)) == sorted(FORMER_CODES)
    with pytest.raises(UnknownProvince):
        predecessors("Thái Bình")  # a former province, not a current one


def test_the_province_answering_on_a_day() -> None:
    assert province_on("Thái Bình", date(2025, 6, 30)) == "Thái Bình"
    assert province_on("Thái Bình", REFORM_DATE) == "Hưng Yên"


def test_unknown_names_are_refused_not_taken_as_unchanged() -> None:
    with pytest.raises(UnknownProvince, match="not a province"):
        province_now("Thai Binh")  # canonical names only: search folds typed ones
    with pytest.raises(UnknownProvince):
        province_on("Huế", date(2024, 1, 1))  # Thừa Thiên Huế then


def test_a_former_councils_successor() -> None:
    assert successor_authority("VN-34") == "VN-33"  # Thái Bình -> Hưng Yên
    assert successor_authority("VN-49") == "VN-48"  # Quảng Nam -> Đà Nẵng
    assert successor_authority("VN-33") == "VN-33"
    assert successor_authority("VN-01") == "VN-01"
    assert successor_authority("VN-10") == "VN-15"  # Lào Cai took Yên Bái's code (its seat)
    assert successor_authority("VN-NATIONAL") == "VN-NATIONAL"
    with pytest.raises(UnknownProvince):
        successor_authority("VN-03")
    # each current code was the code of one of its own predecessors: succession is idempotent
    for code in CURRENT_CODES.values():
        assert successor_authority(f"VN-{code}") == f"VN-{code}"


def test_codes_were_reassigned_on_the_reform() -> None:
    assert authority_province("VN-15", date(2025, 6, 30)) == "Yên Bái"
    assert authority_province("VN-15", REFORM_DATE) == "Lào Cai"
    assert authority_province("VN-34", date(2023, 11, 1)) == "Thái Bình"
    assert authority_province("VN-NATIONAL", REFORM_DATE) is None
    with pytest.raises(UnknownProvince):
        authority_province("VN-34", REFORM_DATE)


def test_search_folds_the_same_map() -> None:
    for former, now in admin_map.NOW_IN.items():
        assert search.current_province(former) == (None if former == now else now)
    assert search.current_province("tỉnh Thái Bình") == "Hưng Yên"
