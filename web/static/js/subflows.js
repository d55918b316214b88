/**
 * Subflows in the editor, as Node-RED 4 has them: "Selection to Subflow" (the crossing
 * wires become the subflow's input and outputs, an instance takes the selection's
 * place), subflow workspace tabs with their toolbar (edit properties, inputs 0/1,
 * outputs − n +, delete subflow), the input / output port nodes drawn and wired on the
 * canvas (a canvas extension), the properties dialog (name, description, colour, env
 * properties), an instance's env overrides in its edit tray, "Convert to nodes" and
 * deleting a subflow with its instances. Everything is kept in Node-RED's JSON: the
 * definition's `in` / `out` ([{x, y, wires: [{id, port}]}]) and `env`, the instance's
 * `env` (only the overridden entries).
 */
import { confirmDialog, openDialog } from "./dialog.js";
import { h, replace, s } from "./dom.js";
import { setGroup } from "./groups.js";
import { freshIds, remap } from "./ids.js";
import { GRID, wirePath } from "./layout.js";
import { instanceOf, isConfigNode, newId } from "./model.js";
import { notify } from "./notify.js";
import { SUBFLOW_PORT_SIZE, drawSubflowPort, geometry } from "./render.js";
import { fitWires, inputPoint, outputPoint, wireElement } from "./wires.js";

/** The env property types the runtime evaluates (flowrt/flow.py `_typed_env`). */
export const ENV_TYPES = [
  ["str", "string"], ["num", "number"], ["bool", "boolean"], ["json", "JSON"], ["env", "env variable"],
];
const DEFAULT_COLOUR = "#DDAA99";
const IN_KEY = "subflow-in";
const OUT_KEY = "subflow-out";

const snap = (value) => Math.round(value / GRID) * GRID;

/** Connector points of a port node: where an input port's wires start, an output's end. */
function connectorPoint(kind, port) {
  const half = SUBFLOW_PORT_SIZE / 2;
  return { x: kind === "in" ? port.x + half : port.x - half, y: port.y };
}

/** The canvas box {x0, y0, x1, y1} of flow nodes (their drawn size). */
function nodesBox(model, nodes) {
  let box = null;
  for (const node of nodes) {
    const g = geometry(model, node);
    const b = { x0: g.x - g.width / 2, y0: g.y - g.height / 2, x1: g.x + g.width / 2, y1: g.y + g.height / 2 };
    box = box ? {
      x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1), y1: Math.max(box.y1, b.y1),
    } : b;
  }
  return box;
}

/** Add `wire` ({id} or {id, port}) to a port entry's wires unless it is there; true when added. */
function addWire(entry, wire) {
  if (entry.wires.some((w) => w.id === wire.id && (w.port ?? 0) === (wire.port ?? 0))) return false;
  entry.wires.push(wire);
  return true;
}

/** A row of the env editor: name, type and value inputs for `entry` (kept as row.entry). */
function envRow(entry, onRemove) {
  const row = h("div", { class: "env-row", "data-env-row": "" },
    h("input", { type: "text", class: "env-name", placeholder: "name", value: entry.name || "", "aria-label": "Name" }),
    h("select", { class: "env-type", "aria-label": "Type" },
      ENV_TYPES.map(([value, label]) => h("option", { value, selected: value === (entry.type || "str") }, label))),
    h("input", { type: "text", class: "env-value", placeholder: "value", value: entry.value ?? "", "aria-label": "Value" }),
    h("button", { type: "button", class: "secondary env-remove", title: "Remove", onclick: () => onRemove(row) }, "×"));
  row.entry = entry;
  return row;
}

/** A problem with env value `value` of type `type`, in words, or null. */
function envProblem(name, type, value) {
  if (type === "num" && (value === "" || !Number.isFinite(Number(value)))) return `${name}: not a number`;
  if (type === "bool" && !["true", "false"].includes(value)) return `${name}: must be true or false`;
  if (type === "json") {
    try {
      JSON.parse(value);
    } catch {
      return `${name}: not valid JSON`;
    }
  }
  return null;
}

export class Subflows {
  /** `editor` supplies model, canvas, history, showTab(id), openEditor(id) and properties. */
  constructor(editor) {
    this.editor = editor;
    this.model = editor.model;
    this.open = new Set(); // subflow tabs shown beside the flow tabs
    this.selectedPort = null;
    this.toolbar = document.getElementById("subflow-toolbar");
    editor.canvas.extensions.push(this);
    this.model.on("change", () => this.renderToolbar());
  }

  /** The subflow being edited (the active workspace), or null. */
  active() {
    const node = this.model.get(this.model.activeTab);
    return node?.type === "subflow" ? node : null;
  }

  /** The subflow tabs to show: the opened ones that still exist, and the active one. */
  openTabs() {
    const active = this.active();
    if (active) this.open.add(active.id);
    for (const id of this.open) if (this.model.get(id)?.type !== "subflow") this.open.delete(id);
    return [...this.open].map((id) => this.model.get(id));
  }

  /** Open subflow `id` in its tab. */
  show(id) {
    if (this.model.get(id)?.type !== "subflow") return;
    this.open.add(id);
    this.editor.showTab(id);
  }

  /** Close the tab of subflow `id` (the subflow stays). */
  close(id) {
    this.open.delete(id);
    if (this.model.activeTab === id) this.editor.showTab(this.model.tabs()[0].id);
    else this.model.emit("change");
  }

  /** The next free "Subflow <n>" name (Node-RED's rule). */
  nextName() {
    let last = 0;
    for (const def of this.model.subflows()) {
      const match = /^Subflow (\d+)$/.exec(def.name || "");
      if (match) last = Math.max(last, Number(match[1]));
    }
    return `Subflow ${last + 1}`;
  }

  /** A new empty subflow, opened in its tab (Node-RED's "Create subflow"). */
  create() {
    const { model, history } = this.editor;
    if (model.readOnly) return;
    history.record();
    const def = { id: newId(), type: "subflow", name: this.nextName(), info: "", in: [], out: [] };
    model.put(def);
    this.show(def.id);
  }

  /**
   * Selection to Subflow: move the selected nodes (a selected group brings its nodes)
   * into a new subflow. Wires into the selection become its input (one target node
   * at most, as in Node-RED), wires out of it its outputs (one per source port, top to
   * bottom); an instance wired the same way takes the selection's place.
   */
  convert() {
    const { model, canvas, history } = this.editor;
    if (model.readOnly) return;
    const z = model.activeTab;
    const queue = [...canvas.selection].map((id) => model.get(id)).filter((n) => n?.z === z);
    if (!queue.length) {
      notify("Cannot create subflow: no nodes selected", { type: "error" });
      return;
    }
    const picked = new Map();
    while (queue.length) {
      const node = queue.shift();
      if (picked.has(node.id)) continue;
      picked.set(node.id, node);
      if (node.type === "group") queue.push(...(node.nodes || []).map((id) => model.get(id)).filter(Boolean));
    }
    const list = [...picked.values()];
    const outerGroups = new Set(list.filter((n) => n.g && !picked.has(n.g)).map((n) => n.g));
    if (outerGroups.size > 1) {
      notify("Cannot create subflow across multiple groups", { type: "error" });
      return;
    }
    const containing = outerGroups.size ? model.get([...outerGroups][0]) : null;
    const flowNodes = list.filter((n) => n.type !== "group");
    const inbound = [];
    for (const node of model.nodesOn(z)) {
      if (picked.has(node.id)) continue;
      (node.wires || []).forEach((targets, port) => {
        for (const target of targets) if (picked.has(target)) inbound.push({ source: node, port, target });
      });
    }
    const inputTargets = [...new Set(inbound.map((w) => w.target))];
    if (inputTargets.length > 1) {
      notify("Cannot create subflow: multiple inputs to selection", { type: "error" });
      return;
    }
    const outbound = new Map();
    for (const node of flowNodes) {
      (node.wires || []).forEach((targets, port) => {
        const outside = targets.filter((t) => !picked.has(t));
        if (outside.length) outbound.set(`${node.id}:${port}`, { source: node, port, targets: outside });
      });
    }
    const outputs = [...outbound.values()].sort((a, b) => a.source.y - b.source.y);
    const box = nodesBox(model, flowNodes);
    const offsetX = snap(box.x0 - 140);
    const offsetY = snap(box.y0 - 60);
    const id = newId();
    const def = {
      id, type: "subflow", name: this.nextName(), info: "",
      in: inputTargets.map((target) => {
        const node = model.get(target);
        const geo = geometry(model, node);
        return { x: snap(node.x - geo.width / 2 - 80 - offsetX), y: snap(node.y - offsetY), wires: [{ id: target }] };
      }),
      out: outputs.map(({ source, port }) => {
        const geo = geometry(model, source);
        return { x: snap(source.x + geo.width / 2 + 80 - offsetX), y: snap(source.y - offsetY), wires: [{ id: source.id, port }] };
      }),
    };
    const instance = {
      id: newId(), type: `subflow:${id}`, z, ...(containing ? { g: containing.id } : {}),
      x: snap((box.x0 + box.x1) / 2), y: snap((box.y0 + box.y1) / 2),
      wires: outputs.map((o) => [...o.targets]),
    };
    history.record();
    for (const { source, port } of inbound) {
      source.wires[port] = [...new Set(source.wires[port].map((t) => (picked.has(t) ? instance.id : t)))];
    }
    for (const node of list) {
      if (Array.isArray(node.wires)) node.wires = node.wires.map((targets) => targets.filter((t) => picked.has(t)));
      if (Array.isArray(node.links)) {
        for (const other of node.links.filter((t) => !picked.has(t)).map((t) => model.get(t)).filter(Boolean)) {
          if (Array.isArray(other.links)) other.links = other.links.filter((t) => t !== node.id);
        }
        node.links = node.links.filter((t) => picked.has(t));
      }
      node.x -= offsetX;
      node.y -= offsetY;
      node.z = id;
      if (containing && node.g === containing.id) delete node.g;
    }
    if (containing) containing.nodes = [...containing.nodes.filter((n) => !picked.has(n)), instance.id];
    model.put(def, instance);
    canvas.select([instance.id]);
  }

  /**
   * Convert to nodes: put a copy of the subflow's nodes (new ids) where instance `id`
   * was, wired as the instance was; the definition stays.
   */
  inline(id) {
    const { model, canvas, history } = this.editor;
    const instance = model.get(id);
    const def = model.get(instanceOf(instance));
    if (model.readOnly || def?.type !== "subflow") return;
    const inner = model.nodesOnAnyKind(def.id).filter((n) => !isConfigNode(n));
    const mapping = freshIds(inner.map((n) => n.id));
    const copies = remap(inner, mapping);
    const box = nodesBox(model, inner.filter((n) => n.type !== "group"));
    const dx = box ? Math.round(instance.x - (box.x0 + box.x1) / 2) : 0;
    const dy = box ? Math.round(instance.y - (box.y0 + box.y1) / 2) : 0;
    const byId = new Map(copies.map((n) => [n.id, n]));
    const outerWires = instance.wires || [];
    const entry = (def.in?.[0]?.wires || []).map((w) => mapping.get(w.id)).filter(Boolean);
    (def.out || []).forEach((port, index) => {
      for (const wire of port.wires || []) {
        const targets = outerWires[index] || [];
        if (wire.id === def.id) {
          entry.push(...targets);
          continue;
        }
        const copy = byId.get(mapping.get(wire.id));
        if (!copy) continue;
        copy.wires = copy.wires || [];
        while (copy.wires.length <= wire.port) copy.wires.push([]);
        copy.wires[wire.port] = [...new Set([...copy.wires[wire.port], ...targets])];
      }
    });
    history.record();
    for (const copy of copies) {
      copy.z = instance.z;
      copy.x += dx;
      copy.y += dy;
      if (!copy.g && instance.g) setGroup(copy, instance.g);
    }
    for (const node of model.nodesOn(instance.z)) {
      if (!Array.isArray(node.wires)) continue;
      node.wires = node.wires.map((targets) => (targets.includes(id)
        ? [...new Set(targets.flatMap((t) => (t === id ? entry : [t])))] : targets));
    }
    const group = model.get(instance.g);
    model.remove([id]);
    if (group) group.nodes = [...group.nodes, ...copies.filter((n) => n.g === group.id).map((n) => n.id)];
    model.put(...copies);
    if ((def.env || []).length) {
      notify("The subflow's env properties do not carry over to the converted nodes", { type: "warning" });
    }
    canvas.select(copies.filter((n) => n.type !== "group").map((n) => n.id));
  }

  /** Delete subflow `id` and its instances, after confirming when it has instances. */
  async remove(id) {
    const { model, history } = this.editor;
    const def = model.get(id);
    if (model.readOnly || def?.type !== "subflow") return;
    const count = model.instances(id).length;
    if (count) {
      const ok = await confirmDialog("Delete subflow",
        h("p", {}, `"${model.label(def)}" has ${count} instance${count === 1 ? "" : "s"}; deleting the subflow deletes ${count === 1 ? "it" : "them"} too.`),
        "Delete");
      if (!ok) return;
    }
    history.record();
    this.open.delete(id);
    model.remove([id]);
    if (model.activeTab !== model.tabs()[0]?.id && !model.get(model.activeTab)) this.editor.showTab(model.tabs()[0].id);
    notify(`Deleted subflow "${model.label(def)}"`, { type: "success", timeout: 3000 });
  }

  // ------------------------------------------------------------------ ports

  /** A place for a new port node near the view's top-left corner, free of other ports. */
  freePosition(def, isInput) {
    const view = this.editor.canvas.visibleBox();
    const pos = { x: snap(view.x0) + 50 + (isInput ? 0 : 110), y: snap(view.y0) + 30 };
    const taken = [...(def.in || []), ...(def.out || [])].map((p) => `${p.x},${p.y}`);
    while (taken.includes(`${pos.x},${pos.y}`)) pos.x += 55;
    return pos;
  }

  /** Give the active subflow `count` (0 or 1) inputs; wires into its instances go with the input. */
  setInputs(count) {
    const { model, history } = this.editor;
    const def = this.active();
    if (!def || model.readOnly || (def.in || []).length === count) return;
    history.record();
    if (count) {
      def.in = [{ ...this.freePosition(def, true), wires: [] }];
    } else {
      def.in = [];
      const instances = new Set(model.instances(def.id).map((n) => n.id));
      for (const node of model.nodes.values()) {
        if (Array.isArray(node.wires)) node.wires = node.wires.map((targets) => targets.filter((t) => !instances.has(t)));
      }
    }
    model.emit("change");
  }

  /** Add an output to the active subflow (delta 1) or remove its last one (delta -1). */
  changeOutputs(delta) {
    const { model, history } = this.editor;
    const def = this.active();
    if (!def || model.readOnly || (delta < 0 && !(def.out || []).length)) return;
    history.record();
    def.out = def.out || [];
    if (delta > 0) def.out.push({ ...this.freePosition(def, false), wires: [] });
    else def.out.pop();
    for (const instance of model.instances(def.id)) fitWires(model, instance);
    model.emit("change");
  }

  /** Remove the port wire named by `key`; false when `key` is not a port wire's. */
  disconnect(key) {
    const [kind, index, id, port] = key.split(":");
    const def = this.active();
    if (!def || (kind !== IN_KEY && kind !== OUT_KEY)) return false;
    const entry = (kind === IN_KEY ? def.in : def.out)?.[Number(index)];
    if (entry) {
      entry.wires = entry.wires.filter((w) => !(w.id === id && (kind === IN_KEY || String(w.port ?? 0) === port)));
    }
    return true;
  }

  /** Canvas extension: the port nodes of the subflow being edited and their wires. */
  draw(layer) {
    const def = this.active();
    if (!def) return;
    const { canvas } = this.editor;
    const wires = [];
    const wireTo = (key, from, to) => wires.push(wireElement(key, wirePath(from.x, from.y, to.x, to.y),
      key === canvas.selectedWire ? "wire selected" : "wire"));
    (def.in || []).forEach((port, index) => {
      for (const wire of port.wires || []) {
        const geo = canvas.geos.get(wire.id);
        if (geo) wireTo(`${IN_KEY}:${index}:${wire.id}`, connectorPoint("in", port), inputPoint(geo));
      }
    });
    (def.out || []).forEach((port, index) => {
      for (const wire of port.wires || []) {
        const key = `${OUT_KEY}:${index}:${wire.id}:${wire.port ?? 0}`;
        if (wire.id === def.id && def.in?.[0]) {
          wireTo(key, connectorPoint("in", def.in[0]), connectorPoint("out", port));
          continue;
        }
        const geo = canvas.geos.get(wire.id);
        if (geo) wireTo(key, outputPoint(geo, wire.port ?? 0), connectorPoint("out", port));
      }
    });
    layer.append(...wires,
      ...(def.in || []).map((port, i) => drawSubflowPort("in", i, port, this.selectedPort === `in-${i}`)),
      ...(def.out || []).map((port, i) => drawSubflowPort("out", i, port, this.selectedPort === `out-${i}`)));
  }

  /** The port entry for a data-subflow-port value ("in-0", "out-2"). */
  portOf(def, name) {
    const [kind, index] = name.split("-");
    return { kind, index: Number(index), port: (kind === "in" ? def.in : def.out)?.[Number(index)] };
  }

  /** Canvas extension: presses on a port node (move it) or its connector (wire it). */
  pointerDown(e, point) {
    const def = this.active();
    const el = e.target.closest?.("[data-subflow-port]");
    if (!def || !el || this.model.readOnly) return null;
    const { kind, index, port } = this.portOf(def, el.dataset.subflowPort);
    if (!port) return null;
    const { canvas, history } = this.editor;
    if (e.target.closest("[data-port]")) {
      const anchor = connectorPoint(kind, port);
      const path = s("path", { class: "drag-wire" });
      canvas.dragLayer.append(path);
      return {
        kind: "custom",
        move: (p) => path.setAttribute("d", kind === "in"
          ? wirePath(anchor.x, anchor.y, p.x, p.y) : wirePath(p.x, p.y, anchor.x, anchor.y)),
        up: (ev) => {
          path.remove();
          const snapshot = this.model.snapshot();
          if (this.connectFromPort(def, kind, index, document.elementFromPoint(ev.clientX, ev.clientY))) {
            history.record(snapshot);
            this.model.emit("change");
          }
        },
      };
    }
    this.selectedPort = el.dataset.subflowPort;
    canvas.select([]);
    const start = { x: port.x, y: port.y };
    return canvas.clickOrDrag(point, `subflow-port:${this.selectedPort}`, {
      move: (dx, dy) => {
        port.x = Math.round(start.x + dx);
        port.y = Math.round(start.y + dy);
        canvas.drawExtras();
      },
      drop: () => this.model.emit("change"),
      open: () => this.editProperties(def.id),
    });
  }

  /** A wire dragged from a port connector dropped on `element`; true when one was added. */
  connectFromPort(def, kind, index, element) {
    const nodeEl = element?.closest("[data-node-id]");
    const portEl = element?.closest("[data-subflow-port]");
    const entry = (kind === "in" ? def.in : def.out)[index];
    if (kind === "in") {
      if (portEl?.dataset.subflowPort.startsWith("out-")) {
        return addWire(this.portOf(def, portEl.dataset.subflowPort).port, { id: def.id, port: 0 });
      }
      const node = this.model.get(nodeEl?.dataset.nodeId);
      return node && this.model.inputCount(node) > 0 ? addWire(entry, { id: node.id }) : false;
    }
    if (portEl?.dataset.subflowPort === "in-0") return addWire(entry, { id: def.id, port: 0 });
    const node = this.model.get(nodeEl?.dataset.nodeId);
    const outPort = element.closest("[data-port]")?.dataset.port;
    const number = outPort?.startsWith("out-") ? Number(outPort.slice(4)) : 0;
    return node && number < this.model.outputCount(node) ? addWire(entry, { id: node.id, port: number }) : false;
  }

  /** Canvas extension: a wire dragged from a node and dropped on a port node. */
  dropWire(drag, element) {
    const def = this.active();
    const portEl = element?.closest("[data-subflow-port]");
    if (!def || !portEl) return false;
    const { kind, port } = this.portOf(def, portEl.dataset.subflowPort);
    const snapshot = this.model.snapshot();
    let added = false;
    if (kind === "out" && drag.port.startsWith("out-")) added = addWire(port, { id: drag.id, port: Number(drag.port.slice(4)) });
    else if (kind === "in" && drag.port === "in") added = addWire(port, { id: drag.id });
    if (added) {
      this.editor.history.record(snapshot);
      this.model.emit("change");
    }
    return true;
  }

  // ------------------------------------------------------------------ toolbar and dialogs

  /** The toolbar above a subflow's workspace, as Node-RED's. */
  renderToolbar() {
    const def = this.active();
    this.toolbar.hidden = !def;
    if (!def) return;
    const inputs = (def.in || []).length;
    const readOnly = this.model.readOnly;
    replace(this.toolbar,
      h("button", { type: "button", "data-subflow-action": "properties", onclick: () => this.editProperties(def.id) }, "✎ edit properties"),
      h("span", { class: "subflow-toolbar-label" }, "inputs:"),
      [0, 1].map((n) => h("button", {
        type: "button", class: `toggle${inputs === n ? " active" : ""}`, "data-subflow-inputs": n, disabled: readOnly,
        onclick: () => this.setInputs(n),
      }, String(n))),
      h("span", { class: "subflow-toolbar-label" }, "outputs:"),
      h("button", { type: "button", "data-subflow-action": "remove-output", title: "Remove the last output", disabled: readOnly, onclick: () => this.changeOutputs(-1) }, "−"),
      h("span", { class: "subflow-output-count", "data-subflow-outputs": "" }, String((def.out || []).length)),
      h("button", { type: "button", "data-subflow-action": "add-output", title: "Add an output", disabled: readOnly, onclick: () => this.changeOutputs(1) }, "+"),
      h("button", { type: "button", "data-subflow-action": "delete", disabled: readOnly, onclick: () => this.remove(def.id) }, "delete subflow"));
  }

  /** The subflow properties dialog: name, description, colour and env properties. */
  editProperties(id) {
    const { model, history } = this.editor;
    const def = model.get(id);
    if (def?.type !== "subflow") return;
    const readOnly = model.readOnly;
    const name = h("input", { type: "text", id: "subflow-name", value: def.name || "", readOnly });
    const info = h("textarea", { id: "subflow-info", rows: 3, value: def.info || "", readOnly });
    const colour = h("input", { type: "color", id: "subflow-color", value: (def.color || DEFAULT_COLOUR).slice(0, 7), disabled: readOnly });
    const list = h("div", { class: "env-list", id: "subflow-env" });
    const error = h("div", { class: "field-error", id: "subflow-env-error" });
    const removeRow = (row) => row.remove();
    list.append(...(def.env || []).map((entry) => envRow(entry, removeRow)));
    const count = model.instances(id).length;
    const buttons = [{ label: "Cancel" }];
    if (!readOnly) {
      buttons.push({
        label: "Done", primary: true, action: "subflow-done",
        run: () => {
          // An entry keeps what this dialog does not edit (Node-RED's `ui` of the property).
          const env = [...list.querySelectorAll("[data-env-row]")].map((row) => {
            const { name: _name, type: _type, value: _value, ...kept } = row.entry;
            return {
              name: row.querySelector(".env-name").value.trim(),
              type: row.querySelector(".env-type").value,
              value: row.querySelector(".env-value").value,
              ...kept,
            };
          }).filter((entry) => entry.name);
          const names = env.map((e) => e.name);
          const problems = [
            ...names.filter((n, i) => names.indexOf(n) !== i).map((n) => `${n}: the name is used twice`),
            ...env.map((e) => envProblem(e.name, e.type, e.value)).filter(Boolean),
          ];
          if (problems.length) {
            error.textContent = problems.join("; ");
            return false;
          }
          const updated = { ...def, name: name.value, info: info.value };
          if (env.length || def.env) updated.env = env;
          if (def.color || colour.value.toUpperCase() !== DEFAULT_COLOUR) updated.color = colour.value.toUpperCase();
          if (JSON.stringify(updated) === JSON.stringify(def)) return true;
          history.record();
          model.put(updated);
          return true;
        },
      });
    }
    openDialog({
      title: `Edit subflow template: ${model.label(def)}`,
      className: "subflow-dialog",
      body: h("div", {},
        h("div", { class: "form-row" }, h("label", { for: "subflow-name" }, "Name"), name),
        h("div", { class: "form-row inline" }, h("label", { for: "subflow-color" }, "Colour"), colour),
        h("fieldset", { class: "form-list" }, h("legend", {}, "Environment variables"), list,
          readOnly ? null : h("button", {
            type: "button", class: "secondary", "data-action": "env-add",
            onclick: () => list.append(envRow({ type: "str" }, removeRow)),
          }, "+ add")),
        error,
        h("div", { class: "form-row" }, h("label", { for: "subflow-info" }, "Description"), info),
        h("p", { class: "hint" }, `There ${count === 1 ? "is 1 instance" : `are ${count} instances`} of this subflow template`)),
      buttons,
    });
  }

  /**
   * The instance form's env section: each of the definition's env properties with the
   * instance's value, the definition's default shown until overridden. `draft.env`
   * keeps only the entries that differ from the definition (Node-RED's instance `env`).
   */
  instanceFields(draft) {
    const def = this.model.get(instanceOf(draft));
    const defaults = def?.env || [];
    if (!defaults.length) return null;
    const hadEnv = Array.isArray(draft.env);
    const readOnly = this.model.readOnly;
    const rows = defaults.map((entry) => {
      const own = (draft.env || []).find((e) => e.name === entry.name);
      const type = h("select", { class: "env-type", disabled: readOnly, "aria-label": `${entry.name} type` },
        ENV_TYPES.map(([value, label]) => h("option", { value, selected: value === (own?.type || entry.type || "str") }, label)));
      const value = h("input", {
        type: "text", class: "env-value", value: own ? own.value : entry.value ?? "", readOnly,
        "data-env-name": entry.name, "aria-label": entry.name,
      });
      const update = () => {
        const rest = (draft.env || []).filter((e) => e.name !== entry.name);
        const same = value.value === String(entry.value ?? "") && type.value === (entry.type || "str");
        draft.env = same ? rest : [...rest, { name: entry.name, type: type.value, value: value.value }];
        if (!draft.env.length && !hadEnv) delete draft.env;
      };
      value.addEventListener("input", update);
      type.addEventListener("change", update);
      return h("div", { class: "form-row env-override" }, h("label", {}, entry.name), type, value);
    });
    return h("fieldset", { class: "form-object subflow-env", "data-path": "/env" }, h("legend", {}, "Properties"), rows);
  }

  /** The instance tray's "Edit subflow template" button (null for other nodes). */
  templateButton(node, closeTray) {
    const id = instanceOf(node);
    if (this.model.get(id)?.type !== "subflow") return null;
    return h("button", {
      type: "button", class: "secondary", "data-action": "edit-template",
      onclick: () => {
        closeTray();
        this.show(id);
      },
    }, "Edit subflow template");
  }
}
