/**
 * Workspace tabs: switch, add (+), edit on double-click (name, enabled, description),
 * delete. Open subflows follow the flow tabs, with their icon and a close button;
 * double-clicking one edits the subflow's properties (subflows.js).
 */
import { openDialog } from "./dialog.js";
import { h, replace } from "./dom.js";

export class Tabs {
  /** `editor` supplies model, history and showTab(id). */
  constructor(root, editor) {
    this.list = root.querySelector("#tab-list");
    this.editor = editor;
    root.querySelector("#add-tab").addEventListener("click", () => this.add());
    editor.model.on("change", () => this.render());
  }

  render() {
    const { model } = this.editor;
    const { subflows } = this.editor;
    replace(this.list, ...model.tabs().map((tab) => h("li", {
      class: `tab${tab.id === model.activeTab ? " active" : ""}${tab.disabled ? " disabled" : ""}`,
      "data-tab-id": tab.id, title: tab.disabled ? "disabled" : "",
      onclick: () => this.editor.showTab(tab.id),
      ondblclick: () => this.edit(tab.id),
    }, model.label(tab))), ...subflows.openTabs().map((def) => h("li", {
      class: `tab subflow-tab${def.id === model.activeTab ? " active" : ""}`, "data-tab-id": def.id, "data-subflow-tab": "",
      onclick: () => this.editor.showTab(def.id),
      ondblclick: () => subflows.editProperties(def.id),
    }, h("img", { class: "tab-icon", src: "/static/icons/subflow.svg", alt: "" }), model.label(def),
    h("button", {
      type: "button", class: "tab-close", title: "Close", "aria-label": "Close",
      onclick: (e) => {
        e.stopPropagation();
        subflows.close(def.id);
      },
    }, "×"))));
  }

  add() {
    const { model, history } = this.editor;
    if (model.readOnly) return;
    history.record();
    const tab = model.makeTab();
    model.put(tab);
    this.editor.showTab(tab.id);
  }

  edit(id) {
    const { model, history } = this.editor;
    const tab = model.get(id);
    const label = h("input", { type: "text", id: "tab-label", value: tab.label || "", readOnly: model.readOnly });
    const enabled = h("input", { type: "checkbox", id: "tab-enabled", checked: !tab.disabled, disabled: model.readOnly });
    const info = h("textarea", { id: "tab-info", rows: 4, value: tab.info || "", readOnly: model.readOnly });
    const buttons = [{ label: "Cancel" }];
    if (!model.readOnly) {
      buttons.unshift({
        label: "Delete", action: "delete-tab",
        run: () => {
          history.record();
          model.remove([id]);
        },
      });
      buttons.push({
        label: "Done", primary: true, action: "tab-done",
        run: () => {
          const updated = { ...tab, label: label.value, disabled: !enabled.checked, info: info.value };
          if (JSON.stringify(updated) === JSON.stringify(tab)) return;
          history.record();
          model.put(updated);
        },
      });
    }
    openDialog({
      title: "Edit flow",
      body: h("div", {},
        h("div", { class: "form-row" }, h("label", { for: "tab-label" }, "Name"), label),
        h("div", { class: "form-row inline" }, h("label", { for: "tab-enabled" }, "Enabled"), enabled),
        h("div", { class: "form-row" }, h("label", { for: "tab-info" }, "Description"), info)),
      buttons,
    });
  }
}
