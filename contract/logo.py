"""May the OCOP logo be printed on a product today? Decision 1162/QĐ-VPĐP-OCOP (17 Sep 2020).

The logo "Sản phẩm OCOP Việt Nam" is a certification mark: a producer may print it, without
asking, only on the recognised product, only at 3★ or more, and only while the recognition
is in force; once it has expired (or been revoked) it may no longer be printed or attached.
This is the one answer to that question (the registry's pages and lists all call
`may_print_logo`), with a reason code and a sentence in Vietnamese and English.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contract.certification import CertificationState, CertificationStatus
from contract.label import VIETNAM_TIME

LOGO_MIN_STARS = 3
"""Only 3★ and above are OCOP products (Decision 148/QĐ-TTg) and may carry the logo."""


class LogoReason(StrEnum):
    """Why the logo may or may not be printed; values are sent, never renamed."""

    IN_FORCE = "in_force"
    """Allowed: recognised at 3★ or more, in force today."""
    BELOW_THREE_STARS = "below_three_stars"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"
    NEVER_CERTIFIED = "never_certified"


@dataclass(frozen=True)
class LogoAnswer:
    allowed: bool
    reason: LogoReason
    vi: str
    en: str


def _day(moment: datetime | None) -> str:
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y") if moment else "?"


_RULE_VI = "Quyết định 1162/QĐ-VPĐP-OCOP"
_RULE_EN = "Decision 1162/QĐ-VPĐP-OCOP"


@functools.lru_cache(maxsize=4096)
def may_print_logo(
    status: CertificationStatus,
    stars: int,
    *,
    until: datetime | None = None,
    since: datetime | None = None,
) -> LogoAnswer:
    """The answer for a product whose recognition (the one that applies now, see
    contract.certification.certification_state) has `status` and `stars`. `until`: when it
    ends (in force) or ended (expired); `since`: when it was revoked or starts. Remembered:
    a registry's products share a few thousand answers, and a search shows twenty."""
    if status is CertificationStatus.NONE or stars == 0:
        return LogoAnswer(
            False,
            LogoReason.NEVER_CERTIFIED,
            "Không được in logo OCOP: sản phẩm chưa được công nhận sản phẩm OCOP.",
            "The OCOP logo may not be printed: the product has never been recognised as an "
            "OCOP product.",
        )
    if status is CertificationStatus.REVOKED:
        return LogoAnswer(
            False,
            LogoReason.REVOKED,
            f"Không được in logo OCOP: công nhận {stars} sao đã bị thu hồi từ {_day(since)}.",
            f"The OCOP logo may not be printed: the {stars}-star recognition was revoked on "
            f"{_day(since)}.",
        )
    if status is CertificationStatus.EXPIRED:
        return LogoAnswer(
            False,
            LogoReason.EXPIRED,
            f"Không được in logo OCOP: công nhận {stars} sao đã hết hiệu lực từ {_day(until)}; "
            f"theo {_RULE_VI}, hết hiệu lực thì không được in hay gắn logo nữa.",
            f"The OCOP logo may not be printed: the {stars}-star recognition expired on "
            f"{_day(until)}; under {_RULE_EN} the logo may not be printed or attached once "
            "it has expired.",
        )
    if status is CertificationStatus.NOT_YET_VALID:
        return LogoAnswer(
            False,
            LogoReason.NOT_YET_VALID,
            f"Chưa được in logo OCOP: công nhận {stars} sao có hiệu lực từ {_day(since)}.",
            f"The OCOP logo may not be printed yet: the {stars}-star recognition starts on "
            f"{_day(since)}.",
        )
    if stars < LOGO_MIN_STARS:
        return LogoAnswer(
            False,
            LogoReason.BELOW_THREE_STARS,
            f"Không được in logo OCOP: sản phẩm được xếp {stars} sao; theo {_RULE_VI}, logo chỉ "
            "dành cho sản phẩm được công nhận từ 3 sao trở lên.",
            f"The OCOP logo may not be printed: the product is rated {stars} stars; under "
            f"{_RULE_EN} the logo is only for products recognised at 3 stars or more.",
        )
    return LogoAnswer(
        True,
        LogoReason.IN_FORCE,
        f"Được in logo OCOP: sản phẩm được công nhận {stars} sao, còn hiệu lực đến {_day(until)}.",
        f"The OCOP logo may be printed: the product is recognised at {stars} stars, in force "
        f"until {_day(until)}.",
    )


def logo_for(state: CertificationState) -> LogoAnswer:
    """`may_print_logo` for the certification state that applies now."""
    award, revocation = state.certification, state.revocation
    if award is None:
        return may_print_logo(CertificationStatus.NONE, 0)
    since = revocation.effective_at if revocation is not None else award.valid_from
    return may_print_logo(state.status, award.stars, until=award.valid_until, since=since)
