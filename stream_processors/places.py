"""Where a scan happened, as well as anyone can tell, and how far apart two scans were.

Clients offer coarse places: a province name, or coordinates with an accuracy and a source.
Each place gets a slack radius, how far the real spot may lie from the point used:
a province is reduced to an approximate centroid (slack 60 km, more than the half-width of
most provinces), an IP-based position can be a province off (at least 150 km). Distances
between scans are measured centre to centre minus both slacks, so coarse places can make a
copy look less suspicious, never more.

The 63 provinces and centrally-run cities as they were before the 2025 mergers (the names
OCOP records and labels use); centroids approximate, to about 20 km.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from contract.events import Location, LocationSource

PROVINCE_SLACK_KM = 60.0
IP_SLACK_KM = 150.0
EARTH_RADIUS_KM = 6371.0

_CENTROIDS: dict[str, tuple[float, float]] = {
    "Hà Nội": (21.03, 105.85), "Hồ Chí Minh": (10.78, 106.70), "Hải Phòng": (20.86, 106.68),
    "Đà Nẵng": (16.05, 108.20), "Cần Thơ": (10.03, 105.78), "An Giang": (10.52, 105.13),
    "Bà Rịa - Vũng Tàu": (10.54, 107.24), "Bắc Giang": (21.27, 106.19),
    "Bắc Kạn": (22.15, 105.83), "Bạc Liêu": (9.29, 105.72), "Bắc Ninh": (21.18, 106.07),
    "Bến Tre": (10.24, 106.37), "Bình Định": (14.10, 108.90), "Bình Dương": (11.17, 106.65),
    "Bình Phước": (11.75, 106.72), "Bình Thuận": (11.09, 108.07), "Cà Mau": (9.18, 105.15),
    "Cao Bằng": (22.67, 106.26), "Đắk Lắk": (12.71, 108.24), "Đắk Nông": (12.26, 107.61),
    "Điện Biên": (21.39, 103.02), "Đồng Nai": (11.07, 107.17), "Đồng Tháp": (10.49, 105.69),
    "Gia Lai": (13.81, 108.11), "Hà Giang": (22.80, 104.98), "Hà Nam": (20.58, 105.92),
    "Hà Tĩnh": (18.36, 105.89), "Hải Dương": (20.94, 106.31), "Hậu Giang": (9.76, 105.64),
    "Hòa Bình": (20.81, 105.34), "Hưng Yên": (20.65, 106.05), "Khánh Hòa": (12.25, 109.05),
    "Kiên Giang": (10.01, 105.08), "Kon Tum": (14.35, 108.00), "Lai Châu": (22.39, 103.46),
    "Lâm Đồng": (11.58, 108.14), "Lạng Sơn": (21.85, 106.76), "Lào Cai": (22.34, 104.15),
    "Long An": (10.70, 106.24), "Nam Định": (20.27, 106.21), "Nghệ An": (19.23, 104.92),
    "Ninh Bình": (20.25, 105.97), "Ninh Thuận": (11.67, 108.86), "Phú Thọ": (21.27, 105.21),
    "Phú Yên": (13.09, 109.09), "Quảng Bình": (17.47, 106.62), "Quảng Nam": (15.54, 108.02),
    "Quảng Ngãi": (15.12, 108.80), "Quảng Ninh": (21.01, 107.29), "Quảng Trị": (16.74, 107.19),
    "Sóc Trăng": (9.60, 105.97), "Sơn La": (21.10, 103.73), "Tây Ninh": (11.34, 106.11),
    "Thái Bình": (20.45, 106.34), "Thái Nguyên": (21.59, 105.85), "Thanh Hóa": (19.81, 105.78),
    "Thừa Thiên Huế": (16.46, 107.59), "Tiền Giang": (10.36, 106.36), "Trà Vinh": (9.94, 106.34),
    "Tuyên Quang": (21.82, 105.21), "Vĩnh Long": (10.25, 105.97), "Vĩnh Phúc": (21.36, 105.55),
    "Yên Bái": (21.72, 104.87),
}  # fmt: skip

_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ")


def _fold(name: str) -> str:
    """Lower case, no diacritics, no "tỉnh"/"thành phố" prefix, hyphens as spaces."""
    decomposed = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = " ".join(plain.replace("-", " ").replace("–", " ").split())
    for prefix in _PREFIXES:
        if plain.startswith(prefix):
            plain = plain[len(prefix) :]
    return plain


_BY_FOLDED = {_fold(name): name for name in _CENTROIDS}


def province_name(text: str) -> str | None:
    """The canonical province name for what a client typed ("tp HCM" aside), or None."""
    folded = _fold(text)
    if folded in ("hcm", "sai gon", "tphcm"):
        folded = "ho chi minh"
    return _BY_FOLDED.get(folded)


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    slack_km: float
    province: str | None


def place_of(province: str | None, location: Location | None) -> Place | None:
    """The best place a scan offers: coordinates if given, else the province's centroid."""
    if location is not None:
        slack = location.accuracy_m / 1000
        if location.source is LocationSource.IP:
            slack = max(slack, IP_SLACK_KM)
        return Place(
            location.latitude_e6 / 1e6, location.longitude_e6 / 1e6, slack, _named(province)
        )
    name = _named(province)
    if name is None:
        return None
    latitude, longitude = _CENTROIDS[name]
    return Place(latitude, longitude, PROVINCE_SLACK_KM, name)


def _named(province: str | None) -> str | None:
    return province_name(province) if province else None


def distance_km(a: Place, b: Place) -> float:
    """Great-circle distance between the two points, before slack."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def least_distance_km(a: Place, b: Place) -> float:
    """The shortest the real distance can be, given both places' slack (never below 0)."""
    return max(0.0, distance_km(a, b) - a.slack_km - b.slack_km)
