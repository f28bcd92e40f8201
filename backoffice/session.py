"""Sessions and CSRF tokens of the inspectors' workspace; no I/O but the inspector lookup.

A session is a value the server can verify without storing anything: `v1.<payload>.<mac>`,
the payload canonical JSON in base64url, the MAC an HMAC-SHA256 over it under the
workspace's key (`workspace_key`). It holds:

- `sid`: 128 random bits, new at every sign-in (a session fixed before it is worthless);
- `exp`: when it ends (Unix seconds), at most `ApiSettings.workspace_session_h` after sign-in;
- `tok`: the SHA-256 of the inspector's token, never the token itself. Every request looks the
  inspector up by it (`inspector_of`, as the Bearer API does), so a token the authority
  withdrew ends its sessions at their next request;
- `prov`, `lang`: the province the inspector works in and the language chosen.

A session without `tok` is the sign-in form's pre-session: it only carries the CSRF token of
that form (login CSRF), for `PRE_SESSION_S`.

The CSRF token of a session is an HMAC of its `sid` under the same key with another label:
it is put in a hidden field of every form and checked on every POST (`check_csrf`).
SameSite=Strict already keeps the cookie from cross-site requests; the token also refuses a
same-site form the workspace did not render.

Every refusal is a `Refused` with a `Refusal` reason (a machine-readable code with its
sentences in both languages); the routes answer it with an error page and send nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Protocol

from contract.verdict import Lang
from records.rows import Inspector
from verify_api.deps import role_of
from verify_api.settings import ApiSettings

COOKIE = "ocop_ws"
PATH = "/inspect"
VERSION = "v1"
MAX_COOKIE = 1_024
"""A longer cookie is refused before anything is decoded."""
PRE_SESSION_S = 3_600
"""How long a sign-in form may stay open."""
_KEY_LABEL = b"ocop-trace backoffice session key v1"
"""Labels the workspace key apart from every other use of OCOP_DEVICE_SALT: device ids
(8-128 of A-Z a-z 0-9 . _ -) and networks ("network ...") cannot spell it."""
_SESSION_LABEL = b"session "
_CSRF_LABEL = b"csrf "


class Refusal(StrEnum):
    """Why a request of the workspace is refused; stable codes, sentences in both languages."""

    MALFORMED = "session_malformed"
    FORGED = "session_forged"
    EXPIRED = "session_expired"
    SIGNED_OUT = "signed_out"
    WITHDRAWN = "token_withdrawn"
    FORBIDDEN = "role_forbidden"
    NO_CSRF = "csrf_missing"
    BAD_CSRF = "csrf_mismatch"
    SIGN_IN_REFUSED = "sign_in_refused"

    @property
    def status(self) -> HTTPStatus:
        if self in (Refusal.FORBIDDEN, Refusal.NO_CSRF, Refusal.BAD_CSRF):
            return HTTPStatus.FORBIDDEN
        return HTTPStatus.UNAUTHORIZED

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES: dict[Refusal, tuple[str, str]] = {
    Refusal.MALFORMED: (
        "Phiên làm việc không hợp lệ. Hãy đăng nhập lại.",
        "The session is not valid. Please sign in again.",
    ),
    Refusal.FORGED: (
        "Phiên làm việc không do hệ thống cấp (bị sửa hoặc giả mạo). Không có gì được gửi đi. "
        "Hãy đăng nhập lại.",
        "The session was not issued by this system (altered or forged). Nothing was sent. "
        "Please sign in again.",
    ),
    Refusal.EXPIRED: (
        "Phiên làm việc đã hết hạn. Không có gì được gửi đi. Hãy đăng nhập lại.",
        "The session has expired. Nothing was sent. Please sign in again.",
    ),
    Refusal.SIGNED_OUT: ("Bạn chưa đăng nhập.", "You are not signed in."),
    Refusal.WITHDRAWN: (
        "Mã truy cập của bạn đã bị thu hồi hoặc không còn hiệu lực: phiên làm việc đã kết thúc.",
        "Your access token was withdrawn or is no longer valid: the session has ended.",
    ),
    Refusal.FORBIDDEN: (
        "Vai trò của bạn không được dùng không gian làm việc này.",
        "Your role may not use this workspace.",
    ),
    Refusal.NO_CSRF: (
        "Biểu mẫu thiếu mã chống giả mạo (CSRF): yêu cầu bị từ chối, không có gì được gửi đi. "
        "Hãy mở lại trang và gửi lại.",
        "The form has no anti-forgery (CSRF) token: refused, nothing was sent. Open the page "
        "again and resend.",
    ),
    Refusal.BAD_CSRF: (
        "Mã chống giả mạo (CSRF) của biểu mẫu không khớp với phiên làm việc: yêu cầu bị từ "
        "chối, không có gì được gửi đi. Hãy mở lại trang và gửi lại.",
        "The form's anti-forgery (CSRF) token does not match the session: refused, nothing was "
        "sent. Open the page again and resend.",
    ),
    Refusal.SIGN_IN_REFUSED: (
        "Mã truy cập không đúng, đã bị thu hồi hoặc sai định dạng.",
        "The access token is wrong, withdrawn or malformed.",
    ),
}


class Refused(Exception):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Session:
    sid: str
    expires: int
    """Unix seconds."""
    token_sha256: str | None
    """None: the sign-in form's pre-session."""
    province: str | None = None
    lang: Lang = Lang.VI

    @property
    def signed_in(self) -> bool:
        return self.token_sha256 is not None


def workspace_key(settings: ApiSettings) -> bytes:
    """The key of sessions and CSRF tokens: derived from OCOP_DEVICE_SALT (required outside
    development) under a label of its own. Without a salt (development only), a random key:
    sessions end when the process does, and there is never a default secret."""
    if settings.device_salt is None:
        return secrets.token_bytes(32)
    salt = settings.device_salt.get_secret_value().encode("utf-8")
    return hmac.new(salt, _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    def __init__(
        self, key: bytes, lifetime_s: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        if len(key) < 16:
            raise ValueError("a workspace key has at least 16 bytes")
        self._key = key
        self.lifetime_s = lifetime_s
        self._clock = clock

    # -- issuing --------------------------------------------------------------------------

    def pre_session(self, lang: Lang) -> Session:
        return Session(_b64(secrets.token_bytes(16)), int(self._clock()) + PRE_SESSION_S, None,
                       lang=lang)  # fmt: skip

    def sign_in(self, token_sha256: str, province: str | None, lang: Lang) -> Session:
        """A new session (a new sid) for the inspector whose token hashes to this."""
        expires = int(self._clock() + self.lifetime_s)
        return Session(_b64(secrets.token_bytes(16)), expires, token_sha256, province, lang)

    def encode(self, session: Session) -> str:
        fields: dict[str, Any] = {
            "exp": session.expires, "lang": session.lang.value, "prov": session.province,
            "sid": session.sid, "tok": session.token_sha256,
        }  # fmt: skip
        payload = _b64(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        return f"{VERSION}.{payload}.{_b64(self._mac(_SESSION_LABEL, payload))}"

    def max_age(self, session: Session) -> int:
        return max(0, session.expires - int(self._clock()))

    # -- checking -------------------------------------------------------------------------

    def decode(self, value: str) -> Session:
        """The session a cookie holds; `Refused` if it is malformed, forged or expired.
        The MAC is checked before anything in the payload is read."""
        if len(value) > MAX_COOKIE or value.count(".") != 2:
            raise Refused(Refusal.MALFORMED, "not a session")
        version, payload, mac = value.split(".")
        if version != VERSION:
            raise Refused(Refusal.MALFORMED, f"version {version[:8]!r}")
        try:
            sent = _unb64(mac)
        except (binascii.Error, ValueError):
            raise Refused(Refusal.FORGED, "unreadable MAC") from None
        if not hmac.compare_digest(sent, self._mac(_SESSION_LABEL, payload)):
            raise Refused(Refusal.FORGED, "MAC does not match")
        try:
            fields = json.loads(_unb64(payload))
            session = Session(
                sid=str(fields["sid"]), expires=int(fields["exp"]),
                token_sha256=fields["tok"] if fields["tok"] is None else str(fields["tok"]),
                province=fields["prov"] if fields["prov"] is None else str(fields["prov"]),
                lang=Lang(fields["lang"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):  # signed by us, so only an older layout
            raise Refused(Refusal.MALFORMED, "unreadable payload") from None
        if session.expires <= self._clock():
            raise Refused(Refusal.EXPIRED)
        return session

    def csrf_token(self, session: Session) -> str:
        return _b64(self._mac(_CSRF_LABEL, session.sid))

    def check_csrf(self, session: Session, sent: str | None) -> None:
        """Refuses a form without the session's CSRF token, or with another one."""
        if not sent:
            raise Refused(Refusal.NO_CSRF)
        if not hmac.compare_digest(sent.encode("utf-8"), self.csrf_token(session).encode()):
            raise Refused(Refusal.BAD_CSRF)

    def _mac(self, label: bytes, text: str) -> bytes:
        return hmac.new(self._key, label + text.encode("utf-8"), hashlib.sha256).digest()


def with_language(session: Session, lang: Lang) -> Session:
    return replace(session, lang=lang)


class InspectorLookup(Protocol):
    async def inspector(self, token_sha256: str) -> Inspector | None: ...


async def inspector_of(session: Session, store: InspectorLookup) -> Inspector:
    """The inspector a signed-in session belongs to, looked up at every request as the
    Bearer API does (verify_api.deps): a withdrawn or unknown token ends the session, and a
    role that may not record findings (deps.role_of) is refused."""
    if session.token_sha256 is None:
        raise Refused(Refusal.SIGNED_OUT)
    inspector = await store.inspector(session.token_sha256)
    if inspector is None or not inspector.active:
        raise Refused(Refusal.WITHDRAWN)
    if role_of(inspector) is None:
        raise Refused(Refusal.FORBIDDEN, f"role {inspector.role!r}")
    return inspector
