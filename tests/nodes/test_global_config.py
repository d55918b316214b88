"""global-config and unknown, as a Node-RED 4 export carries them.

`global-config` supplies environment variables to every flow (a tab's own env wins);
`unknown` is the editor's placeholder for a node whose type was not installed: Node-RED
deploys it, and it takes messages and sends nothing. Expected values were read from
Node-RED 4.1.15 running the same document."""

from __future__ import annotations

from flowrt.testing import FlowHarness

EXPORT = [
    {"id": "tab1", "type": "tab", "label": "Flow 1",
     "env": [{"name": "OVER", "value": "from-tab", "type": "str"}]},
    {"id": "gc", "type": "global-config",
     "env": [{"name": "SITE", "value": "plant-7", "type": "str"},
             {"name": "N", "value": "5", "type": "num"},
             {"name": "OVER", "value": "from-global", "type": "str"}],
     "modules": {}},
    {"id": "fn", "type": "function", "z": "tab1", "x": 0, "y": 0, "outputs": 1,
     "func": "msg.payload = [env.get('SITE'), env.get('N'), typeof env.get('N'),"
             " env.get('OVER')].join('|');\nreturn msg;",
     "wires": [["ch"]]},
    {"id": "ch", "type": "change", "z": "tab1", "x": 0, "y": 0,
     "rules": [{"t": "set", "p": "j", "pt": "msg", "tot": "jsonata",
                "to": "$env('SITE') & '/' & $string($env('N')) & '/' & $env('OVER')"}],
     "wires": [["tp"]]},
    {"id": "tp", "type": "template", "z": "tab1", "x": 0, "y": 0, "field": "t",
     "fieldType": "msg", "syntax": "mustache", "template": "{{env.SITE}}-{{env.N}}",
     "output": "str", "wires": [[]]},
    {"id": "unk", "type": "unknown", "z": "tab1", "x": 0, "y": 0,
     "name": "node-red-contrib-missing", "wires": [["tp"]]},
]


async def test_global_config_env_reaches_function_jsonata_and_template():
    async with FlowHarness(EXPORT) as h:
        await h.inject("fn", payload=0)
        out = h.outputs("tp")
        assert [(m["payload"], m["j"], m["t"]) for m in out] == [
            ("plant-7|5|number|from-tab", "plant-7/5/from-tab", "plant-7-5")]


async def test_unknown_node_deploys_takes_messages_and_sends_nothing():
    # flowrt runs no node for `unknown` (it is structural): a wire into it delivers to
    # nothing, as Node-RED's UnknownNode, which has no input handler, and its own
    # wires never carry anything.
    flows = [dict(n, wires=[["ch", "unk"]]) if n["id"] == "fn" else n for n in EXPORT]
    async with FlowHarness(flows) as h:
        assert h.runtime.get_node("unk") is None
        await h.inject("fn", payload=0)
        await h.settle()
        assert [m["t"] for m in h.outputs("tp")] == ["plant-7-5"]
        assert h.errors == [] and h.warnings == []
