"""Counterfeit alerts: what scan analytics found, for inspectors and the consumer page.

A signature stops invented codes, not copied ones: a copied genuine label verifies. What
gives a copy away is how its code is scanned (places and devices one physical unit cannot
explain) and what the records say about the unit (never packed, recalled, expired, stars no
longer backed). Each alert names its kind, the evidence, and the sentence to show, in
Vietnamese and English.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.fields import Text, UtcDateTime
from contract.verdict import Lang

_ALERT_NAMESPACE = uuid.UUID("5f0c7b1e-2a51-4c0e-9a4b-0c0b0a0d0e01")


class AlertKind(StrEnum):
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    TOO_MANY_DEVICES = "too_many_devices"
    NEVER_PACKED = "never_packed"
    RECALLED_BATCH = "recalled_batch"
    PAST_EXPIRY = "past_expiry"
    OUTSIDE_DELIVERY_PROVINCE = "outside_delivery_province"
    STARS_EXCEED_RATING = "stars_exceed_rating"
    RATING_LAPSED = "rating_lapsed"

    def sentence(self, lang: Lang) -> str:
        vi, en = _SENTENCES[self]
        return vi if lang is Lang.VI else en


_SENTENCES: dict[AlertKind, tuple[str, str]] = {
    AlertKind.IMPOSSIBLE_TRAVEL: (
        "Mã này được quét ở những nơi quá xa nhau so với thời gian giữa hai lần quét: "
        "có thể là mã sao chép.",
        "This code was scanned in places too far apart for the time between: likely copied.",
    ),
    AlertKind.TOO_MANY_DEVICES: (
        "Mã này được quét từ quá nhiều thiết bị khác nhau: có thể là mã sao chép.",
        "This code was scanned from more devices than one package plausibly meets: likely copied.",
    ),
    AlertKind.NEVER_PACKED: (
        "Mã có chữ ký hợp lệ nhưng chưa từng được đóng gói: khóa của nhà sản xuất có thể bị lộ.",
        "A validly signed code that was never packed: the producer's key may have leaked.",
    ),
    AlertKind.RECALLED_BATCH: (
        "Lô hàng của sản phẩm này đã bị thu hồi.",
        "This product's batch was recalled.",
    ),
    AlertKind.PAST_EXPIRY: (
        "Sản phẩm đã quá hạn sử dụng.",
        "This product is past its expiry date.",
    ),
    AlertKind.OUTSIDE_DELIVERY_PROVINCE: (
        "Mã được quét xa nơi lô hàng đã được giao bán.",
        "This code was scanned far from where its batch was delivered for sale.",
    ),
    AlertKind.STARS_EXCEED_RATING: (
        "Nhãn in nhiều sao hơn hạng sao OCOP hiện tại của sản phẩm.",
        "The label shows more stars than the product's current OCOP rating.",
    ),
    AlertKind.RATING_LAPSED: (
        "Chứng nhận OCOP của sản phẩm đã hết hiệu lực hoặc bị thu hồi; "
        "số sao in trên nhãn không còn đúng.",
        "The product's OCOP certification has expired or was revoked; "
        "the printed stars no longer hold.",
    ),
}


def alert_id(unit_key: str, kind: AlertKind, day: date) -> uuid.UUID:
    """One alert per unit, kind and day: a replayed scan raises the same alert, not another."""
    return uuid.uuid5(_ALERT_NAMESPACE, f"{unit_key}|{kind.value}|{day.isoformat()}")


class Alert(BaseModel):
    """An alert as it is published on the alerts topic and stored for inspectors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["alert"] = "alert"
    alert_id: uuid.UUID
    kind: AlertKind
    unit_key: Annotated[str, Field(min_length=1, max_length=300)]
    raised_at: UtcDateTime
    province: Text | None = None
    detail: Annotated[str, Field(min_length=1, max_length=1000)]
    """The evidence in a sentence: which places, how many devices, which dates."""
    scan_event_id: uuid.UUID
    """The scan that raised it."""
    clients: Annotated[int, Field(ge=1)] = 1
    """How many independent clients (networks the scans came from, not the device ids they
    claimed) the finding rests on; 1 for alerts published before it was counted, and for
    those resting on the records (never packed, recalled, expired, stars)."""
    corroborated: bool = False
    """A copy finding (impossible travel, too many devices, outside the delivery province)
    that at least the configured number of independent clients took part in and that still
    holds with any one client's scans taken away: no single client can have made it. Only a
    corroborated alert warns consumers of a copy; inspectors see every alert. An alert raised
    unconfirmed is published again, with the same id, when it becomes corroborated."""
