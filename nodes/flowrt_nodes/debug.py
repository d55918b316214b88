"""debug: shows messages in the editor's debug sidebar, the log, or the node status.

Values are shown as Node-RED shows them (:func:`flowrt.debug_encoding.encode_debug`),
in the sidebar and in the node's log lines and status text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flowrt.admin_routes import AdminRequest, AdminRoute, AdminRouteError
from flowrt.clock import TimerHandle
from flowrt.debug_encoding import encode_debug
from flowrt.jsvalue import MISSING, js_string
from flowrt.messages import Message, get_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, enum, show_if, string

DEBUG_STATUS_LENGTH = 32
"""Node-RED's ``debugStatusLength``: longer status texts are cut."""
_FAILED: Any = type("Failed", (), {"__slots__": ()})()
"""What :meth:`Debug._evaluate` gives for an expression that failed (never a value)."""


def _cut(topic: Any, max_length: int) -> str:
    # Node-RED passes the topic through as it is; cut it like the value, so that a
    # huge topic cannot make every debug event huge.
    text = topic if isinstance(topic, str) else encode_debug(topic, max_length)[0]
    return text if len(text) <= max_length else text[:max_length] + "..."


def _inspect(value: Any) -> str:
    """A short text for the node status (Node-RED uses ``util.inspect``)."""
    if isinstance(value, str):
        return value
    if value is MISSING:
        return "undefined"
    text, fmt = encode_debug(value, DEBUG_STATUS_LENGTH * 4)
    return f"<Buffer {text}>" if fmt.startswith("buffer") else text


async def _switch_one(request: AdminRequest) -> int:
    """``POST /debug/:id/enable|disable``: 200 on, 201 off, as Node-RED answers."""
    return _switch(request, [request.params["id"]])


async def _switch_many(request: AdminRequest) -> int:
    """``POST /debug/enable|disable`` with ``{"nodes": [ids]}``."""
    ids = request.body.get("nodes") if isinstance(request.body, dict) else None
    if not isinstance(ids, list):
        raise AdminRouteError(400, "invalid_request",
                              'body must be {"nodes": [<debug node ids>]}')
    return _switch(request, ids)


def _switch(request: AdminRequest, ids: list[Any]) -> int:
    active = request.params["state"] == "enable"
    for node_id in ids:
        node = request.node(node_id) if isinstance(node_id, str) else None
        if not isinstance(node, Debug):
            raise AdminRouteError(404, "not_found", f"no debug node {node_id!r}")
        node.active = active
    return 200 if active else 201


class Debug(Node):
    """Shows messages in the debug sidebar, the runtime log and/or the node's status.

    `complete`: `"false"` (or `"payload"`) shows `msg.payload`, `"true"` the whole
    message, any other text that message property (`targetType` `"msg"`/`"full"`).
    `tosidebar` sends it to the editor's debug sidebar while the node is `active` (the
    button on the node toggles that); `console` writes it to the log; `tostatus` shows it
    under the node: with `statusType` `"auto"` the same value (a message with `error`
    shows its message in red, one with `status` mirrors it), `"msg"` the property named
    in `statusVal`, `"counter"` the number of messages received. Long values are cut as
    in Node-RED (1000 characters in the sidebar, 32 in the status).

    JSONata: with `targetType` `"jsonata"`, `complete` is an expression whose value is
    shown; with `statusType` `"jsonata"`, `statusVal` is one for the status. They are
    evaluated against the message as Node-RED does (see the change node). A syntax error
    fails the node's creation; an evaluation error is logged as the node's error and
    nothing is shown for that message.
    """

    type = "debug"
    category = "common"
    outputs = 0
    color = "#87a980"
    icon = "debug"
    editor: ClassVar = {"button": "debug", "label": "name", "labelAlign": "right"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "active": boolean(True, title="Active", description="the button on the node"),
        "complete": {"anyOf": [{"type": "string"}, {"type": "boolean"}], "default": "payload",
                     "x-kind": "typed", "x-type-key": "targetType", "title": "Output",
                     "description": "a message property, the complete message, or a JSONata "
                                    "expression"},
        "targetType": enum(["msg", "full", "jsonata"], "msg", title="Output type",
                           labels={"full": "complete msg object", "jsonata": "expression"}),
        "tosidebar": boolean(True, title="To the debug window"),
        "console": boolean(False, title="To the system console"),
        "tostatus": boolean(False, title="To the node status (32 characters)"),
        "statusVal": show_if({"type": "string", "default": "", "x-kind": "typed",
                              "x-type-key": "statusType", "title": "Status shows"},
                             tostatus=True),
        "statusType": enum(["auto", "msg", "jsonata", "counter"], "auto", title="Status type",
                           labels={"auto": "same as the debug output",
                                   "counter": "message count", "jsonata": "expression"}),
    }}

    admin_routes: ClassVar = (
        AdminRoute("POST", r"/debug/{state:enable|disable}", _switch_many),
        AdminRoute("POST", r"/debug/{id}/{state:enable|disable}", _switch_one),
    )

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.active: bool = config.get("active") is None or as_bool(config.get("active"))
        self.counter = 0
        self._last_status = ""
        self._last_count_time = 0.0
        self._count_timer: TimerHandle | None = None
        # Compiled at creation: a JSONata syntax error is a configuration error.
        self._target_expr = self._expression("complete", "targetType")
        self._status_expr = self._expression("statusVal", "statusType")

    def _expression(self, key: str, type_key: str) -> Any:
        """The JSONata expression in ``key`` when ``type_key`` is ``"jsonata"``, else None
        (also for an empty expression: Node-RED then shows the payload)."""
        if self.config.get(type_key) != "jsonata" or not js_string(
                self.config.get(key) or "").strip():
            return None
        from flowrt.jsonata import JSONataExpression  # loaded only by flows that use it

        return JSONataExpression(js_string(self.config.get(key) or ""), self, key)

    async def start(self) -> None:
        config = self.config
        # js_string: a boolean typed as JSON in an old editor is "true", never "True".
        complete = js_string(config.get("complete") or "payload")
        if complete == "false" or self._target_expr is not None:
            complete = "payload"
        self._whole = self._target_expr is None and (
            complete == "true" or config.get("targetType") == "full")
        self._property = complete
        self._tosidebar = config.get("tosidebar") is None or as_bool(config.get("tosidebar"))
        self._console = as_bool(config.get("console"))
        self._tostatus = as_bool(config.get("tostatus"))
        self._status_type = config.get("statusType") or "auto"
        self._status_val = str(config.get("statusVal") or complete)
        self._max_length = self.ctx.settings.debug_max_length
        self._status_length = self.ctx.settings.debug_status_length
        self._base = {"id": self.id, "z": self.z}
        if "_alias" in config:
            self._base["_alias"] = config["_alias"]
        self._base.update(path=self.ctx.flow.path, name=self.name)
        self._publish: Callable[[str, Any], None] = self.ctx.events.publish
        if self._tostatus and self._status_type == "counter":
            self.status(fill="blue", shape="ring", text="0")

    def on_input(self, msg: Message) -> None:
        status = msg.get("status")
        if type(status) is dict and (status.get("source") or {}).get("id") == self.id:
            return
        if self._tostatus:
            self._show_status(msg)
        sidebar = self.active and self._tosidebar
        if not sidebar and not self._console:
            return
        if self._target_expr is not None:
            value: Any = self._evaluate(self._target_expr, msg)
            if value is _FAILED:
                return
        elif self._whole:
            value = msg
        elif self._property == "payload":
            value = msg.get("payload", MISSING)
        else:
            value = _get(msg, self._property)
        if self._console:
            self.log.info("%s", value if isinstance(value, str) else encode_debug(value)[0])
        if sidebar:
            data = dict(self._base)
            if "topic" in msg:
                data["topic"] = _cut(msg["topic"], self._max_length)
            if not self._whole and self._target_expr is None:
                data["property"] = self._property
            data["msg"], data["format"] = encode_debug(value, self._max_length)
            self._publish("debug", data)

    # ----------------------------------------------------------------- status
    def _show_status(self, msg: Message) -> None:
        if self._status_type == "counter":
            self._count()
            return
        if self._status_type == "auto":
            if self._target_expr is not None:
                output = self._evaluate(self._target_expr, msg)
            else:
                output = msg.get("payload", MISSING) if self._whole else _get(msg,
                                                                              self._property)
        elif self._status_expr is not None:
            output = self._evaluate(self._status_expr, msg)
        else:
            output = _get(msg, self._status_val)
        if output is _FAILED:
            return
        text, fill, shape = _inspect(output), "grey", "dot"
        if isinstance(output, dict) and output.get("fill") and output.get("shape") and \
                output.get("text"):
            fill, shape, text = output["fill"], output["shape"], str(output["text"])
        if self._status_type == "auto":
            error = msg.get("error")
            if "error" in msg:
                fill = "red"
                text = str(error.get("message", "")) if isinstance(error, dict) else str(error)
            status = msg.get("status")
            if isinstance(status, dict):
                fill = status.get("fill") or "grey"
                shape = status.get("shape") or "ring"
                text = str(status.get("text") or "")
        if len(text) > self._status_length:
            text = text[: self._status_length] + "..."
        key = f"{fill}\0{shape}\0{text}"
        if key != self._last_status:
            self._last_status = key
            self.status(fill=fill, shape=shape, text=text)

    def _evaluate(self, expr: Any, msg: Message) -> Any:
        """An expression's value for ``msg``; on failure the error is logged (Node-RED
        reports it without the message, so no ``catch`` node sees it) and _FAILED."""
        try:
            return expr.evaluate(msg, MISSING)
        except ValueError as exc:
            self.error(str(exc))
            return _FAILED

    def _count(self) -> None:
        now = self.clock.monotonic()
        since, self._last_count_time = now - self._last_count_time, now
        self.counter += 1
        if since > 0.1:
            self._show_count()
        else:
            if self._count_timer is not None:
                self._count_timer.cancel()
            self._count_timer = self.clock.call_later(0.2, self._show_count)

    def _show_count(self) -> None:
        self._count_timer = None
        self.status(fill="blue", shape="ring", text=str(self.counter))

    async def close(self, removed: bool) -> None:
        if self._count_timer is not None:
            self._count_timer.cancel()
        if as_bool(self.config.get("tostatus")):
            self.status({})


def _get(msg: Message, path: str) -> Any:
    try:
        return get_message_property(msg, path, MISSING)
    except ValueError:
        return MISSING
