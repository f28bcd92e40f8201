"""`ocop-station watch`: the producer's watch on its own key, through the public audit log.

A producer whose key leaked learns of it when the log records something signed with that
key which the station never sent, before any consumer scans a fake (issue 21):

1. Fetch the log's newest checkpoint from the API and check the log's signature on it with
   the log keys of the station's trust list (the root certifies them).
2. Read every entry bundle from where the watch stopped to the checkpoint's size, append
   each entry to a Merkle edge (auditlog.edge) and require the edge's root to be the signed
   root: the API cannot leave an entry out, nor add one, without the watch noticing.
3. Every chain record of a batch of this producer's products whose `event_sha256` is not
   one of the station's own events (the SHA-256 of each outbox row's bytes: the journal
   keeps every event it ever sent) is looked up: its event is read from the API's batch
   provenance, must hash to the leaf's `event_sha256` (or the API is not showing what the
   log recorded), and if it is signed with the station's key, that is an ALERT: something
   signed with this key that this station did not issue. Events signed with other keys
   (another station of the same producer) are not this key's business.

The alert is printed, makes the exit status 1 (a cron job or systemd unit mails it), and,
with `--report-province`, is filed for the inspectors as a report on the unit (POST
/reports, problem `other`): the API's existing channel to inspectors' cases, with no new
event type nor topic, taken by the processors like any consumer's report.

The watch keeps its position in memory: each start reads the log from the beginning (a
log of a few million leaves is some thousand bundles); see docs/auditlog.md, "Left to do".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from auditlog.checkpoint import Checkpoint, MalformedCheckpoint, open_checkpoint
from auditlog.edge import Edge
from auditlog.leaves import MalformedLeaf, RecordLeaf, parse_entry
from auditlog.note import Ed25519Verifier, MalformedNote, NoteReason, NoteRejected, parse_note
from auditlog.tiles import TILE_WIDTH, entry_bundle_path, parse_entry_bundle
from contract import identifiers
from contract.encoding import sha256_hex
from contract.errors import ContractError
from contract.events import UnitsPacked, decode_signed_event
from keys.certs import ProducerKeyCertificate, utc_now
from keys.keystore import Keystore
from keys.trustlist import TrustList
from producers.errors import StationError
from producers.identity import _only_producer_key as only_producer_key
from producers.identity import load_trust_list
from producers.journal import connect
from producers.settings import StationSettings


class WatchError(StationError):
    """The log could not be checked (its checkpoint or entries do not verify, the API lies)."""


@dataclass(frozen=True)
class Finding:
    """A record the log holds, signed with the station's key, that the station did not send."""

    batch_id: str
    seq: int
    event_type: str
    event_sha256: str
    serials: tuple[str, ...] = ()

    def sentence(self) -> str:
        units = f", {len(self.serials)} labels ({', '.join(self.serials[:5])}...)" * bool(
            self.serials
        )
        return (
            f"ALERT: {self.event_type} record {self.seq} of batch {self.batch_id} is signed "
            f"with this station's key and was not issued by this station{units}"
        )


def own_events(journal: sqlite3.Connection) -> set[str]:
    """SHA-256 (hex) of every event the station recorded in its outbox (never deleted)."""
    return {sha256_hex(bytes(value)) for (value,) in journal.execute("SELECT value FROM outbox")}


def journal_products(journal: sqlite3.Connection) -> set[str]:
    return {key for (key,) in journal.execute("SELECT DISTINCT product_key FROM batches")}


@dataclass
class KeyWatch:
    """The watch's state between rounds: the verified edge of the log read so far."""

    key_id: str
    products: set[str]
    log_keys: tuple[Ed25519Verifier, ...]
    base_url: str
    edge: Edge = field(default_factory=Edge)

    def _open(self, served: str) -> Checkpoint:
        try:
            origin = Checkpoint.parse(parse_note(served).text).origin
        except (MalformedNote, MalformedCheckpoint) as exc:
            raise WatchError(f"the log's checkpoint is malformed: {exc}") from None
        for key in self.log_keys:
            try:
                return open_checkpoint(served, origin=origin, log=key).checkpoint
            except NoteRejected as exc:
                if exc.reason is not NoteReason.NO_KNOWN_SIGNATURE:
                    raise WatchError(f"the log's checkpoint: {exc}") from None
        raise WatchError("the log's checkpoint is not signed by a log key of the trust list")

    async def round(self, client: httpx.AsyncClient, own: set[str]) -> list[Finding]:
        """Reads the log up to its newest checkpoint; the findings among the new entries."""
        base = self.base_url.rstrip("/")
        # 1. The newest checkpoint, the log's own.
        response = await client.get(f"{base}/log/checkpoint")
        response.raise_for_status()
        checkpoint = self._open(response.text)
        if checkpoint.size < self.edge.size:
            raise WatchError(f"the log shrank from {self.edge.size} to {checkpoint.size}")
        # 2. The new entries, bound to the signed root by the edge.
        edge = self.edge
        new: list[bytes] = []
        start = edge.size
        for index in range(start // TILE_WIDTH, (checkpoint.size + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, checkpoint.size - index * TILE_WIDTH)
            got = await client.get(f"{base}/log/{entry_bundle_path(index, width)}")
            got.raise_for_status()
            entries = parse_entry_bundle(got.content, width)
            for position, entry in enumerate(entries, start=index * TILE_WIDTH):
                if position >= edge.size:
                    edge.append(entry)
                    new.append(entry)
        if edge.root() != checkpoint.root_hash:
            raise WatchError(f"the entries served do not give the signed root of {checkpoint.size}")
        edge.take_writes()
        self.edge = edge
        # 3. The records of this producer's batches that the station did not send.
        return await self._judge(client, base, new, own)

    async def _judge(
        self, client: httpx.AsyncClient, base: str, entries: Iterable[bytes], own: set[str]
    ) -> list[Finding]:
        findings: list[Finding] = []
        chains: dict[str, dict[int, str]] = {}
        for entry in entries:
            try:
                leaf = parse_entry(entry)
            except MalformedLeaf:
                continue
            if not isinstance(leaf, RecordLeaf) or leaf.event_sha256 in own:
                continue
            product_key, _ = identifiers.split_batch_id(leaf.batch_id)
            if product_key not in self.products:
                continue
            if leaf.batch_id not in chains:
                got = await client.get(f"{base}/batches{leaf.batch_id}")
                got.raise_for_status()
                chains[leaf.batch_id] = {r["seq"]: r["event"] for r in got.json()["records"]}
            text = chains[leaf.batch_id].get(leaf.seq)
            if text is None or sha256_hex(text.encode()) != leaf.event_sha256:
                raise WatchError(
                    f"the API's record {leaf.seq} of {leaf.batch_id} is not the one the log holds"
                )
            try:
                signed = decode_signed_event(text.encode())
            except ContractError as exc:
                raise WatchError(f"record {leaf.seq} of {leaf.batch_id}: {exc}") from None
            if signed.kid != self.key_id:
                continue
            event = signed.body
            serials = tuple(event.serials) if isinstance(event, UnitsPacked) else ()
            findings.append(
                Finding(leaf.batch_id, leaf.seq, leaf.event_type, leaf.event_sha256, serials)
            )
        return findings


def producer_products(journal: sqlite3.Connection, trust: TrustList, producer_id: str) -> set[str]:
    """The products whose batches the watch looks at: the journal's, and every product an
    authority certified for the producer (a thief may open a batch the station never did)."""
    certified = {
        c.body.product_key for c in trust.body.certifications if c.body.producer_id == producer_id
    }
    return journal_products(journal) | certified


def watch_for(settings: StationSettings, base_url: str) -> tuple[KeyWatch, sqlite3.Connection]:
    """The watch of the station's key (no passphrase: it signs nothing) and its journal."""
    trust = load_trust_list(settings)
    key_id = settings.station_key or only_producer_key(Keystore(settings.keystore_path), trust)
    certificate = trust.key_certificate(key_id)
    if not isinstance(certificate, ProducerKeyCertificate):
        raise StationError(f"key {key_id} is not a producer key of trust list {trust.version}")
    log_keys = trust.log_verifiers(utc_now())
    if not log_keys:
        raise StationError(f"trust list version {trust.version} names no audit log key")
    journal = connect(settings.journal_path)
    products = producer_products(journal, trust, certificate.producer_id)
    return KeyWatch(key_id, products, log_keys, base_url), journal


async def report_to_inspectors(
    client: httpx.AsyncClient, base: str, finding: Finding, *, host: str, province: str
) -> int:
    """Files the finding for the inspectors of `province` as a report on its first unit
    (POST /reports); returns the HTTP status."""
    product_key, _ = identifiers.split_batch_id(finding.batch_id)
    unit = identifiers.unit_key(product_key, finding.serials[0]) if finding.serials else None
    code = f"https://{host}{unit or finding.batch_id}"
    note = (
        f"ocop-station watch: {finding.event_type} record {finding.seq} of {finding.batch_id} "
        f"was signed with the producer's key outside its station ({len(finding.serials)} "
        "labels); the key may have leaked."
    )
    response = await client.post(
        f"{base.rstrip('/')}/reports",
        json={
            "code": code,
            "shop": "ocop-station watch (not bought)",
            "province": province,
            "problem": "other",
            "note": note[:1000],
        },
    )
    return response.status_code
