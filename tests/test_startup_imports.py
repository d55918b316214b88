"""Memory at start: libraries only some node types need are loaded by flows using them.

Idle memory is one of the figures a gateway buys a runtime for (README, bench): every
installed node type's module is imported at start, so a module importing its parser
library at the top would cost every flow that library's memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Each loaded only when a node needing it is created (JSONata: change/switch/sort/...
# with a JSONata expression; YAML: yaml, template with YAML output; XML; HTML; Mustache:
# template, trigger; watchfiles: watch); jsonschema only for a config its quick check
# cannot pass (flowrt.schema_check); numpy: anomaly, aggregate's stddev and percentiles;
# and no click: the command line is argparse.
LOADED_ON_DEMAND = ("jsonata", "yaml", "defusedxml", "xml.sax", "selectolax", "pystache",
                    "jsonschema", "click", "watchfiles", "numpy")

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
    flows = [ROOT / "flows" / "demo.json", ROOT / "bench" / "flows" / "function.json",
             ROOT / "bench" / "flows" / "aggregate.flowrt.json"]
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, flows)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "", f"loaded at start: {result.stdout.strip()}"


# An aggregate with the default statistics (and sum, first, last, rate) summarises its
# windows without numpy; stddev and the percentiles bring it in when a window closes.
AGGREGATE_PROBE = """
import asyncio, sys
from flowrt.testing import FlowHarness

async def main(stats):
    flow = [{"id": "t", "type": "tab"},
            {"id": "a", "type": "aggregate", "z": "t", "window": "count", "size": 10,
             "wires": [[]], **({"stats": stats} if stats else {})}]
    async with FlowHarness(flow) as h:
        for i in range(20):
            h.send("a", {"topic": "s", "payload": i})
        await h.settle()
        assert len(h.outputs("a")) == 2, h.outputs("a")

asyncio.run(main(sys.argv[1:]))
print("numpy" in sys.modules)
"""


@pytest.mark.parametrize(("stats", "numpy_loaded"), [
    ([], "False"),
    (["count", "min", "max", "mean", "sum", "first", "last", "rate"], "False"),
    (["count", "stddev"], "True"),
    (["p95"], "True"),
])
def test_an_aggregate_loads_numpy_only_for_the_statistics_that_need_it(
        stats: list[str], numpy_loaded: str) -> None:
    result = subprocess.run([sys.executable, "-c", AGGREGATE_PROBE, *stats],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == numpy_loaded
