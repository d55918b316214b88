/**
 * The tests sidebar: the flow tests beside the flow file (docs/flow-tests.md), run all
 * or one with pass / fail per case and the failure's explanation, and "record": the
 * debug output of the running flows becomes a new case of `expect` steps, saved
 * beside the flows.
 */
import { get, post } from "./api.js";
import { openDialog } from "./dialog.js";
import { h, replace } from "./dom.js";
import { notify } from "./notify.js";

/** A debug message's value as the sidebar received it (encoded for display). */
function decoded(data) {
  const format = String(data.format || "");
  const text = String(data.msg);
  if (format === "Object" || format.startsWith("array")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (format === "number") return Number(text);
  if (format === "boolean") return text === "true";
  if (format === "null") return null;
  return text;
}

/** `{a: {b: value}}` for the property path "a.b". */
function nested(path, value) {
  return path.split(".").reduceRight((inner, key) => ({ [key]: inner }), value);
}

/** The `expect` step for one debug message, `gap` seconds after the previous one. */
function recordedStep(data, gap) {
  const step = { expect: data.id };
  if (gap > 0) step.within = Math.ceil(gap);
  const value = decoded(data);
  if (data.property === "payload") {
    if (data.topic !== undefined) step.topic = data.topic;
    step.payload = value;
  } else if (data.property) {
    step.msg = nested(data.property, value);
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    const { _msgid, ...msg } = value;
    step.msg = msg;
  } else {
    step.payload = value;
  }
  return step;
}

export class FlowTestsSidebar {
  /** `root`: the sidebar element holding `#sidebar-tests`. */
  constructor(root) {
    this.pane = root.querySelector("#sidebar-tests");
    this.results = new Map();
    this.recording = null;
    this.running = false;
    this.files = [];
    this.flows = "";
    this.error = "";
    root.querySelector('[data-sidebar-tab="tests"]').addEventListener("click", () => this.refresh());
  }

  key(file, name) {
    return `${file}\n${name}`;
  }

  /** Reload the list of cases from the server. */
  async refresh() {
    try {
      const listing = await get("flow-tests");
      this.flows = listing.flows;
      this.files = listing.files;
      this.error = "";
    } catch (error) {
      this.files = [];
      this.error = error.message;
    }
    this.render();
  }

  render() {
    const toolbar = h("div", { class: "tests-toolbar" },
      h("button", { type: "button", "data-action": "run-all", disabled: this.running || !this.files.length, onclick: () => this.run({}) }, "run all"),
      h("button", { type: "button", "data-action": "record", class: this.recording ? "recording" : null, onclick: () => this.toggleRecording() },
        this.recording ? `stop (${this.recording.steps.length})` : "record"),
      h("span", { class: "tests-summary" }, this.summary()));
    const files = this.files.map((file) => h("section", { class: "tests-file", "data-file": file.file },
      h("h4", {}, file.file),
      file.problems.length ? h("pre", { class: "tests-failure" }, file.problems.join("\n")) : null,
      h("ul", { class: "tests-cases" }, file.cases.map((test) => this.caseRow(file.file, test)))));
    const empty = this.files.length ? null : h("p", { class: "hint" },
      this.error || `No test cases beside ${this.flows || "the flows"} yet: write NAME.tests.yaml (docs/flow-tests.md), or record a case from the debug output.`);
    replace(this.pane, toolbar, empty, files);
  }

  caseRow(file, test) {
    const result = this.results.get(this.key(file, test.name));
    const state = result ? result.state : "";
    const mark = { pass: "✓", fail: "✗", running: "…" }[state] || "○";
    return h("li", { class: `tests-case ${state}`, "data-case": test.name, "data-result": state || "none" },
      h("div", { class: "tests-case-row" },
        h("span", { class: "tests-mark", title: state || "not run" }, mark),
        h("span", { class: "tests-name", title: `line ${test.line}` }, test.name),
        h("button", { type: "button", class: "link", disabled: this.running, onclick: () => this.run({ file, case: test.name }) }, "run")),
      result?.failure ? h("pre", { class: "tests-failure" }, result.failure.join("\n")) : null);
  }

  summary() {
    const states = [...this.results.values()].map((r) => r.state);
    if (!states.length) return "";
    const passed = states.filter((s) => s === "pass").length;
    const failed = states.filter((s) => s === "fail").length;
    return this.running ? "running…" : `${passed} passed, ${failed} failed`;
  }

  /** Run every case, one file's (`file`) or one case (`file` and `case`). */
  async run(which) {
    this.running = true;
    for (const file of this.files) {
      if (which.file && which.file !== file.file) continue;
      for (const test of file.cases) {
        if (!which.case || which.case === test.name) this.results.set(this.key(file.file, test.name), { state: "running" });
      }
    }
    this.render();
    try {
      const { results } = await post("flow-tests/run", which);
      for (const result of results) {
        this.results.set(this.key(result.file, result.case), { state: result.passed ? "pass" : "fail", failure: result.failure });
      }
    } catch (error) {
      for (const [key, result] of this.results) if (result.state === "running") this.results.delete(key);
      notify(`Flow tests: ${error.message}`, { type: "error", lines: (error.body?.details || []).map((d) => d.message) });
    } finally {
      this.running = false;
      this.render();
    }
  }

  /** A debug message from /comms (recorded while recording). */
  debugMessage(data) {
    if (!this.recording || data.level) return;
    const now = performance.now();
    this.recording.steps.push(recordedStep(data, (now - this.recording.last) / 1000));
    this.recording.last = now;
    this.render();
  }

  toggleRecording() {
    if (!this.recording) {
      this.recording = { steps: [], last: performance.now() };
      this.render();
      return;
    }
    const { steps } = this.recording;
    this.recording = null;
    this.render();
    if (!steps.length) {
      notify("Nothing was recorded: no debug output arrived while recording", { type: "warning" });
      return;
    }
    const name = h("input", { type: "text", value: `recorded ${new Date().toISOString().slice(0, 19).replace("T", " ")}`, "aria-label": "Case name" });
    openDialog({
      title: "Save the recorded case",
      body: [h("p", {}, `${steps.length} expected message(s) from the debug output. Name the case:`), name],
      buttons: [
        { label: "Cancel" },
        { label: "Save", primary: true, action: "save-case", run: () => this.save(name.value, steps) },
      ],
    });
  }

  async save(name, steps) {
    try {
      const saved = await post("flow-tests/cases", { name, steps });
      notify(`Saved case "${saved.case}" in ${saved.file}`);
      await this.refresh();
      return true;
    } catch (error) {
      notify(`The case was not saved: ${error.message}`, { type: "error", lines: (error.body?.details || []).map((d) => d.message) });
      return false;
    }
  }
}
