"""What the workspace's forms send, checked as strictly as the API's bodies are, and the
findings an inspector can tap, mapped onto the contract's verdicts.

Forms arrive as application/x-www-form-urlencoded (no multipart parser is needed for them);
`read_form` takes each field once. The five outcomes an inspector chooses from are finer than
the contract's `InspectionVerdict` (genuine, suspicious, counterfeit), which every finding and
alert closing carries: the outcome maps onto a verdict, and is kept as a tag leading the note
(`[logo_lapsed] ...`), so nothing the processors store changes shape and a later reader can
tell the outcomes apart (`split_note`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request

from contract.events import InspectionVerdict
from contract.verdict import Reason
from verify_api.schemas import Place, Province


class Outcome(StrEnum):
    GENUINE = "genuine"
    LOGO_ABOVE_RATING = "logo_above_rating"
    LOGO_LAPSED = "logo_lapsed"
    """The logo shown after the rating expired or was revoked."""
    COPIED_CODE = "copied_code"
    NO_OCOP = "no_ocop"
    """No OCOP recognition at all behind the logo."""

    @property
    def verdict(self) -> InspectionVerdict:
        return _VERDICTS[self]


_VERDICTS = {
    Outcome.GENUINE: InspectionVerdict.GENUINE,
    Outcome.LOGO_ABOVE_RATING: InspectionVerdict.COUNTERFEIT,
    Outcome.LOGO_LAPSED: InspectionVerdict.SUSPICIOUS,  # true once, no longer
    Outcome.COPIED_CODE: InspectionVerdict.COUNTERFEIT,
    Outcome.NO_OCOP: InspectionVerdict.COUNTERFEIT,
}

SUGGESTED: dict[Reason, Outcome] = {
    Reason.GENUINE: Outcome.GENUINE,
    Reason.STARS_EXCEED_CERTIFICATION: Outcome.LOGO_ABOVE_RATING,
    Reason.CERTIFICATION_EXPIRED: Outcome.LOGO_LAPSED,
    Reason.CERTIFICATION_REVOKED: Outcome.LOGO_LAPSED,
    Reason.RATING_DOWNGRADED: Outcome.LOGO_ABOVE_RATING,
    Reason.NO_CERTIFICATION: Outcome.NO_OCOP,
    Reason.SUSPECTED_COPY: Outcome.COPIED_CODE,
}
"""The outcome preselected for a verdict: one tap fewer when the inspector agrees."""

NOTE_MAX = 1_900
"""The contract's note holds 2,000 characters; the outcome's tag takes the rest."""
_TAGGED = re.compile(r"\[([a-z_]+)\] ?(.*)", re.DOTALL)


def tagged_note(outcome: Outcome, note: str | None) -> str:
    return f"[{outcome.value}] {note}" if note else f"[{outcome.value}]"


def split_note(note: str | None) -> tuple[Outcome | None, str | None]:
    """The outcome a note was tagged with (None for a finding sent through the API), and the
    inspector's own words."""
    if note is None:
        return None, None
    match = _TAGGED.fullmatch(note)
    if match is None or match[1] not in Outcome.__members__.values():
        return None, note
    return Outcome(match[1]), match[2] or None


Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~+/=-]{8,128}$")]


class Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


F = TypeVar("F", bound=Form)


class SignInForm(Form):
    token: Annotated[str, Field(min_length=1, max_length=600)]
    province: Province | None = None


class CheckForm(Form):
    code: Annotated[str, Field(min_length=1, max_length=1024)]
    via: Annotated[str, Field(pattern=r"^(typed|BarcodeDetector|zxing)$")] = "typed"


class FindingForm(Form):
    code: Annotated[str, Field(min_length=1, max_length=1024)]
    key: Key
    """The finding's idempotency key, made when its form was rendered: a resend is one finding."""
    stars: Annotated[int, Field(ge=0, le=5)]
    shop: Place
    province: Province | None = None
    outcome: Outcome
    note: Note | None = None


class CloseForm(Form):
    unit_key: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: Outcome
    note: Note | None = None


class CaseCloseForm(Form):
    outcome: Outcome
    note: Note | None = None


class AlertFilter(Form):
    province: Province | None = None
    kind: Annotated[str, Field(max_length=64)] | None = None
    status: Annotated[str, Field(pattern=r"^(open|closed|any)$")] = "open"
    days: Annotated[int, Field(ge=1, le=31)] = 7


class FormRefused(Exception):
    """A form that does not check out: the page says which fields, in both languages."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields, each its first value; blank optional fields are absent."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise FormRefused(["content-type"])
    body = (await request.body()).decode("utf-8", errors="replace")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def checked(model: type[F], fields: dict[str, str]) -> F:
    try:
        return model.model_validate({k: v for k, v in fields.items() if v.strip() != ""})
    except ValidationError as exc:
        raise FormRefused(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})) from None
