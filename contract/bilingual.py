"""What a command-line tool says when it cannot go on: Vietnamese, then English, on one line.

The tools are used by an OCOP office's staff and a producer's packing station, who read
Vietnamese, and run or audited by operators and partners who may read only English; one line
with both serves each of them and stays searchable in a log in either language. So every
tool's refusal (a setting missing or invalid, a server that does not answer, a bad argument)
is `<Vietnamese> / <English>`, printed after `error:` and never as a traceback. Technical
names (OCOP_* variables, commands, topic names) stay verbatim in both halves, for copying.

A verdict keeps its two sentences apart instead (contract.verdict): a page shows its reader's
language, a terminal shows both.
"""

from __future__ import annotations

from pydantic import ValidationError


def bilingual(vietnamese: str, english: str) -> str:
    """One message in both languages, Vietnamese first."""
    return f"{vietnamese} / {english}"


def unreachable(server: str, address: str, cause: object) -> str:
    """A server that does not answer: which and where in both languages, then its client
    library's own words (English) once, in the English half."""
    return bilingual(
        f"không kết nối được {server} tại {address}",
        f"{server} at {address} does not answer: {cause}",
    )


def settings_problem(error: ValidationError) -> str:
    """The OCOP_* variables that are missing or invalid, named in both languages, with why
    a value is invalid in pydantic's words (English). A check across several settings has
    no one field to name: its own message says it, in both languages (as verify_api.settings'
    checks write theirs)."""
    named: list[str] = []
    why: list[str] = []
    across: list[str] = []
    for problem in error.errors(include_url=False):
        reason = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:
            across.append(reason)
            continue
        name = f"OCOP_{str(problem['loc'][0]).upper()}"
        if name not in named:
            named.append(name)
        if problem["type"] != "missing":
            why.append(f"{name}: {reason}")
    if not named:
        return "; ".join(across)
    names = ", ".join(named)
    detail = f" ({'; '.join(why)})" if why else ""
    fields = bilingual(
        f"thiếu hoặc sai thiết lập: {names}", f"settings missing or invalid: {names}{detail}"
    )
    return "; ".join([fields, *across])


def error_message(error: Exception) -> str:
    """The line a tool prints for an error it expects: a settings error names the variables
    at fault (settings_problem); any other error's message is the tool's own sentence."""
    return settings_problem(error) if isinstance(error, ValidationError) else str(error)
