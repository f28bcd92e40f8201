"""Verdict reasons: a stable machine code, its category and a sentence in Vietnamese and English.

A phone app or an inspector's scanner branches on the code; the consumer page shows the
sentence in the reader's language. The category answers the first question people ask:
is this one of our codes at all, is it authentic, and is its star claim true today.
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

    @property
    def category(self) -> Category:
        return _CATEGORIES[self]

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
}

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
}
