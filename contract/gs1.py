"""GS1 rules the labels rely on: check digits, the AI 10 lot rules, Digital Link escaping.

References: GS1 General Specifications §7.9 (check digit), §3.4.2 (AI 10, AI 21: up to 20
characters of "GS1 AI encodable character set 82", Figure 7.11-1), GS1 Digital Link 1.2
(URI syntax; the canonical form uses GTIN-14 and percent-encodes what is not unreserved).
Validators raise ValueError with a sentence a packing-line operator can act on.
"""

from __future__ import annotations

import re
import string
from urllib.parse import quote, unquote

CSET82 = frozenset("!\"%&'()*+,-./:;<=>?_" + string.ascii_letters + string.digits)
AI10_MAX_LENGTH = 20

_DIGITS = re.compile(r"[0-9]+")


def check_digit(data: str) -> int:
    """The GS1 mod-10 check digit for `data`, the key's digits without its check digit."""
    backwards = data[::-1]
    total = 3 * sum(map(int, backwards[0::2])) + sum(map(int, backwards[1::2]))
    return -total % 10


def validate_gtin14(gtin: str) -> str:
    """Returns `gtin` if it is a GTIN-14 (Digital Link's canonical form) with a good check digit."""
    _require_key(gtin, "GTIN", (14,))
    return gtin


def normalize_gtin(gtin: str) -> str:
    """Pads a GTIN-8, -12, -13 or -14 to GTIN-14, as Digital Link requires, after checking it."""
    _require_key(gtin, "GTIN", (8, 12, 13, 14))
    return gtin.rjust(14, "0")


def validate_gln(gln: str) -> str:
    """Returns `gln` if it is a 13-digit Global Location Number with a good check digit."""
    _require_key(gln, "GLN", (13,))
    return gln


def validate_lot(lot: str) -> str:
    """Returns `lot` if it satisfies AI 10: 1 to 20 characters from GS1 character set 82."""
    if not 1 <= len(lot) <= AI10_MAX_LENGTH:
        raise ValueError(f"lot must be 1 to {AI10_MAX_LENGTH} characters, got {len(lot)}")
    bad = sorted(set(lot) - CSET82)
    if bad:
        raise ValueError(f"lot has characters outside GS1 set 82: {''.join(bad)!r}")
    return lot


def dl_escape(segment: str) -> str:
    """Percent-encodes a Digital Link path segment: only unreserved characters stay literal."""
    return quote(segment, safe="")


def dl_unescape(segment: str) -> str:
    return unquote(segment, errors="strict")


def _require_key(value: str, name: str, lengths: tuple[int, ...]) -> None:
    if not _DIGITS.fullmatch(value) or len(value) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise ValueError(f"{name} must be {allowed} digits, got {value!r}")
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise ValueError(f"{name} {value} has check digit {value[-1]}, expected {expected}")
