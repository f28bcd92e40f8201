"""Loading the province-scale demo data (demo.province) onto a running stack: the registrations
and the councils' signed certifications, as authority events through Kafka
(keys.publish.AuthorityPublisher), so the processors store them and the registry and the
office's dashboard show the news items' figures.

Each dossier of demo.province is folded by contract.evaluation; its recognition's
`Evaluation.certification()` is the body the deciding council signs (Thái Bình's "VN-34",
Quảng Nam's "VN-49"), published as `CertificationIssued`. The dossier steps themselves are
not published here (the evaluation desk's processors own them).

Two things the stack decides and this module respects:

- Times. The processors accept an event only if its signing key was usable at its
  `occurred_at`, and the demo's council keys are certified from about 400 days before the
  demo's first run, not from 2019. So every event is sent as recorded now (`now`), with the
  demo's deterministic event ids (a second load overwrites the first); the dates that make
  the figures (decisions, validity) are inside the signed certifications. A registration
  recorded after its product was rated is why the dashboard counts a product certified by
  a date as registered by then (backoffice.dashboard).
- The named products (demo.cast). With `named=True` (a stack without the story) their
  producers and products are registered here, and their recognitions published under the
  certificate numbers demo.province gives them. Beside the story (`named=False`), which
  registers them and certifies them under the same numbers with its own, current validity,
  their registrations are not sent again ("registered once") and their historical
  recognitions go under the number with the decision's year appended ("12/GCN-OCOP/2020"):
  the certifications table is keyed by number, so the same number would replace the
  story's current certificate (or be replaced by it), and one of the two figures would be
  wrong. Under its own number the earlier recognition is history the dashboard counts at
  2023-11-30, while the story's later one decides today.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from contract.certification import StarCertification
from contract.evaluation import (
    Context,
    DossierSubmitted,
    EvaluationEvent,
    MemberScored,
    ProvinceRecognised,
    evaluate,
)
from contract.events import CertificationIssued, ProducerRegistered, ProductRegistered
from demo import cast
from demo.province import COUNCILS, SEED, DemoEvent, province_events
from keys.certs import utc_now
from keys.publish import AuthorityEvent, AuthorityPublisher
from keys.signing import SigningKey

_NAMESPACE = uuid.UUID("0b7e2c55-4f0d-5d8e-a3c1-6d2f9e8b1a47")
"""The namespace of the certification events' ids (deterministic: a second load overwrites)."""
NAMED_PRODUCERS = frozenset(p.producer_id for p in cast.PRODUCERS)
NAMED_NUMBERS = frozenset(p.certificate_no for p in cast.PRODUCTS)


@dataclass(frozen=True)
class Loaded:
    producers: int
    products: int
    certifications: int

    @property
    def events(self) -> int:
        return self.producers + self.products + self.certifications


def recognitions(events: Iterable[DemoEvent]) -> dict[str, StarCertification]:
    """Each recognised product's certification body, by product key (dossiers folded by
    contract.evaluation with demo.province's councils: a refused step raises)."""
    events = list(events)
    producers = {e.producer_id for e in events if isinstance(e, ProducerRegistered)}
    context = Context(producers=producers, authorities=COUNCILS)
    dossiers: dict[str, list[EvaluationEvent]] = defaultdict(list)
    for event in events:
        if isinstance(event, DossierSubmitted | MemberScored | ProvinceRecognised):
            dossiers[event.dossier_id].append(event)
    found = {}
    for steps in dossiers.values():
        evaluation = evaluate(steps, context)
        if isinstance(evaluation.decision, ProvinceRecognised):
            body = evaluation.certification()
            found[body.product_key] = body
    return found


def authority_events(
    signers: Mapping[str, SigningKey], *, named: bool, now: datetime, seed: int = SEED
) -> Iterator[tuple[SigningKey, AuthorityEvent]]:
    """What is published, in order (registrations first; a certification needs its product's,
    which Kafka keeps ahead of it: both keyed by product key), each with its signer."""
    events = province_events(seed)
    for event in events:
        if isinstance(event, ProducerRegistered | ProductRegistered):
            if not named and event.producer_id in NAMED_PRODUCERS:
                continue  # the story registers the named producers and products
            yield signers[event.authority_id], event.model_copy(update={"occurred_at": now})
    for body in recognitions(events).values():
        signer = signers[body.authority_id]
        if not named and body.certificate_no in NAMED_NUMBERS:
            year = body.valid_from.year
            body = body.model_copy(update={"certificate_no": f"{body.certificate_no}/{year}"})
        yield (
            signer,
            CertificationIssued(
                event_id=uuid.uuid5(_NAMESPACE, f"{body.product_key}/{body.certificate_no}"),
                occurred_at=now,
                certification=signer.sign_document(body),
            ),
        )


def load_province(
    publisher: AuthorityPublisher,
    signers: Mapping[str, SigningKey],
    *,
    named: bool = False,
    now: datetime | None = None,
    seed: int = SEED,
) -> Loaded:
    """Publish demo.province's registrations and certifications, each signed by its council's
    key in `signers` ("VN-34", "VN-49"; demo.authority.Office.councils holds them), and wait
    until Kafka acknowledged them all (PublishError otherwise). `named`: see the module's
    docstring (False beside the story, True on a stack without it)."""
    missing = {c for c in COUNCILS if c not in signers}
    if missing:
        raise KeyError(f"no signing key for council(s) {', '.join(sorted(missing))}")
    counts: dict[str, int] = defaultdict(int)
    for signer, event in authority_events(signers, named=named, now=now or utc_now(), seed=seed):
        publisher.event(signer, event)
        counts[event.type] += 1
    publisher.flush()
    return Loaded(
        producers=counts["producer_registered"],
        products=counts["product_registered"],
        certifications=counts["certification_issued"],
    )
