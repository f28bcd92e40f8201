"""The one error the contract raises for bad input, listing every bad field at once.

A packing station or processor that gets a bad document needs to fix all of it in one go,
so validation never stops at the first problem and every problem names its field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad field: a dotted path into the document ("" for the document itself)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ContractError(ValueError):
    """Input that does not follow the contract; `problems` names each bad field."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid input")

    @classmethod
    def single(cls, message: str, field: str = "") -> ContractError:
        return cls([Problem(field, message)])

    @classmethod
    def from_validation(cls, error: ValidationError) -> ContractError:
        """Turns pydantic's report into ours, keeping our validators' own sentences."""
        details = error.errors(include_url=False)
        failed = {detail["loc"] for detail in details}
        problems = []
        for detail in details:
            if detail["type"] == "too_short" and _has_nested(detail["loc"], failed):
                continue  # "too few items" only because an item failed: noise
            field = ".".join(str(part) for part in detail["loc"])
            cause = detail.get("ctx", {}).get("error")
            message = str(cause) if isinstance(cause, ValueError) else detail["msg"]
            problems.append(Problem(field, message))
        return cls(problems)


def build(model: type[ModelT], /, **fields: Any) -> ModelT:
    """Constructs a contract model, turning pydantic's error into our ContractError."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise ContractError.from_validation(exc) from None


def _has_nested(loc: tuple[int | str, ...], failed: set[tuple[int | str, ...]]) -> bool:
    return any(len(other) > len(loc) and other[: len(loc)] == loc for other in failed)
