"""Process supervision, with real processes but no servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra import stack
from infra.process import JavaServer, PythonService, StackError, launch, running_pid, terminate
from infra.settings import StackSettings


def test_a_pid_file_naming_a_dead_process_is_stale(tmp_path):
    server = JavaServer("kafka", "kafka.Kafka", tmp_path)
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text("999999999\n")
    assert running_pid(server) is None
    assert not server.pid_file.exists()


def test_a_pid_file_naming_someone_elses_process_is_stale(tmp_path):
    server = JavaServer("kafka", "kafka.Kafka", tmp_path)
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not our broker
    assert running_pid(server) is None
    assert not server.pid_file.exists()


def test_garbage_in_a_pid_file_is_stale(tmp_path):
    server = JavaServer("kafka", "kafka.Kafka", tmp_path)
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text("not a pid")
    assert running_pid(server) is None


def test_a_live_server_is_recognised_then_stopped(tmp_path):
    server = JavaServer("kafka", "kafka.Kafka", tmp_path)
    # a stand-in process whose command line carries the marker and main class, as a broker's does
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            f"-Docop.state={tmp_path}",
            "kafka.Kafka",
        ],
        start_new_session=True,
    )
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text(f"{proc.pid}\n")
    assert running_pid(server) == proc.pid
    assert terminate(server, proc.pid, timeout_s=5) is True
    assert running_pid(server) is None
    assert not server.pid_file.exists()


def test_a_server_that_dies_at_start_up_reports_its_log(tmp_path):
    settings = StackSettings(state_dir=tmp_path, start_timeout_s=20)
    broken = stack.Server(
        name="broken",
        main_class="vn.ocop.NoSuchMain",
        prepare=lambda s: JavaServer("broken", "vn.ocop.NoSuchMain", s.state_dir),
        probe=lambda s: (_ for _ in ()).throw(StackError("no answer")),
        ports=lambda s: [],
    )
    with pytest.raises(
        StackError,
        match=r"broken đã dừng trong lúc khởi động / broken exited during start-up\n"
        r"các dòng cuối của .* / last lines of .*:(.|\n)*NoSuchMain",
    ):
        stack.up(settings, servers=[broken])
    assert (
        not (tmp_path / "run" / "broken.pid").exists()
        or running_pid(JavaServer("broken", "vn.ocop.NoSuchMain", tmp_path)) is None
    )


def test_a_python_service_is_recognised_by_its_environment_and_stopped_by_down(tmp_path):
    service = PythonService(
        "worker", tmp_path, argv=[sys.executable, "-c", "import time; time.sleep(60)"]
    )
    pid = launch(service)
    assert running_pid(service) == pid
    # the same name under another state folder is someone else's
    assert running_pid(PythonService("worker", tmp_path / "other")) is None
    lines: list[str] = []
    stack.down(StackSettings(state_dir=tmp_path), report=lines.append)
    assert running_pid(service) is None
    assert any(line.startswith("worker: stopped") for line in lines), lines
