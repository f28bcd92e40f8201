"""The unit label: its signed payload and the GS1 Digital Link URL its QR code carries.

    https://<host>/01/<GTIN-14>/10/<lot>/21/<serial>?13=<YYMMDD>&17=<YYMMDD>&s=<stars>&k=<kid>&sig=…
    https://<host>/p/<product code>/10/<lot>/21/<serial>?13=...   (products without a GTIN)

- `13` is GS1 AI 13, packaging date, as a Digital Link data attribute: the day the unit was
  packed and signed, in Vietnam time (UTC+7, no daylight saving). The label has no other
  signing time, so this date is what "signed before the key was revoked" is judged on.
  YY is read as 20YY.
- `17` is GS1 AI 17, expiry date (Circular 02/2024's "shelf life"), the date printed on the
  pack, which shops' tills read from the code. Labels printed before it existed have none:
  they are version 1 labels and still verify (see below).
- `s` is the printed star count: 0 (no star logo) or 3, 4, 5.
- `k` is the producer key id, `sig` the Ed25519 signature (64 bytes, base64url, no padding).

A label's digest (`SignedLabel.digest`) is what the packing station's signed UnitsPacked
event says of it: the first 16 bytes of SHA-256 over the signing bytes followed by the
signature. The event is public (a batch's chain), the digest does not give the signature
away, and a label hashing to it is, byte for byte, the label its producer packed.

The signature covers the canonical bytes (contract.encoding) of the array
["OCOP-LABEL-v2", host, product key, lot, serial, "YYMMDD", "YYMMDD" (expiry), stars, key id]
for a label with an expiry date, and of
["OCOP-LABEL-v1", host, product key, lot, serial, "YYMMDD", stars, key id] for one without
(every label printed before AI 17 was signed). The host is signed so that a genuine code
copied onto a look-alike resolver is refused, and the tag keeps a label signature from ever
being valid as a signature over some other document, or over the other version: removing a
v2 label's `17` pair leaves a v1 label whose signature does not verify.

Exactly one URL spells a label: decoding re-encodes what it parsed and refuses any other
spelling (an escaped letter, a lower-case hex escape, reordered parameters), so a changed
character either breaks the format or changes a signed field.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import TypeVar

from contract import gs1, identifiers
from contract.encoding import JSON, canonical_bytes
from contract.errors import ContractError, Problem
from contract.fields import (
    decode_signature,
    encode_b64url,
    encode_signature,
    validate_key_id,
    validate_printed_stars,
)
from contract.identifiers import KeyScheme

LABEL_TAG = "OCOP-LABEL-v1"
"""Labels without an expiry date (all labels printed before AI 17 was signed)."""
LABEL_TAG_EXPIRY = "OCOP-LABEL-v2"
"""Labels whose expiry date (AI 17) is signed."""
MAX_URL_LENGTH = 512
"""A label's own URL (its signed parts) is at most this long."""
MAX_TEXT_LENGTH = 2048
"""Text to decode may be longer, by the pairs that are not the label's (a messaging app's
tracking pair can be hundreds of characters): at most this."""
SIGNATURE_LENGTH = 64
DIGEST_LENGTH = 16
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")

_HOST = re.compile(r"(?=.{1,64}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_QUERY_KEYS = ("13", "s", "k", "sig")
_QUERY_KEYS_EXPIRY = ("13", "17", "s", "k", "sig")
_EXPIRY = "17"
_SLOT = "@SERIAL@"  # cannot occur in any other field: none of their alphabets has "@"

T = TypeVar("T")
R = TypeVar("R")


class LabelDefect(StrEnum):
    """Why a text is not a label of ours; one per part of the URL."""

    TOO_LONG = "too_long"
    NOT_HTTPS = "not_https"
    BAD_HOST = "bad_host"
    BAD_PATH = "bad_path"
    BAD_GTIN = "bad_gtin"
    BAD_PRODUCT_CODE = "bad_product_code"
    BAD_LOT = "bad_lot"
    BAD_SERIAL = "bad_serial"
    BAD_QUERY = "bad_query"
    BAD_PACK_DATE = "bad_pack_date"
    BAD_EXPIRY_DATE = "bad_expiry_date"
    BAD_STARS = "bad_stars"
    BAD_KEY_ID = "bad_key_id"
    BAD_SIGNATURE_ENCODING = "bad_signature_encoding"
    NOT_CANONICAL = "not_canonical"


class MalformedLabel(ContractError):
    """A text that is not a well-formed label; `defect` says which part is wrong."""

    def __init__(self, defect: LabelDefect, message: str) -> None:
        self.defect = defect
        super().__init__([Problem(defect.value, message)])


@dataclass(frozen=True, slots=True)
class LabelBatch:
    """The fields every unit label of one packing run shares; construction validates them.

    A packing line signs thousands of labels that differ only in their serial, so the
    canonical signing bytes and the URL are built once around a placeholder and each unit
    only splices its serial in. That is the same encoding, not a second one: serials are
    upper-case letters and digits, which JSON and URLs carry as they are, and the tests
    check the splice against `canonical_bytes` of the full array.
    """

    host: str
    product_key: str
    lot: str
    packed_on: date
    stars: int
    key_id: str
    expiry_date: date | None = None
    """The expiry date printed and signed (AI 17); None on labels printed before it was."""
    _signing_parts: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)
    _url_parts: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(LabelDefect.BAD_HOST, _validate_host, self.host)
        _check_product_key(self.product_key)
        _check(LabelDefect.BAD_LOT, gs1.validate_lot, self.lot)
        _check(LabelDefect.BAD_PACK_DATE, _validate_pack_date, self.packed_on)
        _check(LabelDefect.BAD_STARS, validate_printed_stars, self.stars)
        _check(LabelDefect.BAD_KEY_ID, validate_key_id, self.key_id)
        expiry = self.expiry_date
        dates: list[JSON] = [self.packed_on.strftime("%y%m%d")]
        pairs = f"13={self.packed_on:%y%m%d}"
        if expiry is not None:
            _check(LabelDefect.BAD_EXPIRY_DATE, self._validate_expiry, expiry)
            dates.append(expiry.strftime("%y%m%d"))
            pairs += f"&17={expiry:%y%m%d}"
        signing = canonical_bytes(
            [
                LABEL_TAG if expiry is None else LABEL_TAG_EXPIRY,
                self.host,
                self.product_key,
                self.lot,
                _SLOT,
                *dates,
                self.stars,
                self.key_id,
            ]
        )
        url = (
            f"https://{self.host}{self.product_key}/10/{gs1.dl_escape(self.lot)}/21/{_SLOT}"
            f"?{pairs}&s={self.stars}&k={self.key_id}&sig="
        )
        head, tail = signing.split(_SLOT.encode())
        object.__setattr__(self, "_signing_parts", (head, tail))
        object.__setattr__(self, "_url_parts", tuple(url.split(_SLOT)))

    def _validate_expiry(self, expiry: date) -> date:
        if not date(2000, 1, 1) <= expiry <= date(2099, 12, 31):
            raise ValueError(f"expiry date must be in 2000-2099, got {expiry}")
        if expiry < self.packed_on:
            raise ValueError(f"expiry date {expiry} is before the packing date {self.packed_on}")
        return expiry

    @property
    def batch_id(self) -> str:
        return identifiers.batch_id(self.product_key, self.lot)

    def packing_window(self) -> tuple[datetime, datetime]:
        """The UTC interval [start, end) of the packing day: when the signature was made."""
        start = datetime.combine(self.packed_on, time(), VIETNAM_TIME).astimezone(UTC)
        return start, start + timedelta(days=1)

    def signing_bytes(self, serial: str) -> bytes:
        """What the producer key signs for the unit `serial` (which must be valid)."""
        head, tail = self._signing_parts
        return head + serial.encode("ascii") + tail

    def url(self, serial: str, signature: bytes) -> str:
        head, tail = self._url_parts
        return f"{head}{serial}{tail}{encode_signature(signature)}"


@dataclass(frozen=True, slots=True)
class SignedLabel:
    """One unit's label: what its QR code says. Construction checks serial and signature size."""

    batch: LabelBatch
    serial: str
    signature: bytes

    def __post_init__(self) -> None:
        _check(LabelDefect.BAD_SERIAL, identifiers.validate_serial, self.serial)
        if len(self.signature) != SIGNATURE_LENGTH:
            raise MalformedLabel(
                LabelDefect.BAD_SIGNATURE_ENCODING,
                f"signature must be {SIGNATURE_LENGTH} bytes, got {len(self.signature)}",
            )

    @property
    def url(self) -> str:
        return self.batch.url(self.serial, self.signature)

    def signing_bytes(self) -> bytes:
        return self.batch.signing_bytes(self.serial)

    @property
    def digest(self) -> str:
        """How a packing record names this exact label (see the module's docstring)."""
        hashed = hashlib.sha256(self.signing_bytes() + self.signature).digest()
        return encode_b64url(hashed[:DIGEST_LENGTH])


def vietnam_date(moment: datetime) -> date:
    """The calendar day in Vietnam at `moment`: the packing day to print, whatever the host's
    time zone (a station on UTC would otherwise date its 00:00-07:00 UTC labels a day early)."""
    return moment.astimezone(VIETNAM_TIME).date()


def decode_label(text: str) -> SignedLabel:
    """Parses a label URL, refusing anything but the one canonical spelling of a label.

    Only what the producer signed is parsed and checked: the path, and the query's signed
    pairs (13, 17 if the label has an expiry date, s, k, sig), each exactly once and in
    their order. A `17` pair is the label's own only where a signed one stands, right after
    `13`; a label that has one must have no other (a till would not know which to read).
    Any other key=value pair is ignored, wherever it stands: other GS1 data attributes, a
    `17` elsewhere on a label printed without one, and the tracking pairs messaging apps and
    shops append (`utm_source=`, `fbclid=`) are not part of the label, so they can neither
    spoil a genuine label nor vouch for a forged one.

    Raises MalformedLabel naming the defective part (one, even if several are bad).
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedLabel(LabelDefect.TOO_LONG, f"longer than {MAX_TEXT_LENGTH} characters")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "https":
        raise MalformedLabel(LabelDefect.NOT_HTTPS, "not an https:// URL")
    location, _, query = rest.partition("?")
    host, _, path = location.partition("/")
    segments = path.split("/")
    if len(segments) != 6 or segments[2:5:2] != ["10", "21"]:
        raise MalformedLabel(
            LabelDefect.BAD_PATH,
            "path must be /01/<GTIN-14>/10/<lot>/21/<serial> or /p/<code>/10/<lot>/21/<serial>",
        )
    key_scheme, key, escaped_lot, serial = segments[0], segments[1], segments[3], segments[5]
    lot = _check(LabelDefect.BAD_LOT, gs1.dl_unescape, escaped_lot)
    values, signed_query = _query(query)
    batch = _batch(
        host,
        f"/{key_scheme}/{key}",
        lot,
        values["13"],
        values["s"],
        values["k"],
        values.get(_EXPIRY),
    )
    signature = _check(LabelDefect.BAD_SIGNATURE_ENCODING, decode_signature, values["sig"])
    label = SignedLabel(batch, serial, signature)
    if label.url != f"https://{location}?{signed_query}":
        raise MalformedLabel(
            LabelDefect.NOT_CANONICAL, "not the canonical spelling of a label (escapes or case)"
        )
    return label


@functools.lru_cache(maxsize=4096)
def _batch(
    host: str,
    product_key: str,
    lot: str,
    packed: str,
    stars: str,
    key_id: str,
    expiry: str | None,
) -> LabelBatch:
    """The batch part of a label, from its text. Remembered: all units of a batch share it,
    and building it validates every field and prepares the signing bytes (a malformed one
    raises, and is not remembered)."""
    return LabelBatch(
        host=host,
        product_key=product_key,
        lot=lot,
        packed_on=_check(LabelDefect.BAD_PACK_DATE, _parse_pack_date, packed),
        stars=_check(LabelDefect.BAD_STARS, _parse_stars, stars),
        key_id=key_id,
        expiry_date=(
            None if expiry is None else _check(LabelDefect.BAD_EXPIRY_DATE, _parse_expiry, expiry)
        ),
    )


def _query(query: str) -> tuple[dict[str, str], str]:
    """The signed pairs' values, and the query as the producer signed it (those pairs alone)."""
    ours = [
        (key, eq, value)
        for key, eq, value in (part.partition("=") for part in query.split("&"))
        if key in _QUERY_KEYS_EXPIRY
    ]
    expiry = len(ours) > 1 and ours[0][0] == "13" and ours[1][0] == _EXPIRY
    signed = ours if expiry else [pair for pair in ours if pair[0] != _EXPIRY]
    keys = tuple(key for key, _, _ in signed)
    if keys != (_QUERY_KEYS_EXPIRY if expiry else _QUERY_KEYS) or any(
        not eq for _, eq, _ in signed
    ):
        raise MalformedLabel(
            LabelDefect.BAD_QUERY,
            "query must have 13=<YYMMDD>[&17=<YYMMDD>]&s=<stars>&k=<key id>&sig=<signature>, "
            "each once, in that order",
        )
    values = {key: value for key, _, value in signed}
    return values, "&".join(f"{key}={value}" for key, _, value in signed)


def _check(defect: LabelDefect, validate: Callable[[T], R], value: T) -> R:
    try:
        return validate(value)
    except ValueError as exc:  # UnicodeDecodeError is one
        raise MalformedLabel(defect, str(exc)) from None


def _check_product_key(product_key: str) -> None:
    """Names the defect by the part at fault: the key type, the GTIN or the product code."""
    before, _, rest = product_key.partition("/")
    scheme, _, value = rest.partition("/")
    if not before and scheme == KeyScheme.GTIN:
        _check(LabelDefect.BAD_GTIN, gs1.validate_gtin14, value)
    elif not before and scheme == KeyScheme.PRODUCT_CODE:
        _check(LabelDefect.BAD_PRODUCT_CODE, identifiers.validate_product_code, value)
    else:
        raise MalformedLabel(
            LabelDefect.BAD_PATH,
            f"product key must be /01/<GTIN-14> or /p/<product code>, got {product_key!r}",
        )


def _validate_host(host: str) -> str:
    if not _HOST.fullmatch(host):
        raise ValueError(f"resolver host must be a lower-case DNS name, got {host!r}")
    return host


def _validate_pack_date(packed_on: date) -> date:
    if not date(2000, 1, 1) <= packed_on <= date(2099, 12, 31):
        raise ValueError(f"pack date must be in 2000-2099, got {packed_on}")
    return packed_on


def _parse_pack_date(text: str) -> date:
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        raise ValueError(f"pack date must be YYMMDD, got {text!r}")
    return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))


def _parse_expiry(text: str) -> date:
    """AI 17 as our labels print it: a whole date (GS1's day "00", any day of the month, is
    never printed here, so it is not a second spelling of a label's date)."""
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        raise ValueError(f"expiry date must be YYMMDD, got {text!r}")
    if text[4:] == "00":
        raise ValueError("expiry day 00 (any day of the month) is not printed on our labels")
    return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))


def _parse_stars(text: str) -> int:
    if not (len(text) == 1 and text.isascii() and text.isdigit()):
        raise ValueError(f"printed stars must be one digit, got {text!r}")
    return int(text)
