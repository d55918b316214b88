"""The benchmark flow files, in Node-RED's flat JSON format, one function per scenario.

Every function takes the broker port (and the runtime, where the two flow files have to
differ) and returns the flat list of nodes. The same file is run on flowrt and Node-RED
except where Node-RED has no equivalent node type:

* ``aggregate`` and ``groups``: flowrt's ``aggregate`` node; on Node-RED a ``function``
  node doing the same count window (size 10, per topic or per ``payload.g``,
  count/min/max/mean).
* ``bridge``: flowrt's ``threshold`` and ``cloud-bridge`` nodes; on Node-RED a ``function``
  node with the same edge-triggered alerts and ``mqtt out`` nodes (QoS 1) to the second
  broker.

Every scenario reads ``bench/in/+`` (load on ``bench/in/load``, readiness probes on
``bench/in/probe``) and writes ``bench/out``. ``python -m bench.flows`` writes the files to
``bench/flows/*.json`` (with broker port 1883) for people to read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Node = dict[str, Any]
Flow = list[Node]

IN_TOPIC = "bench/in/+"
LOAD_TOPIC = "bench/in/load"
PROBE_TOPIC = "bench/in/probe"
OUT_TOPIC = "bench/out"
ALERT_TOPIC = "bench/alerts"
THRESHOLD = 50
AGGREGATE_SIZE = 10
GROUPS = 10_000  # the aggregate-groups scenario's group count
RUNTIMES = ("flowrt", "nodered")
# cloud-bridge batches "normal" messages by default; the bench compares per-message
# delivery with Node-RED's mqtt out, so every priority streams.
STREAM_ALL = {p: "stream" for p in ("critical", "high", "normal", "low")}

# The Node-RED stand-in for flowrt's aggregate node: a count window per group (KEY),
# of the numbers VALUE.
AGGREGATE_FUNCTION_JS = """\
let windows = context.get('windows');
if (!windows) { windows = {}; context.set('windows', windows); }
const v = Number(VALUE);
if (Number.isNaN(v)) { return null; }
const key = String(KEY);
let w = windows[key];
if (!w) { w = windows[key] = {count: 0, min: Infinity, max: -Infinity, sum: 0}; }
w.count += 1;
if (v < w.min) { w.min = v; }
if (v > w.max) { w.max = v; }
w.sum += v;
if (w.count < SIZE) { return null; }
delete windows[key];
return {topic: key, payload: {count: w.count, min: w.min, max: w.max, mean: w.sum / w.count}};
""".replace("SIZE", str(AGGREGATE_SIZE))


def _aggregate_js(key: str, value: str) -> str:
    return AGGREGATE_FUNCTION_JS.replace("KEY", key).replace("VALUE", value)

# The Node-RED stand-in for flowrt's threshold node: alert on crossing above the limit,
# clear on coming back, per topic; every message also goes on (output 2).
THRESHOLD_FUNCTION_JS = """\
let state = context.get('state');
if (!state) { state = {}; context.set('state', state); }
const v = Number(msg.payload);
const key = String(msg.topic);
const above = v > LIMIT;
let alert = null;
if (!Number.isNaN(v) && above !== Boolean(state[key])) {
    if (above) { state[key] = true; } else { delete state[key]; }
    alert = {topic: 'alert/' + key + '/value', level: above ? 'warning' : 'clear',
             payload: {key: key, metric: 'value', level: above ? 'warning' : 'clear',
                       value: v, threshold: LIMIT, direction: 'above', timestamp: Date.now()}};
}
return [alert, msg];
""".replace("LIMIT", str(THRESHOLD))


# The same conversion in both languages Node-RED users write it in.
FAHRENHEIT_JS = "msg.payload.temperature = msg.payload.temperature * 9 / 5 + 32;\nreturn msg;\n"
FAHRENHEIT_JSONATA = "payload.temperature * 9 / 5 + 32"


def _tab(tab_id: str, label: str) -> Node:
    return {"id": tab_id, "type": "tab", "label": label, "disabled": False, "info": ""}


def _broker(node_id: str, port: int, name: str) -> Node:
    return {
        "id": node_id,
        "type": "mqtt-broker",
        "name": name,
        "broker": "127.0.0.1",
        "port": port,
        "clientid": "",
        "autoConnect": True,
        "usetls": False,
        "protocolVersion": "4",
        "keepalive": "60",
        "cleansession": True,
        "autoUnsubscribe": True,
    }


def _mqtt_in(node_id: str, tab: str, broker: str, wires: list[str], *, topic: str = IN_TOPIC,
             datatype: str = "json", x: int = 120, y: int = 80) -> Node:
    return {
        "id": node_id, "type": "mqtt in", "z": tab, "name": "", "topic": topic, "qos": "0",
        "datatype": datatype, "broker": broker, "nl": False, "rap": True, "rh": 0,
        "inputs": 0, "x": x, "y": y, "wires": [wires],
    }


def _mqtt_out(node_id: str, tab: str, broker: str, *, qos: str = "0", x: int = 620,
              y: int = 80) -> Node:
    return {
        "id": node_id, "type": "mqtt out", "z": tab, "name": "", "topic": OUT_TOPIC,
        "qos": qos, "retain": "false", "broker": broker, "x": x, "y": y, "wires": [],
    }


def _rbe(node_id: str, tab: str, wires: list[str], *, x: int = 370, y: int = 80) -> Node:
    return {
        "id": node_id, "type": "rbe", "z": tab, "name": "deadband 0.5", "func": "deadband",
        "gap": "0.5", "start": "", "inout": "out", "septopics": True, "property": "payload",
        "topi": "topic", "x": x, "y": y, "wires": [wires],
    }


def relay(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in → mqtt out: the cost of the runtime itself."""
    return [
        _tab("relay", "relay"),
        _broker("broker", broker_port, "bench broker"),
        _mqtt_in("relay.in", "relay", "broker", ["relay.out"], datatype="utf8"),
        _mqtt_out("relay.out", "relay", "broker", x=370),
    ]


def filter_deadband(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in → rbe (deadband 0.5 on payload, per topic) → mqtt out."""
    return [
        _tab("filter", "filter"),
        _broker("broker", broker_port, "bench broker"),
        _mqtt_in("filter.in", "filter", "broker", ["filter.rbe"]),
        _rbe("filter.rbe", "filter", ["filter.out"]),
        _mqtt_out("filter.out", "filter", "broker"),
    ]


def fanout(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in wired to three rbe filters, each → mqtt out (every input is cloned twice)."""
    nodes: Flow = [
        _tab("fanout", "fan-out"),
        _broker("broker", broker_port, "bench broker"),
        _mqtt_in("fanout.in", "fanout", "broker", [f"fanout.rbe{i}" for i in range(3)], y=160),
    ]
    for i in range(3):
        y = 80 + 80 * i
        nodes.append(_rbe(f"fanout.rbe{i}", "fanout", [f"fanout.out{i}"], y=y))
        nodes.append(_mqtt_out(f"fanout.out{i}", "fanout", "broker", y=y))
    return nodes


def function_js(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in (JSON) → a JavaScript function node (°C to °F in payload.temperature) →
    mqtt out: the cost of running user code per message."""
    convert: Node = {
        "id": "function.js", "type": "function", "z": "function", "name": "°C to °F",
        "func": FAHRENHEIT_JS, "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "",
        "finalize": "", "libs": [], "x": 370, "y": 80, "wires": [["function.out"]],
    }
    return _through_one_node("function", broker_port, convert)


def jsonata_change(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in (JSON) → a change node setting payload.temperature with a JSONata
    expression (°C to °F) → mqtt out: the cost of evaluating JSONata per message."""
    change: Node = {
        "id": "jsonata.change", "type": "change", "z": "jsonata", "name": "°C to °F",
        "rules": [{"t": "set", "p": "payload.temperature", "pt": "msg",
                   "to": FAHRENHEIT_JSONATA, "tot": "jsonata"}],
        "action": "", "property": "", "from": "", "to": "", "reg": False,
        "x": 370, "y": 80, "wires": [["jsonata.out"]],
    }
    return _through_one_node("jsonata", broker_port, change)


def _through_one_node(tab: str, broker_port: int, node: Node) -> Flow:
    """tab's mqtt in (JSON) → ``node`` → mqtt out, ``node`` wired to ``<tab>.out``."""
    return [
        _tab(tab, tab),
        _broker("broker", broker_port, "bench broker"),
        _mqtt_in(f"{tab}.in", tab, "broker", [node["id"]]),
        node,
        _mqtt_out(f"{tab}.out", tab, "broker"),
    ]


HTTP_PATH = "/bench"
HTTP_BODY = '{"status":"ok","value":42}'


def http_json(broker_port: int = 0, runtime: str = "flowrt") -> Flow:
    """http in (GET /bench) → change: payload = a small JSON object → http response.

    No broker: the load is HTTP requests (``bench.http_load``)."""
    return [
        _tab("http", "http"),
        {"id": "http.in", "type": "http in", "z": "http", "name": "", "url": HTTP_PATH,
         "method": "get", "upload": False, "swaggerDoc": "", "x": 120, "y": 80,
         "wires": [["http.body"]]},
        {"id": "http.body", "type": "change", "z": "http", "name": "",
         "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": HTTP_BODY, "tot": "json"}],
         "action": "", "property": "", "from": "", "to": "", "reg": False,
         "x": 370, "y": 80, "wires": [["http.out"]]},
        {"id": "http.out", "type": "http response", "z": "http", "name": "",
         "statusCode": "", "headers": {}, "x": 620, "y": 80, "wires": []},
    ]


def aggregate(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in → count window of 10 per topic (count/min/max/mean) → mqtt out.

    flowrt uses its ``aggregate`` node; Node-RED has none, so it gets a ``function`` node
    implementing the same window.
    """
    return _aggregate_flow("aggregate", broker_port, runtime, "count window 10",
                           {"property": "payload", "groupBy": "topic"},
                           _aggregate_js("msg.topic", "msg.payload"))


def aggregate_groups(broker_port: int, runtime: str = "flowrt") -> Flow:
    """mqtt in (JSON ``{"g": group, "v": value}``) → count window of 10 per group ``g``
    → mqtt out: the memory ``GROUPS`` half-filled windows take (one topic carries them
    all, so ``mosquitto_pub -l`` can send the load)."""
    return _aggregate_flow("groups", broker_port, runtime, "count window 10 per g",
                           {"property": "payload.v", "groupBy": "payload.g",
                            "maxGroups": 2 * GROUPS},
                           _aggregate_js("msg.payload.g", "msg.payload.v"))


def _aggregate_flow(tab: str, broker_port: int, runtime: str, name: str,
                    config: dict[str, Any], js: str) -> Flow:
    common = {"id": f"{tab}.window", "z": tab, "name": name, "x": 370, "y": 80,
              "wires": [[f"{tab}.out"]]}
    if runtime == "flowrt":
        window: Node = {**common, "type": "aggregate", "window": "count",
                        "size": AGGREGATE_SIZE, **config,
                        "stats": ["count", "min", "max", "mean"]}
    else:
        window = {**common, "type": "function", "func": js, "outputs": 1, "timeout": 0,
                  "noerr": 0, "initialize": "", "finalize": "", "libs": []}
    return [
        _tab(tab, tab),
        _broker("broker", broker_port, "bench broker"),
        _mqtt_in(f"{tab}.in", tab, "broker", [window["id"]]),
        window,
        _mqtt_out(f"{tab}.out", tab, "broker"),
    ]


def threshold_bridge(broker_port: int, runtime: str = "flowrt",
                     cloud_port: int | None = None) -> Flow:
    """mqtt in → threshold check (alert when a topic's payload goes above 50, clear when
    it comes back) → every reading to ``bench/out`` and every alert to ``bench/alerts``
    on a second ("cloud") broker.

    flowrt uses its ``threshold`` node (output 1 alerts, output 2 passthrough) and two
    ``cloud-bridge`` nodes (durable outbox, QoS 1, every message streamed with its
    payload unchanged, as ``mqtt out`` publishes it); Node-RED a ``function``
    node with the same edge-triggered alert logic and two ``mqtt out`` nodes with QoS 1.
    """
    cloud_port = broker_port if cloud_port is None else cloud_port
    nodes: Flow = [
        _tab("bridge", "threshold + cloud bridge"),
        _broker("broker", broker_port, "edge broker"),
        _broker("cloud", cloud_port, "cloud broker"),
        _mqtt_in("bridge.in", "bridge", "broker", ["bridge.threshold"], y=120),
    ]
    wires = [["bridge.alerts"], ["bridge.out"]]
    if runtime == "flowrt":
        nodes.append({
            "id": "bridge.threshold", "type": "threshold", "z": "bridge",
            "name": f"payload > {THRESHOLD}",
            "rules": [{"property": "payload", "direction": "above", "warning": THRESHOLD,
                       "critical": None, "hysteresis": 0, "label": "value"}],
            "key": "topic", "cooldown": 30, "passthrough": True, "outputs": 2,
            "x": 370, "y": 120, "wires": wires,
        })
        for node_id, topic, y in (("bridge.alerts", ALERT_TOPIC, 80),
                                  ("bridge.out", OUT_TOPIC, 160)):
            nodes.append({
                "id": node_id, "type": "cloud-bridge", "z": "bridge", "name": "to cloud",
                "broker": "cloud", "deviceId": "bench", "topicTemplate": topic, "qos": 1,
                "durable": True, "modes": STREAM_ALL, "downlink": "", "x": 620, "y": y,
                "wires": [[], []],
            })
    else:
        nodes.append({
            "id": "bridge.threshold", "type": "function", "z": "bridge",
            "name": f"payload > {THRESHOLD}", "func": THRESHOLD_FUNCTION_JS, "outputs": 2,
            "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
            "x": 370, "y": 120, "wires": wires,
        })
        alerts = _mqtt_out("bridge.alerts", "bridge", "cloud", qos="1", y=80)
        alerts["topic"] = ALERT_TOPIC
        nodes += [alerts, _mqtt_out("bridge.out", "bridge", "cloud", qos="1", y=160)]
    return nodes


def big(broker_port: int, runtime: str = "flowrt", tabs: int = 10, per_tab: int = 100) -> Flow:
    """A 1,000-node flow: ``tabs`` tabs, each mqtt in → a chain of change/switch/range
    nodes (all pass numbers through unchanged) → mqtt out; ``tabs * per_tab`` nodes in all,
    not counting the tabs and the broker config node.
    """
    nodes: Flow = [_broker("broker", broker_port, "bench broker")]
    for t in range(tabs):
        tab = f"big{t}"
        nodes.append(_tab(tab, f"big {t}"))
        chain = [f"{tab}.n{i}" for i in range(per_tab - 2)]
        topic = PROBE_TOPIC if t == 0 else f"bench/big/{t}"
        nodes.append(_mqtt_in(f"{tab}.in", tab, "broker", [chain[0]], topic=topic, y=40))
        for i, node_id in enumerate(chain):
            nxt = chain[i + 1] if i + 1 < len(chain) else f"{tab}.out"
            nodes.append(_chain_node(node_id, tab, i, nxt))
        nodes.append(_mqtt_out(f"{tab}.out", tab, "broker", x=120 + 180 * 10, y=40))
    return nodes


def tabs(broker_port: int, runtime: str = "flowrt") -> Flow:
    """100 tabs of 10 nodes (mqtt in → 8 change/switch/range → mqtt out): the cost of
    many small flows (idle memory, deploy time)."""
    return big(broker_port, runtime, tabs=100, per_tab=10)


def _chain_node(node_id: str, tab: str, i: int, nxt: str) -> Node:
    common = {"id": node_id, "z": tab, "name": "", "x": 120 + 180 * (i % 10),
              "y": 120 + 60 * (i // 10), "wires": [[nxt]]}
    kind = i % 3
    if kind == 0:
        return {**common, "type": "change", "rules": [
            {"t": "set", "p": "hops", "pt": "msg", "to": str(i), "tot": "num"}],
            "action": "", "property": "", "from": "", "to": "", "reg": False}
    if kind == 1:
        return {**common, "type": "switch", "property": "payload", "propertyType": "msg",
                "rules": [{"t": "gte", "v": "0", "vt": "num"}], "checkall": "true",
                "repair": False, "outputs": 1}
    return {**common, "type": "range", "minin": "0", "maxin": "1000000", "minout": "0",
            "maxout": "1000000", "action": "scale", "round": False, "property": "payload"}


FlowBuilder = Callable[..., Flow]

# scenario name → builder; the bench/flows/ file names come from these keys.
BUILDERS: dict[str, FlowBuilder] = {
    "relay": relay,
    "filter": filter_deadband,
    "function": function_js,
    "jsonata": jsonata_change,
    "aggregate": aggregate,
    "fanout": fanout,
    "bridge": threshold_bridge,
    "big": big,
    "http": http_json,
    "groups": aggregate_groups,
    "tabs": tabs,
}


def flow_files(broker_port: int = 1883) -> dict[str, Flow]:
    """File name → flow for bench/flows/: one file per scenario, or one per runtime where
    the two runtimes' flows differ."""
    files: dict[str, Flow] = {}
    for name, builder in BUILDERS.items():
        per_runtime = {rt: builder(broker_port, rt) for rt in RUNTIMES}
        if per_runtime["flowrt"] == per_runtime["nodered"]:
            files[f"{name}.json"] = per_runtime["flowrt"]
        else:
            for rt, flow in per_runtime.items():
                files[f"{name}.{rt}.json"] = flow
    return files


def dumps(flow: Flow) -> str:
    """Serialise a flow the way the bench/flows/ files are written."""
    return json.dumps(flow, indent=2) + "\n"


def write_flow_files(directory: Path) -> list[Path]:
    """Write every scenario's flow file(s) into directory; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, flow in flow_files().items():
        path = directory / name
        path.write_text(dumps(flow))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_flow_files(Path(__file__).parent / "flows"):
        sys.stdout.write(f"{written_path}\n")
