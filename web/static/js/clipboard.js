/**
 * Copy, cut and paste inside the editor (ctrl-c / ctrl-x / ctrl-v). Pasting a copy
 * gives every node a new id; pasting after a cut keeps the ids (Node-RED's rule).
 * Wires leaving the selection are dropped; config nodes are shared, not copied.
 */
import { freshIds, pruneOutside, remap } from "./ids.js";

const OFFSET = 20;

export class Clipboard {
  /** `editor` supplies model, history and canvas. */
  constructor(editor) {
    this.editor = editor;
    this.nodes = null;
    this.cut = false;
    this.pastes = 0;
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
    this.pastes = 0;
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

  paste() {
    if (!this.nodes || this.editor.model.readOnly) return 0;
    const { model, history, canvas } = this.editor;
    const reuse = this.cut && this.nodes.every((n) => !model.get(n.id));
    const mapping = reuse ? new Map() : freshIds(this.nodes.map((n) => n.id));
    this.pastes += reuse ? 0 : 1;
    const pasted = remap(this.nodes, mapping).map((node) => ({
      ...node, z: model.activeTab, x: node.x + OFFSET * this.pastes, y: node.y + OFFSET * this.pastes,
    }));
    history.record();
    model.put(...pasted);
    this.cut = false;
    canvas.select(pasted.map((n) => n.id));
    return pasted.length;
  }
}
