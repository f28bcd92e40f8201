from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

import pytest
import segno
from typer.testing import CliRunner

from contract.label import LabelBatch, vietnam_date
from keys import cli, verify_cli
from keys.keystore import Keystore
from keys.signing import LabelSigner
from tests.world import PRODUCT

PASSPHRASE = "a passphrase long enough"


@pytest.fixture
def office(tmp_path, monkeypatch):
    monkeypatch.setenv("OCOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv(cli.PASSPHRASE_VARIABLE, PASSPHRASE)
    return tmp_path / "state"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def key_in(output: str, what: str) -> str:
    found = re.search(rf"{what} ([a-z2-7]{{13}})", output)
    assert found is not None, output
    return found.group(1)


def test_issue_rotate_revoke_export_and_verify_offline(office, tmp_path):
    today = vietnam_date(datetime.now(UTC))
    run("init")
    run("issue", "authority", "--authority-id", "VN-34", "--name", "Hội đồng OCOP tỉnh Thái Bình")
    run(
        "issue",
        "authority",
        "--authority-id",
        "VN-NATIONAL",
        "--name",
        "Hội đồng OCOP trung ương",
        "--level",
        "national",
    )
    producer = key_in(
        run(
            "issue",
            "producer-key",
            "--authority",
            "VN-34",
            "--producer-id",
            "TB-HTX-HONGTIEN",
            "--name",
            "HTX Hồng Tiến",
            "--kind",
            "cooperative",
            "--address",
            "Kiến Xương, Thái Bình",
        ),
        "producer key",
    )
    award = [
        "issue",
        "certification",
        "--certificate-no",
        "123/GCN-UBND",
        "--decision-no",
        "1234/QĐ-UBND",
        "--product-key",
        PRODUCT,
        "--product-name",
        "Mắm cáy Hồng Tiến",
        "--group",
        "food",
        "--producer-id",
        "TB-HTX-HONGTIEN",
    ]
    run(
        *award,
        "--authority",
        "VN-34",
        "--stars",
        "4",
        "--score",
        "78.5",
        "--valid-from",
        today.isoformat(),
    )
    second = key_in(
        run(
            "issue",
            "producer-key",
            "--authority",
            "VN-34",
            "--producer-id",
            "TB-HTX-HONGTIEN",
            "--name",
            "HTX Hồng Tiến",
            "--kind",
            "cooperative",
            "--address",
            "Kiến Xương",
        ),
        "producer key",
    )
    new_key = key_in(run("rotate", second), "new key")
    run("revoke", "key", new_key, "--reason", "compromised", "--at", "2020-01-01")
    run(
        "revoke",
        "certification",
        "123/GCN-UBND",
        "--decision-no",
        "47/QĐ-UBND",
        "--reason",
        "Hết hạn duy trì",
        "--at",
        "2099-01-01",
    )
    trust_list = tmp_path / "trust.json"
    run("export-trust-list", str(trust_list))
    assert json.loads(trust_list.read_bytes())["body"]["version"] == 1

    key = Keystore(office / "keystore").load(producer, PASSPHRASE)
    label = LabelSigner(
        key, LabelBatch("ocop.vn", PRODUCT, "L2503A0001", today, 4, key.key_id)
    ).sign()
    image = tmp_path / "label.png"
    segno.make(label.url, error="m").save(str(image), scale=4)
    root = str(office / "trust" / "root.pub")
    result = CliRunner().invoke(
        verify_cli.app, [str(image), "--trust-list", str(trust_list), "--root-key", root]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("GENUINE (genuine)")
    assert "Mắm cáy Hồng Tiến, 4★ provincial, score 78.5" in result.output
    tampered = CliRunner().invoke(
        verify_cli.app,
        [
            label.url.replace("&s=4", "&s=5"),
            "--trust-list",
            str(trust_list),
            "--root-key",
            root,
            "--json",
        ],
    )
    assert tampered.exit_code == 1
    assert json.loads(tampered.output)["reason"] == "bad_signature"


def test_rules_are_enforced_before_signing(office):
    run("init")
    run("issue", "authority", "--authority-id", "VN-34", "--name", "Thái Bình")
    result = CliRunner().invoke(
        cli.app,
        [
            "issue",
            "certification",
            "--authority",
            "VN-34",
            "--certificate-no",
            "1",
            "--decision-no",
            "1",
            "--product-key",
            PRODUCT,
            "--product-name",
            "X",
            "--group",
            "food",
            "--producer-id",
            "TB-1",
            "--stars",
            "5",
            "--score",
            "95",
        ],
    )
    assert result.exit_code != 0
    said = str(result.exception)
    assert "VN-34 là hội đồng cấp tỉnh; 5★ được công nhận ở cấp trung ương / " in said
    assert "VN-34 is a provincial council; 5★ is awarded at national level" in said


@pytest.mark.parametrize(
    ("main", "argv", "status", "vietnamese", "english"),
    [
        (
            cli.main,
            ["ocop-keys", "issue", "authority", "--authority-id", "VN-34", "--name", "X"],
            1,
            "chưa có khóa gốc trong",
            "run `ocop-keys init` first",
        ),
        (
            verify_cli.main,
            ["ocop-verify", "x", "--trust-list", "missing.json", "--root-key", "A" * 43],
            2,
            "không đọc được danh sách tin cậy",
            "cannot read trust list",
        ),
        (
            verify_cli.main,
            ["ocop-verify", "x", "--trust-list", __file__, "--root-key", "not-a-key"],
            2,
            "--root-key không phải khóa công khai Ed25519",
            "--root-key: public key must be 43 characters",
        ),
    ],
)
def test_errors_are_one_line_in_both_languages_without_a_traceback(
    office, monkeypatch, capsys, main, argv, status, vietnamese, english
):
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == status
    err = capsys.readouterr().err
    assert err.startswith(f"error: {vietnamese}")
    assert err.index(vietnamese) < err.index(" / ") < err.index(english)
    assert err.count("\n") == 1
    assert "Traceback" not in err
