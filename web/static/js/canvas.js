/**
 * The workspace canvas: draws the active tab and handles the mouse: select, move,
 * lasso, wire by dragging from port to port, splice a lone node into a wire by
 * dropping it there, pan (wheel, middle button, space-drag or the navigator) and zoom
 * (ctrl-wheel, footer buttons, ctrl +/-/0, zoom to fit); ctrl-click on empty canvas
 * hands over to quick-add (quickadd.js).
 * Each tab keeps its own pan and zoom; a tab shown for the first time opens with
 * its nodes in view.
 * Drawing is keyed (render.js KeyedLayer) and done once per frame for what changed:
 * a model "change" re-syncs every element (patching most in place), while pan and
 * zoom, selection, one node's status and dragging nodes touch only their elements.
 * A drag moves the model's nodes without a "change" per mouse move and emits one
 * when it ends. While it lasts the moved nodes and their wires are lifted into an
 * overlay <svg> above the canvas, so the browser repaints only them, not the whole
 * canvas, per frame; the drop puts them back (on top of the others).
 * Arrow keys move the selection the same way: one "change" when the key is released.
 * Extensions (groups.js, subflows.js) add to it through `extensions`: objects with
 * optional draw(layer) (called on every redraw, above the nodes), pointerDown(e, point)
 * returning a drag {kind: "custom", move(point, e), up(e)} (clickOrDrag makes one) or
 * null, dropWire(drag, element) returning true when it took a wire dropped there,
 * follow(ids) returning the ids of the groups that moved along with nodes `ids` (moved
 * without a "change"), and moved(ids, point, e) after nodes were dragged.
 */
import { h, s, replace } from "./dom.js";
import { KeyedLayer, geometry, groupKind, nodeKind } from "./render.js";
import { Navigator } from "./navigator.js";
import { connect, inputPoint, outputPoint, routeWire, splice, wireItems, wireKind } from "./wires.js";
import { wirePath } from "./layout.js";

const WORKSPACE = 8000;
const MIN_SCALE = 0.3; // Node-RED's zoom limits
const MAX_SCALE = 2;
// Zoom to fit goes no lower: node labels (14 px) stay about 8 px high, still readable.
// A flow too big for the view at that scale is centred; the navigator shows the rest.
const FIT_MIN_SCALE = 0.6;
const DOUBLE_CLICK_MS = 400;
const DRAG_THRESHOLD = 3; // canvas pixels a press moves before it counts as a drag
const FIT_MARGIN = 40; // screen pixels kept free around the nodes by zoom to fit and reveal
const STATUS_SPACE = 20; // room under a node for its status badge
// Offsets tried when looking for a wire to splice into: the wire's hit line is 12 px
// wide, and a node dropped a little off it still means it (Node-RED allows ~14 px).
const SPLICE_REACH = [0, -8, 8];

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
    this.views = new Map(); // tab id -> {tx, ty, scale} of the tabs not shown
    this.viewTab = null; // the tab whose view tx / ty / scale hold
    this.mouse = null; // last client point of the mouse over the canvas, null when outside
    this.geos = new Map(); // node id -> geometry, of the nodes drawn
    this.wiresAt = new Map(); // node id -> keys of the wires drawn to and from it
    this.spliceWire = null; // key of the wire a dropped node would be spliced into
    this.spaceDown = false;
    this.drag = null;
    this.lastClick = null; // {key, at} of the last click on a node, group or subflow port
    this.keyMove = false; // arrow keys are moving the selection (until a key is released)
    this.pending = false;
    this.dirty = cleanSlate();
    this.extensions = [];
    this.build();
    this.model.on("change", () => {
      this.syncView();
      this.requestRender();
    });
    this.bindEvents();
    this.addFitButton();
    const footer = document.getElementById("workspace-footer");
    this.navigator = new Navigator(this, WORKSPACE, this.svg.parentElement, footer);
  }

  /** The zoom-to-fit button, after the footer's − ○ + zoom buttons. */
  addFitButton() {
    const footer = document.getElementById("workspace-footer");
    if (!footer) return;
    const button = h("button", {
      type: "button", "data-zoom": "fit", title: "Zoom to fit (shift 1)", "aria-label": "Zoom to fit",
      onclick: () => this.zoomToFit(),
    }, "\u2922");
    footer.append(button);
  }

  /**
   * Keep the view with its tab: when the active tab changed, store the old tab's
   * pan and zoom and restore the new one's. A tab seen for the first time starts
   * at the origin, unzoomed, panned to its nodes when they lie outside that view
   * (an imported flow at x=3000).
   */
  syncView() {
    const tab = this.model.activeTab;
    if (tab === this.viewTab) return;
    if (this.viewTab) this.views.set(this.viewTab, { tx: this.tx, ty: this.ty, scale: this.scale });
    for (const id of this.views.keys()) if (!this.model.get(id)) this.views.delete(id);
    this.viewTab = tab;
    const view = this.views.get(tab) || { tx: 0, ty: 0, scale: 1 };
    this.tx = view.tx;
    this.ty = view.ty;
    this.scale = view.scale;
    if (!this.views.has(tab)) this.reveal(this.tabContent());
  }

  /** The active tab's flow nodes and groups. */
  tabContent() {
    return [...this.model.nodesOn(this.model.activeTab), ...this.model.groupsOn(this.model.activeTab)];
  }

  /** The canvas box {x0, y0, x1, y1} around `nodes` (flow nodes and groups), or null. */
  bounds(nodes) {
    let box = null;
    for (const node of nodes) {
      if (!Number.isFinite(node.x) || !Number.isFinite(node.y)) continue;
      let b;
      if (node.type === "group") {
        b = { x0: node.x, y0: node.y, x1: node.x + (node.w || 0), y1: node.y + (node.h || 0) };
      } else {
        const g = geometry(this.model, node);
        b = { x0: g.x - g.width / 2, y0: g.y - g.height / 2, x1: g.x + g.width / 2, y1: g.y + g.height / 2 + STATUS_SPACE };
      }
      box = box ? {
        x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1), y1: Math.max(box.y1, b.y1),
      } : b;
    }
    return box;
  }

  /** The canvas box the view shows. */
  visibleBox() {
    const rect = this.svg.getBoundingClientRect();
    return {
      x0: -this.tx / this.scale, y0: -this.ty / this.scale,
      x1: (rect.width - this.tx) / this.scale, y1: (rect.height - this.ty) / this.scale,
    };
  }

  /** The canvas point at the centre of the view. */
  viewCentre() {
    const v = this.visibleBox();
    return { x: (v.x0 + v.x1) / 2, y: (v.y0 + v.y1) / 2 };
  }

  /** The canvas point under the mouse, or null when the mouse is not over the canvas. */
  pointer() {
    return this.mouse ? this.toCanvas(this.mouse.x, this.mouse.y) : null;
  }

  /**
   * Pan (zoom unchanged) so `nodes` are in view: nothing when they all are; else
   * their box is centred, or when it is bigger than the view its top-left corner
   * is shown.
   */
  reveal(nodes) {
    const box = this.bounds(nodes);
    const rect = this.svg.getBoundingClientRect();
    if (!box || !rect.width || !rect.height) return;
    const v = this.visibleBox();
    if (box.x0 >= v.x0 && box.y0 >= v.y0 && box.x1 <= v.x1 && box.y1 <= v.y1) return;
    const margin = FIT_MARGIN / this.scale;
    const place = (lo, hi, size) => (hi - lo + 2 * margin <= size ? (lo + hi - size) / 2 : lo - margin);
    this.tx = -place(box.x0, box.x1, v.x1 - v.x0) * this.scale;
    this.ty = -place(box.y0, box.y1, v.y1 - v.y0) * this.scale;
    this.clampPan();
    this.requestView();
  }

  /** Pan (zoom unchanged) so canvas point x, y is in the middle of the view. */
  centreOn(x, y) {
    const rect = this.svg.getBoundingClientRect();
    this.tx = rect.width / 2 - x * this.scale;
    this.ty = rect.height / 2 - y * this.scale;
    this.clampPan();
    this.requestView();
  }

  /**
   * Zoom so every node of the tab is in view, between FIT_MIN_SCALE and MAX_SCALE, and
   * centre the flow in the view.
   */
  zoomToFit() {
    const box = this.bounds(this.tabContent());
    const rect = this.svg.getBoundingClientRect();
    if (!box || !rect.width || !rect.height) return;
    const fit = Math.min((rect.width - 2 * FIT_MARGIN) / (box.x1 - box.x0 || 1),
      (rect.height - 2 * FIT_MARGIN) / (box.y1 - box.y0 || 1));
    this.scale = Math.min(MAX_SCALE, Math.max(FIT_MIN_SCALE, fit));
    this.centreOn((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2);
  }

  build() {
    const grid = s("pattern", { id: "grid", width: 20, height: 20, patternUnits: "userSpaceOnUse" },
      s("path", { d: "M 20 0 L 0 0 0 20", class: "grid-line" }));
    this.groupLayer = s("g", { class: "groups" });
    this.wireLayer = s("g", { class: "wires" });
    this.nodeLayer = s("g", { class: "nodes" });
    this.extraLayer = s("g", { class: "extras" });
    this.dragLayer = s("g", { class: "drag-layer" });
    this.viewport = s("g", { class: "viewport" },
      // From -WORKSPACE / 2: the view may pan past the origin (clampPan), the grid goes on.
      s("rect", {
        class: "workspace-bg", x: -WORKSPACE / 2, y: -WORKSPACE / 2, width: WORKSPACE * 1.5, height: WORKSPACE * 1.5, fill: "url(#grid)",
      }),
      this.groupLayer, this.wireLayer, this.nodeLayer, this.extraLayer, this.dragLayer);
    replace(this.svg, s("defs", {}, grid), this.viewport);
    this.liftedWires = s("g", { class: "wires" });
    this.liftedNodes = s("g", { class: "nodes" });
    this.liftViewport = s("g", {}, this.liftedWires, this.liftedNodes);
    this.overlay = s("svg", { class: "canvas-overlay", "aria-hidden": "true" }, this.liftViewport);
    this.svg.after(this.overlay);
    this.lifted = null; // {nodes, wires}: keys of the elements in the overlay
    this.drawn = {
      groups: new KeyedLayer(this.groupLayer, groupKind),
      wires: new KeyedLayer(this.wireLayer, wireKind),
      nodes: new KeyedLayer(this.nodeLayer, nodeKind(this.model)),
    };
  }

  /** Redraw the active tab on the next frame (the model changed). */
  requestRender() {
    this.dirty.all = true;
    this.schedule();
  }

  /** Apply the pan and zoom on the next frame. */
  requestView() {
    this.dirty.view = true;
    this.schedule();
  }

  /** Show the selection on the next frame. */
  requestSelection() {
    this.dirty.selection = true;
    this.schedule();
  }

  /** Node `id`'s status (editor.status) changed: redraw its badge alone on the next frame. */
  requestStatus(id) {
    this.dirty.status.add(id);
    this.schedule();
  }

  /**
   * Nodes or groups `ids` moved in the model (no "change"): move them, their wires and
   * the groups around them on the next frame.
   */
  requestMove(ids) {
    for (const id of ids) this.dirty.moved.add(id);
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const dirty = this.dirty;
      this.dirty = cleanSlate();
      if (dirty.all) {
        this.render();
        return;
      }
      if (dirty.view) this.placeView();
      if (dirty.moved.size) this.placeNodes(dirty.moved);
      for (const id of dirty.status) this.placeStatus(id);
      if (dirty.selection) this.paintSelection();
    });
  }

  /** Bring every element of the active tab up to date with the model. */
  render() {
    this.syncView();
    const model = this.model;
    const tab = model.get(model.activeTab);
    this.svg.classList.toggle("tab-disabled", Boolean(tab?.disabled));
    for (const id of [...this.selection]) if (model.get(id)?.z !== model.activeTab) this.selection.delete(id);
    const changed = model.changedIds();
    const deployedRev = model.rev;
    const nodes = model.nodesOn(model.activeTab);
    this.geos = new Map(nodes.map((node) => [node.id, geometry(model, node)]));
    this.drawn.groups.sync(new Map(model.groupsOn(model.activeTab)
      .map((group) => [group.id, { group, selected: this.selection.has(group.id) }])));
    const wires = wireItems(model, this.geos, this.selectedWire);
    this.drawn.wires.sync(wires);
    this.wiresAt = new Map();
    for (const [key, wire] of wires) {
      for (const end of [wire.source, wire.target]) {
        if (!this.wiresAt.has(end)) this.wiresAt.set(end, []);
        this.wiresAt.get(end).push(key);
      }
    }
    this.drawn.nodes.sync(new Map(nodes.map((node) => [node.id, {
      node,
      geo: this.geos.get(node.id),
      state: {
        selected: this.selection.has(node.id),
        changed: changed.has(node.id),
        problems: model.problems(node),
        status: this.editor.status.get(node.id),
        deployed: deployedRev !== null && !changed.has(node.id),
      },
    }])));
    this.drawExtras();
    this.spliceWire = this.drawn.wires.item(this.spliceWire) ? this.spliceWire : null;
    this.placeView();
    this.navigator.redraw();
    this.editor.emitSelection?.();
  }

  /** Let the extensions draw again what they add to the canvas (subflow port nodes and their wires). */
  drawExtras() {
    replace(this.extraLayer);
    for (const extension of this.extensions) extension.draw?.(this.extraLayer);
  }

  /** Apply the pan and zoom. */
  placeView() {
    const transform = `translate(${this.tx}, ${this.ty}) scale(${this.scale})`;
    this.viewport.setAttribute("transform", transform);
    this.liftViewport.setAttribute("transform", transform);
    this.navigator.placeView();
  }

  /** Move the elements of nodes `ids` and of their wires into the overlay. */
  lift(ids) {
    const nodes = [...ids].filter((id) => this.drawn.nodes.element(id));
    const wires = [...new Set(nodes.flatMap((id) => this.wiresAt.get(id) || []))];
    this.lifted = { nodes, wires };
    this.liftedWires.append(...wires.map((key) => this.drawn.wires.element(key)));
    this.liftedNodes.append(...nodes.map((id) => this.drawn.nodes.element(id)));
  }

  /** Put the lifted elements back on the canvas, on top of the others. */
  lower() {
    if (!this.lifted) return;
    for (const key of this.lifted.wires) {
      const el = this.drawn.wires.element(key);
      if (el) this.wireLayer.append(el);
    }
    for (const id of this.lifted.nodes) {
      const el = this.drawn.nodes.element(id);
      if (el) this.nodeLayer.append(el);
    }
    this.lifted = null;
  }

  /**
   * Move the elements of nodes and groups `ids` to where the model has them, with their
   * wires and the group boxes the extensions refit around them.
   */
  placeNodes(ids) {
    const wires = new Set();
    const groups = new Set(this.extensions.flatMap((extension) => extension.follow?.(ids) || []));
    for (const id of ids) {
      const node = this.model.get(id);
      const item = this.drawn.nodes.item(id);
      if (node && this.drawn.groups.item(id)) groups.add(id);
      if (!node || !item) continue;
      const geo = { ...item.geo, x: node.x, y: node.y };
      this.geos.set(id, geo);
      this.drawn.nodes.patch(id, { ...item, geo });
      for (const key of this.wiresAt.get(id) || []) wires.add(key);
    }
    for (const key of wires) {
      const wire = this.drawn.wires.item(key);
      this.drawn.wires.patch(key, { ...wire, d: routeWire(wire, this.geos) });
    }
    for (const id of groups) {
      const item = this.drawn.groups.item(id);
      if (item) this.drawn.groups.patch(id, { ...item, group: this.model.get(id) });
    }
    this.drawExtras();
  }

  /** Show node `id`'s current status badge. */
  placeStatus(id) {
    const item = this.drawn.nodes.item(id);
    if (item) this.drawn.nodes.patch(id, { ...item, state: { ...item.state, status: this.editor.status.get(id) } });
  }

  /** Show the selected nodes and wire as selected, and the rest not. */
  paintSelection() {
    for (const [id, item] of this.drawn.nodes.items()) {
      const selected = this.selection.has(id);
      if (selected !== item.state.selected) this.drawn.nodes.patch(id, { ...item, state: { ...item.state, selected } });
    }
    for (const [key, wire] of this.drawn.wires.items()) {
      const selected = key === this.selectedWire;
      if (selected !== wire.selected) this.drawn.wires.patch(key, { ...wire, selected });
    }
    for (const [id, item] of this.drawn.groups.items()) {
      const selected = this.selection.has(id);
      if (selected !== item.selected) this.drawn.groups.patch(id, { ...item, selected });
    }
    this.drawExtras();
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

  /**
   * Select `ids` (and `wire`). When the selected nodes lie wholly outside the view
   * (an import into the current tab, revealing a node from the sidebar) the view
   * pans to them.
   */
  select(ids, { wire = null } = {}) {
    this.selection = new Set(ids);
    this.selectedWire = wire;
    this.syncView();
    const nodes = [...this.selection].map((id) => this.model.get(id)).filter((n) => n?.z === this.model.activeTab);
    const box = this.bounds(nodes);
    const v = this.visibleBox();
    if (box && (box.x1 < v.x0 || box.x0 > v.x1 || box.y1 < v.y0 || box.y0 > v.y1)) this.reveal(nodes);
    this.requestSelection();
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
    this.requestView();
  }

  /**
   * Keep the canvas origin no further in than the middle of the view: enough margin to
   * centre a flow that lies near the origin (zoom to fit, reveal), not a view lost in
   * the empty space above and left of every node.
   */
  clampPan() {
    const rect = this.svg.getBoundingClientRect();
    this.tx = Math.min(rect.width / 2, this.tx);
    this.ty = Math.min(rect.height / 2, this.ty);
  }

  /**
   * Move the selected nodes by dx, dy (keyboard arrows) as a drag moves them: while keys
   * are held, one undo step and one "change" when a key is released (Node-RED's too).
   */
  moveSelection(dx, dy) {
    if (!this.selection.size || this.model.readOnly) return;
    if (!this.keyMove) {
      this.keyMove = true;
      this.editor.history.record();
      window.addEventListener("keyup", () => {
        this.keyMove = false;
        this.model.emit("change");
      }, { once: true });
    }
    for (const id of this.selection) {
      const node = this.model.get(id);
      node.x += dx;
      node.y += dy;
    }
    this.requestMove(this.selection);
  }

  /**
   * A drag for an extension's press at canvas `start` on something that is clicked,
   * double-clicked or dragged (a group, a subflow port), as a node is: once the pointer
   * has gone DRAG_THRESHOLD, history is recorded and begin() called, then move(dx, dy)
   * per pointer move and drop(e) on release; a release without a drag is a click, and
   * the second click on `key` in a short time calls open().
   */
  clickOrDrag(start, key, { begin, move, drop, open }) {
    let moved = false;
    return {
      kind: "custom",
      move: (point) => {
        const dx = point.x - start.x;
        const dy = point.y - start.y;
        if (this.model.readOnly || (!moved && Math.hypot(dx, dy) < DRAG_THRESHOLD)) return;
        if (!moved) {
          this.editor.history.record();
          begin?.();
        }
        moved = true;
        move(dx, dy);
      },
      up: (e) => {
        if (moved) drop(e);
        else if (this.doubleClicked(key)) open();
      },
    };
  }

  /** Note a click on `key` (a node, group or port); true when it is the second of a double-click. */
  doubleClicked(key) {
    const now = Date.now();
    const last = this.lastClick;
    this.lastClick = { key, at: now };
    if (last?.key !== key || now - last.at >= DOUBLE_CLICK_MS) return false;
    this.lastClick = null;
    return true;
  }

  bindEvents() {
    const svg = this.svg;
    svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    svg.addEventListener("pointermove", (e) => {
      this.mouse = { x: e.clientX, y: e.clientY };
      this.pointerMove(e);
    });
    svg.addEventListener("pointerleave", () => { this.mouse = null; });
    svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) {
        this.zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX, e.clientY);
      } else {
        this.tx -= e.deltaX;
        this.ty -= e.deltaY;
        this.clampPan();
        this.requestView();
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
    } else if (this.extensionDrag(e, point)) {
      // an extension (a group, a subflow port) took the press
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
      const lone = starts.size === 1 && starts.has(id) && this.canSplice(this.model.get(id));
      this.drag = { kind: "move", start: point, starts, moved: false, clicked: id, additive, lone };
      this.requestSelection();
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

  /** Offer a press to the extensions; true when one of them started a drag. */
  extensionDrag(e, point) {
    for (const extension of this.extensions) {
      const drag = extension.pointerDown?.(e, point);
      if (drag) {
        this.drag = drag;
        return true;
      }
    }
    return false;
  }

  xy(id) {
    const node = this.model.get(id);
    return { x: node.x, y: node.y };
  }

  pointerMove(e) {
    const drag = this.drag;
    if (!drag) return;
    const point = this.toCanvas(e.clientX, e.clientY);
    if (drag.kind === "custom") {
      drag.move(point, e);
    } else if (drag.kind === "pan") {
      this.tx = drag.tx + e.clientX - drag.startX;
      this.ty = drag.ty + e.clientY - drag.startY;
      this.clampPan();
      this.requestView();
    } else if (drag.kind === "wire") {
      const { anchor } = drag;
      drag.path.setAttribute("d", drag.port === "in"
        ? wirePath(point.x, point.y, anchor.x, anchor.y)
        : wirePath(anchor.x, anchor.y, point.x, point.y));
    } else if (drag.kind === "move" && !this.model.readOnly) {
      const dx = point.x - drag.start.x;
      const dy = point.y - drag.start.y;
      if (!drag.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      if (!drag.moved) {
        this.editor.history.record();
        this.lift(drag.starts.keys());
      }
      drag.moved = true;
      for (const [id, start] of drag.starts) {
        const node = this.model.get(id);
        node.x = Math.round(start.x + dx);
        node.y = Math.round(start.y + dy);
      }
      this.requestMove(drag.starts.keys());
      if (drag.lone) {
        const node = this.model.get(drag.clicked);
        const rect = this.svg.getBoundingClientRect();
        this.highlightSplice(this.wireAt(rect.left + this.tx + node.x * this.scale, rect.top + this.ty + node.y * this.scale));
      }
    } else if (drag.kind === "lasso") {
      const x = Math.min(point.x, drag.start.x);
      const y = Math.min(point.y, drag.start.y);
      const w = Math.abs(point.x - drag.start.x);
      const h = Math.abs(point.y - drag.start.y);
      Object.entries({ x, y, width: w, height: h }).forEach(([k, v]) => drag.rect.setAttribute(k, v));
      const inside = [...this.geos].filter(([, g]) => g.x >= x && g.x <= x + w && g.y >= y && g.y <= y + h);
      this.selection = new Set([...drag.base, ...inside.map(([id]) => id)]);
      this.requestSelection();
    }
  }

  pointerUp(e) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    if (drag.kind === "custom") {
      drag.up(e);
    } else if (drag.kind === "wire") {
      drag.path.remove();
      this.finishWire(drag, document.elementFromPoint(e.clientX, e.clientY));
    } else if (drag.kind === "lasso") {
      drag.rect.remove();
    } else if (drag.kind === "move" && drag.moved) {
      this.lower();
      if (drag.lone) this.spliceInto(drag.clicked);
      const point = this.toCanvas(e.clientX, e.clientY);
      for (const extension of this.extensions) extension.moved?.([...drag.starts.keys()], point, e);
      this.model.emit("change");
    } else if (drag.kind === "move") {
      // The svg captures the pointer, so the browser's click and dblclick go to it, not to the node: count clicks here.
      if (!drag.additive) this.select([drag.clicked]);
      if (this.doubleClicked(drag.clicked)) this.editor.openEditor(drag.clicked);
    }
  }

  /** True when `node` may be spliced into a wire: it has an input and an output and no wires yet. */
  canSplice(node) {
    const { model } = this;
    return Boolean(node) && model.inputCount(node) > 0 && model.outputCount(node) > 0
      && !(node.wires || []).some((targets) => targets.length) && !this.wiresAt.get(node.id)?.length;
  }

  /** The key of the wire under client point x, y (or just above or below it), or null. */
  wireAt(clientX, clientY) {
    for (const dy of SPLICE_REACH) {
      for (const el of document.elementsFromPoint(clientX, clientY + dy)) {
        const wire = el.closest("[data-wire]");
        if (wire && this.wireLayer.contains(wire)) return wire.dataset.wire;
      }
    }
    return null;
  }

  /** Mark wire `key` (null: none) as the one a node dropped now would be spliced into. */
  highlightSplice(key) {
    if (key === this.spliceWire) return;
    this.drawn.wires.element(this.spliceWire)?.classList.remove("splice");
    this.spliceWire = key;
    this.drawn.wires.element(key)?.classList.add("splice");
  }

  /**
   * Splice node `id` into the highlighted wire, if one is, and clear the highlight;
   * true when it was spliced. The caller records history and emits "change".
   */
  spliceInto(id) {
    const key = this.spliceWire;
    this.highlightSplice(null);
    if (!key) return false;
    splice(this.model, id, key);
    return true;
  }

  finishWire(drag, element) {
    if (this.extensions.some((extension) => extension.dropWire?.(drag, element))) return;
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

/** Nothing waiting to be drawn. */
function cleanSlate() {
  return { all: false, view: false, selection: false, moved: new Set(), status: new Set() };
}
