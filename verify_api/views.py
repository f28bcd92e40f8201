"""Every public view the API builds from its facts: rows and verdicts in, response bodies out.

The only place a response body (verify_api.schemas) is filled in from a record row, a
contract document or a verdict, so a field is named, trimmed and formatted the same way on
every route. Views that many scans share are immutable and built once: the fixed ones in
small memo tables bounded by count (`maxsize`), the ones that show facts held in memory by
verify_api.facts when the facts are loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import datetime

from contract import admin_map, identifiers, search
from contract.alerts import AlertKind
from contract.certification import (
    CertificationRevocation,
    CertificationState,
    CertificationStatus,
    StarCertification,
)
from contract.events import ConsumerReported, InspectorRole
from contract.fields import encode_signature
from contract.identifiers import KeyScheme
from contract.label import SignedLabel, vietnam_date
from contract.logo import LogoAnswer, logo_for, may_print_logo
from contract.verdict import Lang, Reason
from keys.chain import ChainRecord, ChainVerification
from keys.trustlist import Freshness, KeyStatus
from keys.verifier import LabelVerification
from records.cases import CaseRow
from records.registry import RegistryBatch, RegistryRow
from records.rows import (
    AlertRow,
    BatchState,
    Inspection,
    Inspector,
    Producer,
    Product,
    ScanSummary,
    StoredCertification,
)
from verify_api.i18n import EN, STRINGS, VI
from verify_api.schemas import (
    AlertOut,
    BatchOut,
    CaseOut,
    CaseStatus,
    CertificateOut,
    CertificationOut,
    ChainCheck,
    ChainRecordOut,
    Circular02Out,
    FindingOut,
    InspectionOut,
    InspectorOut,
    LabelOut,
    Links,
    LogoOut,
    MaterialOut,
    ProducerOut,
    ProductOut,
    RatingEvent,
    RegistryBatchOut,
    RegistryItemOut,
    RegistryProductOut,
    RegistrySearchOut,
    ReportReceipt,
    ReportStatus,
    Resolution,
    RevocationOut,
    ScansOut,
    Sentences,
    SignerOut,
    StageOut,
    StarsOut,
    StoryStep,
    TrustListOut,
)

MEMO = 4_096
"""Entries of each memo table of fixed views below."""


# -- the records' facts -----------------------------------------------------------------------


def product_out(product: Product) -> ProductOut:
    return ProductOut(
        product_key=product.product_key,
        name=product.name,
        name_en=product.name_en,
        product_group=product.product_group,
        description=product.description,
        image_url=product.image_url,
        brand=product.brand,
        standards=list(product.standards),
    )


def producer_out(producer: Producer) -> ProducerOut:
    return ProducerOut(
        producer_id=producer.producer_id,
        name=producer.name,
        kind=producer.kind,
        address=producer.address,
        commune=producer.commune,
        district=producer.district,
        province=producer.province,
        gln=producer.gln,
    )


def batch_out(state: BatchState, steps: list[StoryStep]) -> BatchOut:
    materials = [MaterialOut.model_validate(item) for item in json.loads(state.raw_materials)]
    return BatchOut(
        batch_id=state.batch_id,
        lot=state.lot,
        production_date=state.production_date,
        expiry_date=state.expiry_date,
        status=state.status,
        units_packed=state.units_packed,
        raw_materials=materials,
        recalled_at=state.recalled_at,
        recall_reason=state.recall_reason,
        story=steps,
    )


def certificate_out(award: StarCertification) -> CertificateOut:
    try:
        responsible = admin_map.successor_authority(award.authority_id)
    except admin_map.UnknownProvince:  # an id that is no province code: it answers itself
        responsible = award.authority_id
    return CertificateOut(
        certificate_no=award.certificate_no,
        decision_no=award.decision_no,
        stars=award.stars,
        score=format(award.score.normalize(), "f"),
        evaluation_level=award.evaluation_level.value,
        authority_id=award.authority_id,
        responsible_now=responsible,
        responsible_province=admin_map.province_answering_now(award.authority_id),
        issued_at=award.issued_at,
        valid_from=award.valid_from,
        valid_until=award.valid_until,
    )


def revocation_out(revocation: CertificationRevocation) -> RevocationOut:
    return RevocationOut(
        decision_no=revocation.decision_no,
        reason=revocation.reason,
        issued_at=revocation.issued_at,
        effective_at=revocation.effective_at,
    )


def certification_out(item: StoredCertification) -> CertificationOut:
    return CertificationOut(
        certificate=certificate_out(item.certification),
        revocation=item.revocation and revocation_out(item.revocation),
        producer_id=item.certification.producer_id,
        document=item.certification_document.decode("utf-8"),
        revocation_document=item.revocation_document and item.revocation_document.decode("utf-8"),
    )


def stars_out(state: CertificationState, history: list[RatingEvent], printed: int) -> StarsOut:
    """The printed stars beside the rating that holds now, and how it got there."""
    in_force = state.status is CertificationStatus.IN_FORCE
    return StarsOut(
        printed=printed,
        current=state.certification.stars if in_force and state.certification else 0,
        status=state.status,
        certificate=state.certification and certificate_out(state.certification),
        revocation=state.revocation and revocation_out(state.revocation),
        history=history,
    )


def chain_record_out(record: ChainRecord) -> ChainRecordOut:
    return ChainRecordOut(
        seq=record.seq,
        event=record.event.decode("utf-8"),
        prev_hash=record.prev_hash.hex(),
        record_hash=record.record_hash.hex(),
        seal=encode_signature(record.seal),
        sealed_by=record.sealed_by,
    )


def chain_check(check: ChainVerification) -> ChainCheck:
    return ChainCheck(
        ok=check.ok, defect=check.defect, detail=check.detail, verified=check.verified
    )


def inspector_out(inspector: Inspector) -> InspectorOut:
    return InspectorOut(
        inspector_id=inspector.inspector_id,
        name=inspector.name,
        role=InspectorRole(inspector.role),
        authority_id=inspector.authority_id,
    )


def inspection_out(item: Inspection) -> InspectionOut:
    return InspectionOut(
        inspected_at=item.inspected_at,
        inspector_id=item.inspector_id,
        code=item.code,
        stars_seen=item.stars_seen,
        verdict=item.verdict,
        reason=item.reason,
        place=item.place,
        province=item.province,
        note=item.note,
    )


_ALERT_KINDS = {kind.value: kind for kind in AlertKind}


def alert_out(row: AlertRow) -> AlertOut:
    kind = _ALERT_KINDS.get(row.kind)
    return AlertOut(
        alert_id=row.alert_id,
        kind=row.kind,
        unit_key=row.unit_key,
        raised_at=row.raised_at,
        province=row.province,
        detail=row.detail,
        sentence=kind and Sentences(vi=kind.sentence(Lang.VI), en=kind.sentence(Lang.EN)),
        status=row.status,
        closed_by=row.closed_by,
        finding=row.finding,
    )


# -- verdicts ---------------------------------------------------------------------------------


@functools.cache
def sentences(reason: Reason) -> Sentences:
    """Built once per reason: the sentences are fixed, and models are immutable."""
    return Sentences(vi=reason.sentence(Lang.VI), en=reason.sentence(Lang.EN))


@functools.cache
def finding_out(reason: Reason) -> FindingOut:
    return FindingOut(reason=reason, level=reason.level, sentence=sentences(reason))


@functools.lru_cache(maxsize=64)
def trust_list_out(
    version: int, issued_at: datetime, next_update: datetime, stale: bool
) -> TrustListOut:
    """One view per list and staleness (every resolution carries one)."""
    return TrustListOut(version=version, issued_at=issued_at, next_update=next_update, stale=stale)


def freshness_out(fresh: Freshness) -> TrustListOut:
    return trust_list_out(fresh.version, fresh.issued_at, fresh.next_update, fresh.stale)


@functools.lru_cache(maxsize=MEMO)
def signer_out(key_id: str, status: KeyStatus, producer_id: str, authority_id: str) -> SignerOut:
    return SignerOut(
        key_id=key_id, key_status=status, producer_id=producer_id, authority_id=authority_id
    )


@functools.lru_cache(maxsize=MEMO)
def links(product_key: str, batch_id: str) -> Links:
    return Links(
        certifications=f"/products{product_key}/certifications", provenance=f"/batches{batch_id}"
    )


FROM_HELD_FACTS = Sentences(
    vi="Hệ thống đang chậm: kết quả dựa trên dữ liệu đã lưu sẵn, chưa có lịch sử quét mới nhất "
    "của mã này (nên chưa thể cảnh báo mã sao chép). Hãy quét lại sau ít phút.",
    en="The system is slow: this answer rests on facts already held, without this code's "
    "latest scan history (so a copied code cannot be warned of). Please scan again in a few "
    "minutes.",
)
"""The notice of an answer given from held facts while the records did not answer."""

FROM_EARLIER_FACTS = Sentences(
    vi="Hệ thống đang chậm: hạng sao, sản phẩm và lô hàng hiển thị theo dữ liệu đã đọc cách đây "
    "ít lâu, chưa đọc lại được. Hãy quét lại sau ít phút.",
    en="The system is slow: the stars, product and batch shown are as read a little earlier; "
    "they could not be read again just now. Please scan again in a few minutes.",
)
"""The notice of an answer given from shared facts past their time, whose reload did not
answer (verify_api.facts)."""


def _head(
    verification: LabelVerification,
    found: list[Reason],
    detail: str,
    now: datetime,
    notices: tuple[Sentences, ...] = (),
) -> dict[str, object]:
    """The fields every resolution has, vouched for or not."""
    lead = found[0]
    notices = (
        *(
            Sentences(vi=vi, en=en)
            for vi, en in zip(
                verification.warnings(Lang.VI), verification.warnings(Lang.EN), strict=True
            )
        ),
        *notices,
    )
    label = verification.label
    return {
        "level": lead.level,
        "reason": lead,
        "category": lead.category,
        "sentence": sentences(lead),
        "detail": detail[:2000],
        "findings": [finding_out(f) for f in found],
        "notices": list(notices),
        "defect": verification.defect,
        "label": label
        and LabelOut(
            host=label.batch.host,
            product_key=label.batch.product_key,
            lot=label.batch.lot,
            serial=label.serial,
            packed_on=label.batch.packed_on,
            printed_stars=label.batch.stars,
            key_id=label.batch.key_id,
            expiry_date=label.batch.expiry_date,
        ),
        "trust_list": freshness_out(verification.trust_list),
        "checked_at": now,
    }


def unvouched(verification: LabelVerification, now: datetime) -> Resolution:
    """A code that is not ours or not authentic: the verdict, and nothing from the records."""
    head = _head(verification, [verification.reason], verification.detail, now)
    return Resolution.model_validate(
        head
        | {
            "signer": None,
            "stars": None,
            "product": None,
            "producer": None,
            "batch": None,
            "packed_in_record": None,
            "scans": None,
            "links": None,
            "circular02": None,
        }
    )


def vouched(
    verification: LabelVerification,
    found: list[Reason],
    detail: str,
    *,
    stars: StarsOut,
    product: ProductOut | None,
    producer: ProducerOut | None,
    batch: BatchOut | None,
    packed_in_record: int | None,
    scans: ScanSummary | None,
    now: datetime,
    notices: tuple[Sentences, ...] = (),
) -> Resolution:
    """An authentically signed label: the verdict and the facts the records hold."""
    label, signer, key = verification.label, verification.producer, verification.key
    assert label is not None  # vouched for
    assert signer is not None
    assert key is not None
    return Resolution.model_validate(
        _head(verification, found, detail, now, notices)
        | {
            "signer": signer_out(
                signer.key_id, key.status, signer.producer_id, signer.authority_id
            ),
            "stars": stars,
            "product": product,
            "producer": producer,
            "batch": batch,
            "packed_in_record": packed_in_record,
            "scans": scans and ScansOut(count=scans.count, first=scans.first, last=scans.last),
            "links": links(label.batch.product_key, label.batch.batch_id),
            "circular02": circular02(label, product, producer, batch),
        }
    )


def element_string(product_key: str, lot: str, serial: str | None = None) -> str:
    """A tracing code as GS1 writes it for people, "(01)08931234567897(10)L1(21)S1" (TCVN
    13274:2020); for a product without a GTIN, its own Digital Link path (not a GS1 key)."""
    scheme, value = identifiers.split_product_key(product_key)
    if scheme is not KeyScheme.GTIN:
        path = identifiers.batch_id(product_key, lot)
        return f"{path}/21/{serial}" if serial else path
    return f"(01){value}(10){lot}" + (f"(21){serial}" if serial else "")


def circular02(
    label: SignedLabel,
    product: ProductOut | None,
    producer: ProducerOut | None,
    batch: BatchOut | None,
) -> Circular02Out | None:
    """Circular 02/2024/TT-BKHCN, Art. 6(5), item by item, from the facts a resolution shows;
    None until the records hold the product, its producer and the batch."""
    if product is None or producer is None or batch is None:
        return None
    code = element_string(label.batch.product_key, label.batch.lot)
    stages = [
        StageOut(
            stage=step.kind,
            product_code=code,
            location_code=step.gln or (None if step.kind == "batch_received" else producer.gln),
            at=step.at,
        )
        for step in batch.story
    ]
    address = ", ".join(
        part
        for part in (producer.address, producer.commune, producer.district, producer.province)
        if part
    )
    return Circular02Out(
        a_name=product.name,
        b_images=[product.image_url] if product.image_url else [],
        c_producer_name=producer.name,
        d_producer_address=address,
        dd_stages=stages,
        e_production_date=batch.production_date,
        g_traceability_code=element_string(label.batch.product_key, label.batch.lot, label.serial),
        h_brand=product.brand,
        h_serial=label.serial,
        i_expiry_date=label.batch.expiry_date or batch.expiry_date,
        k_standards=product.standards,
    )


# -- consumers' reports and inspectors' cases ------------------------------------------------


@functools.cache
def problem_sentences(problem: str) -> Sentences | None:
    """A report's problem as the form puts it, in both languages; None for one this API does
    not know (a case stored by a newer processor)."""
    key = f"problem_{problem}"
    if key not in VI:
        return None
    return Sentences(vi=VI[key], en=EN[key])


def report_receipt(
    report: ConsumerReported, status: ReportStatus, unit_key: str | None
) -> ReportReceipt:
    """The consumer's receipt for a report: what it says, in both languages."""

    def say(lang: Lang) -> str:
        t = STRINGS[lang]
        if status is ReportStatus.RECEIVED:
            said = t["receipt_received"].format(province=report.province, receipt=report.receipt)
        else:
            said = t["receipt_again"].format(receipt=report.receipt)
        return said if unit_key is not None else f"{said} {t['receipt_not_ours']}"

    return ReportReceipt(
        receipt=report.receipt,
        report_id=report.event_id,
        status=status,
        sentence=Sentences(vi=say(Lang.VI), en=say(Lang.EN)),
        unit_key=unit_key,
        filed_under=report.topic_key().decode("utf-8"),
        reason=report.reason,
    )


def case_out(row: CaseRow) -> CaseOut:
    return CaseOut(
        case_id=row.case_id,
        receipt=row.receipt,
        unit_key=row.unit_key,
        code=row.code,
        reason=row.reason,
        reported_at=row.reported_at,
        day=row.day,
        province=row.province,
        shop=row.shop,
        problem=row.problem,
        problem_sentence=problem_sentences(row.problem),
        note=row.note,
        has_contact=row.has_contact,
        contact=row.contact,
        alert_ids=list(row.alert_ids),
        status=CaseStatus(row.status),
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        finding=row.finding,
        closing_note=row.closing_note,
    )


# -- the public registry ----------------------------------------------------------------------


@functools.lru_cache(maxsize=MEMO)
def logo_out(answer: LogoAnswer) -> LogoOut:
    """Built once per answer (contract.logo remembers them too): a search shows twenty."""
    return LogoOut(
        allowed=answer.allowed,
        reason=answer.reason,
        sentence=Sentences(vi=answer.vi, en=answer.en),
    )


def registry_link(product_key: str) -> str:
    """A product's registry page: /registry/products/01/<GTIN-14> or /registry/products/p/<code>."""
    return f"/registry/products{product_key}"


def _province_now(province: str | None) -> str | None:
    return search.current_province(province) if province else None


def registry_item_out(row: RegistryRow, now: datetime) -> RegistryItemOut:
    """A search result, judged at `now` from the row alone (no further read)."""
    status = row.status_at(now)
    certified = row.stars > 0
    answer = may_print_logo(
        status,
        row.stars,
        until=row.valid_until if certified else None,
        since=row.revoked_at if status is CertificationStatus.REVOKED else row.valid_from,
    )
    return RegistryItemOut(
        product_key=row.product_key,
        gtin=row.gtin,
        name=row.name,
        name_en=row.name_en,
        product_group=row.product_group,
        producer_id=row.producer_id,
        producer_name=row.producer_name,
        commune=row.commune,
        province=row.province,
        province_now=_province_now(row.province),
        stars=row.stars,
        status=status,
        expiring=row.expiring_at(now),
        certificate_no=row.certificate_no,
        valid_until=row.valid_until if certified else None,
        logo=logo_out(answer),
        link=registry_link(row.product_key),
    )


def registry_search_out(
    rows: list[RegistryRow], next_page: str | None, next_url: str | None, now: datetime
) -> RegistrySearchOut:
    items = [registry_item_out(row, now) for row in rows]
    return RegistrySearchOut(
        count=len(items), items=items, next_page=next_page, next=next_url, checked_at=now
    )


def registry_batch_out(batch: RegistryBatch) -> RegistryBatchOut:
    return RegistryBatchOut(**dataclasses.asdict(batch))


def registry_product_out(
    row: RegistryRow,
    state: CertificationState,
    history: list[RatingEvent],
    stored: list[StoredCertification],
    batches: list[RegistryBatch],
    now: datetime,
) -> RegistryProductOut:
    """A product's page: its rating from every certification of its producer (`state` and
    `history`: verify_api.ratings.rating_at), not from the row's summary of them; its
    batches on shelves today (Vietnam's day) and its recalls."""
    today = vietnam_date(now)
    award = state.certification
    in_force = state.status is CertificationStatus.IN_FORCE
    producer = row.producer()
    return RegistryProductOut(
        product=product_out(row.product()),
        gtin=row.gtin,
        producer=producer and producer_out(producer),
        province_now=_province_now(row.province),
        status=state.status,
        stars=award.stars if award else 0,
        expiring=bool(in_force and award and award.valid_until <= now + search.EXPIRING_WITHIN),
        certificate=award and certificate_out(award),
        revocation=state.revocation and revocation_out(state.revocation),
        logo=logo_out(logo_for(state)),
        history=history,
        certifications=[certification_out(item) for item in stored],
        in_circulation=[registry_batch_out(b) for b in batches if b.in_circulation_on(today)],
        recalls=[registry_batch_out(b) for b in batches if b.recalled_at is not None],
        checked_at=now,
    )
