"""C2SP checkpoints (c2sp.org/tlog-checkpoint): the log's signed statement of its head.

A checkpoint is the note text `<origin>\\n<size>\\n<base64 root hash>\\n` with optional
extension lines, signed as a signed note by the log and cosigned by witnesses. Everything a
verifier later trusts about the tree (its size, its root) comes from here, so parsing is
strict: a size with a leading zero or a root that is not 32 bytes is refused, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditlog.merkle import HASH_SIZE
from auditlog.note import (
    MalformedNote,
    Note,
    NoteReason,
    NoteRejected,
    Signer,
    Verifier,
    decode_base64,
    encode_base64,
    open_note,
    sign_note,
)

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64 in every implementation we interoperate with."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class MalformedCheckpoint(ValueError):
    """The note text is not a checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()
    """Opaque non-empty lines after the root; the spec advises against them (monitors can't
    audit them), so we write none, but we keep what others wrote."""

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line or any(ch < "\x20" for ch in line):
                raise MalformedCheckpoint(f"checkpoint line {line!r} is empty or not one line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size {self.size} is not a uint64")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"root hash has {len(self.root_hash)} bytes, not 32")

    @property
    def text(self) -> str:
        """The note text the log signs."""
        lines = [self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise MalformedCheckpoint("a checkpoint's text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint("a checkpoint has an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise MalformedCheckpoint(f"tree size {size!r} is not a decimal without leading zeros")
        try:
            root_hash = decode_base64(root)
        except MalformedNote:
            raise MalformedCheckpoint(f"root hash {root!r} is not base64") from None
        return cls(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with every signature line of its note
    (the witnesses' cosignatures among them, still to be checked by a witness policy)."""

    checkpoint: Checkpoint
    note: Note


def sign_checkpoint(checkpoint: Checkpoint, log: Signer) -> str:
    """The signed checkpoint as the log serves it at `<prefix>/checkpoint`."""
    return sign_note(checkpoint.text, log)


def open_checkpoint(data: bytes | str, *, origin: str, log: Verifier) -> SignedCheckpoint:
    """The checkpoint, once `log` signed it and it names `origin`.

    Raises MalformedNote or MalformedCheckpoint when the bytes are not a checkpoint, and
    NoteRejected (with its reason) when they are one that is not the log's.
    """
    # 1. The note is signed by the log's key (any other signature is left for later).
    note = open_note(data, [log]).note
    # 2. Its text is a checkpoint.
    checkpoint = Checkpoint.parse(note.text)
    # 3. For the log we asked about: a key may sign for several origins.
    if checkpoint.origin != origin:
        detail = f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}"
        raise NoteRejected(NoteReason.WRONG_ORIGIN, detail)
    return SignedCheckpoint(checkpoint, note)
