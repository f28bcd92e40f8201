"""The errors keys/ raises; the CLIs catch `KeysError` and print it, never a traceback."""

from __future__ import annotations


class KeysError(Exception):
    """Base of every error about keys, documents and trust lists."""


class KeystoreError(KeysError):
    """A key file is missing, unreadable, too widely readable, or the passphrase is wrong."""


class SignatureInvalid(KeysError):
    """A signature does not verify under the key it names."""


class TrustListError(KeysError):
    """A trust list that must not be used: malformed, wrongly signed or inconsistent."""
