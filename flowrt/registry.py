"""The node type registry: built-ins, installed packages and data-dir plugins.

Everything registers through one path. An entry point in the group
``flowrt.nodes`` (or a ``.py`` file in the data dir's ``nodes/``) names a module;
every :class:`~flowrt.node.Node` subclass *defined in* that module with a
``type`` is registered. flowrt's own node types are entry points of the
``flowrt`` distribution, exactly as a third-party package's are.

A module that fails to import, a class with a broken schema, or a type name that
is already taken is recorded in ``errors`` (and logged); the other plugins load.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from types import ModuleType
from typing import Any

from flowrt.errors import PluginError
from flowrt.node import Node
from flowrt.schema_check import SchemaValidator, check_schema

log = logging.getLogger("flowrt.registry")

ENTRY_POINT_GROUP = "flowrt.nodes"
BUILTIN_DISTRIBUTION = "flowrt"
USER_MODULE_PREFIX = "flowrt_user_nodes."
"""Module names of the data dir's plugin files (``nodes/vault.py`` → ``…vault``)."""


@dataclass(frozen=True)
class NodeType:
    """A registered node type and where it came from."""

    cls: type[Node]
    origin: str  # "built-in", "package <dist>", or "data dir"
    module: str


class Registry:
    """Maps node type names to classes; see the module docstring."""

    def __init__(self) -> None:
        self.types: dict[str, NodeType] = {}
        self.errors: list[PluginError] = []
        self._validators: dict[str, SchemaValidator] = {}

    def __contains__(self, node_type: str) -> bool:
        return node_type in self.types

    def get(self, node_type: str) -> type[Node] | None:
        """The class for ``node_type``, or None."""
        entry = self.types.get(node_type)
        return entry.cls if entry else None

    def validator(self, node_type: str) -> SchemaValidator:
        """A validator of ``node_type``'s config schema."""
        validator = self._validators.get(node_type)
        if validator is None:
            validator = SchemaValidator(self.types[node_type].cls.schema)
            self._validators[node_type] = validator
        return validator

    def register(self, cls: type[Node], origin: str, module: str) -> None:
        """Register one node class; a name collision or bad schema is an error."""
        name = cls.type
        if not isinstance(name, str) or not name:
            raise PluginError(origin, module, f"class {cls.__name__} has no 'type'")
        if name in self.types:
            other = self.types[name]
            raise PluginError(origin, module,
                              f"type {name!r} is already registered by {other.origin} "
                              f"module {other.module}")
        problem = check_schema(cls.schema)
        if problem is not None:
            raise PluginError(origin, module, f"type {name!r} has an invalid schema: {problem}")
        self.types[name] = NodeType(cls, origin, module)

    def register_module(self, module: ModuleType, origin: str) -> list[str]:
        """Register every Node subclass defined in ``module``; return their types."""
        added = []
        for value in list(vars(module).values()):
            if (isinstance(value, type) and issubclass(value, Node) and value is not Node
                    and value.__module__ == module.__name__ and value.type):
                try:
                    self.register(value, origin, module.__name__)
                    added.append(value.type)
                except PluginError as exc:
                    self._report(exc)
        if not added:
            self._report(PluginError(origin, module.__name__, "defines no node types"))
        return added

    def load_entry_points(self) -> None:
        """Load every module named in the ``flowrt.nodes`` entry-point group."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            origin = "built-in" if dist == BUILTIN_DISTRIBUTION else f"package {dist}"
            try:
                target = ep.load()
            except Exception as exc:
                self._report(PluginError(origin, ep.value, f"import failed: {exc!r}"))
                continue
            if isinstance(target, ModuleType):
                self.register_module(target, origin)
            elif isinstance(target, type) and issubclass(target, Node):
                try:
                    self.register(target, origin, target.__module__)
                except PluginError as exc:
                    self._report(exc)
            else:
                self._report(PluginError(origin, ep.value, "is neither a module nor a Node class"))

    def load_directory(self, directory: Path) -> None:
        """Load every ``*.py`` file in ``directory`` (the data dir's ``nodes/``)."""
        if not directory.is_dir():
            return
        for path in sorted(directory.glob("*.py")):
            name = f"{USER_MODULE_PREFIX}{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(name, None)
                self._report(PluginError("data dir", str(path), f"import failed: {exc!r}"))
                continue
            self.register_module(module, "data dir")

    def _report(self, error: PluginError) -> None:
        self.errors.append(error)
        log.error("%s", error)

    def node_sets(self) -> list[dict[str, Any]]:
        """The installed node sets as Node-RED's ``GET /nodes`` lists them.

        One set per module that registered types (a node type module, a data-dir
        file), ``{"id": "<module>/<set>", "name", "types", "enabled", "local",
        "user", "module", "version"}``: ``module`` is the distribution (``flowrt``
        for the built-ins), ``local`` true for the data dir's files. A plugin that
        failed to load is a set without types, with ``err`` (as Node-RED shows it).
        """
        sets: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in sorted(self.types.values(), key=lambda e: (e.module, e.cls.type)):
            key = (entry.origin, entry.module)
            if key not in sets:
                sets[key] = _node_set(entry.origin, entry.module)
            sets[key]["types"].append(entry.cls.type)
        failed = [{**_node_set(error.origin, error.module), "err": error.message}
                  for error in self.errors]
        return [*sets.values(), *failed]

    def describe(self) -> list[dict[str, Any]]:
        """Every type's editor metadata plus its origin (``GET /node-types``)."""
        return [
            {**entry.cls.describe(), "origin": entry.origin, "module": entry.module}
            for entry in sorted(self.types.values(), key=lambda e: (e.cls.category, e.cls.type))
        ]


def _node_set(origin: str, module: str) -> dict[str, Any]:
    """A node set without types yet: where the module ``module`` came from."""
    local = origin == "data dir"
    distribution = (BUILTIN_DISTRIBUTION if origin == "built-in"
                    else origin.removeprefix("package ") if origin.startswith("package ")
                    else "local")
    # "flowrt_nodes.mqtt" → "mqtt"; a data-dir file "/x/nodes/vault.py" → "vault".
    if local:
        name = (module.removeprefix(USER_MODULE_PREFIX) if module.startswith(USER_MODULE_PREFIX)
                else Path(module).stem)
    else:
        name = module.split(":")[0].rsplit(".", 1)[-1]
    return {"id": f"{distribution}/{name}", "name": name, "types": [], "enabled": True,
            "local": local, "user": local, "module": distribution,
            "version": _version(distribution)}


def _version(distribution: str) -> str:
    """The installed version of a distribution ("" for the data dir's files)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def discover(data_dir: Path | None = None, excludes: frozenset[str] = frozenset()) -> Registry:
    """A registry with every installed node type (and the data dir's plugins)."""
    registry = Registry()
    registry.load_entry_points()
    if data_dir is not None:
        registry.load_directory(data_dir / "nodes")
    for name in excludes:
        registry.types.pop(name, None)
    return registry
