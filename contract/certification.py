"""OCOP star certifications and their revocation, with the rules of Decision 148/QĐ-TTg.

These bodies travel in certification events and in the trust list; an authority key signs
them (keys.certs). A body that breaks the rating rules cannot even be constructed, so no
signed document can carry one: the star band must match the score, 5★ is awarded at
national level only and 1★ to 4★ at provincial level.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from contract.fields import Identifier, ProductKey, Score, Stars, Text, UtcDateTime

STAR_BAND_FLOORS = (Decimal(0), Decimal(30), Decimal(50), Decimal(70), Decimal(90))
"""Lowest score of 1★ .. 5★: 1★ below 30, 2★ 30-49, 3★ 50-69, 4★ 70-89, 5★ 90-100."""


class EvaluationLevel(StrEnum):
    PROVINCIAL = "provincial"
    NATIONAL = "national"


class ProductGroup(StrEnum):
    """The six product groups of Decision 148/2023."""

    FOOD = "food"
    DRINKS = "drinks"
    HERBAL = "herbal"
    HANDICRAFTS = "handicrafts"
    ORNAMENTAL = "ornamental"
    TOURISM = "tourism"


def stars_for_score(score: Decimal) -> int:
    return sum(1 for floor in STAR_BAND_FLOORS if score >= floor)


def level_for_stars(stars: int) -> EvaluationLevel:
    return EvaluationLevel.NATIONAL if stars == 5 else EvaluationLevel.PROVINCIAL


class StarCertification(BaseModel):
    """An authority's recognition of a product's star rating, valid over [from, until)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["star_certification"] = "star_certification"
    certificate_no: Text
    decision_no: Text
    product_key: ProductKey
    product_name: Text
    product_group: ProductGroup
    producer_id: Identifier
    stars: Stars
    score: Score
    evaluation_level: EvaluationLevel
    authority_id: Identifier
    issued_at: UtcDateTime
    valid_from: UtcDateTime
    valid_until: UtcDateTime

    @model_validator(mode="after")
    def _rules(self) -> StarCertification:
        banded = stars_for_score(self.score)
        if self.stars != banded:
            raise ValueError(
                f"stars {self.stars} do not match score {self.score}, which is {banded}★ "
                f"(Decision 148: below 30 1★, 30-49 2★, 50-69 3★, 70-89 4★, 90-100 5★)"
            )
        if self.evaluation_level is not level_for_stars(self.stars):
            raise ValueError(
                f"a {self.stars}★ rating is awarded at {level_for_stars(self.stars)} level, "
                f"not {self.evaluation_level}"
            )
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class CertificationRevocation(BaseModel):
    """Withdraws a certification from `effective_at` on (before its validity ends)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["certification_revocation"] = "certification_revocation"
    certificate_no: Text
    product_key: ProductKey
    decision_no: Text
    authority_id: Identifier
    reason: Text
    issued_at: UtcDateTime
    effective_at: UtcDateTime


class CertificationStatus(StrEnum):
    IN_FORCE = "in_force"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    NONE = "none"


@dataclass(frozen=True)
class CertificationState:
    status: CertificationStatus
    certification: StarCertification | None = None
    revocation: CertificationRevocation | None = None


def certification_state(
    awards: Iterable[StarCertification],
    revocations: Mapping[str, CertificationRevocation],
    at: datetime,
) -> CertificationState:
    """Which of a product's certifications applies at `at`, and if none, why not.

    The latest certification to have started decides: a renewal, upgrade or downgrade is a
    new award that supersedes the earlier one for good, so revoking a downgrade does not
    bring back the stars it replaced. If that certification is revoked or has expired, that
    is the answer. `revocations` maps certificate numbers to their revocation; one takes
    effect at its `effective_at`. Expiry needs no event: it is a matter of `at`, so the
    answer is computed, never stored.
    """

    def revoked(award: StarCertification) -> CertificationRevocation | None:
        revocation = revocations.get(award.certificate_no)
        return revocation if revocation is not None and revocation.effective_at <= at else None

    ordered = sorted(awards, key=lambda award: (award.valid_from, award.issued_at), reverse=True)
    if not ordered:
        return CertificationState(CertificationStatus.NONE)
    started = [award for award in ordered if award.valid_from <= at]
    if not started:
        return CertificationState(CertificationStatus.NOT_YET_VALID, ordered[-1])
    latest = started[0]
    revocation = revoked(latest)
    if revocation is not None:
        return CertificationState(CertificationStatus.REVOKED, latest, revocation)
    if at >= latest.valid_until:
        return CertificationState(CertificationStatus.EXPIRED, latest)
    return CertificationState(CertificationStatus.IN_FORCE, latest)


@dataclass(frozen=True)
class Standing:
    """What a printed star claim is judged against at one moment: the certification that
    applies then, and the most stars the product ever held up to then (0 if none)."""

    state: CertificationState
    most_stars: int


NEVER_CERTIFIED = Standing(CertificationState(CertificationStatus.NONE), 0)
"""The standing of a product its producer never held a certification of."""


class StandingOverTime:
    """`standing` of the same certifications at many moments (the scan analytics ask once
    for every scan of a product): it can change only where an award starts or ends or a
    revocation takes effect (every test of `at` in `standing` and `certification_state` is
    "that moment <= at"), so it is worked out once for each stretch between two of those
    moments, by `standing` itself."""

    def __init__(
        self,
        awards: Iterable[StarCertification],
        revocations: Mapping[str, CertificationRevocation],
    ) -> None:
        self._awards = list(awards)
        self._revocations = dict(revocations)
        self._moments = sorted(
            {moment for a in self._awards for moment in (a.valid_from, a.valid_until)}
            | {revocation.effective_at for revocation in self._revocations.values()}
        )
        self._stretches: dict[int, Standing] = {}

    def at(self, at: datetime) -> Standing:
        stretch = bisect.bisect_right(self._moments, at)  # the moments at or before `at`
        found = self._stretches.get(stretch)
        if found is None:
            found = self._stretches[stretch] = standing(self._awards, self._revocations, at)
        return found


def standing(
    awards: Iterable[StarCertification],
    revocations: Mapping[str, CertificationRevocation],
    at: datetime,
) -> Standing:
    """`awards` must be one producer's certifications of one product: another producer's
    rating of the same product key is not its labels' rating."""
    awards = list(awards)
    return Standing(
        certification_state(awards, revocations, at),
        max((award.stars for award in awards if award.valid_from <= at), default=0),
    )
