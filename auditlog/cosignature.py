"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`) and k-of-n.

A log could show one tree to us and another to someone else; a witness that has checked
the log only ever grew cosigns each checkpoint it accepts, and a verifier that requires k
of n witnesses it trusts is safe from such a split view unless k of them collude.

A cosignature is a note signature line whose key id uses type 0x04, and whose payload is
the 8-byte big-endian POSIX timestamp followed by an Ed25519 signature over
`cosignature/v1\\ntime <timestamp>\\n` and the checkpoint's note text. The signed message
does not name the witness, so each witness needs its own key.

Checking that a new checkpoint is consistent with the last one cosigned is the witness
service's work (c2sp.org/tlog-witness), done before `cosign` is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from auditlog.note import (
    NamedPrivateKey,
    NamedPublicKey,
    Note,
    NoteSignature,
    ed25519_verify,
    parse_note,
)

COSIGNATURE_V1 = 0x04
"""The signed-note signature type of timestamped Ed25519 checkpoint cosignatures."""

MAX_TIMESTAMP = 2**63 - 1


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: a header, the time, then the checkpoint's note text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def _split_payload(signature: bytes) -> tuple[int, bytes] | None:
    """(timestamp, Ed25519 signature) of a cosignature line's payload, or None if it isn't one."""
    if len(signature) != 8 + 64:
        return None
    timestamp = int.from_bytes(signature[:8], "big")
    return (timestamp, signature[8:]) if timestamp <= MAX_TIMESTAMP else None


@dataclass(frozen=True)
class CosignatureVerifier(NamedPublicKey):
    """A witness's Ed25519 public key under its name; a note Verifier for type 0x04 lines."""

    SIGNATURE_TYPE: ClassVar[int] = COSIGNATURE_V1
    KIND: ClassVar[str] = "a cosignature/v1"

    def timestamp(self, text: bytes, signature: bytes) -> int | None:
        """The time this witness cosigned the checkpoint `text`, or None if it did not."""
        parts = _split_payload(signature)
        if parts is None:
            return None
        timestamp, ed25519_signature = parts
        message = cosigned_message(text.decode(), timestamp)
        return timestamp if ed25519_verify(self.public_key, ed25519_signature, message) else None

    def verify(self, text: bytes, signature: bytes) -> bool:
        return self.timestamp(text, signature) is not None


@dataclass(frozen=True)
class CosignatureSigner(NamedPrivateKey):
    """A witness's Ed25519 private key under its name (its key text: Go's signer key text
    with type byte 0x04 in place of 0x01)."""

    SIGNATURE_TYPE: ClassVar[int] = COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def cosignature(self, checkpoint_text: str, timestamp: int) -> NoteSignature:
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"timestamp {timestamp} is not a POSIX time up to 2**63 - 1")
        signature = self.private_key.sign(cosigned_message(checkpoint_text, timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + signature)


def cosign(signed_checkpoint: str, witness: CosignatureSigner, *, timestamp: int) -> str:
    """The signed checkpoint with the witness's cosignature added (or replaced) at the end."""
    note = parse_note(signed_checkpoint)
    return note.with_signature(witness.cosignature(note.text, timestamp)).render()


@dataclass(frozen=True)
class WitnessPolicy:
    """Trust a checkpoint once `quorum` of these witnesses cosigned it."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int

    def __post_init__(self) -> None:
        # A policy that asks for nobody would accept any split view: refused as misuse.
        if not 1 <= self.quorum <= len(self.witnesses):
            raise ValueError(f"a quorum of {self.quorum} out of {len(self.witnesses)} witnesses")
        handles = {(w.name, w.key_id) for w in self.witnesses}
        if len(handles) != len(self.witnesses):
            raise ValueError("a witness is named twice in the policy")


class WitnessCheck(StrEnum):
    """Why a witness policy was met or not; values are stored and sent, never renamed."""

    OK = "ok"
    TOO_FEW = "too_few"
    BAD_COSIGNATURE = "bad_cosignature"
    """A witness we trust signed, and its cosignature does not verify (c2sp.org/signed-note:
    the whole note is refused)."""


@dataclass(frozen=True)
class Cosigned:
    witness: str
    timestamp: int


@dataclass(frozen=True)
class WitnessVerdict:
    reason: WitnessCheck
    detail: str
    cosigned: tuple[Cosigned, ...]
    """The policy's witnesses whose cosignatures verified, in the note's order."""

    @property
    def ok(self) -> bool:
        return self.reason is WitnessCheck.OK


def verify_cosignatures(note: Note, policy: WitnessPolicy) -> WitnessVerdict:
    """Which of the policy's witnesses cosigned the checkpoint note, and whether enough did.

    Lines from keys outside the policy are ignored; a repeated line counts once.
    """
    witnesses = {(w.name, w.key_id): w for w in policy.witnesses}
    text = note.text.encode()
    cosigned: dict[tuple[str, bytes], Cosigned] = {}
    for sig in note.signatures:
        handle = (sig.name, sig.key_id)
        witness = witnesses.get(handle)
        if witness is None or handle in cosigned:
            continue
        timestamp = witness.timestamp(text, sig.signature)
        if timestamp is None:
            detail = f"the cosignature by {sig.name}+{sig.key_id.hex()} does not verify"
            return WitnessVerdict(WitnessCheck.BAD_COSIGNATURE, detail, ())
        cosigned[handle] = Cosigned(sig.name, timestamp)
    found = tuple(cosigned.values())
    if len(found) < policy.quorum:
        detail = f"{len(found)} of the {policy.quorum} witness cosignatures required"
        return WitnessVerdict(WitnessCheck.TOO_FEW, detail, found)
    detail = f"cosigned by {len(found)} witnesses, {policy.quorum} required"
    return WitnessVerdict(WitnessCheck.OK, detail, found)
