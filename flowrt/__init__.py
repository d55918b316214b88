"""flowrt: a Node-RED-style visual flow runtime for IoT edge and fog gateways.

The names below are the node SDK: what every node type, built-in (``nodes/``) or
third-party, imports. ``from flowrt import Node, string, get_message_property``
is enough to write one; each name's module has the details. Everything else in
the package is the runtime's own and may change. ``tests/sdk/test_public_api.py``
pins this list, so adding or removing a public name is a visible change.
"""

from flowrt.buffering import DEFAULT_BUFFER_LIMIT, buffer_limit, failure, new_hold, release
from flowrt.clock import Clock, TimerHandle
from flowrt.context import Context
from flowrt.errors import ConfigError, NodeError, NotStoredError
from flowrt.forwarder import Batching, Forwarder, NotSent, RetryPolicy, retry_policies
from flowrt.jsregex import js_regex, js_replacer
from flowrt.jsvalue import (
    MISSING,
    compare,
    is_nan,
    iso_timestamp,
    js_number,
    js_string,
    loose_equals,
    number_value,
    parse_float,
    parse_int,
    truthy,
    typeof,
)
from flowrt.messages import (
    Message,
    clone_message,
    clone_value,
    delete_property,
    field_names,
    get_message_property,
    get_property,
    has_property,
    new_msgid,
    parse_path,
    property_getter,
    set_message_property,
    set_property,
    strip_msg,
)
from flowrt.node import Node
from flowrt.payloads import CONVERTERS, BadPayload, serialize_payload
from flowrt.schema import (
    as_bool,
    as_int,
    as_number,
    boolean,
    enum,
    integer,
    node_ref,
    number,
    string,
    typed,
)
from flowrt.typed_input import TypedInputError, TypedValue, context_of

__version__ = "0.1.0"

__all__ = [
    "CONVERTERS",
    "DEFAULT_BUFFER_LIMIT",
    "MISSING",
    "BadPayload",
    "Batching",
    "Clock",
    "ConfigError",
    "Context",
    "Forwarder",
    "Message",
    "Node",
    "NodeError",
    "NotSent",
    "NotStoredError",
    "RetryPolicy",
    "TimerHandle",
    "TypedInputError",
    "TypedValue",
    "as_bool",
    "as_int",
    "as_number",
    "boolean",
    "buffer_limit",
    "clone_message",
    "clone_value",
    "compare",
    "context_of",
    "delete_property",
    "enum",
    "failure",
    "field_names",
    "get_message_property",
    "get_property",
    "has_property",
    "integer",
    "is_nan",
    "iso_timestamp",
    "js_number",
    "js_regex",
    "js_replacer",
    "js_string",
    "loose_equals",
    "new_hold",
    "new_msgid",
    "node_ref",
    "number",
    "number_value",
    "parse_float",
    "parse_int",
    "parse_path",
    "property_getter",
    "release",
    "retry_policies",
    "serialize_payload",
    "set_message_property",
    "set_property",
    "string",
    "strip_msg",
    "truthy",
    "typed",
    "typeof",
]
