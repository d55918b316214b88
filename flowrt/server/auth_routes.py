"""The ``/auth`` routes and the middleware that enforces tokens (:mod:`.auth` has the rules)."""

from __future__ import annotations

from aiohttp import web

from flowrt.server.auth import MAX_LOGIN_BODY, USER, is_public, required_permission
from flowrt.server.http import ApiError, Handler, json_response, read_json
from flowrt.server.state import context


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce tokens and permissions on admin routes (``/comms`` checks in-band)."""
    auth = context(request).auth
    if not auth.enabled or is_public(request.path) or request.path == "/comms" or (
            request.path == "/metrics" and context(request).settings.metrics_public):
        return await handler(request)
    user = auth.user_for_request(request)
    if user is None:
        raise ApiError(401, "unauthorized", "this route needs a token from POST /auth/token, "
                       "sent as 'Authorization: Bearer <token>'")
    needed = required_permission(request)
    if request.path != "/auth/revoke" and not user.allows(needed):
        raise ApiError(403, "forbidden", f"user {user.username!r} lacks permission {needed!r}")
    request[USER] = user
    return await handler(request)


async def get_login(request: web.Request) -> web.Response:
    """GET /auth/login: which login form the editor should show."""
    if not context(request).auth.enabled:
        return json_response({})
    return json_response({"type": "credentials", "prompts": [
        {"id": "username", "type": "text", "label": "user.username"},
        {"id": "password", "type": "password", "label": "user.password"}]})


async def post_token(request: web.Request) -> web.Response:
    """POST /auth/token: the password grant (form or JSON body)."""
    auth = context(request).auth
    if not auth.enabled:
        raise ApiError(404, "not_found", "admin authentication is not configured")
    if (request.content_length or 0) > MAX_LOGIN_BODY:
        raise ApiError(413, "request_too_large",
                       f"a login request has at most {MAX_LOGIN_BODY} bytes")
    if request.content_type == "application/json":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "body must be a JSON object")
    else:
        body = dict(await request.post())
    if body.get("grant_type", "password") != "password":
        raise ApiError(400, "unsupported_grant_type", "only grant_type=password is supported")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "invalid_request", "username and password are required")
    return json_response(await auth.login(username, password, request.remote or ""))


async def post_revoke(request: web.Request) -> web.Response:
    """POST /auth/revoke: forget ``{"token"}`` (default: the caller's own token)."""
    auth = context(request).auth
    if not auth.enabled:
        raise ApiError(404, "not_found", "admin authentication is not configured")
    body = await read_json(request) if request.can_read_body else {}
    token = body.get("token") if isinstance(body, dict) else None
    if token is None:
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not isinstance(token, str) or not token:
        raise ApiError(400, "invalid_request", 'body must be {"token": "<token to revoke>"}')
    await auth.revoke(token)
    return json_response({})


def setup(app: web.Application) -> None:
    """Add the ``/auth`` routes to ``app``."""
    app.router.add_get("/auth/login", get_login)
    app.router.add_post("/auth/token", post_token)
    app.router.add_post("/auth/revoke", post_revoke)
