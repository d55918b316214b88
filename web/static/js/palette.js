/**
 * The palette: node types from GET /node-types grouped by category (config types never
 * shown), the workspace's subflows first (category "subflows" unless the subflow names
 * its own; double-click opens one), a filter box, help on hover and click, and
 * dragging a type onto the canvas to place a node. Plugin load errors are listed at
 * the bottom.
 */
import { h, replace } from "./dom.js";
import { firstParagraph } from "./markdown.js";

const CATEGORY_ORDER = ["subflows", "common", "function", "network", "sequence", "parser", "storage"];

function categoryRank(name) {
  const index = CATEGORY_ORDER.indexOf(name);
  return index === -1 ? CATEGORY_ORDER.length : index;
}

export class Palette {
  /** `editor` supplies model, canvas, showHelp(type) and addNode(type, x, y). */
  constructor(root, editor) {
    this.root = root;
    this.editor = editor;
    this.filter = root.querySelector("#palette-filter");
    this.list = root.querySelector("#palette-list");
    this.filter.addEventListener("input", () => this.applyFilter());
    this.subflowKey = this.subflowSignature();
    this.render();
    editor.model.on("change", () => {
      const key = this.subflowSignature();
      if (key === this.subflowKey) return;
      this.subflowKey = key;
      this.render();
      this.applyFilter();
    });
  }

  /** What the palette shows of the subflows (names, colours, ports): redraw when it changes. */
  subflowSignature() {
    const { model } = this.editor;
    return JSON.stringify(model.subflows().map((def) => model.type({ type: `subflow:${def.id}` })));
  }

  render() {
    const { model } = this.editor;
    const byCategory = new Map();
    for (const type of model.paletteTypes()) {
      if (!byCategory.has(type.category)) byCategory.set(type.category, []);
      byCategory.get(type.category).push(type);
    }
    const categories = [...byCategory.keys()].sort((a, b) => categoryRank(a) - categoryRank(b) || a.localeCompare(b));
    replace(this.list);
    for (const category of categories) {
      const items = byCategory.get(category).map((type) => this.item(type));
      const details = h("details", { class: "palette-category", open: true, "data-category": category },
        h("summary", {}, category), h("div", { class: "palette-items" }, items));
      this.list.append(details);
    }
    if (model.pluginErrors.length) {
      this.list.append(h("details", { class: "palette-errors", "data-palette-errors": "" },
        h("summary", {}, `${model.pluginErrors.length} plugin(s) failed to load`),
        h("ul", {}, model.pluginErrors.map((err) => h("li", {}, `${err.module || err.type || "plugin"}: ${err.error}`)))));
    }
  }

  item(type) {
    const label = String(type.paletteLabel || type.type);
    const el = h("div", {
      class: "palette-node", "data-palette-type": type.type, title: firstParagraph(type.help),
      style: `background-color: ${CSS.supports("color", type.color) ? type.color : "#ddd"}`,
    },
    h("span", { class: "palette-icon" }, h("img", { src: `/static/icons/${encodeURIComponent(type.icon || "arrow-right")}.svg`, alt: "" })),
    h("span", { class: "palette-label" }, label),
    type.inputs > 0 ? h("span", { class: "palette-port in" }) : null,
    type.outputs > 0 ? h("span", { class: "palette-port out" }) : null);
    el.querySelector("img").addEventListener("error", (e) => { e.target.src = "/static/icons/arrow-right.svg"; }, { once: true });
    el.addEventListener("pointerdown", (e) => this.startDrag(e, type, el));
    if (type.subflow) el.addEventListener("dblclick", () => this.editor.subflows.show(type.subflow));
    return el;
  }

  applyFilter() {
    const text = this.filter.value.trim().toLowerCase();
    for (const category of this.list.querySelectorAll(".palette-category")) {
      let visible = 0;
      for (const el of category.querySelectorAll(".palette-node")) {
        const match = !text || el.dataset.paletteType.toLowerCase().includes(text)
          || el.textContent.toLowerCase().includes(text);
        el.hidden = !match;
        if (match) visible += 1;
      }
      category.hidden = visible === 0;
    }
  }

  startDrag(e, type, el) {
    if (e.button !== 0) return;
    e.preventDefault();
    this.editor.showHelp(type.type);
    const { canvas, model } = this.editor;
    if (model.readOnly) return;
    // Dropped on a wire, a node with an input and an output is spliced into it (Node-RED).
    const splices = canvas.canSplice(model.createNode(type.type, 0, 0));
    let ghost = null;
    const move = (ev) => {
      if (!ghost) {
        ghost = el.cloneNode(true);
        ghost.classList.add("palette-ghost");
        document.body.append(ghost);
      }
      ghost.style.left = `${ev.clientX - 10}px`;
      ghost.style.top = `${ev.clientY - 10}px`;
      if (splices) canvas.highlightSplice(canvas.contains(ev.clientX, ev.clientY) ? canvas.wireAt(ev.clientX, ev.clientY) : null);
    };
    const up = (ev) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      if (!ghost) return;
      ghost.remove();
      if (canvas.contains(ev.clientX, ev.clientY)) {
        const point = canvas.toCanvas(ev.clientX, ev.clientY);
        const node = this.editor.addNode(type.type, point.x, point.y);
        if (canvas.spliceInto(node.id)) model.emit("change");
      } else {
        canvas.highlightSplice(null);
      }
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }
}
