/**
 * Import (paste JSON, upload a file, or pick an example flow; into the current or
 * a new tab; id conflicts handled as Node-RED does) and export (selected nodes,
 * current tab or everything; compact or formatted; copy or download). Exports
 * never contain credentials: they are kept apart from the nodes in the model.
 * Subflow definitions are workspaces like tabs (their nodes keep their `z`), and
 * exporting a subflow instance brings its definition and the definition's nodes along,
 * as Node-RED's export does.
 */
import { get } from "./api.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { freshIds, remap } from "./ids.js";
import { exportOrder, instanceOf, isConfigNode, referencedIds } from "./model.js";
import { notify } from "./notify.js";

/** Parse import text: a JSON array of objects that each have `id` and `type`. */
export function parseImport(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`Not valid JSON: ${err.message}`);
  }
  if (data && !Array.isArray(data) && typeof data === "object") data = [data];
  if (!Array.isArray(data)) throw new Error("Input not a JSON Array");
  data.forEach((item, index) => {
    if (!item || typeof item !== "object" || Array.isArray(item)) throw new Error(`Item ${index} is not an object`);
    if (typeof item.id !== "string" || !item.id) throw new Error(`Item ${index} missing 'id'`);
    if (typeof item.type !== "string" || !item.type) throw new Error(`Item ${index} missing 'type'`);
  });
  const seen = new Set();
  return data.filter((item) => !seen.has(item.id) && seen.add(item.id));
}

function sameConfig(a, b) {
  const strip = ({ id, ...rest }) => JSON.stringify(rest);
  return a.type === b.type && strip(a) === strip(b);
}

export class ImportExport {
  /** `editor` supplies model, history, canvas, showTab(id). */
  constructor(editor) {
    this.editor = editor;
  }

  /**
   * Add `nodes` to the workspace. `newTab` puts nodes whose tab is not in the
   * import on one new tab (else the current one); `mode` is "keep" (ids kept),
   * "copy" (new ids) or "replace" (existing nodes with the same id are replaced).
   */
  importNodes(nodes, { newTab = false, mode = "keep" } = {}) {
    const { model, history, canvas } = this.editor;
    let incoming = nodes;
    if (mode === "copy") {
      const reused = new Map();
      for (const node of incoming.filter(isConfigNode)) {
        const twin = [...model.nodes.values()].find((n) => isConfigNode(n) && sameConfig(n, node));
        if (twin) reused.set(node.id, twin.id);
      }
      const mapping = freshIds(incoming.filter((n) => !reused.has(n.id)).map((n) => n.id));
      reused.forEach((to, from) => mapping.set(from, to));
      incoming = remap(incoming.filter((n) => !reused.has(n.id)), mapping);
    } else {
      incoming = structuredClone(incoming);
    }
    history.record();
    const importedTabs = new Set(incoming.filter((n) => n.type === "tab").map((n) => n.id));
    const workspaces = new Set([...importedTabs, ...incoming.filter((n) => n.type === "subflow").map((n) => n.id),
      ...model.subflows().map((n) => n.id)]);
    const onlyTab = model.tabs().length === 1 ? model.tabs()[0] : null;
    const emptyDefault = importedTabs.size && onlyTab && !model.nodesOnAnyKind(onlyTab.id).length
      && !importedTabs.has(onlyTab.id) ? onlyTab : null;
    let target = model.activeTab;
    const needsTarget = incoming.some((n) => !workspaces.has(n.id) && !isConfigNode(n) && !workspaces.has(n.z));
    if (newTab && needsTarget) {
      const tab = model.makeTab();
      incoming.unshift(tab);
      target = tab.id;
    }
    for (const node of incoming) {
      if (workspaces.has(node.id)) continue;
      if (!isConfigNode(node) && !workspaces.has(node.z)) node.z = target;
      else if (isConfigNode(node) && node.z && !workspaces.has(node.z) && !model.get(node.z)) node.z = target;
    }
    model.put(...incoming);
    // Like Node-RED, an import that brings its own tabs replaces a lone empty tab.
    if (emptyDefault) model.remove([emptyDefault.id]);
    const firstTab = incoming.find((n) => n.type === "tab");
    this.editor.showTab(firstTab && !needsTarget ? firstTab.id : target);
    canvas.select(incoming.filter((n) => n.z === model.activeTab && !isConfigNode(n)).map((n) => n.id));
    const unknown = [...new Set(incoming.filter((n) => !["tab", "group", "subflow"].includes(n.type) && !model.type(n))
      .map((n) => n.type))];
    notify(`Imported ${incoming.length} node(s)`, {
      type: unknown.length ? "warning" : "success",
      lines: unknown.length ? [`Unknown types: ${unknown.join(", ")}`] : [],
    });
  }

  /** Import `nodes`, asking what to do when some ids already exist. */
  importWithConflicts(nodes, newTab) {
    const clashes = nodes.filter((n) => this.editor.model.get(n.id));
    if (!clashes.length) {
      this.importNodes(nodes, { newTab });
      return;
    }
    openDialog({
      title: "Import conflict",
      body: h("div", {}, h("p", {}, `${clashes.length} of the nodes being imported already exist in the workspace:`),
        h("ul", { class: "conflict-list" }, clashes.slice(0, 20).map((n) => h("li", {}, `${n.type} ${n.name || n.label || n.id}`)))),
      buttons: [
        { label: "Cancel" },
        { label: "Replace existing", action: "import-replace", run: () => this.importNodes(nodes, { newTab, mode: "replace" }) },
        { label: "Import copy", primary: true, action: "import-copy", run: () => this.importNodes(nodes, { newTab, mode: "copy" }) },
      ],
    });
  }

  openImport() {
    if (this.editor.model.readOnly) return;
    const text = h("textarea", { id: "import-text", rows: 14, spellcheck: "false", placeholder: "Paste flow JSON here" });
    const error = h("div", { class: "field-error", id: "import-error" });
    const file = h("input", { type: "file", accept: ".json,application/json", id: "import-file" });
    file.addEventListener("change", async () => {
      if (file.files[0]) text.value = await file.files[0].text();
    });
    const examples = h("select", { id: "import-example" }, h("option", { value: "" }, "Examples..."));
    get("flows-examples").then((list) => {
      for (const entry of list || []) {
        const name = typeof entry === "string" ? entry : entry.name || entry.file;
        examples.append(h("option", { value: name }, typeof entry === "string" ? entry : entry.title || name));
      }
    }).catch(() => { examples.disabled = true; });
    examples.addEventListener("change", async () => {
      if (!examples.value) return;
      const flow = await get(`flows-examples/${encodeURIComponent(examples.value)}`);
      text.value = JSON.stringify(flow.flows || flow, null, 4);
    });
    const target = h("select", { id: "import-target" },
      h("option", { value: "current" }, "current flow"), h("option", { value: "new" }, "new flow"));
    openDialog({
      title: "Import nodes",
      className: "import-dialog",
      body: h("div", {},
        h("div", { class: "form-row inline" }, h("label", { for: "import-file" }, "File"), file, examples),
        text, error,
        h("div", { class: "form-row inline" }, h("label", { for: "import-target" }, "Import to"), target)),
      buttons: [
        { label: "Cancel" },
        {
          label: "Import", primary: true, action: "import",
          run: () => {
            try {
              this.importWithConflicts(parseImport(text.value), target.value === "new");
              return true;
            } catch (err) {
              error.textContent = err.message;
              return false;
            }
          },
        },
      ],
    });
  }

  /** The nodes exported for `range`: "selected", "flow" or "all". */
  exportNodes(range) {
    const { model, canvas } = this.editor;
    if (range === "all") return model.all();
    const picked = range === "flow"
      ? [model.get(model.activeTab), ...model.nodesOnAnyKind(model.activeTab)]
      : [...canvas.selection].map((id) => model.get(id));
    const ids = new Set(picked.map((n) => n.id));
    for (const node of picked) {
      const definition = model.get(instanceOf(node));
      if (definition && !ids.has(definition.id)) {
        for (const other of [definition, ...model.nodesOnAnyKind(definition.id)]) {
          ids.add(other.id);
          picked.push(other);
        }
      }
      for (const ref of referencedIds(node)) {
        const other = model.get(ref);
        if (other && isConfigNode(other) && !ids.has(ref)) {
          ids.add(ref);
          picked.push(other);
        }
      }
    }
    return exportOrder(picked.filter(Boolean));
  }

  openExport() {
    const { canvas } = this.editor;
    const range = h("select", { id: "export-range" },
      h("option", { value: "selected", disabled: canvas.selection.size === 0 }, "selected nodes"),
      h("option", { value: "flow", selected: canvas.selection.size === 0 }, "current flow"),
      h("option", { value: "all" }, "all flows"));
    if (canvas.selection.size) range.value = "selected";
    const format = h("select", { id: "export-format" },
      h("option", { value: "compact" }, "compact"), h("option", { value: "formatted" }, "formatted"));
    const preview = h("textarea", { id: "export-text", rows: 14, readOnly: true, spellcheck: "false" });
    const count = h("span", { class: "hint" });
    const update = () => {
      const nodes = this.exportNodes(range.value);
      preview.value = format.value === "formatted" ? JSON.stringify(nodes, null, 4) : JSON.stringify(nodes);
      count.textContent = `${nodes.length} node(s)`;
    };
    range.addEventListener("change", update);
    format.addEventListener("change", update);
    update();
    openDialog({
      title: "Export nodes",
      className: "export-dialog",
      body: h("div", {},
        h("div", { class: "form-row inline" }, h("label", { for: "export-range" }, "Export"), range,
          h("label", { for: "export-format" }, "as"), format, count),
        preview),
      buttons: [
        { label: "Close" },
        { label: "Download", action: "export-download", run: () => { this.download(preview.value); return false; } },
        { label: "Copy to clipboard", primary: true, action: "export-copy", run: () => this.copy(preview) },
      ],
    });
  }

  download(text) {
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = h("a", { href: url, download: "flows.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async copy(preview) {
    try {
      await navigator.clipboard.writeText(preview.value);
    } catch {
      preview.select();
      document.execCommand("copy");
    }
    notify("Copied to the clipboard", { type: "success" });
  }
}
