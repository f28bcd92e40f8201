"""Putting the authority's documents on Kafka: trust lists on their compacted topic,
registrations, certifications and the evaluation cycle's steps on the authority topic, each
signed by the issuing key (a step by the council's key or, from the office's back office, by
the council's desk key: keys.certs.DeskKeyCertificate).

Sends are acknowledged by all in-sync replicas before `flush` returns; a failure is a
PublishError naming what was not sent, never a silent loss.
"""

from __future__ import annotations

import warnings
from typing import Any

from contract import topics
from contract.encoding import model_bytes
from contract.evaluation import EvaluationEvent
from contract.events import (
    CertificationIssued,
    CertificationRevoked,
    InspectorRegistered,
    PartyRegistered,
    ProducerRegistered,
    ProductRegistered,
)
from keys.errors import KeysError
from keys.signing import SigningKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

AuthorityEvent = (
    ProducerRegistered
    | ProductRegistered
    | PartyRegistered
    | CertificationIssued
    | CertificationRevoked
    | InspectorRegistered
    | EvaluationEvent
)
TRUST_LIST_KEY = b"trust-list"


class PublishError(KeysError):
    """Kafka did not take a document."""


class AuthorityPublisher:
    def __init__(
        self,
        bootstrap: str,
        *,
        authority_topic: str = topics.AUTHORITY_EVENTS,
        trust_topic: str = topics.TRUST_LISTS,
    ) -> None:
        self.authority_topic = authority_topic
        self.trust_topic = trust_topic
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", retries=5, linger_ms=5
            )
        except KafkaError as exc:
            raise PublishError(f"Kafka at {bootstrap} does not answer: {exc}") from exc
        self._pending: list[tuple[str, Any]] = []

    def trust_list(self, document: bytes) -> None:
        self._send("the trust list", self.trust_topic, TRUST_LIST_KEY, document)

    def event(self, signer: SigningKey, event: AuthorityEvent) -> None:
        data = model_bytes(signer.sign_document(event))
        self._send(event.type, self.authority_topic, event.topic_key(), data)

    def _send(self, what: str, topic: str, key: bytes, value: bytes) -> None:
        self._pending.append((what, self._producer.send(topic, key=key, value=value)))

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait until Kafka acknowledged everything sent; returns how many documents."""
        pending, self._pending = self._pending, []
        for what, future in pending:
            try:
                future.get(timeout=timeout_s)
            except KafkaError as exc:
                raise PublishError(f"{what} was not published: {exc}") from exc
        return len(pending)

    def close(self) -> None:
        self._producer.close(timeout=10)
