"""GS1 Digital Link URIs for primary key 01 (a GTIN): parsing and the canonical forms.

    /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}][/]?17=YYMMDD&13=YYMMDD&...

References: GS1 Digital Link URI Syntax 1.2 (qualifier order 22, 10, 21 for a GTIN; the
canonical URI: numeric AIs, GTIN-14, percent-encoding), GS1 General Specifications §3.4
(AI 10, 21 and 22: up to 20 characters of the "AI encodable character set 82"; date AIs
11, 13, 15, 17: YYMMDD, where DD 00 means the month's last day) and GS1-Conformant resolver
1.2 (a bad URI is answered 400, a trailing slash is tolerated).

A resolver must tell a malformed URI from an unknown product, and a till must read GTIN,
lot, serial and dates offline, so parsing returns a `DigitalLinkError` naming what is wrong
(a reason enum with an English and a Vietnamese sentence) instead of raising. Query pairs
that are not date attributes (our signature pairs, `linkType`, `utm_source`) are not ours
to judge here and are ignored.

YY is read as 20YY, as on our labels (contract.label): this system has no pre-2000 dates.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from urllib.parse import unquote_to_bytes

from contract import gs1
from contract.verdict import Lang

GS1_ID_ROOT = "https://id.gs1.org"
"""GS1's own resolver: the domain of the canonical Digital Link URI, and of identifiers in
EPCIS and in the CBV event hash."""

QUALIFIERS = ("22", "10", "21")
"""The key qualifiers of a GTIN, in the only order GS1 allows."""
QUALIFIER_MAX_LENGTH = 20
"""AI 22 (consumer product variant), 10 (lot) and 21 (serial): X..20 each."""


class DateAttribute(StrEnum):
    """The date data attributes a till reads from the query, by their AI."""

    PRODUCTION = "11"
    PACKAGING = "13"
    BEST_BEFORE = "15"
    EXPIRY = "17"


class DigitalLinkDefect(StrEnum):
    """Why a path and query are not a GS1 Digital Link of a GTIN; values are sent, never renamed."""

    NOT_GTIN_LINK = "not_gtin_link"
    BAD_GTIN = "bad_gtin"
    BAD_CHECK_DIGIT = "bad_check_digit"
    UNKNOWN_AI = "unknown_ai"
    WRONG_ORDER = "wrong_order"
    EXTRA_SEGMENT = "extra_segment"
    BAD_ESCAPE = "bad_escape"
    BAD_LENGTH = "bad_length"
    BAD_CHARACTER = "bad_character"
    BAD_DATE = "bad_date"
    REPEATED_ATTRIBUTE = "repeated_attribute"

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES = {
    DigitalLinkDefect.NOT_GTIN_LINK: (
        "Đường dẫn không bắt đầu bằng /01/ và một mã GTIN.",
        "The path does not start with /01/ and a GTIN.",
    ),
    DigitalLinkDefect.BAD_GTIN: (
        "Mã GTIN phải gồm 8, 12, 13 hoặc 14 chữ số.",
        "The GTIN must be 8, 12, 13 or 14 digits.",
    ),
    DigitalLinkDefect.BAD_CHECK_DIGIT: (
        "Số kiểm tra của mã GTIN không đúng.",
        "The GTIN's check digit is wrong.",
    ),
    DigitalLinkDefect.UNKNOWN_AI: (
        "Đường dẫn có một mã AI không phải là thuộc tính định danh của GTIN (22, 10, 21).",
        "The path has an AI that is not a key qualifier of a GTIN (22, 10, 21).",
    ),
    DigitalLinkDefect.WRONG_ORDER: (
        "Các thuộc tính định danh phải theo thứ tự 22, 10, 21, mỗi thuộc tính một lần.",
        "Key qualifiers must come in the order 22, 10, 21, each at most once.",
    ),
    DigitalLinkDefect.EXTRA_SEGMENT: (
        "Đường dẫn có một đoạn thừa.",
        "The path has an extra segment.",
    ),
    DigitalLinkDefect.BAD_ESCAPE: (
        "Đường dẫn có mã hoá phần trăm (%) không hợp lệ.",
        "The URI has an invalid percent-encoding.",
    ),
    DigitalLinkDefect.BAD_LENGTH: (
        "Số lô, số sê-ri hoặc biến thể phải dài từ 1 đến 20 ký tự.",
        "A lot, serial or variant must be 1 to 20 characters long.",
    ),
    DigitalLinkDefect.BAD_CHARACTER: (
        "Số lô, số sê-ri hoặc biến thể có ký tự ngoài bộ ký tự 82 của GS1.",
        "A lot, serial or variant has a character outside GS1 character set 82.",
    ),
    DigitalLinkDefect.BAD_DATE: (
        "Ngày trong đường dẫn phải có dạng YYMMDD và là một ngày có thật.",
        "A date in the URI must be YYMMDD and a real day.",
    ),
    DigitalLinkDefect.REPEATED_ATTRIBUTE: (
        "Một thuộc tính ngày xuất hiện nhiều lần trong đường dẫn.",
        "A date attribute appears more than once in the URI.",
    ),
}


@dataclass(frozen=True, slots=True)
class DigitalLinkError:
    """A refusal: the reason (for a program) and which part was at fault (for a person)."""

    defect: DigitalLinkDefect
    detail: str

    def sentence(self, lang: Lang) -> str:
        return self.defect.sentence(lang)


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link of a GTIN: its key, key qualifiers and date attributes.

    Construct it through `parse_digital_link` (or `gtin_link`), which validate every part."""

    gtin: str
    """GTIN-14, check digit verified."""
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None
    dates: tuple[tuple[DateAttribute, date], ...] = ()
    """The date attributes given in the query, in AI order."""

    def qualifiers(self) -> tuple[tuple[str, str], ...]:
        values = (self.cpv, self.lot, self.serial)
        return tuple((ai, v) for ai, v in zip(QUALIFIERS, values, strict=True) if v is not None)

    @property
    def path(self) -> str:
        """The canonical path: numeric AIs, GTIN-14, values percent-encoded, no query."""
        parts = [f"/01/{self.gtin}"]
        parts += [f"/{ai}/{gs1.dl_escape(value)}" for ai, value in self.qualifiers()]
        return "".join(parts)

    def date_of(self, attribute: DateAttribute) -> date | None:
        return dict(self.dates).get(attribute)

    def levels(self) -> tuple[DigitalLink, ...]:
        """This link and every level above it up to the GTIN, finest first: a resolver's
        fallback order (a unit, then its lot, then the product)."""
        qualifiers = self.qualifiers()
        return tuple(
            _with_qualifiers(self.gtin, dict(qualifiers[:n]))
            for n in range(len(qualifiers), -1, -1)
        )


def gtin_link(gtin: str, *, lot: str | None = None, serial: str | None = None) -> DigitalLink:
    """A Digital Link for our own identifiers (raises ValueError for a bad one): the GTIN of a
    product key, with a batch's lot and a unit's serial."""
    qualifiers = {"10": lot, "21": serial}
    path = f"/01/{gtin}" + "".join(
        f"/{ai}/{gs1.dl_escape(v)}" for ai, v in qualifiers.items() if v is not None
    )
    parsed = parse_digital_link(path)
    if isinstance(parsed, DigitalLinkError):
        raise ValueError(f"{path}: {parsed.sentence(Lang.EN)} ({parsed.detail})")
    return parsed


def canonical_uri(link: DigitalLink, root: str = GS1_ID_ROOT) -> str:
    """The canonical Digital Link URI on `root` (a resolver's scheme and host, no slash at
    the end): the anchor of a linkset, and on https://id.gs1.org the GS1 canonical form."""
    return f"{root}{link.path}"


def epcis_uri(link: DigitalLink) -> str:
    """The identifier EPCIS and the CBV event hash use: on https://id.gs1.org, the finest
    level only (a serial makes the lot redundant), no variant and no query."""
    finest: dict[str, str | None] = {"21": link.serial} if link.serial else {"10": link.lot}
    return canonical_uri(_with_qualifiers(link.gtin, finest))


def location_uri(gln: str) -> str:
    """A place (an SGLN without extension) as a Digital Link, e.g. readPoint, bizLocation."""
    return f"{GS1_ID_ROOT}/414/{gs1.validate_gln(gln)}"


def party_uri(gln: str) -> str:
    """A party (a PGLN) as a Digital Link, e.g. an owning_party in a sourceList."""
    return f"{GS1_ID_ROOT}/417/{gs1.validate_gln(gln)}"


def parse_digital_link(path: str, query: str = "") -> DigitalLink | DigitalLinkError:
    """Parses a URI's path (from "/01/") and query (without "?") into a Digital Link of a
    GTIN, or says why it is not one: the first defect found, from left to right."""
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]  # tolerated, as the resolver standard asks
    segments = path.split("/")
    if len(segments) < 3 or segments[0] or segments[1] != "01":
        return DigitalLinkError(DigitalLinkDefect.NOT_GTIN_LINK, f"path {path!r}")
    gtin = _gtin(segments[2])
    if isinstance(gtin, DigitalLinkError):
        return gtin
    qualifiers = _qualifiers(segments[3:])
    if isinstance(qualifiers, DigitalLinkError):
        return qualifiers
    dates = _dates(query)
    if isinstance(dates, DigitalLinkError):
        return dates
    link = _with_qualifiers(gtin, qualifiers)
    return DigitalLink(link.gtin, link.cpv, link.lot, link.serial, dates)


def _with_qualifiers(gtin: str, qualifiers: dict[str, str | None]) -> DigitalLink:
    return DigitalLink(gtin, qualifiers.get("22"), qualifiers.get("10"), qualifiers.get("21"))


def _gtin(segment: str) -> str | DigitalLinkError:
    if not (segment.isascii() and segment.isdigit() and len(segment) in (8, 12, 13, 14)):
        return DigitalLinkError(DigitalLinkDefect.BAD_GTIN, f"GTIN {segment!r}")
    if gs1.check_digit(segment[:-1]) != int(segment[-1]):
        return DigitalLinkError(DigitalLinkDefect.BAD_CHECK_DIGIT, f"GTIN {segment}")
    return segment.rjust(14, "0")


def _qualifiers(segments: list[str]) -> dict[str, str | None] | DigitalLinkError:
    found: dict[str, str | None] = {}
    last = -1
    for i in range(0, len(segments), 2):
        ai = segments[i]
        if i + 1 == len(segments) or not (ai.isascii() and ai.isdigit()):
            return DigitalLinkError(DigitalLinkDefect.EXTRA_SEGMENT, f"segment {ai!r}")
        if ai not in QUALIFIERS:
            return DigitalLinkError(DigitalLinkDefect.UNKNOWN_AI, f"AI {ai}")
        if QUALIFIERS.index(ai) <= last:
            return DigitalLinkError(DigitalLinkDefect.WRONG_ORDER, f"AI {ai}")
        last = QUALIFIERS.index(ai)
        value = _value(ai, segments[i + 1])
        if isinstance(value, DigitalLinkError):
            return value
        found[ai] = value
    return found


_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unescape(text: str) -> str | None:
    if _ESCAPE.search(text):
        return None
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _value(ai: str, segment: str) -> str | DigitalLinkError:
    value = _unescape(segment)
    if value is None:
        return DigitalLinkError(DigitalLinkDefect.BAD_ESCAPE, f"AI {ai} value {segment!r}")
    if not 1 <= len(value) <= QUALIFIER_MAX_LENGTH:
        return DigitalLinkError(DigitalLinkDefect.BAD_LENGTH, f"AI {ai}: {len(value)} characters")
    bad = sorted(set(value) - gs1.CSET82)
    if bad:
        return DigitalLinkError(DigitalLinkDefect.BAD_CHARACTER, f"AI {ai}: {''.join(bad)!r}")
    return value


_ATTRIBUTES = {attribute.value: attribute for attribute in DateAttribute}


def _dates(query: str) -> tuple[tuple[DateAttribute, date], ...] | DigitalLinkError:
    found: dict[DateAttribute, date] = {}
    for pair in query.split("&") if query else ():
        key, _, raw = pair.partition("=")
        attribute = _ATTRIBUTES.get(key)
        if attribute is None:
            continue
        if attribute in found:
            return DigitalLinkError(DigitalLinkDefect.REPEATED_ATTRIBUTE, f"AI {key}")
        text = _unescape(raw)
        if text is None:
            return DigitalLinkError(DigitalLinkDefect.BAD_ESCAPE, f"AI {key} value {raw!r}")
        day = _yymmdd(text)
        if day is None:
            return DigitalLinkError(DigitalLinkDefect.BAD_DATE, f"AI {key} value {text!r}")
        found[attribute] = day
    return tuple(sorted(found.items()))


def _yymmdd(text: str) -> date | None:
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        return None
    year, month, day = 2000 + int(text[:2]), int(text[2:4]), int(text[4:])
    if not 1 <= month <= 12:
        return None
    if day == 0:  # GS1 GenSpecs §3.4: DD 00 is the month's last day
        day = calendar.monthrange(year, month)[1]
    try:
        return date(year, month, day)
    except ValueError:
        return None
