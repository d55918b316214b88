"""``/flow-tests``: the editor's tests sidebar (docs/flow-tests.md).

* ``GET /flow-tests`` — the test-case files beside the flow file and their cases:
  ``{"files": [{"file", "cases": [{"name", "line"}], "problems": [...]}]}``.
* ``POST /flow-tests/run`` ``{"file"?, "case"?}`` — runs every case (or one file's, or
  one case) as ``flowrt test`` does, MQTT and HTTP faked:
  ``{"results": [{"file", "case", "passed", "failure": [lines] | null}]}``. The cases
  run one run at a time in a thread with an event loop of its own, on fresh runtimes,
  so the running flows are not touched.
* ``POST /flow-tests/cases`` ``{"name", "steps": [...]}`` — appends a case (the editor
  records one from the debug output) to ``NAME.tests.yaml`` beside the flow file,
  creating it; a case that does not read back (a duplicate name, an unknown node) is
  refused with 400 and every problem, and the file is left as it was.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from flowrt.files import atomic_write
from flowrt.server.http import ApiError, json_response, read_json
from flowrt.server.state import context

if TYPE_CHECKING:
    from flowrt.flowtests import TestFile

# flowrt.flowtests (and YAML with it) is imported by the handlers: an idle runtime whose
# editor never opens the tests tab does not pay for it.

_RUNNING = web.AppKey("flow-tests-running", asyncio.Lock)


def _flow_file(request: web.Request) -> Path:
    return context(request).storage.flows_name


def _files(request: web.Request) -> list[Path]:
    from flowrt.flowtests import tests_beside

    return tests_beside(_flow_file(request))


def _flows(request: web.Request) -> list[dict[str, Any]]:
    """The saved flows, which the cases run on (read in a worker thread)."""
    return context(request).storage.load_flows()


def _listing(path: Path, flows: list[dict[str, Any]]) -> dict[str, Any]:
    from flowrt.flowtests import FlowTestFormatError, load_test_file

    try:
        test_file = load_test_file(path, flows)
    except FlowTestFormatError as exc:
        return {"file": path.name, "cases": [], "problems": exc.problems}
    return {"file": path.name, "problems": [],
            "cases": [{"name": c.name, "line": c.line} for c in test_file.cases]}


async def list_tests(request: web.Request) -> web.Response:
    """GET /flow-tests."""
    def listings() -> list[dict[str, Any]]:
        flows = _flows(request)
        return [_listing(p, flows) for p in _files(request)]

    files = await asyncio.to_thread(listings)
    return json_response({"flows": _flow_file(request).name, "files": files})


def _run(files: list[TestFile], case_name: str | None) -> list[dict[str, Any]]:
    from flowrt.flowtests import run_case_sync

    results = []
    for test_file in files:
        for case in test_file.cases:
            if case_name is not None and case.name != case_name:
                continue
            result = run_case_sync(test_file, case)
            results.append({"file": test_file.path.name, "case": case.name,
                            "passed": result.passed, "failure": result.failure})
    return results


async def run_tests(request: web.Request) -> web.Response:
    """POST /flow-tests/run."""
    from flowrt.flowtests import FlowTestFormatError, load_test_file

    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "expected {\"file\"?, \"case\"?}")
    wanted, case_name = body.get("file"), body.get("case")
    paths = [p for p in _files(request) if wanted in (None, p.name)]
    if wanted is not None and not paths:
        raise ApiError(404, "not_found", f"no test-case file {wanted!r} beside the flows")
    lock = request.app[_RUNNING]
    if lock.locked():
        raise ApiError(409, "busy", "flow tests are already running")
    async with lock:
        try:
            files = await asyncio.to_thread(
                lambda: [load_test_file(p, flows) for flows in [_flows(request)] for p in paths])
        except FlowTestFormatError as exc:
            raise ApiError(400, "invalid_tests", "a test-case file has mistakes",
                           [{"message": m} for m in exc.problems]) from None
        results = await asyncio.to_thread(_run, files, case_name)
    if case_name is not None and not results:
        raise ApiError(404, "not_found", f"no case named {case_name!r}")
    return json_response({"results": results})


async def add_case(request: web.Request) -> web.Response:
    """POST /flow-tests/cases."""
    import yaml

    from flowrt.flowtests import FlowTestFormatError
    from flowrt.flowtests.spec import TEST_FILE_SUFFIXES, parse_test_file

    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or \
            not isinstance(body.get("steps"), list):
        raise ApiError(400, "invalid_request", "expected {\"name\": text, \"steps\": [...]}")
    flow_file = _flow_file(request)
    existing = _files(request)
    path = existing[0] if existing else flow_file.with_name(
        flow_file.name.removesuffix(".json") + TEST_FILE_SUFFIXES[0])
    case = {"name": body["name"], "steps": body["steps"]}
    block = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=100)
    indented = "".join(f"  {line}" if line.strip() else line
                       for line in block.splitlines(keepends=True))

    def append() -> None:
        old = path.read_text(encoding="utf-8") if path.exists() else "cases:\n"
        new = old + ("" if old.endswith("\n") else "\n") + indented
        parse_test_file(path, new, _flows(request))  # refuses what would not read back
        atomic_write(path, new.encode("utf-8"))

    try:
        await asyncio.to_thread(append)
    except FlowTestFormatError as exc:
        raise ApiError(400, "invalid_case", "the case cannot be saved",
                       [{"message": m} for m in exc.problems]) from None
    return json_response({"file": path.name, "case": body["name"]})


def setup(app: web.Application) -> None:
    """Add the ``/flow-tests`` routes to ``app``."""
    app[_RUNNING] = asyncio.Lock()
    app.router.add_get("/flow-tests", list_tests)
    app.router.add_post("/flow-tests/run", run_tests)
    app.router.add_post("/flow-tests/cases", add_case)
