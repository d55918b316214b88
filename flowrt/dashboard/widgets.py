"""The behaviour of dashboard widgets, shared by Node-RED Dashboard 1 (``ui_*``) and
Dashboard 2 (``ui-*``) node types (``nodes/flowrt_nodes/dashboard*.py`` declare the
types, their keys and help; the key names of both dashboards are read here).

Every widget accepts, besides what its kind takes:

- ``msg.enabled`` (boolean): enable or disable it on every page;
- ``msg.ui_control`` (object): change its options (``label``, ``min``, ``max``,
  ``options``...), as Dashboard 1's; a message with only ``ui_control`` changes nothing
  else;
- ``msg.label`` (string): a new label.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar, cast

from flowrt.dashboard import DashboardHub, Widget, dashboard_for
from flowrt.dashboard.template import render_html, render_text, value_text
from flowrt.messages import Message, clone_message, get_message_property, new_msgid
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, number, string, typed
from flowrt.typed_input import TypedValue

MAX_CHART_POINTS = 2000
"""Points kept per chart series, whatever its window (a page opened later gets them)."""
_FIXED_CONTROL = frozenset({"id", "type", "kind", "order", "width", "height", "value"})


class OnTheDashboard(Node):
    """A node the dashboard's pages show: it joins the hub while it runs (its
    subclasses are the hub's :class:`~flowrt.dashboard.Widget`)."""

    category = "dashboard"
    color = "#3fadb5"
    icon = "dashboard"

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.hub: DashboardHub | None = None

    async def start(self) -> None:
        self.hub = dashboard_for(self.ctx.endpoints, self.ctx.clock,
                                 self.ctx.settings.dashboard_max_queue_bytes)
        self.hub.add(cast("Widget", self))

    async def close(self, removed: bool) -> None:
        if self.hub is not None:
            self.hub.remove(self.id)


class UiWidget(OnTheDashboard):
    """A widget on a dashboard page, inside a group (``group`` key)."""

    editor: ClassVar = {"label": "label"}
    kind: ClassVar[str] = ""
    """What the page draws (``text``, ``gauge``, ``chart``, ``button``...)."""
    default_height: ClassVar[int] = 1

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.disabled = False
        self.control: dict[str, Any] = {}
        """Options changed by ``msg.ui_control`` / ``msg.label``."""

    # ------------------------------------------------------------ what pages see
    def placement(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The config of the widget's group and of the group's page (D1 ``tab``, D2
        ``page``); None when either is missing (then the widget is not shown)."""
        group = self.ctx.get_node(str(self.config.get("group") or ""))
        if group is None:
            return None
        page = self.ctx.get_node(str(group.config.get("tab") or group.config.get("page") or ""))
        if page is None:
            return None
        return ({**group.config, "id": group.id},
                {**page.config, "id": page.id, "type": page.type})

    def drawing(self) -> dict[str, Any]:
        """The widget as a page draws it."""
        width = int(as_number(self.config.get("width"), 0) or 0)
        height = int(as_number(self.config.get("height"), 0) or 0)
        return {"id": self.id, "kind": self.kind, "type": self.type,
                "order": as_number(self.config.get("order"), 0) or 0,
                "width": width, "height": height or self.default_height,
                "className": str(self.config.get("className") or ""),
                "label": str(self.config.get("label") or ""), **self.options()}

    def options(self) -> dict[str, Any]:
        """The kind's own options (overridden per kind)."""
        return {}

    def state(self) -> dict[str, Any]:
        """The kind's current state (overridden per kind)."""
        return {}

    def snapshot(self) -> dict[str, Any]:
        """The widget's whole state as one ``set`` frame."""
        return {"op": "set", "disabled": self.disabled, "control": self.control,
                **self.state()}

    def publish(self, frame: dict[str, Any] | None = None) -> None:
        """Tell the pages (the whole state by default)."""
        if self.hub is not None:
            self.hub.publish(self.id, frame or self.snapshot())

    # ------------------------------------------------------------ messages
    def on_input(self, msg: Message) -> None:
        changed = False
        if isinstance(msg.get("enabled"), bool):
            self.disabled = not msg["enabled"]
            changed = True
        control = msg.get("ui_control")
        if isinstance(control, dict):
            self.control.update({k: v for k, v in control.items() if k not in _FIXED_CONTROL})
            changed = True
        if isinstance(msg.get("label"), str):
            self.control["label"] = msg["label"]
            changed = True
        if isinstance(control, dict) and "payload" not in msg:
            self.publish()
            return
        if self.take(msg) or changed:
            self.publish()

    def take(self, msg: Message) -> bool:
        """Apply an input message to the state; True if the pages must be told."""
        return False

    def page_event(self, value: Any) -> None:
        """A person used the widget (only input widgets act on it)."""

    def emit(self, payload: Any, last: Message | None = None) -> None:
        """Send a message as Node-RED does for a person's input: ``payload``, and the
        ``topic`` from the ``topic``/``topicType`` keys."""
        msg: Message = {"_msgid": new_msgid(), "payload": payload}
        topic = self.topic_of(last)
        if topic is not None:
            msg["topic"] = topic
        self.send(msg)

    def topic_of(self, last: Message | None) -> Any:
        """The topic of an emitted message: ``topic`` evaluated as ``topicType`` (``msg``:
        that property of the last input message); None for none."""
        topic = self.config.get("topic")
        ttype = str(self.config.get("topicType") or "str")
        if topic in (None, "") and ttype in ("str", "msg"):
            return None
        if ttype == "msg":
            return get_message_property(last or {}, str(topic))
        return TypedValue(self, topic, ttype, "topic").get(last or {})


# ---------------------------------------------------------------- output widgets
class TextWidget(UiWidget):
    """Shows ``format`` filled from each message (default ``{{msg.payload}}``)."""

    kind = "text"
    outputs = 0

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.value_html = ""
        self.label_text = ""
        self.take({})  # before any message, as Node-RED shows it: the format's own text

    def options(self) -> dict[str, Any]:
        return {"layout": str(self.config.get("layout") or "row-spread")}

    def state(self) -> dict[str, Any]:
        return {"html": self.value_html, "label": self.label_text}

    def take(self, msg: Message) -> bool:
        scope = {"msg": msg, "payload": msg.get("payload")}
        fmt = str(self.config.get("format") or "{{msg.payload}}")
        self.value_html = render_html(fmt, scope)
        self.label_text = render_text(str(self.config.get("label") or ""), scope)
        return True


DEFAULT_SEGMENTS = ["#00B500", "#E6E600", "#CA3838"]
D2_GAUGE_STYLES = {"gauge-half": "gauge", "gauge-34": "gauge", "gauge-tile": "level",
                   "gauge-battery": "level", "gauge-tank": "level"}


class GaugeWidget(UiWidget):
    """A number on a dial: gauge, donut, compass or level (D1 ``gtype`` gage, donut,
    compass, wave; D2 gauge-half, gauge-34, gauge-tile, gauge-battery, gauge-tank)."""

    kind = "gauge"
    outputs = 0
    editor: ClassVar = {"label": "title"}
    default_height = 3

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.value: float | None = None
        self.text = ""

    def options(self) -> dict[str, Any]:
        cfg = self.config
        low, high = as_number(cfg.get("min"), 0) or 0, as_number(cfg.get("max"), 10)
        high = 10 if high is None else high
        gtype = str(cfg.get("gtype") or "gage")
        style = {"gage": "gauge", "donut": "donut", "compass": "compass",
                 "wave": "level"}.get(gtype, D2_GAUGE_STYLES.get(gtype, "gauge"))
        if isinstance(cfg.get("segments"), list):  # Dashboard 2
            segments = [{"from": as_number(s.get("from"), low), "color": str(s.get("color"))}
                        for s in cfg["segments"] if isinstance(s, dict)]
            units = str(cfg.get("units") or "")
            title = str(cfg.get("title") or cfg.get("label") or "")
        else:
            given = cfg.get("colors")
            colors = [str(c) for c in given] if isinstance(given, list) else []
            colors = [*colors, *DEFAULT_SEGMENTS[len(colors):]][:3]
            seg1 = as_number(cfg.get("seg1"), low + (high - low) / 3)
            seg2 = as_number(cfg.get("seg2"), low + 2 * (high - low) / 3)
            segments = [{"from": low, "color": colors[0]}, {"from": seg1, "color": colors[1]},
                        {"from": seg2, "color": colors[2]}]
            units = str(cfg.get("label") or "")
            title = str(cfg.get("title") or "")
        return {"style": style, "min": low, "max": high, "segments": segments,
                "segmentBand": isinstance(cfg.get("segments"), list),
                "units": units, "title": title, "label": title}

    def state(self) -> dict[str, Any]:
        return {"value": self.value, "text": self.text}

    def take(self, msg: Message) -> bool:
        prop = self.config.get("value") if self.config.get("valueType") == "msg" else None
        value = as_number(get_message_property(msg, str(prop)) if prop
                          else msg.get("payload"))
        if value is None or not math.isfinite(value):
            return False
        self.value = value
        cfg = self.config
        fmt = str(cfg.get("format") or "{{value}}")
        text = render_text(fmt, {"msg": msg, "value": msg.get("payload")})
        self.text = str(cfg.get("prefix") or "") + text + str(cfg.get("suffix") or "")
        return True


class ChartWidget(UiWidget):
    """A line chart with one series per ``msg.topic``, or bars / a pie of each topic's
    latest value; ``msg.payload = []`` clears it."""

    kind = "chart"
    default_height = 4

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.series: dict[str, deque[list[float]]] = {}
        self.bars: dict[str, float] = {}
        chart_type = str(config.get("chartType") or "line")
        self.chart_type = {"horizontalBar": "bar", "radar": "bar", "polar-area": "pie",
                           "doughnut": "pie", "scatter": "line"}.get(chart_type, chart_type)
        if self.chart_type not in ("line", "bar", "pie"):
            self.chart_type = "line"
        unit = as_number(config.get("removeOlderUnit"), 3600) or 3600
        older = as_number(config.get("removeOlder"), 1)
        self.window_seconds = (older or 1) * unit
        points = as_number(config.get("removeOlderPoints"))
        self.window_points = int(min(points, MAX_CHART_POINTS)) if points else MAX_CHART_POINTS

    def options(self) -> dict[str, Any]:
        cfg = self.config
        colors = cfg.get("colors") if isinstance(cfg.get("colors"), list) else []
        return {"chartType": self.chart_type, "ymin": as_number(cfg.get("ymin")),
                "ymax": as_number(cfg.get("ymax")), "colors": colors,
                "legend": as_bool(cfg.get("legend"), self.chart_type != "line"),
                "window": self.window_seconds, "nodata": str(cfg.get("nodata") or ""),
                "xformat": str(cfg.get("xformat") or "HH:mm:ss")}

    def state(self) -> dict[str, Any]:
        if self.chart_type == "line":
            return {"series": [{"name": name, "points": list(points)}
                               for name, points in self.series.items()]}
        return {"bars": [{"label": name, "value": v} for name, v in self.bars.items()]}

    def take(self, msg: Message) -> bool:
        payload = msg.get("payload")
        if isinstance(payload, list):
            self.series.clear()
            self.bars.clear()
            if payload and isinstance(payload[0], dict):
                self._replace(payload[0])
            return True
        value = as_number(payload)
        if value is None or not math.isfinite(value):
            return False
        name = self._series_name(msg)
        if self.chart_type != "line":
            self.bars[name] = value
            return True
        stamp = as_number(msg.get("timestamp"))
        x = stamp if stamp is not None else self.clock.time() * 1000
        points = self.series.get(name)
        if points is None:
            points = self.series[name] = deque(maxlen=self.window_points)
        points.append([x, value])
        self._prune(x)
        self.publish({"op": "append", "points": [[name, x, value]]})
        return False

    def _series_name(self, msg: Message) -> str:
        cfg = self.config
        if cfg.get("categoryType") == "msg" and cfg.get("category"):  # Dashboard 2
            name = get_message_property(msg, str(cfg["category"]))
        elif cfg.get("categoryType") == "str":
            name = cfg.get("category")
        else:
            name = msg.get("topic")
        return value_text(name) or (str(cfg.get("label") or "") if self.chart_type != "line"
                                    else "") or "series"

    def _prune(self, now_ms: float) -> None:
        oldest = now_ms - self.window_seconds * 1000
        for points in self.series.values():
            while points and points[0][0] < oldest:
                points.popleft()

    def _replace(self, data: dict[str, Any]) -> None:
        """Dashboard 1's whole-chart format: ``[{series, data, labels}]``."""
        names = data.get("series") or []
        rows = data.get("data") or []
        labels = data.get("labels") or []
        for i, name in enumerate(names):
            row = rows[i] if i < len(rows) and isinstance(rows[i], list) else []
            if self.chart_type == "line":
                points: deque[list[float]] = deque(maxlen=self.window_points)
                for j, point in enumerate(row):
                    if isinstance(point, dict):
                        x, y = as_number(point.get("x")), as_number(point.get("y"))
                    else:
                        x, y = float(j), as_number(point)
                    if x is not None and y is not None:
                        points.append([x, y])
                self.series[value_text(name)] = points
            else:
                for j, label in enumerate(labels):
                    y = as_number(row[j]) if j < len(row) else None
                    if y is not None:
                        self.bars[value_text(label)] = y


class TemplateWidget(UiWidget):
    """HTML with ``{{msg.payload}}`` bindings, the safe subset of
    ``flowrt.dashboard.template``; forwards its input messages (``fwdInMessages``)."""

    kind = "template"

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.html = render_html(str(config.get("format") or ""), {"msg": {}})

    def placement(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if str(self.config.get("templateScope") or "local") not in ("local", "widget:group"):
            return None  # page- and site-wide templates carry styles and scripts: not run
        return super().placement()

    def state(self) -> dict[str, Any]:
        return {"html": self.html}

    def take(self, msg: Message) -> bool:
        self.html = render_html(str(self.config.get("format") or ""), {"msg": msg})
        cfg = self.config
        if as_bool(cfg.get("fwdInMessages", cfg.get("passthru")), True):
            self.send(msg)
        return True


class SpacerWidget(UiWidget):
    """Empty space in a group."""

    kind = "spacer"
    inputs = 0
    outputs = 0


# ---------------------------------------------------------------- input widgets
class InputWidget(UiWidget):
    """A widget a person uses: it emits messages, and passes input messages through
    when ``passthru`` is set (after showing their value)."""

    passthru_default: ClassVar[bool] = True

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.value: Any = None
        self.last: Message | None = None

    @property
    def locked(self) -> bool:
        """A person's use of the widget is ignored: it is disabled (``msg.enabled``
        false) or the dashboard is read-only."""
        return self.disabled or self.ctx.settings.dashboard_read_only

    def state(self) -> dict[str, Any]:
        return {"value": self.value}

    def take(self, msg: Message) -> bool:
        self.last = msg
        if "payload" not in msg:
            return False
        self.value = self.convert(msg["payload"])
        if as_bool(self.config.get("passthru"), self.passthru_default):
            self.send(msg)
        return True

    def convert(self, payload: Any) -> Any:
        """An input message's payload as the widget's value."""
        return payload

    def page_event(self, value: Any) -> None:
        if self.locked:
            return
        self.value = value
        self.publish()
        self.emit(value, self.last)


class ButtonWidget(InputWidget):
    """A button: a click emits ``payload`` (as ``payloadType``; empty: the node's id)."""

    kind = "button"
    passthru_default = False

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        payload = config.get("payload")
        ptype = str(config.get("payloadType") or "str")
        if ptype == "str" and payload in (None, ""):
            payload = self.id
        self.payload = TypedValue(self, payload, ptype, "payload")

    def options(self) -> dict[str, Any]:
        cfg = self.config
        return {"color": str(cfg.get("color") or cfg.get("textColor") or ""),
                "bgcolor": str(cfg.get("bgcolor") or cfg.get("buttonColor") or ""),
                "tooltip": str(cfg.get("tooltip") or ""), "icon": str(cfg.get("icon") or "")}

    def state(self) -> dict[str, Any]:
        return {}

    def take(self, msg: Message) -> bool:
        self.last = msg
        if as_bool(self.config.get("emulateClick")):  # Dashboard 2
            self.page_event(None)
        elif as_bool(self.config.get("passthru"), False):
            self.send(msg)
        return False

    def page_event(self, value: Any) -> None:
        if self.locked:
            return
        self.emit(self.payload.get(self.last or {}), self.last)


class SwitchWidget(InputWidget):
    """On or off: a click emits ``onvalue`` or ``offvalue``; an input message equal to
    one of them sets the switch."""

    kind = "switch"

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.on = TypedValue(self, config.get("onvalue", True),
                             str(config.get("onvalueType") or "bool"), "onvalue")
        self.off = TypedValue(self, config.get("offvalue", False),
                              str(config.get("offvalueType") or "bool"), "offvalue")
        self.value = False

    def options(self) -> dict[str, Any]:
        return {"tooltip": str(self.config.get("tooltip") or ""),
                "oncolor": str(self.config.get("oncolor") or "")}

    def take(self, msg: Message) -> bool:
        self.last = msg
        payload = msg.get("payload")
        if payload == self.on.get(msg):
            self.value = True
        elif payload == self.off.get(msg):
            self.value = False
        else:
            return False
        if as_bool(self.config.get("passthru"), True):
            self.send(msg)
        return True

    def page_event(self, value: Any) -> None:
        if self.locked:
            return
        on = bool(value)
        if not as_bool(self.config.get("decouple")):
            self.value = on
        self.publish()
        last = self.last or {}
        self.emit(self.on.get(last) if on else self.off.get(last), self.last)


class NumberWidget(InputWidget):
    """A number between ``min`` and ``max`` in ``step``s: a slider or a numeric field.
    Emits the number; ``outs`` "end" (slider) emits only when the person lets go."""

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.low = as_number(config.get("min"), 0) or 0
        high = as_number(config.get("max"), 10)
        self.high = 10 if high is None else high
        self.value = self.low

    def options(self) -> dict[str, Any]:
        cfg = self.config
        return {"min": self.low, "max": self.high, "step": as_number(cfg.get("step"), 1) or 1,
                "outs": str(cfg.get("outs") or "all"), "wrap": as_bool(cfg.get("wrap")),
                "tooltip": str(cfg.get("tooltip") or "")}

    def state(self) -> dict[str, Any]:
        fmt = str(self.config.get("format") or "{{value}}")
        return {"value": self.value, "text": render_text(fmt, {"value": self.value,
                                                                "msg": self.last or {}})}

    def convert(self, payload: Any) -> Any:
        number = as_number(payload)
        return self.value if number is None else number

    def page_event(self, value: Any) -> None:
        number = as_number(value)
        if number is not None:
            super().page_event(int(number) if number.is_integer() else number)


class SliderWidget(NumberWidget):
    """A slider."""

    kind = "slider"


class NumericWidget(NumberWidget):
    """A number field with up and down buttons."""

    kind = "numeric"


class TextInputWidget(InputWidget):
    """A text field (``mode`` text, password, email, number, tel, color, date, time...):
    emits what was typed after ``delay`` ms of quiet (0: on Enter), and on leaving it
    when ``sendOnBlur``. Number mode emits a number."""

    kind = "text_input"

    def options(self) -> dict[str, Any]:
        cfg = self.config
        return {"mode": str(cfg.get("mode") or "text"),
                "delay": as_number(cfg.get("delay"), 300),
                "sendOnBlur": as_bool(cfg.get("sendOnBlur"), True),
                "tooltip": str(cfg.get("tooltip") or "")}

    def page_event(self, value: Any) -> None:
        if self.config.get("mode") == "number":
            number = as_number(value)
            value = None if number is None else (int(number) if number.is_integer()
                                                 else number)
        super().page_event(value)


class DropdownWidget(InputWidget):
    """A list to choose from (``options``: ``[{label, value, type}]``); ``msg.options``
    replaces the list (strings, or ``{label: value}`` objects); emits the chosen value
    (a list of them when ``multiple``)."""

    kind = "dropdown"

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.choices = self._configured(config.get("options"))

    def _configured(self, options: Any) -> list[dict[str, Any]]:
        choices = []
        for i, opt in enumerate(options if isinstance(options, list) else []):
            if not isinstance(opt, dict):
                continue
            vtype = str(opt.get("type") or "str")
            value = opt.get("value", "")
            if vtype in ("num", "bool", "json"):
                value = TypedValue(self, value, vtype, f"option {i + 1}").get({})
            label = opt.get("label")
            choices.append({"label": value_text(value if label in (None, "") else label),
                            "value": value})
        return choices

    def options(self) -> dict[str, Any]:
        return {"place": str(self.config.get("place") or ""),
                "multiple": as_bool(self.config.get("multiple")),
                "tooltip": str(self.config.get("tooltip") or "")}

    def state(self) -> dict[str, Any]:
        return {"value": self.value, "choices": self.choices}

    def take(self, msg: Message) -> bool:
        options = msg.get("options")
        if isinstance(options, list):
            self.choices = [_choice(o) for o in options]
            if "payload" not in msg:
                self.last = msg
                return True
        return super().take(msg)

    def page_event(self, value: Any) -> None:
        # The page sends the chosen index (or indexes): the values keep their types.
        indexes = value if isinstance(value, list) else [value]
        chosen = [self.choices[i]["value"] for i in indexes
                  if isinstance(i, int) and 0 <= i < len(self.choices)]
        if not chosen and not isinstance(value, list):
            return
        super().page_event(chosen if as_bool(self.config.get("multiple")) else chosen[0])


def on_off_fields() -> dict[str, Any]:
    """A switch's schema fields for the payloads it sends on and off (both dashboards)."""
    return {"onvalue": typed(True, title="On payload"),
            "onvalueType": string("bool", title="On payload type"),
            "offvalue": typed(False, title="Off payload"),
            "offvalueType": string("bool", title="Off payload type")}


def range_fields(*, step: bool = True) -> dict[str, Any]:
    """The schema fields ``min`` (0), ``max`` (10) and, with ``step``, ``step`` (1) of
    sliders, number inputs and gauges (both dashboards)."""
    fields = {"min": number(0, title="Minimum"), "max": number(10, title="Maximum")}
    if step:
        fields["step"] = number(1, title="Step")
    return fields


def _choice(option: Any) -> dict[str, Any]:
    if isinstance(option, dict) and "value" in option:
        return {"label": value_text(option.get("label", option["value"])),
                "value": option["value"]}
    if isinstance(option, dict) and len(option) == 1:
        label, value = next(iter(option.items()))
        return {"label": str(label), "value": value}
    return {"label": value_text(option), "value": option}


class DateWidget(InputWidget):
    """A date: emits the chosen day as milliseconds since the epoch (local midnight)."""

    kind = "date"

    def page_event(self, value: Any) -> None:
        number = as_number(value)
        if number is not None:
            super().page_event(int(number))


class ColourWidget(InputWidget):
    """A colour: emits it as ``#rrggbb`` text."""

    kind = "colour"


class FormWidget(InputWidget):
    """Several fields (``options``: ``[{label, value, type, required, rows}]``) sent
    together as one object ``{value: ...}`` when the person presses ``submit``."""

    kind = "form"
    passthru_default = False
    name_key: ClassVar[str] = "value"
    """The key naming a field (Dashboard 2's is ``key``)."""

    def options(self) -> dict[str, Any]:
        fields = []
        for opt in self.config.get("options") or []:
            if isinstance(opt, dict) and opt.get(self.name_key):
                name = str(opt[self.name_key])
                fields.append({"label": str(opt.get("label") or name), "name": name,
                               "type": str(opt.get("type") or "text"),
                               "required": as_bool(opt.get("required")),
                               "rows": int(as_number(opt.get("rows"), 3) or 3)})
        return {"fields": fields, "submit": str(self.config.get("submit") or "submit"),
                "cancel": str(self.config.get("cancel") or "")}

    def page_event(self, value: Any) -> None:
        if isinstance(value, dict):
            super().page_event(value)


class TableWidget(InputWidget):
    """A table of ``msg.payload``, an array of objects (one row each, a column per key).
    Clicking a row emits that row's object."""

    kind = "table"
    passthru_default = False

    def convert(self, payload: Any) -> Any:
        return payload if isinstance(payload, list) else []

    def page_event(self, value: Any) -> None:
        rows = self.value if isinstance(self.value, list) else []
        if isinstance(value, int) and 0 <= value < len(rows):
            row = rows[value]
            if self.locked:
                return
            self.emit(row, self.last)


# ---------------------------------------------------------------- notifications
class Notification(OnTheDashboard):
    """Shows ``msg.payload`` as a notification on every open page, titled by
    ``msg.topic``; ``position`` "dialog" asks the person to press OK (or cancel), and the
    node emits the button's label."""

    inputs = 1

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.last: Message = {}

    def placement(self) -> None:
        """Not on a page: shown over every page."""
        return None

    def drawing(self) -> dict[str, Any]:
        """Never drawn in a group."""
        return {}

    def snapshot(self) -> dict[str, Any]:
        """Nothing to show a page opened later."""
        return {"op": "set"}

    def on_input(self, msg: Message) -> None:
        if self.hub is None:
            return
        cfg = self.config
        self.last = clone_message(msg)
        payload = msg.get("payload")
        body = value_text(payload)
        raw = as_bool(cfg.get("raw"))
        position = str(msg.get("position") or cfg.get("position") or "top right")
        timeout = as_number(msg.get("timeout"), as_number(cfg.get("displayTime"), 3))
        self.hub.toast({
            "id": self.id, "title": value_text(msg.get("topic") or cfg.get("topic") or ""),
            "html": render_html(body, {"msg": msg}) if raw or "<" in body else "",
            "text": "" if raw or "<" in body else body,
            "position": position, "timeout": timeout, "color": str(
                msg.get("highlight") or cfg.get("highlight") or cfg.get("color") or ""),
            "ok": str(cfg.get("ok") or "OK"), "cancel": str(cfg.get("cancel") or "")})

    def page_event(self, value: Any) -> None:
        """A person pressed OK or cancel in a dialog."""
        if self.ctx.settings.dashboard_read_only or not isinstance(value, str):
            return
        msg = {**clone_message(self.last), "payload": value}
        msg["_msgid"] = new_msgid()
        self.send(msg)
