"""The log's leaves: every fact the system asserts in public, as the bytes the log hashes.

An entry is a canonical JSON object (contract.encoding) that names its fact and carries the
hashes binding it, never the fact's own (possibly large) bytes, so every entry fits the
64 KiB an entry bundle allows and anyone holding the fact can rebuild the entry exactly:

- `chain_record`: a batch's record `seq` (keys.chain.ChainRecord): batch id, seq, event
  type, SHA-256 of the producer-signed event bytes, the previous and own record hashes and
  the sealing key id. Recalls are chain records (`batch_recalled`), and so are label
  issuances: a `units_packed` record's event lists the digest of each label it packed, in
  the order of its serials, so a label is found in the log through its unit: the unit's
  (batch, seq) names the record, the record's leaf is in the log, the event's SHA-256 in the
  leaf binds its label digests.
- `trust_list`: a stored root-signed trust list: version, SHA-256 of the document.
- `certification` / `revocation`: a stored authority-signed star certification or its
  revocation: product key, certificate number, SHA-256 of the signed document.

A leaf's id is the SHA-256 of its entry: the same fact gives the same bytes, so a replayed
event yields the same id and the log writer keeps it once. A leaf's subject (the fact's
key, without the hashes) is how proofs are looked up: `record` + batch + seq, and so on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from contract.encoding import JSON, canonical_bytes, decode_canonical, sha256_hex
from contract.errors import ContractError
from keys.chain import ChainRecord

LEAF_FORMAT = "ocop-log-leaf/v1"
"""The `leaf` member of every entry: a new format gets a new value, never a changed meaning."""


class MalformedLeaf(ValueError):
    """The bytes are not a leaf entry of ours."""


@dataclass(frozen=True)
class RecordLeaf:
    batch_id: str
    seq: int
    event_type: str
    event_sha256: str
    prev_hash: str
    record_hash: str
    sealed_by: str
    kind: Literal["chain_record"] = "chain_record"

    @property
    def subject(self) -> str:
        return record_subject(self.batch_id, self.seq)


@dataclass(frozen=True)
class TrustListLeaf:
    version: int
    document_sha256: str
    kind: Literal["trust_list"] = "trust_list"

    @property
    def subject(self) -> str:
        return _subject("trust_list", self.version)


@dataclass(frozen=True)
class CertificationLeaf:
    """A certification issued (`certification`) or revoked (`revocation`)."""

    kind: Literal["certification", "revocation"]
    product_key: str
    certificate_no: str
    document_sha256: str

    @property
    def subject(self) -> str:
        return _subject(self.kind, self.product_key, self.certificate_no)


Leaf: TypeAlias = RecordLeaf | TrustListLeaf | CertificationLeaf


def _subject(*parts: str | int) -> str:
    return canonical_bytes(list(parts)).decode()


def record_subject(batch_id: str, seq: int) -> str:
    """The subject of a batch's record `seq` (what a unit's or a batch's proof looks up)."""
    return _subject("chain_record", batch_id, seq)


def record_leaf(record: ChainRecord, event_type: str) -> RecordLeaf:
    return RecordLeaf(
        batch_id=record.batch_id,
        seq=record.seq,
        event_type=event_type,
        event_sha256=sha256_hex(record.event),
        prev_hash=record.prev_hash.hex(),
        record_hash=record.record_hash.hex(),
        sealed_by=record.sealed_by,
    )


def trust_list_leaf(version: int, document: bytes) -> TrustListLeaf:
    return TrustListLeaf(version, sha256_hex(document))


def certification_leaf(product_key: str, certificate_no: str, document: bytes) -> CertificationLeaf:
    return CertificationLeaf("certification", product_key, certificate_no, sha256_hex(document))


def revocation_leaf(product_key: str, certificate_no: str, document: bytes) -> CertificationLeaf:
    return CertificationLeaf("revocation", product_key, certificate_no, sha256_hex(document))


def entry_bytes(leaf: Leaf) -> bytes:
    """The canonical bytes the log holds (and hashes) for the leaf."""
    fields: dict[str, JSON] = {"leaf": LEAF_FORMAT}
    for name, value in vars(leaf).items():
        fields[name] = value
    return canonical_bytes(fields)


def leaf_id(entry: bytes) -> bytes:
    """What the log writer keeps a leaf once by: the SHA-256 of its entry."""
    return hashlib.sha256(entry).digest()


_STRINGS = {
    "chain_record": (
        "batch_id",
        "event_type",
        "event_sha256",
        "prev_hash",
        "record_hash",
        "sealed_by",
    ),
    "trust_list": ("document_sha256",),
    "certification": ("product_key", "certificate_no", "document_sha256"),
    "revocation": ("product_key", "certificate_no", "document_sha256"),
}
_INTEGERS = {"chain_record": ("seq",), "trust_list": ("version",)}


def parse_entry(entry: bytes) -> Leaf:
    """The leaf an entry states; MalformedLeaf unless it is exactly what entry_bytes writes."""
    try:
        value = decode_canonical(entry)
    except ContractError as exc:
        raise MalformedLeaf(f"not a canonical JSON entry: {exc}") from None
    if not isinstance(value, dict) or value.get("leaf") != LEAF_FORMAT:
        raise MalformedLeaf(f"not a {LEAF_FORMAT} entry")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in _STRINGS:
        raise MalformedLeaf(f"unknown leaf kind {kind!r}")
    strings, integers = _STRINGS[kind], _INTEGERS.get(kind, ())
    if set(value) != {"leaf", "kind", *strings, *integers}:
        raise MalformedLeaf(f"a {kind} leaf has the members {sorted((*strings, *integers))}")
    text: dict[str, str] = {}
    for name in strings:
        member = value[name]
        if not isinstance(member, str):
            raise MalformedLeaf(f"{kind}.{name} is not a string")
        text[name] = member
    number: dict[str, int] = {}
    for name in integers:
        member = value[name]
        if not isinstance(member, int) or isinstance(member, bool):
            raise MalformedLeaf(f"{kind}.{name} is not an integer")
        number[name] = member
    leaf: Leaf
    if kind == "chain_record":
        leaf = RecordLeaf(
            text["batch_id"],
            number["seq"],
            text["event_type"],
            text["event_sha256"],
            text["prev_hash"],
            text["record_hash"],
            text["sealed_by"],
        )
    elif kind == "trust_list":
        leaf = TrustListLeaf(number["version"], text["document_sha256"])
    else:
        leaf = CertificationLeaf(
            "certification" if kind == "certification" else "revocation",
            text["product_key"],
            text["certificate_no"],
            text["document_sha256"],
        )
    if entry_bytes(leaf) != entry:
        raise MalformedLeaf("the entry does not round-trip")
    return leaf


PublishLeaf: TypeAlias = Callable[[Leaf], Awaitable[None]]
"""How a processor hands a leaf to the sequencer, once the fact is stored."""


def leaf_publisher(send: Callable[[bytes, bytes], Awaitable[None]]) -> PublishLeaf:
    """A PublishLeaf over a Kafka send(key, value) that returns once Kafka acknowledged:
    the value is the entry, the key its id in hex."""

    async def publish(leaf: Leaf) -> None:
        entry = entry_bytes(leaf)
        await send(leaf_id(entry).hex().encode(), entry)

    return publish


async def publish_nothing(leaf: Leaf) -> None:
    """For handlers built without a sequencer (unit tests of other concerns)."""
