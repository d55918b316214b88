/**
 * Copying nodes under new ids (paste after copy, "import copy"): every reference
 * follows — wires, link targets, group membership, `z`, config-node properties, a
 * subflow instance's type and a subflow's port wires.
 */
import { instanceOf, newId } from "./model.js";

/** Rewrite `nodes` (clones) through `mapping` (old id → new id). */
export function remap(nodes, mapping) {
  const map = (id) => mapping.get(id) ?? id;
  return nodes.map((original) => {
    const node = structuredClone(original);
    for (const [key, value] of Object.entries(node)) {
      if (key === "type") continue;
      if (typeof value === "string" && mapping.has(value)) node[key] = map(value);
    }
    if (Array.isArray(node.wires)) node.wires = node.wires.map((port) => port.map(map));
    if (Array.isArray(node.links)) node.links = node.links.map(map);
    if (node.type === "group" && Array.isArray(node.nodes)) node.nodes = node.nodes.map(map);
    if (mapping.has(instanceOf(node))) node.type = `subflow:${map(instanceOf(node))}`;
    if (node.type === "subflow") {
      for (const port of [...(node.in || []), ...(node.out || []), node.status].filter(Boolean)) {
        port.wires = (port.wires || []).map((wire) => ({ ...wire, id: map(wire.id) }));
      }
    }
    return node;
  });
}

/** A mapping giving each of `ids` a fresh id. */
export function freshIds(ids) {
  return new Map([...ids].map((id) => [id, newId()]));
}

/** Drop references to ids outside `keep` (wires and links leaving a copied selection). */
export function pruneOutside(nodes, keep) {
  for (const node of nodes) {
    if (Array.isArray(node.wires)) node.wires = node.wires.map((port) => port.filter((t) => keep.has(t)));
    if (Array.isArray(node.links)) node.links = node.links.filter((t) => keep.has(t));
    if (node.g && !keep.has(node.g)) delete node.g;
  }
  return nodes;
}
