/**
 * Quick-add, as Node-RED's: ctrl-click on empty canvas opens a small type search at the
 * mouse. Typing filters the palette's types, subflows included, by type name and palette
 * label (matches at the start first); enter or a click places that node where the canvas
 * was clicked.
 * When one node was selected and has an output without wires, the new node is wired
 * from it, so ctrl-click after ctrl-click builds a chain (Node-RED's quick-join).
 */
import { h, replace } from "./dom.js";
import { listKeys, openPopup } from "./popup.js";
import { connect } from "./wires.js";

/** Types (model.paletteTypes()) whose type or palette label contains `text`, best matches first. */
export function matchTypes(types, text) {
  const query = text.trim().toLowerCase();
  const hits = [];
  for (const type of types) {
    const label = String(type.paletteLabel || type.type).toLowerCase();
    const name = type.type.toLowerCase();
    if (query && !label.includes(query) && !name.includes(query)) continue;
    const rank = !query || label.startsWith(query) || name.startsWith(query) ? 0 : 1;
    hits.push({ type, rank, label });
  }
  hits.sort((a, b) => a.rank - b.rank || a.label.localeCompare(b.label));
  return hits.map((hit) => hit.type);
}

export class QuickAdd {
  /** `editor` supplies model, canvas and addNode(type, x, y). */
  constructor(editor) {
    this.editor = editor;
  }

  /** Open the type search at client point clientX, clientY. */
  show(clientX, clientY) {
    const { model, canvas } = this.editor;
    if (model.readOnly) return;
    const point = canvas.toCanvas(clientX, clientY);
    const source = this.freeOutput();
    canvas.select([]);
    const input = h("input", {
      type: "search", class: "quick-add-input", placeholder: "add a node", "aria-label": "Node type",
      autocomplete: "off", spellcheck: "false",
    });
    const list = h("ul", { class: "quick-add-list", role: "listbox" });
    const box = h("div", { class: "quick-add popup", "data-quick-add": "", style: `left: ${clientX}px; top: ${clientY}px` },
      input, list);
    let types = [];
    const place = (type) => {
      close();
      this.place(type.type, point, source);
    };
    const keys = listKeys(() => [...list.children], (i) => place(types[i]));
    const update = () => {
      // Inside a subflow's tab its own instance would contain itself.
      types = matchTypes(model.paletteTypes().filter((type) => type.subflow !== model.activeTab), input.value);
      replace(list, types.map((type) => h("li", {
        class: "quick-add-item", role: "option", "data-quick-add-type": type.type, onclick: () => place(type),
      },
      h("span", { class: "search-swatch", style: `background-color: ${CSS.supports("color", type.color) ? type.color : "#ddd"}` }),
      h("span", { class: "quick-add-label" }, String(type.paletteLabel || type.type)),
      // A subflow's type is "subflow:<id>": it says "subflow", not the id.
      type.subflow ? h("span", { class: "search-type" }, "subflow")
        : type.paletteLabel && type.paletteLabel !== type.type ? h("span", { class: "search-type" }, type.type) : null)));
      keys.reset();
    };
    input.addEventListener("input", update);
    input.addEventListener("keydown", keys);
    const close = openPopup(box);
    update();
    input.focus();
  }

  /** The selected node's first output without wires, as {id, port}, when one node is selected. */
  freeOutput() {
    const { model, canvas } = this.editor;
    if (canvas.selection.size !== 1) return null;
    const node = model.get([...canvas.selection][0]);
    if (!node) return null;
    for (let port = 0; port < model.outputCount(node); port += 1) {
      if (!node.wires?.[port]?.length) return { id: node.id, port };
    }
    return null;
  }

  /** Add a `typeName` node at canvas `point`, wired from `source` when it can be. */
  place(typeName, point, source) {
    const { model } = this.editor;
    const node = this.editor.addNode(typeName, point.x, point.y);
    if (source && connect(model, source.id, source.port, node.id)) model.emit("change");
  }
}
