"""catch, status and complete: nodes the runtime feeds with other nodes' events.

They have no input. The flow hands them errors, status changes and completions
of the nodes in their scope (see ``flowrt.flow.Flow``), and they send those on.
"""

from __future__ import annotations

from typing import ClassVar

from flowrt.node import Node
from flowrt.schema import boolean, string

# The editor shows scope as JSON text: null, "group" or a list of ids are Node-RED's
# three choices, worded in the description.
_SCOPE = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "string"}},
                    {"enum": ["group", "flow"]}],
          "description": 'null: all nodes; "group": in same group; '
                         'a list of node ids: selected nodes'}


class Catch(Node):
    """Catches errors thrown by nodes on the same tab.

    Outputs the failed message with `msg.error = {message, source: {id, type, name, count}}`
    (a previous `msg.error` moves to `msg._error`). `scope`: `null` for every node in the
    flow, a list of node ids, or `"group"` for the nodes of this node's group. With
    `uncaught` set, it only handles errors no other catch node handled.
    """

    type = "catch"
    category = "common"
    inputs = 0
    color = "#e49191"
    icon = "alert"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "scope": {**_SCOPE, "default": None, "title": "Catch errors from"},
        "uncaught": boolean(False, title="Ignore errors handled by other Catch nodes")}}


class Status(Node):
    """Reports status changes of nodes on the same tab.

    Outputs `msg.status = {fill, shape, text, source: {id, type, name}}`. `scope` works
    as for catch.
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
    """Fires when a node in `scope` finishes handling a message.

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
        "name": string(""), "scope": {"type": "array", "items": {"type": "string",
                                                                 "title": "Node id"},
                                      "default": [], "title": "Nodes to watch"},
        "uncaught": boolean(False, title="Uncaught only", **{"x-hidden": True})}}
