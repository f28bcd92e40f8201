"""A worker killed with SIGKILL in the middle of 20,000 units loses and duplicates nothing."""

from __future__ import annotations

import signal

from keys.chain import verify_chain
from tests.integration.pipeline import Pipeline, batch_id, closed, opened, packed, wait_for
from tests.world import World

BATCHES, UNITS_PER_BATCH, UNITS_PER_EVENT = 10, 2000, 100
EVENTS_PER_BATCH = 2 + UNITS_PER_BATCH // UNITS_PER_EVENT


def test_sigkill_mid_stream_then_restart_stores_every_unit_once(stack_settings, tmp_path):
    pipeline = Pipeline(stack_settings, tmp_path, World())
    try:
        pipeline.start_worker()
        pipeline.publish_authority_setup()
        lots = [f"L2503K{n:04d}" for n in range(BATCHES)]
        for lot in lots:
            pipeline.send_signed("batch", pipeline.world.producer, opened(lot))
            for _ in range(UNITS_PER_BATCH // UNITS_PER_EVENT):
                pipeline.send_signed(
                    "batch", pipeline.world.producer, packed(pipeline.world, UNITS_PER_EVENT, lot)
                )
            pipeline.send_signed("batch", pipeline.world.producer, closed(UNITS_PER_BATCH, lot))
        pipeline.flush()

        total_events = BATCHES * EVENTS_PER_BATCH
        wait_for(
            "the worker to be part-way through",
            lambda: pipeline.metrics()["processed"].get(pipeline.topics["batch"], 0) >= 40,
        )
        pipeline.stop_worker(signal.SIGKILL)
        stored_at_kill = pipeline.session.execute("SELECT COUNT(*) FROM units").one()[0]
        assert stored_at_kill < BATCHES * UNITS_PER_BATCH, "the kill came too late to test"

        pipeline.start_worker()
        for lot in lots:
            head = pipeline.wait_for_head(batch_id(lot), EVENTS_PER_BATCH, timeout_s=180)
            # a replay counted twice would make the close refuse ("unit_count_mismatch")
            assert (head.status, head.units_packed) == ("closed", UNITS_PER_BATCH)
            records = pipeline.chain(batch_id(lot))
            assert len(records) == EVENTS_PER_BATCH
            verdict = verify_chain(
                batch_id(lot),
                records,
                {pipeline.seal_key.key_id: pipeline.seal_key.public_key},
                head=(head.head_seq, head.head_hash),
            )
            assert verdict.ok, verdict.detail
        units = pipeline.session.execute("SELECT COUNT(*) FROM units").one()[0]
        assert units == BATCHES * UNITS_PER_BATCH
        assert pipeline.metrics()["refused"] == {}
        assert total_events == BATCHES * EVENTS_PER_BATCH
    finally:
        pipeline.close()
