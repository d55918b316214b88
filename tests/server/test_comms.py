"""The /comms queue of a browser that stops reading is bounded in bytes, and the browser
is told what it missed (issue 11, finding 10). A real server on a real socket; the
client is a raw websocket that stops reading, as a stalled browser does."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flowrt.server.app import build_context, create_app
from flowrt.server.comms import DROPPED_TOPIC
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings

BUDGET = 256 * 1024
HANDSHAKE = (b"GET /comms HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = Settings(comms_max_queue_bytes=BUDGET, debug_max_length=100)
    app = create_app(build_context(settings, tmp_path / "data"))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def stalled_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket to /comms with tiny receive buffers, not read until the test says so."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(HANDSHAKE)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def client_frame(message: object) -> bytes:
    """A short text frame as a client sends it (masked, with a zero mask)."""
    payload = orjson.dumps(message)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + bytes(4) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One unmasked server frame's payload."""
    _, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return await reader.readexactly(length)


async def test_a_client_that_stops_reading_costs_a_bounded_queue(client: TestClient) -> None:
    hub = client.app[CONTEXT].comms
    assert hub is not None
    reader, writer = await stalled_websocket(client.port)  # type: ignore[arg-type]
    writer.write(client_frame({"subscribe": "notification/runtime-state"}))
    async with asyncio.timeout(10):  # answered: the connection is registered
        assert orjson.loads(await read_frame(reader))[0]["data"]["state"] == "start"
    (connection,) = hub.connections
    big = "x" * 50_000
    for number in range(400):  # 20 MB of events
        hub.events.publish(f"status/n{number}", {"text": big, "n": number})
        await asyncio.sleep(0)  # let the writer send what the socket takes
        assert connection.queued_bytes <= BUDGET
    assert hub.queue_dropped > 300
    last_sent = None
    reported = 0
    async with asyncio.timeout(10):  # the browser reads again: told first, then the newest
        while reported < hub.queue_dropped or last_sent != 399:
            for event in orjson.loads(await read_frame(reader)):
                if event["topic"] == DROPPED_TOPIC:
                    assert event["data"]["type"] == "warning"
                    assert "not sent to this editor" in event["data"]["text"]
                    reported += event["data"]["dropped"]
                else:
                    last_sent = event["data"]["n"]
    assert reported == hub.queue_dropped == connection.dropped
    writer.close()


async def test_log_entries_on_the_debug_topic_are_cut(client: TestClient) -> None:
    ws = await client.ws_connect("/comms")
    hub = client.app[CONTEXT].comms
    assert hub is not None
    await ws.send_json({"subscribe": "notification/runtime-state"})
    assert (await ws.receive_json(timeout=10))[0]["data"]["state"] == "start"
    hub.events.publish("debug", {"level": 20, "id": "n1", "format": "string",
                                 "msg": "e" * 1_000_000})
    (event,) = await ws.receive_json(timeout=10)
    assert event["data"]["msg"] == "e" * 100 + "..."
    await ws.close()


async def test_an_event_too_big_to_queue_drops_only_itself(client: TestClient) -> None:
    hub = client.app[CONTEXT].comms
    assert hub is not None
    reader, writer = await stalled_websocket(client.port)  # type: ignore[arg-type]
    writer.write(client_frame({"subscribe": "notification/runtime-state"}))
    async with asyncio.timeout(10):
        assert orjson.loads(await read_frame(reader))[0]["data"]["state"] == "start"
    (connection,) = hub.connections
    number = 0
    while connection.queued_bytes < BUDGET // 2:  # until the stalled socket holds events back
        hub.events.publish(f"status/n{number}", {"text": "x" * 50_000})
        number += 1
        await asyncio.sleep(0)
    queued, dropped = connection.queued_bytes, connection.dropped
    hub.events.publish("status/huge", {"text": "y" * (BUDGET + 1)})
    assert (connection.queued_bytes, connection.dropped) == (queued, dropped + 1)
    writer.close()
