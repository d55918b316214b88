"""Node-RED Dashboard 1 (``node-red-dashboard``) node types, shown at ``/ui``: tabs,
groups, and the ``ui_*`` widgets, with Dashboard 1's keys so its flows run unchanged."""

from __future__ import annotations

from typing import Any, ClassVar

from flowrt.dashboard import dashboard_for
from flowrt.dashboard.widgets import (
    ButtonWidget,
    ChartWidget,
    ColourWidget,
    DateWidget,
    DropdownWidget,
    FormWidget,
    GaugeWidget,
    Notification,
    NumericWidget,
    SliderWidget,
    SpacerWidget,
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

_OPTIONS_ITEM = {"type": "object", "title": "Option", "properties": {
    "label": {"type": "string", "title": "Label"},
    "value": {"title": "Value"},
    "type": {"type": "string", "title": "Value type", "default": "str"}}}


def widget_schema(**properties: Any) -> dict[str, Any]:
    """The schema of a ``ui_*`` widget: its group, place and size, then ``properties``."""
    return {"type": "object", "properties": {
        "name": string(""),
        "group": node_ref("ui_group", title="Group", required=True),
        "order": integer(0, title="Order", description="place in the group, from 1"),
        "width": integer(0, title="Width", description="grid units; 0: the group's width"),
        "height": integer(0, title="Height", description="grid units; 0: automatic"),
        **properties,
        "className": string("", title="CSS class"),
    }}


def _topic(default: str = "topic", default_type: str = "msg") -> dict[str, Any]:
    return {"topic": typed(default, title="Topic",
                           description="msg: copied from the last input message"),
            "topicType": string(default_type, title="Topic type")}


_PASSTHRU = boolean(True, title="Pass input messages through",
                    description="an input message sets the widget and is sent on")


class UiBase(Node):
    """The dashboard's site settings: `site.name` is the page title, `theme.name`
    "theme-dark" the dark theme (else light). One per flow set."""

    type = "ui_base"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "theme": {"type": "object", "title": "Theme", "default": {"name": "theme-light"}},
        "site": {"type": "object", "title": "Site", "default": {"name": "Node-RED Dashboard"}},
    }}

    async def start(self) -> None:
        theme, site = self.config.get("theme"), self.config.get("site")
        theme = theme if isinstance(theme, dict) else {}
        site = site if isinstance(site, dict) else {}
        dashboard_for(self.ctx.endpoints, self.ctx.clock,
                      self.ctx.settings.dashboard_max_queue_bytes).set_site({
                          "title": str(site.get("name") or "Node-RED Dashboard"),
                          "dark": theme.get("name") == "theme-dark"})


class UiTab(Node):
    """A tab of the dashboard: a page in its menu, holding groups."""

    type = "ui_tab"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("Home", title="Name"),
        "icon": string("dashboard", title="Icon", description="a Material icon name"),
        "order": integer(0, title="Order"),
        "disabled": boolean(False, title="Disabled"),
        "hidden": boolean(False, title="Hidden from the menu"),
    }}


class UiGroup(Node):
    """A group of widgets on a tab, `width` grid units wide (one unit is 48 px plus a
    6 px gap); groups flow across the page in `order`, wrapping on narrow screens."""

    type = "ui_group"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "dashboard"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("Default", title="Name"),
        "tab": node_ref("ui_tab", title="Tab", required=True),
        "order": integer(0, title="Order"),
        "disp": boolean(True, title="Show the name"),
        "width": integer(6, title="Width", description="grid units"),
        "collapse": boolean(False, title="Can be collapsed"),
        "className": string("", title="CSS class"),
    }}


class UiText(TextWidget):
    """Shows a value: `label` on the left and `format` filled from each message
    (default `{{msg.payload}}`; filters such as `{{msg.payload | number:1}}`), laid out
    by `layout`. The value is escaped: HTML in the format follows the template widget's
    safe subset."""

    type = "ui_text"
    palette_label = "text"
    schema: ClassVar = widget_schema(
        label=string("text", title="Label"),
        format=string("{{msg.payload}}", title="Value format"),
        layout=enum(["row-left", "row-center", "row-right", "row-spread", "col-center"],
                    "row-spread", title="Layout", labels={
                        "row-left": "label and value on the left",
                        "row-center": "label and value centred",
                        "row-right": "label and value on the right",
                        "row-spread": "label left, value right",
                        "col-center": "value under the label"}),
    )


class UiGauge(GaugeWidget):
    """A number on a dial: `gtype` "gage" (gauge), "donut", "compass" or "wave" (level),
    from `min` to `max`, coloured by `colors` with the sectors starting at `seg1` and
    `seg2`; `format` shows the value (`{{value}}`), `label` its units."""

    type = "ui_gauge"
    palette_label = "gauge"
    schema: ClassVar = widget_schema(
        gtype=enum(["gage", "donut", "compass", "wave"], "gage", title="Type",
                   labels={"gage": "gauge", "donut": "donut", "compass": "compass",
                           "wave": "level"}),
        title=string("gauge", title="Label"),
        label=string("units", title="Units"),
        format=string("{{value}}", title="Value format"),
        **range_fields(step=False),
        colors={"type": "array", "title": "Colours", "items": {"type": "string"},
                "default": ["#00B500", "#E6E600", "#CA3838"]},
        seg1=number("", allow_empty=True, title="Second colour from"),
        seg2=number("", allow_empty=True, title="Third colour from"),
    )


class UiChart(ChartWidget):
    """A chart of numbers in `msg.payload`: "line" (one series per `msg.topic`, the x
    value `msg.timestamp` or now), "bar"/"horizontalBar" (a bar per topic's latest
    value) or "pie". Keeps `removeOlder` times `removeOlderUnit` seconds and at most
    `removeOlderPoints` points per series (and never more than 2000). `msg.payload = []`
    clears it; Dashboard 1's whole-chart array `[{series, data, labels}]` replaces it.
    A page opened later shows the kept points. Its output sends nothing (Dashboard 1's
    sends the chart's data when a page changes it)."""

    type = "ui_chart"
    palette_label = "chart"
    schema: ClassVar = widget_schema(
        label=string("chart", title="Label"),
        chartType=enum(["line", "bar", "horizontalBar", "pie", "polar-area", "radar"],
                       "line", title="Type", labels={
                           "horizontalBar": "horizontal bar", "polar-area": "polar area"}),
        removeOlder=number(1, title="Keep the last"),
        removeOlderUnit=enum(["1", "60", "3600", "86400", "604800", 1, 60, 3600, 86400,
                              604800], "3600", title="Unit", labels={
                                  "1": "seconds", "60": "minutes", "3600": "hours",
                                  "86400": "days", "604800": "weeks"}),
        removeOlderPoints=number("", allow_empty=True, title="Or points",
                                 description="per series; empty: no limit"),
        ymin=string("", title="Y minimum", description="a number; empty: automatic"),
        ymax=string("", title="Y maximum", description="a number; empty: automatic"),
        legend=boolean(False, title="Legend"),
        xformat=string("HH:mm:ss", title="X axis labels"),
        nodata=string("", title="Text while empty"),
        colors={"type": "array", "title": "Series colours", "items": {"type": "string"},
                "default": ["#1F77B4", "#AEC7E8", "#FF7F0E", "#2CA02C", "#98DF8A", "#D62728",
                            "#FF9896", "#9467BD", "#C5B0D5"]},
    )


class UiButton(ButtonWidget):
    """A button: a click sends `payload` (as `payloadType`; empty: the node's id) with
    `topic`. Input messages set nothing but `msg.enabled`, `msg.label` and
    `msg.ui_control`, and pass through when `passthru` is on."""

    type = "ui_button"
    palette_label = "button"
    schema: ClassVar = widget_schema(
        label=string("button", title="Label"),
        tooltip=string("", title="Tooltip"),
        color=string("", title="Text colour"),
        bgcolor=string("", title="Background colour"),
        icon=string("", title="Icon"),
        payload=typed("", title="When clicked, send msg.payload"),
        payloadType=string("str", title="Payload type"),
        **_topic(),
        passthru=boolean(False, title="Pass input messages through"),
    )


class UiSwitch(SwitchWidget):
    """On or off: a click sends `onvalue` or `offvalue` (typed by `onvalueType`,
    `offvalueType`) with `topic`. An input message whose payload equals one of them sets
    it (and passes through with `passthru`); `decouple` "true" leaves the switch to
    input messages only (it shows the state, a click only sends)."""

    type = "ui_switch"
    palette_label = "switch"
    schema: ClassVar = widget_schema(
        label=string("switch", title="Label"),
        tooltip=string("", title="Tooltip"),
        **on_off_fields(),
        **_topic(),
        passthru=_PASSTHRU,
        decouple=boolean("false", title="Show the state of input messages only"),
    )


class UiSlider(SliderWidget):
    """A slider from `min` to `max` in `step`s: sends the number with `topic`, while
    moving (`outs` "all") or when let go ("end"). An input message sets it."""

    type = "ui_slider"
    palette_label = "slider"
    schema: ClassVar = widget_schema(
        label=string("slider", title="Label"),
        tooltip=string("", title="Tooltip"),
        **range_fields(),
        outs=enum(["all", "end"], "all", title="Send", labels={
            "all": "while moving", "end": "when let go"}),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiNumeric(NumericWidget):
    """A number with up and down buttons from `min` to `max` in `step`s (`wrap`: past
    the end comes round); sends it with `topic`."""

    type = "ui_numeric"
    palette_label = "numeric"
    schema: ClassVar = widget_schema(
        label=string("numeric", title="Label"),
        tooltip=string("", title="Tooltip"),
        **range_fields(),
        wrap=boolean(False, title="Wrap round"),
        format=string("{{value}}", title="Value format"),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiTextInput(TextInputWidget):
    """A text field: sends what was typed (a number in "number" `mode`) with `topic`,
    `delay` ms after the last key (0: on Enter), and on leaving it with `sendOnBlur`."""

    type = "ui_text_input"
    palette_label = "text input"
    schema: ClassVar = widget_schema(
        label=string("", title="Label"),
        tooltip=string("", title="Tooltip"),
        mode=string("text", title="Mode",
                    description="text, password, email, number, tel, color, date, time..."),
        delay=number(300, title="Delay (ms)", description="0: send on Enter"),
        sendOnBlur=boolean(True, title="Send when leaving the field"),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiDropdown(DropdownWidget):
    """A list to choose from: `options` `[{label, value, type}]`; sends the chosen value
    (a list with `multiple`) with `topic`. `msg.options` replaces the list (strings, or
    `{label: value}` objects); an input `msg.payload` selects a value."""

    type = "ui_dropdown"
    palette_label = "dropdown"
    schema: ClassVar = widget_schema(
        label=string("", title="Label"),
        tooltip=string("", title="Tooltip"),
        place=string("Select option", title="Placeholder"),
        options={"type": "array", "title": "Options", "items": _OPTIONS_ITEM,
                 "default": [{"value": "", "label": ""}]},
        multiple=boolean(False, title="Allow several choices"),
        payload=string("", title="Payload (Dashboard 1's key, unused)", **{"x-hidden": True}),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiDatePicker(DateWidget):
    """A date: sends the chosen day as milliseconds since the epoch (local midnight)
    with `topic`; an input message sets it."""

    type = "ui_date_picker"
    palette_label = "date picker"
    schema: ClassVar = widget_schema(
        label=string("date", title="Label"),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiColourPicker(ColourWidget):
    """A colour: sends it as `#rrggbb` text with `topic`; an input message sets it."""

    type = "ui_colour_picker"
    palette_label = "colour picker"
    schema: ClassVar = widget_schema(
        label=string("", title="Label"),
        format=string("hex", title="Format", description="hex (the one flowrt sends)"),
        **_topic(),
        passthru=_PASSTHRU,
    )


class UiForm(FormWidget):
    """A form: `options` `[{label, value, type, required, rows}]` are its fields (`type`
    text, number, email, password, checkbox, switch, date, time, multiline); `submit`
    sends `{<value>: ...}` with `topic`, `cancel` clears it. An input message's object
    payload fills the fields."""

    type = "ui_form"
    palette_label = "form"
    schema: ClassVar = widget_schema(
        label=string("", title="Label"),
        options={"type": "array", "title": "Fields", "items": {
            "type": "object", "title": "Field", "properties": {
                "label": {"type": "string", "title": "Label"},
                "value": {"type": "string", "title": "Name"},
                "type": {"type": "string", "title": "Type", "default": "text"},
                "required": {"type": "boolean", "title": "Required", "default": False},
                "rows": {"title": "Lines (multiline)", "default": 3}}}, "default": []},
        submit=string("submit", title="Submit button"),
        cancel=string("cancel", title="Cancel button"),
        **_topic(),
    )


class UiTemplate(TemplateWidget):
    """HTML shown in a group, filled from each message: `{{msg.payload}}` bindings,
    `ng-bind` / `ng-bind-html` attributes, and the filters `number:N`, `uppercase`,
    `lowercase`, `json`. A safe subset: values are escaped, HTML is cleaned by an
    allow-list, and `<script>`, `<style>`, event handlers and Angular directives are
    removed, so a template's script never runs. `templateScope` "global" (site-wide
    scripts and styles) is not shown. Input messages pass through (`fwdInMessages`)."""

    type = "ui_template"
    palette_label = "template"
    schema: ClassVar = {"type": "object", "properties": {
        **widget_schema()["properties"],
        "group": node_ref("ui_group", title="Group"),
        "format": string('<div ng-bind-html="msg.payload"></div>', title="Template",
                         **{"x-format": "html"}),
        "templateScope": enum(["local", "global"], "local", title="Scope", labels={
            "local": "this group", "global": "whole site (not shown by flowrt)"}),
        "fwdInMessages": boolean(True, title="Pass input messages through"),
        "storeOutMessages": boolean(True, title="Keep the last message for new pages"),
        "resendOnRefresh": boolean(True, title="Show it again on refresh"),
    }}


class UiToast(Notification):
    """A notification over every open dashboard page: `msg.payload` the text (HTML
    cleaned as the template's), `msg.topic` (or `topic`) the title, for `displayTime`
    seconds at `position`. `position` "dialog" waits for OK (`ok`) or `cancel`, and
    sends the input message with the pressed button's label as `msg.payload`."""

    type = "ui_toast"
    palette_label = "notification"
    outputs = 1
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "position": enum(["top right", "top left", "bottom right", "bottom left",
                          "dialog", "prompt"], "top right", title="Position"),
        "displayTime": number("3", title="Timeout (seconds)"),
        "highlight": string("", title="Highlight colour"),
        "ok": string("OK", title="OK button"),
        "cancel": string("", title="Cancel button"),
        "raw": boolean(False, title="Payload is HTML"),
        "topic": string("", title="Title", description="when msg.topic is empty"),
        "sendall": boolean(True, title="To every page"),
        "outputs": integer(0, title="Outputs", **{"x-hidden": True}),
        "className": string("", title="CSS class"),
    }}


class UiSpacer(SpacerWidget):
    """Empty space of `width` times `height` grid units in a group."""

    type = "ui_spacer"
    palette_label = "spacer"
    schema: ClassVar = widget_schema()


class UiTable(TableWidget):
    """A table of `msg.payload`, an array of objects: a row per object, a column per
    key (of `node-red-node-ui-table`). Clicking a row sends its object."""

    type = "ui_table"
    palette_label = "table"
    schema: ClassVar = widget_schema()
