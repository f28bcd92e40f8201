"""What a resolution can find: the contract's reasons plus the ones only the records can tell.

keys.verifier judges a label against the trust list alone (what an offline verifier can
know). The API also holds the records, which add four findings: the code was never packed,
its batch was recalled, the product is past its expiry date, or the rating was lowered
since the label was printed. Each finding has a stable code, a level for the consumer
(genuine / warning / counterfeit), the contract's category ("not ours", "ours but not
authentic", "claim not valid") and a sentence in Vietnamese and English.
"""

from __future__ import annotations

from enum import StrEnum

from contract.verdict import Category, Lang, Reason


class Level(StrEnum):
    """What the consumer should make of the code, worst first in `LEVEL_ORDER`."""

    GENUINE = "genuine"
    WARNING = "warning"
    """Authentic, but something on the label is no longer true (or was never recorded)."""
    COUNTERFEIT = "counterfeit"


class ApiReason(StrEnum):
    """Findings from the records; values are sent and stored, never renamed."""

    NOT_PACKED = "not_packed"
    """Validly signed, but no unit was ever packed under this exact label: a leaked key, or a
    packing event still on its way."""
    RECALLED = "recalled"
    PAST_EXPIRY = "past_expiry"
    RATING_DOWNGRADED = "rating_downgraded"
    """A later certification gives fewer stars than the label shows."""
    SUSPECTED_COPY = "suspected_copy"
    """Scan analytics hold an open alert that this code was copied (places or devices one
    package cannot explain)."""


Finding = Reason | ApiReason

_LEVELS: dict[Finding, Level] = {
    Reason.GENUINE: Level.GENUINE,
    Reason.MALFORMED: Level.COUNTERFEIT,
    Reason.BAD_SIGNATURE: Level.COUNTERFEIT,
    Reason.UNKNOWN_KEY: Level.COUNTERFEIT,
    Reason.KEY_REVOKED: Level.COUNTERFEIT,
    Reason.SIGNER_NOT_AUTHORISED: Level.COUNTERFEIT,
    # more stars than the product ever held, or stars it never held at all
    Reason.STARS_EXCEED_CERTIFICATION: Level.COUNTERFEIT,
    Reason.NO_CERTIFICATION: Level.COUNTERFEIT,
    # true when printed, no longer true
    Reason.CERTIFICATION_EXPIRED: Level.WARNING,
    Reason.CERTIFICATION_REVOKED: Level.WARNING,
    ApiReason.RATING_DOWNGRADED: Level.WARNING,
    ApiReason.NOT_PACKED: Level.WARNING,
    ApiReason.RECALLED: Level.WARNING,
    ApiReason.PAST_EXPIRY: Level.WARNING,
    ApiReason.SUSPECTED_COPY: Level.WARNING,
}

PRIORITY: tuple[Finding, ...] = (
    Reason.MALFORMED,
    Reason.UNKNOWN_KEY,
    Reason.BAD_SIGNATURE,
    Reason.KEY_REVOKED,
    Reason.SIGNER_NOT_AUTHORISED,
    Reason.NO_CERTIFICATION,
    Reason.STARS_EXCEED_CERTIFICATION,
    ApiReason.NOT_PACKED,
    ApiReason.SUSPECTED_COPY,
    ApiReason.RECALLED,
    Reason.CERTIFICATION_REVOKED,
    ApiReason.RATING_DOWNGRADED,
    Reason.CERTIFICATION_EXPIRED,
    ApiReason.PAST_EXPIRY,
    Reason.GENUINE,
)
"""Which finding is THE reason when there are several: what the consumer must hear first."""

_CATEGORIES: dict[ApiReason, Category] = {
    ApiReason.NOT_PACKED: Category.NOT_AUTHENTIC,
    ApiReason.SUSPECTED_COPY: Category.NOT_AUTHENTIC,
    ApiReason.RATING_DOWNGRADED: Category.CLAIM_NOT_VALID,
    # the code is ours and its claim holds; the product itself is the problem
    ApiReason.RECALLED: Category.GENUINE,
    ApiReason.PAST_EXPIRY: Category.GENUINE,
}

_SENTENCES: dict[ApiReason, tuple[str, str]] = {
    ApiReason.NOT_PACKED: (
        "Mã có chữ ký hợp lệ nhưng chưa từng được ghi nhận đóng gói: tem có thể bị in trái phép. "
        "Hãy báo cho cơ quan quản lý thị trường.",
        "The code is validly signed but was never recorded as packed: the label may have been "
        "printed without authorisation. Please report it to market inspectors.",
    ),
    ApiReason.SUSPECTED_COPY: (
        "Mã này đã được quét ở những nơi hoặc từ những thiết bị mà một sản phẩm thật khó có "
        "thể gặp: có thể là tem sao chép. Hãy báo cho cơ quan quản lý thị trường.",
        "This code has been scanned in places or from devices one real package cannot "
        "explain: the label may be a copy. Please report it to market inspectors.",
    ),
    ApiReason.RECALLED: (
        "Lô hàng này đã bị thu hồi. Không nên sử dụng sản phẩm.",
        "This batch has been recalled. Do not use the product.",
    ),
    ApiReason.PAST_EXPIRY: (
        "Sản phẩm đã quá hạn sử dụng.",
        "The product is past its expiry date.",
    ),
    ApiReason.RATING_DOWNGRADED: (
        "Sản phẩm đã bị hạ hạng sao OCOP sau khi tem được in: số sao trên tem không còn đúng.",
        "The product's OCOP rating was lowered after the label was printed: the stars shown "
        "are no longer true.",
    ),
}


def level(finding: Finding) -> Level:
    return _LEVELS[finding]


def category(finding: Finding) -> Category:
    return finding.category if isinstance(finding, Reason) else _CATEGORIES[finding]


def sentence(finding: Finding, lang: Lang) -> str:
    if isinstance(finding, Reason):
        return finding.sentence(lang)
    vi, en = _SENTENCES[finding]
    return vi if lang is Lang.VI else en


def primary(findings: list[Finding]) -> Finding:
    """The finding to lead with; an empty list cannot be judged and is a bug."""
    if not findings:
        raise ValueError("no findings to judge")
    return min(findings, key=PRIORITY.index)
