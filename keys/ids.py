"""Key ids and the text form of public keys.

A key id is the first 8 bytes of SHA-256 over the raw 32-byte Ed25519 public key, in
lower-case base32 without padding: 13 characters, safe in URLs, file names on
case-insensitive file systems, and read aloud over the phone.

Why 64 bits is enough: the id only names a key, it grants nothing. Trust comes from the
signature verifying under the public key the trust list certifies for that id, and the
trust list refuses two keys with one id. Accidental collision among even a million keys has
probability about 2**-25; making a key that collides with a given id costs about 2**64
hashes and still yields nothing unless an authority certifies that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_ID_BYTES = 8


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    digest = hashlib.sha256(raw_public_key(public_key)).digest()[:KEY_ID_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def encode_public_key(public_key: Ed25519PublicKey) -> str:
    """The raw public key in base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(raw_public_key(public_key)).rstrip(b"=").decode("ascii")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """Inverse of `encode_public_key`; raises ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except binascii.Error:
        raw = b""
    if len(text) != 43 or len(raw) != 32:
        raise ValueError("public key must be 43 characters of base64url (32 raw bytes)")
    public_key = Ed25519PublicKey.from_public_bytes(raw)
    if encode_public_key(public_key) != text:
        raise ValueError("public key is not canonical base64url")
    return public_key
