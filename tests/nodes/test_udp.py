"""udp in and udp out over real sockets (Node-RED's 32-udpin_spec.js and 32-udpout_spec.js
scenarios, plus outport, socket sharing, broadcast and multicast on the loopback)."""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flowrt.clock import Clock
from flowrt.errors import FlowrtError
from flowrt.testing import FlowHarness

WAIT = 5.0
GROUP = "239.255.77.77"


def harness(flow: list[dict[str, Any]]) -> FlowHarness:
    return FlowHarness(flow, clock=Clock())


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback (::1) here")


@contextmanager
def receiver(family: int = socket.AF_INET, host: str = "127.0.0.1") -> Iterator[socket.socket]:
    """A plain UDP socket to receive what udp out sends."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(WAIT)
    sock.bind((host, 0))
    try:
        yield sock
    finally:
        sock.close()


async def receive(sock: socket.socket) -> tuple[bytes, Any]:
    return await asyncio.to_thread(sock.recvfrom, 65536)


def udp_in(**config: Any) -> dict[str, Any]:
    return {"id": "in", "type": "udp in", "z": "t1", "iface": "", "port": 0, "ipv": "udp4",
            "multicast": "false", "group": "", "datatype": "buffer", "wires": [[]], **config}


def udp_out(**config: Any) -> dict[str, Any]:
    return {"id": "out", "type": "udp out", "z": "t1", "addr": "127.0.0.1", "iface": "",
            "port": "", "ipv": "udp4", "outport": "", "base64": False, "multicast": "false",
            **config}


def in_port(h: FlowHarness) -> int:
    return int(h.node("in").bound_port)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- udp in
@pytest.mark.parametrize(("family", "ipv", "host"), [
    (socket.AF_INET, "udp4", "127.0.0.1"),
    pytest.param(socket.AF_INET6, "udp6", "::1", marks=needs_ipv6),
], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize(("datatype", "expected"), [
    ("buffer", b"\x00foo\xff"), ("utf8", "\x00foo\ufffd"), ("base64", "AGZvb/8="),
])
async def test_udp_in_receives(family: int, ipv: str, host: str, datatype: str,
                               expected: Any) -> None:
    async with harness([udp_in(ipv=ipv, datatype=datatype)]) as h:
        with socket.socket(family, socket.SOCK_DGRAM) as sender:
            sender.bind((host, 0))
            sender.sendto(b"\x00foo\xff", (host, in_port(h)))
            sender_port = sender.getsockname()[1]
        await h.wait_for(lambda: bool(h.outputs("in")), WAIT)
        msg = h.outputs("in")[0]
        assert msg["payload"] == expected
        assert msg["ip"] == host and msg["port"] == sender_port
        assert msg["fromip"] == f"{host}:{sender_port}"


async def test_bad_udp_in_config_is_refused() -> None:
    with pytest.raises(FlowrtError, match=r"group: '10\.0\.0\.1' is not an IPv4 multicast"):
        async with harness([udp_in(multicast="true", group="10.0.0.1")]):
            pass
    with pytest.raises(FlowrtError, match="port"):
        async with harness([udp_in(port="")]):
            pass


# --------------------------------------------------------------------------- udp out
@pytest.mark.parametrize(("config", "payload", "expected"), [
    ({}, "foo", b"foo"),
    ({}, b"\x01\x02", b"\x01\x02"),
    ({}, 12.5, b"12.5"),
    ({"base64": True}, base64.b64encode(b"\x00bin").decode(), b"\x00bin"),
])
async def test_udp_out_sends(config: dict[str, Any], payload: Any, expected: bytes) -> None:
    with receiver() as sock:
        flow = [udp_out(port=sock.getsockname()[1], **config)]
        async with harness(flow) as h:
            await h.inject("out", payload=payload)
            data, _ = await receive(sock)
            assert data == expected
            assert not h.errors


async def test_udp_out_destination_from_msg() -> None:
    with receiver() as sock:
        async with harness([udp_out(addr="")]) as h:
            await h.inject("out", payload="hi", ip="127.0.0.1", port=sock.getsockname()[1])
            assert (await receive(sock))[0] == b"hi"


async def test_udp_out_resolves_a_host_name() -> None:
    with receiver() as sock:
        async with harness([udp_out(addr="localhost", port=sock.getsockname()[1])]) as h:
            await h.inject("out", payload="by name")
            assert (await receive(sock))[0] == b"by name"


@needs_ipv6
async def test_udp_out_ipv6() -> None:
    with receiver(socket.AF_INET6, "::1") as sock:
        async with harness([udp_out(addr="::1", ipv="udp6",
                                    port=sock.getsockname()[1])]) as h:
            await h.inject("out", payload="six")
            assert (await receive(sock))[0] == b"six"


async def test_udp_out_warns_without_address_or_port() -> None:
    async with harness([udp_out(addr="")]) as h:
        await h.inject("out", payload="x", port=9)
        await h.inject("out", payload="x", ip="127.0.0.1")
        await h.inject("out", payload="x", ip="127.0.0.1", port=70000)
        assert [w["msg"] for w in h.warnings] == [
            "udp: ip address not set", "udp: port not set", "udp: port number not valid"]


async def test_udp_out_send_error_is_a_message_error() -> None:
    with receiver() as sock:
        async with harness([udp_out(port=sock.getsockname()[1])]) as h:
            await h.inject("out", payload=b"x" * 70000)  # larger than a datagram can be
            await h.wait_for(lambda: bool(h.errors), WAIT)
            assert h.errors[0]["msg"].startswith("udp : ")


async def test_udp_out_binds_outport() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        outport = probe.getsockname()[1]
    with receiver() as sock:
        async with harness([udp_out(port=sock.getsockname()[1], outport=outport)]) as h:
            await h.inject("out", payload="from a known port")
            _, sender = await receive(sock)
            assert sender[1] == outport


async def test_round_trip_answers_from_the_listening_port() -> None:
    """udp in → udp out with outport = the udp in's port: the answer comes from that port
    and goes to msg.ip/msg.port (Node-RED shares the socket the same way)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flow = [udp_in(port=port, datatype="utf8", wires=[["out"]]),
            udp_out(addr="", outport=port)]
    async with harness(flow) as h:
        with receiver() as client:
            client.sendto(b"ping", ("127.0.0.1", port))
            data, sender = await receive(client)
            assert data == b"ping" and sender[1] == port
        assert h.payloads("in") == ["ping"]


async def test_broadcast() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(WAIT)
        sock.bind(("", 0))
        port = sock.getsockname()[1]
        async with harness([udp_out(addr="255.255.255.255", port=port,
                                    multicast="board")]) as h:
            await h.inject("out", payload="everyone")
            if h.errors:
                pytest.skip(f"broadcast refused here: {h.errors[0]['msg']}")
            assert (await receive(sock))[0] == b"everyone"


def multicast_refused() -> str | None:
    """Why multicast on the loopback does not work here (None when it does)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                            socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
    except OSError as exc:
        return f"the kernel refuses multicast on the loopback: {exc}"
    return None


needs_multicast = pytest.mark.skipif(multicast_refused() is not None,
                                     reason=multicast_refused() or "")


@needs_multicast
async def test_multicast_in_and_out_on_the_loopback() -> None:
    flow = [udp_in(multicast="true", group=GROUP, iface="127.0.0.1", datatype="utf8"),
            udp_out(addr=GROUP, multicast="multi", iface="127.0.0.1", port="")]
    async with harness(flow) as h:
        port = in_port(h)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                              socket.inet_aton("127.0.0.1"))
            sender.sendto(b"from a socket", (GROUP, port))
        await h.wait_for(lambda: h.payloads("in") == ["from a socket"], WAIT)
        await h.inject("out", payload="from udp out", port=port)
        await h.wait_for(lambda: h.payloads("in") == ["from a socket", "from udp out"], WAIT)
        assert h.status("in")["text"] == "127.0.0.1 : 127.0.0.1"
        assert not h.errors


@needs_multicast
async def test_multicast_by_interface_name() -> None:
    flow = [udp_in(multicast="true", group=GROUP, iface="lo")]
    async with harness(flow) as h:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                              struct.pack("4s", socket.inet_aton("127.0.0.1")))
            sender.sendto(b"named", (GROUP, in_port(h)))
        await h.wait_for(lambda: h.payloads("in") == [b"named"], WAIT)


async def test_bad_udp_out_config_is_refused() -> None:
    with pytest.raises(FlowrtError, match=r"addr: '127\.0\.0\.1' is not an IPv4 multicast"):
        async with harness([udp_out(multicast="multi")]):
            pass
