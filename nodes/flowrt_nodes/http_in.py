"""http in and http response: web services made of flows, as Node-RED 4.1's.

``http in`` serves a route on the runtime's own port (under ``httpNodeRoot``) through
``ctx.endpoints`` while it runs; ``http response`` answers the request a message came
from. The request is held by ``flowrt.http_serving``; the message carries only its id
(``msg.res``), so it survives cloning, function nodes and context. The body of an
answer is made as Express's ``res.send``/``res.jsonp`` make it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from flowrt.dispatch import RateLimitedReport
from flowrt.errors import ConfigError
from flowrt.hash_sum import hash_sum
from flowrt.jsvalue import MISSING, js_string, parse_int
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.payloads import serialize_payload
from flowrt.schema import boolean, enum, string

if TYPE_CHECKING:
    from collections.abc import Callable

METHODS = ("get", "post", "put", "delete", "patch")
HEADERS_SENT = "Cannot set headers after they are sent to the client"
NO_RESPONSE = "No response object"
_TOKEN_CHARS = _COOKIE_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_URI_SAFE = "-_.!~*'()"  # what encodeURIComponent leaves as it is


class HttpIn(Node):
    """Creates an HTTP end-point for creating web services.

    The node listens on the runtime's port for requests to its `url` (relative to the
    `httpNodeRoot` setting) with its `method`. The path can be fully specified, such as
    `/user`, or include named parameters that accept any value, such as `/user/:name`
    (`msg.req.params.name`); `*` matches the rest of a path.

    ### Outputs

    * `payload`: for a GET request, an object of the query string parameters; otherwise
      the body of the request, parsed by its content type: `application/json` → object
      (an empty body → `{}`), `application/x-www-form-urlencoded` → object, `text/*` and
      XML → string, other `application/*` → string when it is UTF-8, anything else →
      bytes (a Buffer in JavaScript). *Do not parse request body* (`skipBodyParsing`)
      gives the body as bytes always.
    * `req` (object): the request as data — `method`, `url`, `originalUrl`, `path`,
      `baseUrl`, `params`, `query`, `headers` (names in lower case), `cookies`, `ip`,
      `hostname`, `protocol`, `secure`, `xhr`, `body` (not for GET), and `files` for an
      upload.
    * `res` (object): identifies the response. It must stay on the message that reaches
      the `http response` node.

    ### Uploads

    With *Accept file uploads* (`upload`), a POST `multipart/form-data` body is read as a
    form: `msg.payload` (and `msg.req.body`) holds its text fields, and `msg.req.files`
    a list of `{fieldname, originalname, encoding, mimetype, buffer, size}`, one per
    file, as Node-RED's (multer's) memory storage.

    ### Details

    This node does not answer the request: the flow must include an `http response`
    node to complete it. flowrt holds a request open for at most the
    `httpRequestTimeout` setting (120000 ms by default) and then answers `504` with a
    warning (Node-RED waits for as long as the client does). A body larger than
    `apiMaxLength` (5 MB) is refused with `413`; a body that is not the JSON its
    content type says (or JSON that is not an object or an array) is answered `400`
    with a warning.
    The `httpNodeAuth` (basic authentication) and `httpNodeCors` settings apply to
    every `http in` route. Routes never shadow the editor's and admin API's own paths.
    `swaggerDoc` is kept in the flow but not used.
    """

    type = "http in"
    category = "network"
    inputs = 0
    outputs = 1
    icon = "bridge"
    palette_label = "http in"
    editor: ClassVar = {"label": "url", "order": ["method", "url", "upload",
                                                  "skipBodyParsing"]}
    config_when_absent: ClassVar = {"method": "get", "upload": False,
                                    "skipBodyParsing": False}
    schema: ClassVar = {"type": "object", "required": ["url"], "properties": {
        "name": string("", title="Name"),
        "url": string("", title="URL"),
        "method": enum(list(METHODS), "get", title="Method",
                       labels={method: method.upper() for method in METHODS}),
        "upload": boolean(False, title="Accept file uploads"),
        "skipBodyParsing": boolean(False, title="Do not parse request body"),
        "swaggerDoc": string("", title="Docs", description="ignored by flowrt"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        url = str(config.get("url") or "").strip()
        if not url:
            raise ConfigError("missing path: set the node's URL (for example /hello)")
        self.url = url if url.startswith("/") else "/" + url
        method = str(config.get("method") or "get").lower()
        if method not in METHODS:
            raise ConfigError(f"method {config.get('method')!r} is not one of "
                              f"{', '.join(METHODS)}")
        self.method = method
        self.upload = _flag(config.get("upload"))
        self.skip_body_parsing = _flag(config.get("skipBodyParsing"))
        self._remove: Callable[[], None] | None = None
        self._timeouts = RateLimitedReport(self._report_timeouts, self.clock)
        self._last_timeout = ""

    async def start(self) -> None:
        from flowrt.http_serving import request_handler

        settings = self.ctx.settings
        handler = request_handler(
            endpoints=self.ctx.endpoints, owner=self.id, method=self.method,
            upload=self.upload, skip_body_parsing=self.skip_body_parsing,
            max_body=settings.api_max_length, timeout=settings.http_request_timeout / 1000,
            on_request=self._on_request, on_timeout=self._on_timeout,
            on_bad_request=self.warn)
        self._remove = self.ctx.endpoints.add(self.method, self.url, handler, self.id)

    async def close(self, removed: bool) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
        self._timeouts.cancel()

    def _on_request(self, req: dict[str, Any], res: dict[str, Any], payload: Any) -> None:
        self.send({"req": req, "res": res, "payload": payload})

    def _on_timeout(self, text: str) -> None:
        self._last_timeout = text
        self._timeouts.add()

    def _report_timeouts(self, count: int) -> None:
        more = f" (and {count - 1} more)" if count > 1 else ""
        self.warn(f"{self._last_timeout}{more}")


class HttpResponse(Node):
    """Sends responses back to requests received from an HTTP Input node.

    ### Inputs

    * `payload` (string): the body of the response. An object or array is sent as JSON
      (`application/json`; with a `callback` query parameter, as JSONP, as Express does),
      a string as text (`text/html` unless a content type is set), bytes as they are
      (`application/octet-stream` unless set), a number as its text; no payload sends an
      empty body. A boolean is sent as `true`/`false` (Node-RED fails on one and leaves
      the request unanswered).
    * `statusCode` (number, optional): the response status code. Default: 200.
    * `headers` (object, optional): HTTP headers to include in the response.
    * `cookies` (object, optional): cookies to set or delete.
    * `res`: from the `http in` node; a message without it gets the warning
      *No response object*.

    ### Details

    The `statusCode` and `headers` can also be set within the node itself. If a
    property is set within the node, it cannot be overridden by the corresponding
    message property. Headers of a message from an `http request` node (marked with
    `x-node-red-request-node`) are not sent back.

    #### Cookie handling

    `cookies` is an object of name/value pairs. The value is either a string, set with
    default options, or an object of options: `value`, `domain`, `expires` (a date),
    `maxAge` (milliseconds from now), `path` (default `/`), `httpOnly`, `secure`,
    `sameSite`, `partitioned`, `priority`. An object `value` is sent as `j:` and its
    JSON, as Express does. To delete a cookie, set it (or its `value`) to `null`.

    For example `msg.cookies = {name: "nick", session: {value: "1234", maxAge: 900000}}`
    sets two cookies, the second expiring in 15 minutes.

    A request can be answered once: a second answer (a message cloned to two
    `http response` nodes, or one arriving after the request timed out) is the node's
    error *Cannot set headers after they are sent to the client*.
    """

    type = "http response"
    category = "network"
    inputs = 1
    outputs = 0
    icon = "bridge"
    palette_label = "http response"
    editor: ClassVar = {"label": "name", "labelAlign": "right",
                        "order": ["statusCode", "headers"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "statusCode": {"anyOf": [{"type": "integer"}, {"type": "string",
                                                        "pattern": r"^\s*\d*\s*$"}],
                       "default": "", "title": "Status code", "x-kind": "integer"},
        "headers": {"type": "object", "default": {}, "title": "Headers",
                    "additionalProperties": {"type": "string"}},
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        headers = config.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigError("headers must be an object of header names and values")
        self.headers: dict[str, Any] = headers
        status = parse_int(config.get("statusCode"))
        self.status_code = int(status) if isinstance(status, int) else 0

    def on_input(self, msg: Message) -> None:
        res = msg.get("res")
        if not res:
            self.warn(NO_RESPONSE)
            return
        held = self.ctx.endpoints.held(res.get("_res") if isinstance(res, dict) else None)
        if held is None or held.answered:
            self.error(HEADERS_SENT, msg)
            return
        headers = _Headers()
        merged = dict(self.headers)
        for name, value in _message_headers(msg).items():
            if name not in merged:
                merged[name] = value
        for name, value in merged.items():
            headers.set(str(name), value)
        cookies = msg.get("cookies")
        if isinstance(cookies, dict):
            for name, value in cookies.items():
                headers.add("Set-Cookie", _cookie_header(str(name), value))
        status = self.status_code or _int_or_zero(msg.get("statusCode")) or 200
        payload = msg.get("payload", MISSING)
        body = _body(payload, headers, held.jsonp_callback)
        held.answer(status, headers.items(), body)


class _Headers:
    """Response headers as Express's ``res.set`` keeps them (case-insensitive names,
    a later value replacing an earlier one, ``Set-Cookie`` appended)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, list[str]]] = {}

    def set(self, name: str, value: Any) -> None:
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ValueError(f'Header name must be a valid HTTP token ["{name}"]')
        values = [_header_text(v) for v in value] if isinstance(value, list) \
            else [_header_text(value)]
        for text in values:
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f'Invalid character in header content ["{name}"]')
        if name.lower() == "content-type" and values:
            values = [_with_default_charset(values[0])]
        self._values[name.lower()] = (name, values)

    def add(self, name: str, value: str) -> None:
        current = self._values.get(name.lower())
        self._values[name.lower()] = (name, [*(current[1] if current else []), value])

    def get(self, name: str) -> str | None:
        current = self._values.get(name.lower())
        return current[1][0] if current and current[1] else None

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in self._values.values() for value in values]


def _body(payload: Any, headers: _Headers, callback: str | None) -> bytes | None:
    """The response body as Express's ``res.jsonp``/``res.send`` make it, setting the
    content type they set."""
    if payload is MISSING:
        return None
    if payload is None or isinstance(payload, dict | list | tuple):
        try:
            text = serialize_payload(payload).decode() if payload is not None else "null"
        except ValueError as exc:
            raise ValueError(f"msg.payload cannot be sent as JSON: "
                             f"{str(exc).partition(': ')[2] or exc}") from None
        if not headers.get("Content-Type"):
            headers.set("X-Content-Type-Options", "nosniff")
            headers.set("Content-Type", "application/json")
        if callback:
            headers.set("X-Content-Type-Options", "nosniff")
            headers.set("Content-Type", "text/javascript")
            name = "".join(c for c in callback if c.isalnum() or c in "[]_$.")
            text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            text = f"/**/ typeof {name} === 'function' && {name}({text});"
        return _text_body(text, headers)
    if isinstance(payload, bytes | bytearray | memoryview):
        if not headers.get("Content-Type"):
            headers.set("Content-Type", "application/octet-stream")
        return bytes(payload)
    if isinstance(payload, str):
        if not headers.get("Content-Type"):
            headers.set("Content-Type", "text/html")
        return _text_body(payload, headers)
    # Numbers are sent as their text (Node-RED); so are booleans, where Node-RED fails.
    if isinstance(payload, datetime):
        text = payload.astimezone(UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        return _text_body(f'"{text}"', headers, json=True)
    return _text_body(js_string(payload), headers)


def _text_body(text: str, headers: _Headers, json: bool = False) -> bytes:
    if json and not headers.get("Content-Type"):
        headers.set("Content-Type", "application/json")
    if not headers.get("Content-Type"):
        headers.set("Content-Type", "text/html")
    content_type = headers.get("Content-Type") or ""
    params = [p for p in content_type.split(";")[1:]
              if p.strip().lower().partition("=")[0] != "charset"]
    base = content_type.split(";")[0].strip()
    headers.set("Content-Type", "; ".join([base, *[p.strip() for p in params],
                                           "charset=utf-8"]))
    return text.encode("utf-8", "surrogatepass")


def _with_default_charset(value: str) -> str:
    """Express's ``res.set('Content-Type')``: a charset added for text types."""
    base = value.split(";")[0].strip().lower()
    if "charset" in value.lower() or not (
            base.startswith("text/") or base in ("application/javascript",
                                                 "application/json")):
        return value
    return f"{value}; charset=utf-8"


def _header_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(_header_text(v) for v in value)
    return js_string(value)


def _message_headers(msg: Message) -> dict[str, Any]:
    """``msg.headers``, unless they are an ``http request`` node's response headers
    (marked with ``x-node-red-request-node``, a hash of the others, as Node-RED)."""
    headers = msg.get("headers")
    if not isinstance(headers, dict):
        return {}
    if "x-node-red-request-node" in headers:
        mark = headers.pop("x-node-red-request-node")
        if mark == hash_sum(headers):
            del msg["headers"]
            return {}
    return headers


def _cookie_header(name: str, value: Any) -> str:
    """A ``Set-Cookie`` value as Express's ``res.cookie``/``res.clearCookie`` write it."""
    if value is None or (isinstance(value, dict) and "value" in value
                         and value["value"] is None):
        options = dict(value) if isinstance(value, dict) else {}
        options = {"expires": datetime.fromtimestamp(0.001, UTC), "path": "/", **options}
        return _serialize_cookie(name, "", options)
    if isinstance(value, dict):
        options = dict(value)
        raw = options.get("value", MISSING)
    else:
        options, raw = {}, value
    if isinstance(raw, dict | list):
        text = "j:" + serialize_payload(raw).decode()
    elif raw is MISSING:
        text = "undefined"
    else:
        text = js_string(raw)
    return _serialize_cookie(name, text, options)


def _serialize_cookie(name: str, value: str, options: dict[str, Any]) -> str:
    """The ``cookie`` package's ``serialize`` (the options Express passes it)."""
    if not name or not set(name) <= _COOKIE_NAME_CHARS:
        raise ValueError(f"cookie name {name!r} is invalid")
    parts = [f"{name}={quote(value, safe=_URI_SAFE)}"]
    expires = options.get("expires")
    max_age = options.get("maxAge")
    if max_age is not None:
        try:
            milliseconds = float(max_age)
        except (TypeError, ValueError):
            milliseconds = math.nan
        if math.isfinite(milliseconds):
            expires = datetime.fromtimestamp(
                datetime.now(UTC).timestamp() + milliseconds / 1000, UTC)
            parts.append(f"Max-Age={math.floor(milliseconds / 1000)}")
    if options.get("domain"):
        parts.append(f"Domain={options['domain']}")
    parts.append(f"Path={options.get('path') or '/'}")
    if expires:
        parts.append(f"Expires={_http_date(expires)}")
    for key, text in (("httpOnly", "HttpOnly"), ("secure", "Secure"),
                      ("partitioned", "Partitioned")):
        if options.get(key):
            parts.append(text)
    priority = str(options.get("priority") or "").lower()
    if priority:
        if priority not in ("low", "medium", "high"):
            raise ValueError(f"option priority {options['priority']!r} is invalid")
        parts.append(f"Priority={priority.capitalize()}")
    same_site = options.get("sameSite")
    if same_site:
        text = "strict" if same_site is True else str(same_site).lower()
        if text not in ("strict", "lax", "none"):
            raise ValueError(f"option sameSite {same_site!r} is invalid")
        parts.append(f"SameSite={text.capitalize()}")
    return "; ".join(parts)


def _http_date(value: Any) -> str:
    """``Date.prototype.toUTCString`` of a datetime, or of milliseconds since 1970."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, datetime):
        raise ValueError(f"option expires {value!r} is invalid: use a date")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _int_or_zero(value: Any) -> int:
    number = parse_int(value)
    return int(number) if isinstance(number, int) else 0


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
