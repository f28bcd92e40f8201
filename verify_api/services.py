"""What the API holds while it runs: the Cassandra reader, the trust list, the Kafka sender.

`open_services` fails at start-up when Cassandra does not answer: an API that cannot read
records would answer every scan with an error page. Kafka and the trust list may come
later: scans are dropped (and counted) until Kafka is reached, and codes get 503 until an
authority has published a trust list.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from contract.events import Location, ScannerKind, ScanRecorded
from contract.verdict import Reason
from keys.ids import decode_public_key
from records.rows import AlertRow, Inspection, Inspector
from records.session import connect
from records.store import RecordReader
from verify_api.events import EventSink, KafkaEvents
from verify_api.facts import Facts, Memory, Records
from verify_api.rendering import Pages
from verify_api.resolution import Resolved, Resolver
from verify_api.settings import ApiSettings
from verify_api.trustcache import NoTrustList, TrustCache

log = logging.getLogger(__name__)


class Store(Records, Protocol):
    """Every read the API makes; records.store.RecordReader is the real one."""

    async def ping(self) -> None: ...
    async def latest_trust_list(self) -> bytes | None: ...
    async def seal_keys(self) -> dict[str, str]: ...
    async def inspector(self, token_sha256: str) -> Inspector | None: ...
    async def inspections(self, unit_key: str, limit: int = 50) -> list[Inspection]: ...
    async def alerts_for_unit(self, unit_key: str) -> list[AlertRow]: ...
    async def alerts_on(
        self, province: str | None, day: date, limit: int = 500
    ) -> list[AlertRow]: ...


@dataclass
class Services:
    settings: ApiSettings
    store: Store
    trust: TrustCache
    resolver: Resolver
    events: EventSink
    device_key: bytes
    close: Callable[[], Awaitable[None]]
    pages: Pages

    async def resolve(self, text: str, now: datetime) -> Resolved:
        """Raises NoTrustList when there is none to judge with."""
        held = await self.trust.get()
        resolved = await self.resolver.resolve(text, held.trust, now)
        if resolved.verification.reason is Reason.UNKNOWN_KEY:
            # a producer key certified a moment ago is in a newer list than the one held
            newer = await self.trust.newer()
            if newer is not None:
                resolved = await self.resolver.resolve(text, newer.trust, now)
        return resolved

    def device_hash(self, device_id: str | None) -> str | None:
        """A keyed hash: it tells devices apart, and without the key it cannot be matched
        to a device id someone knows."""
        if device_id is None:
            return None
        return hmac.new(self.device_key, device_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def client_hash(self, network: str | None) -> str | None:
        """A keyed hash of the client's network, kept apart from device hashes (another
        prefix), so that neither can be matched to the other or to an address."""
        if network is None:
            return None
        message = f"network {network}".encode()
        return hmac.new(self.device_key, message, hashlib.sha256).hexdigest()

    def record_scan(
        self,
        resolved: Resolved,
        text: str,
        now: datetime,
        *,
        scanner: ScannerKind,
        province: str | None,
        location: Location | None,
        device_id: str | None,
        network: str | None,
    ) -> None:
        """Queue the scan event, naming the unit only if the code is authentically ours.
        `network` is where the request came from (deps.Caller.network): what analytics
        count as one independent client, whatever device ids and places it claims."""
        signer = resolved.resolution.signer
        batch_id, serial = resolved.unit or (None, None)
        self.events.offer(
            ScanRecorded(
                event_id=uuid.uuid4(),
                occurred_at=now,
                code=text[:1024],
                batch_id=batch_id,
                serial=serial,
                province=province,
                location=location,
                producer_id=signer and signer.producer_id,
                reason=resolved.scan_reason,
                scanner=scanner,
                device=self.device_hash(device_id),
                client=self.client_hash(network),
            )
        )


def resolver_for(settings: ApiSettings, records: Records, memory: Memory) -> Resolver:
    live_s = settings.request_deadline_s / 2  # for the unit's own read, or a due reload
    facts = Facts(
        records, memory, cache_s=settings.record_cache_s, stale_s=settings.record_stale_s,
        wait_s=live_s,
    )  # fmt: skip
    return Resolver(facts, live_s=live_s)


async def open_services(settings: ApiSettings) -> Services:
    cluster, session = await asyncio.to_thread(
        functools.partial(
            connect,
            settings,
            keyspace=settings.keyspace,
            request_timeout=settings.request_deadline_s,
            speculate_after_s=settings.speculate_after_s,
        )
    )
    reader = await asyncio.to_thread(RecordReader, session)
    events = KafkaEvents(
        settings.kafka_bootstrap,
        settings.scan_topic,
        linger_ms=settings.kafka_linger_ms,
        queue_size=settings.scan_queue_size,
        deliver_timeout_s=settings.inspection_timeout_s,
    )
    await events.start()
    trust = TrustCache(
        reader, decode_public_key(settings.root_key), ttl_s=settings.trust_list_ttl_s
    )
    try:
        await trust.get()
    except NoTrustList:
        log.warning("no trust list is stored yet: codes get 503 until one is published")
    memory = Memory(settings.facts_memory_mb * 1024 * 1024)
    if settings.device_salt is not None:
        device_key = settings.device_salt.get_secret_value().encode("utf-8")
    else:  # development only (settings refuse this elsewhere): hashes change on restart
        device_key = secrets.token_bytes(32)

    async def close() -> None:
        await events.stop()
        await asyncio.to_thread(cluster.shutdown)

    return Services(
        settings=settings,
        store=reader,
        trust=trust,
        resolver=resolver_for(settings, reader, memory),
        events=events,
        device_key=device_key,
        close=close,
        pages=Pages(memory),
    )
