"""Topic definitions and their idempotent application to a running broker.

Names and keys belong to the contract (contract/topics.py); partitions, retention and
replication are settings. Applying creates what is missing and aligns retention of what
exists. It never changes an existing topic's partition count: more partitions move keys
to other partitions, which would break the per-batch order of batches in flight. A
mismatch is reported so an operator can plan that change.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from contract import topics as names
from contract.bilingual import bilingual, unreachable
from infra.process import StackError
from infra.settings import ConnectionSettings, DataSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka.errors import KafkaError


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


def topic_specs(settings: DataSettings) -> list[TopicSpec]:
    def spec(name: str, partitions: int, retention_ms: int, *, compact: bool = False) -> TopicSpec:
        config = {"retention.ms": str(retention_ms), "min.insync.replicas": "1"}
        if compact:  # only the newest message of each key is kept for good
            config["cleanup.policy"] = "compact"
        if settings.replication_factor >= 3:
            config["min.insync.replicas"] = "2"  # acks=all then survives one broker down
        return TopicSpec(name, partitions, settings.replication_factor, config)

    keyed = settings.topic_partitions
    return [
        spec(names.BATCH_EVENTS, keyed, settings.event_retention_ms),
        spec(names.AUTHORITY_EVENTS, keyed, settings.event_retention_ms),
        spec(names.TRUST_LISTS, 1, -1, compact=True),
        spec(names.SCAN_EVENTS, keyed, settings.scan_retention_ms),
        spec(names.ALERTS, keyed, settings.alert_retention_ms),
        spec(names.DEAD_LETTER, 1, settings.dead_letter_retention_ms),
        # the audit log's sequencer: one partition, whose order is the log's
        spec(names.AUDIT_LEAVES, 1, settings.log_retention_ms),
    ]


@contextmanager
def admin_client(settings: ConnectionSettings, *, timeout_ms: int = 10_000) -> Iterator[Any]:
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            request_timeout_ms=timeout_ms,
            client_id="ocop-admin",
        )
    except KafkaError as exc:
        raise StackError(unreachable("Kafka", settings.kafka_bootstrap, exc)) from exc
    try:
        yield admin
    finally:
        admin.close()


def apply_topics(settings: DataSettings) -> list[str]:
    """Create missing topics and align retention; returns one line per topic on what happened."""
    specs = topic_specs(settings)
    report = []
    try:
        with admin_client(settings) as admin:
            existing = set(admin.list_topics())
            missing = [s for s in specs if s.name not in existing]
            if missing:
                admin.create_topics(
                    [
                        NewTopic(
                            s.name,
                            num_partitions=s.partitions,
                            replication_factor=s.replication,
                            topic_configs=s.config,
                        )
                        for s in missing
                    ]
                )
                report += [f"{s.name}: created, {s.partitions} partition(s)" for s in missing]
            present = [s for s in specs if s.name in existing]
            if present:
                report += _align(admin, present)
    except KafkaError as exc:
        raise StackError(
            bilingual("không áp dụng được các chủ đề Kafka", f"applying topics failed: {exc}")
        ) from exc
    return report


def _align(admin: Any, specs: list[TopicSpec]) -> list[str]:
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.config) for s in specs]
    )
    lines = []
    for s in specs:
        have = len(described[s.name]["partitions"])
        if have != s.partitions:
            lines.append(
                f"{s.name}: exists with {have} partition(s), settings ask for {s.partitions}; "
                "left as is (changing it re-maps keys; do it deliberately)"
            )
        else:
            lines.append(f"{s.name}: up to date")
    return lines
