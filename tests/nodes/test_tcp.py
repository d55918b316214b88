"""tcp in, tcp out, tcp request over real sockets on 127.0.0.1 (Node-RED's 31-tcpin_spec.js
and 31-tcprequest_spec.js scenarios, plus reconnects, sessions, TLS and limits)."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from flowrt_nodes import tcp

from flowrt.clock import Clock
from flowrt.errors import DeployError, FlowrtError
from flowrt.testing import FlowHarness
from tests.nodes.test_mqtt_tls import make_pki

WAIT = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def harness(flow: list[dict[str, Any]], **settings: Any) -> FlowHarness:
    return FlowHarness(flow, clock=Clock(), settings={"socketReconnectTime": 50, **settings})


def tcp_in(port: int, **config: Any) -> dict[str, Any]:
    return {"id": "in", "type": "tcp in", "z": "t1", "server": "server", "host": "",
            "port": port, "datamode": "stream", "datatype": "buffer", "newline": "",
            "topic": "", "base64": False, "wires": [[]], **config}


async def send_connection(port: int, *chunks: bytes) -> None:
    """Open a connection, write each chunk (draining between), close it."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def idle(h: FlowHarness, node_id: str = "in") -> None:
    """Wait until a server node has finished with every connection."""
    await h.wait_for(lambda: not h.node(node_id).sessions, WAIT)  # type: ignore[attr-defined]


@asynccontextmanager
async def tcp_server(handler: Callable[..., Any], port: int = 0
                     ) -> AsyncIterator[asyncio.Server]:
    server = await asyncio.start_server(handler, "127.0.0.1", port)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def ack_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Node-RED's request spec server: answers every chunk with "ACK:" + chunk."""
    try:
        while data := await reader.read(65536):
            writer.write(b"ACK:" + data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


# ------------------------------------------------------------------ tcp in, listening
LISTEN_CASES = [
    ("stream buffer", {}, [[b"foo"]], [b"foo"]),
    ("stream utf8 \\n", {"datatype": "utf8", "newline": "\\n"}, [[b"foo\nbar"]],
     ["foo", "bar"]),
    ("stream utf8 o\\n", {"datatype": "utf8", "newline": "o\n"}, [[b"foo\nbar"]],
     ["fo", "bar"]),
    ("reattach o\\n", {"datatype": "utf8", "newline": "o\n", "trim": True},
     [[b"foo\nbar"]], ["foo\n", "bar"]),
    ("stream utf8 no delimiter", {"datatype": "utf8"}, [[b"foo\nbar"]], ["foo\nbar"]),
    ("stream base64", {"datatype": "base64"}, [[b"foo"]], ["Zm9v"]),
    ("single buffer", {"datamode": "single"}, [[b"foo"]], [b"foo"]),
    ("single utf8", {"datamode": "single", "datatype": "utf8", "newline": "\\n"},
     [[b"foo\nbar\nbaz"]], ["foo\nbar\nbaz"]),
    ("single base64", {"datamode": "single", "datatype": "base64"}, [[b"fo", b"o"]],
     ["Zm9v"]),
    ("multiple stream buffer", {}, [[b"foo"], [b"bar"]], [b"foo", b"bar"]),
    ("multiple delimited", {"datatype": "utf8", "newline": "\\n"},
     [[b"foo"], [b"bar\nbaz"]], ["foo", "bar", "baz"]),
    ("multiple no delimiter", {"datatype": "utf8"}, [[b"foo"], [b"bar\nbaz"]],
     ["foo", "bar\nbaz"]),
    ("multiple base64", {"datatype": "base64"}, [[b"foo"], [b"bar"]], ["Zm9v", "YmFy"]),
    ("delimiter split across chunks", {"datatype": "utf8", "newline": "\\r\\n"},
     [[b"on", b"e\r", b"\ntw", b"o\r\nthr\xc3", b"\xa9e"]], ["one", "two", "thr\u00e9e"]),
]


@pytest.mark.parametrize(("config", "connections", "expected"),
                         [case[1:] for case in LISTEN_CASES],
                         ids=[case[0] for case in LISTEN_CASES])
async def test_listen_receives(config: dict[str, Any], connections: list[list[bytes]],
                               expected: list[Any]) -> None:
    port = free_port()
    async with harness([tcp_in(port, topic="tcp-topic", **config)]) as h:
        for chunks in connections:
            await send_connection(port, *chunks)
            await idle(h)
        await h.wait_for(lambda: len(h.outputs("in")) >= len(expected), WAIT)
        assert h.payloads("in") == expected
        msg = h.outputs("in")[0]
        # The listener is dual-stack, as Node-RED's: IPv4 peers show as IPv4-mapped.
        assert msg["topic"] == "tcp-topic" and msg["ip"] == "::ffff:127.0.0.1"
        assert isinstance(msg["port"], int) and msg["_session"]["type"] == "tcp"


async def test_listen_status_counts_connections() -> None:
    port = free_port()
    async with harness([tcp_in(port)]) as h:
        _, first = await asyncio.open_connection("127.0.0.1", port)
        _, second = await asyncio.open_connection("127.0.0.1", port)
        await h.wait_for(lambda: h.status("in").get("text") == "2 connections", WAIT)
        first.close()
        await h.wait_for(lambda: h.status("in").get("text") == "1 connection", WAIT)
        second.close()
        await h.wait_for(lambda: h.status("in").get("text") == "0 connections", WAIT)


async def test_undelimited_line_is_capped_and_the_connection_closed() -> None:
    port = free_port()
    async with harness([tcp_in(port, datatype="utf8", newline="\\n")]) as h:
        h.node("in").max_held_bytes = 10  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ok\n" + b"x" * 50)
        assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed by the node
        writer.close()
        await idle(h)
        assert h.payloads("in") == ["ok"]
        assert "a line without delimiter from ::ffff:127.0.0.1" in h.errors[0]["msg"]
        assert "exceeds 10 bytes" in h.errors[0]["msg"]


async def test_single_payload_is_capped() -> None:
    port = free_port()
    async with harness([tcp_in(port, datamode="single")]) as h:
        h.node("in").max_held_bytes = 10  # type: ignore[attr-defined]
        await send_connection(port, b"y" * 11)
        await idle(h)
        assert h.payloads("in") == []
        assert "a single payload" in h.errors[0]["msg"]


async def test_idle_connections_are_closed_after_socket_timeout() -> None:
    port = free_port()
    async with harness([tcp_in(port)], socketTimeout=50):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()


async def test_port_in_use_fails_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=f"unable to listen on port {port}"):
            async with harness([tcp_in(port)]):
                pass


@pytest.mark.parametrize(("config", "problem"), [
    ({"port": "http"}, "port"),
    ({"server": "client", "host": "", "port": 80}, "host: a host to connect to"),
    ({"datatype": "hex"}, "datatype: 'hex' is not one of"),
])
async def test_bad_config_is_refused(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(FlowrtError, match=problem):
        async with harness([tcp_in(config.pop("port", 1), **config)]):
            pass


# ------------------------------------------------------------------- tcp in, connecting
def serve_and_close(*chunks: bytes) -> Callable[..., Any]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        writer.close()
    return handler


CONNECT_CASES = [
    ("stream buffer", {}, [b"foo"], [b"foo"]),
    ("stream utf8 \\n", {"datatype": "utf8", "newline": "\\n"}, [b"foo\nbar"],
     ["foo", "bar"]),
    ("stream utf8 no delimiter", {"datatype": "utf8"}, [b"foo\nbar"], ["foo\nbar"]),
    ("stream base64", {"datatype": "base64"}, [b"foo"], ["Zm9v"]),
    ("single buffer", {"datamode": "single"}, [b"fo", b"o"], [b"foo"]),
    ("single utf8", {"datamode": "single", "datatype": "utf8", "newline": "\\n"},
     [b"foo\nbar\nbaz"], ["foo\nbar\nbaz"]),
    ("single base64", {"datamode": "single", "datatype": "base64"}, [b"foo"], ["Zm9v"]),
]


@pytest.mark.parametrize(("config", "chunks", "expected"),
                         [case[1:] for case in CONNECT_CASES],
                         ids=[case[0] for case in CONNECT_CASES])
async def test_connect_receives(config: dict[str, Any], chunks: list[bytes],
                                expected: list[Any]) -> None:
    async with tcp_server(serve_and_close(*chunks)) as server:
        flow = [tcp_in(port_of(server), server="client", host="127.0.0.1", **config)]
        async with harness(flow) as h:
            # The server closes after each answer and the node connects again, so the
            # same payloads repeat; the first ones are the answer.
            await h.wait_for(lambda: len(h.outputs("in")) >= len(expected), WAIT)
            assert h.payloads("in")[:len(expected)] == expected
            msg = h.outputs("in")[0]
            assert "ip" not in msg and msg["_session"]["type"] == "tcp"


async def test_client_reconnects_after_the_server_restarts() -> None:
    port = free_port()
    open_writers: list[asyncio.StreamWriter] = []

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.append(writer)
        writer.write(b"hello")
        await reader.read()  # keep the connection until the server stops

    flow = [tcp_in(port, server="client", host="127.0.0.1")]
    async with harness(flow) as h:
        await h.wait_for(lambda: "connecting" in h.status("in").get("text", ""), WAIT)
        for expected in ([b"hello"], [b"hello", b"hello"]):
            async with tcp_server(hello, port):
                await h.wait_for(lambda: h.payloads("in") == expected, WAIT)  # noqa: B023
                assert h.status("in")["text"].endswith(".connected")
                for writer in open_writers:  # the server goes away
                    writer.close()
                open_writers.clear()
            await h.wait_for(
                lambda: h.status("in").get("text", "").endswith(".disconnected"), WAIT)


# ------------------------------------------------------------------------------ tcp out
def tcp_out(**config: Any) -> dict[str, Any]:
    return {"id": "out", "type": "tcp out", "z": "t1", "host": "", "port": "",
            "beserver": "client", "base64": False, "end": False, **config}


async def test_client_sends_payloads_and_decodes_base64() -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            await received.put(data)
        writer.close()

    async with tcp_server(collect) as server:
        flow = [tcp_out(host="127.0.0.1", port=port_of(server), base64=True)]
        async with harness(flow) as h:
            await h.wait_for(lambda: h.status("out").get("text", "").endswith(".connected"),
                             WAIT)
            await h.inject("out", payload=base64.b64encode(b"hello").decode())
            assert await asyncio.wait_for(received.get(), WAIT) == b"hello"
            await h.inject("out", payload=b"\x00\x01")  # a Buffer is sent as is
            assert await asyncio.wait_for(received.get(), WAIT) == b"\x00\x01"


async def test_client_with_end_closes_after_each_message_and_reconnects() -> None:
    connections: asyncio.Queue[bytes] = asyncio.Queue()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connections.put(await reader.read())  # everything until the node closes
        writer.close()

    async with tcp_server(collect) as server:
        flow = [tcp_out(host="127.0.0.1", port=port_of(server), end=True)]
        async with harness(flow) as h:
            for text in ("one", "two"):
                await h.wait_for(
                    lambda: h.status("out").get("text", "").endswith(".connected"), WAIT)
                await h.inject("out", payload=text)
                assert await asyncio.wait_for(connections.get(), WAIT) == text.encode()


async def test_server_sends_to_every_client() -> None:
    port = free_port()
    async with harness([tcp_out(beserver="server", port=port, end=True)]) as h:
        assert h.status("out")["text"] == "0 connections"
        first = await asyncio.open_connection("127.0.0.1", port)
        second = await asyncio.open_connection("127.0.0.1", port)
        await h.wait_for(lambda: h.status("out").get("text") == "2 connections", WAIT)
        await h.inject("out", payload=42)
        for reader, writer in (first, second):
            assert await asyncio.wait_for(reader.read(), WAIT) == b"42"  # then closed
            writer.close()
        await h.wait_for(lambda: h.status("out").get("text") == "0 connections", WAIT)


async def test_reply_goes_to_the_session_it_came_from() -> None:
    port = free_port()
    flow = [tcp_in(port, wires=[["out"]]), tcp_out(beserver="reply")]
    async with harness(flow) as h:
        a_reader, a_writer = await asyncio.open_connection("127.0.0.1", port)
        b_reader, b_writer = await asyncio.open_connection("127.0.0.1", port)
        a_writer.write(b"from a")
        assert await asyncio.wait_for(a_reader.read(100), WAIT) == b"from a"
        b_writer.write(b"from b")
        assert await asyncio.wait_for(b_reader.read(100), WAIT) == b"from b"
        # Without _session: every connection of every tcp in.
        await h.inject("out", payload="all")
        assert await asyncio.wait_for(a_reader.read(100), WAIT) == b"all"
        assert await asyncio.wait_for(b_reader.read(100), WAIT) == b"all"
        # msg.reset closes the session's connection only.
        session = h.outputs("in")[0]["_session"]
        await h.inject("out", payload="x", reset=True, _session=session)
        assert await asyncio.wait_for(a_reader.read(), WAIT) == b""
        b_writer.write(b"still here")
        assert await asyncio.wait_for(b_reader.read(100), WAIT) == b"still here"
        a_writer.close()
        b_writer.close()


async def test_request_reply_round_trip_in_one_flow() -> None:
    """tcp request → tcp in (listening) → template → tcp out (reply) → back to the request."""
    port = free_port()
    flow = [
        {"id": "req", "type": "tcp request", "z": "t1", "server": "127.0.0.1", "port": port,
         "out": "char", "splitc": "\\n", "ret": "string", "wires": [[]]},
        tcp_in(port, datatype="utf8", newline="\\n", wires=[["tpl"]]),
        {"id": "tpl", "type": "template", "z": "t1", "field": "payload", "fieldType": "msg",
         "format": "text", "syntax": "mustache", "template": "ACK:{{payload}}\n",
         "output": "str", "wires": [["out"]]},
        tcp_out(beserver="reply"),
    ]
    async with harness(flow) as h:
        await h.inject("req", payload="ping\n", topic="t")
        await h.wait_for(lambda: bool(h.outputs("req")), WAIT)
        assert h.outputs("req")[0]["payload"] == "ACK:ping\n"
        assert h.outputs("req")[0]["topic"] == "t"
        assert h.payloads("in") == ["ping"]


# -------------------------------------------------------------------------- tcp request
def request(port: Any, **config: Any) -> dict[str, Any]:
    return {"id": "req", "type": "tcp request", "z": "t1", "server": "127.0.0.1",
            "port": port, "out": "time", "splitc": "0", "wires": [[]], **config}


async def run_requests(flow: list[dict[str, Any]], messages: list[dict[str, Any]],
                       count: int = 1) -> list[dict[str, Any]]:
    async with harness(flow) as h:
        for msg in messages:
            h.send("req", msg)
        await h.settle()
        await h.wait_for(lambda: len(h.outputs("req")) >= count, WAIT)
        return h.outputs("req")


REQUEST_CASES = [
    ("time", {}, [{"payload": "foo", "topic": "bar"}], b"ACK:foo"),
    ("char", {"out": "char", "splitc": "0"}, [{"payload": "foo0bar0", "topic": "bar"}],
     b"ACK:foo0"),
    ("count", {"out": "count", "splitc": "7"}, [{"payload": "foo bar", "topic": "bar"}],
     b"ACK:foo"),
    ("sit", {"out": "sit", "splitc": "5"}, [{"payload": "foo", "topic": "bar"}],
     b"ACK:foo"),
    ("many time", {}, [{"payload": c, "topic": "bar"} for c in "foo"], b"ACK:foo"),
    ("many char", {"out": "char", "splitc": "0"},
     [{"payload": "foo0", "topic": "bar"}, {"payload": "bar0", "topic": "bar"}], b"ACK:foo0"),
    ("many count", {"out": "count", "splitc": "7"},
     [{"payload": p, "topic": "bar"} for p in ("fo", "ob", "ar")], b"ACK:foo"),
    ("many sit", {"out": "sit", "splitc": "5"},
     [{"payload": p, "topic": "bar"} for p in ("foo", "bar", "baz")], b"ACK:foobarbaz"),
    ("sit string unsplit", {"out": "sit", "ret": "string", "newline": ""},
     [{"payload": "foo", "topic": "bar"}, {"payload": "bar<A>\nfoo", "topic": "bar"}],
     "ACK:foobar<A>\nfoo"),
    ("sit string split", {"out": "sit", "ret": "string", "newline": "<A>\\n"},
     [{"payload": "foo", "topic": "bar"}, {"payload": "bar<A>\nfoo", "topic": "bar"}],
     "ACK:foobar"),
    ("sit string reattach", {"out": "sit", "ret": "string", "newline": "<A>\\n",
                             "trim": True},
     [{"payload": "foo", "topic": "bar"}, {"payload": "bar<A>\nfoo", "topic": "bar"}],
     "ACK:foobar<A>\n"),
    ("char escape", {"out": "char", "splitc": "\\n", "ret": "string"},
     [{"payload": "a\nb", "topic": "bar"}], "ACK:a\n"),
    ("char hex", {"out": "char", "splitc": "0x3a"}, [{"payload": "x", "topic": "bar"}],
     b"ACK:"),
]


@pytest.mark.parametrize(("config", "messages", "expected"),
                         [case[1:] for case in REQUEST_CASES],
                         ids=[case[0] for case in REQUEST_CASES])
async def test_request_modes(config: dict[str, Any], messages: list[dict[str, Any]],
                             expected: Any) -> None:
    async with tcp_server(ack_handler) as server:
        outputs = await run_requests([request(port_of(server), **config)], messages)
        assert outputs[0]["payload"] == expected
        assert outputs[0]["topic"] == "bar"


async def test_request_host_and_port_from_msg_and_latest_message_retained() -> None:
    async with tcp_server(ack_handler) as server:
        port = port_of(server)
        messages = [{"payload": c, "host": "127.0.0.1", "port": port, "topic": t}
                    for c, t in (("f", "bar"), ("o", "baz"), ("o", "quux"))]
        outputs = await run_requests([request("", server="")], messages)
        assert outputs[0]["payload"] == b"ACK:foo"
        assert outputs[0]["topic"] == "quux" and outputs[0]["port"] == port


async def test_sit_keeps_the_connection_and_reset_closes_it() -> None:
    connections = 0

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await ack_handler(reader, writer)

    async with tcp_server(counting) as server, \
            harness([request(port_of(server), out="sit")]) as h:
        await h.inject("req", payload="a")
        await h.wait_for(lambda: h.payloads("req") == [b"ACK:a"], WAIT)
        await h.inject("req", payload="b")
        await h.wait_for(lambda: h.payloads("req") == [b"ACK:a", b"ACK:b"], WAIT)
        assert connections == 1
        assert h.status("req")["text"] == "1 connection"
        await h.inject("req", reset=True)
        assert h.status("req") == {"fill": "green", "shape": "ring",
                                   "text": "0 connections"}
        await h.inject("req", payload="c")
        await h.wait_for(lambda: len(h.payloads("req")) == 3, WAIT)
        assert connections == 2


async def test_immed_sends_and_closes_without_an_answer() -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await received.put(await reader.read())  # until the node closes
        writer.write(b"ignored")
        writer.close()

    async with tcp_server(collect) as server, \
            harness([request(port_of(server), out="immed")]) as h:
        await h.inject("req", payload={"a": 1})
        assert await asyncio.wait_for(received.get(), WAIT) == b"[object Object]"
        await h.settle()
        assert h.outputs("req") == []


async def test_queue_limit_drops_the_oldest_with_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp, "REQUEST_QUEUE_SIZE", 10)
    async with tcp_server(ack_handler) as server, \
            harness([request(port_of(server), out="sit")]) as h:
        for index in range(11):
            h.send("req", {"payload": str(index % 10)})
        await h.wait_for(lambda: bool(h.outputs("req")), WAIT)
        assert h.payloads("req")[0] == b"ACK:1234567890"
        assert "the oldest was dropped" in h.errors[0]["msg"]


async def test_connect_failure_and_missing_host_are_errors() -> None:
    port = free_port()  # nothing listens there
    async with harness([request(port)]) as h:
        await h.inject("req", payload="x")
        await h.wait_for(lambda: bool(h.errors), WAIT)
        assert h.errors[0]["msg"].startswith(f"connect failed 127.0.0.1:{port}")
        assert h.status("req")["fill"] == "red"
    async with harness([request("", server="")]) as h:
        await h.inject("req", payload="x")
        assert h.errors[0]["msg"] == "Host and/or port not set"


async def test_answer_over_the_cap_closes_the_connection() -> None:
    async with tcp_server(serve_and_close(b"z" * 100)) as server, \
            harness([request(port_of(server), out="char", splitc="!")]) as h:
        h.node("req").max_held_bytes = 10  # type: ignore[attr-defined]
        await h.inject("req", payload="x")
        await h.wait_for(lambda: bool(h.errors), WAIT)
        assert "exceeds 10 bytes" in h.errors[0]["msg"]
        assert h.outputs("req") == []


@pytest.mark.parametrize(("config", "problem"), [
    ({"out": "char", "splitc": ""}, "splitc: a character"),
    ({"out": "time", "splitc": "soon"}, "splitc: 'soon' is not a number of milliseconds"),
    ({"out": "later"}, "out: 'later' is not one of"),
    ({"port": "99999"}, "port: '99999' is not a port number"),
])
async def test_bad_request_config_is_refused(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(FlowrtError, match=problem):
        async with harness([request(config.pop("port", 1), **config)]):
            pass


# -------------------------------------------------------------------------------- TLS
async def test_tls_listen_and_request(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    port = free_port()
    flow = [
        {"id": "server-tls", "type": "tls-config", "cert": pki.path("server.pem"),
         "key": pki.path("server.key")},
        {"id": "client-tls", "type": "tls-config", "ca": pki.path("ca.pem"),
         "servername": "broker.test"},
        tcp_in(port, tls="server-tls", datatype="utf8", wires=[["out"]]),
        tcp_out(beserver="reply"),
        request(port, out="count", splitc="5", tls="client-tls"),
    ]
    async with harness(flow) as h:
        await h.inject("req", payload="hello")
        await h.wait_for(lambda: bool(h.outputs("req")), WAIT)
        assert h.payloads("req") == [b"hello"]
        assert h.payloads("in") == ["hello"]


async def test_tls_client_refuses_an_unknown_server(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    port = free_port()
    flow = [
        {"id": "server-tls", "type": "tls-config", "cert": pki.path("server.pem"),
         "key": pki.path("server.key")},
        {"id": "client-tls", "type": "tls-config", "ca": pki.path("other-ca.pem")},
        tcp_in(port, tls="server-tls"),
        request(port, tls="client-tls"),
    ]
    async with harness(flow) as h:
        await h.inject("req", payload="hello")
        await h.wait_for(lambda: bool(h.errors), WAIT)
        assert "CERTIFICATE_VERIFY_FAILED" in h.errors[0]["msg"]


# ------------------------------------------------------------------------------- IPv6
def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback (::1) here")
async def test_ipv6_listen_and_request() -> None:
    port = free_port()
    flow = [tcp_in(port, datatype="utf8", wires=[["out"]]), tcp_out(beserver="reply"),
            request(port, server="::1", out="count", splitc="2")]
    async with harness(flow) as h:
        await h.inject("req", payload="v6")
        await h.wait_for(lambda: bool(h.outputs("req")), WAIT)
        assert h.payloads("req") == [b"v6"]
        assert h.outputs("in")[0]["ip"] == "::1"


@pytest.mark.parametrize("flow_node", [
    lambda port: tcp_in(port),
    lambda port: tcp_out(beserver="server", port=port),
])
async def test_stopping_with_clients_connected_logs_no_error(
        flow_node: Callable[[int], dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    # Found by running Node-RED's tcp examples with `flowrt run`: stopping cancelled the
    # connection handlers, which asyncio's stream server logged as "Exception in callback".
    port = free_port()
    async with harness([flow_node(port)]):
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed by the node
    writer.close()
    await asyncio.sleep(0)  # let the loop run the server's done-callbacks
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
