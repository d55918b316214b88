/**
 * Flow diffs: what changed between two versions of the flows (added, removed and
 * changed nodes, with the changed keys, and added / removed wires). Used by the
 * "Review changes" dialog before deploy, for the default deploy message, to show the
 * server's semantic diff of two saved versions (the history sidebar), and for the
 * node-level three-way merge of local edits onto newer flows (a 409 on deploy).
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

const short = (value) => {
  const text = value === undefined ? "(none)" : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** A list section of a diff, or null when it has no `items`. */
function section(kind, title, items) {
  return items.length
    ? h("section", { class: `diff-section diff-${kind}`, "data-diff": kind },
      h("h3", {}, `${title} (${items.length})`), h("ul", {}, items))
    : null;
}

/** A node's row head: its type, then its name. */
const nodeHead = (type, name) => [h("span", { class: "diff-type" }, type), " ", name];

/** One property's change, "key: before → after". */
const keyChange = (key, before, after) => h("li", { "data-diff-key": key },
  h("code", {}, key), `: ${short(before)} → ${short(after)}`);

/** An output port in words: "output 2", or "link" for link nodes' links. */
const portText = (port) => (port === "link" || port === "links" ? "link" : `output ${Number(port) + 1}`);

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
  const nodeItem = (node) => h("li", { "data-diff-node": node.id }, nodeHead(node.type, label(node)));
  return h("div", { class: "diff" },
    isEmpty(diff) && !diff.wiresAdded.length && !diff.wiresRemoved.length ? h("p", {}, "No changes to deploy.") : null,
    section("added", "Added nodes", diff.added.map(nodeItem)),
    section("removed", "Removed nodes", diff.removed.map(nodeItem)),
    section("changed", "Changed nodes", diff.changed.map(({ node, previous, keys, moved }) => h("li", { "data-diff-node": node.id },
      nodeHead(node.type, label(node)), moved ? " (moved / rewired)" : "",
      h("ul", { class: "diff-keys" }, keys.filter((k) => !["x", "y", "wires"].includes(k))
        .map((k) => keyChange(k, previous[k], node[k])))))),
    section("wires-added", "Added wires", diff.wiresAdded.map((w) => h("li", { "data-diff-wire": w }, wireText(w)))),
    section("wires-removed", "Removed wires", diff.wiresRemoved.map((w) => h("li", { "data-diff-wire": w }, wireText(w)))));
}

/**
 * The server's semantic diff of two saved versions (GET /history/diff, docs/projects.md:
 * added, removed, changed with each property before / after, rewired with the wires
 * added and removed, moved only) as DOM. `nameOf(id)` names a node (a wire's target, a
 * tab) from either version; an entry names itself by its own name and type.
 */
export function renderChanges(changes, nameOf) {
  const where = (entry) => (entry.z ? ` on ${nameOf(entry.z)}` : "");
  const item = (entry, ...details) => h("li", { "data-diff-node": entry.id },
    nodeHead(entry.type, entry.name || nameOf(entry.id)), h("span", { class: "hint" }, where(entry)), details);
  const position = (p) => `(${Math.round(p.x ?? 0)}, ${Math.round(p.y ?? 0)})`;
  const wireItem = (sign, [port, target]) => h("li", { "data-diff-wire": `${port}:${target}` },
    `${sign} ${portText(port)} → ${nameOf(target)}`);
  const kinds = ["added", "removed", "changed", "rewired", "moved"];
  return h("div", { class: "diff" },
    kinds.every((k) => !changes[k]?.length) ? h("p", {}, "The two versions have the same flows.") : null,
    section("added", "Added nodes", changes.added.map((e) => item(e))),
    section("removed", "Removed nodes", changes.removed.map((e) => item(e))),
    section("changed", "Changed properties", changes.changed.map((e) => item(e,
      h("ul", { class: "diff-keys" }, Object.entries(e.properties).map(([k, v]) => keyChange(k, v.before, v.after)))))),
    section("rewired", "Rewired nodes", changes.rewired.map((e) => item(e,
      h("ul", { class: "diff-keys" }, e.added.map((w) => wireItem("+ wire from", w)),
        e.removed.map((w) => wireItem("− wire from", w)))))),
    section("moved", "Moved only", changes.moved.map((e) => item(e,
      h("span", { class: "diff-moved" }, `: ${position(e.from)} → ${position(e.to)}`)))));
}

/**
 * A one-line message for a deploy nobody described: what the local `diff` does, by
 * node names when it is a node or two ("Changed inject "tick"; added 2 nodes").
 */
export function summarize(diff, label) {
  const moved = diff.changed.filter((c) => c.moved);
  const edited = diff.changed.filter((c) => !c.moved);
  const some = (verb, nodes) => {
    if (!nodes.length) return null;
    if (nodes.length > 2) return `${verb} ${nodes.length} nodes`;
    return `${verb} ${nodes.map((n) => `${n.type} "${label(n)}"`).join(" and ")}`;
  };
  const parts = [some("changed", edited.map((c) => c.node)), some("added", diff.added),
    some("removed", diff.removed), some("moved or rewired", moved.map((c) => c.node))].filter(Boolean);
  const text = parts.join("; ") || "Deploy";
  return text[0].toUpperCase() + text.slice(1);
}

/** JSON with object keys sorted, so that two equal values compare equal whatever their key order. */
function canonical(value) {
  return JSON.stringify(value, (key, v) => (v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

const same = (a, b) => canonical(a) === canonical(b);

/** The three-way merge of a set of ids (one output's wires, a link node's links):
 * what either side added, less what either side removed. */
function mergeTargets(base = [], mine = [], theirs = []) {
  const before = new Set(base);
  const ours = new Set(mine);
  const their = new Set(theirs);
  return [...mine.filter((id) => !before.has(id) || their.has(id)),
    ...theirs.filter((id) => !before.has(id) && !ours.has(id))];
}

/** Keys merged as one property: a node's position, a group's size. */
const FIELDS = [["x", "y"], ["w", "h"]];

/** The fields of nodes `a` and `b`: the grouped keys that either has, then each other key. */
function fieldsOf(...nodes) {
  const keys = [...new Set(nodes.flatMap((n) => Object.keys(n)))];
  const grouped = FIELDS.filter((field) => field.some((k) => keys.includes(k)));
  return [...grouped, ...keys.filter((k) => !FIELDS.flat().includes(k)).map((k) => [k])];
}

/** A field's value in `node`: the key's value, or {x, y} for a group of keys. */
function fieldValue(node, keys) {
  if (keys.length === 1) return node?.[keys[0]];
  const value = Object.fromEntries(keys.filter((k) => node && k in node).map((k) => [k, node[k]]));
  return Object.keys(value).length ? value : undefined;
}

/** Set a field of `node` to `value` (undefined: remove it), its keys keeping their place. */
function setField(node, keys, value) {
  const values = keys.length === 1 ? { [keys[0]]: value } : value || {};
  for (const k of keys) {
    if (values[k] === undefined) delete node[k];
    else node[k] = values[k];
  }
}

/** Merge one node changed on both sides, property by property; wires and links merge as sets. */
function mergeNode(base, mine, theirs) {
  const node = {};
  const fields = [];
  for (const keys of fieldsOf(mine, theirs)) {
    const [b, m, t] = [base, mine, theirs].map((n) => fieldValue(n, keys));
    let value;
    if (same(m, b)) value = t;
    else if (same(t, b) || same(m, t)) value = m;
    else if (keys[0] === "links" && [b ?? [], m ?? [], t ?? []].every(Array.isArray)) value = mergeTargets(b, m, t);
    else if (keys[0] === "wires" && Array.isArray(m) && Array.isArray(t) && m.length === t.length) {
      value = m.map((targets, port) => mergeTargets(b?.[port], targets, t[port]));
    } else {
      fields.push({ keys, base: b, mine: m, theirs: t, pick: null });
      value = m;
    }
    setField(node, keys, value);
  }
  // In the local node's key order, so the merged node reads (and saves) as the person's.
  const ordered = Object.fromEntries([...Object.keys(mine), ...Object.keys(node)].filter((k) => k in node).map((k) => [k, node[k]]));
  return { node: ordered, fields };
}

/**
 * The node-level three-way merge of the local flows `mine` and the server's newer
 * `theirs`, both changed from `base` (a Map id → node JSON, the version the editor
 * loaded). A node only one side changed takes that side's version; a node both changed
 * merges property by property, the wires output by output. Returns {nodes, conflicts}:
 * `nodes` in the server's order then the new local nodes, holding the local value where
 * a property conflicts; each conflict is {id, node, fields: [{keys, base, mine, theirs,
 * pick}]}, or {id, node, deleted: "mine" | "theirs", pick} when one side deleted a node
 * the other changed. Set each `pick` to "mine" or "theirs", then call resolveMerge.
 */
export function mergeThreeWay(base, mine, theirs) {
  const ours = new Map(mine.map((n) => [n.id, n]));
  const their = new Map(theirs.map((n) => [n.id, n]));
  const merged = new Map();
  const conflicts = [];
  for (const id of new Set([...their.keys(), ...ours.keys()])) {
    const b = base.has(id) ? JSON.parse(base.get(id)) : undefined;
    const m = ours.get(id);
    const t = their.get(id);
    if (same(m, b)) {
      if (t) merged.set(id, t);
    } else if (same(t, b) || same(m, t)) {
      if (m) merged.set(id, m);
    } else if (!m || !t) {
      merged.set(id, m || t);
      conflicts.push({ id, node: m || t, deleted: m ? "theirs" : "mine", pick: null });
    } else {
      const { node, fields } = mergeNode(b || {}, m, t);
      merged.set(id, node);
      if (fields.length) conflicts.push({ id, node, fields });
    }
  }
  return { nodes: [...merged.values()], conflicts };
}

/** The merged node list once every conflict of mergeThreeWay has its `pick`. */
export function resolveMerge(nodes, conflicts) {
  const gone = new Set();
  for (const conflict of conflicts) {
    if (conflict.deleted) {
      if (conflict.pick === conflict.deleted) gone.add(conflict.id);
      continue;
    }
    for (const field of conflict.fields) setField(conflict.node, field.keys, field[field.pick]);
  }
  return nodes.filter((n) => !gone.has(n.id));
}
