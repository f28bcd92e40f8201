"""The API's response and request bodies: one model per use, with field limits.

These are the public shapes, kept apart from the contract's events (what is signed and sent)
and the records' rows (what Cassandra holds): a column can be renamed or an event can grow
a field without the API's clients noticing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contract.certification import CertificationStatus
from contract.events import (
    REPORT_CONTACT_MAX,
    REPORT_NOTE_MAX,
    REPORT_SHOP_MAX,
    InspectionVerdict,
    InspectorRole,
    Location,
    ReportProblem,
)
from contract.gs1 import AI10_MAX_LENGTH
from contract.identifiers import SERIAL_ALPHABET, SERIAL_LENGTH
from contract.label import LabelDefect
from contract.logo import LogoReason
from contract.verdict import Category, Level, Reason
from keys.chain import ChainDefect
from keys.trustlist import KeyStatus

Short = Annotated[str, Field(max_length=300)]
Code = Annotated[str, Field(max_length=1024)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Sentences(_Out):
    vi: str
    en: str


class FindingOut(_Out):
    reason: Reason
    level: Level
    sentence: Sentences


class LabelOut(_Out):
    """What the code says. Vouched for only when `signature_valid` is true."""

    host: Short
    product_key: Short
    lot: Short
    serial: Short
    packed_on: date
    printed_stars: int
    key_id: Short
    expiry_date: date | None = None
    """The expiry date printed and signed (GS1 AI 17); None on labels printed before it was."""


class SignerOut(_Out):
    key_id: Short
    key_status: KeyStatus
    producer_id: Short
    authority_id: Short


class CertificateOut(_Out):
    certificate_no: Short
    decision_no: Short
    stars: int
    score: Short
    evaluation_level: Short
    authority_id: Short
    """The council that issued it (its certificates stay valid after the 2025 reform)."""
    responsible_now: Short
    """The council that answers for it today: `authority_id`, or its successor since the
    2025 reform (Thái Bình's VN-34 → Hưng Yên's VN-33)."""
    responsible_province: Short | None
    """That council's province today (None: the central council)."""
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime


class RevocationOut(_Out):
    decision_no: Short
    reason: Short
    issued_at: datetime
    effective_at: datetime


class RatingChange(StrEnum):
    AWARDED = "awarded"
    RENEWED = "renewed"
    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RatingEvent(_Out):
    """One step of a product's rating history: what changed, when, and the stars after it."""

    change: RatingChange
    at: datetime
    certificate_no: Short
    stars: int
    """The certificate's stars (for revoked and expired: the stars that ended)."""


class StarsOut(_Out):
    """The star claim printed on the label beside the rating that holds now."""

    printed: int
    current: int
    """Stars in force now; 0 when no certification is in force."""
    status: CertificationStatus
    certificate: CertificateOut | None
    revocation: RevocationOut | None
    history: list[RatingEvent]


class ProductOut(_Out):
    product_key: Short
    name: Short
    name_en: Short | None
    product_group: Short
    description: Short | None
    image_url: Short | None = None
    brand: Short | None = None
    standards: list[Short] = []
    """The standards the product is made to (TCVN, QCVN, international, TCCS)."""


class ProducerOut(_Out):
    producer_id: Short
    name: Short
    kind: Short
    address: Short
    commune: Short
    district: Short
    province: Short
    gln: Short | None = None
    """The producer's site's GLN (GS1 location code), if registered with one."""


class MaterialOut(_Out):
    material: Short
    origin: Short
    quantity: Short
    unit: Short


class StoryStep(_Out):
    """One sealed record of the batch, as a consumer reads it: raw material to shelf."""

    seq: int
    kind: Literal[
        "batch_opened",
        "units_packed",
        "batch_closed",
        "batch_shipped",
        "batch_received",
        "batch_recalled",
    ]
    at: datetime
    units: int | None = None
    party: Short | None = None
    """Who the batch went to (shipped), who took it (received), who recalled it."""
    note: Short | None = None
    gln: Short | None = None
    """Where the step took place, by GLN, when the event names it: the receiver's for a
    receipt, the sender's for a distributor's onward shipment (otherwise the producer's)."""
    party_gln: Short | None = None
    """The GLN of `party` (where a shipment went), if the event names it."""


class BatchOut(_Out):
    batch_id: Short
    lot: Short
    production_date: date
    expiry_date: date
    status: Short
    units_packed: int
    raw_materials: list[MaterialOut]
    recalled_at: datetime | None
    recall_reason: Short | None
    story: list[StoryStep]


class ScansOut(_Out):
    count: int
    first: datetime | None
    last: datetime | None


class TrustListOut(_Out):
    version: int
    issued_at: datetime
    next_update: datetime
    stale: bool


class Links(_Out):
    certifications: Short
    provenance: Short


class Resolution(_Out):
    """The verdict on one code and the facts it rests on; the consumer page shows the same."""

    level: Level
    reason: Reason
    category: Category
    sentence: Sentences
    detail: Annotated[str, Field(max_length=2000)]
    findings: list[FindingOut]
    notices: list[Sentences]
    """Caveats that do not change the verdict (a stale trust list)."""
    defect: LabelDefect | None
    label: LabelOut | None
    signer: SignerOut | None
    stars: StarsOut | None
    product: ProductOut | None
    producer: ProducerOut | None
    batch: BatchOut | None
    packed_in_record: int | None
    """The record of the batch's chain that packed this unit (None if none did)."""
    scans: ScansOut | None
    trust_list: TrustListOut
    links: Links | None
    checked_at: datetime
    circular02: Circular02Out | None = None
    """The ten items of Circular 02/2024/TT-BKHCN, Art. 6(5), for a vouched-for label."""


class StageOut(_Out):
    """A stage of the product's life with its tracing codes (Art. 6(5)(đ))."""

    stage: Short
    """The step's kind (StoryStep.kind)."""
    product_code: Short
    """The product tracing code: the batch's GS1 element string, e.g. (01)…(10)…."""
    location_code: Short | None
    """The location tracing code: the GLN where it took place (None if unregistered)."""
    at: datetime


class Circular02Out(_Out):
    """What Circular 02/2024/TT-BKHCN, Art. 6(5), asks a product's traceability to show,
    one field per item, each named after its letter in the Circular."""

    a_name: Short
    b_images: list[Short]
    c_producer_name: Short
    d_producer_address: Short
    dd_stages: list[StageOut]
    e_production_date: date
    g_traceability_code: Short
    """The unit's code: its GS1 element string (01)(10)(21), as the QR's Digital Link says."""
    h_brand: Short | None
    h_serial: Short
    i_expiry_date: date
    k_standards: list[Short]


class PartyOut(_Out):
    gln: Short
    name: Short
    role: Short
    address: Short
    commune: Short
    province: Short
    producer_id: Short | None


class TraceStepOut(_Out):
    """A batch that came to the party (one step back) or left it (one step forward)."""

    at: datetime
    batch_id: Short
    product_key: Short
    lot: Short
    shipment_id: Short
    units: int | None
    what: Short | None
    """A raw material's name, for a material received at a batch's opening."""
    party_gln: Short | None
    """The other side: who shipped it (back), who it went to (forward)."""
    party_name: Short
    party_link: Short | None
    """That party's own trace, if it has a GLN."""
    provenance: Short
    """The batch's sealed chain."""


class PartyTraceOut(_Out):
    """One step back, one step forward (Circular 02/2024, Art. 6(1)) for a party by GLN."""

    party: PartyOut
    received: list[TraceStepOut]
    """From whom it received each batch, newest first."""
    shipped: list[TraceStepOut]
    """To whom it shipped each batch, newest first."""
    checked_at: datetime


# -- requests: what the routes check, as strictly in the OpenAPI as in the code ---------------

_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
"""Control characters: contract.fields.Text refuses them."""
_SPACE = " \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
"""Unicode White_Space outside the controls: what pydantic's strip_whitespace strips."""


def _line(max_length: int) -> str:
    """The pattern of a line of text a client sends: no control characters, no white space
    around it (refused, not trimmed, so that the OpenAPI says exactly what is taken)."""
    edge = f"[^{_CONTROL}{_SPACE}]"
    return f"^{edge}(?:[^{_CONTROL}]{{0,{max_length - 2}}}{edge})?$"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


Province = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=_line(64)), AfterValidator(_nfc)
]
"""The coarse place a client offers: a province name, never derived from its address. Kept
in NFC, as contract.fields.Text keeps text (its length is checked as sent)."""
Place = Annotated[
    str, StringConstraints(min_length=1, max_length=300, pattern=_line(300)), AfterValidator(_nfc)
]

GTIN_FORMAT = "gtin-14"
"""Not a JSON Schema format: a GTIN-14 whose last digit is its GS1 check digit (which no
pattern can say). A client that does not know the format still has the pattern."""
GTIN_14: dict[str, Any] = {"pattern": "^[0-9]{14}$", "format": GTIN_FORMAT}
"""contract.gs1.validate_gtin14."""
_PRODUCT_CODE = "[A-Z0-9][A-Z0-9-]{2,19}"
PRODUCT_CODE: dict[str, Any] = {"pattern": f"^{_PRODUCT_CODE}$"}
"""contract.identifiers.validate_product_code."""
_SERIAL = f"[{SERIAL_ALPHABET}]{{{SERIAL_LENGTH}}}"
SERIAL: dict[str, Any] = {"pattern": f"^{_SERIAL}$"}
"""contract.identifiers.validate_serial."""
_LOT = f"[!\"%&'()*+,./:;<=>?_A-Za-z0-9-]{{1,{AI10_MAX_LENGTH}}}"
LOT: dict[str, Any] = {"pattern": f"^{_LOT}$"}
"""GS1 AI 10 (contract.gs1.validate_lot): 1 to 20 characters of GS1 character set 82."""
UNIT_KEY_FORMAT = "ocop-unit-key"
"""Not a JSON Schema format: a unit key whose GTIN, if it has one, has a good check digit."""
UNIT_KEY: dict[str, Any] = {
    "type": "string",
    "pattern": f"^/(?:01/[0-9]{{14}}|p/{_PRODUCT_CODE})/21/{_SERIAL}$",
    "format": UNIT_KEY_FORMAT,
    "description": "a unit key: /01/<GTIN-14>/21/<serial> or /p/<product code>/21/<serial>",
}
CODE_HASH: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9a-f]{64}$",
    "description": "the SHA-256 (hex) under which alerts on a code that names no unit are filed",
}
UNIT_OR_CODE_HASH: dict[str, Any] = {"anyOf": [UNIT_KEY, CODE_HASH]}

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: Any) -> Any:
    """Only YYYY-MM-DD: pydantic would also take a number of seconds since 1970 ("0") or a
    midnight timestamp as a date."""
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("a day is YYYY-MM-DD")
    return value


Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    Field(
        description="YYYY-MM-DD (0001-01-01 to 9999-12-31)",
        json_schema_extra={
            "pattern": "^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"
        },
    ),
]
"""A calendar day in a query: what `date.fromisoformat` takes of YYYY-MM-DD (year 1 onwards),
and nothing else; the pattern with the format `date` (which rules out 2025-02-30) say it."""


def _json_integer(value: Any) -> Any:
    """What JSON Schema calls an integer: a number without a fractional part (`3` or `3.0`),
    never `false` or `"3"`, which pydantic would otherwise take as 0 and 3."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an integer is a JSON number")
    return value


_JSON_INTEGER = BeforeValidator(_json_integer)


class LocationIn(Location):
    """contract.events.Location as a client sends it: its integers JSON integers."""

    latitude_e6: Annotated[int, Field(ge=-90_000_000, le=90_000_000), _JSON_INTEGER]
    longitude_e6: Annotated[int, Field(ge=-180_000_000, le=180_000_000), _JSON_INTEGER]
    accuracy_m: Annotated[int, Field(ge=0, le=20_000_000), _JSON_INTEGER]


_WHITE = f"[\\t\\n\\x0b\\x0c\\r\\x85{_SPACE}]"
"""Unicode White_Space, all of it: what pydantic's strip_whitespace strips."""


def _trimmed_to(max_length: int) -> Callable[[dict[str, Any]], None]:
    """The JSON schema of a text trimmed before its length is checked: any white space
    around 1 to `max_length` characters, the first and last of them not white space. (Its
    length before trimming is bounded only by the request's size.)"""

    def schema(written: dict[str, Any]) -> None:
        written.pop("minLength", None)
        written.pop("maxLength", None)
        inner = f"[^{_WHITE[1:]}(?:[\\s\\S]{{0,{max_length - 2}}}[^{_WHITE[1:]})?"
        written["pattern"] = f"^{_WHITE}*{inner}{_WHITE}*$"

    return schema


class VerifyRequest(BaseModel):
    """Raw QR text as a scanner read it, and the coarse place the client chooses to share."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1024),
        Field(
            description="the text read, 1 to 1024 characters once the white space around it "
            "(a scanner's newline) is trimmed",
            json_schema_extra=_trimmed_to(1024),
        ),
    ]
    province: Province | None = None
    location: LocationIn | None = None


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=1024, description="the QR text read")]
    stars_seen: Annotated[
        int, Field(ge=0, le=5, description="the star logo on the package"), _JSON_INTEGER
    ]
    verdict: InspectionVerdict
    place: Annotated[Place, Field(description="the shop or market where the label was seen")]
    province: Province | None = None
    location: LocationIn | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None


class InspectionAccepted(_Out):
    event_id: UUID
    recorded_at: datetime
    reason: Reason
    """What verification answered for the code, as recorded with the finding."""
    level: Level


class InspectionOut(_Out):
    inspected_at: datetime
    inspector_id: Short
    code: Code
    stars_seen: int
    verdict: Short
    reason: Short
    place: Short
    province: Short | None
    note: Annotated[str, Field(max_length=2000)] | None


class InspectionList(_Out):
    unit_key: Short
    count: int
    inspections: list[InspectionOut]


class AlertOut(_Out):
    alert_id: UUID
    kind: Short
    unit_key: Short
    """A unit key, or the hash of a code that names no unit."""
    raised_at: datetime
    province: Short | None
    detail: Annotated[str, Field(max_length=1000)]
    sentence: Sentences | None
    """What the alert means, for a kind this API knows."""
    status: Short
    closed_by: Short | None
    finding: Short | None


class AlertList(_Out):
    count: int
    alerts: list[AlertOut]


class AlertClosing(BaseModel):
    """An inspector's finding that closes an alert."""

    model_config = ConfigDict(extra="forbid")

    unit_key: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="where the alert is filed: a unit key, or the hash of a code that names "
            "no unit",
            json_schema_extra=UNIT_OR_CODE_HASH,
        ),
    ]
    finding: InspectionVerdict
    note: Annotated[str, Field(max_length=2000)] | None = None


class Accepted(_Out):
    """Kafka has the event; the processors store it shortly."""

    event_id: UUID
    recorded_at: datetime


class InspectorOut(_Out):
    inspector_id: Short
    name: Short
    role: InspectorRole
    authority_id: Short


# -- certification history and provenance -----------------------------------------------------


class CertificationOut(_Out):
    certificate: CertificateOut
    revocation: RevocationOut | None
    producer_id: Short
    document: str
    """The authority-signed certification, exactly as stored (canonical JSON)."""
    revocation_document: str | None


class CertificationHistory(_Out):
    product_key: Short
    product: ProductOut | None
    current: CertificationStatus
    current_certificate: Short | None
    history: list[RatingEvent]
    certifications: list[CertificationOut]
    checked_at: datetime


class ChainRecordOut(_Out):
    seq: int
    event: str
    """The producer-signed event, exactly the bytes the record hash covers (canonical JSON)."""
    prev_hash: Short
    record_hash: Short
    seal: Short
    """The processor's Ed25519 signature over the record hash, base64url."""
    sealed_by: Short


class ChainCheck(_Out):
    ok: bool
    defect: ChainDefect | None
    detail: Short
    verified: int


class Provenance(_Out):
    batch_id: Short
    head_seq: int
    head_hash: Short
    records: list[ChainRecordOut]
    seal_keys: dict[str, str]
    """Public keys (base64url) of the processors that sealed records, by key id."""
    check: ChainCheck
    """The server's own re-verification; a client should repeat it (keys.chain.verify_chain)."""
    batch: BatchOut


class ErrorBody(_Out):
    """Every error: a stable machine code and a sentence (in the requested language)."""

    error: Short
    detail: Annotated[str, Field(max_length=2000)]


class Liveness(_Out):
    status: Literal["live"]


class Check(_Out):
    ok: bool
    detail: Short


class Readiness(_Out):
    ready: bool
    checks: dict[str, Check]
    """`store` (Cassandra answers), `trust_list` (one is held), `scan_events` (they reach
    Kafka: the backlog waiting for it is under the threshold)."""
    trust_list: TrustListOut | None


# -- consumers' reports and inspectors' cases (verify_api.routes.reports, .cases) -------------


_NOTE_CONTROL = "\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f"
"""Control characters but the line feed."""


def _lines(max_length: int) -> str:
    """The pattern of a short text of lines (a note): as `_line`, but line feeds are let
    through inside it (a form's text area sends CR LF: the form route makes it LF)."""
    edge = f"[^{_CONTROL}{_SPACE}]"
    return f"^{edge}(?:[^{_NOTE_CONTROL}]{{0,{max_length - 2}}}{edge})?$"


Shop = Annotated[
    str,
    StringConstraints(min_length=1, max_length=REPORT_SHOP_MAX, pattern=_line(REPORT_SHOP_MAX)),
    AfterValidator(_nfc),
    Field(description="where the product was bought: the shop or market, and its street"),
]
Contact = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=REPORT_CONTACT_MAX, pattern=_line(REPORT_CONTACT_MAX)
    ),
    AfterValidator(_nfc),
    Field(description="how inspectors may reach the consumer (a phone number, an e-mail), if "
          "they wish; only inspectors read it"),
]  # fmt: skip
Note = Annotated[
    str,
    StringConstraints(min_length=1, max_length=REPORT_NOTE_MAX, pattern=_lines(REPORT_NOTE_MAX)),
    AfterValidator(_nfc),
    Field(description="what looks wrong, in a few words (lines separated by line feeds); "
          "required when `problem` is `other`"),
]  # fmt: skip
RECEIPT: dict[str, Any] = {"pattern": "^[0-9A-HJKMNP-TV-Z]{8}$"}
"""contract.events.report_receipt: 8 characters of Crockford base32."""


class _ReportFields(BaseModel):
    """What a consumer says about a product: where it was bought, what looks wrong."""

    model_config = ConfigDict(extra="forbid")

    shop: Shop
    province: Annotated[Province, Field(description="the province where it was bought: whose "
                                        "inspectors get the case")]  # fmt: skip
    problem: ReportProblem
    note: Note | None = None
    contact: Contact | None = None

    @model_validator(mode="after")
    def _explained(self) -> _ReportFields:
        if self.problem is ReportProblem.OTHER and self.note is None:
            raise PydanticCustomError(
                "note_required", "a report of another problem says what it is in its note"
            )
        return self


_OTHER: dict[str, Any] = {"properties": {"problem": {"const": ReportProblem.OTHER.value}},
                          "required": ["problem"]}  # fmt: skip


class ReportIn(_ReportFields):
    """A consumer's report from an app: the code's text as scanned, and what they say."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": _OTHER, "then": {"required": ["note"], "properties": {"note": {"type": "string"}}}
        },
    )  # fmt: skip

    code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1024),
        Field(
            description="the QR code's text as scanned, 1 to 1024 characters once the white "
            "space around it is trimmed: a code of ours or any other",
            json_schema_extra=_trimmed_to(1024),
        ),
    ]


LABEL_PATH_MAX = 900
"""The consumer page's path and query, as the report form sends them back: a label's URL
is about 190 characters, and the code it makes stays under 1024."""
LABEL_PATH = f"^/(?:01|p)/[!-~]{{1,{LABEL_PATH_MAX - 4}}}$"
"""A Digital Link path of this resolver and its query, in printable ASCII (as a browser
sends a page's URL: escaped)."""


class ReportForm(_ReportFields):
    """The consumer page's report form, once the form route has read it (`form_fields`)."""

    label: Annotated[str, StringConstraints(max_length=LABEL_PATH_MAX, pattern=LABEL_PATH)]
    """The page's own path and query (a hidden field): the label reported."""


FORM_WHITE_SPACE = "".join(
    [
        "\t\n\x0b\x0c\r\x85 \xa0\u1680",
        *map(chr, range(0x2000, 0x200B)),
        "\u2028\u2029\u202f\u205f\u3000",
    ]
)
"""Unicode White_Space: what the form route trims from around a typed field (`_WHITE`)."""
TYPED_FIELDS = ("shop", "province", "note", "contact")
"""The form's fields a person types: trimmed, and an empty note or contact is none."""


def _typed(max_length: int, *, lines: bool = False, optional: bool = False) -> dict[str, Any]:
    """The JSON schema of a typed form field as the form route takes it: any white space
    around the text the strict type takes (`_line`, `_lines`), where in a note a CR LF (what a
    browser sends for a line break) counts as the one line feed it is made into; empty (or
    white space) for an optional field."""
    edge = f"[^{_CONTROL}{_SPACE}]"
    unit = f"(?:\\r\\n|[^{_NOTE_CONTROL}])" if lines else f"[^{_CONTROL}]"
    text = f"{_WHITE}*{edge}(?:{unit}{{0,{max_length - 2}}}{edge})?{_WHITE}*"
    return {"type": "string", "pattern": f"^(?:{_WHITE}*|{text})$" if optional else f"^{text}$"}


REPORT_FORM_SCHEMA: dict[str, Any] = {
    "title": "ReportForm",
    "description": "The consumer page's report form. The white space around each typed field "
    "is trimmed, a line break in the note (CR LF) is kept as a line feed, and an empty note "
    "or contact is none; then the fields are checked as a report's (`ReportIn`).",
    "type": "object",
    "properties": {
        "label": {"type": "string", "pattern": LABEL_PATH,
                  "description": "the page's own path and query (a hidden field)"},
        "shop": _typed(REPORT_SHOP_MAX),
        "province": _typed(64),
        "problem": {"type": "string", "enum": [problem.value for problem in ReportProblem]},
        "note": _typed(REPORT_NOTE_MAX, lines=True, optional=True),
        "contact": _typed(REPORT_CONTACT_MAX, optional=True),
    },
    "required": ["label", "shop", "province", "problem"],
    "additionalProperties": False,
    "if": _OTHER,
    "then": {"required": ["note"], "properties": {"note": _typed(REPORT_NOTE_MAX, lines=True)}},
}  # fmt: skip
"""The form's body as the OpenAPI shows it (application/x-www-form-urlencoded)."""


class ReportStatus(StrEnum):
    RECEIVED = "received"
    """New: Kafka has it, and the processors file it as a case shortly."""
    ALREADY_RECEIVED = "already_received"
    """This client reported this unit (or code) today already: the same report, nothing new."""


class ReportReceipt(_Out):
    """The consumer's receipt: the same for every report of one client on one unit (or code)
    on one day in Vietnam."""

    receipt: Annotated[str, Field(json_schema_extra=RECEIPT)]
    """8 characters of Crockford base32, from the report's id."""
    report_id: UUID
    """The report's id, which is its case's id."""
    status: ReportStatus
    sentence: Sentences
    """What the receipt says, in both languages."""
    unit_key: Short | None
    """The unit the report is filed under; None when the code is not one of ours (then it is
    filed under the code's hash, `filed_under`)."""
    filed_under: Short
    """A unit key, or the SHA-256 of a code that names no unit."""
    reason: Reason
    """What verification answered for the code."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseOut(_Out):
    """A consumer's report as a case for inspectors."""

    case_id: UUID
    receipt: Annotated[str, Field(json_schema_extra=RECEIPT)]
    """The number the consumer was given."""
    unit_key: Short
    """A unit key, or the hash of a code that names no unit."""
    code: Code
    reason: Short
    """What verification answered for the code when it was reported."""
    reported_at: datetime
    day: date
    province: Short
    shop: Short
    problem: Short
    problem_sentence: Sentences | None
    """The problem as the form put it, for a problem this API knows."""
    note: Annotated[str, Field(max_length=REPORT_NOTE_MAX)] | None
    has_contact: bool
    contact: Short | None
    """Only when one case is read (`GET /inspectors/cases/{case_id}`)."""
    alert_ids: list[UUID]
    """The unit's alerts that were open when the case was stored."""
    status: CaseStatus
    closed_at: datetime | None
    closed_by: Short | None
    finding: Short | None
    closing_note: Annotated[str, Field(max_length=2000)] | None


class CaseList(_Out):
    count: int
    cases: list[CaseOut]


class CaseClosing(BaseModel):
    """An inspector's finding that closes a case."""

    model_config = ConfigDict(extra="forbid")

    finding: InspectionVerdict
    note: Annotated[str, Field(max_length=2000)] | None = None


# -- the public registry (verify_api.routes.registry) ----------------------------------------


class LogoOut(_Out):
    """May the OCOP logo be printed on the product today (contract.logo.may_print_logo:
    Decision 1162/QĐ-VPĐP-OCOP, only at 3★ or more, only while the recognition is in force)."""

    allowed: bool
    reason: LogoReason
    sentence: Sentences


class RegistryItemOut(_Out):
    """A product in a registry search: what the registry row holds, judged now."""

    product_key: Short
    gtin: Short | None
    name: Short
    name_en: Short | None
    product_group: Short
    producer_id: Short
    producer_name: Short | None
    """None until the producer's registration has been stored."""
    commune: Short | None
    province: Short | None
    """As registered."""
    province_now: Short | None
    """The province the registered one belongs to since the reform of 1 July 2025, if it was
    merged into another."""
    stars: int
    """Of the recognition that decides (in force or not); 0: never certified."""
    status: CertificationStatus
    expiring: bool
    """In force, and ending within 90 days."""
    certificate_no: Short | None
    valid_until: datetime | None
    logo: LogoOut
    link: Short
    """The product's page (HTML or JSON by Accept)."""


class RegistrySearchOut(_Out):
    count: int
    """Products on this page."""
    items: list[RegistryItemOut]
    next_page: Short | None
    """The `page` parameter of the next page; None on the last page."""
    next: Annotated[str, Field(max_length=2000)] | None
    """The next page's URL (path and query)."""
    checked_at: datetime


class RegistryBatchOut(_Out):
    """A batch of the product on its registry page (its latest record's facts)."""

    batch_id: Short
    lot: Short
    production_date: date
    expiry_date: date
    units_packed: int
    status: Short
    recalled_at: datetime | None
    recall_reason: Short | None


class RegistryProductOut(_Out):
    """A product's registry page: its rating now (from every certification), whether the
    logo may be printed today and why, its history and certificates, its producer."""

    product: ProductOut
    gtin: Short | None
    producer: ProducerOut | None
    province_now: Short | None
    status: CertificationStatus
    stars: int
    """Of the certification that applies now (in force or not: see `status`); 0: never
    certified."""
    expiring: bool
    certificate: CertificateOut | None
    """The certification that applies now (in force, expired or revoked)."""
    revocation: RevocationOut | None
    logo: LogoOut
    history: list[RatingEvent]
    certifications: list[CertificationOut]
    in_circulation: list[RegistryBatchOut]
    """Batches packed, not recalled and not past their expiry date, newest first."""
    recalls: list[RegistryBatchOut]
    """Recalled batches, newest production first."""
    checked_at: datetime
