"""contract.bilingual, and the command-line tools that speak through it: a refusal is one
line, Vietnamese then English, with the exit status it always had. No server is reached:
where a tool would connect, the connection is replaced by one that fails."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest
from cassandra.cluster import NoHostAvailable
from pydantic import BaseModel, ValidationError, model_validator

from auditlog import witness, writer
from contract.bilingual import bilingual, error_message, settings_problem, unreachable
from infra import cli as stack_cli
from keys.keystore import Keystore
from producers import cli as station_cli
from records import session
from stream_processors import cli as worker_cli
from verify_api import cli as api_cli

PASSPHRASE = "a passphrase long enough"


class Example(BaseModel):
    root_key: str
    port: int = 9042
    desk: str | None = None
    desk_key: str | None = None

    @model_validator(mode="after")
    def _desk_complete(self) -> Example:
        if (self.desk is None) != (self.desk_key is None):
            raise ValueError(bilingual("cần cả hai, hoặc không", "both or neither"))
        return self


def refusal(**fields: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Example.model_validate(fields)
    return caught.value


def test_vietnamese_then_english_on_one_line():
    assert bilingual("thiếu khóa", "no key") == "thiếu khóa / no key"


def test_a_server_that_does_not_answer_is_named_in_both_and_its_cause_given_once():
    said = unreachable("Cassandra", "127.0.0.2", ConnectionRefusedError("refused"))
    assert said == (
        "không kết nối được Cassandra tại 127.0.0.2 / Cassandra at 127.0.0.2 does not answer: "
        "refused"
    )


def test_missing_settings_are_named_in_both_languages():
    assert settings_problem(refusal()) == (
        "thiếu hoặc sai thiết lập: OCOP_ROOT_KEY / settings missing or invalid: OCOP_ROOT_KEY"
    )


def test_an_invalid_value_says_why_in_the_english_half():
    said = settings_problem(refusal(port="many"))
    vietnamese, english = said.split(" / ")
    assert vietnamese == "thiếu hoặc sai thiết lập: OCOP_ROOT_KEY, OCOP_PORT"
    assert english.startswith("settings missing or invalid: OCOP_ROOT_KEY, OCOP_PORT (OCOP_PORT: ")
    assert "valid integer" in english
    assert "OCOP_ROOT_KEY:" not in english  # missing says it all


def test_a_check_across_settings_says_its_own_words():
    assert settings_problem(refusal(root_key="k", desk="VN-33")) == (
        "cần cả hai, hoặc không / both or neither"
    )


def test_a_settings_error_is_said_as_such_any_other_as_it_is():
    assert error_message(refusal()).startswith("thiếu hoặc sai thiết lập: OCOP_ROOT_KEY / ")
    assert error_message(KeyError("x")) == "'x'"


# -- the tools -------------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """No OCOP_* setting from outside; nothing that could reach the shared servers."""
    for name in [name for name in os.environ if name.startswith("OCOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OCOP_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("OCOP_CASSANDRA_HOSTS", "192.0.2.1")  # TEST-NET: never the cluster
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def said(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    main: Callable[[], None],
    *argv: str,
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", list(argv))
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return int(stopped.value.code or 0), err.removesuffix("\n")


def settings_line(names: str) -> str:
    return f"error: thiếu hoặc sai thiết lập: {names} / settings missing or invalid: {names}"


@pytest.mark.parametrize(
    ("main", "argv", "status", "names"),
    [
        (worker_cli.main, ["ocop-worker", "run"], 2, "OCOP_ROOT_KEY, OCOP_SEAL_PASSPHRASE"),
        (writer.main, ["ocop-log", "run"], 2, "OCOP_LOG_PASSPHRASE"),
        (writer.main, ["ocop-log", "vkey"], 2, "OCOP_LOG_PASSPHRASE"),
        (witness.main, ["ocop-witness", "run"], 2, "OCOP_WITNESS_NAME, OCOP_WITNESS_PASSPHRASE"),
        (api_cli.main, ["ocop-api"], 2, "OCOP_ROOT_KEY"),
    ],
)
def test_missing_settings_are_one_line_in_both_languages(
    environment, capsys, main, argv, status, names
):
    assert said(environment, capsys, main, *argv) == (status, settings_line(names))


def test_an_invalid_station_setting_is_one_line_and_still_status_1(environment, capsys):
    environment.setenv("OCOP_PACK_EVENT_UNITS", "0")
    status, line = said(environment, capsys, station_cli.main, "ocop-station", "status")
    assert status == 1
    assert line.startswith(settings_line("OCOP_PACK_EVENT_UNITS") + " (OCOP_PACK_EVENT_UNITS: ")


@pytest.mark.parametrize(
    ("main", "argv", "variable"),
    [
        (worker_cli.main, ["ocop-worker", "init-key"], "OCOP_SEAL_PASSPHRASE"),
        (writer.main, ["ocop-log", "init-key"], "OCOP_LOG_PASSPHRASE"),
        (witness.main, ["ocop-witness", "init-key"], "OCOP_WITNESS_PASSPHRASE"),
    ],
)
def test_a_key_is_not_made_without_its_passphrase(environment, capsys, main, argv, variable):
    status, line = said(environment, capsys, main, *argv)
    assert status == 2
    assert line.startswith(
        f"error: đặt {variable} là cụm mật khẩu sẽ bảo vệ khóa / set {variable} to the passphrase"
    )


class NoNodeAnswers:
    """The driver's Cluster when no node answers: records.session.connect's own refusal."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def connect(self, keyspace: str | None = None) -> None:
        raise NoHostAvailable("Unable to connect to any servers", {"192.0.2.1:9042": "refused"})

    def shutdown(self) -> None:
        pass


NO_CASSANDRA = (
    "error: không kết nối được Cassandra tại 192.0.2.1 / Cassandra at 192.0.2.1 does not answer: "
)


def test_the_worker_says_when_cassandra_does_not_answer(environment, capsys, tmp_path):
    key = Keystore(tmp_path / "seal").generate(PASSPHRASE)
    environment.setenv("OCOP_SEAL_KEYSTORE", str(tmp_path / "seal"))
    environment.setenv("OCOP_SEAL_PASSPHRASE", PASSPHRASE)
    environment.setenv("OCOP_ROOT_KEY", key.public_key_text)
    environment.setenv("OCOP_CASSANDRA_HOSTS", "192.0.2.1")
    environment.setattr(session, "Cluster", NoNodeAnswers)
    status, line = said(environment, capsys, worker_cli.main, "ocop-worker", "run")
    assert (status, line.startswith(NO_CASSANDRA)) == (2, True), line


def test_the_log_writer_says_when_cassandra_does_not_answer(environment, capsys, tmp_path):
    Keystore(tmp_path / "log").generate(PASSPHRASE)
    environment.setenv("OCOP_LOG_KEYSTORE", str(tmp_path / "log"))
    environment.setenv("OCOP_LOG_PASSPHRASE", PASSPHRASE)
    environment.setenv("OCOP_CASSANDRA_HOSTS", "192.0.2.1")
    environment.setattr(session, "Cluster", NoNodeAnswers)
    status, line = said(environment, capsys, writer.main, "ocop-log", "run")
    assert (status, line.startswith(NO_CASSANDRA)) == (2, True), line


def test_the_log_writer_names_the_keystore_that_holds_no_single_key(environment, capsys, tmp_path):
    environment.setenv("OCOP_LOG_KEYSTORE", str(tmp_path / "empty"))
    environment.setenv("OCOP_LOG_PASSPHRASE", PASSPHRASE)
    assert said(environment, capsys, writer.main, "ocop-log", "vkey") == (
        2,
        f"error: {tmp_path / 'empty'} có 0 khóa; đặt OCOP_LOG_KEY_ID, hoặc tạo một khóa bằng "
        f"`ocop-log init-key` / {tmp_path / 'empty'} holds 0 keys; set OCOP_LOG_KEY_ID, or "
        "create one with `ocop-log init-key`",
    )


def test_the_stack_tool_names_an_invalid_setting_instead_of_a_traceback(environment, capsys):
    environment.setenv("OCOP_NODES", "three")
    status, line = said(environment, capsys, stack_cli.main, "ocop-stack", "status")
    assert status == 1
    assert line.startswith(
        "error: thiếu hoặc sai thiết lập: OCOP_NODES / settings missing or invalid: OCOP_NODES ("
    ), line


def test_a_malformed_log_key_is_the_witness_setting_at_fault_not_a_traceback(environment, capsys):
    environment.setenv("OCOP_WITNESS_NAME", "witness.example.vn")
    environment.setenv("OCOP_WITNESS_PASSPHRASE", "a passphrase long enough")
    environment.setenv("OCOP_WITNESS_LOG_KEY", "garbage")
    status, line = said(environment, capsys, witness.main, "ocop-witness", "run", "--once")
    assert status == 2
    assert line.startswith(settings_line("OCOP_WITNESS_LOG_KEY") + " (OCOP_WITNESS_LOG_KEY: "), line
