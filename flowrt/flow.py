"""A running flow: a tab, or one instance of a subflow.

A Flow knows its nodes' catch, status and complete nodes (Node-RED's scoping
rules), resolves environment variables through Node-RED's lookup chain, and
routes errors from a subflow instance to the flow that contains it.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

import orjson

from flowrt.context import Context
from flowrt.errors import NodeError
from flowrt.flowdoc import ENV_REFERENCE
from flowrt.messages import Message, clone_message, new_msgid
from flowrt.node import MAX_CATCH_COUNT, Node

log = logging.getLogger("flowrt.flow")


class FlowHost(Protocol):
    """What a flow needs from the runtime (``flowrt.runtime.Runtime``)."""

    groups: dict[str, dict[str, Any]]
    global_env: list[dict[str, Any]]

    def publish_status(self, node: Node, status: dict[str, Any]) -> None: ...


class Flow:
    """A tab (``parent`` is None) or a subflow instance (``parent`` is its flow)."""

    def __init__(self, host: FlowHost, config: dict[str, Any], context: Context,
                 parent: Flow | None = None, subflow: dict[str, Any] | None = None,
                 instance: dict[str, Any] | None = None) -> None:
        self.host = host
        self.id: str = config["id"]
        self.config = config
        self.parent = parent
        self.subflow = subflow
        self.instance = instance
        self.instance_node: Node | None = None
        self.catch_nodes: list[Node] = []
        self.status_nodes: list[Node] = []
        self.complete_nodes: list[Node] = []
        self.context = context
        self._watched: set[str] = set()

    @property
    def label(self) -> str:
        """The tab label or subflow name."""
        return str(self.config.get("label") or self.config.get("name") or self.id)

    def index(self, nodes: list[Node]) -> None:
        """Find this flow's catch, status and complete nodes among ``nodes``."""
        self.catch_nodes = [n for n in nodes if n.config["type"] == "catch"]
        self.status_nodes = [n for n in nodes if n.config["type"] == "status"]
        self.complete_nodes = [n for n in nodes if n.config["type"] == "complete"]
        self._watched = {i for c in self.complete_nodes for i in c.config.get("scope") or ()}

    def watches_complete(self, node: Node) -> bool:
        """True when a ``complete`` node of this flow watches ``node`` (after ``index``)."""
        return node.id in self._watched or _alias(node) in self._watched

    # --------------------------------------------------------------- errors
    def handle_error(self, node: Node, err: BaseException | str, msg: Message,
                     reporting: Node | None = None) -> bool:
        """Deliver an error to the catch nodes that cover ``node``; True if any did.

        ``reporting`` is the node whose scope the catch nodes check: ``node`` itself,
        or, for an error passed up from a subflow, that subflow's instance node (as in
        Node-RED, ``msg.error.source`` still names the node that failed).
        """
        reporting = reporting or node
        source_id = _alias(node) if reporting is node else node.id
        previous = msg.get("error")
        count = 1
        if isinstance(previous, dict):
            source = previous.get("source")
            if isinstance(source, dict) and source.get("id") in (node.id, source_id):
                count = int(source.get("count", 0)) + 1
                if count >= MAX_CATCH_COUNT:
                    node.log.warning("Message exceeded maximum number of catches")
                    return True
        handled = False
        for uncaught in (False, True):
            if handled:
                break
            for catch in self.catch_nodes:
                if (bool(catch.config.get("uncaught")) != uncaught
                        or not _covers(catch, reporting)):
                    continue
                copy = clone_message(msg)
                if "error" in copy:
                    copy["_error"] = copy["error"]
                copy["error"] = {
                    "message": _error_text(err),
                    "source": {"id": source_id, "type": node.config["type"],
                               "name": node.name, "count": count},
                }
                if isinstance(err, BaseException):
                    copy["error"]["stack"] = f"{type(err).__name__}: {err}"
                catch.send(copy)
                handled = True
        if not handled and self.parent is not None and self.instance_node is not None:
            return self.parent.handle_error(node, err, msg, self.instance_node)
        return handled

    def handle_status(self, node: Node, status: dict[str, Any]) -> None:
        """Publish a node's status and hand it to the status nodes that cover it."""
        self.host.publish_status(node, status)
        for watcher in self.status_nodes:
            if watcher is node or not _covers(watcher, node):
                continue
            watcher.send({
                "_msgid": new_msgid(),
                "status": {**status, "source": {"id": _alias(node), "type": node.config["type"],
                                                "name": node.name}},
            })

    def handle_complete(self, node: Node, msg: Message) -> None:
        """Tell the complete nodes watching ``node`` that it finished ``msg``."""
        for watcher in self.complete_nodes:
            scope = watcher.config.get("scope") or ()
            if node.id in scope or _alias(node) in scope:
                copy = clone_message(msg)
                copy["complete"] = {"source": {"id": _alias(node), "type": node.config["type"],
                                               "name": node.name}}
                watcher.send(copy)

    # ------------------------------------------------------------------ env
    def get_env(self, name: str, node: Node | dict[str, Any] | None = None) -> Any:
        """Resolve an environment variable as Node-RED does.

        Order: ``NR_NODE_*`` of the node, its groups' ``env``, this flow's ``env``
        (for a subflow instance: the instance's, then the definition's, then the
        containing flow's), ``global-config`` env, the process environment.
        ``$parent.NAME`` skips the current level.
        """
        config = node.config if node is not None and not isinstance(node, dict) else node
        if config is not None:
            if name == "NR_NODE_ID":
                return config.get("_alias", config["id"])
            if name == "NR_NODE_NAME":
                return config.get("name", "")
            if name == "NR_NODE_PATH":
                return f"{self.path}/{config.get('_alias', config['id'])}"
            group_id = config.get("g")
            while group_id:
                group = self.host.groups.get(group_id)
                if group is None:
                    break
                if name == "NR_GROUP_ID":
                    return group["id"]
                if name == "NR_GROUP_NAME":
                    return group.get("name", "")
                found = _env_entry(group.get("env"), name, self)
                if found is not _NOTHING:
                    return found
                group_id = group.get("g")
        return self._flow_env(name)

    def _flow_env(self, name: str) -> Any:
        if name.startswith("$parent."):
            return self.parent._flow_env(name[8:]) if self.parent else _global_env(
                self.host, name[8:])
        if self.subflow is not None and self.instance is not None:
            if name == "NR_SUBFLOW_ID":
                return self.instance["id"]
            if name == "NR_SUBFLOW_NAME":
                return self.instance.get("name") or self.subflow.get("name", "")
            if name == "NR_SUBFLOW_PATH":
                return self.path
            for source in (self.instance.get("env"), self.subflow.get("env")):
                found = _env_entry(source, name, self)
                if found is not _NOTHING:
                    return found
            assert self.parent is not None
            return self.parent._flow_env(name)
        if name == "NR_FLOW_ID":
            return self.id
        if name == "NR_FLOW_NAME":
            return self.config.get("label", "")
        found = _env_entry(self.config.get("env"), name, self)
        if found is not _NOTHING:
            return found
        return _global_env(self.host, name)

    @property
    def path(self) -> str:
        """``tab`` or ``tab/instance`` (Node-RED's ``NR_NODE_PATH`` prefix)."""
        return f"{self.parent.path}/{self.id}" if self.parent else self.id

    def substitute_env(self, value: Any, node_config: dict[str, Any]) -> Any:
        """Replace every string that is exactly ``${NAME}`` by the variable's value."""
        if isinstance(value, str):
            match = ENV_REFERENCE.match(value)
            if match:
                found = self.get_env(match.group(1), node_config)
                return value if found is None else found
            return value
        if isinstance(value, dict):
            return {k: self.substitute_env(v, node_config) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute_env(v, node_config) for v in value]
        return value


_NOTHING = object()


def _global_env(host: FlowHost, name: str) -> Any:
    found = _env_entry(host.global_env, name, None)
    if found is not _NOTHING:
        return found
    return os.environ.get(name)


def _env_entry(entries: Any, name: str, flow: Flow | None) -> Any:
    if not isinstance(entries, list):
        return _NOTHING
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            return _typed_env(entry, flow)
    return _NOTHING


def _typed_env(entry: dict[str, Any], flow: Flow | None) -> Any:
    value, kind = entry.get("value"), entry.get("type", "str")
    try:
        if kind == "num":
            number = float(value)  # type: ignore[arg-type]
            return int(number) if number.is_integer() else number
        if kind == "bool":
            return value is True or value == "true"
        if kind == "json":
            return orjson.loads(value) if isinstance(value, str) else value
        if kind == "env":
            return flow._flow_env(str(value)) if flow else os.environ.get(str(value))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        log.warning("env %r: value %r is not a valid %s", entry.get("name"), value, kind)
        return None
    return value


def _alias(node: Node) -> str:
    return node.config.get("_alias", node.id)


def _covers(watcher: Node, node: Node) -> bool:
    scope = watcher.config.get("scope")
    if scope in (None, "", "flow") or scope is False:
        return True
    if scope == "group":
        group = watcher.config.get("g")
        return bool(group) and group == node.config.get("g")
    if isinstance(scope, list):
        return node.id in scope or _alias(node) in scope
    return False


def _error_text(err: BaseException | str) -> str:
    if isinstance(err, NodeError):
        return str(err)  # already worded for the user ("ZeroDivisionError: ... (line 2)")
    if isinstance(err, BaseException):
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return str(err)
