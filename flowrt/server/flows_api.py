"""``/flows`` and ``/flow/:id``: read and deploy flows (Node-RED's admin API).

``GET /flows`` answers the bare array (API v1) or ``{"rev", "flows"}`` when the
request has ``Node-RED-API-Version: v2``. ``POST /flows`` deploys with
``Node-RED-Deployment-Type`` ``full`` (default), ``nodes``, ``flows`` or
``reload`` (restart from storage; the body is ignored); v1 answers 204, v2
``{"rev"}``, and a v2 body whose ``rev`` is not the current one 409
``version_mismatch``. A rejected deploy answers 400 with every problem in
``details`` and leaves the running flows as they were; so does a deploy that
cannot be saved (507 ``flows_not_saved`` on a full disk, 500 on other write errors).
A v2 body may carry ``"message"`` (flowrt's; Node-RED's clients send none): in project
mode it is the message of the deploy's commit, authored by the logged-in user.

``/flow/:id`` reads, adds, replaces or deletes one tab (``global``: the config
nodes and subflows outside any tab) through a ``flows`` deploy.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from flowrt.credentials import CredentialsError, is_encrypted
from flowrt.deploy_note import DeployNote
from flowrt.errors import DataFileError, DeployError, FlowValidationError
from flowrt.flowdoc import is_config_node
from flowrt.runtime import DEPLOY_TYPES
from flowrt.server.http import ApiError, json_response, read_json
from flowrt.server.state import ServerContext, context

API_VERSION = "Node-RED-API-Version"
DEPLOYMENT_TYPE = "Node-RED-Deployment-Type"
TAB_KEYS = ("label", "disabled", "info", "env")


def api_version(request: web.Request) -> str:
    """``v1`` or ``v2`` from the request header (400 ``invalid_api_version`` otherwise)."""
    version = request.headers.get(API_VERSION, "v1")
    if version not in ("v1", "v2"):
        raise ApiError(400, "invalid_api_version", "Invalid API Version requested")
    return version


def deploy_note(request: web.Request, message: Any = "") -> DeployNote:
    """Who deploys (the logged-in user, if any) and why: a project commit's author and
    message. ``message`` is the v2 deploy body's ``"message"`` (a flowrt key)."""
    if not isinstance(message, str):
        raise ApiError(400, "invalid_request", '"message" must be a string')
    user = request.get("user")
    return DeployNote(user.username if user is not None else None, message)


async def deploy(ctx: ServerContext, flows: list[dict[str, Any]] | None, deploy_type: str,
                 credentials: dict[str, dict[str, Any]] | None = None,
                 note: DeployNote | None = None) -> str:
    """Deploy through the runtime; a rejection becomes a 400 with the problems."""
    try:
        return await ctx.runtime.deploy(flows, deploy_type, credentials, note)
    except FlowValidationError as exc:
        raise ApiError(400, "invalid_flows", exc.headline,
                       [p.as_dict() for p in exc.problems]) from None
    except DeployError as exc:  # strictDeploy: a node failed; the previous flows run
        raise ApiError(400, "deploy_failed", str(exc), [{
            "id": exc.node_id, "type": exc.node_type, "path": _path_of(flows, exc.node_id),
            "message": str(exc)}]) from None
    except DataFileError as exc:
        # 507 Insufficient Storage when the disk is full; the running flows are unchanged.
        raise ApiError(507 if exc.disk_full else 500, "flows_not_saved",
                       f"could not save the flows: {exc}; the running flows are "
                       "unchanged") from None


def _path_of(flows: list[dict[str, Any]] | None, node_id: str | None) -> str:
    """``$[i]`` of the node ``node_id`` in a deployed document (``$`` if not in it)."""
    for index, node in enumerate(flows or ()):
        if isinstance(node, dict) and node.get("id") == node_id:
            return f"$[{index}]"
    return "$"


async def get_flows(request: web.Request) -> web.Response:
    """GET /flows."""
    runtime = context(request).runtime
    if api_version(request) == "v2":
        return json_response({"rev": runtime.rev, "flows": runtime.flows_document})
    return json_response(runtime.flows_document)


async def post_flows(request: web.Request) -> web.Response:
    """POST /flows."""
    ctx = context(request)
    version = api_version(request)
    deploy_type = request.headers.get(DEPLOYMENT_TYPE, "full")
    if deploy_type not in DEPLOY_TYPES:
        raise ApiError(400, "invalid_deployment_type",
                       f"{DEPLOYMENT_TYPE} {deploy_type!r} is not one of {', '.join(DEPLOY_TYPES)}")
    flows: Any = None
    credentials = None
    note = deploy_note(request)
    if deploy_type != "reload":
        body = await read_json(request)
        flows = body
        if version == "v2":
            if not isinstance(body, dict) or "flows" not in body:
                raise ApiError(400, "invalid_request",
                               'a v2 deploy body must be an object {"flows": [...], "rev": ...}')
            rev = body.get("rev")
            if rev is not None and rev != ctx.runtime.rev:
                raise ApiError(409, "version_mismatch",
                               "the flows were changed since you loaded them (stale rev)")
            flows = body["flows"]
            credentials = _credentials(ctx, body.get("credentials"))
            note = deploy_note(request, body.get("message", ""))
        if not isinstance(flows, list):
            raise ApiError(400, "invalid_flows",
                           f"flows must be a JSON array of node objects, not {_kind(flows)}")
    rev = await deploy(ctx, flows, deploy_type, credentials, note)
    if version == "v2":
        return json_response({"rev": rev})
    return web.Response(status=204)


def _credentials(ctx: ServerContext, given: Any) -> dict[str, dict[str, Any]] | None:
    if given is None:
        return None
    if is_encrypted(given):
        try:
            return ctx.storage.decrypt(given)
        except CredentialsError as exc:
            raise ApiError(400, "invalid_credentials", str(exc)) from None
    if isinstance(given, dict) and all(isinstance(v, dict) for v in given.values()):
        return given
    raise ApiError(400, "invalid_credentials",
                   'credentials must be {"<node id>": {...}} or an encrypted {"$": ...}')


# ------------------------------------------------------------------- /flow/:id
async def get_flow(request: web.Request) -> web.Response:
    """GET /flow/:id: one tab with its nodes and config nodes, or ``global``."""
    flows = context(request).runtime.flows_document
    flow_id = request.match_info["id"]
    if flow_id == "global":
        return json_response(_global(flows))
    return json_response(_tab(flows, _find_tab(flows, flow_id)))


async def post_flow(request: web.Request) -> web.Response:
    """POST /flow: add a tab (a new id is generated); answers ``{"id"}``."""
    ctx = context(request)
    body = await _flow_body(request)
    flows = ctx.runtime.flows_document
    existing = {n["id"] for n in flows}
    tab_id = secrets.token_hex(8)
    members = _members(body, tab_id)
    clashes = sorted({n["id"] for n in members} & existing)
    if clashes:
        raise ApiError(400, "duplicate_id", f"duplicate id: {', '.join(clashes)}")
    await deploy(ctx, [*flows, _tab_node(body, tab_id), *members], "flows",
                 note=deploy_note(request))
    return json_response({"id": tab_id})


async def put_flow(request: web.Request) -> web.Response:
    """PUT /flow/:id: replace a tab (or ``global``'s configs and subflows)."""
    ctx = context(request)
    flows = ctx.runtime.flows_document
    flow_id = request.match_info["id"]
    if flow_id == "global":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "body must be an object {configs, subflows}")
        subflow_ids = {n["id"] for n in flows if n.get("type") == "subflow"}
        kept = [n for n in flows if not _is_global(n, subflow_ids)]
        new = [*_list(body, "configs"), *[n for s in _list(body, "subflows")
                                          for n in _subflow_nodes(s)]]
        await deploy(ctx, kept + new, "flows", note=deploy_note(request))
        return json_response({"id": "global"})
    tab = _find_tab(flows, flow_id)
    body = await _flow_body(request)
    kept = [n for n in flows if n is not tab and n.get("z") != flow_id]
    await deploy(ctx, [*kept, {**tab, **_tab_node(body, flow_id)}, *_members(body, flow_id)],
                 "flows", note=deploy_note(request))
    return json_response({"id": flow_id})


async def delete_flow(request: web.Request) -> web.Response:
    """DELETE /flow/:id: remove a tab and everything on it."""
    ctx = context(request)
    flows = ctx.runtime.flows_document
    flow_id = request.match_info["id"]
    if flow_id == "global":
        raise ApiError(400, "invalid_request", "the global flow cannot be deleted")
    tab = _find_tab(flows, flow_id)
    await deploy(ctx, [n for n in flows if n is not tab and n.get("z") != flow_id], "flows",
                 note=deploy_note(request))
    return web.Response(status=204)


def _find_tab(flows: list[dict[str, Any]], flow_id: str) -> dict[str, Any]:
    for node in flows:
        if node.get("id") == flow_id and node.get("type") == "tab":
            return node
    raise ApiError(404, "not_found", f"no flow (tab) with id {flow_id!r}")


def _tab(flows: list[dict[str, Any]], tab: dict[str, Any]) -> dict[str, Any]:
    members = [n for n in flows if n.get("z") == tab["id"]]
    result: dict[str, Any] = {"id": tab["id"], **{k: tab[k] for k in TAB_KEYS if k in tab}}
    result["nodes"] = [n for n in members if not is_config_node(n) or n.get("type") == "group"]
    configs = [n for n in members if n not in result["nodes"]]
    if configs:
        result["configs"] = configs
    return result


def _is_global(node: dict[str, Any], subflow_ids: set[str]) -> bool:
    if node.get("type") == "subflow" or node.get("z") in subflow_ids:
        return True
    return node.get("type") != "tab" and not node.get("z")


def _global(flows: list[dict[str, Any]]) -> dict[str, Any]:
    subflows = [{**s, "nodes": [n for n in flows if n.get("z") == s["id"]]}
                for s in flows if s.get("type") == "subflow"]
    configs = [n for n in flows if n.get("type") not in ("tab", "subflow") and not n.get("z")]
    return {"id": "global", "configs": configs, "subflows": subflows}


def _subflow_nodes(subflow: Any) -> list[dict[str, Any]]:
    if not isinstance(subflow, dict) or "id" not in subflow:
        raise ApiError(400, "invalid_request", "each subflow must be an object with an id")
    definition = {k: v for k, v in subflow.items() if k != "nodes"}
    return [definition, *[{**n, "z": subflow["id"]} for n in _list(subflow, "nodes")]]


async def _flow_body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", f"body must be a JSON object, not {_kind(body)}")
    if "nodes" not in body:
        raise ApiError(400, "invalid_request", "missing nodes property")
    return body


def _tab_node(body: dict[str, Any], tab_id: str) -> dict[str, Any]:
    tab = {k: v for k, v in body.items() if k not in ("nodes", "configs", "subflows", "id")}
    return {"id": tab_id, "type": "tab", "label": tab.pop("label", tab_id), **tab}


def _members(body: dict[str, Any], tab_id: str) -> list[dict[str, Any]]:
    return [{**n, "z": tab_id} for n in [*_list(body, "nodes"), *_list(body, "configs")]]


def _list(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(n, dict) for n in value):
        raise ApiError(400, "invalid_request", f"{key!r} must be a JSON array of node objects")
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             type(None): "null"}
    return names.get(type(value), "a number")


def setup(app: web.Application) -> None:
    """Add the flow routes to ``app``."""
    app.router.add_get("/flows", get_flows)
    app.router.add_post("/flows", post_flows)
    app.router.add_post("/flow", post_flow)
    app.router.add_get("/flow/{id}", get_flow)
    app.router.add_put("/flow/{id}", put_flow)
    app.router.add_delete("/flow/{id}", delete_flow)
