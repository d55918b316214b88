/**
 * The workspace canvas: draws the active tab and handles the mouse: select, move,
 * lasso, wire by dragging from port to port, pan (wheel, middle button or
 * space-drag) and zoom (ctrl-wheel, footer buttons, ctrl +/-/0); ctrl-click on empty
 * canvas hands over to quick-add (quickadd.js).
 */
import { s, replace } from "./dom.js";
import { drawGroup, drawNode, geometry } from "./render.js";
import { connect, drawWires, inputPoint, outputPoint } from "./wires.js";
import { wirePath } from "./layout.js";

const WORKSPACE = 8000;
const MIN_SCALE = 0.25;
const MAX_SCALE = 2;
const DOUBLE_CLICK_MS = 400;

export class Canvas {
  /** `editor` supplies model, history, status (Map), openEditor(id) and nodeButton(id, kind). */
  constructor(svg, editor) {
    this.svg = svg;
    this.editor = editor;
    this.model = editor.model;
    this.selection = new Set();
    this.selectedWire = null;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.geos = new Map();
    this.spaceDown = false;
    this.drag = null;
    this.lastClick = null;
    this.pending = false;
    this.build();
    this.model.on("change", () => this.requestRender());
    this.bindEvents();
  }

  build() {
    const grid = s("pattern", { id: "grid", width: 20, height: 20, patternUnits: "userSpaceOnUse" },
      s("path", { d: "M 20 0 L 0 0 0 20", class: "grid-line" }));
    this.groupLayer = s("g", { class: "groups" });
    this.wireLayer = s("g", { class: "wires" });
    this.nodeLayer = s("g", { class: "nodes" });
    this.dragLayer = s("g", { class: "drag-layer" });
    this.viewport = s("g", { class: "viewport" },
      s("rect", { class: "workspace-bg", width: WORKSPACE, height: WORKSPACE, fill: "url(#grid)" }),
      this.groupLayer, this.wireLayer, this.nodeLayer, this.dragLayer);
    replace(this.svg, s("defs", {}, grid), this.viewport);
  }

  requestRender() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  /** Redraw the active tab. */
  render() {
    const model = this.model;
    const tab = model.get(model.activeTab);
    this.svg.classList.toggle("tab-disabled", Boolean(tab?.disabled));
    this.viewport.setAttribute("transform", `translate(${this.tx}, ${this.ty}) scale(${this.scale})`);
    for (const id of [...this.selection]) if (model.get(id)?.z !== model.activeTab) this.selection.delete(id);
    const changed = model.changedIds();
    const deployedRev = model.rev;
    this.geos = new Map();
    const nodes = model.nodesOn(model.activeTab);
    for (const node of nodes) this.geos.set(node.id, geometry(model, node));
    replace(this.groupLayer, ...model.groupsOn(model.activeTab).map(drawGroup));
    replace(this.wireLayer, ...drawWires(model, this.geos, this.selectedWire));
    replace(this.nodeLayer, ...nodes.map((node) => drawNode(model, node, this.geos.get(node.id), {
      selected: this.selection.has(node.id),
      changed: changed.has(node.id),
      problems: model.problems(node),
      status: this.editor.status.get(node.id),
      deployed: deployedRev !== null && !changed.has(node.id),
    })));
    this.editor.emitSelection?.();
  }

  /** Canvas coordinates of a client (viewport) point. */
  toCanvas(clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    return { x: (clientX - rect.left - this.tx) / this.scale, y: (clientY - rect.top - this.ty) / this.scale };
  }

  /** True when the client point is over the canvas. */
  contains(clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    return clientX >= rect.left && clientX <= rect.right && clientY >= rect.top && clientY <= rect.bottom;
  }

  select(ids, { wire = null } = {}) {
    this.selection = new Set(ids);
    this.selectedWire = wire;
    this.requestRender();
  }

  zoom(factor, clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    const cx = clientX ?? rect.left + rect.width / 2;
    const cy = clientY ?? rect.top + rect.height / 2;
    const before = this.toCanvas(cx, cy);
    this.scale = factor === 0 ? 1 : Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    this.tx = cx - rect.left - before.x * this.scale;
    this.ty = cy - rect.top - before.y * this.scale;
    this.clampPan();
    this.requestRender();
  }

  clampPan() {
    this.tx = Math.min(0, this.tx);
    this.ty = Math.min(0, this.ty);
  }

  /** Pan so canvas point x, y is in view: centred, unless it is in view already. */
  revealPoint(x, y) {
    const { width, height } = this.svg.getBoundingClientRect();
    const sx = x * this.scale + this.tx;
    const sy = y * this.scale + this.ty;
    if (sx > 60 && sx < width - 60 && sy > 30 && sy < height - 30) return;
    this.tx = width / 2 - x * this.scale;
    this.ty = height / 2 - y * this.scale;
    this.clampPan();
    this.requestRender();
  }

  /** Move the selected nodes by dx, dy (keyboard arrows). */
  moveSelection(dx, dy) {
    if (!this.selection.size) return;
    this.editor.history.record();
    for (const id of this.selection) {
      const node = this.model.get(id);
      node.x += dx;
      node.y += dy;
    }
    this.model.emit("change");
  }

  bindEvents() {
    const svg = this.svg;
    svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) {
        this.zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX, e.clientY);
      } else {
        this.tx -= e.deltaX;
        this.ty -= e.deltaY;
        this.clampPan();
        this.requestRender();
      }
    }, { passive: false });
    window.addEventListener("keydown", (e) => { if (e.code === "Space" && e.target === document.body) this.spaceDown = true; });
    window.addEventListener("keyup", (e) => { if (e.code === "Space") this.spaceDown = false; });
  }

  pointerDown(e) {
    const target = e.target;
    const buttonEl = target.closest("[data-button]");
    const nodeEl = target.closest("[data-node-id]");
    const portEl = target.closest("[data-port]");
    const wireEl = target.closest("[data-wire]");
    const point = this.toCanvas(e.clientX, e.clientY);
    if (e.button === 1 || this.spaceDown) {
      this.drag = { kind: "pan", startX: e.clientX, startY: e.clientY, tx: this.tx, ty: this.ty };
    } else if (e.button !== 0) {
      return;
    } else if (buttonEl) {
      this.editor.nodeButton(nodeEl.dataset.nodeId, buttonEl.dataset.button);
      return;
    } else if (portEl && !this.model.readOnly) {
      const id = nodeEl.dataset.nodeId;
      const geo = this.geos.get(id);
      const port = portEl.dataset.port;
      const anchor = port === "in" ? inputPoint(geo) : outputPoint(geo, Number(port.slice(4)));
      this.drag = { kind: "wire", id, port, anchor, path: s("path", { class: "drag-wire" }) };
      this.dragLayer.append(this.drag.path);
    } else if (nodeEl) {
      const id = nodeEl.dataset.nodeId;
      const additive = e.shiftKey || e.ctrlKey || e.metaKey;
      if (additive && this.selection.has(id)) this.selection.delete(id);
      else if (additive) this.selection.add(id);
      else if (!this.selection.has(id)) this.selection = new Set([id]);
      this.selectedWire = null;
      const starts = new Map([...this.selection].map((sid) => [sid, { ...this.xy(sid) }]));
      this.drag = { kind: "move", start: point, starts, moved: false, clicked: id, additive };
      this.requestRender();
    } else if (wireEl) {
      this.select([], { wire: wireEl.dataset.wire });
      return;
    } else if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && this.editor.quickAdd) {
      e.preventDefault(); // the quick-add box keeps the focus
      this.editor.quickAdd.show(e.clientX, e.clientY);
      return;
    } else {
      if (!e.shiftKey) this.select([]);
      const rect = s("rect", { class: "lasso" });
      this.dragLayer.append(rect);
      this.drag = { kind: "lasso", start: point, rect, base: new Set(this.selection) };
    }
    this.svg.setPointerCapture(e.pointerId);
    e.preventDefault();
  }

  xy(id) {
    const node = this.model.get(id);
    return { x: node.x, y: node.y };
  }

  pointerMove(e) {
    const drag = this.drag;
    if (!drag) return;
    const point = this.toCanvas(e.clientX, e.clientY);
    if (drag.kind === "pan") {
      this.tx = drag.tx + e.clientX - drag.startX;
      this.ty = drag.ty + e.clientY - drag.startY;
      this.clampPan();
      this.requestRender();
    } else if (drag.kind === "wire") {
      const { anchor } = drag;
      drag.path.setAttribute("d", drag.port === "in"
        ? wirePath(point.x, point.y, anchor.x, anchor.y)
        : wirePath(anchor.x, anchor.y, point.x, point.y));
    } else if (drag.kind === "move" && !this.model.readOnly) {
      const dx = point.x - drag.start.x;
      const dy = point.y - drag.start.y;
      if (!drag.moved && Math.hypot(dx, dy) < 3) return;
      if (!drag.moved) this.editor.history.record();
      drag.moved = true;
      for (const [id, start] of drag.starts) {
        const node = this.model.get(id);
        node.x = Math.round(start.x + dx);
        node.y = Math.round(start.y + dy);
      }
      this.model.emit("change");
    } else if (drag.kind === "lasso") {
      const x = Math.min(point.x, drag.start.x);
      const y = Math.min(point.y, drag.start.y);
      const w = Math.abs(point.x - drag.start.x);
      const h = Math.abs(point.y - drag.start.y);
      Object.entries({ x, y, width: w, height: h }).forEach(([k, v]) => drag.rect.setAttribute(k, v));
      const inside = [...this.geos].filter(([, g]) => g.x >= x && g.x <= x + w && g.y >= y && g.y <= y + h);
      this.selection = new Set([...drag.base, ...inside.map(([id]) => id)]);
      this.requestRender();
    }
  }

  pointerUp(e) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    if (drag.kind === "wire") {
      drag.path.remove();
      this.finishWire(drag, document.elementFromPoint(e.clientX, e.clientY));
    } else if (drag.kind === "lasso") {
      drag.rect.remove();
    } else if (drag.kind === "move" && !drag.moved) {
      // Redrawing replaces the node's element, so the browser's dblclick never fires: count clicks here.
      const now = Date.now();
      const last = this.lastClick;
      this.lastClick = { id: drag.clicked, at: now };
      if (!drag.additive) this.select([drag.clicked]);
      if (last && last.id === drag.clicked && now - last.at < DOUBLE_CLICK_MS) {
        this.lastClick = null;
        this.editor.openEditor(drag.clicked);
      }
    }
  }

  finishWire(drag, element) {
    const nodeEl = element?.closest("[data-node-id]");
    if (!nodeEl || nodeEl.dataset.nodeId === drag.id) return;
    const other = nodeEl.dataset.nodeId;
    const portEl = element.closest("[data-port]");
    let source;
    let port;
    let target;
    if (drag.port === "in") {
      const otherPort = portEl?.dataset.port;
      [source, port, target] = [other, otherPort?.startsWith("out-") ? Number(otherPort.slice(4)) : 0, drag.id];
    } else {
      [source, port, target] = [drag.id, Number(drag.port.slice(4)), other];
    }
    const snapshot = this.model.snapshot();
    if (connect(this.model, source, port, target)) {
      this.editor.history.record(snapshot);
      this.model.emit("change");
    }
  }
}
