"""The evaluation cycle's steps, applied: a signed step of a dossier (contract.evaluation) is
judged by the rules against the dossier's stored steps and stored after them, or refused
with the rules' reason as its dead letter's code.

Steps are keyed by product key, so one dossier's steps come in order on one partition. A
dossier names its producer, whose registration is keyed by producer id (another partition):
a submission before its producer is stored is refused (`unregistered_producer`), and the
office's desk checks the producer first. A replayed step (same event id) is recognised and
skipped; a step the rules take is added with the dossier's new head in one write, then the
council's list row is rewritten from the folded dossier (an overwrite: a crash between the
two is mended by the replay, which finds the step and writes the row again).
"""

from __future__ import annotations

from datetime import UTC, datetime

from contract.evaluation import DossierSubmitted, EvaluationEvent, EvaluationRefused
from contract.verdict import Lang
from keys.councils import fold
from keys.trustlist import TrustList
from records.dossiers import DossierWriter, summary
from records.store import RecordReader


class StepRefused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class DossierSteps:
    def __init__(self, store: RecordReader, dossiers: DossierWriter) -> None:
        self.store = store
        self.dossiers = dossiers

    async def apply(self, step: EvaluationEvent, signed: bytes, trust: TrustList) -> bool:
        """Stores `step` after the dossier's steps; False for a step already stored;
        StepRefused with the rules' reason."""
        stored = await self.dossiers.steps(step.dossier_id)
        events = [held.event for held in stored]
        if any(event.event_id == step.event_id for event in events):
            # a replay: the row again, for a crash between the step's write and the row's
            producers = await self._producers(events, step)
            await self.dossiers.write_row(summary(fold(trust, producers, events), _now()))
            return False
        try:
            evaluation = fold(trust, await self._producers(events, step), [*events, step])
        except EvaluationRefused as refused:
            raise StepRefused(refused.reason.value, refused.reason.sentence(Lang.EN)) from None
        await self.dossiers.add_step(stored, step, signed)
        await self.dossiers.write_row(summary(evaluation, _now()))
        return True

    async def _producers(
        self, stored: list[EvaluationEvent], step: EvaluationEvent
    ) -> frozenset[str]:
        """The registered producer the dossier names: asked of the records for its
        submission; taken as registered afterwards (the rules took the submission)."""
        submitted = stored[0] if stored else step
        if not isinstance(submitted, DossierSubmitted):
            return frozenset()  # a step before any submission: the rules refuse it
        if stored or await self.store.producer(submitted.producer_id) is not None:
            return frozenset({submitted.producer_id})
        return frozenset()


def _now() -> datetime:
    return datetime.now(UTC)
