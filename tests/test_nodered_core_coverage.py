"""Every node type of Node-RED 4's core palette is built into flowrt.

The list (flowrt.nodered_types) is checked against Node-RED's own source when Node-RED is
installed for the bench (``bench/.cache``): every ``RED.nodes.registerType`` of its core
node files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowrt.flowdoc import STRUCTURAL_TYPES
from flowrt.nodered_types import NODE_RED_CORE_TYPES
from flowrt.registry import discover

NODE_RED_CORE = (Path(__file__).resolve().parent.parent / "bench" / ".cache" / "node_modules"
                 / "@node-red" / "nodes" / "core")
_REGISTER = re.compile(r"""registerType\(\s*["']([^"']+)["']""")


def test_every_core_type_is_a_built_in_node_type() -> None:
    registry = discover()
    missing = sorted(t for t in NODE_RED_CORE_TYPES
                     if t not in registry and t not in STRUCTURAL_TYPES)
    assert missing == []
    foreign = sorted(t for t in NODE_RED_CORE_TYPES
                     if t in registry and registry.types[t].origin != "built-in")
    assert foreign == []


@pytest.mark.skipif(not NODE_RED_CORE.is_dir(), reason="Node-RED is not installed in bench/.cache "
                    "(python -m bench.run installs it)")
def test_the_core_list_is_node_reds_own() -> None:
    registered = {name for path in NODE_RED_CORE.rglob("*.js")
                  for name in _REGISTER.findall(path.read_text(encoding="utf-8"))}
    assert registered == NODE_RED_CORE_TYPES
