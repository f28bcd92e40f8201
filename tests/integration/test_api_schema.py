"""The verify API's OpenAPI holds for what `ocop-api` really answers: Schemathesis, as its
CLI runs it, against the real `ocop-api` over a real pipeline, once without credentials and
once with an inspector's token (the supervisor's: every inspector route is open to it).

The run (`schemathesis.engine`, the CLI's engine, over the schema loaded from the running
API inside the fixture) goes through every phase that applies: examples (the schema has none),
coverage (boundary and schema-violating values of every parameter and body field, missing
required ones, and the methods a path does not have), fuzzing (MAX_EXAMPLES generated
requests per operation, positive and negative) and stateful sequences (links Schemathesis
infers, e.g. an alert listed, then closed). Every check is on, as by default: no server
error; status codes, content types, headers and bodies as documented; schema-valid requests
accepted and schema-violating ones refused (so the code is as strict as the schema, and the
schema as strict as the code); missing required headers refused; 405 with `Allow` for an
undocumented method; `Allow` of OPTIONS listing the documented methods; authentication not
ignored; and the stateful ones. Generation is derandomized under a fixed seed, without an
example database, so a CI run sends the same requests every time.

What Schemathesis is told beyond the schema, all of it about the client, none of it
loosening a check but the answers below:

- the label's four signed pairs are sent in the order a printed label has them (13, s, k,
  sig: the canonical spelling the resolver requires; an OpenAPI cannot order query
  parameters, and Schemathesis sends them alphabetically);
- the formats `gtin-14` and `ocop-unit-key` (a GS1 check digit, which no pattern can say)
  are generated with their check digits, and a few parameters sometimes take the values of
  the storefront's products, lots and labels, so that 200 answers and their bodies are
  checked too, not only 404s;
- a few answers to schema-valid requests are accepted only exactly as explained (EXPLAINED,
  checked after the run, on every such answer): on the Digital Link routes a 400 whose label
  URL, with everything appended to it, is longer than contract.label.MAX_TEXT_LENGTH (the
  verdict `malformed`, which no per-parameter schema can bound); on POST
  /inspectors/inspections a 422 `idempotency_key_reused` (the same generated Idempotency-Key
  sent with another finding, as the IETF draft has it); 413 for an EPCIS query naming no lot
  or unit; and 400 for what a schema cannot say: a GTIN's or GLN's check digit (the log's
  proofs, a party's trace), an old tree size past the new one, a body that is not a
  checkpoint note;
- a schema-violating request may also be refused with 414 (REJECTED): its URL, percent-escaped,
  past the API's limit, which the guard refuses before any parameter is read.

No operation is excluded. HEAD and OPTIONS are answered by the guards on every path, not
operations of the schema (its description says so): Schemathesis treats them as a
framework's, sending OPTIONS with the undocumented methods of each path and checking its
`Allow`; tests/unit cover HEAD. /docs and its files are not part of the API's OpenAPI (and
off in production). `schemathesis.pytest.from_fixture` is not used: with pytest 9 its
wrapper fails on `Function._nodeid`; the engine is also what the CLI runs, phases included.

Isolation: the token-holding run records findings and closes alerts. The API runs with its
pipeline's keyspace and topics (checked in its process environment before each run), and the
default scan topic, where a misconfigured API would send, does not move during the run while
the pipeline's does.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import schemathesis
from hypothesis import strategies as st
from kafka import KafkaConsumer, TopicPartition
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.engine import Status, StopReason, events, from_schema
from schemathesis.engine.recorder import Interaction
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.formats import unregister_string_format

from auditlog.checkpoint import Checkpoint, MalformedCheckpoint
from auditlog.note import MalformedNote, parse_note
from contract import topics
from contract.gs1 import check_digit, dl_escape
from contract.identifiers import SERIAL_ALPHABET, SERIAL_LENGTH
from contract.label import MAX_TEXT_LENGTH
from tests.integration.pipeline import Pipeline, wait_for
from tests.integration.test_api_stack import (
    DOWNGRADED,
    TOKENS,
    ApiProcess,
    Storefront,
    opened_shop,
    path_of,
)
from tests.world import HOST, PRODUCT
from verify_api.routes.epcis import MAX_BATCHES
from verify_api.routes.log import MAX_NOTE_BYTES
from verify_api.schemas import GTIN_FORMAT, UNIT_KEY_FORMAT

MAX_EXAMPLES = 50
"""Generated requests per operation in the fuzzing phase."""
SEED = 20250317
OPERATIONS = 17
"""The API's operations when this test was written: a schema with fewer did not load whole."""
LABEL_ORDER = ("13", "s", "k", "sig")
DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""Schemathesis' own list for positive_data_acceptance, extended below for two answers."""
REJECTED = [
    "400",
    "401",
    "403",
    "404",
    "405",
    "406",
    "409",
    "414",
    "415",
    "422",
    "428",
    "429",
    "5xx",
]
"""Schemathesis' own list for negative_data_rejection, and 414: a URL longer than the API's
limit (verify_api.guards.Guard, OCOP_MAX_URL_LENGTH) is refused before any parameter is read,
which a schema-violating value (percent-escaped, a character takes up to 12) can make it."""


def _label_too_long(interaction: Interaction) -> bool:
    """The URL the resolver judged (its host, the path and query as sent) is past the limit."""
    sent = urlsplit(interaction.request.uri)
    judged = f"https://{HOST}{sent.path}" + (f"?{sent.query}" if sent.query else "")
    return len(judged) > MAX_TEXT_LENGTH


def _key_reused(interaction: Interaction) -> bool:
    response = interaction.response
    assert response is not None
    return bool(json.loads(response.content)["error"] == "idempotency_key_reused")


def _names_no_lot_or_unit(interaction: Interaction) -> bool:
    """An EPCIS query the API will not run (verify_api.routes.epcis): no MATCH_epc or
    MATCH_anyEPCClass, or more values than it reads batches for."""
    pairs = parse_qsl(urlsplit(interaction.request.uri).query, keep_blank_values=True)
    named = [value for key, value in pairs if key in ("MATCH_epc", "MATCH_anyEPCClass")]
    return not named or sum(len(value.split("|")) for value in named) > MAX_BATCHES


def _segments(interaction: Interaction) -> list[str]:
    """The request's path, percent-decoded once (as the server routes it), split at "/"."""
    return unquote(urlsplit(interaction.request.uri).path).split("/")


def _check_digit_wrong(key: str) -> bool:
    """A GS1 key (GTIN, GLN) whose last digit is not the check digit of the others."""
    return key.isascii() and key.isdigit() and int(key[-1]) != check_digit(key[:-1])


def _gtin_check_digit_wrong(interaction: Interaction) -> bool:
    """/log/proof/{unit,batch}/01/<GTIN-14>/...: the GTIN's check digit is wrong."""
    _, _, _, _, scheme, key, *_ = _segments(interaction)
    return scheme == "01" and _check_digit_wrong(key)


def _batch_refused(interaction: Interaction) -> bool:
    """/log/proof/batch/<product key>/10/<lot>: the GTIN's check digit is wrong, or the lot as
    the server received it is not as dl_escape spells it. The schema's value holds the lot
    percent-escaped (`L-25%2F03`), which a client sends escaped once more; Schemathesis
    unquotes a path parameter before quoting it (transport.serialization.quote_all), so the
    API receives the lot unescaped (`L-25/03`), a batch id not in its canonical form."""
    if _gtin_check_digit_wrong(interaction):
        return True
    _, _, _, _, _, _, _, lot = unquote(urlsplit(interaction.request.uri).path).split("/", 7)
    return dl_escape(lot) != lot


def _gln_check_digit_wrong(interaction: Interaction) -> bool:
    """/parties/<GLN>/trace: the GLN's check digit is wrong."""
    return _check_digit_wrong(_segments(interaction)[2])


def _old_past_new(interaction: Interaction) -> bool:
    """/log/proof/consistency/<old>/<new> with old > new: no tree grows into a smaller one."""
    old, new = _segments(interaction)[4:6]
    return int(old) > int(new)


def _not_a_checkpoint_note(interaction: Interaction) -> bool:
    """A body longer than MAX_NOTE_BYTES, or not a signed note (c2sp.org/signed-note) whose
    text is a checkpoint (c2sp.org/tlog-checkpoint), as verify_api.routes.log.cosign reads it."""
    body = interaction.request.body or b""
    if len(body) > MAX_NOTE_BYTES:
        return True
    try:
        Checkpoint.parse(parse_note(body).text)
    except (MalformedNote, MalformedCheckpoint):
        return True
    return False


EXPLAINED: dict[str, tuple[int, Callable[[Interaction], bool], str]] = {
    "epcis_events": (413, _names_no_lot_or_unit, "a query naming no lot or unit"),
    "resolve_gtin_unit": (400, _label_too_long, "a label URL longer than MAX_TEXT_LENGTH"),
    "resolve_product_code_unit": (400, _label_too_long, "a label URL longer than MAX_TEXT_LENGTH"),
    "record_inspection": (422, _key_reused, "idempotency_key_reused"),
    "log_proof_unit": (400, _gtin_check_digit_wrong, "a GTIN with a wrong check digit"),
    "log_proof_batch": (400, _batch_refused, "a wrong check digit, or a lot sent unescaped"),
    "party_trace": (400, _gln_check_digit_wrong, "a GLN with a wrong check digit"),
    "log_proof_consistency": (400, _old_past_new, "an old size larger than the new"),
    "log_cosign": (400, _not_a_checkpoint_note, "a body that is not a checkpoint note"),
}
"""operation id: the status a schema-valid request may get besides Schemathesis' list, and
the only reason it may get it."""

_GTINS = st.text("0123456789", min_size=13, max_size=13).map(lambda d: d + str(check_digit(d)))
_CODES = st.from_regex(r"[A-Z0-9][A-Z0-9-]{2,19}", fullmatch=True)
_SERIALS = st.text(SERIAL_ALPHABET, min_size=SERIAL_LENGTH, max_size=SERIAL_LENGTH)
_UNIT_KEYS = st.builds(
    "{}/21/{}".format,
    st.one_of(_GTINS.map("/01/{}".format), _CODES.map("/p/{}".format)),
    _SERIALS,
)


def _in_label_order(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """A Schemathesis `before_call` hook: a label's signed pairs in their printed order."""
    if case.query and "sig" in case.query:
        rank = {name: n for n, name in enumerate(LABEL_ORDER)}
        case.query = dict(sorted(case.query.items(), key=lambda item: rank.get(item[0], 4)))


@dataclass
class Shelf:
    storefront: Storefront
    api: ApiProcess
    known: dict[str, list[Any]]
    """Values of the storefront's products, lots and labels, by parameter."""


@pytest.fixture(scope="module")
def shelf(stack_settings, tmp_path_factory) -> Iterator[Shelf]:
    with opened_shop(stack_settings, tmp_path_factory.mktemp("schema")) as (storefront, api):
        labels = storefront.pack(PRODUCT, "L2503SCHEMA", 2, shipped_to="Chợ Bo")
        labels += storefront.pack(DOWNGRADED, "L-25/03:S", 2)
        known: dict[str, list[Any]] = {name: [] for name in ("gtin", "code", "lot", "serial")}
        known |= {name: [] for name in LABEL_ORDER}
        for label in labels:
            path, _, query = path_of(label).partition("?")
            _, scheme, key, _, _, _, serial = path.split("/")
            known["gtin" if scheme == "01" else "code"].append(key)
            known["lot"].append(label.batch.lot)
            known["serial"].append(serial)
            for name, value in parse_qsl(query):
                known[name].append(int(value) if name == "s" else value)
        schemathesis.openapi.format(GTIN_FORMAT, st.one_of(st.sampled_from(known["gtin"]), _GTINS))
        schemathesis.openapi.format(UNIT_KEY_FORMAT, _UNIT_KEYS)
        schemathesis.hook("before_call")(_in_label_order)
        try:
            yield Shelf(storefront, api, {name: sorted(set(v)) for name, v in known.items()})
        finally:
            schemathesis.hooks.unregister(_in_label_order)
            unregister_string_format(GTIN_FORMAT)
            unregister_string_format(UNIT_KEY_FORMAT)


def _config(shelf: Shelf, token: str | None) -> SchemathesisConfig:
    where = {"gtin": "path", "code": "path", "lot": "path", "serial": "path"}
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "request-timeout": 10,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTED}},
            "dictionaries": {name: {"values": values} for name, values in shelf.known.items()},
            "parameters": {
                f"{where.get(name, 'query')}.{name}": {"dictionary": name, "probability": 0.5}
                for name in shelf.known
            },
            "operations": [
                {
                    "include-operation-id": operation,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*DEFAULT_ACCEPTED, str(status)]
                        }
                    },
                }
                for operation, (status, _, _) in EXPLAINED.items()
            ],
        }
        | ({"headers": {"Authorization": f"Bearer {token}"}} if token else {})
    )


@dataclass
class Run:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    """By phase."""
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)
    """By (phase, operation)."""
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    """By (operation id, status)."""
    operations: set[str] = field(default_factory=set)
    stop_reason: StopReason | None = None


def _run(schema: Any) -> Run:
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(run, event)
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise AssertionError("Schemathesis failed") from event.exception
        elif isinstance(event, events.EngineFinished):
            run.stop_reason = event.stop_reason
            run.failures += [f"{failure.title}: {failure.message}" for failure in event.failures]
    return run


def _record(run: Run, event: events.ScenarioFinished) -> None:
    recorder, phase = event.recorder, event.phase.name
    if event.status is Status.ERROR:
        run.errors.append(f"{phase} {recorder.label}: {event.skip_reason or 'error'}")
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is not None:
                failure = check.failure_info.failure
                sent = recorder.interactions.get(case_id)
                answer = sent and sent.response
                got = f"{answer.status_code} {answer.content[:300]!r}" if answer else "no answer"
                run.failures.append(
                    f"{recorder.label} ({phase}) {check.name}: {failure.title}\n"
                    f"{failure.message}\n{check.failure_info.code_sample}\n-> {got}"
                )
    run.requests[phase] += len(recorder.interactions)
    for case_id, node in recorder.cases.items():
        case, interaction = node.value, recorder.interactions.get(case_id)
        run.operations.add(case.operation.label)
        run.cases[(phase, case.operation.label)] += 1
        if interaction is None or interaction.response is None:
            continue
        operation_id = case.operation.definition.raw.get("operationId", "")
        status = interaction.response.status_code
        run.statuses[(operation_id, status)] += 1
        explained = EXPLAINED.get(operation_id)
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        if explained and positive and status == explained[0] and not explained[1](interaction):
            run.unexplained.append(
                f"{case.operation.label} ({phase}): {status} without {explained[2]}: "
                f"{interaction.request.uri}\n{interaction.response.content[:500]!r}"
            )


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {partition.partition: offset for partition, offset in ends.items()}
    finally:
        consumer.close()


def _assert_isolated(api: ApiProcess, pipeline: Pipeline) -> None:
    """The API process reads its pipeline's keyspace and sends to its pipeline's scan topic."""
    with open(f"/proc/{api.process.pid}/environ", "rb") as environ:
        env = dict(
            item.decode().partition("=")[::2] for item in environ.read().split(b"\0") if item
        )
    assert env["OCOP_KEYSPACE"] == pipeline.settings.keyspace != "ocop"
    assert env["OCOP_SCAN_TOPIC"] == pipeline.topics["scan"] != topics.SCAN_EVENTS


@pytest.mark.parametrize(
    "token", [None, TOKENS["supervisor"][3]], ids=["without-token", "with-supervisor-token"]
)
def test_every_answer_is_one_the_openapi_describes(shelf: Shelf, token: str | None):
    pipeline = shelf.storefront.pipeline
    bootstrap = pipeline.settings.kafka_bootstrap
    _assert_isolated(shelf.api, pipeline)
    default_before = _end_offsets(bootstrap, topics.SCAN_EVENTS)
    ours_before = _end_offsets(bootstrap, pipeline.topics["scan"])

    schema = schemathesis.openapi.from_url(
        f"{shelf.api.base}/openapi.json", config=_config(shelf, token)
    )
    operations = set()
    for result in schema.get_all_operations():  # an operation Schemathesis cannot read fails
        assert isinstance(result, Ok), result
        operations.add(result.ok().label)
    assert len(operations) >= OPERATIONS, sorted(operations)
    started = time.monotonic()
    run = _run(schema)
    elapsed = time.monotonic() - started

    summary = (
        f"{'with' if token else 'without'} a token: {sum(run.requests.values())} requests in "
        f"{elapsed:.0f} s, by phase {dict(run.requests)}; statuses "
        f"{dict(sorted(run.statuses.items()))}"
    )
    print(summary)  # shown with -s, and with any failure
    assert run.stop_reason is StopReason.COMPLETED, summary
    assert not run.errors, "\n".join(run.errors)
    assert not run.failures, f"{len(run.failures)} failures\n" + "\n\n".join(run.failures)
    assert not run.unexplained, "\n\n".join(run.unexplained)
    assert run.operations == operations, sorted(operations - run.operations)
    for operation in run.operations:  # every operation really tested by both generating phases
        assert run.cases[("FUZZING", operation)] >= 1, operation
        assert run.cases[("COVERAGE", operation)] >= 1, operation
    for resolve in ("resolve_gtin_unit", "resolve_product_code_unit"):
        assert run.statuses[(resolve, 200)] > 0, f"{resolve}: no label was judged\n{summary}"

    wait_for(  # the API sends scans without waiting for Kafka: they arrive shortly after
        "the run's scans in the pipeline's scan topic",
        lambda: (
            sum(_end_offsets(bootstrap, pipeline.topics["scan"]).values())
            > sum(ours_before.values())
        ),
    )
    assert _end_offsets(bootstrap, topics.SCAN_EVENTS) == default_before
