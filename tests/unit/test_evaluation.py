"""The evaluation cycle's rules (contract.evaluation): score bands at their edges, the
council's score, the order of the cycle, who may decide what, re-evaluation, validity, and
the criteria sheets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contract.certification import EvaluationLevel, ProductGroup, stars_for_score
from contract.evaluation import (
    CRITERIA_DIR,
    Authority,
    CentralRecognised,
    CommunePreChecked,
    Context,
    DossierSubmitted,
    Evaluation,
    EvaluationEvent,
    EvaluationRefused,
    MemberScored,
    Outcome,
    PreCheckCriterion,
    PriorRecognition,
    ProposedToCentral,
    ProvinceDeclined,
    ProvinceRecognised,
    Purpose,
    Refusal,
    Stage,
    add_months,
    apply,
    council_score,
    evaluate,
    judge,
    load_criteria,
)
from contract.verdict import Lang

PRODUCT = "/p/HY-BANHCAY-01"
PRODUCER = "HY-HTX-001"
SUBMITTED = date(2026, 3, 2)
DECIDED = date(2026, 6, 15)
CONTEXT = Context(
    producers={PRODUCER},
    authorities={
        "VN-33": Authority(EvaluationLevel.PROVINCIAL, "Hưng Yên"),
        "VN-34": Authority(EvaluationLevel.PROVINCIAL, "Thái Bình"),
        "VN-48": Authority(EvaluationLevel.PROVINCIAL, "Đà Nẵng"),
        "VN-NATIONAL": Authority(EvaluationLevel.NATIONAL),
    },
    criteria={ProductGroup.FOOD: load_criteria(ProductGroup.FOOD)},
)
_COMMON = {"dossier_id": "HS-2026-001", "product_key": PRODUCT}


def _event(cls: type[Any], **fields: Any) -> Any:
    recorded = {"authority_id": "VN-33"} | _COMMON | fields  # Hưng Yên's council records
    return cls(event_id=uuid.uuid4(), occurred_at=datetime(2026, 6, 1, tzinfo=UTC), **recorded)


def submitted(**fields: Any) -> DossierSubmitted:
    values: dict[str, Any] = {
        "producer_id": PRODUCER,
        "product_name": "Bánh cáy làng Nguyễn",
        "product_group": ProductGroup.FOOD,
        "raw_material_origin": "Xã Nguyên Xá, Đông Hưng",
        "standards": ("TCCS 01:2026/HTX",),
        "commune": "Xã Nguyên Xá",
        "province": "Thái Bình",  # as the producer still writes it: Hưng Yên's since 2025
        "submitted_on": SUBMITTED,
    }
    return _event(DossierSubmitted, **(values | fields))  # type: ignore[no-any-return]


def prechecked(*findings: PreCheckCriterion) -> CommunePreChecked:
    return _event(CommunePreChecked, findings=findings)  # type: ignore[no-any-return]


def scored(member: str, total: str, *levels: EvaluationLevel, **parts: Any) -> MemberScored:
    """A sheet whose parts split `total` (parts A and B at their most, C the rest)."""
    value = Decimal(total)
    a, b = min(value, Decimal(40)), min(max(value - 40, Decimal(0)), Decimal(25))
    fields = {"part_a": a, "part_b": b, "part_c": value - a - b} | parts
    level = levels[0] if levels else EvaluationLevel.PROVINCIAL
    return _event(MemberScored, level=level, member_id=member, **fields)  # type: ignore[no-any-return]


def recognised(score: str, stars: int, authority: str = "VN-33", **extra: Any) -> Any:
    return _event(
        ProvinceRecognised,
        authority_id=authority,
        decided_on=extra.pop("decided_on", DECIDED),
        score=Decimal(score),
        stars=stars,
        decision_no="1234/QĐ-UBND",
        certificate_no="56/GCN-OCOP",
        **extra,
    )


def proposed(score: str, authority: str = "VN-33") -> ProposedToCentral:
    return _event(  # type: ignore[no-any-return]
        ProposedToCentral,
        authority_id=authority,
        decided_on=DECIDED,
        score=Decimal(score),
        decision_no="1300/QĐ-UBND",
    )


def central(score: str, authority: str = "VN-NATIONAL") -> CentralRecognised:
    return _event(  # type: ignore[no-any-return]
        CentralRecognised,
        authority_id=authority,
        decided_on=date(2026, 10, 1),
        score=Decimal(score),
        decision_no="99/QĐ-BNN",
        certificate_no="7/GCN-OCOP-QG",
    )


def refusal(events: list[EvaluationEvent], context: Context = CONTEXT) -> Refusal:
    with pytest.raises(EvaluationRefused) as refused:
        evaluate(events, context)
    return refused.value.reason


OPEN: list[EvaluationEvent] = [submitted(), prechecked()]
"""A dossier the commune passed: open for the province council."""


# -- bands and the council's score ------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "stars"),
    [
        ("0", 1), ("29.99", 1), ("30", 2), ("49.99", 2), ("50", 3), ("69.99", 3),
        ("70", 4), ("89.99", 4), ("90", 5), ("100", 5),
    ],
)  # fmt: skip
def test_bands_at_their_edges(score: str, stars: int) -> None:
    assert stars_for_score(Decimal(score)) == stars


def test_the_council_score_is_the_members_mean_rounded_down_to_the_hundredth() -> None:
    assert council_score([]) is None
    assert council_score([scored("m1", "70"), scored("m2", "80")]) == Decimal("75")
    # 89.995 exactly: rounded down it stays 4★; rounded half-up it would print 90.00 and 5★
    sheets = [scored("m1", "89.99"), scored("m2", "90")]
    assert council_score(sheets) == Decimal("89.99")
    assert stars_for_score(council_score(sheets) or Decimal(0)) == 4
    # a third of a hundredth is dropped, never rounded up over an edge
    assert council_score(
        [scored(m, v) for m, v in (("m1", "50"), ("m2", "49.99"), ("m3", "50"))]
    ) == (Decimal("49.99"))


def test_a_recognition_is_decided_on_the_councils_own_score() -> None:
    events = [*OPEN, scored("m1", "74.5"), scored("m2", "75.5"), scored("m3", "75")]
    state = evaluate([*events, recognised("75", 4)], CONTEXT)
    assert state.stage is Stage.RECOGNISED
    assert state.outcome is Outcome.RECOGNISED
    assert refusal([*events, recognised("75.5", 4)]) is Refusal.SCORE_MISMATCH
    assert refusal([*OPEN, recognised("75", 4)]) is Refusal.NO_COUNCIL_SCORE


def test_stars_must_be_the_scores_band_and_at_least_three() -> None:
    events = [*OPEN, scored("m1", "69.99")]
    assert refusal([*events, recognised("69.99", 4)]) is Refusal.STARS_NOT_BAND
    assert evaluate([*events, recognised("69.99", 3)], CONTEXT).decision is not None
    low = [*OPEN, scored("m1", "49.99")]
    assert refusal([*low, recognised("49.99", 2)]) is Refusal.BELOW_RECOGNITION
    declined = _event(ProvinceDeclined, authority_id="VN-33", decided_on=DECIDED, score="49.99")
    state = evaluate([*low, declined], CONTEXT)
    assert (state.stage, state.outcome) == (Stage.DECLINED, Outcome.NOT_RECOGNISED)


# -- who decides what -------------------------------------------------------------------------


def test_a_province_cannot_award_five_stars_it_proposes_to_central() -> None:
    events = [*OPEN, scored("m1", "92"), scored("m2", "91")]
    assert refusal([*events, recognised("91.5", 5)]) is Refusal.FIVE_STARS_ARE_NATIONAL
    assert refusal([*events, recognised("91.5", 4)]) is Refusal.STARS_NOT_BAND
    at_central = [*events, proposed("91.5")]
    assert evaluate(at_central, CONTEXT).stage is Stage.NATIONAL
    # the central council scores on its own, and only it decides 5★
    assert refusal([*at_central, central("91.5")]) is Refusal.NO_COUNCIL_SCORE
    national = [
        scored("n1", "90", EvaluationLevel.NATIONAL),
        scored("n2", "91", EvaluationLevel.NATIONAL),
    ]
    state = evaluate([*at_central, *national, central("90.5")], CONTEXT)
    assert (state.stage, state.certification().stars) == (Stage.RECOGNISED, 5)
    assert state.certification().evaluation_level is EvaluationLevel.NATIONAL
    assert refusal([*at_central, *national, central("90.5", "VN-33")]) is Refusal.NOT_AUTHORISED
    low = [*at_central, scored("n1", "88", EvaluationLevel.NATIONAL)]
    assert refusal([*low, central("88")]) is Refusal.BELOW_NATIONAL


def test_only_a_score_of_ninety_is_proposed_and_only_what_was_proposed_goes_central() -> None:
    events = [*OPEN, scored("m1", "89.99")]
    assert refusal([*events, proposed("89.99")]) is Refusal.BELOW_NATIONAL
    assert refusal([*events, central("89.99")]) is Refusal.NOT_PROPOSED
    national = scored("n1", "95", EvaluationLevel.NATIONAL)
    assert refusal([*events, national]) is Refusal.NOT_PROPOSED


def test_a_decision_needs_a_council_with_that_power_in_the_dossiers_province() -> None:
    events = [*OPEN, scored("m1", "75")]
    assert refusal([*events, recognised("75", 4, "VN-NATIONAL")]) is Refusal.NOT_AUTHORISED
    assert refusal([*events, recognised("75", 4, "VN-99")]) is Refusal.NOT_AUTHORISED
    assert refusal([*events, recognised("75", 4, "VN-48")]) is Refusal.WRONG_PROVINCE
    # Thái Bình's council no longer exists in 2026: Hưng Yên's decides for its communes
    assert refusal([*events, recognised("75", 4, "VN-34")]) is Refusal.WRONG_PROVINCE
    before: list[EvaluationEvent] = [submitted(submitted_on=date(2024, 3, 1)), scored("m1", "75")]
    assert evaluate([*before, recognised("75", 4, "VN-34", decided_on=date(2024, 6, 3))], CONTEXT)
    early = recognised("75", 4, decided_on=date(2026, 3, 1))
    assert refusal([*events, early]) is Refusal.DECIDED_BEFORE_SUBMISSION


def test_a_decided_dossier_takes_no_more_scores_or_decisions() -> None:
    done = [*OPEN, scored("m1", "75"), recognised("75", 4)]
    assert refusal([*done, scored("m2", "75")]) is Refusal.SCORING_CLOSED
    assert refusal([*done, recognised("75", 4)]) is Refusal.ALREADY_DECIDED
    assert refusal([*done, submitted()]) is Refusal.ALREADY_SUBMITTED


# -- the order of the cycle -------------------------------------------------------------------


def test_no_scoring_before_the_commune_passed_the_dossier() -> None:
    assert refusal([submitted(), scored("m1", "75")]) is Refusal.PRECHECK_NOT_PASSED
    returned: list[EvaluationEvent] = [
        submitted(),
        prechecked(PreCheckCriterion.LOCAL_RAW_MATERIALS),
    ]
    state = evaluate(returned, CONTEXT)
    assert (state.stage, state.findings) == (
        Stage.RETURNED, (PreCheckCriterion.LOCAL_RAW_MATERIALS,),
    )  # fmt: skip
    assert refusal([*returned, scored("m1", "75")]) is Refusal.PRECHECK_NOT_PASSED
    assert refusal([*returned, recognised("75", 4)]) is Refusal.PRECHECK_NOT_PASSED
    state = evaluate([*returned, prechecked(), scored("m1", "75")], CONTEXT)
    assert state.stage is Stage.PROVINCIAL
    assert refusal([*OPEN, prechecked()]) is Refusal.PRECHECK_OVER


def test_dossiers_before_decision_1489_had_no_precheck() -> None:
    old = submitted(submitted_on=date(2025, 7, 5))
    assert evaluate([old], CONTEXT).stage is Stage.PROVINCIAL
    assert refusal([old, prechecked()]) is Refusal.PRECHECK_NOT_IN_FORCE
    assert evaluate([submitted(submitted_on=date(2025, 7, 6))], CONTEXT).stage is (
        Stage.AWAITING_PRECHECK
    )


def test_every_event_follows_a_submission_of_its_own_dossier() -> None:
    assert refusal([prechecked()]) is Refusal.NOT_SUBMITTED
    other = _event(CommunePreChecked).model_copy(update={"dossier_id": "HS-X"})
    assert refusal([submitted(), other]) is Refusal.OTHER_DOSSIER
    with pytest.raises(ValueError, match="at least"):
        evaluate([], CONTEXT)


def test_a_refused_event_changes_nothing_and_says_why_in_both_languages() -> None:
    state = evaluate(OPEN, CONTEXT)
    event = scored("m1", "75", part_a=Decimal(41), part_b=Decimal(0), part_c=Decimal(34))
    assert judge(state, event, CONTEXT) is Refusal.SCORE_OUT_OF_RANGE
    with pytest.raises(EvaluationRefused) as refused:
        apply(state, event, CONTEXT)
    assert state.scores == ()
    assert "phần A 40" in refused.value.reason.sentence(Lang.VI)
    assert "part A 40" in str(refused.value)
    for reason in Refusal:
        assert reason.sentence(Lang.VI) != reason.sentence(Lang.EN)


def test_an_unregistered_producer_cannot_submit() -> None:
    assert refusal([submitted(producer_id="HY-HTX-999")]) is Refusal.UNREGISTERED_PRODUCER


# -- score sheets -----------------------------------------------------------------------------


def test_one_score_per_member_per_level() -> None:
    assert refusal([*OPEN, scored("m1", "75"), scored("m1", "76")]) is Refusal.ALREADY_SCORED
    at_central = [*OPEN, scored("m1", "95"), proposed("95")]
    state = evaluate([*at_central, scored("m1", "94", EvaluationLevel.NATIONAL)], CONTEXT)
    assert state.council_score(EvaluationLevel.NATIONAL) == Decimal(94)


@pytest.mark.parametrize(
    ("part", "over"), [("part_a", "40.01"), ("part_b", "25.01"), ("part_c", "35.01")]
)
def test_scores_out_of_range(part: str, over: str) -> None:
    parts = {"part_a": Decimal(0), "part_b": Decimal(0), "part_c": Decimal(0), part: Decimal(over)}
    assert refusal([*OPEN, scored("m1", "0", **parts)]) is Refusal.SCORE_OUT_OF_RANGE
    at_most = {p: Decimal(m) for p, m in (("part_a", 40), ("part_b", 25), ("part_c", 35))}
    assert evaluate([*OPEN, scored("m1", "0", **at_most)], CONTEXT).council_score(
        EvaluationLevel.PROVINCIAL
    ) == Decimal(100)
    with pytest.raises(ValidationError):
        scored("m1", "0", part_a=Decimal("-1"))
    with pytest.raises(ValidationError):
        scored("m1", "0", part_a=Decimal("10.001"))


def test_a_sheet_in_full_is_checked_against_the_groups_criteria() -> None:
    lines = [{"code": "A1", "points": "5"}, {"code": "A2", "points": "3"}]
    parts = {"part_a": Decimal(8), "part_b": Decimal(0), "part_c": Decimal(0)}
    assert evaluate([*OPEN, scored("m1", "8", criteria=lines, **parts)], CONTEXT).scores
    over = [{"code": "A1", "points": "5.5"}, {"code": "A2", "points": "2.5"}]
    assert refusal([*OPEN, scored("m1", "8", criteria=over, **parts)]) is (
        Refusal.SCORE_OUT_OF_RANGE
    )
    unknown = [{"code": "A1", "points": "5"}, {"code": "A99", "points": "3"}]
    assert refusal([*OPEN, scored("m1", "8", criteria=unknown, **parts)]) is (
        Refusal.UNKNOWN_CRITERION
    )
    short = [{"code": "A1", "points": "5"}]
    assert refusal([*OPEN, scored("m1", "8", criteria=short, **parts)]) is (
        Refusal.PARTS_DO_NOT_ADD_UP
    )
    with pytest.raises(ValidationError, match="once"):
        scored("m1", "8", criteria=[lines[0], lines[0]], **parts)


# -- re-evaluation and validity ---------------------------------------------------------------


def _again(purpose: Purpose, stars: int, until: date = date(2026, 9, 1)) -> DossierSubmitted:
    previous = PriorRecognition(certificate_no="12/GCN-OCOP", stars=stars, valid_until=until)
    return submitted(purpose=purpose, previous=previous)


@pytest.mark.parametrize(
    ("purpose", "before", "score", "after", "outcome"),
    [
        (Purpose.RENEWAL, 4, "75", 4, Outcome.RENEWED),
        (Purpose.RENEWAL, 4, "65", 3, Outcome.DOWNGRADED),
        (Purpose.UPGRADE, 3, "72", 4, Outcome.UPGRADED),
        (Purpose.UPGRADE, 3, "60", 3, Outcome.RENEWED),
    ],
)
def test_renewal_upgrade_and_downgrade(
    purpose: Purpose, before: int, score: str, after: int, outcome: Outcome
) -> None:
    events: list[EvaluationEvent] = [_again(purpose, before), prechecked(), scored("m1", score)]
    state = evaluate([*events, recognised(score, after)], CONTEXT)
    assert state.outcome is outcome
    assert state.certification().valid_until > state.certification().valid_from


def test_a_declined_re_evaluation_lapses() -> None:
    events: list[EvaluationEvent] = [_again(Purpose.RENEWAL, 3), prechecked(), scored("m1", "45")]
    declined = _event(ProvinceDeclined, authority_id="VN-33", decided_on=DECIDED, score="45")
    assert evaluate([*events, declined], CONTEXT).outcome is Outcome.LAPSED


def test_re_evaluation_only_before_expiry() -> None:
    assert refusal([_again(Purpose.RENEWAL, 4, until=SUBMITTED)]) is Refusal.RECOGNITION_EXPIRED
    assert evaluate([_again(Purpose.RENEWAL, 4, until=date(2026, 3, 3))], CONTEXT)
    assert refusal([_again(Purpose.UPGRADE, 5)]) is Refusal.NOTHING_TO_UPGRADE
    with pytest.raises(ValidationError, match="re-evaluates"):
        submitted(purpose=Purpose.RENEWAL)
    with pytest.raises(ValidationError, match="re-evaluates"):
        submitted(previous=PriorRecognition(certificate_no="1", stars=3, valid_until=DECIDED))


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2023, 3, 15), 36, date(2026, 3, 15)),
        (date(2024, 2, 29), 36, date(2027, 2, 28)),  # no 29 Feb in 2027
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 8, 31), 1, date(2023, 9, 30)),
        (date(2023, 12, 31), 36, date(2026, 12, 31)),
        (date(2023, 10, 31), 4, date(2024, 2, 29)),
    ],
)
def test_months_are_the_same_day_later_clamped_to_the_months_end(
    start: date, months: int, end: date
) -> None:
    assert add_months(start, months) == end
    moment = datetime(start.year, start.month, start.day, 8, 30, tzinfo=UTC)
    assert add_months(moment, months) == datetime(end.year, end.month, end.day, 8, 30, tzinfo=UTC)


def test_a_recognition_is_valid_36_months_from_its_decision_day_in_vietnam() -> None:
    events = [*OPEN, scored("m1", "75")]
    state: Evaluation = evaluate(
        [*events, recognised("75", 4, decided_on=date(2028, 2, 29))], CONTEXT
    )
    assert isinstance(state.decision, ProvinceRecognised)
    assert state.decision.valid_until == date(2031, 2, 28)  # no 29 Feb in 2031
    body = state.certification()
    assert body.valid_from == datetime(2028, 2, 28, 17, 0, tzinfo=UTC)  # midnight in Vietnam
    assert body.valid_until == datetime(2031, 2, 27, 17, 0, tzinfo=UTC)
    assert (body.stars, body.score, body.product_key) == (4, Decimal(75), PRODUCT)
    declined = _event(ProvinceDeclined, authority_id="VN-33", decided_on=DECIDED, score="75")
    with pytest.raises(ValueError, match="no recognition"):
        evaluate([*events, declined], CONTEXT).certification()


# -- criteria sheets --------------------------------------------------------------------------


def test_the_food_sheet_adds_up_and_marks_what_is_illustrative() -> None:
    sheet = load_criteria(ProductGroup.FOOD)
    totals = {part: sum(c.max_points for c in sheet.criteria if c.part == part) for part in "ABC"}
    assert totals == {"A": 40, "B": 25, "C": 35}
    assert all(criterion.illustrative for criterion in sheet.criteria)
    with pytest.raises(FileNotFoundError):
        load_criteria(ProductGroup.TOURISM)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: lines[0].update(max_points=6), "add up to 41"),
        (lambda lines: lines[0].pop("illustrative"), "illustrative"),
        (lambda lines: lines[0].update(section="marketing"), "sections"),
        (lambda lines: lines[1].update(code="A1"), "repeat"),
        (lambda lines: lines[0].update(part="B"), "listed in part"),
    ],
)
def test_a_sheet_that_breaks_the_rules_is_refused(
    tmp_path: Path, change: Any, message: str
) -> None:
    data = json.loads((CRITERIA_DIR / "food.json").read_text(encoding="utf-8"))
    change(data["criteria"])
    (tmp_path / "food.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_criteria(ProductGroup.FOOD, tmp_path)
