"""udp in and udp out: UDP datagrams, unicast, broadcast and multicast (Node-RED's 32-udp.js)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import ipaddress
import socket
import string
import struct
from typing import Any, ClassVar

from flowrt.errors import ConfigError
from flowrt.jsvalue import js_string
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, enum, show_if
from flowrt.schema import integer as integer_schema
from flowrt.schema import string as string_schema

MULTICAST_TTL = 128
_COLOR = "#c0c0c0"
_BASE64_CHARS = frozenset(string.ascii_letters + string.digits + "+/-_")


class _Datagrams(asyncio.DatagramProtocol):
    """Hands received datagrams to a callback; keeps the last send error."""

    def __init__(self, received: Any = None) -> None:
        self.received = received
        self.last_error: OSError | None = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.received is not None:
            self.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.last_error = exc


_IP_VERSIONS = {"udp4": "ipv4", "udp6": "ipv6"}


class UdpIn(Node):
    """Receives UDP datagrams on a port, optionally joining a multicast group.

    ### Outputs
    - `payload` (Buffer | string): the datagram, as a Buffer, a UTF-8 string or a Base64
      string (`datatype`).
    - `ip` (string): the sender's address.
    - `port` (number): the sender's port.
    - `fromip` (string): `ip:port`.

    ### Details
    `ipv` is `udp4` or `udp6` (an IPv6 socket also receives IPv4 datagrams, their
    addresses shown as `::ffff:a.b.c.d`). With `multicast` `"true"` the node joins
    `group`, on the interface `iface` (an interface address or name; default: the
    system's choice). A `udp out` whose local port (`outport`) is this node's port
    sends from this node's socket, so answers come from the port that was asked.

    Differences from Node-RED: two `udp in` nodes on the same port each get their own
    socket (Linux then gives unicast datagrams to one of them, multicast to both); a
    port that cannot be bound fails the node's start.

    **Note:** on some systems ports below 1024 and broadcast need root access.
    """

    type = "udp in"
    category = "network"
    inputs = 0
    outputs = 1
    color = _COLOR
    icon = "bridge"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string_schema("", title="Name"),
        "multicast": enum(["false", "true"], "false", title="Listen for", labels={
            "false": "udp messages", "true": "multicast messages"}),
        "group": show_if(string_schema("", title="Group"), multicast="true"),
        "iface": show_if(string_schema(
            "", title="Local IF", description="optional: local interface or address to bind to"),
            multicast="true"),
        "port": integer_schema("", title="On port"),
        "ipv": enum(["udp4", "udp6"], "udp4", title="Using", labels=_IP_VERSIONS),
        "datatype": enum(["buffer", "utf8", "base64"], "buffer", title="Output", labels={
            "buffer": "a Buffer", "utf8": "a String", "base64": "a Base64 encoded string"}),
    }}
    config_when_absent: ClassVar = {"ipv": "udp4", "datatype": "buffer"}
    editor: ClassVar = {"label": "port"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.port = _port(config.get("port"), "port", allow_zero=True)
        self.ipv6 = (config.get("ipv") or "udp4") == "udp6"
        self.multicast = str(config.get("multicast")) == "true"
        self.group = str(config.get("group") or "").strip()
        if self.multicast:
            _check_group(self.group, self.ipv6, "group")
        self.iface = str(config.get("iface") or "").strip()
        self.datatype = config.get("datatype") or "buffer"
        if self.datatype not in ("buffer", "utf8", "base64"):
            raise ConfigError(f"datatype: {self.datatype!r} is not buffer, utf8 or base64")
        self.transport: asyncio.DatagramTransport | None = None
        """The socket, once started (a `udp out` with this `outport` sends through it)."""

    async def start(self) -> None:
        sock = _socket(self.ipv6)
        try:
            sock.bind(("::" if self.ipv6 else "0.0.0.0", self.port))
            if self.multicast:
                _join(sock, self.group, self.iface, self.ipv6)
        except OSError as exc:
            sock.close()
            raise OSError(_bind_error(exc, self.port)) from exc
        if self.multicast:
            self.log.info("udp multicast group %s", self.group)
            if self.iface:
                self.status({"text": f"{self.iface} : {self.iface}"})
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._received), sock=sock)
        self.log.info("udp listener at %s:%s", self.iface or sock.getsockname()[0],
                      self.bound_port)

    @property
    def bound_port(self) -> int:
        """The port bound (the OS's choice when `port` is 0)."""
        if self.transport is None:
            return self.port
        return int(self.transport.get_extra_info("sockname")[1])

    async def close(self, removed: bool) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
            self.log.info("udp listener stopped")
        self.status({})

    def _received(self, data: bytes, addr: Any) -> None:
        host, port = addr[0], addr[1]
        payload: Any = data
        if self.datatype == "utf8":
            payload = data.decode("utf-8", "replace")
        elif self.datatype == "base64":
            payload = base64.b64encode(data).decode("ascii")
        self.send({"payload": payload, "fromip": f"{host}:{port}", "ip": host, "port": port})


class UdpOut(Node):
    """Sends `msg.payload` as a UDP datagram.

    ### Inputs
    - `payload` (Buffer | string | any): what is sent: a Buffer as is, anything else as
      text; with `base64` set, a Base64 string decoded first.
    - `ip` (string): the destination address, when the node's `addr` is blank.
    - `port` (number): the destination port, when the node's `port` is blank.

    ### Details
    `multicast` chooses a plain datagram (`"false"`), a broadcast (`"board"`: send to
    the local broadcast address or 255.255.255.255) or a multicast (`"multi"`: `addr` is
    the group; `iface`, an interface address or name, is where it is sent and the group
    joined). `outport` binds the local port datagrams are sent from (blank: any); when
    a running `udp in` listens on that port, its socket is used, so a peer's answer
    reaches it. `ipv` is `udp4` or `udp6`.
    A datagram that cannot be sent is an error for catch nodes; a missing address or
    port a warning, as in Node-RED.

    Differences from Node-RED: the socket is opened on the first message (Node-RED
    waits 75 ms after deploy for `udp in` nodes to start); an `iface` also sets the
    interface multicast is sent on; Node-RED only shares a `udp in` socket's port as
    described above but also when the destination port equals it, flowrt does not.
    """

    type = "udp out"
    category = "network"
    inputs = 1
    outputs = 0
    color = _COLOR
    icon = "bridge"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string_schema("", title="Name"),
        "multicast": enum(["false", "board", "multi"], "false", title="Send a", labels={
            "false": "udp message", "board": "broadcast message",
            "multi": "multicast message"}),
        "addr": string_schema("", title="Address", description="empty: msg.ip", **{
            "x-title-by": {"key": "multicast", "titles": {
                "false": "Address", "board": "Address", "multi": "Group"}}}),
        "iface": show_if(string_schema(
            "", title="Local IF", description="optional: local interface or address to bind to"),
            multicast="multi"),
        "port": integer_schema("", title="To port", description="empty: msg.port"),
        "ipv": enum(["udp4", "udp6"], "udp4", title="Using", labels=_IP_VERSIONS),
        "outport": integer_schema("", title="Bind to local port",
                                  description="empty: a random local port"),
        "base64": boolean(False, title="Decode Base64 encoded payload?"),
    }}
    config_when_absent: ClassVar = {"ipv": "udp4", "multicast": "false"}
    editor: ClassVar = {"label": "addr", "labelAlign": "right"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.addr = str(config.get("addr") or "").strip()
        port = config.get("port")
        self.port = _port(port, "port") if port not in (None, "") else 0
        outport = config.get("outport")
        self.outport = _port(outport, "outport") if outport not in (None, "") else 0
        self.ipv6 = (config.get("ipv") or "udp4") == "udp6"
        self.mode = str(config.get("multicast") or "false")
        if self.mode not in ("false", "board", "multi"):
            raise ConfigError(f"multicast: {self.mode!r} is not false, board or multi")
        if self.mode == "multi":
            _check_group(self.addr, self.ipv6, "addr")
        self.iface = str(config.get("iface") or "").strip()
        self.base64 = as_bool(config.get("base64"))
        self._own: asyncio.DatagramTransport | None = None
        self._protocol: _Datagrams | None = None

    async def close(self, removed: bool) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
            self.log.info("udp output stopped")
        self.status({})

    async def on_input(self, msg: Message) -> None:
        if "payload" not in msg:
            return
        host = self.addr or js_string(msg.get("ip") or "")
        port: Any = self.port or msg.get("port") or 0
        if not host:
            self.warn("udp: ip address not set")
            return
        if port == 0:
            self.warn("udp: port not set")
            return
        number = as_number(port)
        if number is None or number != int(number) or not 1 <= number <= 65535:
            self.warn("udp: port number not valid")
            return
        data = _payload_bytes(msg["payload"], self.base64)
        transport, protocol = await self._transport()
        target = await self._resolve(host, int(number))
        protocol.last_error = None
        transport.sendto(data, target)
        if protocol.last_error is not None:
            raise OSError(f"udp : {protocol.last_error}")

    async def _transport(self) -> tuple[asyncio.DatagramTransport, _Datagrams]:
        if self.outport:
            for node in self.ctx.running_nodes():
                if isinstance(node, UdpIn) and node.transport is not None \
                        and node.bound_port == self.outport:
                    protocol = node.transport.get_protocol()
                    assert isinstance(protocol, _Datagrams)
                    return node.transport, protocol
        if self._own is None or self._protocol is None:
            self._own, self._protocol = await self._open()
        return self._own, self._protocol

    async def _open(self) -> tuple[asyncio.DatagramTransport, _Datagrams]:
        sock = _socket(self.ipv6)
        try:
            sock.bind(("::" if self.ipv6 else "0.0.0.0", self.outport))
            if self.mode != "false":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if self.mode == "multi":
                _multicast_sender(sock, self.addr, self.iface, self.ipv6)
        except OSError as exc:
            sock.close()
            raise OSError(_bind_error(exc, self.outport)) from exc
        if self.mode == "multi":
            self.log.info("udp multicast ready: %s:%s -> %s:%s", self.iface, self.outport,
                          self.addr, self.port)
            if self.iface:
                self.status({"text": f"{self.iface} : {self.iface}"})
        else:
            self.log.info("udp ready: %s -> %s:%s", self.outport, self.addr, self.port)
        transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            _Datagrams, sock=sock)
        return transport, protocol

    async def _resolve(self, host: str, port: int) -> tuple[Any, ...]:
        """The socket address of ``host``, resolved off the event loop when a name."""
        family = socket.AF_INET6 if self.ipv6 else socket.AF_INET
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=family, type=socket.SOCK_DGRAM)
            return tuple(infos[0][4])
        if self.ipv6 and address.version == 4:
            return (f"::ffff:{address}", port, 0, 0)
        return (host, port, 0, 0) if self.ipv6 else (host, port)


# ------------------------------------------------------------------ helpers
def _socket(ipv6: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # Node-RED's reuseAddr
    sock.setblocking(False)
    return sock


def _join(sock: socket.socket, group: str, iface: str, ipv6: bool) -> None:
    """Join the multicast ``group`` on ``iface`` (an address or interface name)."""
    if ipv6:
        index = socket.if_nametoindex(iface) if iface and not _is_address(iface) else 0
        request = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
        return
    if iface and not _is_address(iface):
        request = socket.inet_aton(group) + struct.pack(
            "@4si", socket.inet_aton("0.0.0.0"), socket.if_nametoindex(iface))
    else:
        request = socket.inet_aton(group) + socket.inet_aton(iface or "0.0.0.0")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)


def _multicast_sender(sock: socket.socket, group: str, iface: str, ipv6: bool) -> None:
    """Options of a socket sending to ``group`` (Node-RED: TTL 128, loopback off)."""
    if ipv6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, MULTICAST_TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        if iface and not _is_address(iface):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF,
                            socket.if_nametoindex(iface))
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        if iface:
            address = iface if _is_address(iface) else None
            if address is None:
                request = struct.pack("@4s4si", socket.inet_aton("0.0.0.0"),
                                      socket.inet_aton("0.0.0.0"), socket.if_nametoindex(iface))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, request)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                socket.inet_aton(address))
    _join(sock, group, iface, ipv6)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _check_group(group: str, ipv6: bool, key: str) -> None:
    try:
        address = ipaddress.ip_address(group)
    except ValueError:
        raise ConfigError(f"{key}: {group!r} is not a multicast group address") from None
    if not address.is_multicast or (address.version == 6) != ipv6:
        raise ConfigError(f"{key}: {group!r} is not an IPv{6 if ipv6 else 4} "
                          "multicast group address (Bad Multicast Address)")


def _bind_error(exc: OSError, port: int) -> str:
    if exc.errno == errno.EACCES and port < 1024:
        return "UDP access error, you may need root access for ports below 1024"
    if exc.errno == errno.EINVAL:
        return "Bad Multicast Address"
    if exc.errno == errno.ENODEV:
        return "Must be ip address of the required interface"
    code = errno.errorcode.get(exc.errno or 0, str(exc))
    return f"error: {code} (port {port}: {exc.strerror or exc})"


def _port(value: Any, key: str, allow_zero: bool = False) -> int:
    number = as_number(value)
    low = 0 if allow_zero else 1
    if number is None or number != int(number) or not low <= number <= 65535:
        raise ConfigError(f"{key}: {value!r} is not a port number ({low}-65535)")
    return int(number)


def _payload_bytes(payload: Any, from_base64: bool) -> bytes:
    # Node's Buffer.from(x, "base64") copies a Buffer as is and is lenient with text.
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if from_base64:
        text = js_string(payload)
        cleaned = "".join(c for c in text if c in _BASE64_CHARS)
        cleaned = cleaned.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except binascii.Error:
            return base64.b64decode(cleaned[: len(cleaned) - len(cleaned) % 4])
    return js_string(payload).encode("utf-8")
