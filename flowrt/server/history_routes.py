"""``/history``: the deployed versions of the flows in project mode (docs/projects.md).

- ``GET /history?limit=50&skip=0`` → ``{"head", "commits": [{"rev", "author", "email",
  "date", "message"}]}``, newest first.
- ``GET /history/{rev}`` → ``{"commit": {...}, "flows": [...]}``: the flows at ``rev``
  (a commit id, a unique prefix, or ``HEAD~1``...).
- ``GET /history/diff?from=A&to=B`` → the semantic diff of two versions
  (:mod:`flowrt.projects.diff`; ``to`` defaults to ``HEAD``).
- ``POST /history/{rev}/deploy`` with ``{"message"?}`` → deploys the flows of ``rev``
  through the normal deploy path (validated, saved, started): a new commit whose tree is
  the old one's. Answers ``{"rev": <flows revision>, "commit": <new commit id>}``.

Reading needs ``flows.read``, deploying ``flows.write`` (adminAuth); every error has the
admin API's one shape. Without project mode every route answers 404 ``not_a_project``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from flowrt.errors import ProjectError
from flowrt.projects import diff
from flowrt.projects.storage import ProjectStorage
from flowrt.server.flows_api import deploy, deploy_note
from flowrt.server.http import ApiError, json_response, read_json
from flowrt.server.state import context

MAX_LIMIT = 1000


def _project(request: web.Request) -> ProjectStorage:
    storage = context(request).storage
    if not isinstance(storage, ProjectStorage):
        raise ApiError(404, "not_a_project", "the flows are a single file, not a project: "
                       "there is no history (see `flowrt project init`)")
    return storage


async def _git(function: Any, *args: Any) -> Any:
    """Run a blocking git operation off the loop; its errors in the API's shape."""
    try:
        return await asyncio.to_thread(function, *args)
    except ProjectError as exc:
        if exc.not_found:
            raise ApiError(404, "not_found", str(exc)) from None
        raise ApiError(500, "git_error", str(exc)) from None


def _int_query(request: web.Request, name: str, default: int, top: int) -> int:
    text = request.query.get(name, str(default))
    if not text.isdigit() or int(text) > top:
        raise ApiError(400, "invalid_request", f"{name} must be a whole number up to {top}")
    return int(text)


async def get_history(request: web.Request) -> web.Response:
    """GET /history: the commits, newest first."""
    project = _project(request)
    limit = _int_query(request, "limit", 100, MAX_LIMIT)
    skip = _int_query(request, "skip", 0, 10**9)
    commits = await _git(project.history, limit, skip)
    return json_response({"head": await _git(project.repo.head),
                          "commits": [c.as_dict() for c in commits]})


async def get_version(request: web.Request) -> web.Response:
    """GET /history/{rev}: a version's commit and flows."""
    project = _project(request)
    rev = request.match_info["rev"]
    commit = await _git(project.commit_of, rev)
    return json_response({"commit": commit.as_dict(),
                          "flows": await _git(project.flows_at, commit.rev)})


async def get_diff(request: web.Request) -> web.Response:
    """GET /history/diff?from=A&to=B: the semantic diff from A to B."""
    project = _project(request)
    start, end = request.query.get("from"), request.query.get("to", "HEAD")
    if not start:
        raise ApiError(400, "invalid_request", "give the versions to compare: ?from=A&to=B")
    before = await _git(project.flows_at, start)
    after = await _git(project.flows_at, end)
    return json_response(diff.diff(before, after))


async def post_deploy_version(request: web.Request) -> web.Response:
    """POST /history/{rev}/deploy: roll back (or forward) to a version."""
    ctx = context(request)
    project = _project(request)
    body = await read_json(request) if (await request.read()).strip() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", 'body must be an object {"message": ...}')
    commit = await _git(project.commit_of, request.match_info["rev"])
    flows = await _git(project.flows_at, commit.rev)
    subject = commit.message.splitlines()[0] if commit.message else ""
    message = body.get("message") or f"Deploy version {commit.rev[:8]} again ({subject})"
    rev = await deploy(ctx, flows, "full", note=deploy_note(request, message))
    return json_response({"rev": rev, "commit": await _git(project.repo.head)})


def setup(app: web.Application) -> None:
    """Add the history routes to ``app``."""
    app.router.add_get("/history", get_history)
    app.router.add_get("/history/diff", get_diff)
    app.router.add_get("/history/{rev}", get_version)
    app.router.add_post("/history/{rev}/deploy", post_deploy_version)
