"""Offline proof bundles (c2sp.org/tlog-proof@v1): "this entry is in the log", in one file.

A bundle carries the entry's index, its inclusion proof and the checkpoint (with the
witnesses' cosignatures) the proof leads to, so it can be checked with no network at all:
by a phone reading a label, or an inspector in a market. It proves the entry was recorded,
not that what it says is still true.

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional, not authenticated)
    index <decimal>
    <base64 hash>             (zero or more, the leaf's sibling first)

    <the signed checkpoint, verbatim>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from auditlog.checkpoint import Checkpoint, MalformedCheckpoint, open_checkpoint
from auditlog.cosignature import Cosigned, WitnessCheck, WitnessPolicy, verify_cosignatures
from auditlog.merkle import (
    HASH_SIZE,
    HashReader,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from auditlog.note import (
    MalformedNote,
    NoteReason,
    NoteRejected,
    Verifier,
    decode_base64,
    encode_base64,
    parse_note,
)

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PATH_LENGTH = 64
"""A tree of at most 2**64 leaves has inclusion proofs of at most 64 hashes."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class MalformedProof(ValueError):
    """The bytes are not a tlog-proof."""


@dataclass(frozen=True)
class TlogProof:
    index: int
    inclusion_path: tuple[bytes, ...]
    signed_checkpoint: str
    """The checkpoint note as the log (and witnesses) signed it, verbatim."""
    extra: bytes | None = None
    """Application data the verifier may need to rebuild the entry; never trusted as is."""

    def render(self) -> str:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {encode_base64(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [encode_base64(h) for h in self.inclusion_path]
        return "\n".join(lines) + "\n\n" + self.signed_checkpoint

    @classmethod
    def parse(cls, data: bytes | str) -> TlogProof:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedProof("a proof is not valid UTF-8") from None
        # The proof lines are never empty, so the first blank line ends them.
        head, blank, signed_checkpoint = data.partition("\n\n")
        if not blank:
            raise MalformedProof("a proof has no blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise MalformedProof(f"a proof starts with {PROOF_HEADER}")
        lines.pop(0)
        extra = None
        try:
            if lines and lines[0].startswith("extra "):
                extra = decode_base64(lines.pop(0).removeprefix("extra "))
            index_line = lines.pop(0) if lines else ""
            index = index_line.removeprefix("index ")
            if not index_line.startswith("index ") or not _DECIMAL.fullmatch(index):
                raise MalformedProof(f"{index_line!r} is not an index line")
            if len(lines) > MAX_PATH_LENGTH:
                raise MalformedProof(f"an inclusion proof of {len(lines)} hashes")
            path = tuple(decode_base64(line) for line in lines)
            Checkpoint.parse(parse_note(signed_checkpoint).text)
        except (MalformedNote, MalformedCheckpoint) as error:
            raise MalformedProof(str(error)) from None
        if any(len(h) != HASH_SIZE for h in path):
            raise MalformedProof("an inclusion proof hash is not 32 bytes")
        return cls(int(index), path, signed_checkpoint, extra)


def build_proof(
    reader: HashReader, index: int, signed_checkpoint: str, *, extra: bytes | None = None
) -> TlogProof:
    """The bundle for entry `index`, proved against the tree the checkpoint signs.

    The proof is checked before it is handed out: a reader holding another tree than the
    checkpoint's is a bug of ours, and raises ValueError.
    """
    checkpoint = Checkpoint.parse(parse_note(signed_checkpoint).text)
    path = inclusion_proof(reader, index, checkpoint.size)
    leaf = reader.subtree_hash(0, index)
    verdict = verify_inclusion(leaf, index, checkpoint.size, path, checkpoint.root_hash)
    if not verdict.ok:
        raise ValueError(f"the store does not hold the checkpoint's tree: {verdict.detail}")
    return TlogProof(index, tuple(path), signed_checkpoint, extra)


class BundleCheck(StrEnum):
    """Why a proof bundle was accepted or refused; values are stored and sent, never renamed."""

    OK = "ok"
    MALFORMED = "malformed"
    WRONG_ORIGIN = "wrong_origin"
    NOT_SIGNED_BY_LOG = "not_signed_by_log"
    BAD_LOG_SIGNATURE = "bad_log_signature"
    TOO_FEW_WITNESSES = "too_few_witnesses"
    BAD_COSIGNATURE = "bad_cosignature"
    NOT_INCLUDED = "not_included"
    """The inclusion proof does not lead from the entry to the checkpoint's root."""


_NOTE_REASONS = {
    NoteReason.NO_KNOWN_SIGNATURE: BundleCheck.NOT_SIGNED_BY_LOG,
    NoteReason.BAD_SIGNATURE: BundleCheck.BAD_LOG_SIGNATURE,
    NoteReason.WRONG_ORIGIN: BundleCheck.WRONG_ORIGIN,
}
_WITNESS_REASONS = {
    WitnessCheck.TOO_FEW: BundleCheck.TOO_FEW_WITNESSES,
    WitnessCheck.BAD_COSIGNATURE: BundleCheck.BAD_COSIGNATURE,
}


@dataclass(frozen=True)
class BundleVerdict:
    reason: BundleCheck
    detail: str
    checkpoint: Checkpoint | None = None
    """The checkpoint, once the log's signature on it verified."""
    cosigned: tuple[Cosigned, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is BundleCheck.OK


def verify_proof(
    proof: TlogProof, entry: bytes, *, origin: str, log: Verifier, witnesses: WitnessPolicy
) -> BundleVerdict:
    """Whether `entry` is in the log `origin`, as a checkpoint the log signed and enough
    trusted witnesses cosigned says. The steps are those of c2sp.org/tlog-proof."""
    # 1. The leaf hash: our entries are logged as they are.
    leaf = leaf_hash(entry)
    # 2. The checkpoint is the log's, for this origin.
    try:
        signed = open_checkpoint(proof.signed_checkpoint, origin=origin, log=log)
    except (MalformedNote, MalformedCheckpoint) as error:
        return BundleVerdict(BundleCheck.MALFORMED, str(error))
    except NoteRejected as error:
        return BundleVerdict(_NOTE_REASONS[error.reason], str(error))
    checkpoint = signed.checkpoint
    # 3. Enough trusted witnesses cosigned it.
    quorum = verify_cosignatures(signed.note, witnesses)
    if not quorum.ok:
        reason = _WITNESS_REASONS[quorum.reason]
        return BundleVerdict(reason, quorum.detail, checkpoint, quorum.cosigned)
    # 4. The inclusion proof binds the leaf to the checkpoint's root.
    inclusion = verify_inclusion(
        leaf, proof.index, checkpoint.size, proof.inclusion_path, checkpoint.root_hash
    )
    if not inclusion.ok:
        detail = f"{inclusion.reason}: {inclusion.detail}"
        return BundleVerdict(BundleCheck.NOT_INCLUDED, detail, checkpoint, quorum.cosigned)
    detail = f"entry {proof.index} is in {origin} at size {checkpoint.size}"
    return BundleVerdict(BundleCheck.OK, detail, checkpoint, quorum.cosigned)
