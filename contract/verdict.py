"""Verdict reasons: a stable machine code, its category, its level and a sentence in
Vietnamese and English. Every verifier (the offline one, the verify API, the processors)
speaks these codes, and only these.

A phone app or an inspector's scanner branches on the code; the consumer page shows the
sentence in the reader's language. The category answers the first question people ask:
is this one of our codes at all, is it authentic, and is its star claim true today. The
level is what the consumer should make of it (genuine, warning, counterfeit), and when
there are several reasons, `PRIORITY` says which one leads.

Some reasons only the records can tell (`FROM_RECORDS`: never packed, recalled, past
expiry, a corroborated copy); an offline verifier holding only the trust list never gives
them.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    GENUINE = "genuine"
    NOT_OURS = "not_ours"
    """Not one of our codes: it does not even have our format."""
    NOT_AUTHENTIC = "not_authentic"
    """In our format, but not signed by a key the trust list vouches for at that time."""
    CLAIM_NOT_VALID = "claim_not_valid"
    """Authentically ours, but its star claim is not backed by a certification in force."""


class Level(StrEnum):
    """What the consumer should make of the code."""

    GENUINE = "genuine"
    WARNING = "warning"
    """Authentic, but something on the label is no longer true (or was never recorded)."""
    COUNTERFEIT = "counterfeit"


class Lang(StrEnum):
    VI = "vi"
    EN = "en"


class Reason(StrEnum):
    """Why a label or event was accepted or refused; values are stored and sent, never renamed."""

    GENUINE = "genuine"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    SIGNER_NOT_AUTHORISED = "signer_not_authorised"
    STARS_EXCEED_CERTIFICATION = "stars_exceed_certification"
    CERTIFICATION_EXPIRED = "certification_expired"
    CERTIFICATION_REVOKED = "certification_revoked"
    NO_CERTIFICATION = "no_certification"
    RATING_DOWNGRADED = "rating_downgraded"
    """A later certification gives fewer stars than the label shows, which were true when
    printed."""
    NOT_PACKED = "not_packed"
    """Validly signed, but no unit was ever packed under this exact label: a leaked key, or a
    packing event still on its way."""
    RECALLED = "recalled"
    PAST_EXPIRY = "past_expiry"
    SUSPECTED_COPY = "suspected_copy"
    """Corroborated evidence that this code was copied: an inspector's finding, or scans
    from enough independent clients that one package cannot explain."""

    @property
    def category(self) -> Category:
        return _CATEGORIES[self]

    @property
    def level(self) -> Level:
        return _LEVELS[self]

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_CATEGORIES = {
    Reason.GENUINE: Category.GENUINE,
    Reason.MALFORMED: Category.NOT_OURS,
    Reason.BAD_SIGNATURE: Category.NOT_AUTHENTIC,
    Reason.UNKNOWN_KEY: Category.NOT_AUTHENTIC,
    Reason.KEY_REVOKED: Category.NOT_AUTHENTIC,
    Reason.SIGNER_NOT_AUTHORISED: Category.NOT_AUTHENTIC,
    Reason.STARS_EXCEED_CERTIFICATION: Category.CLAIM_NOT_VALID,
    Reason.CERTIFICATION_EXPIRED: Category.CLAIM_NOT_VALID,
    Reason.CERTIFICATION_REVOKED: Category.CLAIM_NOT_VALID,
    Reason.NO_CERTIFICATION: Category.CLAIM_NOT_VALID,
    Reason.RATING_DOWNGRADED: Category.CLAIM_NOT_VALID,
    Reason.NOT_PACKED: Category.NOT_AUTHENTIC,
    Reason.SUSPECTED_COPY: Category.NOT_AUTHENTIC,
    # the code is ours and its claim holds; the product itself is the problem
    Reason.RECALLED: Category.GENUINE,
    Reason.PAST_EXPIRY: Category.GENUINE,
}

_LEVELS = {
    Reason.GENUINE: Level.GENUINE,
    Reason.MALFORMED: Level.COUNTERFEIT,
    Reason.BAD_SIGNATURE: Level.COUNTERFEIT,
    Reason.UNKNOWN_KEY: Level.COUNTERFEIT,
    Reason.KEY_REVOKED: Level.COUNTERFEIT,
    Reason.SIGNER_NOT_AUTHORISED: Level.COUNTERFEIT,
    # more stars than the product ever held, or stars it never held at all: a fake logo
    Reason.STARS_EXCEED_CERTIFICATION: Level.COUNTERFEIT,
    Reason.NO_CERTIFICATION: Level.COUNTERFEIT,
    # true when printed, no longer true
    Reason.CERTIFICATION_EXPIRED: Level.WARNING,
    Reason.CERTIFICATION_REVOKED: Level.WARNING,
    Reason.RATING_DOWNGRADED: Level.WARNING,
    Reason.NOT_PACKED: Level.WARNING,
    Reason.RECALLED: Level.WARNING,
    Reason.PAST_EXPIRY: Level.WARNING,
    Reason.SUSPECTED_COPY: Level.WARNING,
}

PRIORITY: tuple[Reason, ...] = (
    Reason.MALFORMED,
    Reason.UNKNOWN_KEY,
    Reason.BAD_SIGNATURE,
    Reason.KEY_REVOKED,
    Reason.SIGNER_NOT_AUTHORISED,
    Reason.NO_CERTIFICATION,
    Reason.STARS_EXCEED_CERTIFICATION,
    Reason.NOT_PACKED,
    Reason.SUSPECTED_COPY,
    Reason.RECALLED,
    Reason.CERTIFICATION_REVOKED,
    Reason.RATING_DOWNGRADED,
    Reason.CERTIFICATION_EXPIRED,
    Reason.PAST_EXPIRY,
    Reason.GENUINE,
)
"""Which reason leads when there are several: what the consumer must hear first."""

FROM_RECORDS = frozenset(
    {Reason.NOT_PACKED, Reason.RECALLED, Reason.PAST_EXPIRY, Reason.SUSPECTED_COPY}
)
"""What only the records can tell; the others an offline verifier can know as well."""


def worst_first(reasons: list[Reason]) -> list[Reason]:
    """`reasons` in `PRIORITY` order; GENUINE alone if there are none."""
    return sorted(reasons, key=PRIORITY.index) or [Reason.GENUINE]


_SENTENCES = {
    Reason.GENUINE: (
        "Mã chính hãng: chữ ký hợp lệ, và số sao in trên tem (nếu có) khớp với chứng nhận OCOP "
        "còn hiệu lực.",
        "Genuine: the signature is valid, and the stars printed (if any) are backed by an OCOP "
        "certification in force.",
    ),
    Reason.MALFORMED: (
        "Không phải mã của hệ thống OCOP: nội dung mã sai định dạng.",
        "Not one of our codes: the content is malformed.",
    ),
    Reason.BAD_SIGNATURE: (
        "Mã có dạng của hệ thống OCOP nhưng chữ ký không khớp: tem có thể bị làm giả hoặc bị sửa.",
        "In our format, but the signature does not match: the label may be forged or altered.",
    ),
    Reason.UNKNOWN_KEY: (
        "Mã được ký bằng một khóa không có trong danh sách tin cậy: không xác thực được nguồn gốc.",
        "Signed with a key that is not in the trust list: its origin cannot be authenticated.",
    ),
    Reason.KEY_REVOKED: (
        "Mã được ký bằng một khóa đã bị thu hồi, đã ngừng sử dụng hoặc hết hiệu lực vào thời "
        "điểm ký.",
        "Signed with a key that was revoked, retired or not valid at the time of signing.",
    ),
    Reason.SIGNER_NOT_AUTHORISED: (
        "Khóa ký có trong danh sách tin cậy nhưng không được phép ký nội dung này.",
        "Signed with a trusted key that is not entitled to sign this.",
    ),
    Reason.STARS_EXCEED_CERTIFICATION: (
        "Tem in số sao cao hơn hạng sao OCOP mà sản phẩm được công nhận.",
        "The label claims more stars than the product's OCOP certification.",
    ),
    Reason.CERTIFICATION_EXPIRED: (
        "Chứng nhận OCOP của sản phẩm đã hết hiệu lực hoặc chưa có hiệu lực.",
        "The product's OCOP certification has expired or is not yet in force.",
    ),
    Reason.CERTIFICATION_REVOKED: (
        "Chứng nhận OCOP của sản phẩm đã bị thu hồi.",
        "The product's OCOP certification has been revoked.",
    ),
    Reason.NO_CERTIFICATION: (
        "Không có chứng nhận OCOP nào cho sản phẩm này của nhà sản xuất này.",
        "There is no OCOP certification for this product from this producer.",
    ),
    Reason.RATING_DOWNGRADED: (
        "Sản phẩm đã bị hạ hạng sao OCOP sau khi tem được in: số sao trên tem không còn đúng.",
        "The product's OCOP rating was lowered after the label was printed: the stars shown "
        "are no longer true.",
    ),
    Reason.NOT_PACKED: (
        "Mã có chữ ký hợp lệ nhưng chưa từng được ghi nhận đóng gói: tem có thể bị in trái phép. "
        "Hãy báo cho cơ quan quản lý thị trường.",
        "The code is validly signed but was never recorded as packed: the label may have been "
        "printed without authorisation. Please report it to market inspectors.",
    ),
    Reason.SUSPECTED_COPY: (
        "Mã này đã được quét ở những nơi hoặc từ những thiết bị mà một sản phẩm thật khó có "
        "thể gặp: có thể là tem sao chép. Hãy báo cho cơ quan quản lý thị trường.",
        "This code has been scanned in places or from devices one real package cannot "
        "explain: the label may be a copy. Please report it to market inspectors.",
    ),
    Reason.RECALLED: (
        "Lô hàng này đã bị thu hồi. Không nên sử dụng sản phẩm.",
        "This batch has been recalled. Do not use the product.",
    ),
    Reason.PAST_EXPIRY: (
        "Sản phẩm đã quá hạn sử dụng.",
        "The product is past its expiry date.",
    ),
}
