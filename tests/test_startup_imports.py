"""Memory at start: libraries only some node types need are loaded by flows using them.

Idle memory is one of the figures a gateway buys a runtime for (README, bench): every
installed node type's module is imported at start, so a module importing its parser
library at the top would cost every flow that library's memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Each loaded only when a node needing it is created (JSONata: change/switch/sort/...
# with a JSONata expression; YAML: yaml, template with YAML output; XML; HTML; Mustache:
# template, trigger; watchfiles: watch); jsonschema only for a config its quick check
# cannot pass (flowrt.schema_check); and no click: the command line is argparse.
LOADED_ON_DEMAND = ("jsonata", "yaml", "defusedxml", "xml.sax", "selectolax", "pystache",
                    "jsonschema", "click", "watchfiles")

ROOT = Path(__file__).resolve().parent.parent
PROBE = f"""
import asyncio, sys
from flowrt import flowdoc
from flowrt.registry import discover
from flowrt.runtime import Runtime
from flowrt.server.app import create_app
registry = discover()
assert "function" in registry and "xml" in registry and "html" in registry
for path in sys.argv[1:]:
    assert asyncio.run(Runtime(registry).validate(flowdoc.load(path))) == [], path
print(",".join(m for m in {LOADED_ON_DEMAND!r} if m in sys.modules))
"""


def test_discovering_every_node_type_and_validating_flows_loads_no_parser_library() -> None:
    flows = [ROOT / "flows" / "demo.json", ROOT / "bench" / "flows" / "function.json"]
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, flows)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "", f"loaded at start: {result.stdout.strip()}"
