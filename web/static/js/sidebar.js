/**
 * The right sidebar: info (the selected node: id, type and its properties), help (node
 * type docs), config nodes (used / unused, open, delete), context data (contextdata.js)
 * and debug tabs. While a node is being edited the help
 * tab shows its type's help beside the form, as in Node-RED.
 */
import { ContextSidebar } from "./contextdata.js";
import { valueTree } from "./debug.js";
import { confirmDialog } from "./dialog.js";
import { h, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { describeProblem } from "./validate.js";

export class Sidebar {
  /** `editor` supplies model and canvas. */
  constructor(root, editor) {
    this.root = root;
    this.editor = editor;
    this.info = root.querySelector("#sidebar-info");
    this.help = root.querySelector("#sidebar-help");
    this.config = root.querySelector("#sidebar-config");
    this.contextData = new ContextSidebar(root.querySelector("#sidebar-context"), editor);
    this.beforeEditing = null;
    for (const button of root.querySelectorAll("[data-sidebar-tab]")) {
      button.addEventListener("click", () => this.show(button.dataset.sidebarTab));
    }
    editor.model.on("change", () => { if (!this.config.hidden) this.showConfigNodes(); });
  }

  /** The edit tray opened (`typeName`) or closed (null): help beside the form, then back. */
  editing(typeName) {
    if (typeName) {
      if (this.beforeEditing === null) this.beforeEditing = this.current();
      this.showHelp(typeName);
      this.show("help");
    } else if (this.beforeEditing !== null) {
      const previous = this.beforeEditing;
      this.beforeEditing = null;
      this.show(previous);
    }
  }

  current() {
    return this.root.querySelector("[data-sidebar-tab].active")?.dataset.sidebarTab || "info";
  }

  /** Switch to tab `name` ("info", "help", "config", "context" or "debug"). */
  show(name) {
    if (name === "config") this.showConfigNodes();
    for (const button of this.root.querySelectorAll("[data-sidebar-tab]")) {
      button.classList.toggle("active", button.dataset.sidebarTab === name);
    }
    for (const pane of this.root.querySelectorAll("[data-sidebar-pane]")) pane.hidden = pane.dataset.sidebarPane !== name;
    if (name === "context") this.contextData.follow();
  }

  /** Help for node type `typeName` (a subflow instance's: its subflow's). */
  showHelp(typeName) {
    const type = this.editor.model.type({ type: typeName });
    replace(this.help, 
      h("h3", {}, type?.paletteLabel || typeName),
      type ? renderMarkdown(type.help || "No help text.") : h("p", {}, "Unknown node type."),
      type?.module ? h("p", { class: "hint" }, `From ${type.origin || ""} ${type.module}`) : null);
  }

  /** Info on the current selection: Node-RED's table (node id, type, the node's
   * properties) and the type's help; with no single node, the flow's. */
  showSelection() {
    this.contextData.follow();
    const { model, canvas } = this.editor;
    // Redrawn on every canvas render (status updates too): "show more" stays as the person left it.
    const more = !!this.info.querySelector(".info-more")?.open;
    const ids = [...canvas.selection];
    if (ids.length !== 1) {
      const tab = model.get(model.activeTab);
      replace(this.info,
        h("h3", { class: "info-title" }, ids.length ? `${ids.length} nodes selected` : tab ? `Flow: ${model.label(tab)}` : "No flow"),
        !ids.length && tab ? infoTable([["Flow", tab.id]], infoProperties(tab), more) : null,
        !ids.length && tab?.info ? renderMarkdown(tab.info) : null,
        h("p", { class: "hint" }, `${model.nodesOn(model.activeTab).length} node(s) on this flow`));
      return;
    }
    const node = model.get(ids[0]);
    if (!node) return;
    const type = model.type(node);
    const problems = model.problems(node);
    replace(this.info,
      h("h3", { class: "info-title" }, model.label(node)),
      infoTable([["Node", node.id], ["Type", node.type]], infoProperties(node), more),
      problems.length ? h("ul", { class: "info-problems" }, problems.map((p) => h("li", {}, describeProblem(p, type)))) : null,
      node.info ? renderMarkdown(node.info) : null,
      type?.help ? h("div", { class: "info-help" }, renderMarkdown(type.help)) : null);
  }

  /** The config-nodes tab of the sidebar: every config node by type, with its users. */
  showConfigNodes() {
    const { model, properties } = this.editor;
    const byType = new Map();
    for (const node of model.allConfigNodes()) {
      if (!byType.has(node.type)) byType.set(node.type, []);
      byType.get(node.type).push(node);
    }
    const row = (node) => {
      const users = model.configUsers(node.id);
      const unused = users.length === 0;
      return h("li", { class: `config-node${unused ? " unused" : ""}`, "data-config-node": node.id },
        h("button", {
          type: "button", class: "link config-open", title: "Edit",
          onclick: () => properties.edit(node),
        }, model.label(node)),
        h("span", { class: "config-users", title: users.map((u) => model.label(u)).join(", ") },
          unused ? "unused" : `${users.length} ${users.length === 1 ? "user" : "users"}`),
        unused && !model.readOnly ? h("button", {
          type: "button", class: "secondary danger config-delete", title: "Delete this unused config node",
          onclick: async () => {
            if (!await confirmDialog("Delete config node?", h("p", {}, `Delete ${node.type} "${model.label(node)}"? No node uses it.`), "Delete")) return;
            this.editor.history.record();
            model.remove([node.id]);
          },
        }, "Delete") : null);
    };
    replace(this.config,
      h("h3", {}, "Configuration nodes"),
      byType.size ? [...byType].map(([type, nodes]) => h("section", { class: "config-type", "data-config-type": type },
        h("h4", {}, `${type} (${nodes.length})`),
        h("ul", { class: "config-list" }, nodes.map(row))))
        : h("p", { class: "hint" }, "No configuration nodes. They are made from a node's form (e.g. the Server of an mqtt node)."));
  }
}

/** Keys the info table does not list among a node's properties: identity, layout, wiring. */
const LAYOUT_KEYS = new Set(["id", "type", "z", "x", "y", "w", "h", "g", "wires", "info", "d", "label"]);

/** A node's own properties that hold something, in its order, for the info table. */
function infoProperties(node) {
  return Object.entries(node).filter(([key, value]) => !LAYOUT_KEYS.has(key)
    && value !== null && value !== undefined && value !== "");
}

/** The info table: `rows` always shown, `more` (the node's properties) under "show more"
 * (`open`: unfolded). */
function infoTable(rows, more, open) {
  const row = ([key, value]) => h("tr", { "data-info-key": key },
    h("th", {}, key), h("td", {}, typeof value === "string" ? value : valueTree(value)));
  return h("div", { class: "info-node" },
    h("table", { class: "info-table" }, h("tbody", {}, rows.map(row))),
    more.length ? h("details", { class: "info-more", open }, h("summary", {}, "show more"),
      h("table", { class: "info-table" }, h("tbody", {}, more.map(row)))) : null);
}
