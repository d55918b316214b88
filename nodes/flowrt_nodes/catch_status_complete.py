"""catch, status and complete: nodes the runtime feeds with other nodes' events.

They have no input. The flow hands them errors, status changes and completions
of the nodes in their scope (see ``flowrt.flow.Flow``), and they send those on.
"""

from __future__ import annotations

from typing import ClassVar

from flowrt.node import Node
from flowrt.schema import boolean, show_if, string

# Node-RED's three scopes: null (all nodes of the flow; "flow" is read the same way),
# "group" (the nodes of this node's group) or a list of node ids. The editor's node-list
# widget offers them as "all nodes" / "in the same group" / "selected nodes" with the
# flow's nodes to tick.
_SCOPE = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "string"}},
                    {"enum": ["group", "flow"]}], "x-widget": "node-list"}


class Catch(Node):
    """Catches errors thrown by nodes on the same tab.

    Outputs the failed message with `msg.error = {message, source: {id, type, name, count}}`
    (a previous `msg.error` moves to `msg._error`). Catch errors from (`scope`): all
    nodes of the flow, the nodes in the same group, or the nodes selected in the list.
    With "Ignore errors handled by other Catch nodes" (`uncaught`), it only handles
    errors no other catch node handled.
    """

    type = "catch"
    category = "common"
    inputs = 0
    color = "#e49191"
    icon = "alert"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "scope": {**_SCOPE, "default": None, "title": "Catch errors from"},
        # As Node-RED: offered for all nodes or a group, not for picked nodes.
        "uncaught": show_if(boolean(False, title="Ignore errors handled by other Catch nodes"),
                            scope=[None, "group", "flow"])}}


class Status(Node):
    """Reports status changes of nodes on the same tab.

    Outputs `msg.status = {fill, shape, text, source: {id, type, name}}`. Report status
    from (`scope`): all nodes, the nodes in the same group, or the selected nodes, as
    for catch.
    """

    type = "status"
    category = "common"
    inputs = 0
    color = "#94c1d0"
    icon = "status"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "scope": {**_SCOPE, "default": None, "title": "Report status from"}}}


class Complete(Node):
    """Fires when one of the nodes ticked in its list (`scope`) finishes handling a message.

    Outputs a copy of that message with `msg.complete = {source: {id, type, name}}`. A
    node completes a message when its handler returns (or, for nodes with a durable side
    effect such as mqtt out, when that effect is acknowledged).
    """

    type = "complete"
    category = "common"
    inputs = 0
    color = "#c0edc0"
    icon = "alert"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "scope": {"type": "array", "items": {"type": "string"}, "default": [],
                  "title": "Report completion of", "x-widget": "node-list"},
        "uncaught": boolean(False, title="Uncaught only", **{"x-hidden": True})}}
