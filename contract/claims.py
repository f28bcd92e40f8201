"""The one judgement of a printed star claim, for every verifier.

The offline verifier (keys.verifier), the verify API (verify_api.judgement), the processors
at packing (stream_processors.rules) and scan analytics (stream_processors.detect) all call
`judge_claim`, so the same label with the same certification history gets the same reason
everywhere. The rules, worst first:

1. no stars printed: no claim to judge;
2. the producer never held a certification of the product: NO_CERTIFICATION (a fake logo);
3. more stars than the product ever held: STARS_EXCEED_CERTIFICATION (a fake logo, even if
   the certification has since been revoked or has expired);
4. the certification that applies now is revoked, or expired (or not yet valid):
   CERTIFICATION_REVOKED or CERTIFICATION_EXPIRED (true when printed, no longer true);
5. it is in force with fewer stars than printed: RATING_DOWNGRADED (the product once held
   them; a later certification lowered them);
6. otherwise the claim holds: GENUINE.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.certification import CertificationStatus, Standing
from contract.verdict import Reason


@dataclass(frozen=True)
class ClaimVerdict:
    reason: Reason
    """GENUINE when there is no claim or it holds."""
    detail: str
    """The specific fact behind the reason (English, for support staff and logs)."""

    @property
    def holds(self) -> bool:
        return self.reason is Reason.GENUINE


def judge_claim(printed: int, standing: Standing) -> ClaimVerdict:
    """Is a label's printed star count backed by the producer's certification now?"""
    state, award = standing.state, standing.state.certification
    if printed == 0:
        return ClaimVerdict(Reason.GENUINE, "the label makes no star claim")
    if standing.most_stars == 0 or award is None:
        return ClaimVerdict(
            Reason.NO_CERTIFICATION,
            f"label shows {printed}★; the producer never held a certification of the product",
        )
    if printed > standing.most_stars:
        return ClaimVerdict(
            Reason.STARS_EXCEED_CERTIFICATION,
            f"label shows {printed}★; the product never held more than {standing.most_stars}★",
        )
    span = f"valid {award.valid_from:%Y-%m-%d} to {award.valid_until:%Y-%m-%d}"
    if state.status is CertificationStatus.REVOKED:
        assert state.revocation is not None  # revoked means there is one
        return ClaimVerdict(
            Reason.CERTIFICATION_REVOKED,
            f"certificate {award.certificate_no} revoked from "
            f"{state.revocation.effective_at:%Y-%m-%d} by {state.revocation.decision_no}: "
            f"{state.revocation.reason}",
        )
    if state.status is not CertificationStatus.IN_FORCE:
        return ClaimVerdict(
            Reason.CERTIFICATION_EXPIRED, f"certificate {award.certificate_no} {span}"
        )
    if printed > award.stars:
        return ClaimVerdict(
            Reason.RATING_DOWNGRADED,
            f"label shows {printed}★; certificate {award.certificate_no} in force since "
            f"{award.valid_from:%Y-%m-%d} awards {award.stars}★",
        )
    return ClaimVerdict(
        Reason.GENUINE,
        f"{printed}★ backed by certificate {award.certificate_no} "
        f"({award.stars}★, {award.evaluation_level}), {span}",
    )
