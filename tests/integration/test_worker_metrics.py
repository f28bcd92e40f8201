"""The worker's Prometheus metrics (GET /metrics) on the real Kafka and Cassandra: its counts,
and its consumer lag as Kafka's own tools compute it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from contract.encoding import model_bytes
from infra.topics import admin_client
from tests.integration.pipeline import Pipeline, batch_id, opened, packed, wait_for
from tests.world import NOW, World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec

BACKLOG = 5
Offsets = dict[int, tuple[int, int | None]]
"""By partition: (log end offset, the group's committed offset or None)."""


@pytest.fixture
def pipeline(stack_settings, tmp_path) -> Iterator[Pipeline]:
    running = Pipeline(stack_settings, tmp_path, World())
    try:
        running.start_worker()
        running.publish_authority_setup()
        yield running
    finally:
        running.close()


def value(pipeline: Pipeline, name: str, **labels: str) -> float | None:
    found = [v for have, v in pipeline.series(name) if labels.items() <= have.items()]
    return found[0] if found else None


def test_counts_a_good_and_a_bad_event(pipeline: Pipeline):
    w, topic = pipeline.world, pipeline.topics["batch"]
    sent_at = datetime.now(UTC)
    pipeline.send_signed("batch", w.producer, opened("L2503MET01"))
    signed = model_bytes(w.producer.sign_document(opened("L2503MET02")))
    tampered = signed.replace(b'"planned_units":2000', b'"planned_units":9')
    assert tampered != signed
    pipeline.send("batch", b"tampered", tampered)
    pipeline.flush()
    pipeline.wait_for_head(batch_id("L2503MET01"), 1)
    wait_for(
        "the bad event's dead letter to be counted",
        lambda: value(pipeline, "ocop_worker_dead_letters_total", topic=topic),
        explain=pipeline.diagnosis,
    )
    stored_at = datetime.now(UTC)

    metrics = pipeline.metrics()
    assert metrics["processed"] == {
        pipeline.topics["trust"]: 1, pipeline.topics["authority"]: 3, topic: 2,
    }  # fmt: skip
    assert metrics["refused"] == {"bad_signature": 1}
    assert metrics["dead_letters"] == {topic: 1}
    assert metrics["duplicates"] == {}
    # one record stored, its event having occurred at the test world's NOW
    assert value(pipeline, "ocop_worker_ingest_delay_seconds_count") == 1
    delay = value(pipeline, "ocop_worker_ingest_delay_seconds_sum")
    assert delay is not None
    assert (sent_at - NOW).total_seconds() <= delay <= (stored_at - NOW).total_seconds()
    assert value(pipeline, "ocop_worker_offsets_read", offsets="log_end") == 1
    assert value(pipeline, "ocop_worker_offsets_read", offsets="committed") == 1
    assert value(pipeline, "ocop_worker_assigned_partitions", topic=topic) == 3
    # when the batch topic's last message was handled: between the sending and now
    last = value(pipeline, "ocop_worker_last_processed_timestamp_seconds", topic=topic)
    assert last is not None
    assert sent_at.timestamp() <= last <= datetime.now(UTC).timestamp()


def kafka_offsets(admin: Any, group: str, topic: str) -> Offsets:
    """What kafka-consumer-groups reads: each partition's log end offset (ListOffsets) and
    the group's committed offset (OffsetFetch from its coordinator)."""
    partitions = [TopicPartition(topic, p) for p in range(3)]
    ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    committed = admin.list_group_offsets(group).get(group, {})
    return {
        tp.partition: (
            ends[tp].offset,
            committed[tp].offset if tp in committed and committed[tp].offset >= 0 else None,
        )
        for tp in partitions
    }


def worker_offsets(pipeline: Pipeline, topic: str) -> dict[str, dict[int, float]]:
    """What the worker reports of the same partitions, by series."""
    found: dict[str, dict[int, float]] = {}
    for series in ("log_end_offset", "committed_offset", "consumer_lag"):
        found[series] = {
            int(labels["partition"]): v
            for labels, v in pipeline.series(f"ocop_worker_{series}")
            if labels["topic"] == topic
        }
    return found


def test_the_lag_is_the_log_end_offset_minus_the_committed_offset(pipeline: Pipeline):
    """The worker's lag must be Kafka's: log end offset minus the group's committed offset.

    The method: a backlog that holds still while the worker keeps answering. The worker
    stores one batch event and commits it (committed == end on its partition); then the
    batch records' table is dropped in this pipeline's own keyspace, so the next event on
    that partition fails in Cassandra on every attempt, and the worker retries it with
    backoff, forever, as it retries any passing failure: it takes that message and never
    finishes it, so the committed offset stays where it is, while its consumer goes on
    fetching the BACKLOG events sent behind it. (Stopping the worker with SIGSTOP would
    freeze the backlog too, but a stopped process cannot be scraped, and once continued it
    drains the backlog at once.) Nothing moves any more, so offsets read independently with
    kafka-python's admin client just before and just after a scrape, and found equal, are
    the offsets at the moment of the scrape: the worker's lag must then be end minus
    committed, that is BACKLOG. The fetch position the old JSON used would have shown about
    0 here: the backlog is fetched, just not handled.
    """
    w, topic = pipeline.world, pipeline.topics["batch"]
    group = pipeline.env["OCOP_APP_ID"]
    lot = "L2503LAG01"
    with admin_client(pipeline.settings) as admin:
        pipeline.send_signed("batch", w.producer, opened(lot))
        pipeline.flush()
        pipeline.wait_for_head(batch_id(lot), 1)
        (partition,) = [p for p, (end, _) in kafka_offsets(admin, group, topic).items() if end]
        wait_for(
            "the group to commit the stored event",
            lambda: kafka_offsets(admin, group, topic)[partition] == (1, 1),
            explain=pipeline.diagnosis,
        )

        pipeline.session.execute("DROP TABLE batch_records")
        for _ in range(BACKLOG):
            pipeline.send_signed("batch", w.producer, packed(w, 1, lot))
        pipeline.flush()

        def scraped_between_equal_reads() -> tuple[Offsets, dict[str, dict[int, float]]] | None:
            before = kafka_offsets(admin, group, topic)
            reported = worker_offsets(pipeline, topic)
            after = kafka_offsets(admin, group, topic)
            held = before == after and before[partition] == (1 + BACKLOG, 1)
            return (before, reported) if held else None

        wait_for(
            "the worker to be held up behind its backlog",
            lambda: f"handling {topic}/{partition}@1 failed" in pipeline.log_file.read_text(),
            explain=pipeline.diagnosis,
        )
        kafka, reported = wait_for(
            "equal offset reads on both sides of a scrape", scraped_between_equal_reads,
            explain=pipeline.diagnosis,
        )  # fmt: skip

    ends = {p: end for p, (end, _) in kafka.items()}
    committed = {p: done for p, (_, done) in kafka.items() if done is not None}
    assert reported["log_end_offset"] == ends
    assert reported["committed_offset"] == committed
    assert reported["consumer_lag"] == {p: ends[p] - done for p, done in committed.items()}
    assert reported["consumer_lag"][partition] == BACKLOG
