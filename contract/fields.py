"""Field types shared by every contract model, each with one canonical JSON spelling.

The spelling matters because signatures and hashes cover the JSON form: a timestamp is always
UTC with six fractional digits and a "Z", a decimal never has trailing zeros or an exponent,
text is NFC without control characters. Input may be looser (any UTC offset, "12.50"); the
model normalises it once, and canonical decoding refuses bytes that were not already normal.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, cast

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, StringConstraints

from contract import gs1, identifiers

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
_KEY_ID = re.compile(r"[a-z2-7]{13}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    if _CONTROL.search(value):
        raise ValueError("text must not contain control characters (tabs, line breaks)")
    return value


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"identifier must be 2 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', got {value!r}"
        )
    return value


def validate_key_id(value: str) -> str:
    if not _KEY_ID.fullmatch(value):
        raise ValueError(f"key id must be 13 characters of lower-case base32, got {value!r}")
    return value


def encode_b64url(data: bytes) -> str:
    """Bytes as base64url without padding: URL- and JSON-safe, one spelling per value."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_b64url(text: str, characters: int, what: str) -> bytes:
    """Inverse of `encode_b64url`, refusing the spellings that differ only in unused bits."""
    if len(text) != characters or not _B64URL.fullmatch(text):
        raise ValueError(f"{what} must be {characters} characters of base64url without padding")
    data = base64.urlsafe_b64decode(text + "==")
    if encode_b64url(data) != text:
        raise ValueError(f"{what} is not canonical base64url (unused bits set)")
    return data


def encode_signature(signature: bytes) -> str:
    """An Ed25519 signature as base64url without padding: 86 characters."""
    return encode_b64url(signature)


def decode_signature(text: str) -> bytes:
    return _decode_b64url(text, 86, "signature")


def _signature(text: str) -> str:
    decode_signature(text)
    return text


def _label_digest(text: str) -> str:
    _decode_b64url(text, 22, "label digest")
    return text


def _decimal_places(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("number must be finite")
        if cast(int, value.as_tuple().exponent) < -places:
            raise ValueError(f"at most {places} decimal places")
        return value

    return AfterValidator(check)


def _format_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


UtcDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""A timezone-aware instant, stored in UTC; naive datetimes are refused."""


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_text),
]
"""Human text (names, addresses, reasons, document numbers): NFC, stripped, no control
characters, at most 300 characters."""


ScannedText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    AfterValidator(lambda text: unicodedata.normalize("NFC", text)),
]
"""Whatever a camera read, kept as read (control characters included), only NFC-normalised."""

Identifier = Annotated[str, AfterValidator(_identifier)]
"""A party or document id assigned by the system (producer, authority, shipment)."""

KeyId = Annotated[str, AfterValidator(validate_key_id)]
Signature = Annotated[str, AfterValidator(_signature)]
"""An Ed25519 signature in its one JSON spelling (see `encode_signature`)."""
LabelDigest = Annotated[str, AfterValidator(_label_digest)]
"""contract.label.SignedLabel.digest: 16 bytes as 22 characters of base64url."""
Gln = Annotated[str, AfterValidator(gs1.validate_gln)]
Lot = Annotated[str, AfterValidator(gs1.validate_lot)]
Serial = Annotated[str, AfterValidator(identifiers.validate_serial)]
ProductKey = Annotated[str, AfterValidator(identifiers.validate_product_key)]
BatchId = Annotated[str, AfterValidator(identifiers.validate_batch_id)]

Quantity = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e9")),
    _decimal_places(3),
    PlainSerializer(_format_decimal, return_type=str, when_used="json"),
]
"""A positive amount with at most 3 decimals, sent as a decimal string (never a float)."""

Score = Annotated[
    Decimal,
    Field(ge=0, le=100),
    _decimal_places(2),
    PlainSerializer(_format_decimal, return_type=str, when_used="json"),
]
"""An OCOP evaluation score out of 100, at most 2 decimals (council members' average)."""

Stars = Annotated[int, Field(ge=1, le=5)]

PRINTABLE_STARS = frozenset({0, 3, 4, 5})
"""Only 3★ and above may print the star logo; 0 means the label makes no star claim."""


def validate_printed_stars(stars: int) -> int:
    if stars not in PRINTABLE_STARS:
        raise ValueError(f"printed stars must be 0 (no star logo) or 3, 4, 5; got {stars}")
    return stars


PrintedStars = Annotated[int, AfterValidator(validate_printed_stars)]
