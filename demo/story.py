"""The main job: the whole OCOP story on the local stack, step by step.

1. the stack: Kafka, Cassandra, schema, topics
2. the authorities' keys (made once, then reused) and the trust list
3. the stream processors, the verify API and the audit log's writer, in the background
4. registrations, certifications and an inspector, published on Kafka
5. five producers pack a batch each, labels printed to PDF, events through their outboxes
6. consumers scan labels in shops; the processors have sealed every batch's chain
7. a province council revokes a rating: its labels now show a warning
8. a copied label is scanned in far-apart provinces by seven phones on seven networks:
   corroborated copy alerts, and a warning for consumers
9. the OCOP office, as of today: a former Thái Bình producer's dossier through Hưng Yên's
   evaluation desk to a recognition; the province at a glance, former Thái Bình in
   November 2023 (the news items' figures) and Hưng Yên today
10. the public audit log: a genuine unit's packing record, in a checkpoint the log's writer
    signed and both witnesses cosigned, its proof checked as `ocop-verify --log-proof` does
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contract import identifiers
from contract.alerts import AlertKind
from demo import office as office_desk
from demo import public_log, services
from demo.authority import Office, open_office, product_key_of
from demo.cast import COPIED, PRODUCTS, REVOKED, Product
from demo.packing import PackedBatch, pack
from demo.parties import publish_parties
from demo.province_load import load_province
from demo.settings import DemoSettings
from demo.shoppers import Shopper, local_page, phone_network
from infra import stack
from infra.process import StackError
from infra.schema import migrate
from infra.topics import apply_topics
from keys.publish import AuthorityPublisher
from keys.verifier import LogCheck
from records.rows import AlertRow
from records.session import connect
from records.store import RecordReader

T = TypeVar("T")
Say = Callable[[str], None]
Advance = Callable[[int], None]


@dataclass
class Outcome:
    first_run: bool
    batches: list[PackedBatch] = field(default_factory=list)
    genuine_scans: int = 0
    genuine_page: str = ""
    revoked_page: str = ""
    revoked_verdict: dict[str, Any] = field(default_factory=dict)
    copied_page: str = ""
    copied_unit: str = ""
    alerts: list[AlertRow] = field(default_factory=list)
    inspector_token: str = ""
    trust_version: int = 0
    dossier: office_desk.DeskOutcome | None = None
    thai_binh_2023: dict[str, Any] = field(default_factory=dict)
    hung_yen_today: dict[str, Any] = field(default_factory=dict)
    logged_label: str = ""
    log_check: LogCheck | None = None
    seconds: float = 0.0


class Story:
    def __init__(
        self, settings: DemoSettings, say: Say, progress: Callable[[int], Advance]
    ) -> None:
        self.settings = settings
        self.say = say
        self.progress = progress

    def run(self) -> Outcome:
        t0 = time.monotonic()
        s = self.settings
        self.say("1/10 Kafka and Cassandra, schema and topics")
        stack.up(s, report=lambda line: self.say(f"    {line}"))
        migrate(s)
        apply_topics(s)

        self.say("2/10 the authorities' keys and the trust list")
        office, first = open_office(s.folder)
        version = _next_version(s.folder)
        outcome = Outcome(first_run=first, inspector_token=office.inspector_token)
        self.say(
            f"    {'made' if first else 'reused'} in {s.folder} (root key {office.root.key_id})"
        )

        self.say("3/10 the stream processors, the verify API and the audit log's writer")
        worker = services.start(
            services.worker(s, office), f"http://127.0.0.1:{s.worker_port}/metrics"
        )
        api = services.start(services.api(s, office), f"{s.api_url}/health/live")
        writer = services.start(
            services.log_writer(s, office), f"{s.api_url}/log/checkpoint", ready_below=300
        )
        for started in (worker, api, writer):
            how = "already running" if started.already_running else "started"
            self.say(f"    {started.name}: {how} (pid {started.pid})")

        self.say("4/10 registrations, certifications and an inspector, published")
        publisher = AuthorityPublisher(
            s.kafka_bootstrap, authority_topic=s.authority_topic, trust_topic=s.trust_topic
        )
        cluster, session = connect(s, keyspace=s.keyspace)
        reader = RecordReader(session)
        try:
            sent = office.publish_all(publisher, version)
            sent += publish_parties(office, publisher)  # GLNs, brands, standards, images
            outcome.trust_version = version
            self.say(f"    {sent} documents, trust list version {version}")
            self._wait("the API to hold the trust list", lambda: _health_ok(s.api_url))
            for product in PRODUCTS:
                self._wait(f"{product.name} to be certified", partial(_certified, reader, product))

            self.say("5/10 packing: labels printed, scanned at the packing table, shipped")
            advance = self.progress(sum(p.units for p in PRODUCTS))
            for product in PRODUCTS:
                outcome.batches.append(pack(s, office, product, advance))
            for batch in outcome.batches:
                self.say(f"    {batch.product.name}: {len(batch.urls)} labels, QR "
                         f"{batch.qr_version}, {batch.pdf}")  # fmt: skip

            self.say("6/10 consumers scan labels in shops")
            for batch in outcome.batches:
                self._wait(
                    f"the records of {batch.batch_id}", partial(_received, reader, batch.batch_id)
                )
            outcome.genuine_scans = self._shoppers_scan(outcome.batches)
            by_code = {b.product.code: b for b in outcome.batches}
            outcome.genuine_page = local_page(s.api_url, by_code["GAOTBR39"].urls[0])
            self.say(f"    {outcome.genuine_scans} scans, every one genuine")

            self.say("7/10 a council revokes the rating of one product")
            revoked = by_code[REVOKED]
            kept = s.folder / "revoked-label"
            if office.revoked(revoked.product) is None:
                office.publish_revocation(publisher, revoked.product, _next_version(s.folder))
                outcome.trust_version += 1
                kept.write_text(revoked.urls[0])
            else:
                self.say("    revoked in an earlier run; its labels print no stars since")
            label = kept.read_text()
            outcome.revoked_page = local_page(s.api_url, label)
            with phone_network("127.0.7.1") as network:
                shopper = Shopper(network, s.api_url, "demo-phone-revoked", "Thái Bình")
                outcome.revoked_verdict = self._wait(
                    "the revocation to show", lambda: _warned(shopper.scan(label))
                )
            self.say(f"    {revoked.product.name}: {outcome.revoked_verdict['sentence']['en']}")

            self.say("8/10 a copied label is scanned in far-apart provinces")
            copied = by_code[COPIED]
            outcome.copied_page = local_page(s.api_url, copied.urls[1])
            outcome.copied_unit = _unit_key(copied.urls[1])
            self._copy_scans(copied.urls[1])
            outcome.alerts = self._wait(
                "both alerts on the copied code, corroborated",
                partial(_alerted, reader, outcome.copied_unit),
            )
            for alert in outcome.alerts:
                how = "corroborated" if alert.corroborated else "unconfirmed"
                self.say(f"    alert {alert.kind} ({how}, {alert.clients} clients): "
                         f"{alert.detail}")  # fmt: skip

            self.say(
                "9/10 the OCOP office: Hưng Yên's evaluation desk and the province at a glance"
            )
            outcome.dossier = office_desk.take_a_dossier(s.api_url, office, publisher, self._wait)
            self.say(f"    dossier {outcome.dossier.dossier_id}: council's score "
                     f"{outcome.dossier.score}, recognised 4★, certificate "
                     f"{outcome.dossier.certificate_no} signed by Hưng Yên's council")  # fmt: skip
            loaded = load_province(publisher, office.councils, now=datetime.now(UTC))
            self.say(f"    province data: {loaded.producers} producers, {loaded.products} "
                     "products, their certifications")  # fmt: skip
            outcome.thai_binh_2023 = self._wait(
                "former Thái Bình's figures of November 2023",
                partial(_figures, s.api_url, office, "Thái Bình", "2023-11-30", THAI_BINH_RATED),
            )
            outcome.hung_yen_today = office_desk.dashboard(s.api_url, office, "Hưng Yên")
            for place, figures in (("Thái Bình, 2023-11-30", outcome.thai_binh_2023),
                                   ("Hưng Yên today", outcome.hung_yen_today)):  # fmt: skip
                self.say(f"    {place}: {_summary_of(figures)}")

            self.say("10/10 the public audit log: a genuine unit's record, witnessed")
            outcome.logged_label = by_code["GAOTBR39"].urls[0]
            outcome.log_check = self._wait(
                "the unit's record in a checkpoint both witnesses cosigned (witnesses' logs: "
                "ocop-witness.*.out)",
                partial(public_log.witnessed, s, office, outcome.logged_label),
            )
            self.say(f"    {_unit_key(outcome.logged_label)}: {outcome.log_check.sentence()}")
        finally:
            publisher.close()
            cluster.shutdown()
        outcome.seconds = time.monotonic() - t0
        return outcome

    def _shoppers_scan(self, batches: list[PackedBatch]) -> int:
        """Each shopper on a network of its own (127.0.6.N), as shoppers in shops are."""
        count = 0
        for n, batch in enumerate(batches):
            for i, url in enumerate(batch.urls[2:5]):
                with phone_network(f"127.0.6.{3 * n + i + 1}") as network:
                    phone = Shopper(network, self.settings.api_url, f"demo-phone-{n}-{i}",
                                    batch.product.sold_in)  # fmt: skip
                    verdict = phone.scan(url)
                if verdict["level"] != "genuine":
                    raise StackError(f"a genuine label was answered {verdict['level']}: "
                                     f"{verdict['detail']}")  # fmt: skip
                count += 1
        return count

    def _copy_scans(self, label_url: str) -> None:
        """Seven phones, each on its own network (127.0.8.N): seven independent clients, so
        the copy alerts are corroborated and consumers are warned. One client sending seven
        device ids and places would raise nothing a consumer sees."""
        places = ["Thái Bình", "Hồ Chí Minh", "Đà Nẵng", "Hà Nội", "Cần Thơ", "Lào Cai", "Huế"]
        for n, province in enumerate(places):
            with phone_network(f"127.0.8.{n + 1}") as network:
                Shopper(network, self.settings.api_url, f"demo-copy-{n}", province).scan(label_url)

    def _wait(self, what: str, probe: Callable[[], T | None], timeout_s: float = 120.0) -> T:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.3)
        refused = _refused(self.settings.worker_port)
        raise StackError(
            f"timed out after {timeout_s:.0f} s waiting for {what}. The processors refused: "
            f"{refused or 'nothing'} (the events are on {self.settings.dead_letter_topic} "
            "with the reason); "
            f"logs in {self.settings.services_folder / 'logs'}"
        )


THAI_BINH_RATED = 138
"""Former Thái Bình's OCOP products in November 2023 (the news items': 48 at 4★, 90 at 3★)."""


def _figures(api_url: str, office: Office, province: str, at: str, rated: int) -> Any:
    """The dashboard's figures once the province data is in (`rated` products rated)."""
    figures = office_desk.dashboard(api_url, office, province, at)
    return figures if _rated(figures) >= rated else None


def _rated(figures: Any) -> int:
    return int(figures["rated"])


def _summary_of(figures: Any) -> str:
    by_stars = ", ".join(f"{n}★ {count}" for n, count in figures["rated_by_stars"].items())
    return f"{_rated(figures)} OCOP products in force ({by_stars})"


def _refused(port: int) -> dict[str, int]:
    """What the processors refused, by reason, from their Prometheus metrics."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        families = list(text_string_to_metric_families(text))
    except (httpx.HTTPError, ValueError):
        return {}
    return {
        sample.labels["reason"]: int(sample.value)
        for family in families
        for sample in family.samples
        if sample.name == "ocop_worker_refused_total"
    }


def _awaited(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _health_ok(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health/ready", timeout=3).status_code == 200
    except (httpx.HTTPError, ValueError):
        return False


def _certified(reader: RecordReader, product: Product) -> bool:
    return bool(_awaited(reader.certifications(product_key_of(product))))


def _alerted(reader: RecordReader, unit_key: str) -> list[AlertRow] | None:
    """Both copy alerts, corroborated, and so the copy evidence that warns consumers."""
    alerts: list[AlertRow] = _awaited(reader.alerts_for_unit(unit_key))
    expected = {AlertKind.IMPOSSIBLE_TRAVEL, AlertKind.TOO_MANY_DEVICES}
    if not expected <= {alert.kind for alert in alerts if alert.corroborated}:
        return None
    return alerts if _awaited(reader.unit_activity(unit_key)).copy_evidence else None


def _received(reader: RecordReader, batch_id: str) -> bool:
    state = _awaited(reader.batch(batch_id))
    return state is not None and state.status == "received"


def _warned(verdict: dict[str, Any]) -> dict[str, Any] | None:
    return verdict if verdict["level"] == "warning" else None


def _unit_key(label_url: str) -> str:
    path = label_url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
    product, _, serial = f"/{path}".partition("/10/")
    return identifiers.unit_key(product, serial.rsplit("/21/", 1)[1])


def _next_version(folder: Path) -> int:
    """Trust lists only move forward: every publication gets the next version number."""
    path = folder / "trust-version"
    version = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(f"{version}\n")
    return version
