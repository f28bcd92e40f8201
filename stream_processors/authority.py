"""Authority messages: trust lists, registrations, star certifications and the steps of
the evaluation cycle's dossiers (stream_processors.evaluation).

Checks that one record exists before another are made only within a partition, where
Kafka keeps order: a certification needs its product's registration (both keyed by product
key); a product does not need its producer's (keyed by producer id, another partition).

Writes are keyed by what they describe (producer id, product key, certificate number), so a
replayed message overwrites itself and needs no duplicate check. Each stored registration,
certification and revocation also rewrites the public registry's row of the product
(stream_processors.registry). Each stored trust list, certification and revocation is then
published as a leaf of the audit log (auditlog.leaves); a replay publishes it again, and the
log writer keeps it once.
"""

from __future__ import annotations

from auditlog.leaves import (
    PublishLeaf,
    certification_leaf,
    publish_nothing,
    revocation_leaf,
    trust_list_leaf,
)
from contract.encoding import model_bytes
from contract.evaluation import EvaluationEvent
from contract.events import (
    CertificationIssued,
    CertificationRevoked,
    InspectorRegistered,
    PartyRegistered,
    ProducerRegistered,
    ProductRegistered,
)
from keys.errors import TrustListError
from records.dossiers import DossierWriter
from records.parties import PartyWriter
from records.store import RecordWriter
from stream_processors.evaluation import DossierSteps, StepRefused
from stream_processors.handler import SignedHandler
from stream_processors.outcomes import Message, Metrics, Refuser
from stream_processors.registry import RegistryUpdates
from stream_processors.trust import TrustHolder


class TrustListIngest(SignedHandler):
    def __init__(
        self,
        store: RecordWriter,
        trust: TrustHolder,
        refuse: Refuser,
        metrics: Metrics,
        leaves: PublishLeaf = publish_nothing,
    ) -> None:
        super().__init__(store, trust, refuse, metrics)
        self.leaves = leaves

    async def handle(self, message: Message) -> None:
        self.metrics.count_processed(message.topic)
        try:
            trust = self.trust.load(message.value)
        except TrustListError as exc:
            await self.refuse(message, "trust_list_invalid", str(exc))
            return
        held = self.trust.current
        if held is not None and trust.version < held.version:
            await self.refuse(
                message,
                "trust_list_rollback",
                f"version {trust.version} is older than version {held.version}, already held",
            )
            return
        body = trust.body
        await self.store.store_trust_list(
            trust.version, body.issued_at, body.next_update, message.value
        )
        await self.leaves(trust_list_leaf(trust.version, message.value))  # the audit log's
        if not self.trust.offer(trust):
            self.metrics.duplicates[message.topic] += 1


class AuthorityIngest(SignedHandler):
    def __init__(
        self,
        store: RecordWriter,
        trust: TrustHolder,
        refuse: Refuser,
        metrics: Metrics,
        leaves: PublishLeaf = publish_nothing,
    ) -> None:
        super().__init__(store, trust, refuse, metrics)
        self.leaves = leaves
        self.registry = RegistryUpdates(store)
        self.dossiers = DossierSteps(store, DossierWriter(store.session))
        self.parties = PartyWriter(store.session)

    async def handle(self, message: Message) -> None:
        self.metrics.count_processed(message.topic)
        # 1. Signed by an authority entitled to say it (keys.verifier decides who may).
        event = await self.authenticated(message)
        if event is None:
            return
        # 2. What it refers to must exist; then store it.
        if isinstance(event, ProducerRegistered):
            await self.store.register_producer(event)
            await self.registry.producer_changed(event)
        elif isinstance(event, InspectorRegistered):
            await self.store.register_inspector(event)
        elif isinstance(event, PartyRegistered):
            # a location by its GLN (records.parties); its producer, if any, is keyed apart
            await self.parties.register(event)
        elif isinstance(event, ProductRegistered):
            # not refused for an unregistered producer: producers and products are keyed
            # apart, so Kafka gives no order between the two registrations
            await self.store.register_product(event)
            await self.registry.product_changed(event.product_key)
        elif isinstance(event, CertificationIssued):
            award = event.certification.body
            product = await self.store.product(award.product_key)
            if product is None or product.producer_id != award.producer_id:
                await self.refuse(
                    message,
                    "unknown_product",
                    f"product {award.product_key} of {award.producer_id} is not registered",
                )
                return
            await self.store.store_certification(event.certification)
            document = model_bytes(event.certification)
            await self.leaves(certification_leaf(award.product_key, award.certificate_no, document))
            await self.registry.rating_changed(award.product_key)
        elif isinstance(event, CertificationRevoked):
            revocation = event.revocation.body
            known = {
                s.certification.certificate_no
                for s in await self.store.certifications(revocation.product_key)
            }
            if revocation.certificate_no not in known:
                await self.refuse(
                    message,
                    "unknown_certification",
                    f"certificate {revocation.certificate_no} of {revocation.product_key} "
                    "is not stored",
                )
                return
            await self.store.store_revocation(event.revocation)
            document = model_bytes(event.revocation)
            await self.leaves(
                revocation_leaf(revocation.product_key, revocation.certificate_no, document)
            )
            await self.registry.rating_changed(revocation.product_key)
        elif isinstance(event, EvaluationEvent):
            trust = self.trust.current
            assert trust is not None  # the event was verified against it
            try:
                if not await self.dossiers.apply(event, message.value, trust):
                    self.metrics.duplicates[message.topic] += 1
            except StepRefused as refused:
                await self.refuse(message, refused.code, refused.detail)
        else:
            await self.refuse(message, "wrong_topic", f"{event.type} is not an authority event")
