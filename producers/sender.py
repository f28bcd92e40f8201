"""Delivering the outbox to Kafka: in order per batch, acknowledged by every in-sync replica,
never lost, and duplicated only where Kafka itself cannot tell.

kafka-python's producer, configured for it: acks="all"; idempotence on (explicitly, so a
configuration that would silently turn it off raises instead), which lets the broker drop
a batch the producer retries after the broker restarted, so retries through an outage
write nothing twice and keep each partition's order; retries for up to
`kafka_delivery_timeout_ms`; a few ms of linger so a burst of events shares one request.

A row is marked acknowledged only from the future of its own send, and rows in flight are
never handed over a second time. If a send fails for good (a broker away for longer than
the delivery timeout), the producer is dropped and every unacknowledged row goes again, in
order, through a new one: a row that had been written after all is then a duplicate with
the same event id, which consumers drop. The same holds for a crash between Kafka's ack
and the mark: the row is sent again on the next start.

The sender runs as a thread of the station's process (`start`, `stop`, `drain`) or alone
in a loop (`run`, the `ocop-station send` command); each has its own SQLite connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from keys.certs import utc_now
from producers import journal
from producers.outbox import Ack, Outbox
from producers.settings import StationSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

POLL_S = 0.05
RETRY_S = 1.0
GRACE_S = 5.0

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class Sender:
    def __init__(self, settings: StationSettings, *, report: Report = _quiet) -> None:
        self._settings = settings
        self._report = report
        self._producer: Any = None
        self._in_flight: dict[int, Any] = {}
        self._sent_up_to = 0
        self._reachable: bool | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- in the station's process ---------------------------------------------------------

    def start(self) -> None:
        """Sends in a background thread until `stop`."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name="ocop-station-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    def drain(self, timeout: float) -> bool:
        """Waits until every event recorded so far is acknowledged; False on timeout."""
        self._wake.set()
        deadline = time.monotonic() + timeout
        connection = journal.connect(self._settings.journal_path)
        try:
            outbox = Outbox(connection)
            while outbox.backlog().events:
                if time.monotonic() > deadline:
                    return False
                time.sleep(POLL_S)
            return True
        finally:
            connection.close()

    # -- the loop -------------------------------------------------------------------------

    def run(self, *, until_empty: bool = False, timeout: float | None = None) -> bool:
        """Sends until stopped, or until the outbox is empty when `until_empty` (returns
        True then), or until `timeout` seconds passed (returns False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        connection = journal.connect(self._settings.journal_path)
        outbox = Outbox(connection)
        try:
            while not self._stopping.is_set():
                if deadline is not None and time.monotonic() > deadline:
                    return False
                try:
                    self._pump(outbox)
                except KafkaError as exc:
                    self._unreachable(exc)
                    self._stopping.wait(RETRY_S)
                    continue
                if until_empty and not self._in_flight and not outbox.backlog().events:
                    return True
                self._wake.wait(POLL_S)
                self._wake.clear()
            return False
        finally:
            self._finish(outbox)
            connection.close()

    def _pump(self, outbox: Outbox) -> None:
        self._settle(outbox)
        room = self._settings.sender_window - len(self._in_flight)
        if room <= 0:
            return
        rows = outbox.pending(after=self._sent_up_to, limit=room)
        if not rows:
            return
        producer = self._producer or self._connect()
        for row in rows:
            future = producer.send(row.topic, key=row.key, value=row.value)
            future.add_both(lambda _: self._wake.set())
            self._in_flight[row.seq] = future
            self._sent_up_to = row.seq

    def _settle(self, outbox: Outbox) -> None:
        """Marks what Kafka acknowledged; after a failed send, starts over with a new producer."""
        acks, failure = [], None
        for seq, future in list(self._in_flight.items()):
            if not future.is_done:
                continue
            del self._in_flight[seq]
            if future.failed():
                failure = failure or future.exception
            else:
                acks.append(Ack(seq, future.value.partition, future.value.offset))
        outbox.mark_acked(acks, utc_now())
        if acks and failure is None and self._reachable is not True:
            self._reachable = True
            self._report(f"Kafka at {self._settings.kafka_bootstrap}: events acknowledged")
        if failure is not None:
            self._unreachable(failure)
            self._drop_producer()

    def _connect(self) -> Any:
        settings = self._settings
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=f"ocop-station-{settings.station_id}",
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.kafka_linger_ms,
            delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
            request_timeout_ms=10_000,
            max_block_ms=10_000,
            bootstrap_timeout_ms=5_000,
            reconnect_backoff_ms=100,
            reconnect_backoff_max_ms=1_000,
        )
        return self._producer

    def _finish(self, outbox: Outbox) -> None:
        """On the way out, lets what is in flight land and marks it, so it is not sent again."""
        if self._producer is not None and self._in_flight:
            with contextlib.suppress(KafkaError):
                self._producer.flush(timeout=GRACE_S)
            self._settle(outbox)
        self._drop_producer()

    def _drop_producer(self) -> None:
        """Abandons the producer and whatever it still holds: those rows go again, in order.

        kafka-python's close(timeout=0) raises while records are pending, where Java's client
        drops them; its I/O thread's force_close (kafka-python 3.0) is what drops them, so an
        abandoned producer cannot deliver them later beside the new one.
        """
        producer, self._producer = self._producer, None
        self._in_flight.clear()
        self._sent_up_to = 0
        if producer is not None:
            producer._sender.force_close()
            producer._sender.join(GRACE_S)
            producer.close(timeout=0)

    def _unreachable(self, error: BaseException) -> None:
        if self._reachable is not False:
            self._reachable = False
            self._report(
                f"Kafka at {self._settings.kafka_bootstrap} not reachable, events stay in the "
                f"outbox and are retried: {type(error).__name__}: {error}"
            )
