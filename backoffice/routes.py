"""The workspace's pages. GETs only read; every POST checks the session's CSRF token before
anything else is done, and a refused session or form sends nothing.

| route | what |
| --- | --- |
| `GET /` | the sign-in form (with its pre-session), or the scan page once signed in |
| `POST /sign-in`, `POST /sign-out` | a session from the office's token; its end |
| `POST /check` | a scanned or typed code (recorded as an inspector's scan): the verdict, what |
|  | inspectors see (scan history, open alerts, earlier findings), the finding form |
| `POST /findings` | a finding, sent as the API sends one (routes.inspectors.send_finding) |
| `GET /alerts` | the province's alerts and consumers' cases, newest first, by kind and |
|  | status, each closable (a case's list shows no consumer's contact) |
| `POST /alerts/{id}/close` | a closing, sent as the API sends one (routes.alerts.send_closing) |
| `POST /cases/{id}/close` | a case's closing, as the API sends one |
|  | (routes.cases.send_case_closing) |
| `GET /static/{name}` | the stylesheet, scan.js and the vendored decoder |
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from backoffice.forms import (
    SUGGESTED,
    AlertFilter,
    CaseCloseForm,
    CheckForm,
    CloseForm,
    FindingForm,
    FormRefused,
    Outcome,
    SignInForm,
    checked,
    read_form,
    split_note,
    tagged_note,
)
from backoffice.i18n import STRINGS
from backoffice.pages import ASSETS, Assets, chosen_language, render
from backoffice.session import (
    COOKIE,
    PATH,
    Refusal,
    Refused,
    Session,
    Sessions,
    inspector_of,
    with_language,
)
from contract import gs1, identifiers
from contract.alerts import AlertKind
from contract.events import InspectorRole, ScannerKind
from contract.label import vietnam_date
from contract.verdict import Category, Lang
from keys.certs import utc_now
from records.cases import CaseRow
from records.rows import AlertRow, Inspector
from verify_api.deps import FIELD_ROLES, _authenticated, client_network, province_of, role_of
from verify_api.errors import ApiError, ErrorCode
from verify_api.routes.alerts import send_closing
from verify_api.routes.cases import cases_of, send_case_closing
from verify_api.routes.inspectors import client_key, recent_findings, send_finding
from verify_api.schemas import AlertClosing, CaseClosing, InspectionIn
from verify_api.services import Services
from verify_api.settings import ApiSettings

router = APIRouter()

ENDS_SESSION = frozenset(
    {Refusal.MALFORMED, Refusal.FORGED, Refusal.EXPIRED, Refusal.WITHDRAWN, Refusal.FORBIDDEN}
)
"""Refusals after which the cookie is cleared: the next visit starts at the sign-in form."""
RESEND = frozenset({ErrorCode.EVENTS_UNAVAILABLE, ErrorCode.FINDING_UNCONFIRMED})
"""A finding or closing not known to be stored: the page offers to send it again, unchanged."""
ALERTS_PER_DAY = 200
CASES_PER_DAY = 200
FINDINGS_SHOWN = 10


@dataclass
class Workspace:
    """What the workspace holds; the services are the host's (opened by its lifespan)."""

    settings: ApiSettings
    sessions: Sessions
    assets: Assets
    host: FastAPI

    @property
    def services(self) -> Services:
        services: Services = self.host.state.services
        return services


@dataclass(frozen=True)
class Visit:
    """A signed-in request: its session, the inspector as the records hold them now, the
    language of the answer and the session's CSRF token (for the page's forms)."""

    session: Session
    inspector: Inspector
    lang: Lang
    csrf: str


def _workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


def _base(request: Request) -> str:
    """Where the workspace is mounted (/inspect), from the scope: it may also run apart."""
    return str(request.scope.get("root_path") or "")


def _session(request: Request, workspace: Workspace) -> Session | None:
    value = request.cookies.get(COOKIE)
    return None if value is None else workspace.sessions.decode(value)


async def signed_in_visit(
    request: Request,
    form: dict[str, str] | None = None,
    roles: frozenset[InspectorRole] = FIELD_ROLES,
) -> Visit:
    """The signed-in visit, or `Refused`: the cookie first (signature, expiry), then, for a
    form, its CSRF token, then the inspector by the token's hash (withdrawn: refused), then
    the inspector's role (`roles`: the field's by default)."""
    workspace = _workspace(request)
    session = _session(request, workspace)
    if session is None or not session.signed_in:
        raise Refused(Refusal.SIGNED_OUT)
    if form is not None:
        workspace.sessions.check_csrf(session, form.get("csrf"))
    inspector = await inspector_of(session, workspace.services.store)
    if role_of(inspector) not in roles:
        raise Refused(Refusal.FORBIDDEN, f"role {inspector.role!r}")
    lang = chosen_language(request, session.lang)
    return Visit(session, inspector, lang, workspace.sessions.csrf_token(session))


def _set_cookie(response: Response, request: Request, session: Session) -> None:
    workspace = _workspace(request)
    response.set_cookie(
        COOKIE,
        workspace.sessions.encode(session),
        max_age=workspace.sessions.max_age(session),
        path=_base(request) or PATH,
        secure=workspace.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=_base(request) or PATH,
        secure=_workspace(request).settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _context(request: Request, lang: Lang, here: str | None = None) -> dict[str, Any]:
    base = _base(request)
    assets = _workspace(request).assets
    return {
        "base": base,
        "lang": lang,
        "t": STRINGS[lang],
        "other": Lang.EN if lang is Lang.VI else Lang.VI,
        "here": here if here is not None else request.url.path,
        "asset": lambda name: assets.url(base, name),
        "inspector": None,
        "csrf": "",
    }


def page_for(
    request: Request,
    visit: Visit,
    template: str,
    *,
    status: int = 200,
    here: str | None = None,
    **values: Any,
) -> Response:
    """A signed-in page; a language chosen with ?lang= is kept in the session."""
    context = _context(request, visit.lang, here) | {
        "inspector": visit.inspector,
        "csrf": visit.csrf,
        "province": visit.session.province,
    }
    response = render(template, status, **(context | values))
    if visit.lang is not visit.session.lang:
        _set_cookie(response, request, with_language(visit.session, visit.lang))
    return response


def _see_other(request: Request, path: str = "/") -> RedirectResponse:
    return RedirectResponse(_base(request) + path, status_code=303)


# -- refusals and errors: a page in both languages --------------------------------------------


def _error(
    request: Request,
    status: int,
    code: str,
    sentences: tuple[str, str],
    detail: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    context = _context(request, Lang.VI, _base(request) + "/")
    response = render(
        "error.html", status, **context, code=code, vi=sentences[0], en=sentences[1],
        detail=detail[:300], strings=STRINGS,
    )  # fmt: skip
    response.headers.update(headers or {})
    return response


def refusal_page(request: Request, refused: Refused) -> Response:
    if refused.reason is Refusal.SIGNED_OUT and request.method in ("GET", "HEAD"):
        return _see_other(request)
    reason = refused.reason
    sentences = (reason.sentence(Lang.VI), reason.sentence(Lang.EN))
    response = _error(request, reason.status, reason.value, sentences, refused.detail)
    if reason in ENDS_SESSION:
        _clear_cookie(response, request)
    return response


def form_page(request: Request, refused: FormRefused) -> Response:
    code = ErrorCode.INVALID_REQUEST
    sentences = (code.sentence(Lang.VI), code.sentence(Lang.EN))
    return _error(request, 422, code.value, sentences, ", ".join(refused.fields))


def api_error_page(
    request: Request, code: ErrorCode, detail: str = "", headers: dict[str, str] | None = None
) -> Response:
    sentences = (code.sentence(Lang.VI), code.sentence(Lang.EN))
    return _error(request, int(code.status), code.value, sentences, detail, headers)


# -- signing in and out ---------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    workspace = _workspace(request)
    session = _session(request, workspace)
    if session is not None and session.signed_in:
        visit = await signed_in_visit(request, roles=frozenset(InspectorRole))
        if role_of(visit.inspector) is InspectorRole.OFFICE:  # the desk and dashboard are theirs
            desk = request.app.state.desk is not None
            return _see_other(request, "/office/dossiers" if desk else "/office/dashboard")
        return page_for(request, visit, "scan.html")
    lang = chosen_language(request, session.lang if session else None)
    pre = workspace.sessions.pre_session(lang) if session is None else session
    return _sign_in_page(request, with_language(pre, lang))


def _sign_in_page(request: Request, pre: Session, *, status: int = 200) -> Response:
    workspace = _workspace(request)
    context = _context(request, pre.lang, _base(request) + "/")
    hours = f"{workspace.settings.workspace_session_h:g}"
    response = render("signin.html", status, **(context | {
        "csrf": workspace.sessions.csrf_token(pre), "hours": hours, "refused": status != 200,
        "refused_text": Refusal.SIGN_IN_REFUSED.sentence(pre.lang),
    }))  # fmt: skip
    _set_cookie(response, request, pre)
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    workspace = _workspace(request)
    form = await read_form(request)
    pre = _session(request, workspace)
    if pre is None:  # no sign-in form was rendered for this browser
        raise Refused(Refusal.NO_CSRF, "no pre-session")
    workspace.sessions.check_csrf(pre, form.get("csrf"))
    asked = checked(SignInForm, form)
    lang = chosen_language(request, pre.lang)
    store = workspace.services.store
    try:  # the Bearer API's check: format, the hash looked up, active
        inspector = await _authenticated(f"Bearer {asked.token}", store)
    except ApiError:
        inspector = None
    if inspector is None:
        return _sign_in_page(request, with_language(pre, lang), status=401)
    if role_of(inspector) is None:
        raise Refused(Refusal.FORBIDDEN, f"role {inspector.role!r}")
    digest = hashlib.sha256(asked.token.encode("ascii")).hexdigest()
    session = workspace.sessions.sign_in(digest, inspector.province or asked.province, lang)
    response = _see_other(request)
    _set_cookie(response, request, session)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    workspace = _workspace(request)
    form = await read_form(request)
    session = _session(request, workspace)
    if session is None:
        raise Refused(Refusal.SIGNED_OUT)
    workspace.sessions.check_csrf(session, form.get("csrf"))
    response = _see_other(request)
    _clear_cookie(response, request)
    return response


# -- scan, verdict, finding -----------------------------------------------------------------


def registry_gtin(text: str) -> str | None:
    """The GTIN-14 of a pack's barcode (EAN-13, or EAN-8, UPC-A, GTIN-14) with a good check
    digit; None for anything else."""
    if not text.isdigit():
        return None
    try:
        return gs1.normalize_gtin(text)
    except ValueError:
        return None


@router.post("/check")
async def check(request: Request) -> Response:
    form = await read_form(request)
    visit = await signed_in_visit(request, form)
    asked = checked(CheckForm, form)
    services = _workspace(request).services
    now = utc_now()
    resolved = await services.resolve(asked.code, now)
    services.record_scan(  # an inspector's scan, kept apart from consumers' (as /verify does)
        resolved, asked.code, now, scanner=ScannerKind.INSPECTOR,
        province=visit.session.province, location=None, device_id=None,
        network=client_network(request, services.settings.trusted_proxies),
    )  # fmt: skip
    r = resolved.resolution
    unit = None
    if resolved.unit is not None and r.label is not None:
        unit = identifiers.unit_key(r.label.product_key, r.label.serial)
    # where the processors file what concerns this code: its unit, or the code's hash
    filed = unit or hashlib.sha256(asked.code.encode("utf-8")).hexdigest()
    alerts, findings = await asyncio.gather(
        services.store.alerts_for_unit(filed), services.store.inspections(filed, FINDINGS_SHOWN)
    )
    gtin = registry_gtin(asked.code) if r.category is Category.NOT_OURS else None
    return page_for(
        request, visit, "verdict.html", here=_base(request) + "/", r=r, code=asked.code,
        via=asked.via, unit=unit, gtin=gtin,
        open_alerts=[a for a in alerts if a.status == "open"],
        findings=[(f, *split_note(f.note)) for f in findings],
        outcomes=list(Outcome), suggested=SUGGESTED.get(r.reason, Outcome.GENUINE),
        printed=r.label.printed_stars if r.label else 0, key=str(uuid.uuid4()),
        alert_sentence=_alert_sentence,
    )  # fmt: skip


def _alert_sentence(kind: str, lang: Lang) -> str:
    try:
        return AlertKind(kind).sentence(lang)
    except ValueError:
        return kind


@router.post("/findings")
async def record(request: Request) -> Response:
    form = await read_form(request)
    visit = await signed_in_visit(request, form)
    finding = checked(FindingForm, form)
    workspace = _workspace(request)
    body = InspectionIn(
        code=finding.code, stars_seen=finding.stars, verdict=finding.outcome.verdict,
        place=finding.shop, province=finding.province, location=None,
        note=tagged_note(finding.outcome, finding.note),
    )  # fmt: skip
    key = client_key(finding.key, [finding.key])
    try:
        accepted = await send_finding(
            body, visit.inspector, workspace.services, recent_findings(request), key
        )
    except ApiError as exc:
        if exc.code not in RESEND:
            raise
        return page_for(request, visit, "resend.html", status=int(exc.code.status),
                     here=_base(request) + "/", action="/findings", fields=form,
                     vi=exc.code.sentence(Lang.VI), en=exc.code.sentence(Lang.EN))  # fmt: skip
    return page_for(request, visit, "recorded.html", status=202, here=_base(request) + "/",
                 accepted=accepted, outcome=finding.outcome)  # fmt: skip


# -- triage ---------------------------------------------------------------------------------


@router.get("/alerts")
async def alerts(request: Request) -> Response:
    visit = await signed_in_visit(request)
    asked = checked(AlertFilter, dict(request.query_params))
    province = province_of(visit.inspector, asked.province or visit.session.province)
    store = _workspace(request).services.store
    today = vietnam_date(utc_now())
    days = [today - timedelta(days=n) for n in range(asked.days)]
    found = await asyncio.gather(*(store.alerts_on(province, d, ALERTS_PER_DAY) for d in days))
    rows: list[AlertRow] = sorted(
        (row for day in found for row in day), key=lambda row: row.raised_at, reverse=True
    )
    shown = [
        row for row in rows
        if (asked.kind is None or row.kind == asked.kind)
        and (asked.status == "any" or row.status == asked.status)
    ]  # fmt: skip
    cases: list[CaseRow] = []
    if province is not None:  # cases are filed by the province where the product was bought
        reader = await cases_of(_workspace(request).host.state)
        filed = await asyncio.gather(*(reader.cases_on(province, d, CASES_PER_DAY) for d in days))
        cases = sorted(
            (row for day in filed for row in day
             if asked.status == "any" or row.status == asked.status),
            key=lambda row: row.reported_at, reverse=True,
        )  # fmt: skip
    return page_for(
        request, visit, "alerts.html", alerts=shown, asked=asked, shown_province=province,
        kinds=[kind.value for kind in AlertKind], outcomes=list(Outcome),
        alert_sentence=_alert_sentence, cases=cases,
    )  # fmt: skip


@router.post("/alerts/{alert_id}/close")
async def close(request: Request, alert_id: uuid.UUID) -> Response:
    form = await read_form(request)
    visit = await signed_in_visit(request, form)
    closing = checked(CloseForm, form)
    body = AlertClosing(
        unit_key=closing.unit_key, finding=closing.outcome.verdict,
        note=tagged_note(closing.outcome, closing.note),
    )  # fmt: skip
    try:
        accepted = await send_closing(alert_id, body, visit.inspector, _workspace(request).services)
    except ApiError as exc:
        if exc.code not in RESEND:
            raise
        return page_for(request, visit, "resend.html", status=int(exc.code.status),
                     here=_base(request) + "/alerts", action=f"/alerts/{alert_id}/close",
                     fields=form, vi=exc.code.sentence(Lang.VI),
                     en=exc.code.sentence(Lang.EN))  # fmt: skip
    return page_for(request, visit, "closed.html", status=202, here=_base(request) + "/alerts",
                 accepted=accepted)  # fmt: skip


@router.post("/cases/{case_id}/close")
async def close_case(request: Request, case_id: uuid.UUID) -> Response:
    form = await read_form(request)
    visit = await signed_in_visit(request, form)
    closing = checked(CaseCloseForm, form)
    body = CaseClosing(
        finding=closing.outcome.verdict, note=tagged_note(closing.outcome, closing.note)
    )
    workspace = _workspace(request)
    reader = await cases_of(workspace.host.state)
    try:
        accepted = await send_case_closing(
            case_id, body, visit.inspector, workspace.services, reader
        )
    except ApiError as exc:
        if exc.code not in RESEND:
            raise
        return page_for(request, visit, "resend.html", status=int(exc.code.status),
                     here=_base(request) + "/alerts", action=f"/cases/{case_id}/close",
                     fields=form, vi=exc.code.sentence(Lang.VI),
                     en=exc.code.sentence(Lang.EN))  # fmt: skip
    return page_for(request, visit, "closed.html", status=202, here=_base(request) + "/alerts",
                 accepted=accepted, heading=STRINGS[visit.lang]["case_closed"])  # fmt: skip


# -- files ----------------------------------------------------------------------------------


@router.get("/static/{name}")
async def static(request: Request, name: str) -> Response:
    if name not in ASSETS:
        raise ApiError(ErrorCode.NOT_FOUND)
    return _workspace(request).assets.response(request, name)
