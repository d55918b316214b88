"""websocket-listener, websocket-client, websocket in and websocket out (Node-RED's).

A ``websocket-listener`` serves a path on the runtime's own HTTP port; a
``websocket-client`` keeps a connection to a ``ws://``/``wss://`` URL up. Every
``websocket in`` and ``websocket out`` naming one shares its endpoint. The
sockets themselves live in :mod:`flowrt.websockets`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from flowrt.errors import ConfigError
from flowrt.jsvalue import is_nan, js_string, parse_int
from flowrt.messages import Message, clone_message
from flowrt.node import Node, NodeContext
from flowrt.schema import enum, node_ref, string

if TYPE_CHECKING:
    from flowrt.websockets import Data, WebSocketClient, WebSocketServer

COLOR = "rgb(215, 215, 160)"
ICON = "white-globe"
MISSING_CONF = "Missing server configuration"
SEND_ERROR = "An error occurred while sending:"
RECONNECT_DELAY = 3.0
_URL = re.compile(r"^wss?://", re.IGNORECASE)
_WHOLEMSG = enum(["false", "true", False, True], "false", title="Send/Receive",
                 labels={"false": "payload", "true": "entire message"})

DISCONNECTED = {"fill": "red", "shape": "ring", "text": "node-red:common.status.disconnected"}
ERROR = {"fill": "red", "shape": "ring", "text": "node-red:common.status.error"}


def _connected(count: int | str) -> dict[str, Any]:
    # Node-RED's "connected __count__"; a client has no count ("connected").
    return {"fill": "green", "shape": "dot", "text": f"connected {count}".rstrip()}


class _Endpoint(Node):
    """What listener and client share: the nodes using them, messages in and out."""

    category = "config"
    inputs = 0
    outputs = 0
    icon = ICON

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.path: str = str(config.get("path") or "").strip()
        wholemsg = config.get("wholemsg")
        self.wholemsg = wholemsg is True or wholemsg == "true"
        self.users: dict[str, Node] = {}
        self._in_nodes: list[Node] = []
        self.received_frames = 0
        self._status: dict[str, Any] | None = None

    # ------------------------------------------------------------- users
    def register(self, node: Node) -> None:
        """A websocket in/out uses this endpoint; it shows the connection state."""
        self.users[node.id] = node
        if isinstance(node, WebSocketIn) and node not in self._in_nodes:
            self._in_nodes.append(node)
        if self._status is not None:
            node.status(self._status)

    def deregister(self, node: Node) -> None:
        """A websocket in/out stops using this endpoint."""
        self.users.pop(node.id, None)
        if node in self._in_nodes:
            self._in_nodes.remove(node)

    def _tell(self, status: dict[str, Any]) -> None:
        self._status = status
        for node in list(self.users.values()):
            node.status(status)

    # ------------------------------------------------ flowrt.websockets.Listener
    def ws_opened(self, connection_id: str, count: int) -> None:
        self._tell(_connected(count if self.is_server else ""))

    def ws_closed(self, connection_id: str, count: int) -> None:
        self._tell(_connected(count) if count > 0 else DISCONNECTED)

    def ws_error(self, connection_id: str, error: str) -> None:
        self._tell(ERROR)
        self._report_error(connection_id, error)

    def _report_error(self, connection_id: str, error: str) -> None:
        self.log.warning("websocket %s (%s): %s", self.label, connection_id, error)

    @property
    def label(self) -> str:
        return self.name or self.path or type(self).type

    def ws_message(self, connection_id: str, data: Data) -> None:
        self.received_frames += 1
        msg = self._message(data)
        msg["_session"] = {"type": "websocket", "id": connection_id}
        first = True
        for node in self._in_nodes:
            node.send(msg if first else clone_message(msg))
            first = False

    def _message(self, data: Data) -> Message:
        if not self.wholemsg:
            return {"payload": data}
        from flowrt.websockets import decode_json
        try:
            value = decode_json(data)
        except ValueError:
            return {"payload": data}
        # Node-RED: an object is the message; anything else its payload.
        return value if isinstance(value, dict) else {"payload": value}

    # ----------------------------------------------------------- sending
    is_server: ClassVar[bool] = True

    def frame(self, msg: Message) -> Data | None:
        """What ``websocket out`` sends for ``msg``; None for nothing (no payload)."""
        if self.wholemsg:
            from flowrt.websockets import encode_json
            return encode_json({k: v for k, v in msg.items() if k != "_session"})
        if "payload" not in msg:
            return None
        payload = msg["payload"]
        if isinstance(payload, bytes | bytearray | memoryview):
            return bytes(payload)
        if isinstance(payload, str):
            return payload or None
        if payload is None or isinstance(payload, dict | list):
            from flowrt.websockets import encode_json
            return encode_json(payload)
        return js_string(payload)

    def broadcast(self, data: Data, sender: Node) -> None:
        """Send to every connection (listener) or the one connection (client)."""
        raise NotImplementedError

    def reply(self, connection_id: str, data: Data) -> None:
        """Send to the connection a message came from, if it is still open."""


class WebSocketListener(_Endpoint):
    """Serves a websocket endpoint on the runtime's own HTTP port, at `path`.

    * `path`: the path clients connect to, under the `httpNodeRoot` setting
      (`/ws` → `ws://host:1880/ws`).
    * `wholemsg`: `"false"` (default) exchanges `msg.payload` only; `"true"` the whole
      message as JSON.

    Every `websocket in` and `websocket out` using the listener shares the endpoint;
    two listeners on one path are an error. Any subprotocol a client asks for is
    accepted (its first), as Node-RED's server does. The nodes using it show
    `connected N` (N open connections) or `disconnected`.

    Limits (flowrt): a frame from a client is at most 16 MiB (a bigger one closes the
    connection, code 1009). A frame is written to the socket at once while it has
    room; a client that reads too slowly is disconnected, with a warning, once
    10000 messages or 16 MiB wait to be sent to it. Connections are
    closed (code 1001) when the listener stops or is redeployed. A plain HTTP `GET`
    of the path is answered 426 (Upgrade Required). The path follows `http in`'s
    matching (letter case and a trailing slash are ignored; `:name` and `*` are
    parameters), where Node-RED compares the path exactly. flowrt does not check the
    `Origin` of connections (nor does Node-RED): any web page a user opens can
    connect to a listener on a reachable port.
    """

    type = "websocket-listener"
    editor: ClassVar = {"label": "path"}
    schema: ClassVar = {"type": "object", "required": ["path"], "properties": {
        "path": string("", title="Path"),
        "wholemsg": _WHOLEMSG,
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        if not self.path:
            raise ConfigError("path is empty: set the path clients connect to, e.g. /ws")
        if _URL.match(self.path):
            raise ConfigError(f"path {self.path!r} is a URL: a websocket-listener serves a "
                              "path on this server (e.g. /ws); use a websocket-client to "
                              "connect to a URL")
        self.server: WebSocketServer | None = None

    async def start(self) -> None:
        from flowrt.websockets import WebSocketServer
        server = WebSocketServer(self.ctx.endpoints, self.path, self.id, self,
                                 self.ctx.dispatcher)
        taken = server.taken_by()
        if taken is not None:
            self.error(f"Cannot have two WebSocket listeners on the same path: {self.path}")
            return
        server.start()
        self.server = server

    async def close(self, removed: bool) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.close()
        self._tell_nothing()

    def _tell_nothing(self) -> None:
        self._status = None

    def _report_error(self, connection_id: str, error: str) -> None:
        self.warn(f"websocket client {connection_id} on {self.path}: {error}")

    @property
    def connections(self) -> int:
        """How many clients are connected."""
        return len(self.server.connections) if self.server is not None else 0

    def broadcast(self, data: Data, sender: Node) -> None:
        if self.server is not None:
            self.server.broadcast(data)

    def reply(self, connection_id: str, data: Data) -> None:
        if self.server is not None:
            self.server.reply(connection_id, data)

    def metrics(self) -> dict[str, float]:
        """Open connections and frames received."""
        return {"connections": self.connections, "received_total": self.received_frames}


class WebSocketClientConfig(_Endpoint):
    """Connects to a websocket server at `path` (a `ws://` or `wss://` URL).

    * `tls`: a `tls-config` node for `wss://` (certificates, verification, SNI).
    * `wholemsg`: `"false"` (default) exchanges `msg.payload` only; `"true"` the whole
      message as JSON.
    * `hb`: send a ping every `hb` seconds (empty or 0: never); a server that does not
      answer closes the connection ("timeout") and it is made again.
    * `subprotocol`: subprotocols to ask for, comma separated.
    * `headers`: extra headers for the upgrade request, as Node-RED's editor writes
      them (`keyType`/`keyValue`, `valueType`/`valueValue`, `env` for an environment
      variable).

    The connection starts when the node starts. When it closes or cannot be made the
    nodes using it show `error` and then `disconnected`, and the next attempt follows
    3 s later (Node-RED's fixed delay), for as long as the node runs. Proxies come from
    the `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` environment variables.

    Limits (flowrt): frames from the server are at most 16 MiB; once 10000 messages or
    16 MiB wait to be sent (the server reads too slowly) the connection is dropped
    and made again. The heartbeat waits half of `hb` for the answer (Node-RED: `hb`).
    """

    type = "websocket-client"
    is_server = False
    editor: ClassVar = {"label": "path"}
    schema: ClassVar = {"type": "object", "required": ["path"], "properties": {
        "path": string("", title="URL"),
        "tls": node_ref("tls-config", title="TLS configuration"),
        "wholemsg": _WHOLEMSG,
        "hb": string("", title="Send heartbeat (seconds)"),
        "subprotocol": string("", title="Subprotocol"),
        "headers": {"type": "array", "default": [], "title": "Headers",
                    "items": {"type": "object"}},
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        if not _URL.match(self.path):
            raise ConfigError(f"path {self.path!r} is not a websocket URL: it must start "
                              "with ws:// or wss://")
        subprotocol = config.get("subprotocol")
        self.subprotocol: list[str] = (
            [p.strip() for p in subprotocol.split(",")] if isinstance(subprotocol, str)
            and subprotocol.strip() else [])
        hb = parse_int(config.get("hb")) if config.get("hb") not in (None, "") else 0
        self.heartbeat: float | None = float(hb) if not is_nan(hb) and hb > 0 else None
        headers = config.get("headers")
        if headers is not None and not isinstance(headers, list):
            raise ConfigError("headers must be a list of {keyType, keyValue, valueType, "
                              "valueValue}")
        self.client: WebSocketClient | None = None
        self._warned_down = False
        self._failing = False

    async def start(self) -> None:
        from flowrt.websockets import WebSocketClient
        try:
            ssl_context, server_name = self._tls()
        except ValueError as exc:
            self.error(f"websocket-client {self.path}: {exc}")
            self._tell(ERROR)
            return
        self.client = WebSocketClient(
            self.path, self, clock=self.clock, protocols=self.subprotocol,
            ssl_context=ssl_context, server_hostname=server_name, heartbeat=self.heartbeat,
            headers=self._headers(), flow_control=self.ctx.dispatcher,
            reconnect_delay=RECONNECT_DELAY)
        self.client.start()

    async def close(self, removed: bool) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()
        self._status = None

    def _tls(self) -> tuple[Any, str | None]:
        if not self.config.get("tls") or not self.path.lower().startswith("wss:"):
            return None, None
        tls_node = self.config_node("tls")
        if tls_node is None:
            raise ValueError(f"tls-config node {self.config['tls']!r} is not deployed")
        return tls_node.ssl_context(), tls_node.server_name  # type: ignore[attr-defined]

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for header in self.config.get("headers") or []:
            if not isinstance(header, dict):
                continue
            key_type = header.get("keyType")
            name = header.get("keyValue") if key_type == "other" else key_type
            value_type = header.get("valueType")
            if value_type == "other":
                value = header.get("valueValue")
            elif value_type == "env":
                value = self.env(str(header.get("valueValue") or ""))
            else:
                value = value_type
            if name and value:
                headers[str(name)] = str(value)
        return headers

    def ws_opened(self, connection_id: str, count: int) -> None:
        self._warned_down = self._failing = False
        super().ws_opened(connection_id, count)

    def _report_error(self, connection_id: str, error: str) -> None:
        # Logged once per outage: the attempts every 3 s show in the status.
        if not self._failing:
            self._failing = True
            self.log.warning("websocket-client %s: %s (retrying every %g s)", self.path,
                             error, RECONNECT_DELAY)

    @property
    def connected(self) -> bool:
        """True while the connection is open."""
        return self.client is not None and self.client.connected

    def metrics(self) -> dict[str, float]:
        """Whether connected, connection attempts, frames received."""
        attempts = self.client.attempts if self.client is not None else 0
        return {"connected": int(self.connected), "attempts_total": attempts,
                "received_total": self.received_frames}

    def broadcast(self, data: Data, sender: Node) -> None:
        if self.client is not None and self.client.send(data):
            return
        if not self._warned_down:  # once per outage, not once per message
            self._warned_down = True
            sender.warn(f"{SEND_ERROR} not connected to {self.path} (messages are dropped "
                        "until the connection is made again)")

    def reply(self, connection_id: str, data: Data) -> None:
        # Node-RED sends replies only to a listener's clients: a message carrying a
        # websocket msg._session is not sent on a client connection.
        return


def _endpoint_of(node: Node) -> _Endpoint | None:
    endpoint = node.config_node("client") if node.config.get("client") else \
        node.config_node("server")
    return endpoint if isinstance(endpoint, _Endpoint) else None


_REF_KEYS: dict[str, Any] = {
    "name": string(""),
    "server": node_ref("websocket-listener", title="Path"),
    "client": node_ref("websocket-client", title="URL"),
}


class _EndpointUser(Node):
    """What `websocket in` and `websocket out` share: the listener or client they use,
    joined on start and left on close."""

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.endpoint: _Endpoint | None = None

    async def start(self) -> None:
        self.endpoint = _endpoint_of(self)
        if self.endpoint is None:
            self.error(MISSING_CONF)
            return
        self.endpoint.register(self)

    async def close(self, removed: bool) -> None:
        if self.endpoint is not None:
            self.endpoint.deregister(self)
            self.endpoint = None
        self.status({})


class WebSocketIn(_EndpointUser):
    """Sends what arrives on a websocket.

    Uses a `websocket-listener` (`server`: clients connect to this runtime) or a
    `websocket-client` (`client`: this runtime connects to a server).

    Outputs: `msg.payload` is the data received, a string for a text frame, a
    buffer for a binary one, and `msg._session` is `{type: "websocket", id}`, the
    connection it came from (a `websocket out` on the same listener replies to it).
    With the endpoint's `wholemsg` set to `"true"` a frame holding a JSON object is
    the whole message; any other JSON value becomes `msg.payload`, and text that
    is not JSON is the payload as it is.
    """

    type = "websocket in"
    category = "network"
    inputs = 0
    outputs = 1
    color = COLOR
    icon = ICON
    palette_label = "websocket in"
    schema: ClassVar = {"type": "object", "properties": dict(_REF_KEYS)}



class WebSocketOut(_EndpointUser):
    """Sends `msg.payload` on a websocket.

    Uses a `websocket-listener` (`server`) or a `websocket-client` (`client`).

    Input: `msg.payload` is sent: a string as a text frame, a buffer as a binary
    frame, an object, array or null as JSON text, a number or boolean as its text;
    a message without `payload`, or with an empty string, sends nothing. With the
    endpoint's `wholemsg` set to `"true"` the whole message (without `_session`) is
    sent as JSON.

    On a listener, a message carrying `msg._session` from a `websocket in` goes back
    to that client only (nowhere if it has gone); any other message goes to every
    connected client. To broadcast a message that came from a `websocket in`, delete
    its `msg._session`. On a client, a message with a websocket `msg._session` is not
    sent (as in Node-RED); delete the property to send it.

    Sending never waits: each connection queues what it has not written yet (see
    `websocket-listener` for the limits). While a client is not connected messages
    are dropped, with one warning per outage.
    """

    type = "websocket out"
    category = "network"
    inputs = 1
    outputs = 0
    color = COLOR
    icon = ICON
    palette_label = "websocket out"
    editor: ClassVar = {"labelAlign": "right"}
    schema: ClassVar = {"type": "object", "properties": dict(_REF_KEYS)}


    def on_input(self, msg: Message) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            raise ValueError(MISSING_CONF)
        data = endpoint.frame(msg)
        if data is None:
            return
        session = msg.get("_session")
        if isinstance(session, dict) and session.get("type") == "websocket":
            endpoint.reply(str(session.get("id")), data)
        else:
            endpoint.broadcast(data, self)
