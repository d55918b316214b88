"""JSON responses, the one error shape, and request-body parsing.

Every error the API answers is JSON of one shape::

    {"error": "<code>", "code": "<code>", "message": "<what is wrong>", "details": [...]}

``code`` repeats ``error`` because Node-RED's clients read ``code``
(``version_mismatch``); ``details`` lists flow problems as
``{"id", "type", "path", "message"}``. Unexpected exceptions are logged with
their traceback and answered as a 500 without one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

log = logging.getLogger("flowrt.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answered to the client as JSON (see the module docstring)."""

    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers

    def response(self) -> web.Response:
        """The JSON response for this error."""
        return json_response({"error": self.code, "code": self.code, "message": self.message,
                              "details": self.details}, status=self.status, headers=self.headers)


def json_response(data: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response serialised with orjson (non-JSON values become strings)."""
    return web.Response(body=orjson.dumps(data, default=str), status=status,
                        content_type="application/json", headers=headers)


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON, or an ApiError saying why it is not JSON."""
    body = await request.read()
    if not body.strip():
        raise ApiError(400, "invalid_json", "request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "request_too_large"}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error shape; never leak a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, "http_error")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        error = ApiError(exc.status, code, message or exc.reason)
        response = error.response()
        for name in ("Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return ApiError(500, "unexpected_error", "internal server error (see the server log)"
                        ).response()


def cors_middleware(origin: str) -> Any:
    """Allow cross-origin requests from ``origin`` (``httpAdminCors``; off by default)."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, Node-RED-API-Version, Node-RED-Deployment-Type")
        else:
            response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        return response

    return cors
