"""The node types of Node-RED's core palette (Node-RED 4.1, ``@node-red/nodes/core``).

Used to tell a user which of a flow's unknown types are Node-RED core nodes flowrt does
not have yet and which are contrib nodes that are not installed.
"""

from __future__ import annotations

NODE_RED_CORE_TYPES = frozenset({
    # common
    "inject", "debug", "complete", "catch", "status", "link in", "link out", "link call",
    "comment", "global-config", "unknown", "junction",
    # function
    "function", "switch", "change", "range", "template", "delay", "trigger", "exec", "rbe",
    # network
    "mqtt in", "mqtt out", "mqtt-broker", "http in", "http response", "http request",
    "http proxy", "tls-config", "websocket in", "websocket out", "websocket-listener",
    "websocket-client", "tcp in", "tcp out", "tcp request", "udp in", "udp out",
    # sequence
    "split", "join", "sort", "batch",
    # parsers
    "csv", "html", "json", "xml", "yaml",
    # storage
    "file", "file in", "watch",
})
"""Every ``type`` registered by Node-RED 4.1.15's core node files."""


def is_core_type(node_type: str) -> bool:
    """True when ``node_type`` belongs to Node-RED's core palette."""
    return node_type in NODE_RED_CORE_TYPES
