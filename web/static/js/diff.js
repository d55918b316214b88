/**
 * Flow diffs: what changed between two versions of the flows (added, removed and
 * changed nodes, with the changed keys, and added / removed wires). Used by the
 * "Review changes" dialog before deploy and to merge local edits onto newer flows.
 */
import { h } from "./dom.js";

const POSITION = new Set(["x", "y", "w", "h"]);

function wireSet(nodes) {
  const wires = new Set();
  for (const node of nodes) {
    (node.wires || []).forEach((targets, port) => targets.forEach((t) => wires.add(`${node.id}:${port}:${t}`)));
    if (node.type === "link out") (node.links || []).forEach((t) => wires.add(`${node.id}:link:${t}`));
  }
  return wires;
}

/** Compare node lists `before` and `after` (arrays of node objects). */
export function diffFlows(before, after) {
  const old = new Map(before.map((n) => [n.id, n]));
  const now = new Map(after.map((n) => [n.id, n]));
  const added = after.filter((n) => !old.has(n.id));
  const removed = before.filter((n) => !now.has(n.id));
  const changed = [];
  for (const node of after) {
    const previous = old.get(node.id);
    if (!previous || JSON.stringify(previous) === JSON.stringify(node)) continue;
    const keys = [...new Set([...Object.keys(previous), ...Object.keys(node)])]
      .filter((k) => JSON.stringify(previous[k]) !== JSON.stringify(node[k]));
    changed.push({
      node, previous, keys,
      moved: keys.length > 0 && keys.every((k) => POSITION.has(k) || k === "wires"),
    });
  }
  const oldWires = wireSet(before);
  const newWires = wireSet(after);
  return {
    added, removed, changed,
    wiresAdded: [...newWires].filter((w) => !oldWires.has(w)),
    wiresRemoved: [...oldWires].filter((w) => !newWires.has(w)),
  };
}

/** True when a diff has nothing in it. */
export function isEmpty(diff) {
  return !diff.added.length && !diff.removed.length && !diff.changed.length;
}

/**
 * Apply the local changes `diff` (baseline → local) onto `server` nodes: local
 * additions and edits win, local deletions are removed. Returns {nodes, conflicts}
 * where conflicts are ids the server had also changed.
 */
export function mergeOnto(server, diff, baseline) {
  const merged = new Map(server.map((n) => [n.id, n]));
  const conflicts = [];
  for (const { node } of diff.changed) {
    const base = baseline.get(node.id);
    const theirs = merged.get(node.id);
    if (theirs && base !== undefined && JSON.stringify(theirs) !== base) conflicts.push(node.id);
    merged.set(node.id, node);
  }
  for (const node of diff.added) merged.set(node.id, node);
  for (const node of diff.removed) merged.delete(node.id);
  return { nodes: [...merged.values()], conflicts };
}

const short = (value) => {
  const text = value === undefined ? "(none)" : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/**
 * The diff as DOM: sections for added, removed, changed nodes and wires.
 * `label(node)` names a node; `lookup(id)` finds nodes the diff does not hold.
 */
export function renderDiff(diff, label, lookup) {
  const all = new Map([...diff.added, ...diff.removed, ...diff.changed.map((c) => c.node)].map((n) => [n.id, n]));
  const nameOf = (id) => {
    const node = all.get(id) || lookup(id);
    return node ? label(node) : id;
  };
  const wireText = (w) => {
    const [src, port, dst] = w.split(":");
    return `${nameOf(src)} [${port === "link" ? "link" : Number(port) + 1}] → ${nameOf(dst)}`;
  };
  const section = (kind, title, items) => (items.length
    ? h("section", { class: `diff-section diff-${kind}`, "data-diff": kind },
      h("h3", {}, `${title} (${items.length})`), h("ul", {}, items))
    : null);
  const nodeItem = (node) => h("li", { "data-diff-node": node.id }, h("span", { class: "diff-type" }, node.type), " ", label(node));
  return h("div", { class: "diff" },
    isEmpty(diff) && !diff.wiresAdded.length && !diff.wiresRemoved.length ? h("p", {}, "No changes to deploy.") : null,
    section("added", "Added nodes", diff.added.map(nodeItem)),
    section("removed", "Removed nodes", diff.removed.map(nodeItem)),
    section("changed", "Changed nodes", diff.changed.map(({ node, previous, keys, moved }) => h("li", { "data-diff-node": node.id },
      h("span", { class: "diff-type" }, node.type), " ", label(node), moved ? " (moved / rewired)" : "",
      h("ul", { class: "diff-keys" }, keys.filter((k) => !["x", "y", "wires"].includes(k)).map((k) => h("li", {},
        h("code", {}, k), `: ${short(previous[k])} → ${short(node[k])}`)))))),
    section("wires-added", "Added wires", diff.wiresAdded.map((w) => h("li", { "data-diff-wire": w }, wireText(w)))),
    section("wires-removed", "Removed wires", diff.wiresRemoved.map((w) => h("li", { "data-diff-wire": w }, wireText(w)))));
}
