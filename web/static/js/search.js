/**
 * Search (ctrl-f), as Node-RED's: a box at the top of the workspace that finds nodes of
 * every tab by name, label, type, id and the values of their properties. Each result
 * shows the node's label, type and tab; choosing one (click, or arrows and enter) opens
 * its tab, selects the node and pans it into view. Config nodes open their edit tray,
 * tabs are switched to. Escape closes.
 */
import { h, replace } from "./dom.js";
import { isConfigNode } from "./model.js";
import { listKeys, openPopup } from "./popup.js";

const MAX_RESULTS = 100;
// Keys that hold layout or structure, not what a person would search for.
const SKIPPED_KEYS = new Set(["x", "y", "z", "g", "w", "h", "wires", "links", "nodes"]);

function collectText(value, out) {
  if (value === null || value === undefined) return;
  if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) if (!SKIPPED_KEYS.has(key)) collectText(item, out);
  } else {
    out.push(String(value));
  }
}

/** The lowercase text a node is found by: its label, then its id, type and property values. */
export function searchText(model, node) {
  const parts = [model.label(node), node.id, node.type];
  collectText(node, parts);
  return parts.join("\n").toLowerCase();
}

/** Nodes matching every word of `query`; those whose label matches come first. */
export function findNodes(model, query) {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const tabOrder = new Map(model.tabs().map((t, i) => [t.id, i]));
  const hits = [];
  for (const node of model.all()) {
    const text = searchText(model, node);
    if (!words.every((w) => text.includes(w))) continue;
    const label = model.label(node).toLowerCase();
    hits.push({ node, byLabel: words.every((w) => label.includes(w)) ? 0 : 1, tab: tabOrder.get(node.z) ?? -1 });
  }
  hits.sort((a, b) => a.byLabel - b.byLabel || a.tab - b.tab);
  return hits.map((hit) => hit.node);
}

export class Search {
  /** `editor` supplies model, reveal(id), showTab(id) and openEditor(id). */
  constructor(editor) {
    this.editor = editor;
  }

  /** Open the search box (ctrl-f). */
  show() {
    const input = h("input", {
      type: "search", class: "search-input", placeholder: "search your flows", "aria-label": "Search flows",
      autocomplete: "off", spellcheck: "false",
    });
    const count = h("span", { class: "search-count" });
    const list = h("ul", { class: "search-results", role: "listbox" });
    const wrap = document.getElementById("canvas-wrap").getBoundingClientRect();
    const box = h("div", {
      class: "search-box popup", "data-search": "",
      style: `left: ${wrap.left + wrap.width / 2 - 250}px; top: ${wrap.top + 4}px`,
    }, h("div", { class: "search-bar" }, input, count), list);
    let results = [];
    const keys = listKeys(() => [...list.children].filter((el) => el.dataset.searchResult), (i) => this.choose(results[i]));
    const update = () => {
      const found = findNodes(this.editor.model, input.value);
      results = found.slice(0, MAX_RESULTS);
      count.textContent = input.value.trim() ? `${found.length} found` : "";
      replace(list, results.map((node) => this.row(node)),
        found.length > MAX_RESULTS ? h("li", { class: "search-more" }, `${found.length - MAX_RESULTS} more: refine the search`) : null);
      keys.reset();
    };
    input.addEventListener("input", update);
    input.addEventListener("keydown", keys);
    list.addEventListener("click", (e) => {
      const row = e.target.closest("[data-search-result]");
      if (row) this.choose(this.editor.model.get(row.dataset.searchResult));
    });
    this.close = openPopup(box);
    input.focus();
  }

  row(node) {
    const { model } = this.editor;
    const type = model.type(node);
    const tab = node.type === "tab" ? null : model.get(node.z);
    const where = node.type === "tab" ? "flow" : tab ? model.label(tab) : isConfigNode(node) ? "global config" : "";
    return h("li", { class: "search-result", role: "option", "data-search-result": node.id },
      h("span", { class: "search-swatch", style: `background-color: ${CSS.supports("color", type?.color) ? type.color : "#ddd"}` }),
      h("span", { class: "search-label" }, model.label(node)),
      h("span", { class: "search-type" }, node.type),
      h("span", { class: "search-tab" }, where));
  }

  choose(node) {
    if (!node) return;
    this.close?.();
    if (node.type === "tab") this.editor.showTab(node.id);
    else if (isConfigNode(node)) this.editor.openEditor(node.id);
    else this.editor.reveal(node.id);
  }
}
