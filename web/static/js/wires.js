/**
 * Wires: drawing them (data-wire="<source>:<port>:<target>") and editing the
 * `wires` arrays, splicing a node into a wire included. Link out → link in pairs on
 * the same tab get dashed virtual wires (data-link="<source>:<target>").
 */
import { s } from "./dom.js";
import { outputY, wirePath } from "./layout.js";

/** Canvas point of output port `index` of a node with geometry `geo`. */
export function outputPoint(geo, index) {
  return { x: geo.x + geo.width / 2, y: geo.y - geo.height / 2 + outputY(geo.height, index, geo.outputs) };
}

/** Canvas point of a node's input port. */
export function inputPoint(geo) {
  return { x: geo.x - geo.width / 2, y: geo.y };
}

/** A wire key as used in data-wire. */
export const wireKey = (source, port, target) => `${source}:${port}:${target}`;

/** The SVG of one wire: a wide invisible hit path under the drawn line. */
export function wireElement(key, d, className) {
  return s("g", { class: className, "data-wire": key },
    s("path", { class: "wire-hit", d }),
    s("path", { class: "wire-line", d }));
}

/**
 * Every wire between nodes present in `geos` (Map id -> geometry), as a Map key -> item
 * for a KeyedLayer of `wireKind`: {link, source, port, target, d, selected}. Link out
 * -> link in pairs are keyed "link:<source>:<target>".
 */
export function wireItems(model, geos, selectedWire) {
  const items = new Map();
  for (const [id, geo] of geos) {
    const node = model.get(id);
    (node.wires || []).forEach((targets, port) => {
      if (port >= geo.outputs) return;
      for (const target of targets) {
        if (!geos.has(target)) continue;
        const key = wireKey(id, port, target);
        const item = { link: false, source: id, port, target, selected: key === selectedWire };
        items.set(key, { ...item, d: routeWire(item, geos) });
      }
    });
    if (node.type === "link out" && Array.isArray(node.links)) {
      for (const target of node.links) {
        if (!geos.has(target)) continue;
        const item = { link: true, source: id, port: 0, target, selected: false };
        items.set(`link:${id}:${target}`, { ...item, d: routeWire(item, geos) });
      }
    }
  }
  return items;
}

/** The SVG path of wire item `item` between its nodes' geometries in `geos`. */
export function routeWire(item, geos) {
  const geo = geos.get(item.source);
  const from = item.link ? { x: geo.x + geo.width / 2, y: geo.y } : outputPoint(geo, item.port);
  const to = inputPoint(geos.get(item.target));
  return wirePath(from.x, from.y, to.x, to.y);
}

/** How wires are kept drawn in a KeyedLayer: moving an end or selecting patches the element. */
export const wireKind = {
  look: (item) => (item.link ? "link" : "wire"),
  draw(item) {
    if (item.link) {
      return s("path", { class: "link-wire", "data-link": `${item.source}:${item.target}`, d: item.d });
    }
    return wireElement(wireKey(item.source, item.port, item.target), item.d,
      item.selected ? "wire selected" : "wire");
  },
  update(el, item, prev) {
    if (item.d !== prev.d) {
      if (item.link) el.setAttribute("d", item.d);
      else for (const path of el.children) path.setAttribute("d", item.d);
    }
    if (item.selected !== prev.selected) el.classList.toggle("selected", item.selected);
  },
};

/** Add a wire; returns false when it already exists or is not allowed. */
export function connect(model, sourceId, port, targetId) {
  const source = model.get(sourceId);
  const target = model.get(targetId);
  if (!source || !target || sourceId === targetId || model.inputCount(target) < 1) return false;
  if (port >= model.outputCount(source)) return false;
  source.wires = source.wires || [];
  while (source.wires.length <= port) source.wires.push([]);
  if (source.wires[port].includes(targetId)) return false;
  source.wires[port].push(targetId);
  return true;
}

/** Remove the wire named by `key`. */
export function disconnect(model, key) {
  const [sourceId, port, targetId] = key.split(":");
  const source = model.get(sourceId);
  if (!source?.wires?.[port]) return;
  source.wires[port] = source.wires[port].filter((t) => t !== targetId);
}

/** Keep a node's `wires` length equal to its output count after an edit. */
export function fitWires(model, node) {
  if (!Array.isArray(node.wires)) return;
  const count = model.outputCount(node);
  node.wires = node.wires.slice(0, count);
  while (node.wires.length < count) node.wires.push([]);
}

/** Put node `nodeId` into wire `key`: source → node → target (the node's first output). */
export function splice(model, nodeId, key) {
  const [sourceId, port, targetId] = key.split(":");
  disconnect(model, key);
  connect(model, sourceId, Number(port), nodeId);
  connect(model, nodeId, 0, targetId);
}
