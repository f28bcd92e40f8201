"""The verify API on the real stack: `ocop-api` as its own process, reading what a real
worker stored from real Kafka events, and sending its scans and findings back through Kafka.

`Storefront` sets up the shop's world through the pipeline: a fresh trust list, three
certified products of one producer, batches of signed labels packed through the worker, and
inspectors registered by the authority. test_api_browser.py uses it too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract import identifiers
from contract.certification import ProductGroup
from contract.events import (
    BatchClosed,
    BatchShipped,
    CertificationIssued,
    CertificationRevoked,
    InspectorRegistered,
    InspectorRole,
    ProductRegistered,
)
from contract.label import LabelBatch, SignedLabel
from infra.settings import StackSettings
from keys import certs
from keys.certs import utc_now
from keys.chain import ChainRecord, verify_chain
from keys.ids import decode_public_key
from keys.signing import LabelSigner, SigningKey
from keys.trustlist import TrustList, build_trust_list
from tests.integration.pipeline import (
    VENV_BIN,
    Pipeline,
    free_port,
    opened,
    packed,
    stop_process,
    wait_for,
)
from tests.world import HOST, NOW, PACKED_ON, PRODUCER, PRODUCT, World

DOWNGRADED = "/p/TB-BANHCAY-01"
REVOKED = "/p/TB-BANHDA-02"
SALT = "integration-device-salt-0123"
TOKENS = {
    "inspector": ("QLTT-TB-07", InspectorRole.INSPECTOR, True, "token-of-an-inspector-0123456789"),
    "supervisor": (
        "QLTT-TB-01",
        InspectorRole.SUPERVISOR,
        True,
        "token-of-a-supervisor-0123456789",
    ),
    "withdrawn": (
        "QLTT-TB-09",
        InspectorRole.INSPECTOR,
        False,
        "token-withdrawn-by-the-office-012",
    ),
}
JSON = {"Accept": "application/json"}


class Storefront:
    """What a shop shelf needs from the pipeline, sent as the authority and producer would."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.world = w = pipeline.world
        pipeline.publish_authority_setup()
        # the setup's list was issued on the world's day; verdicts now need a fresh one
        self.trust_list = build_trust_list(
            w.root, version=2, authorities=w.authorities, producer_keys=w.producer_keys,
            certifications=w.certifications, now=utc_now(),
        )  # fmt: skip
        pipeline.send("trust", b"trust-list", self.trust_list)
        self.awards = {PRODUCT: w.certifications[0]}
        for number, product in enumerate((DOWNGRADED, REVOKED), start=1):
            pipeline.send_signed("authority", w.provincial, _product(product))
            pipeline.flush()
            self.wait_for_product(product)
            award = w.award(stars=4, score="78.5", number=f"{number}00/GCN", product=product)
            self.awards[product] = award
            self.issue(award)
        for inspector_id, role, active, token in TOKENS.values():
            registration = InspectorRegistered(
                event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34",
                inspector_id=inspector_id, name="Nguyễn Văn An", role=role,
                token_sha256=hashlib.sha256(token.encode()).hexdigest(), active=active,
            )  # fmt: skip
            pipeline.send_signed("authority", w.provincial, registration)
        pipeline.flush()
        digests = [hashlib.sha256(token.encode()).hexdigest() for *_, token in TOKENS.values()]
        wait_for("the inspectors to be stored", lambda: all(map(pipeline.inspector, digests)))
        for product in self.awards:
            self.wait_for_certifications(product, 1)

    def wait_for_product(self, product: str) -> None:
        reader = self.pipeline.reader
        wait_for(f"product {product}", lambda: asyncio.run(reader.product(product)))

    def wait_for_certifications(self, product: str, count: int, revoked: int = 0) -> None:
        def stored() -> bool:
            found = asyncio.run(self.pipeline.reader.certifications(product))
            return len(found) >= count and sum(1 for s in found if s.revocation) >= revoked

        wait_for(f"{count} certification(s) of {product}", stored)

    def issue(self, award: Any) -> None:
        event = CertificationIssued(
            event_id=uuid.uuid4(), occurred_at=utc_now(), certification=award
        )
        self.pipeline.send_signed("authority", self.world.provincial, event)
        self.pipeline.flush()

    def pack(
        self, product: str, lot: str, count: int, *, shipped_to: str | None = None
    ) -> list[SignedLabel]:
        """Labels signed at the station and packed through the worker (and shipped, if asked)."""
        w = self.world
        signer = LabelSigner(
            w.producer, LabelBatch(HOST, product, lot, PACKED_ON, 4, w.producer.key_id)
        )
        labels = [signer.sign() for _ in range(count)]
        batch = identifiers.batch_id(product, lot)
        events: list[Any] = [
            opened(lot, product, production_date=date(2025, 3, 9), expiry_date=date(2030, 3, 9)),
            packed(
                w,
                0,
                lot,
                batch_id=batch,
                serials=tuple(label.serial for label in labels),
                label_digests=tuple(label.digest for label in labels),
            ),
        ]
        if shipped_to:
            events += [
                BatchClosed(
                    event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=2), batch_id=batch,
                    producer_id=PRODUCER, units_packed=count,
                ),
                BatchShipped(
                    event_id=uuid.uuid4(), occurred_at=NOW + timedelta(hours=3), batch_id=batch,
                    producer_id=PRODUCER, shipment_id="SHIP-001", to_party=shipped_to,
                    units=count,
                ),
            ]  # fmt: skip
        for event in events:
            self.pipeline.send_signed("batch", w.producer, event)
        self.pipeline.flush()
        self.pipeline.wait_for_head(batch, len(events))
        return labels

    def downgrade(self, product: str) -> None:
        lower = self.world.award(
            stars=3, score="61", number="101/GCN", product=product,
            valid_from=utc_now() - timedelta(hours=1),
        )  # fmt: skip
        self.issue(lower)
        self.wait_for_certifications(product, 2)

    def revoke(self, product: str) -> None:
        when = utc_now() - timedelta(hours=1)
        revocation = certs.revoke_certification(
            self.world.provincial, self.awards[product].body, decision_no="47/QĐ-UBND",
            reason="sản phẩm không duy trì chất lượng", effective_at=when, now=when,
        )  # fmt: skip
        event = CertificationRevoked(
            event_id=uuid.uuid4(), occurred_at=utc_now(), revocation=revocation
        )
        self.pipeline.send_signed("authority", self.world.provincial, event)
        self.pipeline.flush()
        self.wait_for_certifications(product, 1, revoked=1)


def _product(product: str) -> ProductRegistered:
    return ProductRegistered(
        event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34", product_key=product,
        producer_id=PRODUCER, name="Bánh cáy làng Nguyễn", name_en="Nguyen village crab cake",
        product_group=ProductGroup.FOOD,
    )  # fmt: skip


class ApiProcess:
    """`ocop-api` on a free port, with the pipeline's keyspace and scan topic."""

    def __init__(self, pipeline: Pipeline, folder: Path, **settings: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / "api.log"
        env = (
            pipeline.env
            | {
                "OCOP_RESOLVER_HOST": HOST,
                "OCOP_DEVICE_SALT": SALT,
                "OCOP_RATE_LIMIT_PER_S": "200",
                "OCOP_RATE_LIMIT_BURST": "400",
            }
            | {f"OCOP_{name.upper()}": value for name, value in settings.items()}
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "ocop-api"), "--port", str(self.port), "--log-level", "warning"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("the API to hold the fresh trust list", self._ready, timeout_s=60)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"ocop-api exited:\n{self.log.read_text()[-3000:]}")
        try:
            health = httpx.get(f"{self.base}/health/ready", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool(health["trust_list"] and health["trust_list"]["version"] == 2)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)

    def stop(self) -> None:
        stop_process(self.process, timeout_s=20)


def path_of(label: SignedLabel) -> str:
    return label.url.removeprefix(f"https://{HOST}")


@pytest.fixture(scope="module")
def shop(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess]]:
    with opened_shop(stack_settings, tmp_path_factory.mktemp("api")) as opened:
        yield opened


@contextmanager
def opened_shop(
    stack_settings: StackSettings, folder: Path, **api_settings: str
) -> Iterator[tuple[Storefront, ApiProcess]]:
    """A pipeline with its worker, a new world's storefront, and `ocop-api` over them (with
    these OCOP_* settings); all stopped afterwards. The shops of other test modules."""
    with world_shop(World(), stack_settings, folder, **api_settings) as opened:
        yield opened


@contextmanager
def world_shop(
    world: World, stack_settings: StackSettings, folder: Path, **api_settings: str
) -> Iterator[tuple[Storefront, ApiProcess]]:
    """`opened_shop` of a given world (whose keys a test needs before the API starts)."""
    pipeline = Pipeline(stack_settings, folder, world)
    api = None
    try:
        pipeline.start_worker()
        storefront = Storefront(pipeline)
        api = ApiProcess(pipeline, folder, **api_settings)
        yield storefront, api
    finally:
        if api is not None:
            api.stop()
        pipeline.close()


@pytest.fixture
def client(shop) -> Iterator[httpx.Client]:
    with shop[1].client() as http:
        yield http


def test_a_packed_unit_resolves_with_its_provenance(shop, client: httpx.Client):
    storefront, _ = shop
    labels = storefront.pack(PRODUCT, "L2503API01", 3, shipped_to="Siêu thị BigC Thái Bình")
    device = {"X-Device-Id": "phone-of-a-shopper-0001"}
    response = client.get(path_of(labels[1]) + "&province=Thái Bình", headers=JSON | device)
    assert response.status_code == 200
    body = response.json()
    assert (body["level"], body["reason"]) == ("genuine", "genuine")
    assert (body["stars"]["printed"], body["stars"]["current"]) == (4, 4)
    assert body["stars"]["certificate"]["certificate_no"] == "123/GCN-UBND"
    assert body["product"]["name"] == "Mắm cáy Hồng Tiến"
    producer = body["producer"]
    assert (producer["name"], producer["commune"], producer["district"], producer["province"]) == (
        "HTX Hồng Tiến", "Xã Hồng Tiến", "Huyện Kiến Xương", "Thái Bình",
    )  # fmt: skip
    story = body["batch"]["story"]
    assert [(s["kind"], s["units"]) for s in story] == [
        ("batch_opened", 2000), ("units_packed", 3), ("batch_closed", 3), ("batch_shipped", 3),
    ]  # fmt: skip
    assert story[3]["party"] == "Siêu thị BigC Thái Bình"
    assert body["batch"]["raw_materials"][0]["origin"] == "Xã Nam Hưng, Tiền Hải"
    assert body["packed_in_record"] == 2

    # the chain behind the story, re-verified here from the JSON alone
    chain = client.get(body["links"]["provenance"]).json()
    assert chain["check"]["ok"], chain["check"]
    records = [
        ChainRecord(
            chain["batch_id"],
            r["seq"],
            r["event"].encode(),
            bytes.fromhex(r["prev_hash"]),
            bytes.fromhex(r["record_hash"]),
            base64.urlsafe_b64decode(r["seal"] + "=="),
            r["sealed_by"],
        )
        for r in chain["records"]
    ]
    keys = {kid: decode_public_key(text) for kid, text in chain["seal_keys"].items()}
    head = (chain["head_seq"], bytes.fromhex(chain["head_hash"]))
    assert verify_chain(chain["batch_id"], records, keys, head=head).ok
    assert storefront.pipeline.seal_key.key_id in keys

    history = client.get(body["links"]["certifications"]).json()
    assert (history["current"], [e["change"] for e in history["history"]]) == (
        "in_force", ["awarded"],
    )  # fmt: skip

    # the scan went through Kafka to the worker: the unit now has a scan history, with the
    # place the phone offered and a keyed hash of its device id, never the id itself
    unit = identifiers.unit_key(PRODUCT, labels[1].serial)
    stored = wait_for(
        "the scan to be stored",
        lambda: storefront.pipeline.session.execute(
            "SELECT province, device, scanner, reason FROM scans_by_unit WHERE unit_key = %s",
            (unit,),
        ).one(),
    )
    hashed = hmac.new(SALT.encode(), b"phone-of-a-shopper-0001", hashlib.sha256).hexdigest()
    assert (stored.province, stored.device, stored.scanner, stored.reason) == (
        "Thái Bình", hashed, "consumer", "genuine",
    )  # fmt: skip
    assert client.get(path_of(labels[1]), headers=JSON).json()["scans"]["count"] >= 1


def test_a_downgraded_product_shows_the_printed_and_the_current_rating(shop, client):
    storefront, _ = shop
    (label,) = storefront.pack(DOWNGRADED, "L2503DOWN1", 1)
    assert client.get(path_of(label), headers=JSON).json()["level"] == "genuine"
    storefront.downgrade(DOWNGRADED)

    def warned() -> dict[str, Any] | None:  # shared facts are cached for a few seconds
        body: dict[str, Any] = client.get(path_of(label), headers=JSON).json()
        return body if body["level"] == "warning" else None

    body = wait_for("the downgrade to show", warned, timeout_s=30)
    assert body["reason"] == "rating_downgraded"
    stars = body["stars"]
    assert (stars["printed"], stars["current"], stars["status"]) == (4, 3, "in_force")
    assert [(e["change"], e["stars"]) for e in stars["history"]] == [
        ("awarded", 4), ("downgraded", 3),
    ]  # fmt: skip
    page = client.get(path_of(label) + "&lang=en").text
    assert "Warning" in page
    assert "Downgraded to 3 stars" in page


def test_a_revoked_product_shows_the_revocation_and_a_warning(shop, client):
    storefront, _ = shop
    (label,) = storefront.pack(REVOKED, "L2503REVK1", 1)
    storefront.revoke(REVOKED)

    def warned() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(path_of(label), headers=JSON).json()
        return body if body["level"] == "warning" else None

    body = wait_for("the revocation to show", warned, timeout_s=30)
    assert body["reason"] == "certification_revoked"
    stars = body["stars"]
    assert (stars["printed"], stars["current"], stars["status"]) == (4, 0, "revoked")
    assert stars["revocation"]["decision_no"] == "47/QĐ-UBND"
    assert stars["history"][-1]["change"] == "revoked"
    page = client.get(path_of(label)).text
    assert "Cảnh báo" in page
    assert "đã bị thu hồi từ" in page


def test_a_forged_label_is_refused(shop, client):
    storefront, _ = shop
    (label,) = storefront.pack(PRODUCT, "L2503FORG1", 1)
    more_stars = path_of(label).replace("&s=4&", "&s=5&")
    forged = client.get(more_stars, headers=JSON)
    assert forged.status_code == 200
    assert (forged.json()["level"], forged.json()["reason"]) == ("counterfeit", "bad_signature")
    assert forged.json()["product"] is None
    assert "nghi hàng giả" in client.get(more_stars).text

    # once the batch is held, a copy of its real serial with any other signature is still refused
    assert client.get(path_of(label), headers=JSON).json()["reason"] == "genuine"
    resigned = storefront.world.producer.private_key.sign(b"not this label")
    copied = SignedLabel(label.batch, label.serial, resigned)
    assert client.get(path_of(copied), headers=JSON).json()["reason"] == "bad_signature"

    stranger = SigningKey.generate()
    foreign = LabelSigner(
        stranger, LabelBatch(HOST, PRODUCT, "L2503FORG1", PACKED_ON, 4, stranger.key_id)
    ).sign(label.serial)  # a real serial, signed by a key no authority certified
    assert client.get(path_of(foreign), headers=JSON).json()["reason"] == "unknown_key"

    malformed = client.get(path_of(label).replace("/01/08931234567897/", "/01/08931234567890/"))
    assert malformed.status_code == 400
    # a lot of the product: the GS1 resolver sends it on to the product's links (307)
    assert client.get("/01/08931234567897/10/x", headers=JSON).status_code == 307
    assert client.get("/02/08931234567897/10/x", headers=JSON).status_code == 404
    assert client.get("/01/" + "9" * 3000, headers=JSON).status_code == 414
    too_big = client.post("/verify", content=b"{" + b" " * 100_000 + b"}", headers=JSON)
    assert (too_big.status_code, too_big.json()["error"]) == (413, "body_too_large")


def test_inspector_endpoints_refuse_a_missing_or_wrong_token(shop, client):
    storefront, _ = shop
    (label,) = storefront.pack(PRODUCT, "L2503INSP1", 1)
    unit = identifiers.unit_key(PRODUCT, label.serial)
    finding = {"code": label.url, "stars_seen": 4, "verdict": "genuine",
               "place": "Chợ Bo, TP Thái Bình", "province": "Thái Bình"}  # fmt: skip
    bearer = {name: {"Authorization": f"Bearer {token}"} for name, (*_, token) in TOKENS.items()}
    wrong = {"Authorization": "Bearer not-the-token-of-anyone-at-all"}
    for headers in ({}, wrong, bearer["withdrawn"]):
        assert (
            client.post("/inspectors/inspections", json=finding, headers=headers).status_code == 401
        )
        assert client.get("/inspectors/me", headers=headers).status_code == 401
        assert (
            client.get(f"/inspectors/inspections?unit={unit}", headers=headers).status_code == 401
        )

    accepted = client.post("/inspectors/inspections", json=finding, headers=bearer["inspector"])
    assert accepted.status_code == 202
    assert accepted.json()["reason"] == "genuine"
    stored = wait_for("the finding to be stored", lambda: storefront.pipeline.inspections(unit))
    assert (stored[0].inspector_id, stored[0].place) == ("QLTT-TB-07", "Chợ Bo, TP Thái Bình")

    url = f"/inspectors/inspections?unit={unit}"
    assert client.get(url, headers=bearer["inspector"]).status_code == 403
    listed = client.get(url, headers=bearer["supervisor"]).json()
    assert listed["inspections"][0]["inspector_id"] == "QLTT-TB-07"


def test_the_trust_list_downloads_and_verifies_under_the_root(shop, client):
    storefront, _ = shop
    response = client.get("/.well-known/ocop-trust-list")
    assert response.status_code == 200
    trust = TrustList.load(response.content, root_public_key=storefront.world.root.public_key)
    assert trust.version == 2
    assert response.content == storefront.trust_list


def test_a_never_packed_code_raises_an_alert_an_inspector_reads_and_closes(shop, client):
    storefront, _ = shop
    stray = storefront.world.label()  # the producer's real key, a serial no packing named
    unit = identifiers.unit_key(PRODUCT, stray.serial)
    assert client.get(path_of(stray) + "&province=Thái Bình", headers=JSON).json()["reason"] == (
        "not_packed"
    )
    headers = {"Authorization": f"Bearer {TOKENS['inspector'][3]}"}

    def listed() -> list[dict[str, Any]]:
        found = client.get("/inspectors/alerts/unit", params={"unit": unit}, headers=headers)
        alerts: list[dict[str, Any]] = found.json()["alerts"]
        return alerts

    (alert,) = wait_for("analytics to raise the alert", listed)
    assert (alert["kind"], alert["status"], alert["province"]) == (
        "never_packed", "open", "Thái Bình",
    )  # fmt: skip
    assert storefront.pipeline.open_alerts(unit) == {"never_packed"}  # what a scan reads
    closing = {"unit_key": unit, "finding": "counterfeit", "note": "tem in trái phép"}
    closed = client.post(f"/inspectors/alerts/{alert['alert_id']}/close", json=closing,
                         headers=headers)  # fmt: skip
    assert closed.status_code == 202

    def is_closed() -> dict[str, Any] | None:
        (now,) = listed()
        return now if now["status"] == "closed" else None

    final = wait_for("the closing to be stored", is_closed)
    assert (final["closed_by"], final["finding"]) == ("QLTT-TB-07", "counterfeit")
    assert storefront.pipeline.open_alerts(unit) == frozenset()


# -- what one client can and cannot make other people see --------------------------------------

FAR_APART = ["Hà Nội", "Cà Mau", "Lào Cai", "Hồ Chí Minh", "Điện Biên", "Kiên Giang", "Cao Bằng"]


def from_address(api: ApiProcess, address: str) -> httpx.Client:
    """A client whose requests come from its own loopback address: its own network."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=api.base, timeout=10, transport=transport)


def scans_stored(storefront: Storefront, unit: str) -> int:
    rows = storefront.pipeline.session.execute(
        "SELECT COUNT(*) FROM scans_by_unit WHERE unit_key = %s", (unit,)
    ).one()
    return int(rows[0])


def copy_evidence(storefront: Storefront, unit: str) -> frozenset[str]:
    return asyncio.run(storefront.pipeline.reader.unit_activity(unit)).copy_evidence


def test_one_client_cannot_make_a_genuine_unit_look_copied(shop):
    """Cookie-less page views (a new device each), invented device ids and far-apart claimed
    provinces, all from one network: another shopper is still told the unit is genuine."""
    storefront, api = shop
    (label,) = storefront.pack(PRODUCT, "L2503POIS1", 1)
    path, unit = path_of(label), identifiers.unit_key(PRODUCT, label.serial)
    with from_address(api, "127.0.0.2") as stranger:
        for _ in range(7):  # a browser without our cookie: a new device id every time
            stranger.cookies.clear()
            assert stranger.get(path, headers={"Accept": "text/html"}).status_code == 200
        for n in range(7):
            stranger.get(path, headers=JSON | {"X-Device-Id": f"invented-device-{n:04d}"})
        for province in FAR_APART[:2]:
            stranger.get(path + f"&province={province}", headers=JSON)
    wait_for("the stranger's 16 scans to be analysed", lambda: scans_stored(storefront, unit) >= 16)
    time.sleep(1)  # the alerts of the last scan, if any, are written with it
    assert copy_evidence(storefront, unit) == frozenset()
    with from_address(api, "127.0.0.3") as shopper:
        body = shopper.get(path + "&province=Thái Bình", headers=JSON).json()
    assert (body["level"], body["reason"]) == ("genuine", "genuine")
    assert body["scans"]["count"] <= 3  # one client's scans count once per window


def test_the_same_signals_from_independent_clients_warn_of_a_copy(shop):
    storefront, api = shop
    (label,) = storefront.pack(PRODUCT, "L2503POIS2", 1)
    path, unit = path_of(label), identifiers.unit_key(PRODUCT, label.serial)
    for n, province in enumerate(FAR_APART):
        with from_address(api, f"127.0.0.{10 + n}") as phone:
            phone.get(path + f"&province={province}", headers=JSON)
    evidence = wait_for("corroborated copy evidence", lambda: copy_evidence(storefront, unit))
    assert evidence
    with from_address(api, "127.0.0.3") as shopper:
        body = shopper.get(path, headers=JSON).json()
    assert (body["level"], body["reason"]) == ("warning", "suspected_copy")
