"""`ocop-station` on a station set up by `ocop-keys`, as a cooperative would: no Kafka here
(--no-send, and an address nobody listens on), so every event stays in the outbox."""

from __future__ import annotations

import io
import sqlite3
import sys
from datetime import date, timedelta

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from keys import cli as keys_cli
from producers import cli
from tests.world import PRODUCT

PASSPHRASE = "a passphrase long enough"
LOT = "L2511B0007"


@pytest.fixture
def state(tmp_path, monkeypatch):
    """An issuing office and a producer station sharing one state folder, made at run time."""
    state = tmp_path / "state"
    monkeypatch.setenv("OCOP_STATE_DIR", str(state))
    monkeypatch.setenv(keys_cli.PASSPHRASE_VARIABLE, PASSPHRASE)
    monkeypatch.setenv("OCOP_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # never the shared broker

    def office(*args: str) -> None:
        result = CliRunner().invoke(keys_cli.app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    office("init")
    office("issue", "authority", "--authority-id", "VN-34", "--name", "Hội đồng OCOP Thái Bình")
    office(
        *("issue", "producer-key", "--authority", "VN-34", "--producer-id", "TB-HTX-HONGTIEN"),
        *("--name", "HTX Hồng Tiến", "--kind", "cooperative", "--address", "Kiến Xương"),
    )
    office(
        *("issue", "certification", "--authority", "VN-34", "--certificate-no", "123/GCN"),
        *("--decision-no", "1234/QĐ-UBND", "--product-key", PRODUCT, "--group", "food"),
        *("--product-name", "Mắm cáy Hồng Tiến", "--producer-id", "TB-HTX-HONGTIEN"),
        *("--stars", "4", "--score", "78.5"),
    )
    office("export-trust-list", str(state / "trust-list.json"))
    return state


def station(monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ocop-station", "--no-send", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def journal(state) -> list[str]:
    """The rows the station recorded (its schema aside)."""
    path = state / "station" / "station-1" / "journal.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [line for line in db.iterdump() if line.startswith("INSERT")]


OPEN = (
    *("open-batch", "--product", PRODUCT, "--lot", LOT, "--planned", "5"),
    *("--raw-material", "cua cáy|bãi triều xã Hồng Tiến|40 kg"),
)


def test_a_day_at_the_packing_station(state, monkeypatch, capsys, tmp_path):
    expires = f"{date.today() + timedelta(days=365):%Y-%m-%d}"  # labels print and sign it (AI 17)
    code, out, _ = station(
        monkeypatch, capsys, *OPEN, "--produced", "20/11/2025", "--expires", expires
    )
    assert code == 0
    assert "labels will claim 4★" in out
    assert "1 event(s) wait in the outbox" not in out  # --no-send: nothing tried

    labels = tmp_path / "labels"
    code, out, _ = station(
        monkeypatch, capsys, "print-labels", LOT, "--count", "4", "--out", str(labels),
        "--format", "pdf", "--format", "png", "--workers", "1",
    )  # fmt: skip
    assert code == 0, out
    assert "QR version 10-M" in out
    assert (labels / "labels.pdf").exists()
    scanned = []
    for png in sorted((labels / "png").glob("*.png")):
        (found,) = zxingcpp.read_barcodes(Image.open(png))
        scanned.append(found.text)

    session = "\n".join([scanned[0], scanned[1], "", scanned[1], "not a label", scanned[2]])
    code, out, _ = station(monkeypatch, capsys, "scan", LOT, stdin=session + "\n")
    assert code == 0
    lines = out.splitlines()
    assert sum(line.startswith("✓ ") for line in lines) == 3
    refused = [line for line in lines if line.startswith("✗ ")]
    assert refused[0].startswith("✗ Tem đã được quét / Already scanned: serial ")
    assert refused[1].startswith("✗ Không phải tem OCOP / Not an OCOP label: ")
    assert "3 packed, 2 refused; 3 packed in the batch" in out

    assert station(monkeypatch, capsys, "close-batch", LOT)[0] == 0
    code, out, _ = station(
        monkeypatch, capsys, "ship", LOT, "--to", "Siêu thị OCOP", "--units", "3",
        "--shipment-id", "SH-0001",
    )  # fmt: skip
    assert code == 0
    assert "shipment SH-0001: 3 units to Siêu thị OCOP" in out
    code, out, _ = station(
        monkeypatch, capsys, "receive", "SH-0001", "--receiver", "Siêu thị OCOP", "--units", "3"
    )
    assert code == 0
    code, out, _ = station(monkeypatch, capsys, "recall", LOT, "--reason", "Kiểm tra")
    assert code == 0

    code, out, _ = station(monkeypatch, capsys, "status")
    assert code == 0
    assert LOT in out
    assert "recalled" in out
    # opened, packed, closed, shipped, received, recalled: all waiting for Kafka
    assert "outbox backlog: 6 event(s)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--produced", "2025-11-31", "--expires", "2026-11-20"),
            "--produced: '2025-11-31' không phải ngày hợp lệ / --produced: '2025-11-31' is not a "
            "date (day is out of range for month)",
        ),
        (
            ("--produced", "20/11/2025", "--expires", "next year"),
            "--expires: 'next year' không phải ngày; viết YYYY-MM-DD hoặc DD/MM/YYYY / --expires: "
            "'next year' is not a date; write YYYY-MM-DD or DD/MM/YYYY",
        ),
        (("--produced", "2025-11-20", "--expires", "2025-11-19"), "expiry_date must be after"),
    ],
)
def test_malformed_dates_are_one_clear_line_and_write_nothing(
    state, monkeypatch, capsys, args, message
):
    before = journal(state)
    code, out, err = station(monkeypatch, capsys, *OPEN, *args)
    assert code == 1
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err + out
    assert journal(state) == before


def test_unknown_product_and_unknown_batch(state, monkeypatch, capsys):
    code, _, err = station(
        monkeypatch, capsys, *OPEN[:2], "/p/TB-BANHCAY-01", *OPEN[3:],
        "--produced", "2025-11-20", "--expires", "2026-11-20",
    )  # fmt: skip
    assert code == 1
    assert "is not a certified product of TB-HTX-HONGTIEN" in err
    code, _, err = station(monkeypatch, capsys, "close-batch", "L-NONE")
    assert (code, err.strip()) == (1, "error: no batch for 'L-NONE' at this station")


def test_send_with_kafka_unreachable_keeps_the_events(state, monkeypatch, capsys):
    station(monkeypatch, capsys, *OPEN, "--produced", "2025-11-20", "--expires", "2026-11-20")
    code, out, _ = station(monkeypatch, capsys, "send", "--until-empty", "--timeout", "2")
    assert code == 1
    assert "not reachable, events stay in the outbox" in out
    assert "outbox backlog: 1 event(s)" in out


def test_help_explains(monkeypatch, capsys):
    code, out, _ = station(monkeypatch, capsys, "--help")
    assert code == 0
    for command in ("open-batch", "print-labels", "scan", "close-batch", "ship", "receive"):
        assert command in out
    code, out, _ = station(monkeypatch, capsys, "scan", "--help")
    assert "one per line, until end of input" in " ".join(out.split())
