"""What every handler of signed messages shares: its collaborators, and the check that a
message is a genuine event from a key entitled to send it, or else its dead letter."""

from __future__ import annotations

from contract.events import Event
from contract.verdict import Reason
from keys.verifier import EventVerification, verify_event
from records.store import RecordWriter
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.trust import TrustHolder


class NoTrustListYet(Exception):
    """Nothing can be judged before the first trust list is stored. That passes (the list
    and the first events are published together, on different topics), so the message is
    tried again rather than refused: a refusal would strand it among the dead letters."""


async def verified(message: Message, trust: TrustHolder) -> EventVerification:
    """The event's verification; raises NoTrustListYet while there is no list to judge by."""
    current = trust.current or await trust.refresh()
    if current is None:
        raise NoTrustListYet(
            f"{message.topic}/{message.partition}@{message.offset} waits for the first trust list"
        )
    verdict = verify_event(message.value, trust=current)
    if verdict.reason is Reason.UNKNOWN_KEY:  # a newer list may name the key
        newer = await trust.refresh()
        if newer is not None and newer.version > current.version:
            verdict = verify_event(message.value, trust=newer)
    return verdict


class SignedHandler:
    def __init__(
        self, store: RecordWriter, trust: TrustHolder, refuse: Refuser, metrics: Metrics
    ) -> None:
        self.store = store
        self.trust = trust
        self.refuse = refuse
        self.metrics = metrics

    async def authenticated(self, message: Message) -> Event | None:
        """The verified event, or None once the message is refused with the reason."""
        verdict = await verified(message, self.trust)
        if not verdict.genuine or verdict.event is None:
            await self.refuse(message, verdict.reason.value, verdict.detail)
            return None
        return verdict.event
