"""A product's star rating now, and how it got there: awarded, renewed, up- or downgraded,
revoked, expired, each with its date.

The certifications come from Cassandra, not the trust list: the processors store a
certification or revocation the moment the authority sends it, while the trust list is
republished periodically. Which certification applies is the contract's one function
(contract.certification.certification_state), so the API, the processors and an offline
verifier can never disagree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from contract.certification import (
    CertificationState,
    CertificationStatus,
    Standing,
    StarCertification,
    certification_state,
    standing,
)
from records.rows import StoredCertification
from verify_api import views
from verify_api.schemas import RatingChange, RatingEvent, StarsOut

_INSTANT = timedelta(microseconds=1)
_DAWN = datetime.min.replace(tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Rating:
    """A producer's rating of a product as it stands from one moment until `until`: what a
    label's stars are judged against, and the public view of it.

    Nothing about a rating changes between the instants at which a certification starts, runs
    out or is revoked, so the resolver works it out once per stretch and every scan in that
    stretch shares it (`rating_at`, `holds`)."""

    standing: Standing
    """The certification that applies, and the most stars the product ever held: what the
    label's claim is judged against (contract.claims)."""
    history: list[RatingEvent]
    since: datetime
    until: datetime
    """[since, until): between two instants at which a certification starts, ends or is
    revoked."""
    _stars: dict[int, StarsOut] = field(default_factory=dict, repr=False, compare=False)

    @property
    def state(self) -> CertificationState:
        return self.standing.state

    def stars(self, printed: int) -> StarsOut:
        """The printed stars beside this rating, built once per printed count."""
        view = self._stars.get(printed)
        if view is None:
            view = self._stars[printed] = views.stars_out(self.state, self.history, printed)
        return view

    def holds(self, at: datetime) -> bool:
        return self.since <= at < self.until


def rating_at(stored: Sequence[StoredCertification], at: datetime) -> Rating:
    changes = [
        moment
        for s in stored
        for moment in (
            s.certification.valid_from,
            s.certification.valid_until,
            s.revocation.effective_at if s.revocation else None,
        )
        if moment is not None
    ]
    return Rating(
        standing=standing(
            [s.certification for s in stored],
            {s.certification.certificate_no: s.revocation for s in stored if s.revocation},
            at,
        ),
        history=history(stored, at),
        since=max((moment for moment in changes if moment <= at), default=_DAWN),
        until=min((moment for moment in changes if moment > at), default=_NEVER),
    )


def of_producer(
    stored: Sequence[StoredCertification], producer_id: str
) -> list[StoredCertification]:
    """Only the producer's own certifications count for its labels: a product key could in
    principle be certified to another producer, and that rating is not this label's."""
    return [s for s in stored if s.certification.producer_id == producer_id]


def state_at(stored: Sequence[StoredCertification], at: datetime) -> CertificationState:
    return certification_state(
        [s.certification for s in stored],
        {s.certification.certificate_no: s.revocation for s in stored if s.revocation},
        at,
    )


def history(stored: Sequence[StoredCertification], now: datetime) -> list[RatingEvent]:
    """The rating's changes up to `now`, oldest first."""
    started = sorted(
        (s for s in stored if s.certification.valid_from <= now),
        key=lambda s: (s.certification.valid_from, s.certification.issued_at),
    )
    events: list[RatingEvent] = []
    for item in started:
        award = item.certification
        before = state_at(stored, award.valid_from - _INSTANT)
        replaced = before.certification if before.status is CertificationStatus.IN_FORCE else None
        events.append(_event(_change(replaced, award), award.valid_from, award))
        revocation = item.revocation
        if revocation is not None and revocation.effective_at <= now:
            events.append(_event(RatingChange.REVOKED, revocation.effective_at, award))
        if award.valid_until <= now and _lapsed(stored, award):
            events.append(_event(RatingChange.EXPIRED, award.valid_until, award))
    return sorted(events, key=lambda event: event.at)


def _lapsed(stored: Sequence[StoredCertification], award: StarCertification) -> bool:
    """Did the rating end when `award` ran out? Not if a revocation ended it earlier, nor if
    another certification had taken over, nor if a renewal starts at that very moment."""
    state = state_at(stored, award.valid_until)
    return state.status is CertificationStatus.EXPIRED and state.certification == award


def _change(replaced: StarCertification | None, award: StarCertification) -> RatingChange:
    """Relative to the certification in force just before: none means a (new) award."""
    if replaced is None:
        return RatingChange.AWARDED
    if award.stars > replaced.stars:
        return RatingChange.UPGRADED
    if award.stars < replaced.stars:
        return RatingChange.DOWNGRADED
    return RatingChange.RENEWED


def _event(change: RatingChange, at: datetime, award: StarCertification) -> RatingEvent:
    return RatingEvent(change=change, at=at, certificate_no=award.certificate_no, stars=award.stars)
