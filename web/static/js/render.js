/**
 * Drawing nodes and groups as SVG and keeping them drawn: a KeyedLayer holds one
 * element per node, wire or group across redraws and patches it (position, selection,
 * status) instead of drawing it again, so a redraw touches only what changed. Hooks for
 * tests and CSS: data-node-id on the node, data-port="in" / "out-<n>" on ports,
 * data-button on the inject/debug buttons, data-group-id on groups.
 */
import { s } from "./dom.js";
import { PORT_SIZE, nodeSize, outputY } from "./layout.js";
import { describeProblem } from "./validate.js";

const STATUS_COLOURS = { red: "#c00", green: "#5a8", yellow: "#f9df31", blue: "#53a3f3", grey: "#d3d3d3" };

/**
 * One SVG element per key inside `root`, kept across redraws. `kind` says how items
 * of one kind (nodes, wires, groups) are shown: `draw(item)` builds an element,
 * `look(item)` is a string naming everything draw shows that `update(el, item, prev)`
 * does not patch, so an element is built again only when its look changed.
 */
export class KeyedLayer {
  constructor(root, kind) {
    this.root = root;
    this.kind = kind;
    this.entries = new Map(); // key -> {el, look, item}
  }

  /** Show exactly `items` (Map key -> item); new elements go on top, in the Map's order. */
  sync(items) {
    for (const [key, entry] of this.entries) {
      if (items.has(key)) continue;
      entry.el.remove();
      this.entries.delete(key);
    }
    for (const [key, item] of items) {
      const look = this.kind.look(item);
      const entry = this.entries.get(key);
      if (!entry) {
        const el = this.kind.draw(item);
        this.root.append(el);
        this.entries.set(key, { el, look, item });
      } else if (entry.look !== look) {
        const el = this.kind.draw(item);
        entry.el.replaceWith(el);
        Object.assign(entry, { el, look, item });
      } else {
        this.patch(key, item);
      }
    }
  }

  /** Show `item` under `key`, whose element is there and whose look is unchanged. */
  patch(key, item) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.kind.update(entry.el, item, entry.item);
    entry.item = item;
  }

  /** The item shown under `key`, or undefined. */
  item(key) {
    return this.entries.get(key)?.item;
  }

  /** The element shown under `key`, or undefined. */
  element(key) {
    return this.entries.get(key)?.el;
  }

  /** [key, item] for every element shown. */
  *items() {
    for (const [key, entry] of this.entries) yield [key, entry.item];
  }
}

/** Geometry of a node on the canvas: centre x, y, width, height, port counts. */
export function geometry(model, node) {
  const outputs = model.outputCount(node);
  const { width, height } = nodeSize(model.label(node), outputs);
  return { x: node.x, y: node.y, width, height, outputs, inputs: model.inputCount(node) };
}

function iconImage(icon, height) {
  const image = s("image", {
    href: `/static/icons/${encodeURIComponent(icon || "arrow-right")}.svg`,
    x: 5, y: height / 2 - 10, width: 20, height: 20, class: "node-icon",
  });
  image.addEventListener("error", () => image.setAttribute("href", "/static/icons/arrow-right.svg"), { once: true });
  return image;
}

// Node-RED nodes put i18n keys such as "node-red:common.status.connected" in their
// status; flowrt has no message catalogs, so show the key's last word, readably.
const I18N_KEY = /^[@a-zA-Z][\w-]*:[\w.-]+$/;

export function statusText(text) {
  const value = String(text ?? "");
  if (!I18N_KEY.test(value)) return value;
  return value.slice(value.lastIndexOf(".") + 1).replace(/-/g, " ");
}

function statusBadge(status, height) {
  if (!status || (!status.text && !status.fill)) return null;
  const colour = STATUS_COLOURS[status.fill] || STATUS_COLOURS.grey;
  const shape = status.fill
    ? s("rect", {
      x: 0, y: 0, width: 9, height: 9, rx: 2,
      fill: status.shape === "ring" ? "#fff" : colour, stroke: colour, "stroke-width": 3,
      class: `status-shape ${status.shape === "ring" ? "ring" : "dot"}`,
    })
    : null;
  return s("g", { class: "node-status", transform: `translate(3, ${height + 4})`, "data-status-fill": status.fill || "" },
    shape,
    s("text", { x: status.fill ? 14 : 0, y: 9, class: "status-text" }, statusText(status.text)));
}

function changedMarker(width) {
  return s("circle", { class: "changed-marker", "data-marker": "changed", cx: width - 8, cy: -2, r: 4 });
}

function nodeTransform(geo) {
  return `translate(${geo.x - geo.width / 2}, ${geo.y - geo.height / 2})`;
}

/**
 * The SVG group for `node`. `state` = {selected, changed, problems, status, deployed}
 * where `deployed` says whether the node runs as shown (buttons work only then).
 */
export function drawNode(model, node, geo, state) {
  const type = model.type(node);
  const { width, height } = geo;
  const classes = ["node"];
  if (state.selected) classes.push("selected");
  if (node.d) classes.push("disabled");
  if (!type) classes.push("unknown");
  if (state.problems.length) classes.push("invalid");
  const group = s("g", {
    class: classes.join(" "), "data-node-id": node.id, "data-type": node.type, transform: nodeTransform(geo),
  });
  group.append(
    s("rect", { class: "node-body", width, height, rx: 5, fill: type?.color || "#fff" }),
    s("path", { class: "node-icon-shade", d: `M 5 0 H 30 V ${height} H 5 A 5 5 0 0 1 0 ${height - 5} V 5 A 5 5 0 0 1 5 0 Z` }),
    iconImage(type?.icon, height),
    s("text", { class: "node-label", x: 38, y: height / 2, dy: "0.35em" }, model.label(node)),
  );
  if (geo.inputs > 0) {
    group.append(s("rect", {
      class: "port port-in", "data-port": "in", x: -PORT_SIZE / 2, y: height / 2 - PORT_SIZE / 2,
      width: PORT_SIZE, height: PORT_SIZE, rx: 3,
    }));
  }
  for (let i = 0; i < geo.outputs; i += 1) {
    group.append(s("rect", {
      class: "port port-out", "data-port": `out-${i}`, x: width - PORT_SIZE / 2,
      y: outputY(height, i, geo.outputs) - PORT_SIZE / 2, width: PORT_SIZE, height: PORT_SIZE, rx: 3,
    }));
  }
  const button = type?.editor?.button;
  if (button === "inject") {
    group.append(s("rect", {
      class: `node-button inject-button${state.deployed ? "" : " inactive"}`, "data-button": "inject",
      x: -25, y: 2, width: 20, height: height - 4, rx: 4,
    }, s("title", {}, "Inject")));
  } else if (button === "debug") {
    const active = node.active !== false && node.active !== "false";
    group.append(s("rect", {
      class: `node-button debug-button${active ? " active" : ""}${state.deployed ? "" : " inactive"}`,
      "data-button": "debug", x: width + 5, y: 2, width: 20, height: height - 4, rx: 4,
    }, s("title", {}, active ? "Disable debug output" : "Enable debug output")));
  }
  if (state.changed) group.append(changedMarker(width));
  if (state.problems.length) {
    group.append(s("path", {
      class: "invalid-marker", "data-marker": "invalid", d: `M ${width - 24} -9 l 6 -10 l 6 10 z`,
    }, s("title", {}, state.problems.map((p) => describeProblem(p, type)).join("\n"))));
  }
  const badge = statusBadge(state.status, height);
  if (badge) group.append(badge);
  return group;
}

/**
 * How flow nodes are kept drawn in a KeyedLayer. Items are {node, geo, state} as
 * drawNode takes them; moving, selecting, a new status, the changed marker and whether
 * the buttons work patch the element, anything else (label, ports, problems) draws it again.
 */
export function nodeKind(model) {
  return {
    look({ node, geo, state }) {
      const type = model.type(node);
      return JSON.stringify([
        node.type, model.label(node), geo.width, geo.height, geo.inputs, geo.outputs, Boolean(node.d),
        type?.color, type?.icon, type?.editor?.button, node.active, state.problems,
      ]);
    },
    draw: ({ node, geo, state }) => drawNode(model, node, geo, state),
    update(el, { geo, state }, prev) {
      if (geo.x !== prev.geo.x || geo.y !== prev.geo.y) el.setAttribute("transform", nodeTransform(geo));
      if (state.selected !== prev.state.selected) el.classList.toggle("selected", state.selected);
      if (state.changed !== prev.state.changed) {
        if (state.changed) el.append(changedMarker(geo.width));
        else el.querySelector(":scope > [data-marker=changed]")?.remove();
      }
      if (state.deployed !== prev.state.deployed) {
        el.querySelector(":scope > .node-button")?.classList.toggle("inactive", !state.deployed);
      }
      if (state.status !== prev.state.status) {
        el.querySelector(":scope > .node-status")?.remove();
        const badge = statusBadge(state.status, geo.height);
        if (badge) el.append(badge);
      }
    },
  };
}

/**
 * How group boxes are kept drawn in a KeyedLayer: items are {group, selected}; moving,
 * resizing and selecting patch the element, a new name or style draws it again.
 */
export const groupKind = {
  look: ({ group }) => JSON.stringify([group.style, group.name]),
  draw: ({ group, selected }) => drawGroup(group, selected),
  update(el, { group, selected }, prev) {
    // The group object is patched in place while dragged: set its box, do not compare.
    el.setAttribute("transform", `translate(${group.x}, ${group.y})`);
    const box = el.querySelector(".group-box");
    box.setAttribute("width", group.w);
    box.setAttribute("height", group.h);
    if (selected !== prev.selected) el.classList.toggle("selected", selected);
  },
};

/** The SVG for a group box (drawn behind its nodes); `selected` outlines it. */
export function drawGroup(group, selected = false) {
  const style = group.style || {};
  return s("g", {
    class: `group${selected ? " selected" : ""}`, "data-group-id": group.id, transform: `translate(${group.x}, ${group.y})`,
  },
  s("rect", {
    width: group.w, height: group.h, rx: 4, class: "group-box",
    stroke: style.stroke || "#999", fill: style.fill || "none", "fill-opacity": style["fill-opacity"] ?? 0.1,
  }),
  style.label !== false && group.name
    ? s("text", { x: 8, y: 16, class: "group-label", fill: style.color || "#333" }, String(group.name))
    : null);
}

/** Width and height of a subflow's input / output port node (Node-RED's). */
export const SUBFLOW_PORT_SIZE = 40;

/**
 * A port node of the subflow being edited: `kind` "in" (its output connector feeds the
 * subflow's nodes) or "out" (nodes wire into its input connector), `index` its number,
 * `port` the definition's {x, y} entry (the centre). Hooks: data-subflow-port="in-0" /
 * "out-<n>", and data-port on the connector as on nodes.
 */
export function drawSubflowPort(kind, index, port, selected = false) {
  const size = SUBFLOW_PORT_SIZE;
  const half = size / 2;
  const connector = kind === "in"
    ? s("rect", { class: "port port-out", "data-port": "out-0", x: size - PORT_SIZE / 2, y: half - PORT_SIZE / 2, width: PORT_SIZE, height: PORT_SIZE, rx: 3 })
    : s("rect", { class: "port port-in", "data-port": "in", x: -PORT_SIZE / 2, y: half - PORT_SIZE / 2, width: PORT_SIZE, height: PORT_SIZE, rx: 3 });
  const label = kind === "in"
    ? s("text", { class: "subflow-port-label", x: half, y: half, dy: "0.35em" }, "input")
    : [s("text", { class: "subflow-port-label", x: half, y: 12 }, "output"),
      s("text", { class: "subflow-port-number", x: half, y: 31 }, String(index + 1))];
  return s("g", {
    class: `subflow-port${selected ? " selected" : ""}`, "data-subflow-port": `${kind}-${index}`,
    transform: `translate(${port.x - half}, ${port.y - half})`,
  }, s("rect", { class: "subflow-port-body", width: size, height: size, rx: 8 }), label, connector);
}
