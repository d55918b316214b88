"""Running Node-RED's example flows for a parser node, unchanged, in the harness.

The xml and yaml examples build their input with a ``template`` node (plain syntax).
When flowrt's own ``template`` node is installed the flow runs with it; until then a
stand-in that does what a plain template does (the text as is, parsed as JSON or YAML
for ``output`` json/yaml) takes its place, so the parser node under test still gets
exactly the input Node-RED's example gives it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from flowrt.messages import Message, set_message_property
from flowrt.node import Node
from flowrt.testing import FlowHarness, make_registry
from flowrt.yaml_codec import load

EXAMPLES = Path(__file__).resolve().parents[1] / "compat" / "flows" / "nodered-examples"


class PlainTemplate(Node):
    """Test stand-in for ``template`` with ``syntax: plain`` (see the module docstring)."""

    type = "template"
    category = "function"
    schema: ClassVar = {"type": "object", "properties": {}}

    def on_input(self, msg: Message) -> None:
        assert self.config.get("syntax") == "plain", "the stand-in only renders plain text"
        text = str(self.config.get("template", ""))
        output = self.config.get("output")
        value: Any = json.loads(text) if output == "json" else load(text) if (
            output == "yaml") else text
        set_message_property(msg, str(self.config.get("field") or "payload"), value)
        self.send(msg)


def stand_ins() -> list[type[Node]]:
    """The stand-in template node when no real one is installed."""
    return [] if "template" in make_registry().types else [PlainTemplate]


async def run_example(name: str) -> tuple[FlowHarness, list[Message]]:
    """Run one example flow: fire its inject node, return what its debug node received."""
    flow = json.loads((EXAMPLES / name).read_text())
    inject = next(n["id"] for n in flow if n["type"] == "inject")
    debug = next(n["id"] for n in flow if n["type"] == "debug")
    # What reaches the debug node is what left the nodes wired to it.
    senders = [n["id"] for n in flow if any(debug in port for port in n.get("wires", []))]
    harness = FlowHarness(flow, node_types=stand_ins())
    async with harness as h:
        assert h.node(inject).trigger()  # type: ignore[attr-defined]
        await h.settle()
        received = [m for s in senders for m in h.outputs(s)]
        assert not h.errors, h.errors
    return harness, received
