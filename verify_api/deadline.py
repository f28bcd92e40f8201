"""Every request is answered within its deadline, or refused in time: never left hanging.

When Cassandra stalls (a long garbage collection, a node lost), a request that waits for it
would hold its client for the driver's timeout, and new requests would pile up behind it.
Instead each request has `seconds` from its arrival to its response's start: what the API
can answer from facts it holds, it answers (verify_api.resolution gives the unit's own read
only part of the deadline), and a request still waiting at the deadline is cancelled and
answered 503 with Retry-After and a sentence in both languages. At most `in_flight` requests
are handled at once; one more waits for a slot within its own deadline, so no queue grows
without bound. Once a response has started it is let finish: its status is already sent.

A pure ASGI middleware, outermost but for the guards: a refusal by size or rate is
immediate, and a slot is never spent on it. The liveness probe and the metrics are exempt,
so a stalled store never makes the process look dead, nor hides why it is slow.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify_api.errors import ErrorCode
from verify_api.rendering import error_response

EXEMPT = frozenset({"/health/live", "/metrics"})


class Deadline:
    def __init__(
        self, app: ASGIApp, *, seconds: float, in_flight: int, missed: Callable[[], None]
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.slots = asyncio.Semaphore(in_flight)
        self.missed = missed
        """Called for each request answered 503 at its deadline (a metric counts them)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.seconds)

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)  # the answer is under way: let it finish
            await send(message)

        try:
            async with deadline, self.slots:
                await self.app(scope, receive, sending)
        except TimeoutError:
            if started or not deadline.expired():
                raise  # not the deadline's: some other timeout inside the app
            self.missed()
            retry = {"Retry-After": str(max(1, math.ceil(self.seconds)))}
            detail = f"no answer within {self.seconds:g} s"
            refusal = error_response(HTTPConnection(scope), ErrorCode.TOO_SLOW, detail, retry)
            await refusal(scope, receive, send)
