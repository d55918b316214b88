/**
 * Copy, cut and paste inside the editor (ctrl-c / ctrl-x / ctrl-v). Pasting a copy
 * gives every node a new id; pasting after a cut keeps the ids (Node-RED's rule).
 * Wires leaving the selection are dropped; config nodes are shared, not copied.
 * Pasted nodes land with their top-left corner at the mouse, or centred in the
 * view when the mouse is not over the canvas (Node-RED drops them at the mouse).
 */
import { freshIds, pruneOutside, remap } from "./ids.js";

const OFFSET = 20; // a paste at the same spot as the previous one steps by this

export class Clipboard {
  /** `editor` supplies model, history and canvas. */
  constructor(editor) {
    this.editor = editor;
    this.nodes = null;
    this.cut = false;
    this.lastTarget = null;
    this.repeats = 0;
  }

  selected() {
    const { model, canvas } = this.editor;
    return [...canvas.selection].map((id) => model.get(id)).filter(Boolean);
  }

  copy() {
    const nodes = this.selected();
    if (!nodes.length) return 0;
    const keep = new Set(nodes.map((n) => n.id));
    this.nodes = pruneOutside(structuredClone(nodes), keep);
    this.cut = false;
    return nodes.length;
  }

  cutSelection() {
    const count = this.copy();
    if (!count) return 0;
    const { model, history, canvas } = this.editor;
    history.record();
    model.remove([...canvas.selection]);
    canvas.select([]);
    this.cut = true;
    return count;
  }

  /**
   * Paste onto the active tab with the top-left corner at canvas point `at`
   * (default: the mouse when over the canvas, else centred in the view).
   */
  paste(at = this.editor.canvas.pointer()) {
    if (!this.nodes || this.editor.model.readOnly) return 0;
    const { model, history, canvas } = this.editor;
    const reuse = this.cut && this.nodes.every((n) => !model.get(n.id));
    const mapping = reuse ? new Map() : freshIds(this.nodes.map((n) => n.id));
    const { dx, dy } = this.shift(at);
    const pasted = remap(this.nodes, mapping).map((node) => ({
      ...node, z: model.activeTab, x: Math.round(node.x + dx), y: Math.round(node.y + dy),
    }));
    history.record();
    model.put(...pasted);
    this.cut = false;
    canvas.select(pasted.map((n) => n.id));
    return pasted.length;
  }

  /** How far the clipboard's nodes move to land at `at` (or the view's centre). */
  shift(at) {
    const { canvas } = this.editor;
    const box = canvas.bounds(this.nodes);
    if (!box) return { dx: 0, dy: 0 };
    let target;
    if (at) {
      target = { x: at.x, y: at.y };
    } else {
      const centre = canvas.viewCentre();
      target = { x: centre.x - (box.x1 - box.x0) / 2, y: centre.y - (box.y1 - box.y0) / 2 };
    }
    target = { x: Math.round(target.x), y: Math.round(target.y) };
    const same = this.lastTarget && this.lastTarget.x === target.x && this.lastTarget.y === target.y;
    this.repeats = same ? this.repeats + 1 : 0;
    this.lastTarget = target;
    const step = OFFSET * this.repeats;
    return { dx: target.x + step - box.x0, dy: target.y + step - box.y0 };
  }
}
