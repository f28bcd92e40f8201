"""Search terms of the public OCOP registry: the one place a word, a place, a certificate
number, a GTIN or a page token is normalised, so that the processors (which write the
registry's word sets, records.registry.RegistryWriter) and the verify API (which reads a
query) can never fold a term two ways.

- `fold`: NFD, combining marks dropped, đ/Đ to d, case folded: "Mắm cáy Hồng Tiến" and
  "MAM CAY hong tien" are the same words. (Cassandra 5.0.9's Storage-Attached Indexes take
  no analyzer, so folding is done here, before a word is stored or looked up.)
- `words`: the folded words of a name ("bánh đa sợi" -> banh, da, soi); a search matches
  rows holding every word of the query.
- `place_key`, `province_keys`, `current_province`: a commune or province without its
  administrative prefix ("Xã", "Tỉnh", "TP."), and a province by the name it had when
  registered and by the province it belongs to since the reform of 1 July 2025
  (Resolution 202/2025/QH15: 63 provinces became 34), so "Hưng Yên" finds what was
  registered in Thái Bình.
- `certificate_key`, `parse_gtin`, `encode_page`/`decode_page`, and `parse_query`: a
  query's raw parameters checked and normalised, or `SearchTermError` naming the parameter,
  in Vietnamese and English; the patterns the OpenAPI states for them are here too.

Nothing here does I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from contract import admin_map
from contract.certification import ProductGroup
from contract.gs1 import normalize_gtin

EXPIRING_WITHIN = timedelta(days=90)
"""A recognition "expiring" is in force and ends within this time."""

MAX_TERM = 100
"""Characters of a text term (name, producer); so at most 50 words, each one more condition
on the index."""
MAX_PLACE = 64
MAX_CERTIFICATE = 64
DEFAULT_LIMIT = 20
MAX_LIMIT = 50

_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[0-9a-z]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
_D = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})


def fold(text: str) -> str:
    """Lower case without diacritics: "Đậu phụ Đông Hưng" -> "dau phu dong hung"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed)).casefold()


def words(*texts: str | None) -> list[str]:
    """The distinct folded words of the texts, in order of first appearance."""
    found: dict[str, None] = {}
    for text in texts:
        if text:
            found.update(dict.fromkeys(_WORD.findall(fold(text))))
    return list(found)


# -- places ------------------------------------------------------------------------------------

_PREFIXES = (
    "thanh pho ", "tp. ", "tp ", "tinh ", "xa ", "phuong ", "thi tran ", "dac khu ",
    "thi xa ", "huyen ", "quan ",
)  # fmt: skip
"""Administrative words before a place's name, folded (the longest first where one is the
start of another)."""


def place_key(text: str) -> str:
    """A commune or province as a key: folded, its administrative prefix and punctuation
    dropped ("Tỉnh Thái Bình", "thai  binh" -> "thai binh"; "TP. Hồ Chí Minh" -> "ho chi
    minh")."""
    folded = _SPACES.sub(" ", fold(text)).strip()
    for prefix in _PREFIXES:
        if folded.startswith(prefix) and len(folded) > len(prefix):
            folded = folded[len(prefix) :]
            break
    return " ".join(_WORD.findall(folded))


_NOW_IN = {place_key(old): new for old, new in admin_map.NOW_IN.items() if old != new}
"""The provinces merged or renamed by 1 July 2025 (contract.admin_map: Resolution
202/2025/QH15), by key, to the province each is part of now."""


@functools.lru_cache(maxsize=1024)
def current_province(province: str) -> str | None:
    """The province a former province belongs to since 1 July 2025; None if it was not
    merged into another (or is not a province we know). Remembered: there are 63."""
    return _NOW_IN.get(place_key(province))


def province_keys(province: str) -> set[str]:
    """The keys a product registered in `province` is found under: the province as written,
    and the province it is in now."""
    keys = {place_key(province)}
    now = current_province(province)
    if now is not None:
        keys.add(place_key(now))
    return keys - {""}


def certificate_key(number: str) -> str:
    """A certificate number as a key: folded, without white space ("123/GCN-UBND" and
    "123 / gcn-ubnd" -> "123/gcn-ubnd")."""
    return _SPACES.sub("", fold(number))


# -- a query -----------------------------------------------------------------------------------


class RegistryStatus(StrEnum):
    """A recognition's status today, as the registry can be searched by it."""

    IN_FORCE = "in_force"
    """In force now (including those expiring soon)."""
    EXPIRING = "expiring"
    """In force now, ending within EXPIRING_WITHIN (90 days)."""
    EXPIRED = "expired"
    REVOKED = "revoked"
    NONE = "none"
    """Registered, never certified (to its producer)."""


class SearchTermError(ValueError):
    """A query parameter that cannot be searched by: which one, and why in both languages."""

    def __init__(self, parameter: str, vi: str, en: str, *, token: bool = False) -> None:
        super().__init__(f"{parameter}: {en}")
        self.parameter = parameter
        self.vi = vi
        self.en = en
        self.token = token
        """True for a page token: a malformed request (400) rather than a bad term (422)."""

    def sentence(self) -> str:
        return f"{self.parameter}: {self.vi} / {self.en}"


@dataclass(frozen=True)
class RegistryQuery:
    """A checked query: every text term folded, the GTIN as GTIN-14.

    `empty`: no term at all; `nothing`: a term no product can match (one with no letter or
    digit in it). Neither is sent to Cassandra: the answer is no products, and the registry
    is never listed whole."""

    name_words: tuple[str, ...] = ()
    gtin: str | None = None
    certificate: str | None = None
    producer_words: tuple[str, ...] = ()
    commune: str | None = None
    province: str | None = None
    stars: int | None = None
    group: ProductGroup | None = None
    status: RegistryStatus | None = None
    nothing: bool = False
    after: str | None = None
    """The product key the previous page ended with (keyset paging)."""
    limit: int = DEFAULT_LIMIT

    @property
    def empty(self) -> bool:
        return not (
            self.name_words or self.gtin or self.certificate or self.producer_words
            or self.commune or self.province or self.stars is not None or self.group
            or self.status or self.nothing
        )  # fmt: skip


_GTIN = re.compile(r"[0-9]{8}|[0-9]{12,14}")
GTIN_PATTERN = f"^(?:{_GTIN.pattern})$"
"""A GTIN-8, -12 (UPC-A), -13 (EAN-13) or -14, as typed; its check digit is checked too."""


def parse_gtin(text: str, parameter: str = "gtin") -> str:
    """A scanned barcode (EAN-13, UPC-A, EAN-8) or a GTIN-14, as a GTIN-14 (contract.gs1)."""
    bad = SearchTermError(
        parameter,
        "cần mã vạch 8, 12, 13 hoặc 14 chữ số với số kiểm tra đúng (EAN-13 in trên bao bì, "
        f"hoặc GTIN-14); đã nhận {text[:20]!r}",
        "a barcode of 8, 12, 13 or 14 digits with a good check digit is needed (the EAN-13 "
        f"on the pack, or a GTIN-14); got {text[:20]!r}",
    )
    if not _GTIN.fullmatch(text):
        raise bad
    try:
        return normalize_gtin(text)
    except ValueError:
        raise bad from None


TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
"""A text term: no control characters (its length is bounded apart)."""


def _text(parameter: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise SearchTermError(
            parameter,
            f"tối đa {limit} ký tự (đã nhận {len(value)})",
            f"at most {limit} characters (got {len(value)})",
        )
    if _CONTROL.search(value):
        raise SearchTermError(
            parameter, "không được chứa ký tự điều khiển", "must not contain control characters"
        )
    return value


def _choice(parameter: str, value: str, allowed: list[str]) -> str:
    if value not in allowed:
        raise SearchTermError(
            parameter,
            f"phải là một trong: {', '.join(allowed)} (đã nhận {value[:40]!r})",
            f"must be one of: {', '.join(allowed)} (got {value[:40]!r})",
        )
    return value


STARS_PATTERN = "^[1-5]$"
LIMIT_PATTERN = "^(?:[1-9]|[1-4][0-9]|50)$"


def _integer(parameter: str, value: str, pattern: str, low: int, high: int) -> int:
    if not re.fullmatch(pattern.strip("^$"), value):
        raise SearchTermError(
            parameter,
            f"phải là số nguyên từ {low} đến {high} (đã nhận {value[:20]!r})",
            f"must be a whole number from {low} to {high} (got {value[:20]!r})",
        )
    return int(value)


def parse_query(params: dict[str, str]) -> RegistryQuery:
    """Checks and normalises a search's raw parameters (`q`, `gtin`, `certificate`,
    `producer`, `commune`, `province`, `stars`, `group`, `status`, `page`, `limit`); an
    empty text term counts as absent (an empty star count, status or token is refused). A
    `q` that is the digits of a barcode with a good check digit is taken as a GTIN: what a
    barcode scanner types into a search box. Refused, with SearchTermError: a text term over
    its length or with control characters, a malformed GTIN or one with a bad check digit,
    stars, group, status or limit not one of theirs, a page token this module did not make.
    Each is a rule the OpenAPI states too (verify_api.routes.registry), so that what it calls
    valid is never refused, and what it calls invalid always is."""
    texts = ("q", "producer", "certificate", "commune", "province")
    given = {name: value for name, value in params.items() if value or name not in texts}
    fields: dict[str, Any] = {}
    words_of: dict[str, tuple[str, ...]] = {}
    for name, field in (("q", "name_words"), ("producer", "producer_words")):
        if name not in given:
            continue
        text = _text(name, given[name], MAX_TERM)
        digits = text.replace(" ", "")
        if name == "q" and "gtin" not in given and _GTIN.fullmatch(digits):
            try:
                fields["gtin"] = normalize_gtin(digits)
                continue
            except ValueError:
                pass  # not a barcode: its digits are words
        words_of[field] = fields[field] = tuple(words(text))
    if "gtin" in given:
        fields["gtin"] = parse_gtin(given["gtin"])
    if "certificate" in given:
        fields["certificate"] = certificate_key(
            _text("certificate", given["certificate"], MAX_CERTIFICATE)
        )
    for name in ("commune", "province"):
        if name in given:
            fields[name] = place_key(_text(name, given[name], MAX_PLACE))
    if "stars" in given:
        fields["stars"] = _integer("stars", given["stars"], STARS_PATTERN, 1, 5)
    if "group" in given:
        groups = [group.value for group in ProductGroup]
        fields["group"] = ProductGroup(_choice("group", given["group"], groups))
    if "status" in given:
        statuses = [status.value for status in RegistryStatus]
        fields["status"] = RegistryStatus(_choice("status", given["status"], statuses))
    if "limit" in given:
        fields["limit"] = _integer("limit", given["limit"], LIMIT_PATTERN, 1, MAX_LIMIT)
    if "page" in given:
        fields["after"] = decode_page(given["page"])
    # no product can match a term without a letter or digit, nor stars beside "never
    # certified" (which is 0 stars)
    blank = [name for name in ("certificate", "commune", "province") if fields.get(name) == ""]
    for name in blank:
        fields[name] = None
    nothing = (
        bool(blank)
        or any(not found for found in words_of.values())
        or (fields.get("status") is RegistryStatus.NONE and "stars" in fields)
    )
    return RegistryQuery(**fields, nothing=nothing)


_PAGE = re.compile(r"01-[0-9]{14}|p-[A-Z0-9][A-Z0-9-]{2,19}")
PAGE_PATTERN = f"^(?:{_PAGE.pattern})$"
"""A page token: the product key the previous page ended with, as `01-<GTIN-14>` or
`p-<product code>` (keyset paging: any such key is a place to continue from)."""


def encode_page(product_key: str) -> str:
    """The token of the page after `product_key` ("/01/0893…" -> "01-0893…")."""
    return product_key.removeprefix("/").replace("/", "-", 1)


def decode_page(token: str) -> str:
    """The product key a page token names; SearchTermError for anything else, so that only
    a product key's spelling ever reaches Cassandra (bound to `token(?)`, which any text
    is; no check digit is needed of a place to continue from)."""
    if not _PAGE.fullmatch(token):
        raise SearchTermError(
            "page",
            "mã trang không hợp lệ: hãy dùng đúng giá trị `next_page` của trang trước",
            "the page token is not valid: use the previous page's `next_page` as it is",
            token=True,
        )
    return "/" + token.replace("-", "/", 1)
