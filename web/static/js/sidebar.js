/** The right sidebar: info (the selected node), help (node type docs) and debug tabs. */
import { h, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

export class Sidebar {
  /** `editor` supplies model and canvas. */
  constructor(root, editor) {
    this.root = root;
    this.editor = editor;
    this.info = root.querySelector("#sidebar-info");
    this.help = root.querySelector("#sidebar-help");
    for (const button of root.querySelectorAll("[data-sidebar-tab]")) {
      button.addEventListener("click", () => this.show(button.dataset.sidebarTab));
    }
  }

  /** Switch to tab `name` ("info", "help" or "debug"). */
  show(name) {
    for (const button of this.root.querySelectorAll("[data-sidebar-tab]")) {
      button.classList.toggle("active", button.dataset.sidebarTab === name);
    }
    for (const pane of this.root.querySelectorAll("[data-sidebar-pane]")) pane.hidden = pane.dataset.sidebarPane !== name;
  }

  /** Help for node type `typeName`. */
  showHelp(typeName) {
    const type = this.editor.model.types.get(typeName);
    replace(this.help, 
      h("h3", {}, type?.paletteLabel || typeName),
      type ? renderMarkdown(type.help || "No help text.") : h("p", {}, "Unknown node type."),
      type?.module ? h("p", { class: "hint" }, `From ${type.origin || ""} ${type.module}`) : null);
  }

  /** Info on the current selection: a property table and the type's help. */
  showSelection() {
    const { model, canvas } = this.editor;
    const ids = [...canvas.selection];
    if (ids.length !== 1) {
      const tab = model.get(model.activeTab);
      replace(this.info, 
        h("h3", {}, ids.length ? `${ids.length} nodes selected` : `Flow: ${tab ? model.label(tab) : ""}`),
        !ids.length && tab?.info ? renderMarkdown(tab.info) : null,
        h("p", { class: "hint" }, `${model.nodesOn(model.activeTab).length} node(s) on this flow`));
      return;
    }
    const node = model.get(ids[0]);
    if (!node) return;
    const type = model.type(node);
    const problems = model.problems(node);
    const rows = [["Node", node.id], ["Type", node.type], ["Name", node.name || ""]];
    replace(this.info, 
      h("h3", {}, model.label(node)),
      h("table", { class: "info-table" }, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, String(v))))),
      problems.length ? h("ul", { class: "info-problems" }, problems.map((p) => h("li", {}, `${p.path || "node"}: ${p.message}`))) : null,
      node.info ? renderMarkdown(node.info) : null,
      type ? h("div", { class: "info-help" }, renderMarkdown(type.help)) : null);
  }
}
