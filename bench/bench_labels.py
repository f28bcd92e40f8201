"""Labels signed and verified per second, next to bare Ed25519 on an equal-size message.

    .venv/bin/python bench/bench_labels.py [--rounds 9] [--labels 3000]

A "label signed" is what a packing station does per unit: draw an unpredictable serial,
sign the label payload, build the QR URL. A "label verified" is the offline verifier's full
path: parse the URL strictly, find the key, check the signature, the key's standing on the
packing day and the certification in force. Rounds of bare and label loops alternate so that
other load on the machine hits both alike; the figures are medians. Target: signing at
least 70% of bare Ed25519 signing speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import segno

from contract.certification import EvaluationLevel, ProductGroup
from contract.events import ProducerKind
from contract.label import LabelBatch
from contract.verdict import Reason
from keys import certs
from keys.signing import LabelSigner, SigningKey
from keys.trustlist import TrustList, build_trust_list
from keys.verifier import verify_label

NOW = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)
PRODUCT = "/01/08931234567897"
PAST = {"sign": "signed", "verify": "verified"}


def trust_list(root: SigningKey, authority: SigningKey, producer: SigningKey) -> TrustList:
    year_ago = NOW - timedelta(days=365)
    data = build_trust_list(
        root,
        version=1,
        now=NOW,
        authorities=[
            certs.certify_authority(
                root,
                authority.public_key,
                authority_id="VN-34",
                name="Hội đồng OCOP tỉnh Thái Bình",
                level=EvaluationLevel.PROVINCIAL,
                now=year_ago,
            )
        ],
        producer_keys=[
            certs.certify_producer_key(
                authority,
                producer.public_key,
                authority_id="VN-34",
                producer_id="TB-HTX-HONGTIEN",
                producer_name="HTX Hồng Tiến",
                producer_kind=ProducerKind.COOPERATIVE,
                address="Kiến Xương, Thái Bình",
                now=year_ago,
            )
        ],
        certifications=[
            certs.certify_product(
                authority,
                authority_id="VN-34",
                certificate_no="123/GCN-UBND",
                decision_no="1234/QĐ-UBND",
                product_key=PRODUCT,
                product_name="Mắm cáy Hồng Tiến",
                product_group=ProductGroup.FOOD,
                producer_id="TB-HTX-HONGTIEN",
                stars=4,
                score=Decimal("78.5"),
                valid_from=year_ago,
                now=year_ago,
            )
        ],
    )
    return TrustList.load(data, root_public_key=root.public_key)


def rate(loop: Callable[[int], None], count: int) -> float:
    start = time.perf_counter()
    loop(count)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--labels", type=int, default=3000)
    args = parser.parse_args()

    root, authority, producer = (SigningKey.generate() for _ in range(3))
    trust = trust_list(root, authority, producer)
    signer = LabelSigner(
        producer,
        LabelBatch("ocop.vn", PRODUCT, "L2503A0001", date(2025, 3, 10), 4, producer.key_id),
    )
    sample = signer.sign()
    message = bytes(len(sample.signing_bytes()))
    bare_signature = producer.private_key.sign(message)
    urls = [signer.sign().url for _ in range(args.labels)]
    assert verify_label(urls[0], trust=trust, now=NOW).reason is Reason.GENUINE

    def sign_bare(n: int) -> None:
        sign = producer.private_key.sign
        for _ in range(n):
            sign(message)

    def sign_labels(n: int) -> None:
        sign = signer.sign
        for _ in range(n):
            sign().url  # noqa: B018 - the URL is the product

    def verify_bare(n: int) -> None:
        verify = producer.public_key.verify
        for _ in range(n):
            verify(bare_signature, message)

    def verify_labels(n: int) -> None:
        for url in urls[:n]:
            verify_label(url, trust=trust, now=NOW)

    results: dict[str, list[float]] = {
        name: [] for name in ("bare sign", "label sign", "bare verify", "label verify")
    }
    verify_count = max(args.labels // 3, 1)
    for _ in range(args.rounds):
        results["bare sign"].append(rate(sign_bare, args.labels))
        results["label sign"].append(rate(sign_labels, args.labels))
        results["bare verify"].append(rate(verify_bare, verify_count))
        results["label verify"].append(rate(verify_labels, verify_count))
    median = {name: statistics.median(values) for name, values in results.items()}

    qr = segno.make(sample.url, error="m", boost_error=False)
    modules = qr.symbol_size(border=0)[0]
    print(
        f"label URL: {len(sample.url)} characters -> QR version {qr.designator} ({modules} modules)"
    )
    print(f"signed message: {len(message)} bytes; medians of {args.rounds} rounds")
    for what in ("sign", "verify"):
        bare, label = median[f"bare {what}"], median[f"label {what}"]
        target = " (target >= 70%)" if what == "sign" else ""
        print(f"bare Ed25519 {what:<7} {bare:9.0f} /s")
        print(f"labels {PAST[what]:<13} {label:9.0f} /s  {label / bare:6.1%} of bare{target}")


if __name__ == "__main__":
    main()
