"""The demo's office, reloaded from its folder: what an earlier run decided still holds, and
what an older version of the demo saved about certificates the cast no longer has does not
break the trust list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contract.encoding import canonical_bytes
from demo.authority import open_office
from demo.cast import PRODUCTS, REVOKED


def test_a_reloaded_office_keeps_its_revocation_and_drops_a_stale_one(tmp_path):
    office, made = open_office(tmp_path)
    assert made
    product = next(p for p in PRODUCTS if p.code == REVOKED)
    office.revoke(product, datetime.now(UTC))
    saved = json.loads((tmp_path / "revocations" / f"{product.code}.json").read_text())
    saved["body"]["certificate_no"] = "47/2022/GCN-OCOP"  # numbered so by an older cast
    (tmp_path / "revocations" / "OLD.json").write_bytes(canonical_bytes(saved))

    again, made = open_office(tmp_path)
    assert not made
    assert [r.body.certificate_no for r in again.revocations] == [product.certificate_no]
    assert again.revoked(product) is not None
    assert again.trust_list(version=2)  # builds: a stale revocation would make it invalid
