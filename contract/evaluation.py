"""The OCOP evaluation cycle: a dossier's events, and the rules that fold them into a state.

Decision 148/QĐ-TTg (2023) as amended by Decision 1489/QĐ-TTg (6 July 2025), two tiers:

    DossierSubmitted        a producer's dossier (or a re-evaluation of a recognition in force)
    CommunePreChecked       the commune People's Committee: passed, or returned with findings
    MemberScored            one council member's score, parts A ≤ 40, B ≤ 25, C ≤ 35
    ProvinceRecognised      the province council recognises 3★ or 4★, valid 36 months
    ProvinceDeclined        ... or does not (a score below 50, or for cause)
    ProposedToCentral       ... or, at 90 or more, proposes the product for 5★
    CentralRecognised       the central council recognises 5★

Every event names its dossier and product, and is keyed by product key like the product's
certifications (contract.events), so a product's dossiers and ratings stay in order.

`evaluate` folds one dossier's events into an `Evaluation`, and refuses the first event the
rules do not allow with `EvaluationRefused`, whose `reason` is a `Refusal`: a stable code
with a sentence in Vietnamese and English (like contract.verdict.Reason). `judge` is the
rule itself: it returns the reason, or None, and changes nothing. The rules are judged
against a `Context`: the registered producers, the councils and their powers (as the trust
list's authority certificates state them), and the criteria sheets.

Decisions taken here, each where it stands:
- the council's score is the members' mean rounded *down* to the hundredth (`council_score`);
- validity runs from the decision day to the same day 36 months later (`add_months`,
  clamped to the month's end, so 29 Feb 2024 runs to 28 Feb 2027);
- the commune pre-check is required of dossiers submitted from 6 July 2025 (Decision 1489),
  and refused for earlier ones, which went straight to the council;
- what happens when the central council scores a proposed product below 90 is not modelled
  (the rules at hand do not say).

Score bands are contract.certification's `stars_for_score`, not a second copy. Nothing here
does I/O except `load_criteria`, which reads the criteria sheets shipped with the package.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract import admin_map
from contract.certification import (
    STAR_BAND_FLOORS,
    EvaluationLevel,
    ProductGroup,
    StarCertification,
    stars_for_score,
)
from contract.event_base import EventBase
from contract.fields import Identifier, ProductKey, Score, Stars, Text
from contract.label import VIETNAM_TIME
from contract.verdict import Lang

VALIDITY_MONTHS = 36
"""A recognition is in force for 36 months from its decision (Decision 148/QĐ-TTg)."""

PRECHECK_REQUIRED_FROM = date(2025, 7, 6)
"""Decision 1489/QĐ-TTg, signed 6 July 2025, gave the commune its pre-check: dossiers
submitted from this day on need one (a setting of `Context`, this the default)."""

LOWEST_RECOGNISED_STARS = 3
"""Only 3★ and above are OCOP products."""

NATIONAL_FLOOR = STAR_BAND_FLOORS[4]
"""90: the score from which a province proposes a product to the central council."""

D = TypeVar("D", bound=date)


def add_months(day: D, months: int) -> D:
    """The same day (and time, for a datetime) `months` later, clamped to the last day of a
    shorter month: 31 Jan + 1 is 28 or 29 Feb; 29 Feb 2024 + 36 is 28 Feb 2027. Since 36
    months are three years, a recognition only ever meets the clamp on 29 February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _vietnam_midnight(day: date) -> datetime:
    """The start of `day` in Vietnam, in UTC: a decision is in force from its day's start."""
    return datetime.combine(day, time(), VIETNAM_TIME).astimezone(UTC)


# -- criteria sheets --------------------------------------------------------------------------


class Part(StrEnum):
    A = "A"
    """Product and community strength."""
    B = "B"
    """Marketing."""
    C = "C"
    """Quality."""


PART_MAX = {Part.A: Decimal(40), Part.B: Decimal(25), Part.C: Decimal(35)}
"""Each part's maximum (Decision 148/QĐ-TTg): 100 in all."""

SECTIONS = {
    Part.A: frozenset({"production_organisation", "product_development", "community_strength"}),
    Part.B: frozenset({"marketing", "product_story"}),
    Part.C: frozenset({"quality_and_uniqueness", "standards", "export_capacity"}),
}
"""The sections each part is made of (Decision 148/QĐ-TTg); a criterion belongs to one."""

CRITERIA_DIR = Path(__file__).parent / "criteria"


class Criterion(BaseModel):
    """One line of a group's scoring sheet. `illustrative` is required, never defaulted: a
    sheet says of every line whether its wording and points are the official ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^[ABC][0-9]{1,2}$")]
    part: Part
    section: str
    name_vi: Text
    name_en: Text
    max_points: Annotated[Score, Field(gt=0)]
    illustrative: bool

    @model_validator(mode="after")
    def _placed(self) -> Self:
        if not self.code.startswith(self.part.value):
            raise ValueError(f"criterion {self.code} is listed in part {self.part}")
        if self.section not in SECTIONS[self.part]:
            raise ValueError(
                f"criterion {self.code}: part {self.part} has the sections "
                f"{sorted(SECTIONS[self.part])}, not {self.section!r}"
            )
        return self


class CriteriaSheet(BaseModel):
    """A product group's criteria; each part's points add up to its maximum (40, 25, 35)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: ProductGroup
    source: Text
    criteria: Annotated[tuple[Criterion, ...], Field(min_length=3)]

    @model_validator(mode="after")
    def _sums(self) -> Self:
        codes = [criterion.code for criterion in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("criterion codes must not repeat")
        for part, most in PART_MAX.items():
            total = sum((c.max_points for c in self.criteria if c.part is part), Decimal(0))
            if total != most:
                raise ValueError(f"part {part}'s criteria add up to {total}, not {most}")
        return self

    def by_code(self) -> dict[str, Criterion]:
        return {criterion.code: criterion for criterion in self.criteria}


def load_criteria(group: ProductGroup, directory: Path = CRITERIA_DIR) -> CriteriaSheet:
    """The group's sheet from `<directory>/<group>.json`, checked (pydantic's
    ValidationError if it breaks a rule; FileNotFoundError for a group without a sheet yet:
    only food has one)."""
    text = (directory / f"{group.value}.json").read_text(encoding="utf-8")
    sheet = CriteriaSheet.model_validate_json(text)
    if sheet.group is not group:
        raise ValueError(f"{group.value}.json holds the {sheet.group.value} group's sheet")
    return sheet


# -- events -----------------------------------------------------------------------------------


class Purpose(StrEnum):
    """What the producer asks for. A re-evaluation's outcome (renewed, upgraded, downgraded,
    lapsed) is the council's, whatever was asked."""

    FIRST = "first"
    RENEWAL = "renewal"
    UPGRADE = "upgrade"


class PriorRecognition(BaseModel):
    """The recognition in force that a renewal or an upgrade re-evaluates, as the office's
    registry holds it (the office fills it in, not the producer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    certificate_no: Text
    stars: Annotated[int, Field(ge=LOWEST_RECOGNISED_STARS, le=5)]
    valid_until: date
    """The first day it is no longer in force."""


class PreCheckCriterion(StrEnum):
    """What the commune checks before a dossier goes to the province (Decision 1489)."""

    LOCAL_RAW_MATERIALS = "local_raw_materials"
    LOCAL_LABOUR = "local_labour"
    IDEA_ORIGIN = "idea_origin"
    LOCAL_IDENTITY = "local_identity"


class CriterionPoints(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^[ABC][0-9]{1,2}$")]
    points: Score


class _DossierEvent(EventBase):
    dossier_id: Identifier
    product_key: ProductKey
    authority_id: Identifier
    """The council that records the step, and whose key (or desk key) signs it: the
    province's for a dossier, its pre-check, its members' scores and its decision; the
    central council's for its own scores and decision."""

    def topic_key(self) -> bytes:
        return self.product_key.encode("utf-8")


class DossierSubmitted(_DossierEvent):
    """A producer's dossier for one product, lodged with its commune (or, before Decision
    1489, with the council)."""

    type: Literal["dossier_submitted"] = "dossier_submitted"
    producer_id: Identifier
    product_name: Text
    product_group: ProductGroup
    raw_material_origin: Text
    standards: Annotated[tuple[Text, ...], Field(min_length=1, max_length=20)]
    """The standards the product is made to (a TCVN, QCVN or the producer's own TCCS)."""
    commune: Text
    province: Text
    """As named on the day of submission (a former province before 1 July 2025)."""
    submitted_on: date
    purpose: Purpose = Purpose.FIRST
    previous: PriorRecognition | None = None

    @model_validator(mode="after")
    def _previous(self) -> Self:
        if (self.purpose is Purpose.FIRST) != (self.previous is None):
            raise ValueError(
                "a renewal or upgrade names the recognition it re-evaluates; a first dossier "
                "names none"
            )
        return self


class CommunePreChecked(_DossierEvent):
    """The commune's pre-check: passed if it found nothing, else returned for what it found."""

    type: Literal["commune_prechecked"] = "commune_prechecked"
    findings: Annotated[tuple[PreCheckCriterion, ...], Field(max_length=4)] = ()
    note: Text | None = None

    @property
    def passed(self) -> bool:
        return not self.findings


class MemberScored(_DossierEvent):
    """One council member's score sheet. Parts are checked against their maxima by the
    rules (`judge`), not here, so that a sheet over them is refused with a reason."""

    type: Literal["member_scored"] = "member_scored"
    level: EvaluationLevel
    member_id: Identifier
    part_a: Score
    part_b: Score
    part_c: Score
    criteria: Annotated[tuple[CriterionPoints, ...], Field(max_length=100)] = ()
    """Per criterion of the group's sheet, if the member's sheet is recorded in full."""

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        codes = [line.code for line in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("a criterion is scored once on a sheet")
        return self

    @property
    def total(self) -> Decimal:
        return self.part_a + self.part_b + self.part_c


class _Decision(_DossierEvent):
    decided_on: date
    score: Score
    """The council's score: its members' mean as `council_score` states it."""


class ProvinceRecognised(_Decision):
    type: Literal["province_recognised"] = "province_recognised"
    stars: Stars
    decision_no: Text
    certificate_no: Text

    @property
    def valid_until(self) -> date:
        """The first day the recognition is no longer in force."""
        return add_months(self.decided_on, VALIDITY_MONTHS)


class ProvinceDeclined(_Decision):
    type: Literal["province_declined"] = "province_declined"
    note: Text | None = None


class ProposedToCentral(_Decision):
    type: Literal["proposed_to_central"] = "proposed_to_central"
    decision_no: Text


class CentralRecognised(_Decision):
    type: Literal["central_recognised"] = "central_recognised"
    decision_no: Text
    certificate_no: Text

    @property
    def stars(self) -> int:
        return 5

    @property
    def valid_until(self) -> date:
        return add_months(self.decided_on, VALIDITY_MONTHS)


EvaluationEvent = (
    DossierSubmitted
    | CommunePreChecked
    | MemberScored
    | ProvinceRecognised
    | ProvinceDeclined
    | ProposedToCentral
    | CentralRecognised
)
"""A dossier's steps (contract.events.Event names them among all events, by `type`)."""


# -- the council's score ----------------------------------------------------------------------


def council_score(scores: Iterable[MemberScored]) -> Decimal | None:
    """The members' mean, rounded down to the hundredth; None if nobody scored.

    Every member's total is a whole number of hundredths, so the mean is computed exactly
    in integers and rounded once, down: 89.995 is 89.99 (4★), never 90.00 (5★). Rounding
    down to hundredths keeps every band the exact mean's (the bands start at whole numbers),
    so the score a certificate prints always agrees with its stars."""
    hundredths = [int(score.total * 100) for score in scores]
    if not hundredths:
        return None
    return Decimal(sum(hundredths) // len(hundredths)).scaleb(-2)


# -- refusals ---------------------------------------------------------------------------------


class Refusal(StrEnum):
    """Why an event of the cycle was refused; values are stored and sent, never renamed."""

    NOT_SUBMITTED = "not_submitted"
    ALREADY_SUBMITTED = "already_submitted"
    OTHER_DOSSIER = "other_dossier"
    UNREGISTERED_PRODUCER = "unregistered_producer"
    RECOGNITION_EXPIRED = "recognition_expired"
    NOTHING_TO_UPGRADE = "nothing_to_upgrade"
    PRECHECK_NOT_IN_FORCE = "precheck_not_in_force"
    PRECHECK_OVER = "precheck_over"
    PRECHECK_NOT_PASSED = "precheck_not_passed"
    ALREADY_SCORED = "already_scored"
    SCORE_OUT_OF_RANGE = "score_out_of_range"
    UNKNOWN_CRITERION = "unknown_criterion"
    PARTS_DO_NOT_ADD_UP = "parts_do_not_add_up"
    SCORING_CLOSED = "scoring_closed"
    NOT_PROPOSED = "not_proposed"
    NOT_AUTHORISED = "not_authorised"
    WRONG_PROVINCE = "wrong_province"
    DECIDED_BEFORE_SUBMISSION = "decided_before_submission"
    NO_COUNCIL_SCORE = "no_council_score"
    SCORE_MISMATCH = "score_mismatch"
    FIVE_STARS_ARE_NATIONAL = "five_stars_are_national"
    STARS_NOT_BAND = "stars_not_band"
    BELOW_RECOGNITION = "below_recognition"
    BELOW_NATIONAL = "below_national"
    ALREADY_DECIDED = "already_decided"

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES = {
    Refusal.NOT_SUBMITTED: (
        "Hồ sơ này chưa được nộp.",
        "This dossier was never submitted.",
    ),
    Refusal.ALREADY_SUBMITTED: (
        "Hồ sơ này đã được nộp; đánh giá lại cần một hồ sơ mới.",
        "This dossier was already submitted; a re-evaluation is a new dossier.",
    ),
    Refusal.OTHER_DOSSIER: (
        "Sự kiện ghi mã hồ sơ hoặc sản phẩm khác với hồ sơ đã nộp.",
        "The event names another dossier or product than the one submitted.",
    ),
    Refusal.UNREGISTERED_PRODUCER: (
        "Chủ thể nộp hồ sơ chưa được đăng ký.",
        "The producer submitting the dossier is not registered.",
    ),
    Refusal.RECOGNITION_EXPIRED: (
        "Chỉ được đánh giá lại trước khi công nhận hết hiệu lực; sau đó phải đánh giá như "
        "sản phẩm mới.",
        "A recognition can be re-evaluated only before it expires; after that the product "
        "is evaluated anew.",
    ),
    Refusal.NOTHING_TO_UPGRADE: (
        "Sản phẩm đã đạt 5 sao: không thể nâng hạng.",
        "The product already holds 5 stars: there is nothing to upgrade to.",
    ),
    Refusal.PRECHECK_NOT_IN_FORCE: (
        "Hồ sơ nộp trước Quyết định 1489/QĐ-TTg (6/7/2025) không qua bước rà soát của xã.",
        "Dossiers submitted before Decision 1489/QĐ-TTg (6 July 2025) have no commune pre-check.",
    ),
    Refusal.PRECHECK_OVER: (
        "Hồ sơ đã qua bước rà soát của xã.",
        "The dossier has already passed the commune's pre-check.",
    ),
    Refusal.PRECHECK_NOT_PASSED: (
        "Hồ sơ chưa được Ủy ban nhân dân xã rà soát đạt: hội đồng chưa được chấm điểm hay "
        "quyết định.",
        "The commune has not passed the dossier's pre-check: the council cannot score or "
        "decide it yet.",
    ),
    Refusal.ALREADY_SCORED: (
        "Thành viên hội đồng này đã chấm điểm hồ sơ ở cấp này.",
        "This council member has already scored the dossier at this level.",
    ),
    Refusal.SCORE_OUT_OF_RANGE: (
        "Điểm vượt mức tối đa: phần A 40, phần B 25, phần C 35, mỗi tiêu chí theo thang điểm "
        "của nhóm sản phẩm.",
        "A score is over its maximum: part A 40, part B 25, part C 35, each criterion as the "
        "group's sheet states.",
    ),
    Refusal.UNKNOWN_CRITERION: (
        "Phiếu chấm có tiêu chí không thuộc bộ tiêu chí của nhóm sản phẩm.",
        "The sheet scores a criterion that is not on the product group's sheet.",
    ),
    Refusal.PARTS_DO_NOT_ADD_UP: (
        "Tổng điểm các tiêu chí không bằng điểm của phần tương ứng.",
        "The criteria's points do not add up to their part's score.",
    ),
    Refusal.SCORING_CLOSED: (
        "Việc chấm điểm ở cấp này đã kết thúc.",
        "Scoring at this level is over.",
    ),
    Refusal.NOT_PROPOSED: (
        "Sản phẩm chưa được tỉnh đề nghị lên hội đồng trung ương.",
        "The province has not proposed the product to the central council.",
    ),
    Refusal.NOT_AUTHORISED: (
        "Cơ quan này không có thẩm quyền quyết định ở cấp này: tỉnh công nhận 3-4 sao, trung "
        "ương công nhận 5 sao.",
        "This authority has no power to decide at this level: a province recognises 3 and "
        "4 stars, the central council 5.",
    ),
    Refusal.WRONG_PROVINCE: (
        "Hội đồng này không phải (hoặc không còn là) hội đồng của tỉnh nơi có hồ sơ vào ngày "
        "quyết định.",
        "This is not (or no longer) the council of the dossier's province on the day of the "
        "decision.",
    ),
    Refusal.DECIDED_BEFORE_SUBMISSION: (
        "Ngày quyết định trước ngày nộp hồ sơ.",
        "The decision is dated before the dossier was submitted.",
    ),
    Refusal.NO_COUNCIL_SCORE: (
        "Chưa có điểm của thành viên hội đồng nào: không thể quyết định.",
        "No council member has scored the dossier: there is nothing to decide on.",
    ),
    Refusal.SCORE_MISMATCH: (
        "Điểm trong quyết định khác điểm trung bình của các thành viên hội đồng.",
        "The decision's score is not the council members' mean.",
    ),
    Refusal.FIVE_STARS_ARE_NATIONAL: (
        "Tỉnh không công nhận 5 sao: sản phẩm từ 90 điểm được đề nghị lên trung ương.",
        "A province does not award 5 stars: a product scoring 90 or more is proposed to the "
        "central council.",
    ),
    Refusal.STARS_NOT_BAND: (
        "Số sao không khớp với điểm: dưới 30 1 sao, 30-49 2 sao, 50-69 3 sao, 70-89 4 sao, "
        "từ 90 5 sao.",
        "The stars do not match the score: below 30 1★, 30-49 2★, 50-69 3★, 70-89 4★, "
        "90 and above 5★.",
    ),
    Refusal.BELOW_RECOGNITION: (
        "Dưới 50 điểm (dưới 3 sao) không được công nhận là sản phẩm OCOP.",
        "Below 50 points (under 3 stars) a product is not recognised as OCOP.",
    ),
    Refusal.BELOW_NATIONAL: (
        "Chỉ sản phẩm đạt từ 90 điểm mới được đề nghị hoặc công nhận 5 sao.",
        "Only a product scoring 90 or more is proposed for, or recognised at, 5 stars.",
    ),
    Refusal.ALREADY_DECIDED: (
        "Hồ sơ đã có quyết định ở cấp này.",
        "The dossier has already been decided at this level.",
    ),
}


class EvaluationRefused(ValueError):
    """An event the rules do not allow, and why; the state it was applied to is unchanged."""

    def __init__(self, reason: Refusal, event: BaseModel) -> None:
        super().__init__(f"{event.__class__.__name__}: {reason.sentence(Lang.EN)}")
        self.reason = reason
        self.event = event


# -- the fold ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """A council as the trust list states it: its level, and for a province its province
    (named as it was when the council was certified)."""

    level: EvaluationLevel
    province: str | None = None


@dataclass(frozen=True)
class Context:
    """What a dossier's events are judged against."""

    producers: Set[str]
    """The ids of the registered producers (ProducerRegistered)."""
    authorities: Mapping[str, Authority]
    criteria: Mapping[ProductGroup, CriteriaSheet] = field(default_factory=dict)
    """The sheets a member's per-criterion points are checked against."""
    precheck_from: date = PRECHECK_REQUIRED_FROM


class Stage(StrEnum):
    AWAITING_PRECHECK = "awaiting_precheck"
    RETURNED = "returned"
    """The commune returned the dossier; a later pre-check may pass it."""
    PROVINCIAL = "provincial"
    """Open for the province council's scores and decision."""
    NATIONAL = "national"
    """Proposed to the central council: open for its scores and decision."""
    RECOGNISED = "recognised"
    DECLINED = "declined"


class Outcome(StrEnum):
    RECOGNISED = "recognised"
    NOT_RECOGNISED = "not_recognised"
    RENEWED = "renewed"
    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    LAPSED = "lapsed"
    """A re-evaluation declined: the product is no longer OCOP once its recognition expires."""


Recognition = ProvinceRecognised | CentralRecognised
Decision = ProvinceRecognised | ProvinceDeclined | ProposedToCentral | CentralRecognised


@dataclass(frozen=True)
class Evaluation:
    """One dossier's state, folded from its events."""

    dossier: DossierSubmitted
    stage: Stage
    scores: tuple[MemberScored, ...] = ()
    findings: tuple[PreCheckCriterion, ...] = ()
    """What the latest pre-check returned the dossier for."""
    proposal: ProposedToCentral | None = None
    decision: Recognition | ProvinceDeclined | None = None

    def scores_at(self, level: EvaluationLevel) -> tuple[MemberScored, ...]:
        return tuple(score for score in self.scores if score.level is level)

    def council_score(self, level: EvaluationLevel) -> Decimal | None:
        return council_score(self.scores_at(level))

    @property
    def outcome(self) -> Outcome | None:
        """None while the dossier is open."""
        decision, previous = self.decision, self.dossier.previous
        if decision is None:
            return None
        if isinstance(decision, ProvinceDeclined):
            return Outcome.NOT_RECOGNISED if previous is None else Outcome.LAPSED
        if previous is None:
            return Outcome.RECOGNISED
        if decision.stars > previous.stars:
            return Outcome.UPGRADED
        return Outcome.DOWNGRADED if decision.stars < previous.stars else Outcome.RENEWED

    def certification(self) -> StarCertification:
        """The recognition as the body of a signed certification (keys.certs signs it):
        in force from the start of the decision day in Vietnam for 36 months."""
        decision = self.decision
        if decision is None or isinstance(decision, ProvinceDeclined):
            raise ValueError(f"dossier {self.dossier.dossier_id} has no recognition")
        start = _vietnam_midnight(decision.decided_on)
        return StarCertification(
            certificate_no=decision.certificate_no,
            decision_no=decision.decision_no,
            product_key=self.dossier.product_key,
            product_name=self.dossier.product_name,
            product_group=self.dossier.product_group,
            producer_id=self.dossier.producer_id,
            stars=decision.stars,
            score=decision.score,
            evaluation_level=(
                EvaluationLevel.NATIONAL
                if isinstance(decision, CentralRecognised)
                else EvaluationLevel.PROVINCIAL
            ),
            authority_id=decision.authority_id,
            issued_at=start,
            valid_from=start,
            valid_until=_vietnam_midnight(decision.valid_until),
        )


def _judge_submission(event: DossierSubmitted, context: Context) -> Refusal | None:
    if event.producer_id not in context.producers:
        return Refusal.UNREGISTERED_PRODUCER
    previous = event.previous
    if previous is not None:
        if event.submitted_on >= previous.valid_until:
            return Refusal.RECOGNITION_EXPIRED
        if event.purpose is Purpose.UPGRADE and previous.stars == 5:
            return Refusal.NOTHING_TO_UPGRADE
    return None


def _judge_sheet(state: Evaluation, event: MemberScored, context: Context) -> Refusal | None:
    """One score sheet: at the level open now, once per member, within every maximum."""
    if event.level is EvaluationLevel.PROVINCIAL:
        if state.stage in (Stage.AWAITING_PRECHECK, Stage.RETURNED):
            return Refusal.PRECHECK_NOT_PASSED
        if state.stage is not Stage.PROVINCIAL:
            return Refusal.SCORING_CLOSED
    elif state.stage is not Stage.NATIONAL:
        closed = state.stage in (Stage.RECOGNISED, Stage.DECLINED)
        return Refusal.SCORING_CLOSED if closed else Refusal.NOT_PROPOSED
    if any(score.member_id == event.member_id for score in state.scores_at(event.level)):
        return Refusal.ALREADY_SCORED
    parts = {Part.A: event.part_a, Part.B: event.part_b, Part.C: event.part_c}
    if any(points > PART_MAX[part] for part, points in parts.items()):
        return Refusal.SCORE_OUT_OF_RANGE
    if not event.criteria:
        return None
    sheet = context.criteria.get(state.dossier.product_group)
    lines = sheet.by_code() if sheet is not None else {}
    sums = dict.fromkeys(Part, Decimal(0))
    for line in event.criteria:
        criterion = lines.get(line.code)
        if criterion is None:
            return Refusal.UNKNOWN_CRITERION
        if line.points > criterion.max_points:
            return Refusal.SCORE_OUT_OF_RANGE
        sums[criterion.part] += line.points
    return None if sums == parts else Refusal.PARTS_DO_NOT_ADD_UP


def _judge_decision(state: Evaluation, event: Decision, context: Context) -> Refusal | None:
    """A council's decision: the right stage, an authority with that power (and, for a
    province, the dossier's province on that day), on the council's own score."""
    national = isinstance(event, CentralRecognised)
    open_stage = Stage.NATIONAL if national else Stage.PROVINCIAL
    if state.stage is not open_stage:
        if state.stage in (Stage.AWAITING_PRECHECK, Stage.RETURNED):
            return Refusal.PRECHECK_NOT_PASSED
        if state.stage in (Stage.RECOGNISED, Stage.DECLINED) or not national:
            return Refusal.ALREADY_DECIDED
        return Refusal.NOT_PROPOSED
    level = EvaluationLevel.NATIONAL if national else EvaluationLevel.PROVINCIAL
    authority = context.authorities.get(event.authority_id)
    if authority is None or authority.level is not level:
        return Refusal.NOT_AUTHORISED
    if not national:
        try:
            province = admin_map.province_on(state.dossier.province, event.decided_on)
        except admin_map.UnknownProvince:
            province = None
        if province is None or authority.province != province:
            return Refusal.WRONG_PROVINCE
    if event.decided_on < state.dossier.submitted_on:
        return Refusal.DECIDED_BEFORE_SUBMISSION
    score = state.council_score(level)
    if score is None:
        return Refusal.NO_COUNCIL_SCORE
    if event.score != score:
        return Refusal.SCORE_MISMATCH
    banded = stars_for_score(score)
    if isinstance(event, ProvinceRecognised):
        if event.stars == 5:
            return Refusal.FIVE_STARS_ARE_NATIONAL
        if event.stars != banded:
            return Refusal.STARS_NOT_BAND
        if banded < LOWEST_RECOGNISED_STARS:
            return Refusal.BELOW_RECOGNITION
    if isinstance(event, ProposedToCentral | CentralRecognised) and score < NATIONAL_FLOOR:
        return Refusal.BELOW_NATIONAL
    return None


def judge(state: Evaluation | None, event: EvaluationEvent, context: Context) -> Refusal | None:
    """Why `event` may not follow `state` (None: the dossier's first event), or None."""
    if state is None:
        if not isinstance(event, DossierSubmitted):
            return Refusal.NOT_SUBMITTED
        return _judge_submission(event, context)
    dossier = state.dossier
    if (event.dossier_id, event.product_key) != (dossier.dossier_id, dossier.product_key):
        return Refusal.OTHER_DOSSIER
    if isinstance(event, DossierSubmitted):
        return Refusal.ALREADY_SUBMITTED
    if isinstance(event, CommunePreChecked):
        if dossier.submitted_on < context.precheck_from:
            return Refusal.PRECHECK_NOT_IN_FORCE
        if state.stage not in (Stage.AWAITING_PRECHECK, Stage.RETURNED):
            return Refusal.PRECHECK_OVER
        return None
    if isinstance(event, MemberScored):
        return _judge_sheet(state, event, context)
    return _judge_decision(state, event, context)


def apply(state: Evaluation | None, event: EvaluationEvent, context: Context) -> Evaluation:
    """The state after `event`, or EvaluationRefused (and `state` is as it was)."""
    refusal = judge(state, event, context)
    if refusal is not None:
        raise EvaluationRefused(refusal, event)
    if state is None:
        if isinstance(event, DossierSubmitted):
            needs_check = event.submitted_on >= context.precheck_from
            stage = Stage.AWAITING_PRECHECK if needs_check else Stage.PROVINCIAL
            return Evaluation(event, stage)
    elif isinstance(event, CommunePreChecked):
        stage = Stage.PROVINCIAL if event.passed else Stage.RETURNED
        return replace(state, stage=stage, findings=event.findings)
    elif isinstance(event, MemberScored):
        return replace(state, scores=(*state.scores, event))
    elif isinstance(event, ProposedToCentral):
        return replace(state, stage=Stage.NATIONAL, proposal=event)
    elif isinstance(event, ProvinceDeclined):
        return replace(state, stage=Stage.DECLINED, decision=event)
    elif isinstance(event, ProvinceRecognised | CentralRecognised):
        return replace(state, stage=Stage.RECOGNISED, decision=event)
    raise AssertionError(f"no rule applies {event.type}")  # judge refused it already


def evaluate(events: Iterable[EvaluationEvent], context: Context) -> Evaluation:
    """One dossier's events, in order, folded; EvaluationRefused names the first refused."""
    state: Evaluation | None = None
    for event in events:
        state = apply(state, event, context)
    if state is None:
        raise ValueError("a dossier has at least its submission")
    return state
