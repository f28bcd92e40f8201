"""A worker refuses to start on a deployment that lacks what it must write to, rather than
running without it: the audit log's sequencer topic (a worker storing records the public
log never hears of would leave the log silently incomplete); and says in both languages
when Kafka does not answer."""

from __future__ import annotations

import subprocess

from infra.topics import admin_client
from tests.integration.pipeline import VENV_BIN, Pipeline, wait_for
from tests.world import World


def test_a_worker_without_the_audit_log_topic_does_not_start(stack_settings, tmp_path):
    pipeline = Pipeline(stack_settings, tmp_path, World())
    try:
        with admin_client(pipeline.settings) as admin:
            admin.delete_topics([pipeline.topics["log"]])
            wait_for(
                "the topic to be gone",
                lambda: pipeline.topics["log"] not in set(admin.list_topics()),
            )
        done = subprocess.run(
            [str(VENV_BIN / "ocop-worker"), "run"],
            env=pipeline.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        said = " ".join((done.stdout + done.stderr).split())
        log = pipeline.topics["log"]
        assert f"chủ đề Kafka {log} (bộ xếp thứ tự của nhật ký kiểm toán) chưa có" in said
        assert "chạy `ocop-stack topics` trước / " in said
        assert f"topic {log} (the audit log's sequencer) does not exist" in said
        assert "run `ocop-stack topics` first" in said
        assert "Traceback" not in said
    finally:
        pipeline.topics.pop("log")  # deleted above
        pipeline.close()


def test_a_worker_that_cannot_reach_kafka_says_so_in_both_languages(stack_settings, tmp_path):
    pipeline = Pipeline(stack_settings, tmp_path, World())
    try:
        done = subprocess.run(
            [str(VENV_BIN / "ocop-worker"), "run"],
            env=pipeline.env | {"OCOP_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        said = " ".join((done.stdout + done.stderr).split())
        assert "không kết nối được Kafka tại 127.0.0.1:1 / Kafka at 127.0.0.1:1 does not" in said
        assert "Traceback" not in said
    finally:
        pipeline.close()
