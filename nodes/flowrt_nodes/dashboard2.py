"""Node-RED Dashboard 2 (``@flowfuse/node-red-dashboard``) node types, shown at ``/ui``
with the Dashboard 1 ones: ``ui-base``, ``ui-page``, ``ui-group``, ``ui-theme`` and the
``ui-*`` widgets, with Dashboard 2's keys so its flows run unchanged (palette category
"dashboard 2", as in Node-RED). Vue templates are not run: ``ui-template`` shows the safe
HTML subset of ``flowrt.dashboard.template``."""

from __future__ import annotations

from typing import Any, ClassVar

from flowrt.dashboard import dashboard_for
from flowrt.dashboard.widgets import (
    ButtonWidget,
    ChartWidget,
    DropdownWidget,
    FormWidget,
    GaugeWidget,
    Notification,
    NumericWidget,
    SliderWidget,
    SwitchWidget,
    TableWidget,
    TemplateWidget,
    TextInputWidget,
    TextWidget,
    on_off_fields,
    range_fields,
)
from flowrt.node import Node
from flowrt.schema import boolean, enum, integer, node_ref, number, string, typed

_D2_SEGMENTS = [{"from": 0, "color": "#5cd65c"}, {"from": 4, "color": "#ffc800"},
                {"from": 7, "color": "#ea5353"}]


def widget2_schema(**properties: Any) -> dict[str, Any]:
    """The schema of a ``ui-*`` widget: its group, place and size, then ``properties``."""
    return {"type": "object", "properties": {
        "name": string(""),
        "group": node_ref("ui-group", title="Group", required=True),
        "order": integer(0, title="Order", description="place in the group, from 1"),
        "width": integer(0, title="Width", description="columns; 0: the group's width"),
        "height": integer(0, title="Height", description="rows; 0: automatic"),
        **properties,
        "className": string("", title="CSS class"),
    }}


def _topic() -> dict[str, Any]:
    return {"topic": typed("topic", title="Topic",
                           description="msg: copied from the last input message"),
            "topicType": string("msg", title="Topic type")}


class UiBase2(Node):
    """Dashboard 2's site: `name` is the page title. flowrt serves every dashboard at
    `/ui` (its `path`, "/dashboard" in Dashboard 2, is kept but not used)."""

    type = "ui-base"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("My Dashboard", title="Name"),
        "path": string("/dashboard", title="Path (Dashboard 2's; flowrt serves /ui)"),
    }}

    async def start(self) -> None:
        hub = dashboard_for(self.ctx.endpoints, self.ctx.clock,
                            self.ctx.settings.dashboard_max_queue_bytes)
        hub.set_site({**hub.site, "title": str(self.config.get("name") or "Dashboard")})


class UiTheme2(Node):
    """Dashboard 2's theme: `colors` `{surface, primary, bgPage, groupBg,
    groupOutline}` colour the header, accents, page and groups."""

    type = "ui-theme"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("Default Theme", title="Name"),
        "colors": {"type": "object", "title": "Colours", "default": {
            "surface": "#ffffff", "primary": "#0094ce", "bgPage": "#eeeeee",
            "groupBg": "#ffffff", "groupOutline": "#cccccc"}},
        "sizes": {"type": "object", "title": "Sizes", "default": {}},
    }}

    async def start(self) -> None:
        colors = self.config.get("colors")
        if isinstance(colors, dict):
            hub = dashboard_for(self.ctx.endpoints, self.ctx.clock,
                                self.ctx.settings.dashboard_max_queue_bytes)
            hub.set_site({**hub.site, "colors": {k: str(v) for k, v in colors.items()}})


class UiPage2(Node):
    """A page of the dashboard (in its menu), holding groups in a 12-column grid."""

    type = "ui-page"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("Page", title="Name"),
        "ui": node_ref("ui-base", title="Dashboard"),
        "path": string("/page1", title="Path"),
        "icon": string("home", title="Icon"),
        "layout": string("grid", title="Layout"),
        "theme": node_ref("ui-theme", title="Theme"),
        "order": integer(-1, title="Order"),
        "visible": boolean("true", title="Visible"),
        "disabled": boolean("false", title="Disabled"),
        "className": string("", title="CSS class"),
    }}


class UiGroup2(Node):
    """A group of widgets on a page, `width` of 12 columns wide."""

    type = "ui-group"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("Group", title="Name"),
        "page": node_ref("ui-page", title="Page", required=True),
        "width": integer(6, title="Width", description="columns of 12"),
        "height": integer(1, title="Height"),
        "order": integer(-1, title="Order"),
        "showTitle": boolean(True, title="Show the name"),
        "visible": boolean(True, title="Visible"),
        "disabled": boolean(False, title="Disabled"),
        "className": string("", title="CSS class"),
    }}


class UiText2(TextWidget):
    """Shows `label` and `format` filled from each message (`{{msg.payload}}`)."""

    type = "ui-text"
    palette_label = "text"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("text", title="Label"),
        format=string("{{msg.payload}}", title="Value format"),
        layout=enum(["row-left", "row-center", "row-right", "row-spread", "col-center"],
                    "row-spread", title="Layout"),
    )


class UiGauge2(GaugeWidget):
    """A number on a dial: `gtype` "gauge-half"/"gauge-34" (gauge), "gauge-tile",
    "gauge-battery", "gauge-tank" (level), from `min` to `max`, coloured by `segments`
    `[{from, color}]`; `units`, `prefix`, `suffix` around the value of `value`
    (a msg property, default `payload`)."""

    type = "ui-gauge"
    palette_label = "gauge"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        gtype=enum(["gauge-half", "gauge-34", "gauge-tile", "gauge-battery", "gauge-tank"],
                   "gauge-half", title="Type", labels={
                       "gauge-half": "half gauge", "gauge-34": "3/4 gauge",
                       "gauge-tile": "tile", "gauge-battery": "battery",
                       "gauge-tank": "tank"}),
        title=string("gauge", title="Label"),
        units=string("units", title="Units"),
        prefix=string("", title="Prefix"),
        suffix=string("", title="Suffix"),
        **range_fields(step=False),
        segments={"type": "array", "title": "Segments", "default": _D2_SEGMENTS,
                  "items": {"type": "object", "title": "Segment", "properties": {
                      "from": {"title": "From"},
                      "color": {"type": "string", "title": "Colour"}}}},
        value=string("payload", title="Value (msg property)"),
    )


class UiChart2(ChartWidget):
    """A chart: "line" or "scatter" (a series per `category`, default `msg.topic`),
    "bar", "pie" or "doughnut" (each category's latest value). Keeps `removeOlder` times
    `removeOlderUnit` seconds and at most `removeOlderPoints` points per series;
    `msg.payload = []` clears it; a page opened later shows the kept points."""

    type = "ui-chart"
    palette_label = "chart"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("chart", title="Label"),
        chartType=enum(["line", "scatter", "bar", "pie", "doughnut"], "line", title="Type"),
        category=string("topic", title="Series"),
        categoryType=string("msg", title="Series type"),
        removeOlder=number(1, title="Keep the last"),
        removeOlderUnit=enum(["1", "60", "3600", "86400", "604800", 1, 60, 3600, 86400,
                              604800], "3600", title="Unit", labels={
                                  "1": "seconds", "60": "minutes", "3600": "hours",
                                  "86400": "days", "604800": "weeks"}),
        removeOlderPoints=number("", allow_empty=True, title="Or points"),
        ymin=string("", title="Y minimum", description="a number; empty: automatic"),
        ymax=string("", title="Y maximum", description="a number; empty: automatic"),
        colors={"type": "array", "title": "Series colours", "items": {"type": "string"},
                "default": ["#1F77B4", "#AEC7E8", "#FF7F0E", "#2CA02C", "#98DF8A", "#D62728",
                            "#FF9896", "#9467BD", "#C5B0D5"]},
    )


class UiButton2(ButtonWidget):
    """A button: a click sends `payload` (as `payloadType`) with `topic`; with
    `emulateClick`, an input message clicks it."""

    type = "ui-button"
    palette_label = "button"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("button", title="Label"),
        icon=string("", title="Icon"),
        buttonColor=string("", title="Button colour"),
        textColor=string("", title="Text colour"),
        payload=typed("", title="When clicked, send msg.payload"),
        payloadType=string("str", title="Payload type"),
        **_topic(),
        emulateClick=boolean(False, title="An input message clicks it"),
    )


class UiSwitch2(SwitchWidget):
    """On or off: a click sends `onvalue` or `offvalue` with `topic`; an input message
    equal to one of them sets it (passing through with `passthru`)."""

    type = "ui-switch"
    palette_label = "switch"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("switch", title="Label"),
        **on_off_fields(),
        **_topic(),
        passthru=boolean(False, title="Pass input messages through"),
        decouple=boolean(False, title="Show the state of input messages only"),
    )


class UiSlider2(SliderWidget):
    """A slider from `min` to `max` in `step`s, sending the number with `topic`."""

    type = "ui-slider"
    palette_label = "slider"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("slider", title="Label"),
        **range_fields(),
        outs=enum(["all", "end"], "all", title="Send", labels={
            "all": "while moving", "end": "when let go"}),
        **_topic(),
        passthru=boolean(False, title="Pass input messages through"),
    )


class UiNumberInput2(NumericWidget):
    """A number field from `min` to `max` in `step`s, sending the number."""

    type = "ui-number-input"
    palette_label = "number input"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("number", title="Label"),
        **range_fields(),
        **_topic(),
        passthru=boolean(True, title="Pass input messages through"),
    )


class UiDropdown2(DropdownWidget):
    """A list to choose from (`options` `[{value, label, type}]`), sending the chosen
    value (a list with `multiple`); `msg.options` replaces the list."""

    type = "ui-dropdown"
    palette_label = "dropdown"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("Select Option:", title="Label"),
        options={"type": "array", "title": "Options", "default": [], "items": {
            "type": "object", "title": "Option", "properties": {
                "value": {"title": "Value"}, "label": {"type": "string", "title": "Label"},
                "type": {"type": "string", "title": "Value type", "default": "str"}}}},
        multiple=boolean(False, title="Allow several choices"),
        **_topic(),
        passthru=boolean(False, title="Pass input messages through"),
    )


class UiTextInput2(TextInputWidget):
    """A text field: sends what was typed `delay` ms after the last key (0: on Enter)
    and on leaving it (`sendOnBlur`)."""

    type = "ui-text-input"
    palette_label = "text input"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("text", title="Label"),
        mode=string("text", title="Mode"),
        delay=number(300, title="Delay (ms)"),
        sendOnBlur=boolean(True, title="Send when leaving the field"),
        **_topic(),
        passthru=boolean(True, title="Pass input messages through"),
    )


class UiForm2(FormWidget):
    """A form: `options` `[{label, key, type, required}]` are its fields; `submit` sends
    them as one object with `topic`."""

    type = "ui-form"
    palette_label = "form"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(
        label=string("", title="Label"),
        options={"type": "array", "title": "Fields", "default": []},
        submit=string("submit", title="Submit button"),
        cancel=string("clear", title="Clear button"),
        **_topic(),
    )

    name_key = "key"


class UiTable2(TableWidget):
    """A table of `msg.payload`, an array of objects; clicking a row sends it."""

    type = "ui-table"
    palette_label = "table"
    category = "dashboard 2"
    schema: ClassVar = widget2_schema(label=string("", title="Label"))


class UiTemplate2(TemplateWidget):
    """HTML in a group filled from each message (`{{ msg.payload }}`, `v-text`,
    `v-html`), the safe subset of `ui_template`: Vue logic, scripts and styles are not
    run. Page- and site-scoped templates are not shown."""

    type = "ui-template"
    palette_label = "template"
    category = "dashboard 2"
    schema: ClassVar = {"type": "object", "properties": {
        **widget2_schema()["properties"],
        "group": node_ref("ui-group", title="Group"),
        "format": string("", title="Template", **{"x-format": "html"}),
        "templateScope": string("local", title="Scope"),
        "passthru": boolean(True, title="Pass input messages through"),
    }}


class UiNotification2(Notification):
    """A notification over every open page: `msg.payload` the text, for `displayTime`
    seconds at `position`; with `allowConfirm` it waits for confirm or dismiss and
    sends the button's label."""

    type = "ui-notification"
    palette_label = "notification"
    category = "dashboard 2"
    outputs = 1
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "ui": node_ref("ui-base", title="Dashboard"),
        "position": enum(["top right", "top center", "top left", "bottom right",
                          "bottom center", "bottom left", "center center"], "top right",
                         title="Position"),
        "displayTime": number("3", title="Timeout (seconds)"),
        "color": string("", title="Colour"),
        "raw": boolean(False, title="Payload is HTML"),
        "className": string("", title="CSS class"),
    }}
