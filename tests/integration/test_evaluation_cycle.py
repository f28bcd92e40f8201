"""The evaluation cycle on the real stack: the office's desk (backoffice.desk, in `ocop-api`)
signs each step of a dossier and sends it through real Kafka; the real worker applies the
rules and stores the steps in Cassandra; the council's key signs the certificate the decision
leads to; a packing station's labels then use it, and the API and the offline verifier show
it, as of today, under the council that answers for it since the 2025 reform.

The desk here is Thái Bình's council (VN-34, the test world's), digitising a 2024 dossier: a
decision of 2024 is its to take. A 2026 decision of VN-34 on a Thái Bình dossier is refused
(since 1 July 2025 Hưng Yên's council, VN-33, answers for Thái Bình), as are a member scoring
twice, a score over its part's maximum and a dossier for an unregistered producer: each with
the rules' reason, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract.certification import ProductGroup
from contract.events import (
    InspectorRegistered,
    InspectorRole,
    ProductRegistered,
)
from keys.certs import utc_now
from keys.councils import fold
from keys.keystore import Keystore
from keys.trustlist import TrustList, build_trust_list
from keys.verifier import verify_label
from records.dossiers import DossierReader, DossierStep
from tests.integration.pipeline import wait_for
from tests.integration.test_api_stack import JSON, ApiProcess, Storefront, path_of, world_shop
from tests.world import NOW, PRODUCER, World

PRODUCT_2024 = "/p/TB-MAMTOM-07"
OFFICE_TOKEN = "token-of-the-ocop-office-desk-0123456"
PASSPHRASE = "a passphrase for the test desk key"


class Desk:
    """The office's desk over HTTP, as a browser signed in with the office's token uses it
    (the session cookie kept by hand: it is Secure, and this is plain http to 127.0.0.1)."""

    def __init__(self, api: ApiProcess) -> None:
        self.http = httpx.Client(base_url=api.base + "/inspect", timeout=15)
        self.cookie = ""
        page = self.get("/")
        sent = {"csrf": _csrf(page.text), "token": OFFICE_TOKEN, "province": "Thái Bình"}
        signed_in = self.post("/sign-in", sent)
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/inspect/"
        assert self.get("/").headers["location"] == "/inspect/office/dossiers"

    def _keep(self, response: httpx.Response) -> httpx.Response:
        found = re.search(r"ocop_ws=([^;]*)", response.headers.get("set-cookie", ""))
        if found:
            self.cookie = found[1]
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": f"ocop_ws={self.cookie}"} if self.cookie else {}

    def get(self, path: str) -> httpx.Response:
        return self._keep(self.http.get(path, headers=self._headers()))

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        return self._keep(self.http.post(path, data=form, headers=self._headers()))

    def step(self, path: str, form: dict[str, str], page: str = "/office/dossiers/new") -> Any:
        """A form posted with the CSRF token of the page it is on."""
        return self.post(path, {"csrf": _csrf(self.get(page).text)} | form)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page[:500]
    return found[1]


@pytest.fixture(scope="module")
def office(stack_settings, tmp_path_factory) -> Iterator[tuple[Storefront, ApiProcess, Desk]]:
    folder = tmp_path_factory.mktemp("evaluation")
    world = World()
    # the desk signs with Thái Bình's council key here (a council's own key may sign every
    # step its desk key may)
    keystore = folder / "desk-keys"
    Keystore(keystore).save(world.provincial, PASSPHRASE)
    desk = {
        "desk_council": "VN-34", "desk_keystore": str(keystore),
        "desk_key_id": world.provincial.key_id, "desk_passphrase": PASSPHRASE,
    }  # fmt: skip
    with world_shop(world, stack_settings, folder, **desk) as (storefront, api):
        pipeline = storefront.pipeline
        registration = InspectorRegistered(
            event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34",
            inspector_id="VPDP-OCOP-TB-01", name="Trần Thị Bình", role=InspectorRole.OFFICE,
            token_sha256=hashlib.sha256(OFFICE_TOKEN.encode()).hexdigest(),
        )  # fmt: skip
        pipeline.send_signed("authority", world.provincial, registration)
        pipeline.flush()
        wait_for("the office's token", lambda: pipeline.inspector(registration.token_sha256))
        yield storefront, api, Desk(api)


def steps_of(storefront: Storefront, dossier_id: str) -> list[DossierStep]:
    reader = DossierReader(storefront.pipeline.reader.session)
    return asyncio.run(reader.steps(dossier_id))


def wait_for_steps(storefront: Storefront, dossier_id: str, count: int) -> list[DossierStep]:
    def stored() -> list[DossierStep] | None:
        found = steps_of(storefront, dossier_id)
        return found if len(found) >= count else None

    return wait_for(f"{count} step(s) of {dossier_id}", stored)


def _dossier(dossier_id: str, submitted_on: str, producer: str = PRODUCER) -> dict[str, str]:
    return {
        "dossier_id": dossier_id, "product_key": PRODUCT_2024, "producer_id": producer,
        "product_name": "Mắm tôm Hồng Tiến", "product_group": ProductGroup.FOOD.value,
        "raw_material_origin": "Ven biển Tiền Hải", "standards": "TCVN 8332:2010\nTCCS 02:2024/HTX",
        "commune": "Xã Hồng Tiến", "province": "Thái Bình", "submitted_on": submitted_on,
    }  # fmt: skip


def _sheet(member: str, a: str, b: str, c: str) -> dict[str, str]:
    return {"member_id": member, "part_a": a, "part_b": b, "part_c": c}


def test_a_dossier_goes_through_the_cycle_to_labels_the_api_and_verifier_show(office):
    storefront, api, desk = office
    pipeline, w = storefront.pipeline, storefront.world
    dossier = "HS-2024-TB-007"
    page = f"/office/dossiers/{dossier}"
    sent = desk.step("/office/dossiers", _dossier(dossier, "2024-09-02"))
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/inspect{page}?sent=dossier_submitted"
    wait_for_steps(storefront, dossier, 1)
    for member, parts in {"HD-01": ("30", "19", "27"), "HD-02": ("31", "20", "28.5"),
                          "HD-03": ("29", "18", "28")}.items():  # fmt: skip
        assert desk.step(f"{page}/score", _sheet(member, *parts), page).status_code == 303
        wait_for_steps(storefront, dossier, int(member[-1]) + 1)

    # refused with the rules' reason, nothing sent: a member twice, a part over its maximum
    twice = desk.step(f"{page}/score", _sheet("HD-02", "30", "20", "30"), page)
    assert (twice.status_code, "already_scored") == (422, _code(twice))
    over = desk.step(f"{page}/score", _sheet("HD-04", "41", "20", "30"), page)
    assert (over.status_code, "score_out_of_range") == (422, _code(over))

    listed = desk.get(page).text
    assert 'data-score="76.83"' in listed  # (76 + 79.5 + 75) / 3, rounded down
    decision = {"action": "recognise", "decided_on": "2024-10-15", "decision_no": "2345/QĐ-UBND",
                "certificate_no": "88/GCN-OCOP-TB"}  # fmt: skip
    assert desk.step(f"{page}/decide", decision, page).status_code == 303
    steps = wait_for_steps(storefront, dossier, 5)
    assert [s.event.type for s in steps] == [
        "dossier_submitted", "member_scored", "member_scored", "member_scored",
        "province_recognised",
    ]  # fmt: skip
    listing = desk.get("/office/dossiers").text
    assert f'id="dossier-{dossier}" data-stage="recognised"' in listing

    # the council's own key signs the certificate the decision leads to
    trust = TrustList.load(storefront.trust_list, root_public_key=w.root.public_key)
    evaluation = fold(trust, {PRODUCER}, [s.event for s in steps])
    certificate = w.provincial.sign_document(evaluation.certification())
    product = ProductRegistered(
        event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34", product_key=PRODUCT_2024,
        producer_id=PRODUCER, name="Mắm tôm Hồng Tiến", product_group=ProductGroup.FOOD,
    )  # fmt: skip
    pipeline.send_signed("authority", w.provincial, product)
    pipeline.flush()
    storefront.wait_for_product(PRODUCT_2024)
    storefront.issue(certificate)
    storefront.wait_for_certifications(PRODUCT_2024, 1)

    # labels packed in 2025 under it verify today (2026) in the API, under Hưng Yên's council
    (label,) = storefront.pack(PRODUCT_2024, "L2503MT01", 1)
    with api.client() as client:
        body = client.get(path_of(label), headers=JSON).json()
    assert (body["level"], body["reason"], body["stars"]["current"]) == ("genuine", "genuine", 4)
    held = body["stars"]["certificate"]
    assert (held["certificate_no"], held["authority_id"], held["score"]) == (
        "88/GCN-OCOP-TB", "VN-34", "76.83",
    )  # fmt: skip
    assert (held["responsible_now"], held["responsible_province"]) == ("VN-33", "Hưng Yên")
    assert held["valid_until"].startswith("2027-10-1")

    # and offline, with a trust list that carries the certificate
    offline = TrustList.load(
        build_trust_list(
            w.root, version=3, authorities=w.authorities, producer_keys=w.producer_keys,
            certifications=[*w.certifications, certificate], now=utc_now(),
        ),
        root_public_key=w.root.public_key,
    )  # fmt: skip
    verdict = verify_label(label.url, trust=offline)
    assert verdict.reason.value == "genuine", verdict


def test_a_2026_decision_by_thai_binhs_former_council_is_refused(office):
    storefront, _, desk = office
    dossier = "HS-2026-TB-011"
    page = f"/office/dossiers/{dossier}"
    assert desk.step("/office/dossiers", _dossier(dossier, "2026-11-02")).status_code == 303
    wait_for_steps(storefront, dossier, 1)
    # since Decision 1489 (2025), the commune's pre-check comes first
    early = desk.step(f"{page}/score", _sheet("HD-01", "30", "20", "25"), page)
    assert (early.status_code, _code(early)) == (422, "precheck_not_passed")
    assert desk.step(f"{page}/precheck", {}, page).status_code == 303  # nothing ticked: passed
    wait_for_steps(storefront, dossier, 2)
    assert desk.step(f"{page}/score", _sheet("HD-01", "30", "20", "25"), page).status_code == 303
    wait_for_steps(storefront, dossier, 3)
    decision = {"action": "recognise", "decided_on": "2026-11-30", "decision_no": "12/QĐ",
                "certificate_no": "1/GCN"}  # fmt: skip
    refused = desk.step(f"{page}/decide", decision, page)
    assert (refused.status_code, _code(refused)) == (422, "wrong_province")
    time.sleep(2)  # anything sent would be stored by now
    assert len(steps_of(storefront, dossier)) == 3


def test_bad_input_is_refused_and_nothing_is_sent(office):
    storefront, _, desk = office
    stranger = desk.step("/office/dossiers", _dossier("HS-X-1", "2026-11-02", "NOT-A-PRODUCER"))
    assert (stranger.status_code, _code(stranger)) == (422, "unregistered_producer")
    malformed = desk.step("/office/dossiers", _dossier("HS-X-2", "not a date"))
    assert malformed.status_code == 422
    no_csrf = desk.post("/office/dossiers", _dossier("HS-X-3", "2026-11-02"))
    assert no_csrf.status_code == 403
    unknown = desk.get("/office/dossiers/HS-NOWHERE")
    assert unknown.status_code == 404
    assert "Không có hồ sơ này" in unknown.text
    time.sleep(2)
    for dossier in ("HS-X-1", "HS-X-2", "HS-X-3"):
        assert steps_of(storefront, dossier) == []


def _code(response: httpx.Response) -> str:
    """The error's code: the rules' reason for a refused step, else the page's code."""
    found = re.search(r"step_refused \(([a-z_]+):", response.text) or re.search(
        r'data-code="([a-z_]+)"', response.text
    )
    assert found is not None, response.text[:800]
    return found[1]
