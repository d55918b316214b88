"""The editor's JSONata tester, run as a child process: one expression, one sample message.

``python -m flowrt.jsonata_tester`` reads ``{"expression", "message"}`` (JSON) on
standard input and writes one JSON object on standard output: ``{"result": value}``,
``{}`` when the expression is undefined for the message (Node-RED's "No match"), or
``{"error": {"message", "code", "position", "phase"}}`` where ``phase`` is
``"compile"`` or ``"evaluate"`` and ``position`` the 0-based character of the
expression the error points at (or null).

It evaluates with the runtime's own engine (:class:`flowrt.jsonata.JSONataExpression`:
the same bindings, legacy ``msg.`` mode and result handling as a change or switch
node), owned by a stand-in node: ``$flowContext``, ``$globalContext`` and ``$env``
read the running flows, which a sample message does not have, so they fail with a
message saying so (Node-RED's tester refuses them too).

It is a separate process so that no expression can hold the runtime: the server
(:mod:`flowrt.server.jsonata_routes`) kills it after its time limit, and it limits
its own memory (:data:`MEMORY_LIMIT`) and CPU time before evaluating, in case the
server is gone.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any, ClassVar, NoReturn

from flowrt.clock import Clock
from flowrt.jsonata import JSONataError, JSONataExpression
from flowrt.jsvalue import MISSING

MEMORY_LIMIT = 512 * 1024 * 1024
"""Bytes of address space the child may map (the interpreter itself takes about 40 MiB)."""
CPU_LIMIT = 10
"""Seconds of CPU time, a backstop for a child whose server stopped watching it."""


class _Unavailable:
    """A context scope a sample message has none of."""

    def __init__(self, function: str) -> None:
        self.function = function

    def get(self, key: str, store: str | None = None) -> NoReturn:
        raise LookupError(_unavailable(self.function))


class _Scopes:
    flow_context = _Unavailable("$flowContext")
    global_context = _Unavailable("$globalContext")


class TesterNode:
    """The stand-in owner of a tested expression (see the module docstring)."""

    type: ClassVar[str] = "expression tester"
    id = "tester"
    clock = Clock()
    ctx = _Scopes()

    def env(self, name: str) -> NoReturn:
        """``$env`` reads the flow's environment, which the tester has not."""
        raise LookupError(_unavailable("$env"))


def _unavailable(function: str) -> str:
    return (f"{function} reads the running flows: the tester cannot evaluate it "
            "against a sample message")


def evaluate(expression: str, message: Any) -> dict[str, Any]:
    """The answer for ``expression`` against ``message`` (see the module docstring)."""
    try:
        compiled = JSONataExpression(expression, TesterNode(), "expression")
    except JSONataError as exc:
        return _failure(exc, "compile")
    try:
        result = compiled.evaluate(message)
    except JSONataError as exc:
        return _failure(exc, "evaluate")
    return {} if result is MISSING else {"result": result}


def _failure(exc: JSONataError, phase: str) -> dict[str, Any]:
    return {"error": {"message": exc.reason, "code": exc.code, "position": exc.position,
                      "phase": phase}}


def _limit_resources() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT))


def main() -> int:
    """Read the request on stdin, write the answer on stdout."""
    request = json.load(sys.stdin)
    _limit_resources()
    try:
        answer = evaluate(request["expression"], request["message"])
        text = json.dumps(answer, default=str, allow_nan=False)
    except MemoryError:
        text = _plain_failure(f"the expression needs more than {MEMORY_LIMIT >> 20} MiB "
                              "of memory")
    except ValueError:  # NaN, Infinity or a cycle: JSON has none of them
        text = _plain_failure("the result cannot be written as JSON")
    sys.stdout.write(text)
    return 0


def _plain_failure(message: str) -> str:
    return json.dumps({"error": {"message": message, "code": None, "position": None,
                                 "phase": "evaluate"}})


if __name__ == "__main__":
    sys.exit(main())
