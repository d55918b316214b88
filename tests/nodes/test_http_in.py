"""http in and http response: real HTTP through a running server (aiohttp TestServer
around the app ``flowrt run`` serves), Node-RED's scenarios (21-httpin_spec.js)."""

from __future__ import annotations

import asyncio
import base64
import gc
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flowrt.hash_sum import hash_sum
from flowrt.runtime import Runtime
from flowrt.server.app import build_context, create_app
from flowrt.server.auth import hash_password
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings

Serve = Callable[..., Awaitable[TestClient]]

# A JavaScript function answering with what the http in node gave it: msg.res goes
# through the JavaScript engine and back, as in most Node-RED web flows.
ECHO = """
var req = msg.req;
msg.payload = {payload: Buffer.isBuffer(msg.payload) ? {buffer: msg.payload.toString("hex")}
                                                     : msg.payload,
               type: Buffer.isBuffer(msg.payload) ? "buffer" : typeof msg.payload,
               params: req.params, query: req.query, method: req.method, url: req.url,
               originalUrl: req.originalUrl, path: req.path, cookies: req.cookies,
               ip: req.ip, host: req.headers.host, xhr: req.xhr,
               files: (req.files || []).map(function (f) {
                   return {fieldname: f.fieldname, originalname: f.originalname,
                           encoding: f.encoding, mimetype: f.mimetype, size: f.size,
                           text: f.buffer.toString()}; })};
return msg;
"""


def http_in(node_id: str, url: str, wires: list[str], method: str = "get",
            **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http in", "z": "t1", "url": url, "method": method,
            "upload": False, "swaggerDoc": "", "wires": [wires], **config}


def response(node_id: str = "out", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http response", "z": "t1", "statusCode": "",
            "headers": {}, "wires": [], **config}


def function(node_id: str, code: str, wires: list[str]) -> dict[str, Any]:
    return {"id": node_id, "type": "function", "z": "t1", "func": code, "outputs": 1,
            "wires": [wires]}


def echo_flow(url: str, method: str = "get", **config: Any) -> list[dict[str, Any]]:
    return [{"id": "t1", "type": "tab"}, http_in("in", url, ["echo"], method, **config),
            function("echo", ECHO, ["out"]), response()]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start the app with ``settings``, deploy ``flows``; return its client."""
    clients: list[TestClient] = []

    async def start(flows: list[dict[str, Any]], **settings: Any) -> TestClient:
        app = create_app(build_context(Settings.from_keys(settings, "test"),
                                       tmp_path / f"data{len(clients)}"))
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        await runtime_of(client).deploy(flows)
        return client

    yield start
    for client in clients:
        await client.close()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def runtime_of(client: TestClient) -> Runtime:
    return client.app[CONTEXT].runtime


class Log:
    """Warnings (level 30) and errors (level 20) nodes report, as they come."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._added = asyncio.Event()

    def add(self, topic: str, data: Any) -> None:
        if topic == "debug" and "level" in data:
            self.entries.append(data)
            self._added.set()

    def __iter__(self) -> Any:
        return iter(self.entries)

    async def until(self, predicate: Callable[[dict[str, Any]], bool],
                    within: float = 5.0) -> dict[str, Any]:
        """The first entry ``predicate`` accepts, waiting for it (bounded)."""
        async with asyncio.timeout(within):
            while True:
                for entry in self.entries:
                    if predicate(entry):
                        return entry
                self._added.clear()
                await self._added.wait()


def logged(client: TestClient) -> Log:
    """Warnings and errors nodes report from now on."""
    log = Log()
    runtime_of(client).events.subscribe(log.add)
    return log


# ----------------------------------------------------------------- requests


async def test_get_with_params_and_query(serve: Serve) -> None:
    client = await serve(echo_flow("/user/:name"))
    answer = await client.get("/user/ada?x=1&x=2&a[b]=c&e=", headers={
        "Cookie": "session=abc%20d; j=j%3A%7B%22k%22%3A1%7D"})
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    body = await answer.json()
    assert body["payload"] == {"x": ["1", "2"], "a": {"b": "c"}, "e": ""}
    assert body["query"] == body["payload"]
    assert body["params"] == {"name": "ada"}
    assert body["method"] == "GET"
    assert body["url"] == body["originalUrl"] == "/user/ada?x=1&x=2&a%5Bb%5D=c&e="
    assert body["path"] == "/user/ada"
    assert body["cookies"] == {"session": "abc d", "j": {"k": 1}}
    assert body["ip"] == "127.0.0.1"
    assert body["host"].startswith("127.0.0.1:")
    assert body["xhr"] is False


async def test_url_without_slash_and_head(serve: Serve) -> None:
    client = await serve(echo_flow("plain"))
    answer = await client.get("/plain")
    assert answer.status == 200
    head = await client.head("/plain")
    assert head.status == 200 and await head.read() == b""


BODIES = [
    ("application/json", b'{"a": [1, 2]}', "object", {"a": [1, 2]}),
    ("application/json", b"", "object", {}),
    ("application/x-www-form-urlencoded", b"a=1&b=x+y&b=z&c[d]=e", "object",
     {"a": "1", "b": ["x y", "z"], "c": {"d": "e"}}),
    ("text/plain", "héllo".encode(), "string", "héllo"),
    ("application/xml", b"<a/>", "string", "<a/>"),
    ("application/octet-stream", b"\x00\x01", "buffer", {"buffer": "0001"}),
    ("image/png", b"PNG", "buffer", {"buffer": "504e47"}),
    ("application/vnd.x+json", b'{"a":1}', "string", '{"a":1}'),
    ("application/foo", b"\xff\xfe", "buffer", {"buffer": "fffe"}),
    (None, b"no type", "string", "no type"),
]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
async def test_bodies_parsed_by_content_type(serve: Serve, method: str) -> None:
    client = await serve(echo_flow("/data", method))
    for content_type, body, kind, payload in BODIES:
        headers = {"Content-Type": content_type} if content_type else {}
        answer = await client.request(method.upper(), "/data", data=body, headers=headers,
                                      skip_auto_headers=["Content-Type"])
        assert answer.status == 200, await answer.text()
        echoed = await answer.json()
        assert (echoed["type"], echoed["payload"]) == (kind, payload), content_type
        assert echoed["method"] == method.upper()


async def test_a_request_without_a_body_is_an_empty_string(serve: Serve) -> None:
    # No Content-Length and no Transfer-Encoding: body-parser skips it, even for JSON.
    client = await serve(echo_flow("/data", "post"))
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"payload":""' in answer and b'"type":"string"' in answer


async def test_skip_body_parsing_gives_bytes(serve: Serve) -> None:
    client = await serve(echo_flow("/raw", "post", skipBodyParsing=True))
    answer = await client.post("/raw", json={"a": 1})
    echoed = await answer.json()
    assert echoed["type"] == "buffer"
    assert bytes.fromhex(echoed["payload"]["buffer"]) == b'{"a": 1}'


async def test_bad_json_is_refused_with_a_warning(serve: Serve) -> None:
    client = await serve(echo_flow("/data", "post"))
    log = logged(client)
    for body in (b"{nope", b'"just a string"'):
        answer = await client.post("/data", data=body,
                                   headers={"Content-Type": "application/json"})
        assert answer.status == 400
    assert any("POST /data" in entry["msg"] for entry in log)


async def test_a_body_beyond_api_max_length_is_refused(serve: Serve) -> None:
    client = await serve(echo_flow("/data", "post"), apiMaxLength=1000)
    answer = await client.post("/data", data=b"x" * 2000,
                               headers={"Content-Type": "text/plain"})
    assert answer.status == 413


async def test_file_upload(serve: Serve) -> None:
    client = await serve(echo_flow("/upload", "post", upload=True))
    form = aiohttp.FormData()
    form.add_field("title", "report")
    form.add_field("file", b"line 1\nline 2", filename="notes.txt",
                   content_type="text/plain")
    form.add_field("file", b"\x00", filename="b.bin")
    answer = await client.post("/upload", data=form)
    assert answer.status == 200, await answer.text()
    echoed = await answer.json()
    assert echoed["payload"] == {"title": "report"}
    assert echoed["files"] == [
        {"fieldname": "file", "originalname": "notes.txt", "encoding": "7bit",
         "mimetype": "text/plain", "size": 13, "text": "line 1\nline 2"},
        {"fieldname": "file", "originalname": "b.bin", "encoding": "7bit",
         "mimetype": "application/octet-stream", "size": 1, "text": "\x00"}]


async def test_multipart_without_upload_is_raw_bytes(serve: Serve) -> None:
    client = await serve(echo_flow("/upload", "post"))
    form = aiohttp.FormData()
    form.add_field("file", b"abc", filename="a.txt")
    echoed = await (await client.post("/upload", data=form)).json()
    assert echoed["type"] == "buffer"


# ----------------------------------------------------------------- responses


def answer_flow(code: str, **config: Any) -> list[dict[str, Any]]:
    return [{"id": "t1", "type": "tab"}, http_in("in", "/r", ["f"]),
            function("f", code, ["out"]), response(**config)]


@pytest.mark.parametrize(("code", "content_type", "body"), [
    ("msg.payload = 'hello';", "text/html; charset=utf-8", b"hello"),
    ("msg.payload = 42;", "text/html; charset=utf-8", b"42"),
    ("msg.payload = [1, 'a'];", "application/json; charset=utf-8", b'[1,"a"]'),
    ("msg.payload = null;", "application/json; charset=utf-8", b"null"),
    ("msg.payload = Buffer.from([1, 2]);", "application/octet-stream", b"\x01\x02"),
    ("delete msg.payload;", None, b""),
    ("msg.payload = 'x'; msg.headers = {'content-type': 'text/plain'};",
     "text/plain; charset=utf-8", b"x"),
    ("msg.payload = {a: 1}; msg.headers = {'Content-Type': 'application/vnd.a+json'};",
     "application/vnd.a+json; charset=utf-8", b'{"a":1}'),
])
async def test_payload_types(serve: Serve, code: str, content_type: str | None,
                             body: bytes) -> None:
    client = await serve(answer_flow(code + "\nreturn msg;"))
    answer = await client.get("/r")
    assert answer.status == 200
    assert answer.headers.get("Content-Type") == content_type
    assert await answer.read() == body
    assert answer.headers["Content-Length"] == str(len(body))


async def test_jsonp_callback_as_express(serve: Serve) -> None:
    client = await serve(answer_flow("msg.payload = {a: 1}; return msg;"))
    answer = await client.get("/r?callback=cb")
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert await answer.text() == "/**/ typeof cb === 'function' && cb({\"a\":1});"


async def test_status_and_headers_from_msg_and_node(serve: Serve) -> None:
    code = ("msg.payload = 'made'; msg.statusCode = 201;"
            "msg.headers = {'X-From-Msg': 'm', 'X-Both': 'msg', 'X-Many': ['1', '2']};"
            "return msg;")
    client = await serve(answer_flow(code))
    answer = await client.get("/r")
    assert answer.status == 201
    assert answer.headers["X-From-Msg"] == "m"
    assert answer.headers.getall("X-Many") == ["1", "2"]

    # Set in the node, a status or header cannot be overridden by the message.
    client = await serve(answer_flow(code, statusCode="202", headers={"X-Both": "node"}))
    answer = await client.get("/r")
    assert answer.status == 202
    assert answer.headers["X-Both"] == "node"
    assert answer.headers["X-From-Msg"] == "m"


async def test_headers_of_an_http_request_response_are_not_sent_back(serve: Serve) -> None:
    headers = {"x-upstream": "1", "content-type": "text/csv"}
    code = (f"msg.payload = 'x'; msg.headers = {headers!r};"
            f"msg.headers['x-node-red-request-node'] = {hash_sum(headers)!r}; return msg;")
    answer = await (await serve(answer_flow(code))).get("/r")
    assert "x-upstream" not in answer.headers
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


async def test_cookies_set_and_cleared(serve: Serve) -> None:
    code = """msg.payload = 'ok';
    msg.cookies = {plain: 'nick', session: {value: '1234', maxAge: 900000, httpOnly: true,
                                            domain: 'example.com', sameSite: 'lax'},
                   json: {value: {a: 1}}, gone: null,
                   gone2: {value: null, path: '/x'}};
    return msg;"""
    answer = await (await serve(answer_flow(code))).get("/r")
    cookies = answer.headers.getall("Set-Cookie")
    assert cookies[0] == "plain=nick; Path=/"
    assert cookies[1].startswith("session=1234; Max-Age=900; Domain=example.com; Path=/; "
                                 "Expires=")
    assert cookies[1].endswith(" GMT; HttpOnly; SameSite=Lax")
    assert cookies[2] == "json=j%3A%7B%22a%22%3A1%7D; Path=/"
    assert cookies[3] == "gone=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert cookies[4] == "gone2=; Path=/x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


async def test_etag_and_not_modified(serve: Serve) -> None:
    client = await serve(answer_flow("msg.payload = 'same'; return msg;"))
    first = await client.get("/r")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"4-')
    again = await client.get("/r", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""


async def test_a_cloned_message_answers_the_same_request_once(serve: Serve) -> None:
    # http in wired to two http response nodes: the second gets a clone of the message.
    flows = [{"id": "t1", "type": "tab"}, http_in("in", "/twice", ["out", "out2"]),
             response(), response("out2"),
             {"id": "c", "type": "catch", "z": "t1", "scope": None, "wires": [["f"]]},
             function("f", "flow.set('caught', msg.error.message); return null;", [])]
    client = await serve(flows)
    log = logged(client)
    answer = await client.get("/twice?a=1")
    assert answer.status == 200 and await answer.json() == {"a": "1"}
    error = await log.until(lambda entry: entry["level"] == 20)
    assert error["msg"] == "Cannot set headers after they are sent to the client"
    assert error["id"] == "out2"
    caught = runtime_of(client).get_node("f")
    assert caught is not None
    # The catch node saw it too.
    await _until(lambda: caught.ctx.flow_context.get("caught") is not None)
    assert caught.ctx.flow_context.get("caught") == error["msg"]


@pytest.mark.parametrize(("code", "error"), [
    ("msg.headers = {'bad name': 'x'};", 'Header name must be a valid HTTP token ["bad name"]'),
    ("msg.headers = {'X-A': 'a\\r\\nSet-Cookie: x=1'};",
     'Invalid character in header content ["X-A"]'),
    ("msg.statusCode = 1000;", "Invalid status code: 1000"),
    ("msg.cookies = {'bad name': 'x'};", "cookie name 'bad name' is invalid"),
])
async def test_a_response_that_cannot_be_sent_is_the_nodes_error(serve: Serve, code: str,
                                                                 error: str) -> None:
    client = await serve(answer_flow(code + " msg.payload = 'x'; return msg;"),
                         httpRequestTimeout=300)
    log = logged(client)
    answer = await client.get("/r")
    assert answer.status == 504  # unanswered, as in Node-RED (which waits for the client)
    reported = await log.until(lambda entry: entry["level"] == 20)
    assert error in reported["msg"]


async def test_a_message_without_res_is_warned_about(serve: Serve) -> None:
    flows = [{"id": "t1", "type": "tab"},
             {"id": "i", "type": "inject", "z": "t1", "once": True, "onceDelay": 0,
              "props": [{"p": "payload"}], "payload": "", "payloadType": "date",
              "wires": [["out"]]}, response()]
    client = await serve([])
    log = logged(client)
    await runtime_of(client).deploy(flows)
    await log.until(lambda entry: entry["msg"] == "No response object")


async def test_a_flow_that_never_answers_times_out_with_504(serve: Serve) -> None:
    flows = [{"id": "t1", "type": "tab"}, http_in("in", "/void", [])]
    client = await serve(flows, httpRequestTimeout=100)
    log = logged(client)
    answer = await client.get("/void")
    assert answer.status == 504
    assert runtime_of(client).endpoints.held_count() == 0
    await log.until(lambda entry: "no http response" in entry["msg"])


# ----------------------------------------------------------------- routes


async def test_redeploy_replaces_and_removes_routes(serve: Serve) -> None:
    client = await serve(echo_flow("/first"))
    assert (await client.get("/first")).status == 200
    runtime = runtime_of(client)
    await runtime.deploy(echo_flow("/second", "post"))
    assert (await client.get("/first")).status == 404
    assert (await client.post("/second", data=b"x")).status == 200
    assert [r["path"] for r in runtime.endpoints.routes()] == ["/second"]
    await runtime.deploy(echo_flow("/third"))
    assert (await client.get("/third")).status == 200
    await runtime.deploy([{"id": "t1", "type": "tab"}])
    assert runtime.endpoints.routes() == []
    assert (await client.get("/third")).status == 404


async def test_admin_api_is_not_shadowed(serve: Serve) -> None:
    client = await serve(echo_flow("/flows"))
    flows = await client.get("/flows")
    assert flows.status == 200 and isinstance(await flows.json(), list)


async def test_routes_under_http_node_root(serve: Serve) -> None:
    client = await serve(echo_flow("/x/:id"), httpNodeRoot="/api")
    assert (await client.get("/x/1")).status == 404
    echoed = await (await client.get("/api/x/1?q=2")).json()
    assert echoed["params"] == {"id": "1"}
    assert echoed["url"] == "/x/1?q=2" and echoed["originalUrl"] == "/api/x/1?q=2"
    assert echoed["path"] == "/x/1"


# ----------------------------------------------------------------- auth and CORS


async def test_http_node_auth(serve: Serve) -> None:
    auth = {"user": "flow", "pass": hash_password("secret")}
    client = await serve(echo_flow("/private"), httpNodeAuth=auth)
    assert (await client.get("/private")).status == 401
    wrong = await client.get("/private", headers=basic("flow", "nope"))
    assert wrong.status == 401
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="Authorization Required"'
    assert (await client.get("/private",
                             headers=basic("other", "secret"))).status == 401
    for _ in range(2):  # the second is answered from the remembered password
        right = await client.get("/private", headers=basic("flow", "secret"))
        assert right.status == 200
    # The admin API has its own authentication (none here), never httpNodeAuth.
    assert (await client.get("/flows")).status == 200


async def test_http_node_cors(serve: Serve) -> None:
    cors = {"origin": "*", "methods": "GET,PUT,POST,DELETE"}
    client = await serve(echo_flow("/open"), httpNodeCors=cors)
    preflight = await client.options("/open", headers={
        "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Custom"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,PUT,POST,DELETE"
    assert preflight.headers["Access-Control-Allow-Headers"] == "X-Custom"
    actual = await client.get("/open", headers={"Origin": "http://elsewhere.example"})
    assert actual.status == 200
    assert actual.headers["Access-Control-Allow-Origin"] == "*"
    # Admin routes keep their own CORS (httpAdminCors, unset): no headers from this one.
    admin = await client.get("/flows", headers={"Origin": "http://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in admin.headers


async def test_http_node_cors_with_listed_origins_and_credentials(serve: Serve) -> None:
    cors = {"origin": ["http://a.example"], "credentials": True}
    client = await serve(echo_flow("/open"), httpNodeCors=cors,
                         httpNodeAuth={"user": "u", "pass": hash_password("p")})
    allowed = await client.options("/open", headers={"Origin": "http://a.example"})
    assert allowed.status == 204  # no authentication for OPTIONS, as Node-RED
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://a.example"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in allowed.headers["Vary"]
    refused = await client.get("/open", headers={"Origin": "http://b.example",
                                                 **basic("u", "p")})
    assert refused.status == 200
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_bad_http_node_settings_are_refused() -> None:
    from flowrt.settings import SettingsError

    md5 = "5f4dcc3b5aa765d61d8327deb882cf99"  # Node-RED's legacy hashes: refused
    with pytest.raises(SettingsError, match=r"httpNodeAuth\.pass"):
        Settings.from_keys({"httpNodeAuth": {"user": "u", "pass": md5}}, "test")
    with pytest.raises(SettingsError, match=r"httpNodeCors\.origin"):
        Settings.from_keys({"httpNodeCors": {"origin": 5}}, "test")


# ----------------------------------------------------------------- memory


async def test_memory_stays_flat_over_2000_requests(serve: Serve) -> None:
    flows = [{"id": "t1", "type": "tab"}, http_in("in", "/bench", ["f"]),
             {"id": "f", "type": "change", "z": "t1", "rules": [
                 {"t": "set", "p": "payload", "pt": "msg", "to": '{"ok":true}',
                  "tot": "json"}], "wires": [["out"]]}, response()]
    client = await serve(flows)
    url = client.make_url("/bench")
    async with aiohttp.ClientSession() as session:

        async def run(count: int) -> None:
            async def worker(n: int) -> None:
                for _ in range(n):
                    async with session.get(url) as answer:
                        assert answer.status == 200
                        assert await answer.json() == {"ok": True}
            await asyncio.gather(*(worker(count // 8) for _ in range(8)))

        await run(400)  # warm-up: caches, connection pool, interned strings
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await run(2000)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert runtime_of(client).endpoints.held_count() == 0
    # A leak of even 1 KB per request would be 2 MB.
    assert grown < 1_000_000, f"memory grew by {grown} bytes over 2000 requests"


# ----------------------------------------------------------------- helpers


def test_hash_sum_matches_node_reds() -> None:
    # Values computed with the hash-sum package Node-RED 4.1 ships.
    assert hash_sum({}) == "59322f29"
    assert hash_sum({"content-type": "text/plain", "set-cookie": ["a=1", "b=2"],
                     "x": "é☃"}) == "16d4ded8"


async def _until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Let the flow run until ``predicate()`` holds (bounded)."""
    async with asyncio.timeout(within):
        for _ in iter(predicate, True):
            await asyncio.sleep(0.01)


async def test_round_trip_through_http_request_to_another_route_of_the_same_runtime(
        serve: Serve) -> None:
    # GET /front → http request to /back on the same port → http response: the answer of
    # /back (an object, its status and its headers) comes back through the front route.
    back = ("msg.payload = {doubled: Number(msg.req.query.n) * 2};"
            "msg.statusCode = 201; msg.headers = {'x-back': 'yes'}; return msg;")
    to_back = ("msg.url = 'http://' + msg.req.headers.host + '/back?n=' + msg.req.query.n;"
               "return msg;")
    flows = [{"id": "t1", "type": "tab"},
             http_in("front", "/front", ["to-back"]), function("to-back", to_back, ["req"]),
             {"id": "req", "type": "http request", "z": "t1", "method": "GET", "ret": "obj",
              "paytoqs": "ignore", "url": "", "tls": "", "persist": False, "proxy": "",
              "authType": "", "senderr": False, "headers": [], "wires": [["front-out"]]},
             response("front-out"),
             http_in("back", "/back", ["answer"]), function("answer", back, ["back-out"]),
             response("back-out")]
    client = await serve(flows)
    answer = await client.get("/front?n=21")
    # The front route answers what /back answered, with its status (msg.statusCode);
    # /back's headers came back marked by http request and unchanged, so http response
    # does not send them on (Node-RED's x-node-red-request-node hash).
    assert answer.status == 201
    assert await answer.json() == {"doubled": 42}
    assert "x-back" not in answer.headers
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert runtime_of(client).endpoints.held_count() == 0
