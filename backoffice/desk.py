"""The OCOP office's evaluation desk: the evaluation cycle's steps (contract.evaluation) typed
in by the office's staff (role `office`), signed with the desk's key and sent through Kafka to
the processors, which apply them (stream_processors.evaluation).

| route (under /inspect) | what |
|---|---|
| `GET /office/dossiers` | the council's dossiers, newest submission first |
| `GET /office/dossiers/new`, `POST /office/dossiers` | a producer's dossier lodged |
| `GET /office/dossiers/{id}` | its steps, where it stands, the form for its next step |
| `POST /office/dossiers/{id}/precheck` | the commune's pre-check: passed or returned |
| `POST /office/dossiers/{id}/score` | one council member's score sheet (parts A, B, C) |
| `POST /office/dossiers/{id}/decide` | the council's decision: recognise, propose, decline |

Why a desk key: this web process must never hold the council's own key, which certifies stars.
The council certifies a desk key for its desk (keys.certs), which may sign the cycle's steps
and nothing else; the certificate that a recognition leads to is still signed by the
council's key (`ocop-keys certify`).

Every step is judged here by the same rules, with the same context (keys.councils.fold),
before it is sent: a refused step gets the rules' reason in both languages and nothing is
sent. Its event id is a UUIDv5 of the dossier and the step's content, so a step resent after
an unconfirmed delivery is one step.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints
from starlette.datastructures import State
from starlette.responses import RedirectResponse, Response

from backoffice.forms import F, Form, checked, read_form
from backoffice.routes import page_for, signed_in_visit
from contract import admin_map
from contract.certification import EvaluationLevel, ProductGroup, stars_for_score
from contract.encoding import model_bytes
from contract.evaluation import (
    CentralRecognised,
    CommunePreChecked,
    DossierSubmitted,
    Evaluation,
    EvaluationEvent,
    EvaluationRefused,
    MemberScored,
    PreCheckCriterion,
    ProposedToCentral,
    ProvinceDeclined,
    ProvinceRecognised,
    Purpose,
    Stage,
)
from contract.events import InspectorRole
from contract.fields import Identifier, ProductKey, Score, Text
from contract.label import vietnam_date
from contract.verdict import Lang
from keys.certs import utc_now
from keys.councils import fold
from keys.keystore import Keystore
from keys.signing import SigningKey
from records.dossiers import DossierReader, DossierRow, DossierStep
from verify_api.errors import ApiError, ErrorCode
from verify_api.events import DeliveryUnconfirmed, EventsUnavailable
from verify_api.settings import ApiSettings

router = APIRouter(prefix="/office")
OFFICE = frozenset({InspectorRole.OFFICE})
_STEP_IDS = uuid.UUID("5f0c7f3e-6a0e-4a35-9a4e-0c0c0f0e0d0a")
"""The namespace of the steps' UUIDv5 event ids."""


@dataclass(frozen=True)
class Desk:
    """The council whose desk this is, and the key its steps are signed with."""

    council_id: str
    key: SigningKey


def open_desk(settings: ApiSettings) -> Desk | None:
    """The desk the settings name (all four OCOP_DESK_* or none: ApiSettings checks)."""
    if settings.desk_council is None or settings.desk_keystore is None:
        return None
    assert settings.desk_key_id is not None
    assert settings.desk_passphrase is not None
    key = Keystore(settings.desk_keystore).load(
        settings.desk_key_id, settings.desk_passphrase.get_secret_value()
    )
    return Desk(settings.desk_council, key)


# -- what the forms send -------------------------------------------------------------------------

Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SubmissionForm(Form):
    dossier_id: Identifier
    product_key: ProductKey
    producer_id: Identifier
    product_name: Text
    product_group: ProductGroup
    raw_material_origin: Text
    standards: Annotated[str, StringConstraints(min_length=1, max_length=600)]
    """One per line (a TCVN, QCVN or the producer's own TCCS)."""
    commune: Text
    province: Text
    submitted_on: date
    purpose: Purpose = Purpose.FIRST


class PreCheckForm(Form):
    """The commune's findings, one checkbox each (none ticked: passed)."""

    local_raw_materials: bool = False
    local_labour: bool = False
    idea_origin: bool = False
    local_identity: bool = False
    note: Line | None = None

    def findings(self) -> tuple[PreCheckCriterion, ...]:
        return tuple(c for c in PreCheckCriterion if getattr(self, c.value))


class ScoreForm(Form):
    member_id: Identifier
    part_a: Score
    part_b: Score
    part_c: Score


class DecisionForm(Form):
    action: Annotated[str, Field(pattern=r"^(recognise|propose|decline)$")]
    decided_on: date
    decision_no: Line | None = None
    certificate_no: Line | None = None
    note: Line | None = None


# -- reading --------------------------------------------------------------------------------------


async def _reader(state: State) -> DossierReader:
    """The dossiers' reader on the host's records session, prepared on first use."""
    held: DossierReader | None = getattr(state, "dossiers", None)
    if held is None:
        session = state.services.store.session
        held = state.dossiers = await asyncio.to_thread(DossierReader, session)
    return held


def _desk(request: Request) -> Desk:
    desk: Desk | None = request.app.state.desk
    if desk is None:
        raise ApiError(ErrorCode.DESK_NOT_CONFIGURED)
    return desk


def _host(request: Request) -> State:
    state: State = request.app.state.workspace.host.state
    return state


async def _dossier(request: Request, dossier_id: str) -> tuple[list[DossierStep], Evaluation]:
    steps = await (await _reader(_host(request))).steps(dossier_id)
    if not steps:
        raise ApiError(ErrorCode.UNKNOWN_DOSSIER, dossier_id)
    trust = (await _host(request).services.trust.get()).trust
    submitted = steps[0].event
    assert isinstance(submitted, DossierSubmitted)
    return steps, fold(trust, {submitted.producer_id}, [step.event for step in steps])


# -- pages ----------------------------------------------------------------------------------------


@router.get("/dossiers")
async def dossiers(request: Request) -> Response:
    visit = await signed_in_visit(request, roles=OFFICE)
    desk = _desk(request)
    # the list of the council that answers today: Hưng Yên's holds former Thái Bình's
    listed = admin_map.successor_authority(desk.council_id)
    rows: list[DossierRow] = await (await _reader(_host(request))).dossiers_of(listed)
    return page_for(
        request, visit, "desk_list.html", rows=rows, council=desk.council_id,
        province=admin_map.province_answering_now(desk.council_id),
    )  # fmt: skip


@router.get("/dossiers/new")
async def new_dossier(request: Request) -> Response:
    visit = await signed_in_visit(request, roles=OFFICE)
    _desk(request)
    return page_for(
        request, visit, "desk_new.html", groups=list(ProductGroup), purposes=list(Purpose),
        today=vietnam_date(utc_now()),
    )  # fmt: skip


@router.get("/dossiers/{dossier_id}")
async def dossier(request: Request, dossier_id: str) -> Response:
    visit = await signed_in_visit(request, roles=OFFICE)
    desk = _desk(request)
    sent = request.query_params.get("sent")
    if sent == "dossier_submitted" and not await (await _reader(_host(request))).steps(dossier_id):
        # sent a moment ago, not yet stored by the processors: a page that looks again
        return page_for(request, visit, "desk_pending.html", dossier_id=dossier_id)
    steps, evaluation = await _dossier(request, dossier_id)
    return page_for(
        request, visit, "desk_dossier.html", steps=steps, e=evaluation, council=desk.council_id,
        stage=evaluation.stage.value, next_step=_next_step(evaluation, desk),
        banded=_banded(evaluation), findings=list(PreCheckCriterion),
        sent=sent, today=vietnam_date(utc_now()),
    )  # fmt: skip


def _next_step(evaluation: Evaluation, desk: Desk) -> str | None:
    """Which form the dossier's page offers: the stage's, if this desk's council may take it."""
    national = admin_map.province_answering_now(desk.council_id) is None
    stage = evaluation.stage
    if stage in (Stage.AWAITING_PRECHECK, Stage.RETURNED) and not national:
        return "precheck"
    if (stage is Stage.PROVINCIAL and not national) or (stage is Stage.NATIONAL and national):
        return "score"
    return None


def _banded(evaluation: Evaluation) -> tuple[Decimal, int] | None:
    """The council's score at the open level and the stars its band gives."""
    level = evaluation.scores[-1].level if evaluation.scores else None
    score = evaluation.council_score(level) if level is not None else None
    return (score, stars_for_score(score)) if score is not None else None


# -- steps ----------------------------------------------------------------------------------------


@router.post("/dossiers")
async def submit(request: Request) -> Response:
    form = await read_form(request)
    await signed_in_visit(request, form, roles=OFFICE)
    desk = _desk(request)
    asked = checked(SubmissionForm, form)
    standards = tuple(line.strip() for line in asked.standards.splitlines() if line.strip())
    event = DossierSubmitted(
        **_step_fields(desk, asked.dossier_id, asked.product_key, "dossier_submitted", form),
        producer_id=asked.producer_id, product_name=asked.product_name,
        product_group=asked.product_group, raw_material_origin=asked.raw_material_origin,
        standards=standards, commune=asked.commune, province=asked.province,
        submitted_on=asked.submitted_on, purpose=asked.purpose,
    )  # fmt: skip
    producer = await _host(request).services.store.producer(asked.producer_id)
    trust = (await _host(request).services.trust.get()).trust
    known = {asked.producer_id} if producer is not None else set()
    existing = await (await _reader(_host(request))).steps(asked.dossier_id)
    if existing:
        raise ApiError(ErrorCode.DOSSIER_EXISTS, asked.dossier_id)
    _judged(lambda: fold(trust, known, [event]))
    return await _send(request, desk, event)


@dataclass(frozen=True)
class _OpenDossier:
    """A dossier a step is being taken on: the desk, its stored steps, where it stands, and
    the fields every step of it carries (`_step_fields`)."""

    desk: Desk
    steps: list[DossierStep]
    evaluation: Evaluation
    fields: dict[str, Any]


async def _taking(
    request: Request, dossier_id: str, model: type[F], step: str
) -> tuple[F, _OpenDossier]:
    """A step's form, checked (the session, its CSRF token, the office role, the fields),
    and the dossier it is for."""
    form = await read_form(request)
    await signed_in_visit(request, form, roles=OFFICE)
    desk = _desk(request)
    asked = checked(model, form)
    steps, evaluation = await _dossier(request, dossier_id)
    fields = _step_fields(desk, dossier_id, evaluation.dossier.product_key, step, form)
    return asked, _OpenDossier(desk, steps, evaluation, fields)


@router.post("/dossiers/{dossier_id}/precheck")
async def precheck(request: Request, dossier_id: str) -> Response:
    asked, open_ = await _taking(request, dossier_id, PreCheckForm, "precheck")
    event = CommunePreChecked(**open_.fields, findings=asked.findings(), note=asked.note)
    return await _then(request, open_, event)


@router.post("/dossiers/{dossier_id}/score")
async def score(request: Request, dossier_id: str) -> Response:
    asked, open_ = await _taking(request, dossier_id, ScoreForm, "score")
    national = open_.evaluation.stage is Stage.NATIONAL
    event = MemberScored(
        **open_.fields,
        level=EvaluationLevel.NATIONAL if national else EvaluationLevel.PROVINCIAL,
        member_id=asked.member_id,
        part_a=asked.part_a, part_b=asked.part_b, part_c=asked.part_c,
    )  # fmt: skip
    return await _then(request, open_, event)


@router.post("/dossiers/{dossier_id}/decide")
async def decide(request: Request, dossier_id: str) -> Response:
    asked, open_ = await _taking(request, dossier_id, DecisionForm, "decide")
    # no score yet: the rules refuse the decision, with their reason
    council_score, stars = _banded(open_.evaluation) or (Decimal(0), 0)
    common = open_.fields | {"decided_on": asked.decided_on, "score": council_score}
    numbers = {"decision_no": asked.decision_no or "", "certificate_no": asked.certificate_no or ""}
    event: EvaluationEvent
    if asked.action == "decline":
        event = ProvinceDeclined(**common, note=asked.note)
    elif open_.evaluation.stage is Stage.NATIONAL:
        event = CentralRecognised(**common, **numbers)
    elif asked.action == "propose":
        event = ProposedToCentral(**common, decision_no=numbers["decision_no"])
    else:
        event = ProvinceRecognised(**common, stars=stars, **numbers)
    return await _then(request, open_, event)


def _step_fields(
    desk: Desk, dossier_id: str, product_key: str, step: str, form: dict[str, str]
) -> dict[str, Any]:
    """What every step has: an event id that is the same for the same step sent twice."""
    content = "\n".join(f"{k}={v}" for k, v in sorted(form.items()) if k != "csrf")
    name = f"{desk.council_id}\n{dossier_id}\n{step}\n{content}"
    return {
        "event_id": uuid.uuid5(_STEP_IDS, name),
        "occurred_at": utc_now(),
        "dossier_id": dossier_id,
        "product_key": product_key,
        "authority_id": desk.council_id,
    }


def _judged(folding: Any) -> None:
    """The rules' refusal as the desk's error (422, both languages); nothing is sent."""
    try:
        folding()
    except EvaluationRefused as refused:
        detail = f"{refused.reason.sentence(Lang.VI)} / {refused.reason.sentence(Lang.EN)}"
        raise ApiError(ErrorCode.STEP_REFUSED, f"{refused.reason.value}: {detail}") from None


async def _then(request: Request, open_: _OpenDossier, event: EvaluationEvent) -> Response:
    trust = (await _host(request).services.trust.get()).trust
    producers = {open_.evaluation.dossier.producer_id}
    _judged(lambda: fold(trust, producers, [*(s.event for s in open_.steps), event]))
    return await _send(request, open_.desk, event)


async def _send(request: Request, desk: Desk, event: EvaluationEvent) -> Response:
    signed = model_bytes(desk.key.sign_document(event))
    settings: ApiSettings = request.app.state.workspace.settings
    events = _host(request).services.events
    try:
        await events.deliver_to(settings.authority_topic, event.topic_key(), signed, event.event_id)
    except DeliveryUnconfirmed as exc:
        raise ApiError(ErrorCode.FINDING_UNCONFIRMED, str(exc)) from None
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.EVENTS_UNAVAILABLE, str(exc)) from None
    base = str(request.scope.get("root_path") or "")
    target = f"{base}/office/dossiers/{event.dossier_id}?sent={event.type}"
    return RedirectResponse(target, status_code=303)
