// Runs Node-RED's own csv node (core/parsers/70-CSV.js) on test cases, for
// tests/nodes/test_csv_node.py: argv[2] is the @node-red directory of an installed
// Node-RED; stdin has one JSON case per line ({config, msgs}); stdout gets one JSON
// line per case: the node's events in order ([kind, value], kind send/warn/status/done).
"use strict";
const path = require("path");
const readline = require("readline");
const EventEmitter = require("events");

const root = process.argv[2];
const util = require(path.join(root, "util")).util;
const messages = require(path.join(root, "nodes/locales/en-US/messages.json"));
let CsvNode;
const RED = {
    nodes: {
        createNode(node, config) { EventEmitter.call(node); node.id = config.id; },
        registerType(type, constructor) { CsvNode = constructor; },
    },
    util,
    _: (key) => key.split(".").reduce((o, k) => o && o[k], messages) || key,
};
require(path.join(root, "nodes/core/parsers/70-CSV.js"))(RED);

const encode = (key, value) => {
    if (value === undefined) { return "__undefined__"; }
    if (typeof value === "number" && !isFinite(value)) { return String(value); }
    return value;
};

readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const testCase = JSON.parse(line);
    const events = [];
    const node = Object.create(EventEmitter.prototype);
    node.status = (s) => events.push(["status", s]);
    node.warn = (w) => events.push(["warn", String(w)]);
    node.error = (e) => events.push(["error", String(e)]);
    node.send = (m) => events.push(["send", m]);
    CsvNode.call(node, Object.assign({ id: "n1" }, testCase.config));
    for (const msg of testCase.msgs) {
        node.emit("input", msg, (m) => events.push(["send", m]),
            (err) => { if (err) { events.push(["done", String(err.message || err)]); } });
    }
    process.stdout.write(JSON.stringify(events, encode) + "\n");
});
