/**
 * The debug sidebar: messages from debug nodes (and node warnings / errors) as
 * they arrive on /comms, with a filter (all nodes, selected nodes, current flow),
 * a clear button, and expandable trees for objects and arrays.
 */
import { h, replace } from "./dom.js";

const MAX_MESSAGES = 500;

/** A collapsible tree for a decoded value. */
export function valueTree(value, depth = 0) {
  if (value === null) return h("span", { class: "dv-null" }, "null");
  if (Array.isArray(value) || typeof value === "object") {
    const isArray = Array.isArray(value);
    if (value.__enc__) return h("span", { class: "dv-special" }, `[${value.type}]`);
    const entries = Object.entries(value);
    const preview = isArray ? `array[${value.length}]` : `{ ${entries.slice(0, 3).map(([k]) => k).join(", ")}${entries.length > 3 ? ", …" : ""} }`;
    return h("details", { class: "dv-tree", open: depth > 0 && entries.length < 6 },
      h("summary", {}, preview),
      h("ul", {}, entries.map(([key, item]) => h("li", {},
        h("span", { class: "dv-key" }, `${key}: `), valueTree(item, depth + 1)))));
  }
  return h("span", { class: `dv-${typeof value}` }, typeof value === "string" ? JSON.stringify(value) : String(value));
}

/** A debug-encoded value ({msg, format}, Node-RED's encodeObject) as the sidebar shows it. */
export function decode(data) {
  const format = String(data.format || "");
  if (format === "Object" || format.startsWith("array")) {
    try {
      return valueTree(JSON.parse(data.msg));
    } catch {
      return h("span", {}, String(data.msg));
    }
  }
  if (format.startsWith("string")) return h("span", { class: "dv-string" }, String(data.msg));
  if (format === "error") return h("span", { class: "dv-error" }, String(data.msg));
  return h("span", { class: `dv-${format.replace(/\W.*$/, "") || "other"}` }, String(data.msg));
}

export class DebugSidebar {
  /** `editor` supplies model, canvas and reveal(id). */
  constructor(root, editor) {
    this.editor = editor;
    this.list = root.querySelector("#debug-messages");
    this.filter = root.querySelector("#debug-filter");
    root.querySelector("#debug-clear").addEventListener("click", () => this.clear());
    this.filter.addEventListener("change", () => this.applyFilter());
    editor.model.on("change", () => this.applyFilter());
  }

  clear() {
    replace(this.list);
  }

  /** Add one `debug` comms message. */
  add(data) {
    const { model } = this.editor;
    const node = model.get(data.id);
    const level = data.level === 20 ? "error" : data.level === 30 ? "warn" : "";
    const name = data.name || (node ? model.label(node) : data.id);
    // No property: the whole message (or an expression's value), which Node-RED shows as "msg".
    const what = data.level ? `${data.type || "node"}` : `${data.property ? `msg.${data.property}` : "msg"} : ${data.format}`;
    const entry = h("li", { class: `debug-message ${level}`, "data-debug-node": data.id || "", "data-debug-z": data.z || "" },
      h("div", { class: "debug-meta" },
        h("span", { class: "debug-time" }, new Date().toLocaleTimeString()),
        h("button", { class: "link debug-node", onclick: () => this.editor.reveal(data.id) }, String(name)),
        data.topic !== undefined && data.topic !== "" ? h("span", { class: "debug-topic" }, String(data.topic)) : null),
      h("div", { class: "debug-format" }, what),
      h("div", { class: "debug-value" }, data.level ? h("span", {}, String(data.msg)) : decode(data)));
    this.list.append(entry);
    while (this.list.childElementCount > MAX_MESSAGES) this.list.firstElementChild.remove();
    this.show(entry);
    entry.scrollIntoView({ block: "nearest" });
  }

  show(entry) {
    const mode = this.filter.value;
    const { model, canvas } = this.editor;
    entry.hidden = (mode === "selected" && !canvas.selection.has(entry.dataset.debugNode))
      || (mode === "flow" && entry.dataset.debugZ !== model.activeTab);
  }

  applyFilter() {
    for (const entry of this.list.children) this.show(entry);
  }
}
