"""``POST /jsonata/evaluate``: the editor's JSONata tester.

The body is ``{"expression": "<JSONata>", "message": <any JSON, the sample msg>}``;
the answer ``{"result": <value>}``, or ``{}`` when the expression is undefined for
the message (Node-RED's "No match"). An expression that does not compile or fails
answers 400 in the one error shape with ``code`` ``invalid_expression`` or
``evaluation_failed`` and one detail ``{"path": "/expression", "message", "position",
"code"}``: the library's words, the 0-based character it points at (or null) and
JSONata's error code (``"S0203"``). It is an admin route like the others: a token
with the ``jsonata.write`` permission when ``adminAuth`` is on, same-origin and JSON
bodies only.

Each test runs in a child process (:mod:`flowrt.jsonata_tester`, the runtime's own
engine) so that no expression can hold the event loop: one running longer than
:data:`TIME_LIMIT` seconds is killed and answered 400 ``evaluation_timeout``, one whose
result is longer than :data:`MAX_RESULT` bytes is killed and answered 400
``result_too_large``. At most :data:`MAX_RUNNING` run at once; past that the answer is
429 ``busy``. The expression may have at most :data:`MAX_EXPRESSION` characters and
the request at most :data:`MAX_REQUEST` bytes (413).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import orjson
from aiohttp import web

from flowrt.server.http import ApiError, json_response, read_json

TIME_LIMIT = 3.0
"""Seconds a test may take, starting the child included (about 0.15 s of it on an idle
machine)."""
MAX_RESULT = 1024 * 1024
"""Bytes of a result, as JSON."""
MAX_EXPRESSION = 64 * 1024
"""Characters of an expression."""
MAX_REQUEST = 2 * 1024 * 1024
"""Bytes of a request body (expression and sample message)."""
MAX_RUNNING = 2
"""Tests running at once (each a child process)."""


class JSONataTester:
    """Runs tests in child processes, at most :data:`MAX_RUNNING` at a time."""

    def __init__(self, time_limit: float = TIME_LIMIT) -> None:
        self.time_limit = time_limit
        self.running = 0

    async def evaluate(self, expression: str, message: Any) -> dict[str, Any]:
        """The child's answer for ``expression`` against ``message``, or an ApiError."""
        if self.running >= MAX_RUNNING:
            raise ApiError(429, "busy", f"{MAX_RUNNING} expression tests are already "
                           "running; try again when one has finished")
        self.running += 1
        try:
            return await self._run(orjson.dumps({"expression": expression, "message": message}))
        finally:
            self.running -= 1

    async def _run(self, request: bytes) -> dict[str, Any]:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "flowrt.jsonata_tester", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(self.time_limit):
                output = await _read_answer(child, request)
                await child.wait()
        except TimeoutError:
            raise ApiError(400, "evaluation_timeout", "the expression ran for more than "
                           f"{self.time_limit:g} s and was stopped") from None
        finally:
            # Stopped early (the limits, or the client went away): nothing is left running.
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.communicate()  # its output up to the end, which closes the pipe
        if output is None:
            raise ApiError(400, "result_too_large", f"the result is longer than "
                           f"{MAX_RESULT // 1024} KiB as JSON")
        if not output:
            raise ApiError(400, "evaluation_failed", "the expression stopped the tester "
                           f"(exit code {child.returncode}); it may need too much memory")
        answer: dict[str, Any] = orjson.loads(output)
        return answer


async def _read_answer(child: asyncio.subprocess.Process, request: bytes) -> bytes | None:
    """Send the request and read the answer; None once it is longer than MAX_RESULT."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(request)
    with contextlib.suppress(ConnectionError):  # the child may already have failed
        await child.stdin.drain()
    child.stdin.close()
    output = bytearray()
    while chunk := await child.stdout.read(65536):
        output += chunk
        if len(output) > MAX_RESULT:
            return None
    return bytes(output)


TESTER = web.AppKey("jsonata_tester", JSONataTester)


async def post_evaluate(request: web.Request) -> web.Response:
    """POST /jsonata/evaluate (see the module docstring)."""
    if (request.content_length or 0) > MAX_REQUEST:
        raise ApiError(413, "request_too_large",
                       f"an expression test has at most {MAX_REQUEST // 1024} KiB")
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("expression"), str) \
            or "message" not in body:
        raise ApiError(400, "bad_request", 'body must be {"expression": "<JSONata>", '
                       '"message": <the sample message>}')
    expression = body["expression"]
    if len(expression) > MAX_EXPRESSION:
        raise ApiError(413, "request_too_large",
                       f"an expression has at most {MAX_EXPRESSION} characters")
    answer = await request.app[TESTER].evaluate(expression, body["message"])
    error = answer.get("error")
    if error is not None:
        code = "invalid_expression" if error["phase"] == "compile" else "evaluation_failed"
        raise ApiError(400, code, error["message"], details=[{
            "path": "/expression", "message": error["message"],
            "position": error["position"], "code": error["code"]}])
    return json_response(answer)


def setup(app: web.Application) -> None:
    """Add the tester's route to ``app``."""
    app[TESTER] = JSONataTester()
    app.router.add_post("/jsonata/evaluate", post_evaluate)
