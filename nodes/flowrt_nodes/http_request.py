"""http request and http proxy: Node-RED's HTTP client node and its proxy config node.

The requests go through :mod:`flowrt.http_client` (one pooled aiohttp session for
the runtime, opened with the first request and closed when the last ``http
request`` node closes); this module turns a message into a request and the
response back into a message, as Node-RED 4.1's ``21-httprequest.js`` does.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import ssl
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

import orjson

from flowrt.errors import ConfigError
from flowrt.hash_sum import hash_sum
from flowrt.http_client import (
    ClientPool,
    FormField,
    RequestError,
    client_pool,
    proxy_for_url,
)
from flowrt.http_client import HttpRequest as Request
from flowrt.jsvalue import MISSING, is_nan, js_string, truthy
from flowrt.messages import Message, get_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, enum, node_ref, show_if, string

if TYPE_CHECKING:
    from flowrt.mustache import MustacheTemplate

NO_OVERRIDE = ("Warning: msg properties can no longer override set node properties. "
               "See bit.ly/nr-override-msg-props")
REQUESTING = {"fill": "blue", "shape": "dot", "text": "node-red:httpin.status.requesting"}
NO_RESPONSE = "no response from server"
MARKER = "x-node-red-request-node"
_STRAY_PERCENT = re.compile(r"%(?![0-9a-fA-F]{2})")
_PROXY_SHAPE = re.compile(r"^(https?://)?(.+)?:([0-9]+)?", re.IGNORECASE)
# WHATWG URL percent-encode sets (what Node's URL does to a path and a query).
_PATH_SAFE = "!$%&'()*+,-./:;=@[\\]^_|~"
_QUERY_SAFE = "!$%&()*+,-./:;=?@[\\]^_`{|}~"


class HttpProxy(Node):
    """A proxy server for `http request` nodes.

    * `url`: the proxy, `http://host:port`.
    * `noproxy`: hosts reached without the proxy (a list; each entry may itself be a
      comma-separated list; `.example.com` or `*.example.com` matches sub-domains,
      `host:port` only that port, `*` every host).
    * Credentials `username` and `password`: the proxy's basic authentication.
    """

    type = "http proxy"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "cloud"
    credentials: ClassVar = {"username": "text", "password": "password"}
    editor: ClassVar = {"label": "url"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "url": string("", title="URL"),
        "noproxy": {"type": "array", "items": {"type": "string"}, "default": [],
                    "title": "Ignore hosts"},
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        url = config.get("url") or ""
        if not isinstance(url, str) or (url and not url.strip().startswith("http")):
            raise ConfigError(f"url {url!r} is not an http:// or https:// URL")
        noproxy = config.get("noproxy") or []
        if isinstance(noproxy, str):
            noproxy = [noproxy]
        self.url: str = url.strip()
        self.noproxy: list[str] = [str(n) for n in noproxy]

    def environment(self) -> dict[str, str]:
        """The proxy settings as the environment variables Node-RED reads."""
        return {"no_proxy": ",".join(self.noproxy), "http_proxy": self.url,
                "https_proxy": self.url}


class HttpRequest(Node):
    """Sends an HTTP request and sends on the response.

    **Inputs**
    * `url` (string): the URL, when the node has none. A URL in the node may hold
      mustache tags filled from the message (`https://example.com/{{{topic}}}`;
      `{{...}}` HTML-escapes the value, `{{{...}}}` inserts it as is). Without
      `http://` or `https://`, `http://` is assumed (`https://` with a TLS
      configuration); any other scheme is refused with a warning.
    * `method` (string): the method when the node's is `use` ("set by msg.method").
    * `headers` (object): request headers. Headers set in the node win. A
      `msg.headers` still holding the response headers of a previous `http request`
      (unchanged) is ignored.
    * `cookies` (object): cookies to send, `name: value` or `name: {value, encode}`
      (values are URL-encoded unless `encode` is false).
    * `payload`: the body (not for GET and HEAD). A string or buffer is sent as is,
      a number as text, anything else as JSON (content type `application/json`
      unless set); as a form with content type `application/x-www-form-urlencoded`,
      or `multipart/form-data` with `{field: value}` or
      `{field: {value, options: {filename}}}` for file uploads. For GET, `paytoqs`
      sends it as query parameters (`query`, an object) or as the body (`body`).
    * `rejectUnauthorized` (boolean): false accepts any server certificate (without a
      TLS configuration).
    * `followRedirects` (boolean): false returns a redirect response as it is.
    * `requestTimeout` (number, ms): overrides the `httpRequestTimeout` setting
      (default 120000 ms) for this request.

    **Outputs**
    * `payload`: the body as a UTF-8 string (`ret: txt`), a buffer (`bin`) or parsed
      JSON (`obj`; a body that does not parse stays a string, with the warning "JSON
      parse error").
    * `statusCode`: the status (4xx and 5xx are ordinary results), or the error code
      (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`...) when there is no response.
    * `headers`: the response headers (lower-case names; `set-cookie` a list).
    * `responseUrl`: the final URL, after redirects. `redirectList`: each redirect
      followed, `{location, cookies}`. `responseCookies`: the cookies the response
      set, `{name: {value, Path, Max-Age...}}`. `retry`: 0.

    **Details**
    Authentication (`authType` with the credentials `user` and `password`): `basic`,
    `digest` (MD5, SHA-256, SHA-512-256, `-sess`, `qop=auth`) or `bearer` (the token
    is the password); credentials in the URL (`http://user:pass@host`) are used for
    basic authentication. `tls` names a `tls-config` node (CA, client certificate).
    `proxy` names an `http proxy` node; without one the `http_proxy`, `https_proxy`
    and `no_proxy` environment variables (or upper-case) apply. A failed request
    (refused, unknown host, TLS, timeout) is an error for `catch` nodes, and the
    message is also sent on with `payload` saying what failed, unless `senderr`
    ("only send non-2xx responses to Catch node") is set.

    Differences from Node-RED: connections are always kept alive in one pool shared
    by every `http request` node (Node-RED on Node.js 20 keeps them alive too;
    `persist` changes nothing); the HTTP parser always accepts sloppy responses
    (bare line feeds), so `insecureHTTPParser` changes nothing; a `tls-config`
    server name is sent as SNI (Node-RED ignores it); `Authorization` is not sent
    on to a redirect to another server; `NR_PROXY_MODE=legacy` is not supported; a
    `tls` or `proxy` naming a config node that is not running is an error for each
    message (Node-RED would go without it); the `User-Agent` is aiohttp's unless set.
    The error reaching a `catch` node has no `code`: the code is in `msg.statusCode`.
    """

    type = "http request"
    category = "network"
    color = "rgb(231, 231, 174)"
    icon = "white-globe"  # Node-RED's (web/static/icons/white-globe.svg, on main)
    palette_label = "http request"
    credentials: ClassVar = {"user": "text", "password": "password"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "method": string("GET", title="Method",
                         examples=["GET", "POST", "PUT", "DELETE", "HEAD", "use"]),
        "url": string("", title="URL"),
        "paytoqs": show_if(enum([False, True, "ignore", "query", "body"], "ignore",
                                title="Payload", labels={
                                    False: "Ignore (false)", "ignore": "Ignore",
                                    True: "Append to query-string parameters (true)",
                                    "query": "Append to query-string parameters",
                                    "body": "Send as request body"}), method="GET"),
        "tls": node_ref("tls-config", title="TLS Configuration"),
        "proxy": node_ref("http proxy", title="Proxy Configuration"),
        "authType": enum(["", "basic", "digest", "bearer"], "", title="Use authentication",
                         labels={"": "none", "basic": "basic authentication",
                                 "digest": "digest authentication",
                                 "bearer": "bearer authentication"}),
        "persist": boolean(False, title="Enable connection keep-alive"),
        "insecureHTTPParser": boolean(False, title="Disable strict HTTP parsing"),
        "ret": enum(["txt", "bin", "obj"], "txt", title="Return", labels={
            "txt": "a UTF-8 string", "bin": "a binary buffer", "obj": "a parsed JSON object"}),
        "senderr": boolean(False, title="Only send non-2xx responses to Catch node"),
        "headers": {"type": "array", "default": [], "title": "Headers",
                    "items": {"type": "object"}},
    }}
    # The user and password only for basic and digest authentication; for bearer the
    # password is the token, as Node-RED's form shows it.
    editor: ClassVar = {"label": "name", "credentials": {
        "user": show_if({"title": "Username"}, authType=["basic", "digest"]),
        "password": show_if({"title": "Password", "x-title-by": {
            "key": "authType", "titles": {
                "basic": "Password", "digest": "Password", "bearer": "Token"}}},
            authType=["basic", "digest", "bearer"])}}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        url = config.get("url") or ""
        if not isinstance(url, str):
            raise ConfigError(f"url must be a string, not {type(url).__name__}")
        self.url = url
        self.template: MustacheTemplate | None = None
        if "{{" in url:
            # Imported here: the Mustache library is loaded only by flows that use it.
            from flowrt.mustache import MustacheError, MustacheTemplate

            try:
                self.template = MustacheTemplate(url)
            except MustacheError as exc:
                raise ConfigError(f"url: mustache template: {exc}") from None
        self.method = str(config.get("method") or "GET")
        self.ret = config.get("ret") or "txt"
        self.auth_type = config.get("authType") or "basic"
        paytoqs = config.get("paytoqs")
        self.paytoqs = paytoqs is True or paytoqs == "query"
        self.paytobody = paytoqs == "body"
        self.send_errors_only_to_catch = as_bool(config.get("senderr"))
        headers = config.get("headers") or []
        if not isinstance(headers, list) or not all(isinstance(h, dict) for h in headers):
            raise ConfigError("headers must be a list of {keyType, keyValue, valueType, "
                              "valueValue} objects")
        self.ui_headers: list[dict[str, Any]] = headers
        self.timeout_ms = float(ctx.settings.http_request_timeout or 120_000)
        self._pool: ClientPool | None = None
        self._active = 0

    async def start(self) -> None:
        self._pool = client_pool()
        self._pool.acquire(self)

    async def close(self, removed: bool) -> None:
        self.status({})
        if self._pool is not None:
            await self._pool.release(self)
            self._pool = None

    # ------------------------------------------------------------------ input
    async def on_input(self, msg: Message) -> None:
        self._active += 1
        self.status(REQUESTING)
        try:
            prepared = self._request_for(msg)
            if prepared is None:
                return
            await self._send_request(*prepared, msg)
        finally:
            self._active -= 1

    def _request_for(self, msg: Message) -> tuple[Request, str] | None:
        """The request ``msg`` asks for and its URL's fragment (``#...``, not sent);
        None (with an error or warning) when it is bad. Step for step Node-RED's."""
        url = self._url_for(msg)
        if url is None:
            return None
        tls_node = self.config_node("tls")
        if not url.startswith(("http://", "https://")):
            url = ("https://" if tls_node is not None else "http://") + url
        proxy = self._proxy_for(url)
        if "?" in url:
            base, _, query = url.partition("?")
            url = f"{base}?{_STRAY_PERCENT.sub('%25', query)}" if query else url
        method = self._method_for(msg)
        timeout = self._timeout_for(msg)

        headers = _Headers()
        self._message_headers(msg, headers)
        self._node_headers(msg, headers)
        cookies = _cookies_for(msg, headers)
        try:
            parts = urlsplit(url)
            valid = bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            self.error("TypeError: Invalid URL", msg)
            return None
        digest = self._authenticate(parts.username, parts.password, headers)

        body: bytes | list[FormField] | None = None
        payload = msg.get("payload", MISSING)
        if method not in ("GET", "HEAD") and payload is not MISSING:
            body = _request_body(payload, headers)
        elif method == "GET" and payload is not MISSING and self.paytoqs:
            if not isinstance(payload, dict | list) and payload is not None:
                self.error("Invalid payload", msg)
                return None
            url += ("" if url.endswith("?") else "&") if "?" in url else "?"
            url += _querystring(payload)
        elif method == "GET" and payload is not MISSING and self.paytobody:
            body = _get_body(payload)

        ssl_option: ssl.SSLContext | bool = True
        server_hostname = None
        if tls_node is not None:
            try:
                ssl_option = tls_node.ssl_context()  # type: ignore[attr-defined]
            except ValueError as exc:
                self.error(str(exc), msg)
                return None
            server_hostname = tls_node.server_name  # type: ignore[attr-defined]
        elif "rejectUnauthorized" in msg:
            ssl_option = self._reject_unauthorized(msg["rejectUnauthorized"])

        address, _, fragment = url.partition("#")
        request = Request(
            method=method, url=_encoded_url(address), headers=headers.items(), body=body,
            cookies=cookies, ssl=ssl_option, server_hostname=server_hostname,
            proxy=proxy, proxy_auth=self._proxy_auth(), timeout=timeout / 1000,
            follow_redirects=truthy(msg.get("followRedirects", True)), digest=digest)
        return request, ("#" + quote(fragment, safe=_QUERY_SAFE + "'#") if "#" in url else "")

    def _url_for(self, msg: Message) -> str | None:
        """The URL from the node (a template filled from ``msg``) or ``msg.url``; None
        when there is none or its scheme is not http."""
        msg_url = msg.get("url")
        url = self.url or (js_string(msg_url) if msg_url not in (None, "") else "")
        if msg_url and self.url and self.url != msg_url:
            self.warn(NO_OVERRIDE)
        if self.template is not None:
            url = self.template.render(msg)
        if not url:
            self.error("No url specified", msg)
            return None
        if "://" in url and not url.startswith("http"):
            self.warn("non-http transport requested")
            self.status(fill="red", shape="ring", text="node-red:httpin.errors.invalid-transport")
            return None
        missing = self._missing_config_node()
        if missing:
            self.error(missing, msg)
            return None
        return url

    def _method_for(self, msg: Message) -> str:
        method = self.method.upper() or "GET"
        msg_method = msg.get("method")
        if msg_method and self.config.get("method"):
            if self.method != "use":
                self.warn(NO_OVERRIDE)
            else:
                method = js_string(msg_method).upper()
        return method

    def _timeout_for(self, msg: Message) -> float:
        """Milliseconds: ``msg.requestTimeout`` when it is a positive number."""
        if "requestTimeout" not in msg:
            return self.timeout_ms
        wanted = msg["requestTimeout"]
        number = as_number(wanted) if wanted is not None else 0.0
        if number is None or is_nan(number):
            self.warn("Timeout value is not a valid number, ignoring")
        elif number < 1:
            self.warn("Timeout value is negative, ignoring")
        else:
            return number
        return self.timeout_ms

    def _authenticate(self, url_user: str | None, url_password: str | None,
                      headers: _Headers) -> tuple[str, str] | None:
        """Set the Authorization header for basic or bearer authentication; the user
        and password to answer a digest challenge with, for digest."""
        creds = dict(self.creds)
        if url_user and not creds.get("user"):
            creds["user"] = url_user
        if url_password and not creds.get("password"):
            creds["password"] = url_password
        if not creds:
            return None
        user, password = str(creds.get("user") or ""), str(creds.get("password") or "")
        if self.auth_type == "basic" and (user or password):
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers.set("Authorization", f"Basic {token}")
        elif self.auth_type == "digest":
            return user, password
        elif self.auth_type == "bearer":
            headers.set("Authorization", f"Bearer {password}")
        return None

    def _reject_unauthorized(self, value: Any) -> bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if isinstance(value, bool):
            return value
        self.warn("msg.rejectUnauthorized should be a boolean")
        return True

    def _message_headers(self, msg: Message, headers: _Headers) -> None:
        given = msg.get("headers")
        if not isinstance(given, dict):
            return
        if MARKER in given:
            marker = given.pop(MARKER)
            if hash_sum(given) == marker:
                del msg["headers"]
                return
        for name, value in given.items():
            headers.update(str(name), value)

    def _node_headers(self, msg: Message, headers: _Headers) -> None:
        for header in self.ui_headers:
            name = _header_part(header.get("keyType"), header.get("keyValue"), msg)
            if not name:
                continue
            value = _header_part(header.get("valueType"), header.get("valueValue"), msg)
            headers.update(js_string(name), value)

    def _missing_config_node(self) -> str | None:
        """What is wrong when a configured tls-config or http proxy node is not running:
        the request is not made (never without the TLS settings or around the proxy)."""
        for key, kind in (("tls", "tls-config"), ("proxy", "http proxy")):
            ref = self.config.get(key)
            if ref and self.config_node(key) is None:
                return f"{kind} node {ref!r} is not deployed (or failed to start)"
        return None

    def _proxy_for(self, url: str) -> str | None:
        proxy_node = self.config_node("proxy")
        env: dict[str, str] | os._Environ[str] = os.environ
        if proxy_node is not None:
            env = proxy_node.environment()  # type: ignore[attr-defined]
        proxy = proxy_for_url(url, env)
        if not proxy:
            return None
        if not _PROXY_SHAPE.match(proxy):
            self.warn(f"Bad proxy url: {proxy}")
            return None
        return proxy

    def _proxy_auth(self) -> tuple[str, str] | None:
        proxy_node = self.config_node("proxy")
        if proxy_node is None:
            return None
        user = str(proxy_node.creds.get("username") or "")
        password = str(proxy_node.creds.get("password") or "")
        return (user, password) if user or password else None

    async def _send_request(self, request: Request, fragment: str, msg: Message) -> None:
        assert self._pool is not None, "http request used before start"
        try:
            response = await self._pool.fetch(request)
        except RequestError as exc:
            if exc.code == "ETIMEDOUT":
                self.error(NO_RESPONSE, msg)
                self.status(fill="red", shape="ring",
                            text="node-red:common.notification.errors.no-response")
            else:
                self.error(f"{exc.name}: {exc}", msg)
                self.status(fill="red", shape="ring", text=exc.code)
            msg["payload"] = f"{exc.name}: {exc} : {request.url}"
            msg["statusCode"] = exc.code
            if not self.send_errors_only_to_catch:
                self.send(msg)
            return
        for warning in response.warnings:
            self.warn(warning)
        msg["statusCode"] = response.status
        msg["headers"] = response.headers
        # Node's URL keeps the fragment of a URL that was not redirected.
        msg["responseUrl"] = response.url + ("" if response.redirects else fragment)
        msg["payload"] = response.body
        msg["redirectList"] = [
            {"location": location, **({"cookies": _response_cookies(cookies)}
                                      if cookies else {})}
            for location, cookies in response.redirects]
        msg["retry"] = 0
        if "set-cookie" in response.headers:
            msg["responseCookies"] = _response_cookies(response.headers["set-cookie"])
        response.headers[MARKER] = hash_sum(response.headers)
        if self.ret != "bin":
            text = response.body.decode("utf-8", "replace")
            msg["payload"] = text
            if self.ret == "obj":
                if response.status == 204:
                    text = "{}"
                try:
                    msg["payload"] = orjson.loads(text)
                except orjson.JSONDecodeError:
                    self.warn("JSON parse error")
        if self._active == 1:
            self.status({})
        self.send(msg)


# ----------------------------------------------------------------- headers
class _Headers:
    """Request headers with Node-RED's case-insensitive update (a later setting of a
    name replaces every spelling of it and keeps its own spelling)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}

    def update(self, name: str, value: Any) -> None:
        """Set ``name`` to ``value``; a false value (``""``, null...) removes it."""
        key = name.lower()
        self._items.pop(key, None)
        if value not in (None, "", 0, False, MISSING):
            self._items[key] = (name, js_string(value))

    def set(self, name: str, value: str) -> None:
        self._items[name.lower()] = (name, value)

    def get(self, name: str) -> str | None:
        item = self._items.get(name.lower())
        return None if item is None else item[1]

    def pop(self, name: str) -> str | None:
        item = self._items.pop(name.lower(), None)
        return None if item is None else item[1]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items.values())


def _header_part(kind: Any, value: Any, msg: Message) -> Any:
    if kind == "other":
        return value
    if kind == "msg":
        try:
            return get_message_property(msg, str(value or ""))
        except (ValueError, TypeError, KeyError):
            return None
    return kind


# -------------------------------------------------------------------- body
def _request_body(payload: Any, headers: _Headers) -> bytes | list[FormField]:
    """The body of a POST, PUT... (Node-RED's rules; may set the content type)."""
    content_type = headers.get("content-type")
    if content_type == "multipart/form-data" and isinstance(payload, dict):
        headers.pop("content-type")  # set again with the multipart boundary
        return _form_fields(payload)
    body, as_json = _body(payload, content_type)
    if as_json and content_type is None:
        headers.set("Content-Type", "application/json")
    return body


def _get_body(payload: Any) -> bytes:
    """The body of a GET with ``paytoqs: body`` (no content type is set)."""
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, int | float) and not isinstance(payload, bool):
        return js_string(payload).encode()
    return orjson.dumps(payload, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _body(payload: Any, content_type: str | None) -> tuple[bytes, bool]:
    """The body for ``payload`` and whether it is JSON (Node-RED's rules)."""
    if isinstance(payload, str):
        return payload.encode(), False
    if isinstance(payload, bytes | bytearray):
        return bytes(payload), False
    if isinstance(payload, int | float) and not isinstance(payload, bool):
        return js_string(payload).encode(), False
    if content_type == "application/x-www-form-urlencoded":
        return _querystring(payload).encode(), False
    return orjson.dumps(payload, default=_json_default, option=orjson.OPT_NON_STR_KEYS), True


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"type": "Buffer", "data": list(value)}
    raise TypeError


def _form_fields(payload: dict[str, Any]) -> list[FormField]:
    fields = []
    for name, value in payload.items():
        if value is None:
            continue
        if isinstance(value, str | bytes | bytearray):
            fields.append(FormField(str(name), value if isinstance(value, str)
                                    else bytes(value)))
        elif isinstance(value, dict) and "value" in value:
            options = value.get("options") or {}
            if isinstance(options, str):
                options = {"filename": options}
            content = value["value"]
            if not isinstance(content, str | bytes | bytearray):
                content = js_string(content)
            fields.append(FormField(str(name), content if isinstance(content, str)
                                    else bytes(content),
                                    filename=options.get("filename"),
                                    content_type=options.get("contentType")))
        else:
            fields.append(FormField(str(name), orjson.dumps(value, default=_json_default)
                                    .decode()))
    return fields


def _querystring(values: Any) -> str:
    """Node.js ``querystring.stringify`` (of an object or array; anything else: "")."""
    if isinstance(values, list):
        values = {str(i): v for i, v in enumerate(values)}
    if not isinstance(values, dict):
        return ""
    pairs = []
    for key, value in values.items():
        name = _qs_escape(str(key))
        for item in value if isinstance(value, list) else [value]:
            pairs.append(f"{name}={_qs_escape(_qs_primitive(item))}")
    return "&".join(pairs)


def _qs_primitive(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and value == value
                                         and value not in (float("inf"), float("-inf"))):
        return js_string(value)
    return ""


def _qs_escape(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


def _uri_component(text: str) -> str:
    """JavaScript ``encodeURIComponent``."""
    return quote(text, safe="-_.!~*'()")


def _encoded_url(url: str) -> str:
    """``url`` percent-encoded as Node's URL parser leaves it (spaces, non-ASCII and
    quotes encoded; ``%xx`` kept), without its fragment or credentials."""
    url = url.split("#", 1)[0]
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]  # credentials go in the Authorization header
    path, question, query = (slash + path).partition("?")
    if not authority.isascii():
        authority = authority.encode("idna").decode()
    path = quote(path, safe=_PATH_SAFE)
    query = quote(query, safe=_QUERY_SAFE)
    return f"{scheme}://{authority}{path or '/'}{question}{query}"


# ----------------------------------------------------------------- cookies
def _cookies_for(msg: Message, headers: _Headers) -> list[str]:
    """``name=value`` cookies from a ``cookie`` header (taken out of the headers) and
    ``msg.cookies`` (values URL-encoded unless ``encode: false``)."""
    cookies = [f"{name}={value}"
               for name, value in _parse_cookie_header(headers.pop("cookie") or "")]
    msg_cookies = msg.get("cookies")
    if not isinstance(msg_cookies, dict):
        return cookies
    for name, value in msg_cookies.items():
        if value is None or (isinstance(value, dict) and "value" in value
                             and value["value"] is None):
            continue  # clears a cookie for http in/response nodes: not ours
        if isinstance(value, dict):
            raw = js_string(value.get("value", MISSING))
            encoded = raw if value.get("encode") is False else _uri_component(raw)
        else:
            encoded = _uri_component(js_string(value))
        cookies.append(f"{name}={encoded}")
    return cookies


def _parse_cookie_header(text: str) -> list[tuple[str, str]]:
    """``cookie.parse`` of a Cookie header, values kept as they are."""
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in pairs:
            pairs[name] = value.strip()
    return list(pairs.items())


def _response_cookies(set_cookies: list[str]) -> dict[str, dict[str, str]]:
    """Node-RED's ``extractCookies``: each cookie's attributes, and its ``value``."""
    cookies: dict[str, dict[str, str]] = {}
    for header in set_cookies:
        if not isinstance(header, str) or "=" not in header:
            continue
        key = header[:header.index("=")].strip()
        if not key:
            continue
        parsed: dict[str, str] = {}
        for part in header.split(";"):
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not name or name in parsed:
                continue
            value = value.strip()
            if value.startswith('"') and value.endswith('"') and len(value) > 1:
                value = value[1:-1]
            if "%" in value:
                with contextlib.suppress(UnicodeDecodeError):
                    value = unquote(value, errors="strict")
            parsed[name] = value
        parsed["value"] = parsed.pop(key, "")
        cookies[key] = parsed
    return cookies
