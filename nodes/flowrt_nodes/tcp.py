"""tcp in, tcp out, tcp request: raw TCP sockets, as Node-RED's 31-tcpin.js."""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import os
import secrets
import socket
import ssl
import string as string_module
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.errors import ConfigError
from flowrt.jsvalue import js_string
from flowrt.messages import Message, clone_message
from flowrt.node import Node, NodeContext
from flowrt.schema import (
    as_bool,
    as_number,
    boolean,
    enum,
    integer,
    node_ref,
    show_if,
    string,
)

MAX_HELD_BYTES = 16 * 1024 * 1024
"""What one peer can make a node hold: an undelimited line, a `single` payload, a
`tcp request` reply, or unsent output. Beyond it the connection is closed."""
READ_SIZE = 65536
QUICK_RECONNECT = 0.02
"""Seconds before reconnecting after the peer ended a connection that delivered data."""
REQUEST_QUEUE_SIZE = 1000
"""Messages a `tcp request` connection queues while connecting (Node-RED's
tcpMsgQueueSize default); the oldest is dropped beyond."""
KEEPALIVE_IDLE = 120

_CONNECTING = {"fill": "grey", "shape": "dot", "text": "node-red:common.status.connecting"}
_CONNECTED = {"fill": "green", "shape": "dot", "text": "node-red:common.status.connected"}
_DISCONNECTED = {"fill": "red", "shape": "ring", "text": "node-red:common.status.disconnected"}
_COLOR = "#c0c0c0"
_ESCAPES = (("\\n", "\n"), ("\\r", "\r"), ("\\t", "\t"))
_BASE64_CHARS = frozenset(string_module.ascii_letters + string_module.digits + "+/-_")


class TcpSession:
    """One open connection of a `tcp in` node, addressed by ``msg._session.id``."""

    def __init__(self, session_id: str, writer: asyncio.StreamWriter, node: Node) -> None:
        self.id = session_id
        self.writer = writer
        self.node = node
        peer = writer.get_extra_info("peername") or ("", 0)
        self.ip: str = peer[0]
        self.port: int = peer[1]

    def write(self, data: bytes) -> None:
        """Queue ``data``; a peer that leaves too much unread is disconnected."""
        write_bytes(self.writer, data, self.node, f"{self.ip}:{self.port}")

    def destroy(self) -> None:
        """Close at once, dropping unsent data (Node-RED's ``socket.destroy()``)."""
        self.writer.transport.abort()


class TcpIn(Node):
    """Reads data from a TCP connection: listens for connections (`server: "server"`)
    or connects to a remote port (`server: "client"`).

    ### Outputs
    - `payload` (Buffer | string): the data received, as a Buffer, a UTF-8 string or a
      Base64 string (`datatype`).
    - `topic` (string): the configured `topic`.
    - `_session` (object): `{type: "tcp", id}` identifying the connection: a `tcp out` in
      *Reply to TCP* mode sends `msg.payload` back on it.
    - `ip`, `port`: the remote address (listen mode only).

    ### Details
    With `datamode` *stream* every chunk read is a message; with a UTF-8 output and a
    `newline` delimiter (`\\n`, `\\r`, `\\t` escapes allowed) the text is split at each
    delimiter (re-attached when `trim` is set) and the rest is sent when the connection
    ends. With *single* the whole connection is one message, sent when the peer closes.

    In connect mode the node reconnects after the connection is lost, after
    `socketReconnectTime` ms (settings, default 10 s), or at once if the peer closed
    after sending data. `tls` names a `tls-config` node: a client verifies the server
    with it, a server presents its certificate and key.
    A listening server closes connections idle for `socketTimeout` ms (settings; default:
    never).

    Differences from Node-RED: one peer cannot make the node hold more than 16 MiB (an
    undelimited line or a *single* payload); beyond that the connection is closed and
    an error reported. UTF-8 characters split across reads are decoded whole. A port
    that cannot be listened on fails the node's start.

    **Note:** on some systems listening on ports below 1024 needs root access.
    """

    type = "tcp in"
    category = "network"
    inputs = 0
    outputs = 1
    color = _COLOR
    icon = "bridge"
    max_held_bytes = MAX_HELD_BYTES
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "server": enum(["server", "client"], "server", title="Type",
                       labels={"server": "Listen on", "client": "Connect to"}),
        "host": show_if(string("", title="Host"), server="client"),
        "port": integer("", title="Port"),
        "tls": node_ref("tls-config", title="TLS Configuration"),
        "datamode": enum(["stream", "single"], "stream", title="Output",
                         labels={"stream": "stream of", "single": "single"}),
        "datatype": enum(["buffer", "utf8", "base64"], "buffer", title="Payload(s)", labels={
            "buffer": "Buffer", "utf8": "String", "base64": "Base64 String"}),
        "newline": show_if(string("", title="Delimited by", description="optional"),
                           datamode="stream", datatype="utf8"),
        "trim": show_if(boolean(False, title="Re-attach delimiter"),
                        datamode="stream", datatype="utf8"),
        "base64": boolean(False, title="Base64 (deprecated)", **{"x-hidden": True}),
        "topic": string("", title="Topic"),
    }}
    config_when_absent: ClassVar = {"server": "server", "datamode": "stream",
                                    "datatype": "buffer"}
    editor: ClassVar = {"label": "port"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        server = config.get("server", "server")
        self.is_server = server if isinstance(server, bool) else server == "server"
        self.host = str(config.get("host") or "")
        self.port = _port(config.get("port"), "port", allow_zero=self.is_server)
        if not self.is_server and not self.host:
            raise ConfigError("host: a host to connect to is needed in connect mode")
        self.stream = (config.get("datamode") or "stream") == "stream"
        self.datatype = config.get("datatype") or "buffer"
        if self.datatype not in ("buffer", "utf8", "base64"):
            raise ConfigError(f"datatype: {self.datatype!r} is not buffer, utf8 or base64")
        self.newline = _unescape(str(config.get("newline") or ""))
        self.trim = as_bool(config.get("trim"))
        self.topic = config.get("topic") or ""
        self.sessions: dict[str, TcpSession] = {}
        """Open connections by session id (read by `tcp out` in reply mode)."""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(self) -> None:
        if self.is_server:
            self._server = await listen(self, bind_listener(self), self._accept)
        else:
            self.create_task(self._client_loop())

    async def close(self, removed: bool) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
            self.log.info("stopped listening on port %s", self.port)
        for session in list(self.sessions.values()):
            session.writer.close()
        await finish(self._handlers)
        self.status({})

    @property
    def bound_port(self) -> int:
        """The port listened on (the OS's choice when `port` is 0)."""
        return listening_port(self._server, self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        own(self._handlers)
        keep_alive(writer)
        session = TcpSession(secrets.token_hex(8), writer, self)
        self.sessions[session.id] = session
        self.status({"text": _connections(len(self.sessions))})
        try:
            await self._read(reader, session, idle_timeout(self))
        finally:
            del self.sessions[session.id]
            writer.close()
            if not self._closing:
                self.status({"text": _connections(len(self.sessions))})

    async def _client_loop(self) -> None:
        await keep_connected(self, self.host, self.port, lambda: self._closing,
                             self._serve_connection)

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> bool:
        session = TcpSession(secrets.token_hex(8), writer, self)
        self.sessions[session.id] = session
        try:
            return await self._read(reader, session, None)
        finally:
            del self.sessions[session.id]

    async def _read(self, reader: asyncio.StreamReader, session: TcpSession,
                    idle: float | None) -> bool:
        """Turn what the peer sends into messages until it closes; True when the
        connection ended with buffered data sent (client: reconnect at once)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        lines = self.stream and self.datatype == "utf8" and self.newline != ""
        text = ""
        held = bytearray()
        where = f"{session.ip}:{session.port}"
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), idle)
            except TimeoutError:
                self.log.info("timeout closed socket port %s", self.port)
                data = b""
            except (OSError, ssl.SSLError) as exc:
                self.log.info("socket error from %s: %s", where, exc)
                data = b""
            if not data:
                break
            if not self.stream:
                held += data
                if len(held) > self.max_held_bytes:
                    self._overflow(session, "a single payload")
                    return False
            elif lines:
                text += decoder.decode(data)
                *parts, text = text.split(self.newline)
                for part in parts:
                    self._emit(part + self.newline if self.trim else part, session)
                if len(text) > self.max_held_bytes:
                    self._overflow(session, "a line without delimiter")
                    return False
            elif self.datatype == "utf8":
                chunk = decoder.decode(data)
                if chunk:
                    self._emit(chunk, session)
            else:
                self._emit(base64.b64encode(data).decode("ascii")
                           if self.datatype == "base64" else bytes(data), session)
        if lines:
            text += decoder.decode(b"", final=True)
            if text:
                self._emit(text, session)
                return True
        elif not self.stream and held:
            self._emit(_decode(bytes(held), self.datatype), session)
            return True
        return False

    def _emit(self, payload: Any, session: TcpSession) -> None:
        msg: Message = {"topic": self.topic, "payload": payload}
        if self.is_server:
            msg["ip"], msg["port"] = session.ip, session.port
        msg["_session"] = {"type": "tcp", "id": session.id}
        self.send(msg)

    def _overflow(self, session: TcpSession, what: str) -> None:
        self.error(f"{what} from {session.ip}:{session.port} exceeds "
                   f"{self.max_held_bytes} bytes: connection closed")
        session.destroy()


class TcpOut(Node):
    """Sends `msg.payload` over TCP: connects to a remote port (`beserver: "client"`),
    listens and sends to every connected client (`"server"`), or replies on the
    connection a `tcp in` message came from (`"reply"`, *Reply to TCP*).

    ### Inputs
    - `payload` (Buffer | string | any): what is sent: a Buffer as is, anything else as
      text. With `base64` set a string is Base64-decoded first.
    - `_session` (object): reply mode: the `tcp in` connection to answer. Without a
      `tcp` session the payload goes to **all** connections of every `tcp in` node.
    - `reset` (boolean): reply mode: `true` closes the session's connection (or all
      connections without `_session`) instead of sending.

    ### Details
    `end` closes the connection after each message (client mode reconnects at once;
    server mode ends every client's connection). A client reconnects after
    `socketReconnectTime` ms (settings, default 10 s); messages arriving while it is not
    connected are dropped, as in Node-RED. `tls` names a `tls-config` node.

    Differences from Node-RED: a peer that leaves more than 16 MiB unread is
    disconnected with an error; a message without payload is not sent in reply mode;
    `end` in client mode flushes what was written before closing.
    """

    type = "tcp out"
    category = "network"
    inputs = 1
    outputs = 0
    color = _COLOR
    icon = "bridge"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "beserver": enum(["client", "server", "reply"], "client", title="Type", labels={
            "client": "Connect to", "server": "Listen on", "reply": "Reply to TCP"}),
        "host": show_if(string("", title="Host"), beserver="client"),
        "port": show_if(integer("", title="Port"), beserver=["client", "server"]),
        "tls": show_if(node_ref("tls-config", title="TLS Configuration"),
                       beserver=["client", "server"]),
        "base64": boolean(False, title="Decode Base64 message?"),
        "end": show_if(boolean(False, title="Close connection after each message is sent?"),
                       beserver=["client", "server"]),
    }}
    config_when_absent: ClassVar = {"beserver": "client"}
    editor: ClassVar = {"label": "port", "labelAlign": "right"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.mode = config.get("beserver") or "client"
        if self.mode not in ("client", "server", "reply"):
            raise ConfigError(f"beserver: {self.mode!r} is not client, server or reply")
        self.host = str(config.get("host") or "")
        self.port = 0 if self.mode == "reply" else _port(
            config.get("port"), "port", allow_zero=self.mode == "server")
        if self.mode == "client" and not self.host:
            raise ConfigError("host: a host to connect to is needed in connect mode")
        self.base64 = as_bool(config.get("base64"))
        self.end = as_bool(config.get("end"))
        self._writer: asyncio.StreamWriter | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(self) -> None:
        if self.mode == "client":
            self.create_task(self._client_loop())
        elif self.mode == "server":
            sock = bind_listener(self)
            self.status({"text": _connections(0)})
            self._server = await listen(self, sock, self._accept)

    async def close(self, removed: bool) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for writer in [*self._clients, *([self._writer] if self._writer else [])]:
            writer.close()
        await finish(self._handlers)
        self.status({})

    @property
    def bound_port(self) -> int:
        """The port listened on in server mode (the OS's choice when `port` is 0)."""
        return listening_port(self._server, self.port)

    def on_input(self, msg: Message) -> None:
        if self.mode == "reply":
            self._reply(msg)
            return
        payload = msg.get("payload")
        if payload is None:
            return
        data = to_bytes(payload, self.base64)
        if self.mode == "client":
            writer = self._writer
            if writer is None:
                return
            write_bytes(writer, data, self, f"{self.host}:{self.port}")
            if self.end:
                self.status({})
                writer.close()
            return
        for client in list(self._clients):
            write_bytes(client, data, self, _peer(client))
            if self.end:
                client.close()

    def _reply(self, msg: Message) -> None:
        session = msg.get("_session")
        reset = msg.get("reset") is True
        if isinstance(session, dict) and session.get("type") == "tcp":
            found = self._session(session.get("id"))
            targets = [found] if found is not None else []
        else:  # no tcp session (none, or another protocol's): every connection
            targets = [s for node in self.ctx.running_nodes() if isinstance(node, TcpIn)
                       for s in list(node.sessions.values())]
        if reset:
            for target in targets:
                target.destroy()
            return
        if msg.get("payload") is None:
            return
        data = to_bytes(msg["payload"], self.base64)
        for target in targets:
            target.write(data)

    def _session(self, session_id: Any) -> TcpSession | None:
        for node in self.ctx.running_nodes():
            if isinstance(node, TcpIn) and session_id in node.sessions:
                return node.sessions[session_id]
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        own(self._handlers)
        keep_alive(writer)
        self.log.info("connection from %s", _peer(writer))
        self._clients.add(writer)
        self.status({"text": _connections(len(self._clients))})
        try:
            await discard_until_closed(reader, idle_timeout(self))
        finally:
            self._clients.discard(writer)
            writer.close()
            self.log.info("connection closed from %s", _peer(writer))
            if not self._closing:
                self.status({"text": _connections(len(self._clients))})

    async def _client_loop(self) -> None:
        await keep_connected(self, self.host, self.port, lambda: self._closing,
                             self._serve_connection)

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> bool:
        self._writer = writer
        try:
            await discard_until_closed(reader, None)
        finally:
            self._writer = None
        return writer.is_closing()  # we ended it (`end`): reconnect at once


class _Request:
    """One `tcp request` connection (by host:port) and what it has received."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.queue: deque[tuple[Message, asyncio.Future[None]]] = deque()
        self.connecting = False
        self.writer: asyncio.StreamWriter | None = None
        self.last_msg: Message = {}
        self.held = bytearray()
        self.text = ""
        self.timer: TimerHandle | None = None


class TcpRequest(Node):
    """Sends `msg.payload` to a TCP server and returns its answer.

    ### Inputs
    - `payload` (Buffer | string): what is sent (other types as text).
    - `host`, `port`: the server, when the node's `server`/`port` are blank.
    - `reset` (boolean | string): *keep connection open* mode: `true` closes every
      connection, `"host:port"` that one (a new message reconnects).

    ### Outputs
    - `payload` (Buffer | string): the answer, a Buffer or (`ret: "string"`) a string.
      The other properties are those of the last message sent on the connection.

    ### Details
    `out` says when the answer is complete and the connection closed:
    * `time`: `splitc` ms after the first byte of the answer;
    * `char`: when the byte `splitc` arrives (a character, `\\n`-style escape or `0x..`);
    * `count`: after `splitc` bytes;
    * `sit`: never: every chunk received is a message (split at `newline` for a string
      result, re-attached with `trim`);
    * `immed`: no answer expected: the connection is closed once the data is sent.

    Messages arriving while the connection opens are queued (up to 1000, the oldest
    dropped with an error) and sent together. A message completes once written.

    Differences from Node-RED: an answer may be up to 16 MiB (Node-RED keeps 64 KiB and
    silently drops the rest; beyond 16 MiB flowrt closes the connection with an error);
    the `tls-config` node's `verifyservercert` is honoured (Node-RED 4.1's tcp request
    creates its TLS socket with `rejectUnauthorized: false`); a message without host or
    port, or whose connection fails, is an error for catch nodes; `socketTimeout` does
    not apply.
    """

    type = "tcp request"
    category = "network"
    inputs = 1
    outputs = 1
    color = _COLOR
    icon = "bridge"
    max_held_bytes = MAX_HELD_BYTES
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "server": string("", title="Server", description="empty: msg.host"),
        "port": integer("", title="Port", description="empty: msg.port"),
        "tls": node_ref("tls-config", title="TLS Configuration"),
        "ret": enum(["buffer", "string"], "buffer", title="Return",
                    labels={"buffer": "Buffer", "string": "String"}),
        "out": enum(["time", "char", "count", "sit", "immed"], "time", title="Close", labels={
            "time": "after a fixed timeout of", "char": "when character received is",
            "count": "after a fixed number of characters",
            "sit": "never - keep connection open",
            "immed": "immediately - don't wait for reply"}),
        "splitc": show_if(string("0", title="Timeout (ms)", **{"x-title-by": {
            "key": "out", "titles": {"time": "Timeout (ms)", "char": "Character",
                                     "count": "Number of characters"}}}),
            out=["time", "char", "count"]),
        "newline": show_if(string("", title="Delimited by", description="optional"),
                           ret="string", out="sit"),
        "trim": show_if(boolean(False, title="Re-attach delimiter"), ret="string", out="sit"),
    }}
    config_when_absent: ClassVar = {"ret": "buffer", "out": "time"}
    editor: ClassVar = {"label": "server"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.server = str(config.get("server") or "")
        port = config.get("port")
        self.port = _port(port, "port") if port not in (None, "") else 0
        self.out = config.get("out") or "time"
        if self.out not in ("time", "char", "count", "sit", "immed"):
            raise ConfigError(f"out: {self.out!r} is not time, char, count, sit or immed")
        self.ret = config.get("ret") or "buffer"
        self.newline = _unescape(str(config.get("newline") or ""))
        self.trim = as_bool(config.get("trim"))
        self.splitc = _split_value(self.out, config.get("splitc", "0"))
        self._conns: dict[str, _Request] = {}
        self._last_key: str | None = None

    async def close(self, removed: bool) -> None:
        for conn in list(self._conns.values()):
            self._drop(conn, "tcp request closed before the message was sent")
        self.status({})

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        if "payload" in msg and not isinstance(msg["payload"], bytes | bytearray | str):
            msg["payload"] = js_string(msg["payload"])
        host = self.server or msg.get("host")
        port = self.port or msg.get("port")
        if self.out == "sit" and msg.get("reset"):
            self._reset(msg["reset"])
            if "payload" not in msg:
                return None
        key = f"{js_string(host)}:{js_string(port)}"
        if key != self._last_key:
            self.status({})
            self._last_key = key
        if not host or not port:
            raise ValueError("Host and/or port not set")
        conn = self._conns.get(key)
        if conn is None:
            conn = self._conns[key] = _Request(key)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(conn.queue) >= REQUEST_QUEUE_SIZE:
            _, dropped = conn.queue.popleft()
            dropped.set_exception(RuntimeError(
                f"{REQUEST_QUEUE_SIZE} messages wait for {key}: the oldest was dropped"))
        conn.queue.append((msg, future))
        conn.last_msg = msg
        if conn.writer is not None:
            self._flush(conn)
        elif not conn.connecting:
            conn.connecting = True
            self.create_task(self._run(conn, str(host), port))
        return future

    def _reset(self, reset: Any) -> None:
        if reset is True:
            for conn in list(self._conns.values()):
                self._discard(conn)
        elif isinstance(reset, str) and ":" in reset and reset in self._conns:
            self._discard(self._conns[reset])
        count = len(self._conns)
        self.status({"fill": "green", "shape": "ring" if count == 0 else "dot",
                     "text": _connections(count)})

    async def _run(self, conn: _Request, host: str, port: Any) -> None:
        try:
            reader, writer = await connect(self, host, _port(port, "msg.port"))
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.status({"fill": "red", "shape": "ring", "text": "node-red:common.status.error"})
            if self._conns.get(conn.key) is conn:
                del self._conns[conn.key]
            self._drop(conn, f"connect failed {conn.key}: {exc}")
            return
        conn.connecting = False
        conn.writer = writer
        self.status({"fill": "green", "shape": "dot", "text": _connections(len(self._conns))})
        self._flush(conn)
        if self.out == "immed":
            writer.close()
            self._forget(conn)
            self.status({})
            return
        try:
            while conn.writer is writer:
                try:
                    data = await reader.read(READ_SIZE)
                except (OSError, ssl.SSLError):
                    data = b""
                if not data:
                    break
                self._received(conn, data)
        finally:
            writer.close()
        if conn.writer is writer:  # the server ended the connection
            self.status({"fill": "grey", "shape": "ring",
                         "text": "node-red:common.status.disconnected"})
            conn.writer = None
            self._forget(conn)

    def _flush(self, conn: _Request) -> None:
        assert conn.writer is not None
        # What queued up while connecting goes out in one write, as one segment.
        data = b"".join(to_bytes(msg["payload"], False) for msg, _ in conn.queue
                        if msg.get("payload") is not None)
        if data:
            write_bytes(conn.writer, data, self, conn.key)
        while conn.queue:
            _, future = conn.queue.popleft()
            if not future.done():
                future.set_result(None)

    def _received(self, conn: _Request, data: bytes) -> None:
        if self.out == "sit":
            self._received_sit(conn, data)
            return
        if self.out == "time":
            conn.held += data
            if conn.timer is None:
                conn.timer = self.clock.call_later(self.splitc / 1000, self._timed_out, conn)
            self._check_held(conn, len(conn.held))
            return
        for index, byte in enumerate(data):
            if (self.out == "count" and len(conn.held) + index + 1 >= self.splitc) or (
                    self.out == "char" and byte == self.splitc):
                conn.held += data[:index + 1]
                self._answer(conn)
                return
        conn.held += data
        self._check_held(conn, len(conn.held))

    def _received_sit(self, conn: _Request, data: bytes) -> None:
        if self.ret != "string":
            self._send_payload(conn, bytes(data))
        elif not self.newline:
            self._send_payload(conn, data.decode("utf-8", "replace"))
        else:
            conn.text += data.decode("utf-8", "replace")
            *parts, conn.text = conn.text.split(self.newline)
            for part in parts:
                self._send_payload(conn, part + self.newline if self.trim else part)
            self._check_held(conn, len(conn.text))

    def _timed_out(self, conn: _Request) -> None:
        conn.timer = None
        self._answer(conn)

    def _answer(self, conn: _Request) -> None:
        held = bytes(conn.held)
        conn.held.clear()
        self._send_payload(conn, held.decode("utf-8", "replace") if self.ret == "string"
                           else held)
        self.status({})
        self._discard(conn)

    def _send_payload(self, conn: _Request, payload: Any) -> None:
        msg = clone_message(conn.last_msg)
        msg["payload"] = payload
        msg.pop("_msgid", None)
        self.send(msg)

    def _check_held(self, conn: _Request, size: int) -> None:
        if size > self.max_held_bytes:
            self.error(f"answer from {conn.key} exceeds {self.max_held_bytes} bytes: "
                       "connection closed", conn.last_msg)
            self._discard(conn)

    def _discard(self, conn: _Request) -> None:
        """Close a connection at once (Node-RED's destroy) and forget it."""
        if conn.writer is not None:
            conn.writer.transport.abort()
            conn.writer = None
        self._forget(conn)

    def _forget(self, conn: _Request) -> None:
        if self._conns.get(conn.key) is conn:
            del self._conns[conn.key]

    def _drop(self, conn: _Request, reason: str) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.writer is not None:
            conn.writer.transport.abort()
            conn.writer = None
        while conn.queue:
            _, future = conn.queue.popleft()
            if not future.done():
                future.set_exception(ConnectionError(reason))


# ------------------------------------------------------------------ helpers
def to_bytes(payload: Any, from_base64: bool) -> bytes:
    """What a TCP node writes for ``payload`` (Node-RED's Buffer rules)."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str) and from_base64:
        return _b64decode(payload)
    return js_string(payload).encode("utf-8")


def write_bytes(writer: asyncio.StreamWriter, data: bytes, node: Node, where: str) -> None:
    """Write ``data``; close the connection when the peer leaves too much unread."""
    if writer.is_closing():
        return
    if writer.transport.get_write_buffer_size() + len(data) > MAX_HELD_BYTES:
        node.error(f"{where} is not reading: more than {MAX_HELD_BYTES} bytes unsent, "
                   "connection closed")
        writer.transport.abort()
        return
    writer.write(data)


def listening_port(server: asyncio.Server | None, configured: int) -> int:
    """The port ``server`` listens on (the OS's choice for port 0), else ``configured``."""
    if server is None or not server.sockets:
        return configured
    return int(server.sockets[0].getsockname()[1])


async def keep_connected(node: Node, host: str, port: int, closing: Callable[[], bool],
                         serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[bool]]) -> None:
    """Node-RED's client mode of ``tcp in`` and ``tcp out``: connect to host:port, let
    ``serve`` have the connection until it ends, and connect again after
    ``socketReconnectTime`` (at once when ``serve`` says the end was quick), until
    ``closing()``."""
    while not closing():
        node.log.info("connecting to %s:%s", host, port)
        node.status(_CONNECTING)
        quick = False
        try:
            reader, writer = await connect(node, host, port)
        except (OSError, ssl.SSLError, ValueError) as exc:
            node.log.info("error: %s", exc)
        else:
            keep_alive(writer)
            node.log.info("connected to %s:%s", host, port)
            node.status(_CONNECTED)
            try:
                quick = await serve(reader, writer)
            finally:
                writer.close()
        if closing():
            return
        node.status(_DISCONNECTED)
        if not quick:
            node.log.info("connection lost to %s:%s", host, port)
        await node.clock.sleep(QUICK_RECONNECT if quick else reconnect_time(node))


async def discard_until_closed(reader: asyncio.StreamReader, idle: float | None) -> None:
    """Read and drop what the peer sends until it closes (or stays silent ``idle`` s)."""
    while True:
        try:
            data = await asyncio.wait_for(reader.read(READ_SIZE), idle)
        except (TimeoutError, OSError, ssl.SSLError):
            return
        if not data:
            return


async def connect(node: Node, host: str, port: int
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a client connection, with TLS when the node names a `tls-config`."""
    if not node.config.get("tls"):
        return await asyncio.open_connection(host, port, limit=READ_SIZE)
    tls_node = node.config_node("tls")
    if tls_node is None:
        raise ValueError(f"tls-config node {node.config['tls']!r} is not deployed")
    context = tls_node.ssl_context()  # type: ignore[attr-defined]
    server_name = tls_node.server_name or host  # type: ignore[attr-defined]
    return await asyncio.open_connection(host, port, ssl=context, server_hostname=server_name,
                                         limit=READ_SIZE)


def bind_listener(node: Node) -> socket.socket:
    """Bind and listen at once, on every interface (IPv6 and IPv4 where the system
    allows, as Node-RED's ``server.listen(port)``), so a client started in the same
    deploy finds the port open; OSError naming the port when it cannot."""
    port: int = node.port  # type: ignore[attr-defined]
    sock: socket.socket | None = None
    try:
        if socket.has_ipv6:
            try:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::", port))
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
        sock.listen(511)
        sock.setblocking(False)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise OSError(f"unable to listen on port {port}, error: {exc.strerror or exc}") from exc
    node.log.info("listening on port %s", sock.getsockname()[1])
    return sock


async def listen(node: Node, sock: socket.socket, handler: Any) -> asyncio.Server:
    """Serve connections on ``sock`` (bound by :func:`bind_listener`), with TLS when
    the node names a `tls-config`."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            # The node is closing and cancelled it; asyncio's stream server would log a
            # cancelled connection handler as an "Exception in callback".
            return

    try:
        context = await server_ssl_context(node) if node.config.get("tls") else None
        return await asyncio.start_server(serve, sock=sock, ssl=context, limit=READ_SIZE)
    except BaseException:
        sock.close()
        raise


async def server_ssl_context(node: Node) -> ssl.SSLContext:
    """A server context from the node's `tls-config` (its certificate and key)."""
    tls_node = node.config_node("tls")
    if tls_node is None:
        raise ValueError(f"tls-config node {node.config['tls']!r} is not deployed")
    return await asyncio.to_thread(_build_server_context, tls_node.config, tls_node.creds)


def _build_server_context(cfg: dict[str, Any], creds: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    passphrase = creds.get("passphrase") or None
    cert_data, key_data = creds.get("certdata"), creds.get("keydata")
    if cert_data:
        with tempfile.TemporaryDirectory(prefix="flowrt-tls-") as tmp:
            cert_path = _private_file(tmp, "cert.pem", str(cert_data))
            key_path = _private_file(tmp, "key.pem", str(key_data)) if key_data else None
            context.load_cert_chain(cert_path, key_path, passphrase)
    elif cfg.get("cert"):
        context.load_cert_chain(cfg["cert"], cfg.get("key") or None, passphrase)
    else:
        raise ValueError("tls-config: a server needs a certificate (cert or certdata)")
    alpn = (cfg.get("alpnprotocol") or "").strip()
    if alpn:
        context.set_alpn_protocols([alpn])
    return context


def _private_file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def own(handlers: set[asyncio.Task[Any]]) -> None:
    """Record the running connection handler (a task asyncio's server started) so the
    node's close waits for it."""
    task = asyncio.current_task()
    if task is not None:
        handlers.add(task)
        task.add_done_callback(handlers.discard)


async def finish(handlers: set[asyncio.Task[Any]]) -> None:
    """Cancel and wait for the connection handlers still running."""
    for task in list(handlers):
        task.cancel()
    if handlers:
        await asyncio.gather(*handlers, return_exceptions=True)


def keep_alive(writer: asyncio.StreamWriter) -> None:
    """TCP keep-alive after two minutes idle, as Node-RED's ``setKeepAlive(true, 120000)``."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)


def reconnect_time(node: Node) -> float:
    """Seconds before a client reconnects (setting ``socketReconnectTime``, ms)."""
    return max(0, node.ctx.settings.socket_reconnect_time) / 1000


def idle_timeout(node: Node) -> float | None:
    """Seconds a server connection may stay silent (setting ``socketTimeout``, ms)."""
    value = node.ctx.settings.socket_timeout
    return value / 1000 if value is not None and value > 0 else None


def _port(value: Any, key: str, allow_zero: bool = False) -> int:
    number = as_number(value)
    low = 0 if allow_zero else 1
    if number is None or number != int(number) or not low <= number <= 65535:
        raise ConfigError(f"{key}: {value!r} is not a port number ({low}-65535)")
    return int(number)


def _split_value(out: str, value: Any) -> int | float:
    if out == "immed":
        return -1
    text = js_string(value) if value is not None else ""
    if out != "char":
        number = as_number(text)
        if number is None or number < 0:
            raise ConfigError(f"splitc: {value!r} is not a number of "
                              f"{'milliseconds' if out == 'time' else 'bytes'}")
        return number
    escapes = {"\\n": 0x0A, "\\r": 0x0D, "\\t": 0x09, "\\e": 0x1B, "\\f": 0x0C, "\\0": 0x00}
    if text in escapes:
        return escapes[text]
    if text.startswith("0x"):
        try:
            return int(text, 16)
        except ValueError:
            raise ConfigError(f"splitc: {value!r} is not a hexadecimal byte") from None
    if not text:
        raise ConfigError("splitc: a character to wait for is needed (out: char)")
    return ord(text[0])


def _unescape(text: str) -> str:
    for escape, char in _ESCAPES:
        text = text.replace(escape, char)
    return text


def _decode(data: bytes, datatype: str) -> Any:
    if datatype == "utf8":
        return data.decode("utf-8", "replace")
    if datatype == "base64":
        return base64.b64encode(data).decode("ascii")
    return data


def _b64decode(text: str) -> bytes:
    # Node's Buffer.from(text, "base64") is lenient: it skips what is not Base64.
    cleaned = "".join(c for c in text if c in _BASE64_CHARS)
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except binascii.Error:
        return base64.b64decode(cleaned[: len(cleaned) - len(cleaned) % 4])


def _connections(count: int) -> str:
    return f"{count} connection{'' if count == 1 else 's'}"


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername") or ("?", 0)
    return f"{peer[0]}:{peer[1]}"
