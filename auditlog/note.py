"""C2SP signed notes (c2sp.org/signed-note): a text, a blank line, signature lines.

Checkpoints and witness cosignatures are signed notes, and the public witnesses and Go's
golang.org/x/mod/sumdb/note parse them byte for byte, so the rules here are the spec's:
valid UTF-8, no control character but newline, the text ends in a newline and is separated
from the signatures by the last blank line; each signature line is `— <name> base64(key id ‖
signature)`. Signatures from keys we do not know are kept but ignored, a signature from a
known key that fails refuses the whole note, and a note no known key signed is refused.

Key texts are Go's: a verifier key `<name>+<hex key id>+base64(type ‖ public key)` and a
signer key `PRIVATE+KEY+<name>+<hex key id>+base64(type ‖ seed)`, so keys made with Go's
note.GenerateKey work here and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519 = 0x01
"""The signed-note signature type of plain Ed25519 signatures over the note text."""

MAX_SIGNATURES = 100
"""The spec asks verifiers to cap signatures and to accept at least 16; Go caps at 100."""

_SIGNATURE_PREFIX = "— "
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class MalformedNote(ValueError):
    """The bytes are not a signed note (or a key text is not a key): no key was consulted."""


class NoteReason(StrEnum):
    """Why a well-formed note was refused; values are stored and sent, never renamed."""

    NO_KNOWN_SIGNATURE = "no_known_signature"
    BAD_SIGNATURE = "bad_signature"
    """A key we know signed, and its signature does not verify."""
    WRONG_ORIGIN = "wrong_origin"
    """A checkpoint signed by the right key names another log."""


class NoteRejected(Exception):
    """A well-formed note failed verification; `reason` says how."""

    def __init__(self, reason: NoteReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def valid_name(name: str) -> bool:
    """Key names are non-empty and hold no Unicode space and no plus sign."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]: short on purpose, it names, not proves."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def decode_base64(text: str) -> bytes:
    """Standard padded base64 (RFC 4648 §4); anything outside the alphabet is refused."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise MalformedNote(f"not base64: {text[:40]!r}") from None


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class VerifierKey:
    """A verifier key text taken apart, its key id checked against its name and key."""

    name: str
    signature_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, self.public_key)

    def __str__(self) -> str:
        material = encode_base64(bytes([self.signature_type]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        # The base64 part may itself hold '+', so only the first two split.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise MalformedNote("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hex_id, material = parts
        if not valid_name(name):
            raise MalformedNote(f"verifier key name {name!r} is empty or holds a space or '+'")
        if not _HEX_KEY_ID.fullmatch(hex_id):
            raise MalformedNote(f"verifier key id {hex_id!r} is not 8 hex digits")
        raw = decode_base64(material)
        if len(raw) < 2:
            raise MalformedNote(f"verifier key {name} holds no key material")
        key = cls(name, raw[0], raw[1:])
        if key.key_id != bytes.fromhex(hex_id):
            raise MalformedNote(f"verifier key {name}: the key id does not match the key")
        return key


def parse_signer_key(text: str, signature_type: int) -> tuple[str, Ed25519PrivateKey]:
    """`PRIVATE+KEY+<name>+<hex key id>+base64(type ‖ 32-byte seed)`, checked, for Ed25519 types.

    The key id in the text is checked against the public key the seed gives.
    """
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise MalformedNote("a signer key is PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
    name, hex_id, material = parts[2:]
    if not valid_name(name) or not _HEX_KEY_ID.fullmatch(hex_id):
        raise MalformedNote(f"signer key {name!r}: bad name or key id")
    raw = decode_base64(material)
    if len(raw) != 33 or raw[0] != signature_type:
        raise MalformedNote(f"signer key {name} is not a type {signature_type:#04x} Ed25519 seed")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, signature_type, _public_bytes(private_key)) != bytes.fromhex(hex_id):
        raise MalformedNote(f"signer key {name}: the key id does not match the key")
    return name, private_key


def signer_key_text(name: str, signature_type: int, private_key: Ed25519PrivateKey) -> str:
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    hex_id = key_id(name, signature_type, _public_bytes(private_key)).hex()
    return f"PRIVATE+KEY+{name}+{hex_id}+{encode_base64(bytes([signature_type]) + seed)}"


def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


class Verifier(Protocol):
    """A key that checks one signature type's signatures on a note text."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """`signature` is what follows the 4-byte key id in the signature line."""
        ...


class Signer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, text: bytes) -> bytes: ...


@dataclass(frozen=True)
class NamedPublicKey:
    """An Ed25519 public key under its name, for one signature type (the type byte is part
    of the key id): what a log's verifier and a witness's (auditlog.cosignature) share."""

    SIGNATURE_TYPE: ClassVar[int]
    KIND: ClassVar[str]
    """How a refusal names the kind: "an Ed25519", "a cosignature/v1"."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not valid_name(self.name) or len(self.public_key) != 32:
            raise ValueError(f"bad {self.KIND.split()[1]} verifier {self.name!r}")
        key = key_id(self.name, self.SIGNATURE_TYPE, self.public_key)
        object.__setattr__(self, "key_id", key)

    @classmethod
    def from_vkey(cls, text: str) -> Self:
        key = VerifierKey.parse(text)
        if key.signature_type != cls.SIGNATURE_TYPE or len(key.public_key) != 32:
            kind = f"{cls.KIND} (0x{cls.SIGNATURE_TYPE:02x})"
            raise MalformedNote(f"verifier key {key.name} is not {kind} key")
        return cls(key.name, key.public_key)

    @property
    def vkey(self) -> str:
        return str(VerifierKey(self.name, self.SIGNATURE_TYPE, self.public_key))


@dataclass(frozen=True)
class Ed25519Verifier(NamedPublicKey):
    """A log's (type 0x01) Ed25519 public key under its name."""

    SIGNATURE_TYPE: ClassVar[int] = ED25519
    KIND: ClassVar[str] = "an Ed25519"

    def verify(self, text: bytes, signature: bytes) -> bool:
        return len(signature) == 64 and ed25519_verify(self.public_key, signature, text)


@dataclass(frozen=True)
class NamedPrivateKey:
    """An Ed25519 private key under its name, for one signature type: what a log's signer and
    a witness's cosigner (auditlog.cosignature) share. Its key text is Go's signer key text
    with the type byte in place."""

    SIGNATURE_TYPE: ClassVar[int]

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise ValueError(f"key name {self.name!r} is empty or holds a space or '+'")
        key = key_id(self.name, self.SIGNATURE_TYPE, self.public_key)
        object.__setattr__(self, "key_id", key)

    @property
    def public_key(self) -> bytes:
        return _public_bytes(self.private_key)

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, text: str) -> Self:
        return cls(*parse_signer_key(text, cls.SIGNATURE_TYPE))

    @property
    def skey(self) -> str:
        return signer_key_text(self.name, self.SIGNATURE_TYPE, self.private_key)


@dataclass(frozen=True)
class Ed25519Signer(NamedPrivateKey):
    """A log's (type 0x01) Ed25519 private key under its name."""

    SIGNATURE_TYPE: ClassVar[int] = ED25519

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.public_key)

    def sign(self, text: bytes) -> bytes:
        return self.private_key.sign(text)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and id, and the signature after the id."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        return f"{_SIGNATURE_PREFIX}{self.name} {encode_base64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A note as written: its text and every signature line, none of them checked yet."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(sig.line for sig in self.signatures)

    def with_signature(self, signature: NoteSignature) -> Note:
        """Adds a signature at the end, replacing any earlier one by the same name and key id."""
        kept = tuple(
            sig
            for sig in self.signatures
            if (sig.name, sig.key_id) != (signature.name, signature.key_id)
        )
        return Note(self.text, (*kept, signature))


@dataclass(frozen=True)
class VerifiedNote:
    """A note at least one known key signed; `verified` are the signatures that checked."""

    note: Note
    verified: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        return self.note.text


def _check_characters(text: str) -> None:
    for ch in text:
        if ch < "\x20" and ch != "\n":
            raise MalformedNote(f"control character {ord(ch):#04x} in a note")


def parse_note(data: bytes | str) -> Note:
    """Takes a signed note apart without checking any signature (MalformedNote if it is not one)."""
    try:
        data = data.decode() if isinstance(data, bytes) else data.encode().decode()
    except UnicodeError:
        raise MalformedNote("a note is not valid UTF-8") from None
    split = data.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a note has no blank line before its signatures")
    _check_characters(data)
    text, block = data[: split + 1], data[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("a note has no signature, or its last line does not end")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"a note with {len(lines)} signatures (at most {MAX_SIGNATURES})")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNote(f"not a signature line: {line[:40]!r}")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not valid_name(name):
        raise MalformedNote(f"signature key name {name!r} is empty or holds a space or '+'")
    raw = decode_base64(encoded)
    if len(raw) < 5:
        raise MalformedNote(f"signature by {name} is shorter than a key id and one byte")
    return NoteSignature(name, raw[:4], raw[4:])


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note: `text` (ending in a newline) and one signature line per signer."""
    _check_characters(text)
    if not text.endswith("\n"):
        raise MalformedNote("a note's text ends with a newline")
    if not signers:
        raise ValueError("a signed note has at least one signature")
    note = Note(text, ())
    for signer in signers:
        if not valid_name(signer.name):
            raise ValueError(f"signer name {signer.name!r} is empty or holds a space or '+'")
        note = note.with_signature(
            NoteSignature(signer.name, signer.key_id, signer.sign(text.encode()))
        )
    return note.render()


def open_note(data: bytes | str, known: Iterable[Verifier]) -> VerifiedNote:
    """The note, once every signature by a known key verified and at least one did.

    A key is known by its name and key id together; a line matching only one of them is
    someone else's and is ignored, as the spec requires.
    """
    verifiers: dict[tuple[str, bytes], Verifier] = {}
    for key in known:
        if (key.name, key.key_id) in verifiers:
            raise ValueError(f"two verifiers for {key.name}+{key.key_id.hex()}")
        verifiers[key.name, key.key_id] = key
    note = parse_note(data)
    text = note.text.encode()
    verified: dict[tuple[str, bytes], NoteSignature] = {}
    for sig in note.signatures:
        handle = (sig.name, sig.key_id)
        verifier = verifiers.get(handle)
        if verifier is None or handle in verified:
            continue
        if not verifier.verify(text, sig.signature):
            detail = f"the signature by {sig.name}+{sig.key_id.hex()} does not verify"
            raise NoteRejected(NoteReason.BAD_SIGNATURE, detail)
        verified[handle] = sig
    if not verified:
        raise NoteRejected(NoteReason.NO_KNOWN_SIGNATURE, "no known key signed the note")
    return VerifiedNote(note, tuple(verified.values()))
