"""The demo's OCOP office at work, as of today: a dossier of a former Thái Bình producer taken
through Hưng Yên's evaluation desk (the API's back office, signed with the desk's key) to a
recognition, the certificate signed with Hưng Yên's council key; then the province at a
glance from the office's dashboard, for former Thái Bình at the news items' date
(2023-11-30) and for Hưng Yên today.

Everything goes through the system's own doors (the desk's forms over HTTP, Kafka, the
processors), as the office's staff would use them; nothing is written to Cassandra here.
A second run finds its dossier lodged already and goes on from where it stands.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from contract.certification import ProductGroup
from contract.events import CertificationIssued, ProductRegistered
from contract.label import vietnam_date
from demo.authority import Office
from keys import certs
from keys.publish import AuthorityPublisher

COUNCIL = "VN-33"
PRODUCER = "TB-HTX-HONGTIEN"
PRODUCT = "/p/TB-MAMTOM-HY01"
SHEETS = {"HD-01": ("31", "19", "26"), "HD-02": ("33", "20", "27.5"), "HD-03": ("30", "18", "26")}
"""Three members' parts A, B, C: a mean of 76.83, 4★."""


@dataclass(frozen=True)
class DeskOutcome:
    dossier_id: str
    score: Decimal
    stars: int
    certificate_no: str


class DeskClient:
    """The workspace over HTTP, signed in with the office's token (the demo's API is plain
    http, so its session cookie is not Secure and httpx keeps it)."""

    def __init__(self, api_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=api_url + "/inspect", timeout=15)
        page = self.http.get("/")
        sent = self.http.post("/sign-in", data={"csrf": _csrf(page.text), "token": token})
        if sent.status_code != 303:
            raise RuntimeError(f"the office could not sign in: {sent.status_code}")

    def post(self, path: str, form: dict[str, str], on: str) -> httpx.Response:
        """A form posted with the CSRF token of the page `on`."""
        return self.http.post(path, data={"csrf": _csrf(self.http.get(on).text)} | form)

    def close(self) -> None:
        self.http.close()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if found is None:
        raise RuntimeError("the page has no form token: is the office signed in?")
    return found[1]


def take_a_dossier(
    api_url: str, office: Office, publisher: AuthorityPublisher, wait: Any
) -> DeskOutcome:
    """Lodge, pre-check, score and decide one dossier on the desk; then the council signs
    its certificate. `wait(what, probe)` polls until probe() is not None."""
    today = vietnam_date(datetime.now(UTC))
    dossier_id = f"HS-{today:%Y%m%d}-HY-001"
    page = f"/office/dossiers/{dossier_id}"
    desk = DeskClient(api_url, office.office_token)
    try:
        stage = _stage(desk, page)
        if stage is None:
            lodged = desk.post("/office/dossiers", {
                "dossier_id": dossier_id, "product_key": PRODUCT, "producer_id": PRODUCER,
                "product_name": "Mắm tôm Hồng Tiến (minh họa)",
                "product_group": ProductGroup.FOOD.value,
                "raw_material_origin": "Ven biển Tiền Hải, Hưng Yên (minh họa)",
                "standards": "TCVN 8332:2010\nTCCS 02:2026/HTX (minh họa)",
                "commune": "Xã Hồng Tiến", "province": "Thái Bình",
                "submitted_on": today.isoformat(),
            }, on="/office/dossiers/new")  # fmt: skip
            _sent(lodged)
            stage = wait("the dossier to be recorded", lambda: _stage(desk, page))
        if stage == "awaiting_precheck":
            _sent(desk.post(f"{page}/precheck", {}, on=page))  # the commune found nothing
            stage = wait("the commune's pre-check", lambda: _stage(desk, page, not_=stage))
        for member, (a, b, c) in SHEETS.items():
            if stage != "provincial" or member in desk.http.get(page).text:
                continue
            form = {"member_id": member, "part_a": a, "part_b": b, "part_c": c}
            _sent(desk.post(f"{page}/score", form, on=page))
            wait(f"{member}'s score", lambda m=member: m in desk.http.get(page).text or None)
        certificate_no = f"{today:%y%m%d}/GCN-OCOP-HY"
        if stage == "provincial":
            _sent(desk.post(f"{page}/decide", {
                "action": "recognise", "decided_on": today.isoformat(),
                "decision_no": f"{today:%y%m%d}/QĐ-UBND (minh họa)",
                "certificate_no": certificate_no,
            }, on=page))  # fmt: skip
            wait("the council's decision", lambda: _stage(desk, page, not_=stage))
        score = Decimal(_attribute(desk.http.get(page).text, "data-score") or "0")
    finally:
        desk.close()
    _certify(office, publisher, certificate_no, score, dossier_id)
    return DeskOutcome(dossier_id, score, 4, certificate_no)


def _certify(
    office: Office, publisher: AuthorityPublisher, number: str, score: Decimal, dossier: str
) -> None:
    """The council's own key signs the certificate the decision leads to (the desk's key
    cannot): the product registered, then its recognition, 36 months from today."""
    now = datetime.now(UTC)
    council = office.councils[COUNCIL]
    publisher.event(council, ProductRegistered(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{PRODUCT}"), occurred_at=now,
        authority_id=COUNCIL, product_key=PRODUCT, producer_id=PRODUCER,
        name="Mắm tôm Hồng Tiến (minh họa)", product_group=ProductGroup.FOOD,
    ))  # fmt: skip
    certificate = certs.certify_product(
        council, authority_id=COUNCIL, certificate_no=number,
        decision_no=f"{dossier} (minh họa)", product_key=PRODUCT,
        product_name="Mắm tôm Hồng Tiến (minh họa)", product_group=ProductGroup.FOOD,
        producer_id=PRODUCER, stars=4, score=score, valid_from=now, now=now,
    )  # fmt: skip
    publisher.event(council, CertificationIssued(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{number}"), occurred_at=now,
        certification=certificate,
    ))  # fmt: skip
    publisher.flush()


def dashboard(api_url: str, office: Office, province: str, at: str | None = None) -> Any:
    """The office's dashboard figures (JSON) for a province at a date (today: None)."""
    desk = DeskClient(api_url, office.office_token)
    try:
        params = {"province": province, "format": "json"} | ({"at": at} if at else {})
        response = desk.http.get("/office/dashboard", params=params)
        response.raise_for_status()
        return response.json()
    finally:
        desk.close()


def _stage(desk: DeskClient, page: str, not_: str | None = None) -> str | None:
    """The dossier's stage as its page shows it (None: not recorded yet, or still `not_`)."""
    response = desk.http.get(page)
    if response.status_code == 404:
        return None
    stage = _attribute(response.text, "data-stage")
    return None if stage == not_ else stage


def _attribute(page: str, name: str) -> str | None:
    found = re.search(rf'{name}="([^"]*)"', page)
    return found[1] if found else None


def _sent(response: httpx.Response) -> None:
    if response.status_code != 303:
        found = re.search(r'<p class="small mono">([^<]*)</p>', response.text)
        raise RuntimeError(f"the desk refused a step: {found[1] if found else response.text}")
