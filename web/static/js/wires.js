/**
 * Wires: drawing them (data-wire="<source>:<port>:<target>") and editing the
 * `wires` arrays. Link out → link in pairs on the same tab get dashed virtual wires.
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

/** SVG elements for every wire between nodes present in `geos` (Map id → geometry). */
export function drawWires(model, geos, selectedWire) {
  const out = [];
  for (const [id, geo] of geos) {
    const node = model.get(id);
    (node.wires || []).forEach((targets, port) => {
      if (port >= geo.outputs) return;
      const from = outputPoint(geo, port);
      for (const target of targets) {
        const targetGeo = geos.get(target);
        if (!targetGeo) continue;
        const to = inputPoint(targetGeo);
        const key = wireKey(id, port, target);
        out.push(wireElement(key, wirePath(from.x, from.y, to.x, to.y),
          key === selectedWire ? "wire selected" : "wire"));
      }
    });
    if (node.type === "link out" && Array.isArray(node.links)) {
      for (const target of node.links) {
        const targetGeo = geos.get(target);
        if (!targetGeo) continue;
        const from = { x: geo.x + geo.width / 2, y: geo.y };
        const to = inputPoint(targetGeo);
        out.push(s("path", {
          class: "link-wire", "data-link": `${id}:${target}`, d: wirePath(from.x, from.y, to.x, to.y),
        }));
      }
    }
  }
  return out;
}

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
