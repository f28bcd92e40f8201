"""The main job's story, end to end on the real stack, checked through the verify API.

It runs in its own topics, keyspace, consumer group, ports and folders, so it neither sees
nor disturbs a demo a developer left running.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from kafka.admin import NewTopic

from contract.alerts import AlertKind
from contract.events import UnitsPacked, decode_signed_event
from demo.authority import WITNESSES
from demo.cast import PRODUCTS
from demo.public_log import unit_proof_url
from demo.settings import DemoSettings
from demo.story import Outcome, Story
from infra import stack
from infra.schema import connect
from infra.settings import StackSettings
from infra.topics import admin_client
from keys.verifier import LogStatus
from tests.integration.pipeline import VENV_BIN, free_port

TOPICS = ("batch", "authority", "trust", "scan", "alert", "dead_letter", "log")


@dataclass(frozen=True)
class Run:
    settings: DemoSettings
    outcome: Outcome


@pytest.fixture(scope="module")
def run(stack_settings: StackSettings, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("main-job")
    fields: dict[str, Any] = {
        **stack_settings.model_dump(include={"state_dir", "kafka_bootstrap", "cassandra_hosts"}),
        "keyspace": f"e2e_{suffix}",
        "demo_dir": folder / "demo",
        "services_dir": folder,
        "api_port": free_port(),
        "worker_port": free_port(),
        "app_id": f"e2e-processors-{suffix}",
        "log_group": f"e2e-log-{suffix}",
        **{f"{name}_topic": f"e2e.{name}.{suffix}" for name in TOPICS},
    }
    settings = DemoSettings(**fields)
    names = list(settings.topic_env().values())
    with admin_client(settings) as admin:
        # the log's sequencer has one partition, whose order is the log's
        admin.create_topics(
            [
                NewTopic(name, 1 if name == settings.log_topic else 3, replication_factor=1)
                for name in names
            ]
        )
    try:
        yield Run(settings, Story(settings, say=print, progress=lambda total: _ignore).run())
    finally:
        stack.down(StackSettings(state_dir=folder), only={"ocop-worker", "ocop-api", "ocop-log"})
        cluster, session = connect(settings)
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.keyspace}")
        cluster.shutdown()
        with admin_client(settings) as admin:
            admin.delete_topics(names)


def _ignore(done: int) -> None:
    pass


def as_json(url: str) -> dict[str, Any]:
    response = httpx.get(url, headers={"Accept": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_product_was_packed_and_its_labels_resolve_genuine(run: Run):
    outcome = run.outcome
    assert [b.product.code for b in outcome.batches] == [p.code for p in PRODUCTS]
    assert all(b.qr_version == "10-M" for b in outcome.batches)
    assert all(b.pdf is not None and b.pdf.stat().st_size > 0 for b in outcome.batches)
    assert outcome.genuine_scans == 3 * len(PRODUCTS)
    genuine = as_json(outcome.genuine_page)
    assert genuine["level"] == "genuine"
    assert genuine["product"]["name"] == "Gạo TBR39 Hưng Cúc"
    assert genuine["producer"]["province"] == "Thái Bình"
    # the station's packing records name each label by its digest, through Kafka to the chain
    page = urlsplit(outcome.genuine_page)
    chain = as_json(f"{page.scheme}://{page.netloc}{genuine['links']['provenance']}")
    packings = [
        event
        for event in (decode_signed_event(r["event"].encode()).body for r in chain["records"])
        if isinstance(event, UnitsPacked)
    ]
    assert genuine["label"]["serial"] in {s for p in packings for s in p.serials}
    assert all(len(p.label_digests) == len(p.serials) for p in packings)


def test_the_revoked_product_shows_its_current_status(run: Run):
    revoked = as_json(run.outcome.revoked_page)
    assert revoked["level"] == "warning"
    assert (revoked["stars"]["printed"], revoked["stars"]["current"]) == (3, 0)
    assert revoked["stars"]["status"] == "revoked"


def test_the_copied_code_has_alerts_for_inspectors_and_a_warning_for_consumers(run: Run):
    token = (run.settings.folder / "inspector-token").read_text().strip()
    response = httpx.get(
        f"{run.settings.api_url}/inspectors/alerts/unit",
        params={"unit": run.outcome.copied_unit},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    kinds = {alert["kind"] for alert in response.json()["alerts"]}
    assert {AlertKind.IMPOSSIBLE_TRAVEL, AlertKind.TOO_MANY_DEVICES} <= kinds
    copied = as_json(run.outcome.copied_page)
    assert (copied["level"], copied["reason"]) == ("warning", "suspected_copy")
    refused = httpx.get(f"{run.settings.api_url}/inspectors/alerts/unit",
                        params={"unit": run.outcome.copied_unit}, timeout=10)  # fmt: skip
    assert refused.status_code == 401


def test_the_office_takes_a_dossier_to_a_recognition_and_sees_the_province(run: Run):
    dossier = run.outcome.dossier
    assert dossier is not None
    assert (dossier.score, dossier.stars) == (Decimal("76.83"), 4)
    # former Thái Bình in November 2023, as the news items reported it
    thai_binh = run.outcome.thai_binh_2023
    assert (thai_binh["rated"], thai_binh["rated_by_stars"]) == (138, {"3": 90, "4": 48, "5": 0})
    # the recognition on the desk today is Hưng Yên's, which includes former Thái Bình
    assert run.outcome.hung_yen_today["place"]["provinces"]


def test_a_packed_unit_is_in_the_public_log_cosigned_by_both_witnesses(run: Run, tmp_path):
    check = run.outcome.log_check
    names = [name for name, _ in WITNESSES]
    assert check is not None
    assert check.status is LogStatus.RECORDED, check
    assert sorted(check.witnessed_by) == sorted(names)
    assert check.index is not None
    assert check.size is not None
    assert check.index < check.size
    # each witness ran as its own command and kept what it cosigned
    folder = run.settings.folder
    assert all((folder / "witness-state" / name).exists() for name in names)
    cosigned = httpx.get(f"{run.settings.api_url}/log/checkpoint/cosigned", timeout=10)
    assert cosigned.status_code == 200, cosigned.text
    assert all(f"\u2014 {name} " in cosigned.text for name in names)
    # the offline verifier, as an inspector runs it on the proof the API serves
    label = run.outcome.logged_label
    proof = httpx.get(unit_proof_url(run.settings.api_url, label), timeout=10)
    assert proof.status_code == 200, proof.text
    (tmp_path / "unit.proof").write_text(proof.text)
    done = subprocess.run(
        [str(VENV_BIN / "ocop-verify"), label, "--trust-list", str(folder / "trust-list.json"),
         "--root-key", str(folder / "root.pub"), "--log-proof", str(tmp_path / "unit.proof")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded in the public log at position" in done.stdout
    assert all(name in done.stdout for name in names)


def test_the_offline_verifier_fetches_the_proof_and_status_list_when_told_online(run: Run):
    """`ocop-verify --online`: the unit's log proof and the signed status list come from the
    API itself, each checked as if given as a file (the root key is still the only trust)."""
    folder = run.settings.folder
    done = subprocess.run(
        [str(VENV_BIN / "ocop-verify"), run.outcome.logged_label, "--json",
         "--trust-list", str(folder / "trust-list.json"), "--root-key", str(folder / "root.pub"),
         "--online", run.settings.api_url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["reason"] == "genuine"
    assert result["log"]["status"] == LogStatus.RECORDED
    assert sorted(result["log"]["witnessed_by"]) == sorted(name for name, _ in WITNESSES)
    assert result["status_list"]["stale"] is False
    # a base URL that answers nothing is an error, not a verdict without the log
    unreachable = subprocess.run(
        [str(VENV_BIN / "ocop-verify"), run.outcome.logged_label,
         "--trust-list", str(folder / "trust-list.json"), "--root-key", str(folder / "root.pub"),
         "--online", f"http://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert unreachable.returncode == 2, unreachable.stdout + unreachable.stderr
    assert "không tải được http://127.0.0.1:" in unreachable.stderr
    assert "cannot fetch" in unreachable.stderr
