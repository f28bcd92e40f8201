"""Start-up refuses what it cannot run safely; the page has every word in both languages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.world import World
from verify_api.cli import serve
from verify_api.i18n import EN, VI
from verify_api.settings import ApiSettings, Environment


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    monkeypatch.delenv("OCOP_ROOT_KEY", raising=False)
    monkeypatch.delenv("OCOP_DEVICE_SALT", raising=False)
    monkeypatch.delenv("OCOP_ENVIRONMENT", raising=False)


def test_there_is_no_default_root_key(world: World):
    with pytest.raises(ValidationError, match="root_key"):
        ApiSettings(device_salt="s" * 16)
    with pytest.raises(ValidationError, match="public key"):
        ApiSettings(root_key="not-a-key", device_salt="s" * 16)


def test_the_device_salt_is_required_outside_development(world: World):
    root = world.root.public_key_text
    with pytest.raises(
        ValidationError, match=r"cần OCOP_DEVICE_SALT .* / OCOP_DEVICE_SALT is required"
    ):
        ApiSettings(root_key=root)
    with pytest.raises(ValidationError, match=r"ít nhất 16 ký tự / .*at least 16"):
        ApiSettings(root_key=root, device_salt="short")
    assert ApiSettings(root_key=root, environment=Environment.DEVELOPMENT).device_salt is None


def test_the_cli_names_the_missing_setting_and_exits_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        serve()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "error: thiếu hoặc sai thiết lập: OCOP_ROOT_KEY / settings missing or invalid: "
        "OCOP_ROOT_KEY\n"
    )


def test_both_languages_have_the_same_words():
    assert VI.keys() == EN.keys()
    assert all(VI.values())
    assert all(EN.values())
