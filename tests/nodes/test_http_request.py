"""http request and http proxy, against real local HTTP servers (Node-RED's spec scenarios)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from flowrt.errors import DeployError
from flowrt.hash_sum import hash_sum
from flowrt.http_client import client_pool, proxy_for_url
from flowrt.testing import FlowHarness
from tests.brokers import free_port
from tests.nodes.test_mqtt_tls import make_pki

DIGEST_PASSWORD = "digest-test-password"


@dataclass
class Server:
    """The test server: ``url(path)`` on localhost, ``other(path)`` on 127.0.0.1 (another
    cookie domain), and what it saw."""

    port: int
    cookies_seen: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"

    def other(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _cookies(request: web.Request) -> dict[str, str]:
    header = request.headers.get("Cookie", "")
    pairs = (part.strip().partition("=") for part in header.split(";") if part.strip())
    return {name: value for name, _, value in pairs}


def _digest(algorithm: str, text: str) -> str:
    if algorithm == "SHA-256":
        return hashlib.sha256(text.encode()).hexdigest()
    if algorithm == "SHA-512-256":
        return hashlib.sha512(text.encode()).hexdigest()[:64]
    return hashlib.md5(text.encode()).hexdigest()


def _digest_route(algorithm: str, sess: bool, qop: str) -> Any:
    realm, nonce = "node-red", "123456"
    algorithm_value = f"{algorithm}-sess" if sess else algorithm

    async def handle(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        if not header:
            qop_field = f'qop="{qop}", ' if qop else ""
            return web.Response(status=401, headers={"WWW-Authenticate": (
                f'Digest {qop_field}realm="{realm}", nonce="{nonce}", '
                f'algorithm="{algorithm_value}"')})
        fields = {m.group(1): m.group(2) or m.group(3) for m in re.finditer(
            r'([a-z0-9_-]+)=(?:"([^"]+)"|([a-z0-9_-]+))', header, re.IGNORECASE)}
        if (qop and fields.get("qop") != qop) or fields.get("realm") != realm or \
                fields.get("nonce") != nonce or fields.get("algorithm") != algorithm_value:
            return web.Response(status=401)
        cnonce = fields.get("cnonce", "")
        ha1 = _digest(algorithm, f"{fields['username']}:{realm}:{DIGEST_PASSWORD}")
        if sess:
            ha1 = _digest(algorithm, f"{ha1}:{nonce}:{cnonce}")
        ha2 = _digest(algorithm, f"{request.method}:{request.raw_path}")
        expected = _digest(algorithm, f"{ha1}:{nonce}:00000001:{cnonce}:{qop}:{ha2}" if qop
                           else f"{ha1}:{nonce}:{ha2}")
        return web.Response(status=201 if fields.get("response") == expected else 401)

    return handle


def _app(server: Server) -> web.Application:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text="hello", content_type="text/html")

    async def inspect(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({
            "method": request.method, "body": body.decode(errors="replace"),
            "headers": {k: v for k, v in request.raw_headers and
                        [(k.decode(), v.decode()) for k, v in request.raw_headers]},
            "query": dict(request.query), "url": request.raw_path})

    async def sleeper(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def record(request: web.Request) -> None:
        server.cookies_seen[f"{request.host}{request.path}"] = _cookies(request)

    def redirect_route(target: Any, cookie: tuple[str, str]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            await record(request)
            response = web.Response(status=302, headers={"Location": target()})
            response.set_cookie(*cookie, path="/")
            return response
        return handle

    async def redirect_return(request: web.Request) -> web.Response:
        await record(request)
        response = web.Response(status=200)
        response.set_cookie("redirectReturn", "return1", path="/")
        return response

    async def set_cookie(request: web.Request) -> web.Response:
        response = web.Response(text="")
        response.set_cookie("data", "hello", path="/", max_age=100, httponly=True)
        response.headers.add("Set-Cookie", "other=x%20y; Domain=localhost; Secure")
        return response

    async def authenticate(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return web.json_response({"user": user, "pass": password})
        if header.startswith("Bearer "):
            return web.json_response({"token": header[7:]})
        return web.json_response(None)

    async def upload(request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        files = []
        async for part in await request.multipart():
            data = await part.read()  # type: ignore[union-attr]
            if part.filename:  # type: ignore[union-attr]
                files.append({"fieldname": part.name, "originalname": part.filename,  # type: ignore[union-attr]
                              "data": data.decode()})
            else:
                fields[part.name or ""] = data.decode()  # type: ignore[union-attr]
        return web.json_response({"body": fields, "files": files})

    async def error(request: web.Request) -> web.Response:
        code = request.match_info["code"]
        return web.json_response({"gotError": code}, status=int(code))

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def see_other(request: web.Request) -> web.Response:
        return web.Response(status=303, headers={"Location": "/inspect"})

    def fixed(make: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            return make(request)  # type: ignore[no-any-return]
        return handle

    app = web.Application()
    app.router.add_get("/text", text)
    app.router.add_get("/json-valid", fixed(lambda r: web.json_response({"a": 1})))
    app.router.add_get("/json-invalid", fixed(lambda r: web.Response(
        text="{a:1", content_type="application/json")))
    app.router.add_get("/statusCode204", fixed(lambda r: web.Response(status=204)))
    app.router.add_get("/redirectToText", fixed(lambda r: web.Response(
        status=302, headers={"Location": server.url("/text")})))
    app.router.add_get("/timeout", sleeper)
    app.router.add_get("/badDigest", fixed(lambda r: web.Response(
        status=401, headers={"WWW-Authenticate": 'Digest realm="x"'})))
    app.router.add_get("/setCookie", set_cookie)
    app.router.add_get("/checkCookie", fixed(lambda r: web.json_response(_cookies(r))))
    app.router.add_get("/authenticate", authenticate)
    for path, args in {"md5": ("MD5", False, ""), "md5-sess": ("MD5", True, "auth"),
                       "md5-qop": ("MD5", False, "auth"),
                       "sha-256": ("SHA-256", False, "auth"),
                       "sha-512-256": ("SHA-512-256", False, "auth")}.items():
        app.router.add_get(f"/authenticate-digest-{path}", _digest_route(*args))
    app.router.add_get("/returnError/{code}", error)
    app.router.add_get("/redirectToSameDomain", redirect_route(
        lambda: server.url("/redirectReturn"), ("redirectToSameDomainCookie", "same1")))
    app.router.add_get("/redirectToDifferentDomain", redirect_route(
        lambda: server.other("/redirectReturn"), ("redirectToDifferentDomain", "different1")))
    app.router.add_get("/redirectMultipleTimes", redirect_route(
        lambda: server.url("/redirectToDifferentDomain"), ("redirectMultipleTimes", "multiple1")))
    app.router.add_get("/redirectReturn", redirect_return)
    app.router.add_post("/file-upload", upload)
    app.router.add_get("/loop", loop)
    app.router.add_post("/seeOther", see_other)
    app.router.add_route("*", "/inspect", inspect)
    app.router.add_route("*", "/inspect/{tail:.*}", inspect)
    return app


async def _serve(app: web.Application, ssl_context: ssl.SSLContext | None = None
                 ) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    holder = Server(0)
    runner, holder.port = await _serve(_app(holder))
    yield holder
    await runner.cleanup()


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "npm_config_proxy",
                 "npm_config_http_proxy", "npm_config_https_proxy", "npm_config_no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def request_node(**config: Any) -> dict[str, Any]:
    return {"id": "n1", "type": "http request", "z": "t1", "wires": [[]],
            "method": "GET", "ret": "txt", "url": "", **config}


def flow(*nodes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "t1", "type": "tab", "label": "t"}, *nodes,
            {"id": "c", "type": "catch", "z": "t1", "scope": None, "wires": [[]]}]


async def result(h: FlowHarness, count: int = 1, within: float = 10.0) -> dict[str, Any]:
    """The ``count``-th message out of n1 (waits in real time)."""
    try:
        await h.wait_for(lambda: len(h.outputs("n1")) >= count, within)
    except AssertionError:
        raise AssertionError(f"no output; events: {h.events}") from None
    return h.outputs("n1")[count - 1]


async def request(msg: dict[str, Any], credentials: dict[str, Any] | None = None,
                  nodes: tuple[dict[str, Any], ...] = (), **config: Any
                  ) -> tuple[dict[str, Any], FlowHarness]:
    async with FlowHarness(flow(request_node(**config), *nodes),
                           credentials=credentials) as h:
        h.send("n1", msg)
        out = await result(h)
    return out, h


# --------------------------------------------------------------- requests
async def test_get_plain_text(server: Server) -> None:
    msg, h = await request({"payload": "foo"}, url=server.url("/text"))
    assert msg["payload"] == "hello" and msg["statusCode"] == 200
    assert msg["headers"]["content-length"] == "5"
    assert msg["headers"]["content-type"].startswith("text/html")
    assert msg["redirectList"] == [] and msg["retry"] == 0
    assert msg["responseUrl"] == server.url("/text")
    assert h.status("n1") == {}  # "requesting" cleared


async def test_get_json_and_buffer(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/json-valid"), ret="obj")
    assert msg["payload"] == {"a": 1}
    msg, _ = await request({}, url=server.url("/text"), ret="bin")
    assert msg["payload"] == b"hello"


async def test_invalid_json_stays_text_with_a_warning(server: Server) -> None:
    msg, h = await request({}, url=server.url("/json-invalid"), ret="obj")
    assert msg["payload"] == "{a:1" and msg["statusCode"] == 200
    assert [w["msg"] for w in h.warnings] == ["JSON parse error"]


async def test_204_is_an_empty_object(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/statusCode204"), ret="obj")
    assert msg["payload"] == {} and msg["statusCode"] == 204
    msg, _ = await request({}, url=server.url("/statusCode204"), ret="txt")
    assert msg["payload"] == ""


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_methods_send_the_payload(server: Server, method: str) -> None:
    msg, _ = await request({"payload": "foo", "headers": {"content-type": "text/plain"}},
                           url=server.url("/inspect"), method=method, ret="obj")
    assert msg["payload"]["method"] == method and msg["payload"]["body"] == "foo"


@pytest.mark.parametrize("method", ["head", "options", "trace"])
async def test_method_from_the_message(server: Server, method: str) -> None:
    msg, h = await request({"payload": "foo", "method": method},
                           url=server.url("/inspect"), method="use")
    assert msg["statusCode"] == 200
    if method != "head":
        assert f'"method": "{method.upper()}"' in msg["payload"]
    else:
        assert msg["payload"] == ""
    assert not h.warnings


async def test_msg_method_does_not_override_the_node(server: Server) -> None:
    msg, h = await request({"payload": "foo", "method": "POST"},
                           url=server.url("/inspect"), ret="obj")
    assert msg["payload"]["method"] == "GET"
    assert "can no longer override" in h.warnings[0]["msg"]


async def test_object_payload_is_json(server: Server) -> None:
    msg, _ = await request({"payload": {"foo": "abcde"}}, url=server.url("/inspect"),
                           method="POST", ret="obj")
    assert msg["payload"]["body"] == '{"foo":"abcde"}'
    assert msg["payload"]["headers"]["Content-Type"] == "application/json"


async def test_zero_buffer_and_typed_bodies(server: Server) -> None:
    msg, _ = await request({"payload": 0, "headers": {"content-type": "text/plain"}},
                           url=server.url("/inspect"), method="POST", ret="obj")
    assert msg["payload"]["body"] == "0"
    assert msg["payload"]["headers"]["Content-Length"] == "1"
    msg, _ = await request({"payload": {"foo": "abcde"}, "headers": {"content-type": "text/plain"}},
                           url=server.url("/inspect"), method="POST", ret="obj")
    assert msg["payload"]["body"] == '{"foo":"abcde"}'
    assert msg["payload"]["headers"]["content-type"] == "text/plain"
    msg, _ = await request({"payload": b"\x00hello"}, url=server.url("/inspect"),
                           method="POST", ret="obj")
    assert msg["payload"]["body"] == "\x00hello"
    assert "Content-Type" not in msg["payload"]["headers"]  # sent as it is, untyped


async def test_form_body(server: Server) -> None:
    msg, _ = await request(
        {"payload": {"foo": "1 2 3", "bar": ""},
         "headers": {"content-type": "application/x-www-form-urlencoded"}},
        url=server.url("/inspect"), method="POST", ret="obj")
    assert msg["payload"]["body"] == "foo=1%202%203&bar="
    assert msg["payload"]["headers"]["content-type"] == "application/x-www-form-urlencoded"


async def test_file_upload(server: Server) -> None:
    msg, _ = await request(
        {"payload": {"file": {"value": b"Hello World", "options": {"filename": "file.txt"}},
                     "other": 123}},
        url=server.url("/file-upload"), method="POST", ret="obj",
        headers=[{"keyType": "Content-Type", "keyValue": "",
                  "valueType": "multipart/form-data", "valueValue": ""}])
    assert msg["payload"] == {"body": {"other": "123"}, "files": [
        {"fieldname": "file", "originalname": "file.txt", "data": "Hello World"}]}


async def test_query_from_payload(server: Server) -> None:
    msg, _ = await request({"payload": {"a": 1, "b": [2, 3], "c": "x y"}},
                           url=server.url("/inspect"), paytoqs=True, ret="obj")
    assert msg["payload"]["url"] == "/inspect?a=1&b=2&b=3&c=x%20y"
    msg, _ = await request({"payload": {"b": 2}}, url=server.url("/inspect?a=1"),
                           paytoqs="query", ret="obj")
    assert msg["payload"]["url"] == "/inspect?a=1&b=2"
    async with FlowHarness(flow(request_node(url=server.url("/inspect"), paytoqs="query"))) as h:
        await h.inject("n1", payload="not an object")
        assert h.outputs("n1") == []
        assert h.outputs("c")[0]["error"]["message"] == "Invalid payload"


async def test_get_payload_as_body(server: Server) -> None:
    msg, _ = await request({"payload": {"a": 1}}, url=server.url("/inspect"),
                           paytoqs="body", ret="obj")
    assert msg["payload"]["body"] == '{"a":1}' and msg["payload"]["method"] == "GET"
    msg, _ = await request({"payload": {"a": 1}}, url=server.url("/inspect"), ret="obj")
    assert msg["payload"]["body"] == ""  # ignore: GET sends no body


async def test_url_from_message_and_mustache(server: Server) -> None:
    msg, _ = await request({"url": server.url("/text")})
    assert msg["payload"] == "hello"
    msg, _ = await request({"placeholder": "xt"}, url=server.url("/te{{placeholder}}"))
    assert msg["payload"] == "hello"
    msg, _ = await request({"p": "a/b c"}, url=server.url("/inspect/{{{p}}}"), ret="obj")
    assert msg["payload"]["url"] == "/inspect/a/b%20c"
    # {{p}} escapes "/" as "&#x2F;", whose "#" starts the URL's fragment (as in Node-RED).
    msg, _ = await request({"p": "a/b"}, url=server.url("/inspect/{{p}}/x"), ret="obj")
    assert msg["payload"]["url"] == "/inspect/a&"


async def test_fragment_is_not_sent_but_kept_in_the_response_url(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/inspect?a=1#part 2"), ret="obj")
    assert msg["payload"]["url"] == "/inspect?a=1"
    assert msg["responseUrl"] == server.url("/inspect?a=1#part%202")


async def test_url_without_scheme(server: Server) -> None:
    msg, _ = await request({}, url=f"localhost:{server.port}/text")
    assert msg["payload"] == "hello"
    assert msg["responseUrl"] == server.url("/text")


async def test_url_special_characters(server: Server) -> None:
    query = "?a=b&c[0].Text=T24,0°|H80%|W%20S8,3m/s"
    msg, _ = await request({"url": server.url("/inspect") + query}, ret="obj")
    assert msg["payload"]["url"] == "/inspect?a=b&c[0].Text=T24,0%C2%B0|H80%25|W%20S8,3m/s"


async def test_no_url_and_other_schemes(server: Server) -> None:
    async with FlowHarness(flow(request_node())) as h:
        await h.inject("n1", payload="foo")
        assert h.outputs("c")[0]["error"]["message"] == "No url specified"
        await h.inject("n1", url="ftp://foo")
        assert [w["msg"] for w in h.warnings] == ["non-http transport requested"]
        assert h.status("n1")["fill"] == "red"
        assert h.outputs("n1") == []
    async with FlowHarness(flow(request_node(url="ftp://foo"))) as h:
        await h.inject("n1", payload="foo")
        assert h.outputs("n1") == [] and h.warnings


async def test_error_statuses_are_results(server: Server) -> None:
    for code in (400, 404, 500):
        msg, h = await request({}, url=server.url(f"/returnError/{code}"), ret="obj")
        assert msg["statusCode"] == code and msg["payload"] == {"gotError": str(code)}
        assert h.outputs("c") == []


# --------------------------------------------------------------- redirects
async def test_redirect_is_followed(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/redirectToText"))
    assert msg["payload"] == "hello" and msg["statusCode"] == 200
    assert msg["responseUrl"] == server.url("/text")
    assert msg["redirectList"] == [{"location": server.url("/text")}]


async def test_follow_redirects_false(server: Server) -> None:
    msg, _ = await request({"followRedirects": False}, url=server.url("/redirectToText"))
    assert msg["statusCode"] == 302
    assert msg["responseUrl"] == server.url("/redirectToText")


async def test_see_other_turns_into_get(server: Server) -> None:
    msg, _ = await request({"payload": "x"}, url=server.url("/seeOther"), method="POST",
                           ret="obj")
    assert msg["payload"]["method"] == "GET" and msg["payload"]["body"] == ""


async def test_redirect_loop_is_an_error(server: Server) -> None:
    msg, h = await request({}, url=server.url("/loop"))
    assert msg["statusCode"] == "ERR_TOO_MANY_REDIRECTS"
    assert h.outputs("c")[0]["error"]["message"] == \
        "MaxRedirectsError: Redirected 21 times. Aborting."


async def test_redirect_cookies_same_domain(server: Server) -> None:
    msg, _ = await request({"cookies": {"requestCookie": "request1"}},
                           url=server.url("/redirectToSameDomain"))
    port = server.port
    assert server.cookies_seen[f"localhost:{port}/redirectToSameDomain"] == \
        {"requestCookie": "request1"}
    assert server.cookies_seen[f"localhost:{port}/redirectReturn"] == \
        {"requestCookie": "request1", "redirectToSameDomainCookie": "same1"}
    [redirect] = msg["redirectList"]
    assert redirect["location"] == server.url("/redirectReturn")
    assert redirect["cookies"]["redirectToSameDomainCookie"] == {"Path": "/", "value": "same1"}


async def test_redirect_cookies_other_domain(server: Server) -> None:
    msg, _ = await request({"headers": {"cookie": "requestCookie=request1"}},
                           url=server.url("/redirectToDifferentDomain"))
    port = server.port
    assert server.cookies_seen[f"localhost:{port}/redirectToDifferentDomain"] == \
        {"requestCookie": "request1"}
    assert server.cookies_seen[f"127.0.0.1:{port}/redirectReturn"] == {}
    assert msg["redirectList"][0]["cookies"]["redirectToDifferentDomain"]["value"] == \
        "different1"


async def test_redirected_multiple_times(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/redirectMultipleTimes"))
    first, second = msg["redirectList"]
    assert first["location"] == server.url("/redirectToDifferentDomain")
    assert first["cookies"]["redirectMultipleTimes"]["value"] == "multiple1"
    assert second["location"] == server.other("/redirectReturn")
    assert second["cookies"]["redirectToDifferentDomain"]["Path"] == "/"


# --------------------------------------------------------------- cookies
async def test_response_cookies(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/setCookie"))
    assert msg["responseCookies"] == {
        "data": {"Max-Age": "100", "Path": "/", "value": "hello"},
        "other": {"Domain": "localhost", "value": "x y"}}
    assert len(msg["headers"]["set-cookie"]) == 2


@pytest.mark.parametrize(("cookies", "expected"), [
    ({"data": "abc"}, {"data": "abc"}),
    ({"data": "abc", "foo": "bar"}, {"data": "abc", "foo": "bar"}),
    ({"data": {"value": "abc"}, "foo": {"value": "bar"}}, {"data": "abc", "foo": "bar"}),
    ({"data": ";,/?:@ &=+$#"}, {"data": "%3B%2C%2F%3F%3A%40%20%26%3D%2B%24%23"}),
    ({"data": {"value": ";,/?:@ &=+$#", "encode": True}},
     {"data": "%3B%2C%2F%3F%3A%40%20%26%3D%2B%24%23"}),
    ({"data": {"value": "!#$%&'()*+-./:<>?@[]^_`{|}~", "encode": False}},
     {"data": "!#$%&'()*+-./:<>?@[]^_`{|}~"}),
    ({"gone": None}, {}),
])
async def test_message_cookies(server: Server, cookies: dict[str, Any],
                               expected: dict[str, str]) -> None:
    msg, _ = await request({"cookies": cookies}, url=server.url("/checkCookie"), ret="obj")
    assert msg["payload"] == expected


async def test_cookies_in_headers(server: Server) -> None:
    msg, _ = await request({"cookies": {"boo": "123"},
                            "headers": {"cookie": "data=abc; foo=bar;"}},
                           url=server.url("/checkCookie"), ret="obj")
    assert msg["payload"] == {"data": "abc", "foo": "bar", "boo": "123"}


# --------------------------------------------------------------- headers
async def test_header_case_is_kept(server: Server) -> None:
    msg, _ = await request({"headers": {"Content-Type": "text/plain", "X-Test-HEAD": "foo",
                                        "If-Modified-Since": "Sun, 01 Jun 2000 00:00:00 GMT"}},
                           url=server.url("/inspect"), ret="obj")
    headers = msg["payload"]["headers"]
    assert headers["Content-Type"] == "text/plain" and headers["X-Test-HEAD"] == "foo"
    assert headers["If-Modified-Since"] == "Sun, 01 Jun 2000 00:00:00 GMT"


async def test_node_headers_win_over_message_headers(server: Server) -> None:
    msg, _ = await request(
        {"payload": {"foo": "bar"}, "dynName": "dyn-header-name", "dynValue": "dyn-value",
         "headers": {"content-type": "text/plain", "location": "london"}},
        url=server.url("/inspect"), ret="obj", headers=[
            {"keyType": "Accept", "keyValue": "", "valueType": "application/json",
             "valueValue": ""},
            {"keyType": "Content-Type", "keyValue": "", "valueType": "application/json",
             "valueValue": ""},
            {"keyType": "msg", "keyValue": "dynName", "valueType": "msg", "valueValue": "dynValue"},
            {"keyType": "other", "keyValue": "static-name", "valueType": "other",
             "valueValue": "static-value"},
            {"keyType": "Location", "keyValue": "", "valueType": "other", "valueValue": ""}])
    headers = msg["payload"]["headers"]
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json" and "content-type" not in headers
    assert headers["dyn-header-name"] == "dyn-value"
    assert headers["static-name"] == "static-value"
    assert "location" not in headers and "Location" not in headers


async def test_unchanged_response_headers_are_not_sent_again(server: Server) -> None:
    sent = {"content-type": "text/plain"}
    marked = {**sent, "x-node-red-request-node": hash_sum(sent)}
    msg, _ = await request({"payload": {"foo": "bar"}, "headers": marked},
                           url=server.url("/inspect"), method="POST", ret="obj")
    assert msg["payload"]["headers"]["Content-Type"] == "application/json"
    changed = {**sent, "x-node-red-request-node": "INVALID_SUM"}
    msg, _ = await request({"payload": {"foo": "bar"}, "headers": changed},
                           url=server.url("/inspect"), method="POST", ret="obj")
    assert msg["payload"]["headers"]["content-type"] == "text/plain"
    assert "x-node-red-request-node" not in msg["payload"]["headers"]


async def test_response_headers_are_marked(server: Server) -> None:
    msg, _ = await request({}, url=server.url("/text"))
    headers = dict(msg["headers"])
    marker = headers.pop("x-node-red-request-node")
    assert marker == hash_sum(headers)


def test_hash_sum_matches_node_red() -> None:
    # Values computed by the hash-sum package Node-RED uses.
    assert hash_sum({"content-type": "text/plain"}) == "44c4f7bf"
    assert hash_sum({"a": [1, None, {"b": 2}], "c": True, "d": 1.5, "e": "é😀"}) == "2e2182b0"


# --------------------------------------------------------------- failures
async def test_timeout_from_settings(server: Server) -> None:
    async with FlowHarness(flow(request_node(url=server.url("/timeout"))),
                           settings={"httpRequestTimeout": 50}) as h:
        h.send("n1", {"payload": "foo"})
        msg = await result(h)
        assert msg["statusCode"] == "ETIMEDOUT"
        assert msg["payload"] == ("TimeoutError: Timeout awaiting 'request' for 50ms : "
                                  + server.url("/timeout"))
        assert h.outputs("c")[0]["error"]["message"] == "no response from server"
        assert h.status("n1")["text"] == "node-red:common.notification.errors.no-response"


async def test_timeout_from_message(server: Server) -> None:
    msg, _ = await request({"requestTimeout": 50}, url=server.url("/timeout"))
    assert msg["statusCode"] == "ETIMEDOUT"
    msg, _ = await request({"requestTimeout": 5000}, url=server.url("/text"))
    assert msg["statusCode"] == 200


@pytest.mark.parametrize(("wanted", "warning"), [
    ("foo", "Timeout value is not a valid number, ignoring"),
    (-4, "Timeout value is negative, ignoring"),
    (0, "Timeout value is negative, ignoring")])
async def test_bad_request_timeouts_warn(server: Server, wanted: Any, warning: str) -> None:
    msg, h = await request({"requestTimeout": wanted}, url=server.url("/text"))
    assert msg["statusCode"] == 200
    assert [w["msg"] for w in h.warnings] == [warning]


async def test_connection_refused_is_caught_and_sent() -> None:
    port = free_port()
    async with FlowHarness(flow(request_node(url=f"http://127.0.0.1:{port}/x"))) as h:
        h.send("n1", {})
        msg = await result(h)
        assert h.status("n1") == {"fill": "red", "shape": "ring", "text": "ECONNREFUSED"}
    assert msg["statusCode"] == "ECONNREFUSED"
    assert msg["payload"] == (f"RequestError: connect ECONNREFUSED 127.0.0.1:{port} : "
                              f"http://127.0.0.1:{port}/x")
    [caught] = h.outputs("c")
    assert caught["error"]["message"] == f"RequestError: connect ECONNREFUSED 127.0.0.1:{port}"
    assert caught["error"]["source"]["id"] == "n1"


async def test_senderr_sends_failures_only_to_catch() -> None:
    async with FlowHarness(flow(request_node(url="http://nohost.invalid/x", senderr=True))) as h:
        h.send("n1", {})
        await h.wait_for(lambda: bool(h.outputs("c")), 20)
        assert h.outputs("c")[0]["error"]["message"] == \
            "RequestError: getaddrinfo ENOTFOUND nohost.invalid"
        assert h.outputs("n1") == []


async def test_catch_sees_errors_once_per_message(server: Server) -> None:
    async with FlowHarness(flow(request_node(url="http://127.0.0.1:1/x"))) as h:
        for _ in range(3):
            h.send("n1", {})
        await result(h, 3)
        assert len(h.outputs("c")) == 3


# --------------------------------------------------------------- auth
async def test_basic_auth(server: Server) -> None:
    creds = {"n1": {"user": "foo@example.com", "password": "passwordfoo"}}
    msg, _ = await request({}, creds, url=server.url("/authenticate"), ret="obj")
    assert msg["payload"] == {"user": "foo@example.com", "pass": "passwordfoo"}
    msg, _ = await request({}, url=f"http://userfoo:pw@localhost:{server.port}/authenticate",
                           ret="obj")
    assert msg["payload"] == {"user": "userfoo", "pass": "pw"}


async def test_bearer_auth(server: Server) -> None:
    msg, _ = await request({}, {"n1": {"password": "tokenfoo"}},
                           url=server.url("/authenticate"), ret="obj", authType="bearer")
    assert msg["payload"] == {"token": "tokenfoo"}


@pytest.mark.parametrize("variant", ["md5", "md5-sess", "md5-qop", "sha-256", "sha-512-256"])
async def test_digest_auth(server: Server, variant: str) -> None:
    creds = {"n1": {"user": "xxxuser", "password": DIGEST_PASSWORD}}
    msg, _ = await request({}, creds, url=server.url(f"/authenticate-digest-{variant}"),
                           authType="digest")
    assert msg["statusCode"] == 201
    creds = {"n1": {"user": "xxxuser", "password": "wrong"}}
    msg, _ = await request({}, creds, url=server.url(f"/authenticate-digest-{variant}"),
                           authType="digest")
    assert msg["statusCode"] == 401


async def test_unanswerable_digest_challenge_returns_the_401(server: Server) -> None:
    creds = {"n1": {"user": "u", "password": "p"}}
    msg, h = await request({}, creds, url=server.url("/badDigest"), authType="digest")
    assert msg["statusCode"] == 401
    assert [w["msg"] for w in h.warnings] == [
        "Digest authentication failed: Invalid digest challenge: missing nonce"]


async def test_follow_redirects_uses_javascript_truth(server: Server) -> None:
    msg, _ = await request({"followRedirects": "false"}, url=server.url("/redirectToText"))
    assert msg["statusCode"] == 200  # a non-empty string is true
    msg, _ = await request({"followRedirects": 0}, url=server.url("/redirectToText"))
    assert msg["statusCode"] == 302


# --------------------------------------------------------------- TLS
@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[int, Any]]:
    pki = make_pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
    context.load_verify_locations(pki.path("ca.pem"))
    context.verify_mode = ssl.CERT_OPTIONAL

    async def hello(request: web.Request) -> web.Response:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport else None
        return web.Response(text="hello" if not peer else "hello client")

    app = web.Application()
    app.router.add_get("/text", hello)
    runner, port = await _serve(app, context)
    yield port, pki
    await runner.cleanup()


async def test_tls_config_verifies_the_server(tls_server: tuple[int, Any]) -> None:
    port, pki = tls_server
    tls = {"id": "tls1", "type": "tls-config", "ca": pki.path("ca.pem"),
           "verifyservercert": True}
    msg, _ = await request({}, url=f"127.0.0.1:{port}/text", tls="tls1", nodes=(tls,))
    assert msg["payload"] == "hello"
    assert msg["responseUrl"] == f"https://127.0.0.1:{port}/text"


async def test_tls_client_certificate(tls_server: tuple[int, Any]) -> None:
    port, pki = tls_server
    tls = {"id": "tls1", "type": "tls-config", "ca": pki.path("ca.pem"),
           "cert": pki.path("client.pem"), "key": pki.path("client.key"),
           "verifyservercert": True}
    msg, _ = await request({}, url=f"https://127.0.0.1:{port}/text", tls="tls1", nodes=(tls,))
    assert msg["payload"] == "hello client"


async def test_self_signed_server_is_refused_unless_allowed(tls_server: tuple[int, Any]) -> None:
    port, _ = tls_server
    url = f"https://127.0.0.1:{port}/text"
    msg, h = await request({}, url=url)
    assert msg["statusCode"] in ("SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY")
    assert h.outputs("c")[0]["error"]["message"].startswith("RequestError: ")
    msg, _ = await request({"rejectUnauthorized": False}, url=url)
    assert msg["payload"] == "hello"
    msg, _ = await request({"rejectUnauthorized": "false"}, url=url)
    assert msg["payload"] == "hello"


# --------------------------------------------------------------- proxies
@dataclass
class Proxy:
    """A forward proxy that records each request; answers plain-HTTP requests itself
    (``via proxy``) and tunnels CONNECT."""

    port: int = 0
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            line, *lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (h.partition(":") for h in lines if h)}
            self.seen.append((line, headers))
            method, target, _ = line.split(" ")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                return
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            body = b"via proxy"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    recorder = Proxy()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    yield recorder
    server.close()


async def test_http_proxy_from_environment(server: Server, proxy: Proxy,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"http://alice:s3cret@127.0.0.1:{proxy.port}")
    msg, _ = await request({"payload": "foo"}, url=server.url("/text"), method="POST")
    assert msg["payload"] == "via proxy"
    line, headers = proxy.seen[0]
    assert line == f"POST {server.url('/text')} HTTP/1.1"
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()


async def test_no_proxy_bypasses_it(server: Server, proxy: Proxy,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "foo,localhost")
    msg, _ = await request({}, url=server.url("/text"))
    assert msg["payload"] == "hello" and proxy.seen == []


async def test_https_through_the_proxy_tunnels(tls_server: tuple[int, Any], proxy: Proxy,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    port, _ = tls_server
    monkeypatch.setenv("https_proxy", proxy.url.replace("http://", "http://bob:pw@"))
    msg, _ = await request({"rejectUnauthorized": False}, url=f"https://127.0.0.1:{port}/text")
    assert msg["payload"] == "hello"
    line, headers = proxy.seen[0]
    assert line == f"CONNECT 127.0.0.1:{port} HTTP/1.1"
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()


async def test_proxy_config_node(server: Server, proxy: Proxy,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")  # the node's config wins
    proxy_node = {"id": "p1", "type": "http proxy", "url": proxy.url, "noproxy": ["foo"]}
    creds = {"p1": {"username": "foouser", "password": "barpassword"}}
    msg, _ = await request({}, creds, url=server.url("/text"), proxy="p1", nodes=(proxy_node,))
    assert msg["payload"] == "via proxy"
    assert proxy.seen[0][1]["proxy-authorization"] == \
        "Basic " + base64.b64encode(b"foouser:barpassword").decode()


async def test_proxy_config_node_noproxy(server: Server, proxy: Proxy) -> None:
    proxy_node = {"id": "p1", "type": "http proxy", "url": proxy.url,
                  "noproxy": ["foo,localhost"]}
    msg, _ = await request({"url": server.url("/text")}, proxy="p1", nodes=(proxy_node,))
    assert msg["payload"] == "hello" and proxy.seen == []


async def test_missing_config_nodes_stop_the_request(server: Server) -> None:
    for key in ("tls", "proxy"):
        config = request_node(url=server.url("/text"), **{key: "gone"})
        async with FlowHarness(flow(config), settings={"strictDeploy": False}) as h:
            await h.inject("n1", payload="x")
            assert h.outputs("n1") == []
            assert "'gone' is not deployed" in h.outputs("c")[0]["error"]["message"]


async def test_bad_proxy_url_is_a_config_error() -> None:
    proxy_node = {"id": "p1", "type": "http proxy", "url": "socks5://x:1080"}
    with pytest.raises(DeployError, match="'socks5://x:1080' is not an http:// or https:// URL"):
        async with FlowHarness(flow(request_node(url="http://x/", proxy="p1"), proxy_node)):
            pass


def test_proxy_for_url_rules() -> None:
    env = {"http_proxy": "http://p:3128", "HTTPS_PROXY": "sp:8080",
           "no_proxy": "internal.example, .corp, *.lan, host:81"}
    assert proxy_for_url("http://example.com/x", env) == "http://p:3128"
    assert proxy_for_url("https://example.com/x", env) == "https://sp:8080"
    assert proxy_for_url("http://internal.example/", env) == ""
    assert proxy_for_url("http://a.corp/", env) == ""
    assert proxy_for_url("http://b.lan/", env) == ""
    assert proxy_for_url("http://host:81/", env) == ""
    assert proxy_for_url("http://host:80/", env) == "http://p:3128"
    assert proxy_for_url("http://x/", {"http_proxy": "http://p:1", "no_proxy": "*"}) == ""
    assert proxy_for_url("ftp://x/", env) == ""


# --------------------------------------------------------------- the pool
async def test_one_session_opened_on_use_and_closed_with_the_last_node(server: Server) -> None:
    nodes = [request_node(url=server.url("/text")),
             {**request_node(url=server.url("/text")), "id": "n2"}]
    async with FlowHarness(flow(*nodes)) as h:
        pool = client_pool()
        assert pool.in_use and not pool.open  # nothing sent yet: no session
        h.send("n1", {})
        h.send("n2", {})
        await result(h)
        await h.wait_for(lambda: bool(h.outputs("n2")))
        assert pool.open
        await h.deploy(flow(nodes[0]), "nodes")  # n2 removed: n1 still uses the session
        assert pool.open
        await h.deploy(flow(), "nodes")
        assert not pool.open and not pool.in_use


async def test_runtime_stop_closes_the_session(server: Server) -> None:
    async with FlowHarness(flow(request_node(url=server.url("/text")))) as h:
        h.send("n1", {})
        await result(h)
        pool = client_pool()
        assert pool.open
    assert not pool.open


async def test_stop_during_a_request_cancels_it(server: Server) -> None:
    async with FlowHarness(flow(request_node(url=server.url("/timeout")))) as h:
        h.send("n1", {})
        pool = client_pool()
        await h.wait_for(lambda: pool.open)
    assert not pool.open
    # The message fails (cancelled), so a tracked delivery is not taken as done.
    assert h.outputs("n1") == []


async def test_broken_response_headers_are_accepted() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200\nContent-Type: text/plain\n\nHelloWorld")
        await writer.drain()
        writer.close()

    broken = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = broken.sockets[0].getsockname()[1]
    try:
        msg, _ = await request({}, url=f"http://127.0.0.1:{port}/", insecureHTTPParser=True)
        assert msg["payload"] == "HelloWorld"
    finally:
        broken.close()
