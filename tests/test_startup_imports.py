"""Memory at start: libraries only some node types need are loaded by flows using them.

Idle memory is one of the figures a gateway buys a runtime for (README, bench): every
installed node type's module is imported at start, so a module importing its parser
library at the top would cost every flow that library's memory.
"""

from __future__ import annotations

import subprocess
import sys

# Each loaded only when a node needing it is created (JSONata: change/switch/sort/...
# with a JSONata expression; YAML: yaml, template with YAML output; XML; HTML).
LOADED_ON_DEMAND = ("jsonata", "yaml", "defusedxml", "xml.sax", "selectolax")

PROBE = f"""
import sys
from flowrt.registry import discover
from flowrt.server.app import create_app
registry = discover()
assert "function" in registry and "xml" in registry and "html" in registry
print(",".join(m for m in {LOADED_ON_DEMAND!r} if m in sys.modules))
"""


def test_discovering_every_node_type_loads_no_parser_library() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "", f"loaded at start: {result.stdout.strip()}"
