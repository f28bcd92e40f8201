"""The evaluation cycle's dossiers (infra/migrations/0012_dossiers.cql): `DossierReader`
answers the office's screens, `DossierWriter` adds the authority processor's writes.

A dossier's state is folded from its stored steps by the rules (contract.evaluation), never
kept as a copy: `DossierReader.steps` gives the signed steps in order, `evaluation` folds
them. Each question is one partition: a dossier's steps by its id, a council's list by the
council's id (newest submission first, bounded by `limit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from contract import admin_map
from contract.evaluation import (
    CentralRecognised,
    Evaluation,
    EvaluationEvent,
    ProvinceRecognised,
)
from contract.events import decode_signed_event
from records.session import run


@dataclass(frozen=True)
class DossierStep:
    seq: int
    event: EvaluationEvent
    signed: bytes
    """The signed event as sent: anyone may verify it again against the trust list."""
    accepted_at: datetime


@dataclass(frozen=True)
class DossierRow:
    """A dossier on its council's list: what the list shows without folding its steps."""

    council_id: str
    submitted_on: date
    dossier_id: str
    product_key: str
    product_name: str
    producer_id: str
    province: str
    stage: str
    outcome: str | None
    council_score: Decimal | None
    stars: int | None
    updated_at: datetime


_ROW_COLUMNS = tuple(DossierRow.__dataclass_fields__)


def council_of(evaluation: Evaluation) -> str:
    """Whose list a dossier is on: the council that recorded its submission, or the one
    that answers for that council's province since the 2025 reform."""
    return admin_map.successor_authority(evaluation.dossier.authority_id)


def summary(evaluation: Evaluation, at: datetime) -> DossierRow:
    """The list's row of a dossier: the score of its latest decision or proposal, else its
    council's score so far at the level it is scored at."""
    dossier, decision = evaluation.dossier, evaluation.decision
    if decision is not None:
        score: Decimal | None = decision.score
    elif evaluation.proposal is not None:
        score = evaluation.proposal.score
    else:
        levels = [step.level for step in evaluation.scores]
        score = evaluation.council_score(levels[-1]) if levels else None
    recognised = decision if isinstance(decision, ProvinceRecognised | CentralRecognised) else None
    outcome = evaluation.outcome
    return DossierRow(
        council_id=council_of(evaluation),
        submitted_on=dossier.submitted_on,
        dossier_id=dossier.dossier_id,
        product_key=dossier.product_key,
        product_name=dossier.product_name,
        producer_id=dossier.producer_id,
        province=dossier.province,
        stage=evaluation.stage.value,
        outcome=outcome.value if outcome else None,
        council_score=score,
        stars=recognised.stars if recognised else None,
        updated_at=at,
    )


class DossierReader:
    def __init__(self, session: Session) -> None:
        self.session = session
        p = session.prepare
        self._steps = p("SELECT seq, signed, accepted_at FROM dossier_steps WHERE dossier_id = ?")
        self._list = p(
            f"SELECT {', '.join(_ROW_COLUMNS)} FROM dossiers_by_council "  # noqa: S608
            "WHERE council_id = ? LIMIT ?"
        )

    async def steps(self, dossier_id: str) -> list[DossierStep]:
        """The dossier's accepted steps, in order (none: no such dossier)."""
        rows = await run(self.session, self._steps, (dossier_id,))
        steps = []
        for row in rows:
            if row.seq is None:  # the static head of a partition with no step
                continue
            event = decode_signed_event(row.signed).body
            assert isinstance(event, EvaluationEvent)  # stored only after the rules took it
            steps.append(DossierStep(row.seq, event, row.signed, row.accepted_at))
        return steps

    async def dossiers_of(self, council_id: str, limit: int = 200) -> list[DossierRow]:
        """The council's dossiers, newest submission first."""
        rows = await run(self.session, self._list, (council_id, limit))
        return [DossierRow(**{name: getattr(row, name) for name in _ROW_COLUMNS}) for row in rows]


class DossierWriter(DossierReader):
    """The authority processor's writes (stream_processors.evaluation)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        p = session.prepare
        self._add_step = p(
            "INSERT INTO dossier_steps (dossier_id, seq, event_id, type, signed, accepted_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._head = p("UPDATE dossier_steps SET product_key = ?, steps = ? WHERE dossier_id = ?")
        self._write_row = p(
            f"INSERT INTO dossiers_by_council ({', '.join(_ROW_COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(_ROW_COLUMNS))})"
        )

    async def add_step(
        self, steps: Sequence[DossierStep], event: EvaluationEvent, signed: bytes
    ) -> DossierStep:
        """The step after `steps`, with the head, in one single-partition batch: a replay
        of the same step rewrites the same row (its seq is the count before it)."""
        step = DossierStep(len(steps) + 1, event, signed, datetime.now(UTC))
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)  # one partition: atomic
        batch.add(
            self._add_step,
            (event.dossier_id, step.seq, event.event_id, event.type, signed, step.accepted_at),
        )
        batch.add(self._head, (event.product_key, step.seq, event.dossier_id))
        await run(self.session, batch)
        return step

    async def write_row(self, row: DossierRow) -> None:
        values: list[Any] = [getattr(row, name) for name in _ROW_COLUMNS]
        await run(self.session, self._write_row, values)
