"""Outgoing HTTP requests for nodes (``http request``), on one pooled aiohttp session.

A node takes the :class:`ClientPool` of its event loop with :func:`client_pool`,
calls :meth:`ClientPool.acquire` in ``start`` and :meth:`ClientPool.release` in
``close``. The pool's ``aiohttp.ClientSession`` (keep-alive connections, at most
100 open at once) is created on the first request and closed when its last user
releases it, so a runtime without ``http request`` nodes never has one, and a
stopped runtime (every node closed) leaves no connection behind.

:meth:`ClientPool.fetch` runs one :class:`HttpRequest` the way Node-RED's
``http request`` node (the *got* library) does: redirects followed by hand (at
most 21) so each hop is recorded with the cookies it set, a cookie jar of its
own per request (cookies never leak between requests or nodes), digest
authentication answered once, one timeout for the whole exchange, and failures
raised as :class:`RequestError` with Node.js's error code and wording
(``connect ECONNREFUSED 127.0.0.1:9``, ``getaddrinfo ENOTFOUND host``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import errno
import hashlib
import re
import ssl
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

__all__ = ["MAX_REDIRECTS", "ClientPool", "FormField", "HttpRequest", "HttpResponse",
           "RequestError", "client_pool", "digest_authorization", "proxy_for_url",
           "use_client_pool"]

MAX_REDIRECTS = 21
"""Redirects followed before giving up (got's default, kept by Node-RED)."""
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
# The client decides what it sends: no Accept-Encoding (responses are passed on as
# they arrive, not decompressed, as Node-RED's node does) and no Content-Type
# guessed from the body (Node-RED sends a string body without one).
_SKIP_AUTO_HEADERS = frozenset(("Accept-Encoding", "Content-Type"))
# Node.js's codes for the certificate problems OpenSSL reports by number.
_CERT_CODES = {
    10: "CERT_HAS_EXPIRED", 18: "DEPTH_ZERO_SELF_SIGNED_CERT",
    19: "SELF_SIGNED_CERT_IN_CHAIN", 20: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    21: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", 62: "ERR_TLS_CERT_ALTNAME_INVALID",
}


class RequestError(Exception):
    """A request that got no complete response.

    ``code`` is Node.js's error code (``ECONNREFUSED``, ``ENOTFOUND``, ``ETIMEDOUT``...)
    and ``name`` the class name got gives it (``RequestError``, ``TimeoutError``,
    ``MaxRedirectsError``), so ``f"{e.name}: {e}"`` reads as in Node-RED.
    """

    def __init__(self, text: str, code: str, name: str = "RequestError") -> None:
        super().__init__(text)
        self.code = code
        self.name = name


@dataclass
class FormField:
    """One field of a ``multipart/form-data`` body (a file when it has a filename)."""

    name: str
    value: str | bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class HttpRequest:
    """One request, ready to send: the node has built every part of it."""

    method: str
    url: str
    """Absolute and already percent-encoded (sent as is)."""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | list[FormField] | None = None
    cookies: list[str] = field(default_factory=list)
    """``name=value`` pairs (value already encoded) for the cookie jar, set for ``url``."""
    ssl: ssl.SSLContext | bool = True
    """A context (a ``tls-config`` node's), True (verify with the system's CAs) or
    False (no verification: ``msg.rejectUnauthorized = false``)."""
    server_hostname: str | None = None
    proxy: str | None = None
    proxy_auth: tuple[str, str] | None = None
    timeout: float = 120.0
    """Seconds for the whole exchange, redirects included."""
    follow_redirects: bool = True
    digest: tuple[str, str] | None = None
    """User and password to answer a ``401`` digest challenge with (once)."""


@dataclass
class HttpResponse:
    """The final response: ``headers`` as Node.js gives them (lower-case names,
    ``set-cookie`` a list, other repeated headers joined with ``, ``)."""

    status: int
    headers: dict[str, Any]
    body: bytes
    url: str
    redirects: list[tuple[str, list[str]]]
    """Each redirect followed: its ``Location`` and the ``Set-Cookie`` headers it had."""
    warnings: list[str] = field(default_factory=list)
    """What went wrong without failing the request (a digest challenge that could not
    be answered: the 401 is the result)."""


class ClientPool:
    """The shared aiohttp session of one event loop and the nodes using it."""

    def __init__(self) -> None:
        self._users: set[int] = set()
        self._session: aiohttp.ClientSession | None = None
        self._requests = 0

    @property
    def in_use(self) -> bool:
        """True while some node holds the pool."""
        return bool(self._users)

    @property
    def open(self) -> bool:
        """True while the session (and its connections) exists."""
        return self._session is not None

    def acquire(self, user: object) -> None:
        """``user`` will make requests (the session itself is made on the first)."""
        self._users.add(id(user))

    async def release(self, user: object) -> None:
        """``user`` makes no more requests; after the last one's, the session closes.

        A request still running (the runtime cancels a closed node's requests right
        after ``close``) closes the session when it ends, so it fails by cancellation,
        not by finding its session closed under it."""
        self._users.discard(id(user))
        await self._close_if_unused()

    async def _close_if_unused(self) -> None:
        if not self._users and not self._requests and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _session_for_requests(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                trust_env=False, skip_auto_headers=_SKIP_AUTO_HEADERS)
        return self._session

    async def fetch(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` and read the final response; RequestError when there is none.

        The exchange runs in a task of its own (aiohttp's and asyncio's timeouts need
        one; a node's ``on_input`` starts outside any task); cancelling the caller
        cancels it."""
        self._requests += 1
        try:
            return await asyncio.get_running_loop().create_task(self._fetch(request))
        finally:
            self._requests -= 1
            await self._close_if_unused()

    async def _fetch(self, request: HttpRequest) -> HttpResponse:
        url = URL(request.url, encoded=True)
        try:
            async with asyncio.timeout(request.timeout):
                return await self._exchange(request, url)
        except TimeoutError:
            raise RequestError(
                f"Timeout awaiting 'request' for {round(request.timeout * 1000)}ms",
                "ETIMEDOUT", "TimeoutError") from None
        except aiohttp.ClientError as exc:
            raise _request_error(exc) from exc
        except (ssl.SSLError, OSError) as exc:
            raise _request_error(exc) from exc
        except ValueError as exc:  # a header aiohttp refuses to send, a bad URL
            raise RequestError(str(exc), "ERR_INVALID_ARG", "TypeError") from exc

    async def _exchange(self, request: HttpRequest, url: URL) -> HttpResponse:
        session = self._session_for_requests()
        jar = CookieJar()
        for cookie in request.cookies:
            jar.set(cookie, url)
        method, body = request.method, _form(request.body)
        headers = CIMultiDict(request.headers)
        if isinstance(body, aiohttp.Payload):
            headers["Content-Type"] = body.content_type  # with the multipart boundary
        proxy, proxy_headers = _proxy(request)
        redirects: list[tuple[str, list[str]]] = []
        warnings: list[str] = []
        digest_sent = False
        while True:
            sent = headers.copy()
            cookie_header = jar.header(url)
            if cookie_header:
                sent["Cookie"] = cookie_header
            tunnel_headers = None
            if proxy_headers:
                # aiohttp sends proxy headers only on a CONNECT (https); a plain http
                # request goes to the proxy itself, so they travel with it.
                if url.scheme == "https":
                    tunnel_headers = proxy_headers
                else:
                    sent.update(proxy_headers)
            async with session.request(
                    method, url, headers=sent, data=body, allow_redirects=False,
                    ssl=request.ssl, server_hostname=request.server_hostname,
                    proxy=proxy, proxy_headers=tunnel_headers) as response:
                data = await response.read()
                set_cookies = response.headers.getall("Set-Cookie", [])
                for cookie in set_cookies:
                    jar.set(cookie, url)
                challenge = response.headers.get("WWW-Authenticate")
                if response.status == 401 and request.digest and not digest_sent and challenge:
                    digest_sent = True
                    user, password = request.digest
                    try:
                        headers["Authorization"] = digest_authorization(
                            user, password, method, url.raw_path_qs, challenge)
                    except ValueError as exc:
                        warnings.append(f"Digest authentication failed: {exc}")
                    else:
                        continue
                location = response.headers.get("Location")
                if not (request.follow_redirects and response.status in _REDIRECTS
                        and location is not None):
                    return HttpResponse(response.status, _node_headers(response), data,
                                        _url_text(url), redirects, warnings)
            if len(redirects) >= MAX_REDIRECTS:
                raise RequestError(f"Redirected {MAX_REDIRECTS} times. Aborting.",
                                   "ERR_TOO_MANY_REDIRECTS", "MaxRedirectsError")
            redirects.append((location, set_cookies))
            target = url.join(URL(location))
            if target.origin() != url.origin():
                # Credentials are for the server they were configured for.
                headers.popall("Authorization", None)
            if response.status == 303 and method not in ("GET", "HEAD"):
                method, body = "GET", None
                headers.popall("Content-Type", None)
                headers.popall("Content-Length", None)
            url = target


def _form(body: bytes | list[FormField] | None) -> bytes | aiohttp.Payload | None:
    if not isinstance(body, list):
        return body
    form = aiohttp.FormData()
    for item in body:
        form.add_field(item.name, item.value, filename=item.filename,
                       content_type=item.content_type)
    return form()


def _proxy(request: HttpRequest) -> tuple[URL | None, dict[str, str] | None]:
    """The proxy URL without its credentials, and the headers that send them."""
    if not request.proxy:
        return None, None
    proxy = URL(request.proxy)
    auth = request.proxy_auth
    if auth is None and (proxy.user or proxy.password):
        auth = (proxy.user or "", proxy.password or "")
    if not auth:
        return proxy, None
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return proxy.with_user(None), {"Proxy-Authorization": f"Basic {token}"}


def _node_headers(response: aiohttp.ClientResponse) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for name, value in response.headers.items():
        key = name.lower()
        if key == "set-cookie":
            headers.setdefault(key, []).append(value)
        elif key in headers:
            headers[key] = f"{headers[key]}, {value}"
        else:
            headers[key] = value
    return headers


def _url_text(url: URL) -> str:
    text = str(url)
    return text + "/" if not url.raw_path else text


def _request_error(exc: BaseException) -> RequestError:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return RequestError(f"getaddrinfo ENOTFOUND {exc.host}", "ENOTFOUND")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        code = _CERT_CODES.get(getattr(cert_error, "verify_code", -1), "CERT_ERROR")
        text = getattr(cert_error, "verify_message", None) or str(cert_error)
        return RequestError(text, code)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return RequestError(f"Bad response: {exc.status}", "ERR_PROXY")
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return RequestError(str(exc.os_error), "EPROTO")
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = errno.errorcode.get(exc.os_error.errno or 0, "ECONNREFUSED")
        return RequestError(f"connect {code} {exc.host}:{exc.port}", code)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return RequestError("socket hang up", "ECONNRESET")
    if isinstance(exc, aiohttp.InvalidURL):
        return RequestError(f"Invalid URL: {exc}", "ERR_INVALID_URL")
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        text = getattr(exc, "message", None) or str(exc)
        return RequestError(f"Parse Error: {text}", "HPE_INVALID")
    if isinstance(exc, OSError) and exc.errno:
        code = errno.errorcode.get(exc.errno, "EIO")
        return RequestError(f"{code}: {exc.strerror or exc}", code)
    return RequestError(str(exc) or type(exc).__name__, "ERR_REQUEST")


# ------------------------------------------------------------------ cookies
@dataclass
class _Cookie:
    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool


class CookieJar:
    """The cookies of one request and its redirects (tough-cookie's rules, simplified:
    host-only or domain cookies, path matching, ``Secure``, deletion by ``Max-Age``
    or a past ``Expires``; IP-address hosts allowed)."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}

    def set(self, header: str, url: URL) -> None:
        """Store a ``Set-Cookie`` header received from (or meant for) ``url``."""
        parts = header.split(";")
        name, sep, value = parts[0].partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            return
        host = (url.host or "").lower()
        domain, path, secure, expired = host, _default_path(url.path), False, False
        host_only = True
        for attribute in parts[1:]:
            key, _, arg = attribute.partition("=")
            key, arg = key.strip().lower(), arg.strip()
            if key == "domain" and arg:
                wanted = arg.lstrip(".").lower()
                if not _domain_match(host, wanted):
                    return  # a server may not set cookies for another domain
                domain, host_only = wanted, False
            elif key == "path" and arg.startswith("/"):
                path = arg
            elif key == "secure":
                secure = True
            elif key == "max-age":
                with contextlib.suppress(ValueError):
                    expired = int(arg) <= 0
            elif key == "expires" and not expired:
                expired = _in_the_past(arg)
        slot = (domain, path, name)
        if expired:
            self._cookies.pop(slot, None)
        else:
            self._cookies[slot] = _Cookie(name, value, domain, path, host_only, secure)

    def header(self, url: URL) -> str:
        """The ``Cookie`` header for a request to ``url`` ("" when none apply)."""
        host = (url.host or "").lower()
        path = url.path or "/"
        chosen = [c for c in self._cookies.values()
                  if (host == c.domain if c.host_only else _domain_match(host, c.domain))
                  and _path_match(path, c.path) and (url.scheme == "https" or not c.secure)]
        chosen.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in chosen)


def _default_path(path: str) -> str:
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[:path.rindex("/")]


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and not host.replace(".", "").isdigit())


def _path_match(path: str, cookie_path: str) -> bool:
    if path == cookie_path:
        return True
    return path.startswith(cookie_path) and (cookie_path.endswith("/")
                                             or path[len(cookie_path)] == "/")


def _in_the_past(text: str) -> bool:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when <= datetime.datetime.now(datetime.UTC)


# ------------------------------------------------------------ digest auth
def _digest(algorithm: str, text: str) -> str:
    name = algorithm.lower().removesuffix("-sess")
    if name == "sha-256":
        return hashlib.sha256(text.encode()).hexdigest()
    if name == "sha-512-256":
        return hashlib.sha512(text.encode()).hexdigest()[:64]
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_authorization(user: str, password: str, method: str, path: str,
                         challenge: str) -> str:
    """The ``Authorization`` header answering a ``WWW-Authenticate: Digest`` challenge
    (RFC 7616: MD5, SHA-256, SHA-512-256, their ``-sess`` variants, ``qop=auth``),
    built as Node-RED builds it. ValueError when the challenge lacks nonce or realm."""
    fields = {m.group(1): m.group(2) or m.group(3) for m in re.finditer(
        r'([a-z0-9_-]+)=(?:"([^"]+)"|([a-z0-9_-]+))', challenge, re.IGNORECASE)}
    nonce, realm = fields.get("nonce"), fields.get("realm")
    if not nonce:
        raise ValueError("Invalid digest challenge: missing nonce")
    if not realm:
        raise ValueError("Invalid digest challenge: missing realm")
    algorithm = fields.get("algorithm") or ""
    qop = "auth" if re.search(r"(^|,)\s*auth\s*($|,)", fields.get("qop") or "") else ""
    nc = "00000001" if qop else ""
    cnonce = uuid.uuid4().hex if qop else ""
    ha1 = _digest(algorithm, f"{user}:{realm}:{password}")
    if algorithm.lower().endswith("-sess"):
        ha1 = _digest(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _digest(algorithm, f"{method}:{path}")
    response = _digest(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}" if qop
                       else f"{ha1}:{nonce}:{ha2}")
    values = {"username": user, "realm": realm, "nonce": nonce, "uri": path, "qop": qop,
              "response": response, "nc": nc, "cnonce": cnonce, "algorithm": algorithm,
              "opaque": fields.get("opaque") or ""}
    parts = [f"{k}={v}" if k in ("qop", "nc", "algorithm") else f'{k}="{v}"'
             for k, v in values.items() if v]
    return "Digest " + ", ".join(parts)


# ------------------------------------------------------------------ proxies
_DEFAULT_PORTS = {"ftp": 21, "gopher": 70, "http": 80, "https": 443, "ws": 80, "wss": 443,
                  "mqtt": 1880, "mqtts": 8883}


def proxy_for_url(url: str, env: Mapping[str, str]) -> str:
    """The proxy for ``url`` from ``http_proxy``/``https_proxy``/``all_proxy`` and
    ``no_proxy`` in ``env`` (lower case read first, then upper case; ``npm_config_*``
    too), "" for none: Node-RED's ``getProxyForUrl`` (strict mode)."""
    try:
        parts = URL(url)
    except ValueError:
        return ""
    scheme, host = parts.scheme, parts.raw_host
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.explicit_port or _DEFAULT_PORTS.get(scheme, 0)
    if not _should_proxy(host.lower(), port, env):
        return ""
    proxy = (_env(env, f"npm_config_{scheme}_proxy") or _env(env, f"{scheme}_proxy")
             or _env(env, "npm_config_proxy") or _env(env, "all_proxy"))
    if proxy and "://" not in proxy:
        proxy = f"{scheme}://{proxy}"
    return proxy


def _env(env: Mapping[str, str], key: str) -> str:
    return env.get(key.lower()) or env.get(key.upper()) or ""


def _should_proxy(host: str, port: int, env: Mapping[str, str]) -> bool:
    no_proxy = (_env(env, "npm_config_no_proxy") or _env(env, "no_proxy")).lower()
    if not no_proxy:
        return True
    if no_proxy == "*":
        return False
    for entry in re.split(r"[,\s]", no_proxy):
        if not entry:
            continue
        match = re.fullmatch(r"(.+):(\d+)", entry)
        name = match.group(1) if match else entry
        if match and int(match.group(2)) != port:
            continue
        if not name.startswith((".", "*")):
            if host == name:
                return False
            continue
        if host.endswith(name.removeprefix("*")):
            return False
    return True


# ----------------------------------------------------------------- the pool
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientPool] = \
    weakref.WeakKeyDictionary()


def client_pool() -> ClientPool:
    """The pool of the running event loop (one runtime runs on one loop)."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = ClientPool()
    return pool


def use_client_pool(pool: ClientPool) -> None:
    """Make ``pool`` the running event loop's pool, for the nodes started after this call:
    a flow test's stand-in (a :class:`ClientPool` whose ``fetch`` answers from fixtures)."""
    _POOLS[asyncio.get_running_loop()] = pool
