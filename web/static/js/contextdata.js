/**
 * The context sidebar (Node-RED's "Context Data"): the selected node's, the current
 * flow's and the global context, each section with a refresh button, one row per key
 * (with its store's name when several stores are configured) and its value shown as the
 * debug sidebar shows values; a key can be deleted. Reads GET /context/{node,flow}/:id and
 * /context/global, deletes with DELETE /context/{scope}/{id}/{key}?store=.
 */
import { request } from "./api.js";
import { confirmDialog } from "./dialog.js";
import { h, replace } from "./dom.js";
import { decode } from "./debug.js";

const SECTIONS = [
  { scope: "node", title: "Node" },
  { scope: "flow", title: "Flow" },
  { scope: "global", title: "Global" },
];

export class ContextSidebar {
  /** `root` is the pane; `editor` supplies model and canvas. */
  constructor(root, editor) {
    this.root = root;
    this.editor = editor;
    this.sections = new Map();
    for (const { scope, title } of SECTIONS) {
      const body = h("div", { class: "context-body" });
      const stamp = h("span", { class: "context-stamp" });
      const section = h("section", { class: "context-section", "data-context-scope": scope },
        h("header", { class: "context-header" },
          h("h4", {}, title), stamp,
          h("button", {
            type: "button", class: "secondary context-refresh", title: `Refresh ${title.toLowerCase()} context`,
            "aria-label": `Refresh ${title.toLowerCase()} context`, onclick: () => this.load(scope),
          }, "⟳")),
        body);
      this.sections.set(scope, { body, stamp, target: undefined });
      root.append(section);
    }
  }

  /** The id each section shows: the one selected node, the current flow, "global". */
  targets() {
    const { model, canvas } = this.editor;
    const ids = [...canvas.selection];
    const node = ids.length === 1 ? model.get(ids[0]) : null;
    return { node: node && node.type !== "group" ? node.id : null, flow: model.activeTab || null, global: "global" };
  }

  /** The pane is showing, or the selection or flow changed: load the sections whose node or flow changed. */
  follow() {
    if (this.root.hidden) return;
    const targets = this.targets();
    for (const [scope, section] of this.sections) {
      if (section.target !== targets[scope]) this.load(scope, targets[scope]);
    }
  }

  /** (Re)load one section from the server. */
  async load(scope, target = this.targets()[scope]) {
    const section = this.sections.get(scope);
    section.target = target;
    if (!target) {
      section.stamp.textContent = "";
      replace(section.body, h("p", { class: "hint" }, "none selected"));
      return;
    }
    const path = scope === "global" ? "context/global" : `context/${scope}/${encodeURIComponent(target)}`;
    let stores;
    try {
      stores = await request("GET", path);
    } catch (err) {
      replace(section.body, h("p", { class: "field-error" }, `Could not load the context: ${err.message}`));
      return;
    }
    if (section.target !== target) return;  // the selection moved on while loading
    section.stamp.textContent = new Date().toLocaleTimeString();
    const several = Object.keys(stores || {}).length > 1;
    const rows = Object.entries(stores || {}).flatMap(([store, values]) => Object.entries(values)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => this.row(scope, target, store, several, key, value)));
    replace(section.body, rows.length ? h("table", { class: "context-table" }, h("tbody", {}, rows))
      : h("p", { class: "hint" }, "empty"));
  }

  row(scope, target, store, several, key, value) {
    const where = scope === "global" ? "global" : `${scope} ${scope === "flow" ? this.flowLabel(target) : ""}`.trim();
    const remove = async () => {
      const question = h("p", {}, `Delete ${scope}.${key}${several ? ` from store "${store}"` : ""}?`);
      if (!await confirmDialog("Delete context value?", question, "Delete")) return;
      const base = scope === "global" ? "context/global" : `context/${scope}/${encodeURIComponent(target)}`;
      try {
        await request("DELETE", `${base}/${encodeURIComponent(key)}?store=${encodeURIComponent(store)}`);
      } catch (err) {
        replace(this.sections.get(scope).body, h("p", { class: "field-error" }, `Could not delete ${key}: ${err.message}`));
        return;
      }
      this.load(scope, target);
    };
    return h("tr", { class: "context-row", "data-context-key": key, "data-context-store": store },
      h("th", {}, h("span", { class: "context-key" }, key), several ? h("span", { class: "context-store" }, store) : null),
      h("td", {}, h("div", { class: "debug-value" }, decode(value)),
        this.editor.model.readOnly ? null : h("button", {
          type: "button", class: "link context-delete", title: `Delete ${key} from the ${where} context`,
          "aria-label": `Delete ${key}`, onclick: remove,
        }, "Delete")));
  }

  flowLabel(id) {
    const tab = this.editor.model.get(id);
    return tab ? `"${this.editor.model.label(tab)}"` : "";
  }
}
