"""Product keys, batch ids and unit serials: the identifiers every service shares.

A product key is the Digital Link path of the product: "/01/<GTIN-14>" for products with a
GTIN, or "/p/<product code>" for the many household and cooperative products that have none.
"p" is NOT a GS1 Application Identifier: it is our own fallback so that such products still
get one URL shape; GS1-aware scanners will not treat it as a GS1 key, phones still open it.

A batch id is the product key plus "/10/<lot>", the Digital Link path of the lot. It is
derived, not allocated: a scan of any unit label names its batch without a lookup, and a
retried "batch opened" event can only ever name the same batch. Batch events are keyed by it.
A unit key is the product key plus "/21/<serial>" (GS1 serials are unique per product).

Serials are 12 characters of Crockford's base32 alphabet (no I, L, O, U, so nothing is
misread from a printed label), drawn from `secrets`: 60 random bits, so valid codes cannot
be guessed or enumerated from one seen label. They also satisfy AI 21 (at most 20 characters
of GS1 set 82).
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from enum import StrEnum

from contract.gs1 import dl_escape, dl_unescape, validate_gtin14, validate_lot

SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SERIAL_LENGTH = 12

_SERIAL = re.compile(f"[{SERIAL_ALPHABET}]{{{SERIAL_LENGTH}}}")
_PRODUCT_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{2,19}")


class KeyScheme(StrEnum):
    """The first path segment of a label URL: which kind of product key follows."""

    GTIN = "01"
    PRODUCT_CODE = "p"


_SCHEMES = {scheme.value: scheme for scheme in KeyScheme}
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", SERIAL_ALPHABET.encode())


def new_serial() -> str:
    """An unpredictable unit serial: 60 bits from the OS's CSPRNG, 5 bits per character."""
    rfc4648 = base64.b32encode(secrets.token_bytes(8))[:SERIAL_LENGTH]
    return rfc4648.translate(_TO_CROCKFORD).decode("ascii")


def validate_serial(serial: str) -> str:
    if not _SERIAL.fullmatch(serial):
        raise ValueError(
            f"serial must be {SERIAL_LENGTH} characters of {SERIAL_ALPHABET}, got {serial!r}"
        )
    return serial


def validate_product_code(code: str) -> str:
    if not _PRODUCT_CODE.fullmatch(code):
        raise ValueError(
            f"product code must be 3 to 20 of A-Z, 0-9 and '-', starting with a letter "
            f"or digit, got {code!r}"
        )
    return code


def product_key(scheme: KeyScheme, value: str) -> str:
    """The product key for a GTIN-14 or a product code, after validating it."""
    check = validate_gtin14 if scheme is KeyScheme.GTIN else validate_product_code
    return f"/{scheme}/{check(value)}"


@functools.lru_cache(maxsize=4096)
def split_product_key(key: str) -> tuple[KeyScheme, str]:
    """Inverse of `product_key`; raises ValueError for anything that is not one.

    Remembered: a province has a few thousand products, and every scan and every event
    names one (a failure raises and is not remembered)."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] or parts[1] not in _SCHEMES:
        raise ValueError(f"product key must be /01/<GTIN-14> or /p/<product code>, got {key!r}")
    scheme = _SCHEMES[parts[1]]
    product_key(scheme, parts[2])
    return scheme, parts[2]


def validate_product_key(key: str) -> str:
    split_product_key(key)
    return key


@functools.lru_cache(maxsize=16384)
def batch_id(key: str, lot: str) -> str:
    """Remembered, like product keys: every unit of a batch names it."""
    return f"{validate_product_key(key)}/10/{dl_escape(validate_lot(lot))}"


def split_batch_id(batch: str) -> tuple[str, str]:
    """(product key, lot) of a batch id; raises ValueError for anything that is not one."""
    key, sep, escaped_lot = batch.rpartition("/10/")
    if not sep:
        raise ValueError(f"batch id must be <product key>/10/<lot>, got {batch!r}")
    lot = dl_unescape(escaped_lot)
    if batch_id(key, lot) != batch:
        raise ValueError(f"batch id {batch!r} is not in canonical form")
    return key, lot


def validate_batch_id(batch: str) -> str:
    split_batch_id(batch)
    return batch


def unit_key(key: str, serial: str) -> str:
    """A unit's identity, the Digital Link path of its SGTIN: serials are unique per product."""
    return f"{validate_product_key(key)}/21/{validate_serial(serial)}"
