"""The councils of a trust list as the evaluation cycle's rules see them (contract.evaluation
.Context): each authority's level, and for a province council the province its id names on
a given day (contract.admin_map: codes were reassigned by the 2025 reform). One function for
the authority processor, which applies a dossier's steps, and the office's desk, which
checks a step before it sends it, so the two cannot judge a step differently."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Set
from datetime import date

from contract import admin_map
from contract.certification import ProductGroup
from contract.evaluation import (
    Authority,
    Context,
    CriteriaSheet,
    Evaluation,
    EvaluationEvent,
    apply,
    load_criteria,
)
from contract.label import vietnam_date
from keys.trustlist import TrustList


@functools.cache
def criteria_sheets() -> dict[ProductGroup, CriteriaSheet]:
    """The groups' criteria sheets shipped with the contract (read once)."""
    sheets = {}
    for group in ProductGroup:
        try:
            sheets[group] = load_criteria(group)
        except FileNotFoundError:  # a group without a sheet: per-criterion points refused
            continue
    return sheets


def _province(authority_id: str, day: date) -> str | None:
    try:
        return admin_map.authority_province(authority_id, day)
    except admin_map.UnknownProvince:
        return None


def fold(trust: TrustList, producers: Set[str], steps: Iterable[EvaluationEvent]) -> Evaluation:
    """A dossier's steps folded, each judged in its own day's context (a decision of 2023 by
    Thái Bình's council stays valid when the dossier is read under Hưng Yên's in 2026);
    EvaluationRefused names the first step the rules refuse."""
    state: Evaluation | None = None
    for step in steps:
        state = apply(state, step, evaluation_context(trust, producers, step))
    if state is None:
        raise ValueError("a dossier has at least its submission")
    return state


def evaluation_context(trust: TrustList, producers: Set[str], step: EvaluationEvent) -> Context:
    """The rules' context for `step`: the trust list's councils with their provinces on the
    step's day (a decision's day, else the day in Vietnam it happened), the registered
    `producers` it may name, and the criteria sheets."""
    day = getattr(step, "decided_on", None) or vietnam_date(step.occurred_at)
    councils = {
        item.body.authority_id: Authority(item.body.level, _province(item.body.authority_id, day))
        for item in trust.body.authorities
    }
    return Context(producers=producers, authorities=councils, criteria=criteria_sheets())
