"""Answering HTTP requests from a flow: what ``http in`` and ``http response`` run on.

:func:`request_handler` makes the route handler an ``http in`` node adds to
``ctx.endpoints``: it reads the request as Express and Node-RED's body parsers do
(``msg.req``, ``msg.payload``), hands the message to the node, and holds the request open
until ``http response`` answers it through :class:`HeldResponse`, or until ``timeout``
seconds have passed (then it answers ``504``: Node-RED waits for as long as the client
does). The message carries the request only as data (``msg.res = {"_res": "<id>"}``,
see ``flowrt.http_endpoints``), so it survives cloning and function nodes.

aiohttp stays in this module: node modules import only ``flowrt.*``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from flowrt.http_endpoints import Endpoints, Handler

OnRequest = Callable[[dict[str, Any], dict[str, Any], Any], None]
"""What the node does with a request: ``(msg.req, msg.res, msg.payload)``."""

QUERY_DEPTH = 5
"""Deepest ``a[b][c]`` nesting parsed in query strings and forms (as ``qs``)."""
ARRAY_LIMIT = 20
"""Highest ``a[n]`` index read as a list position (as ``qs``); above it, a key."""

# Node.js keeps the first of these when a request repeats them (http.IncomingMessage).
_SINGLE_HEADERS = frozenset({
    "age", "authorization", "content-length", "content-type", "etag", "expires", "from",
    "host", "if-modified-since", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "proxy-authorization", "referer", "retry-after", "server",
    "user-agent"})
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_EMPTY_BODY_ETAG = 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"'


class BadRequestBody(ValueError):
    """A request body that its content type says is one thing and is not (bad JSON)."""


class HeldResponse:
    """One request held open until the flow answers it (``http response``)."""

    __slots__ = ("future", "owner", "request")

    def __init__(self, request: web.Request, owner: str) -> None:
        self.owner = owner
        self.request = request
        self.future: asyncio.Future[web.Response] = \
            asyncio.get_running_loop().create_future()

    @property
    def jsonp_callback(self) -> str | None:
        """The ``callback`` query parameter, as Express's ``res.jsonp`` reads it."""
        return self.request.query.get("callback")

    @property
    def answered(self) -> bool:
        """True once the request was answered (or given up)."""
        return self.future.done()

    def answer(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        """Answer the request as Express's ``res.send`` does: an ``ETag`` for a body,
        ``304`` when the client's copy is fresh, no body for ``204``/``304``."""
        if self.future.done():
            raise RuntimeError("Cannot set headers after they are sent to the client")
        if not 100 <= status <= 999:
            raise ValueError(f"Invalid status code: {status}")
        out = CIMultiDict(headers)
        out.popall("Content-Length", None)
        out.popall("Transfer-Encoding", None)
        if body is not None and "ETag" not in out:
            out["ETag"] = _etag(body)
        if (200 <= status < 300 or status == 304) and _fresh(self.request, out):
            status = 304
        if status in (204, 304):
            for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                out.popall(name, None)
            body = None
        response = web.Response(status=status, headers=out, body=body or b"")
        self.future.set_result(response)


def request_handler(*, endpoints: Endpoints, owner: str, method: str, upload: bool,
                    skip_body_parsing: bool, max_body: int, timeout: float,
                    on_request: OnRequest, on_timeout: Callable[[str], None],
                    on_bad_request: Callable[[str], None]) -> Handler:
    """The handler of one ``http in`` route (see the module docstring).

    ``on_request(req, res, payload)`` sends the message; ``on_timeout(text)`` and
    ``on_bad_request(text)`` report requests answered without the flow (504, 400).
    """
    method = method.lower()

    async def handle(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        req = describe_request(request, params, endpoints.root)
        if method == "get":
            payload: Any = req["query"]
        else:
            try:
                payload, files = await read_body(request, upload=upload and method == "post",
                                                 raw=skip_body_parsing, max_body=max_body)
            except BadRequestBody as exc:
                on_bad_request(f"{request.method} {request.path}: {exc}")
                return web.Response(status=400, text=f"Bad Request: {exc}")
            req["body"] = payload
            if files is not None:
                req["files"] = files
        held = HeldResponse(request, owner)
        request_id = endpoints.hold(held)
        try:
            on_request(req, {"_res": request_id}, payload)
            return await asyncio.wait_for(held.future, timeout)
        except TimeoutError:
            on_timeout(f"{request.method} {request.path}: no http response within "
                       f"{timeout:g} s (httpRequestTimeout); answered 504")
            return web.Response(status=504, text="Gateway Timeout: the flow did not answer")
        finally:
            endpoints.release(request_id)

    return handle


def describe_request(request: web.Request, params: dict[str, str], root: str
                     ) -> dict[str, Any]:
    """``msg.req``: the request as data, with Express's property names."""
    base = root.rstrip("/")
    raw_path = request.raw_path
    url = raw_path[len(base):] if base and raw_path.startswith(base) else raw_path
    path = request.path
    host = request.headers.get("Host", "")
    return {
        "method": request.method,
        "url": url or "/",
        "originalUrl": raw_path,
        "baseUrl": base,
        "path": (path[len(base):] if base and path.startswith(base) else path) or "/",
        "params": dict(params),
        "query": parse_query(request.query_string),
        "headers": request_headers(request),
        "cookies": parse_cookies(request.headers.getall("Cookie", [])),
        "ip": request.remote or "",
        "hostname": host.rsplit(":", 1)[0] if not host.endswith("]") else host,
        "protocol": request.scheme,
        "secure": request.secure,
        "httpVersion": f"{request.version.major}.{request.version.minor}",
        "xhr": request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest",
    }


def request_headers(request: web.Request) -> dict[str, Any]:
    """Header names in lower case; repeats as Node.js joins them (``set-cookie`` a list,
    ``cookie`` joined with ``; ``, single-valued ones the first, others with ``, ``)."""
    headers: dict[str, Any] = {}
    for name, value in request.headers.items():
        key = name.lower()
        if key not in headers:
            headers[key] = [value] if key == "set-cookie" else value
        elif key == "set-cookie":
            headers[key].append(value)
        elif key == "cookie":
            headers[key] += "; " + value
        elif key not in _SINGLE_HEADERS:
            headers[key] += ", " + value
    return headers


def parse_query(text: str) -> dict[str, Any]:
    """A query string or form body as Express's ``qs`` parser reads it: repeated keys
    become lists, ``a[b]=1`` nests objects, ``a[]=1`` and ``a[0]=1`` build lists."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        _insert(result, key, value)
    return result


def _insert(target: dict[str, Any], key: str, value: Any) -> None:
    match = _KEY.match(key)
    parts = [match.group(1), *_BRACKET.findall(match.group(2))] if match else [key]
    if len(parts) > QUERY_DEPTH + 1:  # qs keeps the rest of a deep key as one name
        parts = [*parts[:QUERY_DEPTH], "[" + "][".join(parts[QUERY_DEPTH:]) + "]"]
    holder: Any = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        as_list_item = part == "" or (part.isdigit() and int(part) <= ARRAY_LIMIT)
        if isinstance(holder, list):
            if last or not as_list_item:
                if last:
                    holder.append(value)
                    return
                child: Any = {}
                holder.append(child)
                holder = child
                continue
            child = {}
            holder.append(child)
            holder = child
            continue
        if last:
            if part in holder:
                existing = holder[part]
                holder[part] = ([*existing, value] if isinstance(existing, list)
                                else [existing, value])
            else:
                holder[part] = value
            return
        following = parts[index + 1]
        wants_list = following == "" or (following.isdigit()
                                         and int(following) <= ARRAY_LIMIT)
        child = holder.get(part)
        if wants_list and not isinstance(child, list | dict):
            child = holder[part] = [] if child is None else [child]
        elif not wants_list and not isinstance(child, dict):
            child = holder[part] = {} if child is None else {"0": child}
        holder = child


def parse_cookies(headers: list[str]) -> dict[str, Any]:
    """``Cookie`` headers as cookie-parser reads them: the first of a name wins, values
    are URI-decoded, and ``j:`` values are parsed as JSON."""
    cookies: dict[str, Any] = {}
    for header in headers:
        for pair in header.split(";"):
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or not name or name in cookies:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            with contextlib.suppress(UnicodeDecodeError):
                value = unquote(value, errors="strict") if "%" in value else value
            cookies[name] = value
    for name, value in cookies.items():
        if value.startswith("j:"):
            with contextlib.suppress(orjson.JSONDecodeError):
                cookies[name] = orjson.loads(value[2:])
    return cookies


async def read_body(request: web.Request, *, upload: bool, raw: bool, max_body: int
                    ) -> tuple[Any, list[dict[str, Any]] | None]:
    """``msg.payload`` (and ``msg.req.files`` for an upload) from the request body, as
    Node-RED's parsers make them: JSON → object, a form → object, text and XML → str,
    other ``application/*`` → str when it is UTF-8, anything else → bytes.

    Raises :class:`BadRequestBody` for bad JSON, ``HTTPRequestEntityTooLarge`` beyond
    ``max_body`` bytes.
    """
    mime = request.content_type if "Content-Type" in request.headers else ""
    if upload and not raw and mime == "multipart/form-data":
        return await _read_multipart(request, max_body)
    body = await request.read()
    if raw:
        return body, None
    if "Content-Length" not in request.headers and "Transfer-Encoding" not in request.headers:
        return decode_raw(body, mime), None  # no body: body-parser leaves it to the raw one
    if mime == "application/json":
        return _parse_json(body, request.charset), None
    if mime == "application/x-www-form-urlencoded":
        return parse_query(body.decode(request.charset or "utf-8", "replace")), None
    return decode_raw(body, mime), None


def _parse_json(body: bytes, charset: str | None) -> Any:
    text: str | bytes = body if charset in (None, "utf-8") else \
        body.decode(charset or "utf-8", "replace")
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped[:1] not in ("{", "[", b"{", b"["):  # body-parser's strict mode
        raise BadRequestBody("JSON body must be an object or an array")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequestBody(f"invalid JSON: {exc}") from None


def decode_raw(body: bytes, mime: str) -> str | bytes:
    """A body no parser took, as Node-RED's raw parser: text when its type says text."""
    kind, _, subtype = mime.partition("/")
    if not mime or kind == "text" or subtype == "xml" or subtype.endswith("+xml"):
        return body.decode("utf-8", "replace")
    if kind != "application" or subtype in ("octet-stream", "cbor", "x-protobuf"):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


async def _read_multipart(request: web.Request, max_body: int
                          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fields and files of a multipart form, as multer's memory storage gives them."""
    fields: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    total = 0
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):  # a nested multipart: not a form field
            continue
        data = bytearray()
        while chunk := await part.read_chunk():
            total += len(chunk)
            if total > max_body:
                raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=total)
            data.extend(chunk)
        name = part.name or ""
        if part.filename is None:
            _insert(fields, name, bytes(data).decode(part.get_charset("utf-8"), "replace"))
            continue
        files.append({
            "fieldname": name,
            "originalname": part.filename,
            "encoding": part.headers.get("Content-Transfer-Encoding", "7bit"),
            "mimetype": part.headers.get("Content-Type", "application/octet-stream"),
            "buffer": bytes(data),
            "size": len(data),
        })
    return fields, files


def _etag(body: bytes) -> str:
    """Express's weak ETag of a body."""
    if not body:
        return _EMPTY_BODY_ETAG
    digest = base64.b64encode(hashlib.sha1(body, usedforsecurity=False).digest()).decode()
    return f'W/"{len(body):x}-{digest[:27]}"'


def _fresh(request: web.Request, headers: CIMultiDict[str]) -> bool:
    """Express's ``req.fresh``: the client's cached copy (If-None-Match,
    If-Modified-Since) is still the one this response would send."""
    if request.method not in ("GET", "HEAD"):
        return False
    none_match = request.headers.get("If-None-Match")
    modified_since = request.headers.get("If-Modified-Since")
    if not none_match and not modified_since:
        return False
    if "no-cache" in request.headers.get("Cache-Control", ""):
        return False
    if none_match and none_match.strip() != "*":
        etag = headers.get("ETag")
        tags = [t.strip() for t in none_match.split(",")]
        if not etag or not any(t in (etag, f"W/{etag}", etag.removeprefix("W/"))
                               for t in tags):
            return False
    if modified_since:
        last_modified = headers.get("Last-Modified")
        try:
            if not last_modified or \
                    parsedate_to_datetime(last_modified) > parsedate_to_datetime(modified_since):
                return False
        except (TypeError, ValueError):
            return False
    return True
