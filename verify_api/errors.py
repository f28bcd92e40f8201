"""Errors the API answers with: a stable code, its HTTP status, a sentence in both languages.

A scanner app branches on the code; a person reads the sentence. Verdicts on labels are not
errors (a counterfeit is an answer), so they are not here: see contract.verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from contract.verdict import Lang
from verify_api.schemas import ErrorBody
from verify_api.trustcache import NoTrustList


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_BATCH = "unknown_batch"
    UNKNOWN_UNIT = "unknown_unit"
    BODY_TOO_LARGE = "body_too_large"
    URL_TOO_LONG = "url_too_long"
    RATE_LIMITED = "rate_limited"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NO_TRUST_LIST = "no_trust_list"
    STORE_UNAVAILABLE = "store_unavailable"
    TOO_SLOW = "too_slow"
    EVENTS_UNAVAILABLE = "events_unavailable"
    FINDING_UNCONFIRMED = "finding_unconfirmed"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_REPORT = "invalid_report"
    CROSS_SITE_FORM = "cross_site_form"
    REPORT_NOT_SENT = "report_not_sent"
    REPORT_UNCONFIRMED = "report_unconfirmed"
    UNKNOWN_CASE = "unknown_case"
    CASE_CLOSED = "case_closed"
    MALFORMED_DIGITAL_LINK = "malformed_digital_link"
    NO_SUCH_LINK = "no_such_link"
    DESK_NOT_CONFIGURED = "desk_not_configured"
    UNKNOWN_DOSSIER = "unknown_dossier"
    DOSSIER_EXISTS = "dossier_exists"
    STEP_REFUSED = "step_refused"

    @property
    def status(self) -> HTTPStatus:
        return _STATUS[self]

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


class ApiError(Exception):
    """Raised by routes and dependencies; the app's handler renders it (JSON or HTML)."""

    def __init__(
        self, code: ErrorCode, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail
        self.headers = headers or {}


_STATUS = {
    ErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorCode.BAD_REQUEST: HTTPStatus.BAD_REQUEST,
    ErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ErrorCode.INVALID_REQUEST: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.UNKNOWN_PRODUCT: HTTPStatus.NOT_FOUND,
    ErrorCode.UNKNOWN_BATCH: HTTPStatus.NOT_FOUND,
    ErrorCode.UNKNOWN_UNIT: HTTPStatus.NOT_FOUND,
    ErrorCode.BODY_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.URL_TOO_LONG: HTTPStatus.REQUEST_URI_TOO_LONG,
    ErrorCode.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.FORBIDDEN: HTTPStatus.FORBIDDEN,
    ErrorCode.NO_TRUST_LIST: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.STORE_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.TOO_SLOW: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.EVENTS_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.FINDING_UNCONFIRMED: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.INVALID_IDEMPOTENCY_KEY: HTTPStatus.BAD_REQUEST,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.INVALID_REPORT: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.CROSS_SITE_FORM: HTTPStatus.FORBIDDEN,
    ErrorCode.REPORT_NOT_SENT: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.REPORT_UNCONFIRMED: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.UNKNOWN_CASE: HTTPStatus.NOT_FOUND,
    ErrorCode.CASE_CLOSED: HTTPStatus.CONFLICT,
    ErrorCode.MALFORMED_DIGITAL_LINK: HTTPStatus.BAD_REQUEST,
    ErrorCode.NO_SUCH_LINK: HTTPStatus.NOT_FOUND,
    ErrorCode.DESK_NOT_CONFIGURED: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.UNKNOWN_DOSSIER: HTTPStatus.NOT_FOUND,
    ErrorCode.DOSSIER_EXISTS: HTTPStatus.CONFLICT,
    ErrorCode.STEP_REFUSED: HTTPStatus.UNPROCESSABLE_ENTITY,
}

_SENTENCES = {
    ErrorCode.DESK_NOT_CONFIGURED: (
        "Bàn đánh giá của văn phòng chưa được cấu hình (OCOP_DESK_*): không gửi gì.",
        "The office's evaluation desk is not configured (OCOP_DESK_*): nothing was sent.",
    ),
    ErrorCode.UNKNOWN_DOSSIER: ("Không có hồ sơ này.", "There is no such dossier."),
    ErrorCode.DOSSIER_EXISTS: (
        "Đã có hồ sơ mang mã này: không gửi gì.",
        "A dossier with this id exists already: nothing was sent.",
    ),
    ErrorCode.STEP_REFUSED: (
        "Quy định đánh giá không cho phép bước này: không gửi gì.",
        "The evaluation rules do not allow this step: nothing was sent.",
    ),
    ErrorCode.NOT_FOUND: (
        "Không có trang này. Mã QR của sản phẩm OCOP có dạng /01/<GTIN>/10/<lô>/21/<số sê-ri> "
        "hoặc /p/<mã sản phẩm>/10/<lô>/21/<số sê-ri>.",
        "No such page. An OCOP product's QR code is /01/<GTIN-14>/10/<lot>/21/<serial> or "
        "/p/<product code>/10/<lot>/21/<serial>.",
    ),
    ErrorCode.BAD_REQUEST: ("Yêu cầu không hợp lệ.", "The request is not valid."),
    ErrorCode.METHOD_NOT_ALLOWED: (
        "Địa chỉ này không nhận phương thức này.",
        "This URL does not accept this method.",
    ),
    ErrorCode.INVALID_REQUEST: (
        "Nội dung yêu cầu không hợp lệ.",
        "The request's content is not valid.",
    ),
    ErrorCode.UNKNOWN_PRODUCT: ("Không tìm thấy sản phẩm này.", "No such product is known."),
    ErrorCode.UNKNOWN_BATCH: ("Không tìm thấy lô hàng này.", "No such batch is known."),
    ErrorCode.UNKNOWN_UNIT: ("Không tìm thấy sản phẩm có mã này.", "No such unit is known."),
    ErrorCode.BODY_TOO_LARGE: ("Nội dung gửi lên quá lớn.", "The request body is too large."),
    ErrorCode.URL_TOO_LONG: ("Địa chỉ quá dài.", "The URL is too long."),
    ErrorCode.RATE_LIMITED: (
        "Quá nhiều yêu cầu. Vui lòng thử lại sau ít giây.",
        "Too many requests. Please try again in a few seconds.",
    ),
    ErrorCode.UNAUTHENTICATED: (
        "Cần mã truy cập hợp lệ của cán bộ kiểm tra.",
        "A valid inspector token is required.",
    ),
    ErrorCode.FORBIDDEN: (
        "Tài khoản này không có quyền thực hiện thao tác này.",
        "This account may not do this.",
    ),
    ErrorCode.NO_TRUST_LIST: (
        "Hệ thống chưa có danh sách tin cậy nên chưa thể kiểm tra mã. Vui lòng thử lại sau.",
        "The service holds no trust list yet and cannot check codes. Please try again later.",
    ),
    ErrorCode.STORE_UNAVAILABLE: (
        "Hệ thống tạm thời không truy cập được dữ liệu. Vui lòng thử lại sau.",
        "The records are temporarily unavailable. Please try again later.",
    ),
    ErrorCode.TOO_SLOW: (
        "Hệ thống đang quá tải hoặc dữ liệu trả lời quá chậm. Vui lòng thử lại sau ít giây.",
        "The service is overloaded or its records answer too slowly. Please try again in a "
        "few seconds.",
    ),
    ErrorCode.EVENTS_UNAVAILABLE: (
        "Chưa ghi nhận được kết quả kiểm tra. Vui lòng gửi lại.",
        "The finding could not be recorded. Please send it again.",
    ),
    ErrorCode.FINDING_UNCONFIRMED: (
        "Chưa xác nhận được kết quả kiểm tra: có thể đã được ghi nhận, cũng có thể chưa. Vui lòng "
        "gửi lại đúng kết quả này (cùng Idempotency-Key, nếu có); nó sẽ không bị ghi hai lần.",
        "The finding was not confirmed: it may or may not be recorded. Please send it again "
        "unchanged (with the same Idempotency-Key, if it had one); it will not be recorded twice.",
    ),
    ErrorCode.INVALID_IDEMPOTENCY_KEY: (
        "Idempotency-Key không hợp lệ: cần một giá trị, dài 8 đến 128 ký tự, gồm chữ cái "
        "không dấu, chữ số hoặc . _ ~ + / = - (ví dụ một UUID).",
        "The Idempotency-Key is not valid: one value, 8 to 128 characters, ASCII letters, "
        "digits or . _ ~ + / = - (a UUID, for example).",
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "Idempotency-Key này đã được dùng cho một kết quả kiểm tra khác. Mỗi kết quả cần một "
        "khóa riêng; khi gửi lại, hãy gửi đúng nội dung cũ.",
        "This Idempotency-Key was already used for a different finding. Use a new key for each "
        "finding, and resend a finding unchanged.",
    ),
    # consumers' reports (verify_api.routes.reports): the same meanings as
    # events_unavailable and finding_unconfirmed, in words for a consumer
    ErrorCode.INVALID_REPORT: (
        "Báo cáo chưa hợp lệ nên chưa được gửi đi. Hãy sửa các mục sau rồi gửi lại.",
        "The report is not valid, so it was not sent. Please correct the following and send it "
        "again.",
    ),
    ErrorCode.CROSS_SITE_FORM: (
        "Báo cáo chỉ gửi được từ trang kiểm tra sản phẩm OCOP, không từ một trang web khác.",
        "A report can only be sent from the OCOP product page, not from another website.",
    ),
    ErrorCode.REPORT_NOT_SENT: (
        "Chưa gửi được báo cáo của bạn. Vui lòng gửi lại sau ít phút.",
        "Your report could not be sent. Please send it again in a few minutes.",
    ),
    ErrorCode.REPORT_UNCONFIRMED: (
        "Chưa xác nhận được báo cáo của bạn: có thể đã được ghi nhận, cũng có thể chưa. Vui lòng "
        "gửi lại; báo cáo sẽ không bị ghi hai lần và vẫn giữ số biên nhận cũ.",
        "Your report was not confirmed: it may or may not be recorded. Please send it again; it "
        "will not be recorded twice, and keeps its receipt number.",
    ),
    ErrorCode.UNKNOWN_CASE: (
        "Không tìm thấy vụ việc này (có thể báo cáo vừa gửi chưa được lưu; thử lại sau ít giây).",
        "No such case is known (a report sent a moment ago may not be stored yet; try again in "
        "a few seconds).",
    ),
    ErrorCode.CASE_CLOSED: (
        "Vụ việc này đã được đóng với một kết luận khác.",
        "This case was already closed with another finding.",
    ),
    # the GS1 resolver (verify_api.routes.resolver): the detail names the defect or the link
    # type, as interop.digital_link.DigitalLinkDefect and interop.linkset.LinkProblem say it
    ErrorCode.MALFORMED_DIGITAL_LINK: (
        "Đây không phải là một GS1 Digital Link hợp lệ.",
        "This is not a valid GS1 Digital Link.",
    ),
    ErrorCode.NO_SUCH_LINK: (
        "Không có liên kết thuộc loại được yêu cầu cho mã này.",
        "This code has no link of the requested type.",
    ),
}


def describe(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's validation errors as one line: "where: what; where: what"."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)


def error_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route can answer with, grouped by status: the JSON
    body (`ErrorBody`), or for a client that prefers HTML (a browser) an error page, as
    verify_api.rendering.error_response sends them; with the headers those errors carry."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(int(code.status), []).append(code)
    return {status: _documented(group) for status, group in by_status.items()}


def _documented(codes: Sequence[ErrorCode]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": ErrorBody,
        "description": "; ".join(f"`{code}`: {code.sentence(Lang.EN)}" for code in codes),
        "content": {ERROR_PAGE: {"schema": {"type": "string"}}},
    }
    headers = {
        name: header | {"required": all(name in _HEADERS.get(code, {}) for code in codes)}
        for code in codes
        for name, header in _HEADERS.get(code, {}).items()
    }
    if headers:
        entry["headers"] = headers
    return entry


ERROR_PAGE = "text/html"
"""The media type of an error for a client that prefers HTML (see rendering.error_response)."""

_SECONDS = {"type": "string", "pattern": "^[1-9][0-9]*$"}
_HEADERS: dict[ErrorCode, dict[str, dict[str, Any]]] = {
    ErrorCode.RATE_LIMITED: {
        "Retry-After": {"description": "seconds until a request is let through", "schema": _SECONDS}
    },
    ErrorCode.TOO_SLOW: {
        "Retry-After": {"description": "seconds to wait before trying again", "schema": _SECONDS}
    },
    ErrorCode.UNAUTHENTICATED: {
        "WWW-Authenticate": {
            "description": 'the challenge: `Bearer realm="ocop-inspectors"`',
            "schema": {"type": "string"},
        }
    },
}
"""Headers an error always carries (verify_api.guards, verify_api.deadline, verify_api.deps)."""


ERROR_BODY = "#/components/schemas/ErrorBody"


def rendered(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry of `error_responses` as FastAPI writes it into the OpenAPI: the model as the
    JSON content's schema (for an OpenAPI hook, which works on the written document)."""
    written = {key: value for key, value in entry.items() if key != "model"}
    json = {"application/json": {"schema": {"$ref": ERROR_BODY}}}
    written["content"] = json | entry.get("content", {})
    return written


def answered_on_every_route(*, rate_limited: bool, deadline: bool) -> dict[int, dict[str, Any]]:
    """What a request may get whichever route it is for, before or instead of the route's own
    answer (as written in the OpenAPI): 413 and 414 from the size guards
    (verify_api.guards.Guard), 429 from the rate limit (not on the probes and /metrics), 503
    `too_slow` at the deadline (verify_api.deadline; not on /health/live and /metrics), and
    408 and 431 from the server, for a request head or body too slow or a head too large
    (verify_api.guards.HeadLimitedProtocol: the code `bad_request`, always JSON, as it
    answers before any Accept header is read)."""
    codes = [ErrorCode.BODY_TOO_LARGE, ErrorCode.URL_TOO_LONG]
    codes += [ErrorCode.RATE_LIMITED] if rate_limited else []
    codes += [ErrorCode.TOO_SLOW] if deadline else []
    answers = {int(status): rendered(entry) for status, entry in error_responses(*codes).items()}
    for status, why in (
        (HTTPStatus.REQUEST_TIMEOUT, "the request's head or body took too long to arrive"),
        (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's head is too large"),
    ):
        answers[int(status)] = {
            "description": f"`{ErrorCode.BAD_REQUEST}`: {why}; the connection is closed.",
            "content": {"application/json": {"schema": {"$ref": ERROR_BODY}}},
        }
    return answers


def add_answers(responses: dict[str, Any], answers: Mapping[int, dict[str, Any]]) -> None:
    """Adds written entries (`answered_on_every_route`, `rendered`) to an operation's written
    responses: a status it already documents keeps its own body and gains the other as an
    alternative (`anyOf`), its description gains the other's codes, and a header is required
    only if both always send it."""
    for status, entry in answers.items():
        held = responses.setdefault(str(status), {"description": ""})
        if entry["description"] not in held["description"]:
            held["description"] = "; ".join(
                filter(None, [held["description"], entry["description"]])
            )
        content = held.setdefault("content", {})
        for media_type, media in entry.get("content", {}).items():
            schema = media.get("schema")
            known = content.setdefault(media_type, {})
            if "schema" not in known:
                known["schema"] = schema
            elif schema is not None and known["schema"] != schema:
                alternatives = known["schema"].get("anyOf", [known["schema"]])
                if schema not in alternatives:
                    known["schema"] = {"anyOf": [*alternatives, schema]}
        headers = held.get("headers", {})
        added = entry.get("headers", {})
        merged = {
            name: (headers.get(name) or added[name])
            | {"required": bool(headers.get(name, {}).get("required"))
               and bool(added.get(name, {}).get("required"))}
            for name in headers.keys() | added.keys()
        }  # fmt: skip
        if merged:
            held["headers"] = merged


# -- exceptions as answers ------------------------------------------------------------------------

Answer = Callable[[Request, ErrorCode, str, dict[str, str] | None], Response]
"""How an app answers an error: the API's JSON or page (verify_api.rendering.error_response),
the workspace's page (backoffice.routes.api_error_page)."""

_BY_STATUS = {
    HTTPStatus.NOT_FOUND: ErrorCode.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
}


def install_handlers(
    app: FastAPI, answer: Answer, allow: Callable[[Request], str] | None = None
) -> None:
    """The exceptions every app of this project turns into one of its errors, answered by
    `answer`: ours (`ApiError`), Starlette's (404, 405, 413; `allow` rewrites a 405's Allow
    header), no trust list yet, and Cassandra out of reach. One list, so the API and the
    workspace mounted in it cannot disagree on what a failure is called."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return answer(request, exc.code, exc.detail, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _BY_STATUS.get(HTTPStatus(exc.status_code), ErrorCode.BAD_REQUEST)
        headers = dict(exc.headers or {})
        if "Allow" in headers and allow is not None:
            headers["Allow"] = allow(request)
        return answer(request, code, "", headers)

    async def no_trust_list(request: Request, exc: Exception) -> Response:
        return answer(request, ErrorCode.NO_TRUST_LIST, "", None)

    async def store_down(request: Request, exc: Exception) -> Response:
        return answer(request, ErrorCode.STORE_UNAVAILABLE, type(exc).__name__, None)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(NoTrustList, no_trust_list)
    app.add_exception_handler(NoHostAvailable, store_down)
    app.add_exception_handler(DriverException, store_down)
