"""inject: starts a flow by hand, once after deploy, at an interval or on a cron schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from flowrt.admin_routes import AdminRequest, AdminRoute, AdminRouteError
from flowrt.clock import TimerHandle
from flowrt.jsvalue import MISSING
from flowrt.messages import Message, delete_property, new_msgid, set_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, number, show_if, string, typed
from flowrt.typed_input import TypedValue

MAX_REPEAT = 2147483
"""The longest `repeat` interval Node-RED accepts, in seconds."""

_PROPS = {"type": "array", "items": {"type": "object", "properties": {
    "p": {"type": "string", "title": "msg."},
    # msg.payload's value, and a string msg.topic, are the node's own `payload` /
    # `payloadType` and `topic` (the fields below), as Node-RED saves them.
    "v": {"x-kind": "typed", "x-type-key": "vt", "title": "Value",
          "x-hide-if": [{"p": ["payload"]}, {"p": ["topic"], "vt": ["str"]}]},
    "vt": {"type": "string", "default": "str", "title": "Value type"}},
    "required": ["p"], "title": "Property"},
    "default": [{"p": "payload"}, {"p": "topic", "vt": "str"}], "title": "Properties"}


async def _inject_now(request: AdminRequest) -> int:
    """``POST /inject/:id`` (the editor's button), optionally with
    ``{"__user_inject_props__": [...]}``."""
    node = request.node(request.params["id"])
    if not isinstance(node, Inject):
        raise AdminRouteError(404, "not_found", f"no inject node {request.params['id']!r}")
    body = request.body
    props = body.get("__user_inject_props__") if isinstance(body, dict) else None
    if props is not None and not isinstance(props, list):
        raise AdminRouteError(400, "invalid_request", "__user_inject_props__ must be an array")
    try:
        queued = node.trigger(props)
    except Exception as exc:
        node.log.exception("inject failed")
        raise AdminRouteError(500, "inject_failed", f"inject failed: {exc}") from None
    if not queued:
        raise AdminRouteError(503, "run_queue_full", "not injected: the runtime's run queue is "
                              "full (maxPendingMessages); try again when it has drained")
    return 200

# Older inject nodes (Node-RED 0.x exports) name a string payload "string" or "none";
# Node-RED's editor reads both as "str".
_LEGACY_STRING_TYPES = frozenset({"string", "none"})


class Inject(Node):
    """Injects a message into a flow: by the button, once after deploy, repeatedly, or on a
    schedule.

    **Properties** (`props`): a list of `{p, v, vt}` set on the new message in order, where
    `vt` is a typed-input type (`str num bool json bin date msg flow global env jsonata`;
    `date` with `v` of `""` (epoch ms), `"iso"`, `"object"` or a moment format; a JSONata
    expression is evaluated against the message being built, so it sees the properties
    set before it, and an undefined result sets nothing). For `payload` the
    value lives in the top-level `payload`/`payloadType` keys, and a `str` topic in `topic`,
    exactly as Node-RED saves them; older nodes without `props` are converted the same way.

    **When**: `once` fires `onceDelay` seconds after deploy (default 0.1); `repeat` (seconds,
    at most 2147483) fires at that interval; `crontab` (5-field cron, or 6 with seconds
    first, in local time) fires on schedule. With `once`, the repeat or schedule starts
    after the first injection.

    `POST /inject/:id` triggers it; a body `{"__user_inject_props__": [...]}` replaces the
    properties for that one message. An evaluation error (missing flow value type, bad JSON)
    is reported as the node's error for that message and nothing is sent. Invalid JSON or
    JSONata syntax fails the node's creation.
    """

    type = "inject"
    category = "common"
    inputs = 0
    color = "#a6bbcf"
    icon = "inject"
    editor: ClassVar = {"button": "inject", "label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "props": _PROPS,
        "repeat": number("", minimum=0, allow_empty=True, title="Repeat every (seconds)",
                         description="empty: no repeat"),
        "crontab": string("", title="Schedule (cron)",
                          description="e.g. 0 8 * * 1-5 (local time); empty: none"),
        "once": boolean(False, title="Inject once after deploy"),
        "onceDelay": show_if(number(0.1, minimum=0, allow_empty=True,
                                    title="… after (seconds)"), once=True),
        "topic": string("", title="msg.topic"),
        "payload": typed("", title="msg.payload"),
        "payloadType": string("date", title="Payload type"),
    }}

    admin_routes: ClassVar = (AdminRoute("POST", "/inject/{id}", _inject_now),)

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        # Compiled at creation: bad JSON or JSONata is an error of the node's configuration.
        self._props: list[tuple[str, TypedValue]] = self._compile(self._configured_props())
        self._timer: TimerHandle | None = None
        self._repeat: float | None = None
        self._cron: Any = None

    async def start(self) -> None:
        repeat = as_number(self.config.get("repeat"))
        if repeat is not None and repeat > MAX_REPEAT:
            raise ValueError(f"inject repeat {repeat} s is too large (at most {MAX_REPEAT})")
        self._repeat = repeat if repeat and repeat > 0 else None
        crontab = str(self.config.get("crontab") or "").strip()
        if crontab and not self._repeat:
            from croniter import croniter  # imported here: only scheduled injects need it

            try:
                self._cron = croniter(crontab, self._local_now(),
                                      second_at_beginning=len(crontab.split()) == 6)
            except (ValueError, KeyError) as exc:
                raise ValueError(f"inject crontab {crontab!r} is invalid: {exc}") from None
        if as_bool(self.config.get("once")):
            raw = self.config.get("onceDelay")  # as in Node-RED, only 0 itself means "default"
            delay = 0.1 if raw in (None, "", 0) else as_number(raw) or 0.0
            self._timer = self.clock.call_later(delay, self._fire_once)
        else:
            self._schedule()

    def _configured_props(self) -> list[dict[str, Any]]:
        props = self.config.get("props")
        if not isinstance(props, list):
            props = [{"p": "payload"}, {"p": "topic", "vt": "str"}]
        resolved = []
        for prop in props:
            prop = dict(prop)
            if prop.get("p") == "payload" and "v" not in prop:
                prop["v"], prop["vt"] = self.config.get("payload"), self.config.get("payloadType")
            if prop.get("vt") in _LEGACY_STRING_TYPES:
                prop["vt"] = "str"
            elif prop.get("p") == "topic" and prop.get("vt") == "str" and "v" not in prop:
                prop["v"] = self.config.get("topic")
            resolved.append(prop)
        return resolved

    def _compile(self, props: list[dict[str, Any]]) -> list[tuple[str, TypedValue]]:
        compiled = []
        for prop in props:
            if not isinstance(prop, dict) or not prop.get("p"):
                continue
            value = "" if prop.get("v") is None else prop["v"]
            if prop.get("vt") == "jsonata" and value == "":
                continue  # Node-RED sets nothing for an empty expression
            compiled.append((str(prop["p"]), TypedValue(self, value, prop.get("vt") or "str",
                                                        f"msg.{prop['p']}")))
        return compiled

    # ------------------------------------------------------------ scheduling
    def _local_now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time()).astimezone()

    def _fire_once(self) -> None:
        self.trigger()
        self._schedule()

    def _schedule(self) -> None:
        if self._repeat:
            self._timer = self.clock.call_later(self._repeat, self._fire_repeat)
        elif self._cron is not None:
            self._timer = self.clock.call_later(self._cron_delay(), self._fire_cron)
        else:
            self._timer = None

    def _cron_delay(self) -> float:
        return max(0.0, self._cron.get_next(float) - self.clock.time())

    def _fire_repeat(self) -> None:
        self._timer = self.clock.call_later(self._repeat, self._fire_repeat)  # type: ignore[arg-type]
        self.trigger()

    def _fire_cron(self) -> None:
        self._timer = self.clock.call_later(self._cron_delay(), self._fire_cron)
        self.trigger()

    # ------------------------------------------------------------- injecting
    def trigger(self, user_props: list[dict[str, Any]] | None = None) -> bool:
        """Inject now (the editor's button, `POST /inject/:id`); False when the run
        queue was full and nothing was injected.

        ``user_props`` (the body's ``__user_inject_props__``) replaces the configured
        properties for this one message.
        """
        msg: Message = {"_msgid": new_msgid()}
        if isinstance(user_props, list):
            msg["__user_inject_props__"] = user_props
        return self.ctx.deliver(self, msg)

    def on_input(self, msg: Message) -> None:
        props = self._props
        user_props = msg.pop("__user_inject_props__", None)
        if isinstance(user_props, list):
            try:
                props = self._compile(user_props)
            except ValueError as exc:  # TypedInputError, JSONataError
                self.error(str(exc), msg)
                return
        errors = []
        for path, value in props:
            try:
                # JSONata's undefined sets nothing (Node-RED's setMessageProperty).
                result = value.get(msg, MISSING if value.type == "jsonata" else None)
                if result is MISSING:
                    delete_property(msg, path)
                elif not set_message_property(msg, path, result):
                    errors.append(f"msg.{path}: cannot set a property of a non-object value")
            except (ValueError, TypeError) as exc:
                errors.append(f"msg.{path}: {exc}")
        if errors:
            self.error("; ".join(errors), msg)
            return
        self.send(msg)

    async def close(self, removed: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
