/**
 * The workspace model: the flat Node-RED node list (tabs, groups, config nodes and
 * flow nodes exactly as they are saved), the node types, the last deployed
 * version (for changed markers, diffs and merges) and pending credentials.
 * Editor-only state (selection, status badges) lives elsewhere, so every node
 * object here is what gets exported and deployed.
 */
import { Emitter } from "./dom.js";
import { validateNode } from "./validate.js";

/** A new Node-RED style id: 16 lowercase hex characters. */
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const STRUCTURAL = new Set(["tab", "subflow", "group", "junction"]);
const RANK = { tab: 0, subflow: 1, group: 2, junction: 3 };

/** The colour and icon of a subflow whose definition names none (Node-RED's). */
const SUBFLOW_COLOUR = "#DDAA99";
const SUBFLOW_ICON = "subflow";
const INSTANCE_PREFIX = "subflow:";

/** The definition id a subflow instance's type names ("subflow:<id>"), or null. */
export function instanceOf(node) {
  return node?.type?.startsWith(INSTANCE_PREFIX) ? node.type.slice(INSTANCE_PREFIX.length) : null;
}

/**
 * The node type descriptor of a subflow's instances, shaped as GET /node-types' entries
 * so the palette, canvas, forms and validation treat instances like any node: its name,
 * colour, icon, port counts (from the definition's `in` / `out`) and a Name property.
 */
function subflowType(definition) {
  return {
    type: `${INSTANCE_PREFIX}${definition.id}`,
    category: "subflows",
    paletteLabel: definition.name || definition.id,
    color: definition.color || SUBFLOW_COLOUR,
    icon: definition.icon || SUBFLOW_ICON,
    inputs: (definition.in || []).length,
    outputs: (definition.out || []).length,
    help: definition.info || "",
    subflow: definition.id,
    schema: { type: "object", properties: { name: { type: "string", title: "Name", default: "" } } },
  };
}

/** True for config nodes: no x/y (Node-RED's own rule) and not a tab or subflow. */
export function isConfigNode(node) {
  return !STRUCTURAL.has(node.type) && !("x" in node && "y" in node);
}

/** Node-RED's export order: tabs, subflows, groups, junctions, config nodes, then the rest. */
export function exportOrder(nodes) {
  const rank = (n) => RANK[n.type] ?? (isConfigNode(n) ? 4 : 5);
  return nodes.map((n, i) => [rank(n), i, n]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((e) => e[2]);
}

/** Every node id a node points at through `wires`, `links`, `g` or config references. */
export function referencedIds(node) {
  const ids = new Set();
  for (const [key, value] of Object.entries(node)) {
    if (key === "id" || key === "z") continue;
    if (typeof value === "string") ids.add(value);
    else if (key === "wires" && Array.isArray(value)) value.flat().forEach((id) => ids.add(id));
    else if (key === "links" && Array.isArray(value)) value.forEach((id) => ids.add(id));
  }
  return ids;
}

export class Model extends Emitter {
  constructor() {
    super();
    this.types = new Map();
    this.pluginErrors = [];
    this.nodes = new Map();
    this.baseline = new Map();
    this.rev = null;
    this.activeTab = null;
    this.creds = new Map();
    this.serverErrors = new Map();
    this.readOnly = false;
  }

  /** Install the node type list from GET /node-types (entries with "error" are plugin failures). */
  setTypes(list) {
    this.types.clear();
    this.pluginErrors = list.filter((t) => t.error);
    for (const type of list) if (!type.error && type.type) this.types.set(type.type, type);
  }

  /** Replace the workspace with the server's flows and remember them as deployed. */
  load(flows, rev) {
    this.nodes.clear();
    for (const node of flows) this.nodes.set(node.id, structuredClone(node));
    if (!this.tabs().length) {
      const tab = this.makeTab();
      this.nodes.set(tab.id, tab);
    }
    this.markDeployed(rev);
    this.activeTab = this.tabs()[0].id;
    this.emit("change");
  }

  /** Record `nodes` (default: the current ones) as the deployed version `rev`. */
  markDeployed(rev, nodes = [...this.nodes.values()]) {
    this.rev = rev;
    this.baseline = new Map(nodes.map((n) => [n.id, JSON.stringify(n)]));
    this.creds.clear();
    this.serverErrors.clear();
  }

  makeTab(label) {
    const used = new Set(this.tabs().map((t) => t.label));
    let n = this.tabs().length + 1;
    while (!label && used.has(`Flow ${n}`)) n += 1;
    return { id: newId(), type: "tab", label: label || `Flow ${n}`, disabled: false, info: "", env: [] };
  }

  get(id) {
    return this.nodes.get(id);
  }

  /** The type descriptor of `node`: a node type, or for a subflow instance its definition's. */
  type(node) {
    const definition = this.nodes.get(instanceOf(node));
    if (definition?.type === "subflow") return subflowType(definition);
    return this.types.get(node.type) || null;
  }

  tabs() {
    return [...this.nodes.values()].filter((n) => n.type === "tab");
  }

  /** The subflow definitions. */
  subflows() {
    return [...this.nodes.values()].filter((n) => n.type === "subflow");
  }

  /**
   * The types a person can place: the subflows' instance types first, then the node
   * types, config types left out (they are made from a node's form).
   */
  paletteTypes() {
    const subflowTypes = this.subflows().map((def) => subflowType(def));
    return [...subflowTypes, ...this.types.values()].filter((type) => type.category !== "config");
  }

  /** The instances of subflow `id` (on any tab or subflow). */
  instances(id) {
    return [...this.nodes.values()].filter((n) => instanceOf(n) === id);
  }

  /** Flow nodes (not groups) of tab `z`. */
  nodesOn(z) {
    return [...this.nodes.values()].filter((n) => n.z === z && !isConfigNode(n) && !STRUCTURAL.has(n.type));
  }

  groupsOn(z) {
    return [...this.nodes.values()].filter((n) => n.z === z && n.type === "group");
  }

  configNodes(type) {
    return [...this.nodes.values()].filter((n) => n.type === type && isConfigNode(n));
  }

  /** Every config node (any type), in export order. */
  allConfigNodes() {
    return this.all().filter((n) => isConfigNode(n) && this.types.get(n.type)?.category === "config"
      || (isConfigNode(n) && !this.types.has(n.type)));
  }

  /** The nodes that refer to config node `id` through a config-node property of their schema. */
  configUsers(id) {
    const users = [];
    for (const node of this.nodes.values()) {
      if (node.id === id) continue;
      const props = this.type(node)?.schema?.properties || {};
      if (Object.entries(props).some(([key, prop]) => prop?.["x-node-type"] && node[key] === id)) users.push(node);
    }
    return users;
  }

  /** All nodes in Node-RED's export order. */
  all() {
    return exportOrder([...this.nodes.values()]);
  }

  /** The label shown on the canvas: name, else the type's label key, else its palette label. */
  label(node) {
    if (node.type === "tab") return node.label || node.id;
    if (node.type === "subflow") return node.name || node.id;
    const type = this.type(node);
    const key = type?.editor?.label;
    return String(node.name || (key && node[key]) || type?.paletteLabel || node.type);
  }

  /** Number of output ports, following the `outputsFrom` editor hint or `outputs`. */
  outputCount(node) {
    const type = this.type(node);
    if (!type) return Array.isArray(node.wires) ? node.wires.length : 0;
    const from = type.editor?.outputsFrom;
    if (from && from in node) {
      const value = node[from];
      if (Array.isArray(value)) return value.length;
      const count = Number(value);
      if (Number.isFinite(count)) return count;
    }
    if (typeof node.outputs === "number") return node.outputs;
    return type.outputs;
  }

  inputCount(node) {
    const type = this.type(node);
    return type ? type.inputs : 1;
  }

  /** A new node of `typeName` with the schema's defaults, on the active tab at x, y. */
  createNode(typeName, x, y) {
    const type = this.type({ type: typeName });
    const node = { id: newId(), type: typeName };
    if (x !== undefined) node.z = this.activeTab;
    for (const [key, prop] of Object.entries(type.schema?.properties || {})) {
      if (prop && "default" in prop) node[key] = structuredClone(prop.default);
    }
    if (x !== undefined) {
      node.x = Math.round(x);
      node.y = Math.round(y);
      node.wires = Array.from({ length: this.outputCount(node) }, () => []);
    }
    return node;
  }

  /** Add or replace nodes (one "change" event). */
  put(...nodes) {
    for (const node of nodes) this.nodes.set(node.id, node);
    this.emit("change");
  }

  /**
   * Delete nodes and everything that pointed at them (wires, links, group membership,
   * a subflow's port wires). A tab takes its nodes along; a subflow its nodes and instances.
   */
  remove(ids) {
    const gone = new Set(ids);
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (node?.type === "tab" || node?.type === "subflow") this.nodesOnAnyKind(id).forEach((n) => gone.add(n.id));
      if (node?.type === "subflow") this.instances(id).forEach((n) => gone.add(n.id));
    }
    for (const id of gone) {
      this.nodes.delete(id);
      this.serverErrors.delete(id);
    }
    for (const node of this.nodes.values()) {
      if (Array.isArray(node.wires)) node.wires = node.wires.map((port) => port.filter((t) => !gone.has(t)));
      if (Array.isArray(node.links)) node.links = node.links.filter((t) => !gone.has(t));
      if (node.type === "group") node.nodes = (node.nodes || []).filter((t) => !gone.has(t));
      if (gone.has(node.g)) delete node.g;
      if (node.type === "subflow") {
        for (const port of [...(node.in || []), ...(node.out || []), node.status].filter(Boolean)) {
          port.wires = (port.wires || []).filter((w) => !gone.has(w.id));
        }
      }
    }
    if (!this.nodes.has(this.activeTab)) {
      if (!this.tabs().length) this.put(this.makeTab());
      this.activeTab = this.tabs()[0].id;
    }
    this.emit("change");
  }

  nodesOnAnyKind(z) {
    return [...this.nodes.values()].filter((n) => n.z === z);
  }

  /** Ids whose saved form differs from the deployed one (including new nodes). */
  changedIds() {
    const changed = new Set();
    for (const [id, node] of this.nodes) if (this.baseline.get(id) !== JSON.stringify(node)) changed.add(id);
    for (const id of this.creds.keys()) changed.add(id);
    return changed;
  }

  isDirty() {
    if (this.changedIds().size) return true;
    for (const id of this.baseline.keys()) if (!this.nodes.has(id)) return true;
    return false;
  }

  /** Problems with a node: its schema, references, and the server's last verdict. */
  problems(node) {
    const structural = STRUCTURAL.has(node.type);
    const local = structural ? [] : validateNode(node, this.type(node), (id) => this.nodes.get(id));
    return local.concat(this.serverErrors.get(node.id) || []);
  }

  /** The workspace as a restorable string (undo history). */
  snapshot() {
    return JSON.stringify({ nodes: [...this.nodes.values()], creds: [...this.creds], tab: this.activeTab });
  }

  restore(snapshot) {
    const state = JSON.parse(snapshot);
    this.nodes = new Map(state.nodes.map((n) => [n.id, n]));
    this.creds = new Map(state.creds);
    this.activeTab = this.nodes.has(state.tab) ? state.tab : this.tabs()[0]?.id;
    this.emit("change");
  }
}
