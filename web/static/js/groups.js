/**
 * Groups, as Node-RED 4 has them: group the selection (ctrl-shift-g), ungroup
 * (ctrl-shift-u), edit name and style (border, fill, label) in a dialog, select and
 * drag a group with its nodes by pressing its box, drop nodes into a group (alt-drag
 * takes them out), delete a selected group with its nodes. The group box follows its
 * nodes: when they move, it is recomputed around them with Node-RED's margin, as they
 * go while they are dragged (the canvas' follow hook) and on a model "change". Saved as
 * Node-RED saves it: {type: "group", z, style, nodes, x, y, w, h}, members' `g`.
 */
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { textWidth } from "./layout.js";
import { newId } from "./model.js";
import { notify } from "./notify.js";
import { geometry } from "./render.js";

/** A new group's style: Node-RED 4's defaults, as its export writes them. */
export const GROUP_STYLE = Object.freeze({
  stroke: "#999999", "stroke-opacity": "1", fill: "none", "fill-opacity": "1",
  label: true, "label-position": "nw", color: "#a4a4a4",
});
const MARGIN = 26; // Node-RED's room around the nodes of a group
const BUTTON = 20; // room for an inject / debug button beside a node
const EMPTY = 40;

/** Put `node` in group `id`, with `g` right after `z` where Node-RED's export has it. */
export function setGroup(node, id) {
  const entries = Object.entries(node).filter(([key]) => key !== "g");
  entries.splice(entries.findIndex(([key]) => key === "z") + 1, 0, ["g", id]);
  for (const key of Object.keys(node)) delete node[key];
  Object.assign(node, Object.fromEntries(entries));
}

export class Groups {
  /** `editor` supplies model, canvas, history. */
  constructor(editor) {
    this.editor = editor;
    this.model = editor.model;
    this.fitted = new Map(); // group id -> its members' boxes when last fitted
    editor.canvas.extensions.push(this);
    this.model.on("change", () => {
      this.refit(this.model.nodes.values());
      for (const id of this.fitted.keys()) if (!this.model.get(id)) this.fitted.delete(id);
    });
  }

  /** Every node and group inside `group`, nested groups' contents included. */
  contents(group) {
    const out = [];
    for (const id of group.nodes || []) {
      const node = this.model.get(id);
      if (!node) continue;
      out.push(node);
      if (node.type === "group") out.push(...this.contents(node));
    }
    return out;
  }

  /** The box {x0, y0, x1, y1} a member takes in its group (a node with its button). */
  memberBox(node) {
    if (node.type === "group") return { x0: node.x, y0: node.y, x1: node.x + node.w, y1: node.y + node.h };
    const g = geometry(this.model, node);
    const button = this.model.type(node)?.editor?.button;
    return {
      x0: g.x - g.width / 2 - (button === "inject" ? BUTTON : 0), y0: g.y - g.height / 2,
      x1: g.x + g.width / 2 + (button === "debug" ? BUTTON : 0), y1: g.y + g.height / 2,
    };
  }

  /** A string that changes when a member of `group` moves, resizes, joins or leaves. */
  signature(group) {
    return JSON.stringify((group.nodes || []).map((id) => this.model.get(id)).filter(Boolean)
      .map((n) => [n.id, this.memberBox(n)]));
  }

  /** Recompute `group`'s box around its members (Node-RED's margin, room for the label). */
  fit(group) {
    const boxes = (group.nodes || []).map((id) => this.model.get(id)).filter(Boolean).map((n) => this.memberBox(n));
    if (boxes.length) {
      group.x = Math.round(Math.min(...boxes.map((b) => b.x0)) - MARGIN);
      group.y = Math.round(Math.min(...boxes.map((b) => b.y0)) - MARGIN);
      group.w = Math.round(Math.max(...boxes.map((b) => b.x1)) + MARGIN - group.x);
      group.h = Math.round(Math.max(...boxes.map((b) => b.y1)) + MARGIN - group.y);
    } else {
      group.w = EMPTY;
      group.h = EMPTY;
    }
    const label = group.style?.label !== false && group.name ? Math.ceil(textWidth(String(group.name))) + 8 : EMPTY;
    group.w = Math.max(group.w, label);
    this.fitted.set(group.id, this.signature(group));
  }

  /**
   * Refit the groups among `nodes` whose members moved since they were last seen
   * (innermost first, so an outer group fits the new size of an inner one); returns
   * their ids. A group seen for the first time (a loaded or imported flow) keeps its
   * saved box.
   */
  refit(nodes) {
    const groups = [...nodes].filter((n) => n.type === "group");
    const depth = (g) => (g.g && this.model.get(g.g) ? 1 + depth(this.model.get(g.g)) : 0);
    groups.sort((a, b) => depth(b) - depth(a));
    const refitted = [];
    for (const group of groups) {
      const seen = this.fitted.get(group.id);
      const now = this.signature(group);
      if (seen === undefined) {
        this.fitted.set(group.id, now);
      } else if (seen !== now) {
        this.fit(group);
        refitted.push(group.id);
      }
    }
    return refitted;
  }

  /**
   * Canvas extension: nodes `ids` moved without a model "change" (a drag, arrow keys):
   * refit the groups around them, and the groups around those; returns their ids.
   */
  follow(ids) {
    const around = new Set();
    for (const id of ids) {
      for (let group = this.model.get(this.model.get(id)?.g); group && !around.has(group); group = this.model.get(group.g)) {
        around.add(group);
      }
    }
    return this.refit(around);
  }

  /** The selected nodes and groups whose own group is not selected too. */
  topLevel(ids) {
    const set = new Set(ids);
    return ids.map((id) => this.model.get(id)).filter((n) => n && n.z === this.model.activeTab && !set.has(n.g));
  }

  /** The ids `group` selects: itself and everything in it. */
  selectionOf(group) {
    return [group.id, ...this.contents(group).map((n) => n.id)];
  }

  /** Group the selection (ctrl-shift-g): all of it must share one group, or none. */
  groupSelection() {
    const { model, canvas, history } = this.editor;
    if (model.readOnly) return;
    const items = this.topLevel([...canvas.selection]);
    if (!items.length) return;
    const parents = new Set(items.map((n) => n.g || ""));
    if (parents.size > 1) {
      notify("Cannot create group using nodes from different groups", { type: "error" });
      return;
    }
    history.record();
    const parent = model.get(items[0].g);
    const group = {
      id: newId(), type: "group", z: model.activeTab,
      ...(parent ? { g: parent.id } : {}),
      style: { ...GROUP_STYLE }, nodes: items.map((n) => n.id), x: 0, y: 0, w: 0, h: 0,
    };
    for (const node of items) setGroup(node, group.id);
    if (parent) parent.nodes = [...parent.nodes.filter((id) => !group.nodes.includes(id)), group.id];
    this.fit(group);
    model.put(group);
    canvas.select(this.selectionOf(group));
  }

  /** Ungroup the selected groups (ctrl-shift-u): their members go to the parent group, if any. */
  ungroupSelection() {
    const { model, canvas, history } = this.editor;
    if (model.readOnly) return;
    const groups = this.topLevel([...canvas.selection]).filter((n) => n.type === "group");
    if (!groups.length) return;
    history.record();
    const freed = [];
    for (const group of groups) {
      const parent = model.get(group.g);
      for (const node of (group.nodes || []).map((id) => model.get(id)).filter(Boolean)) {
        if (parent) setGroup(node, parent.id);
        else delete node.g;
        freed.push(node.id);
      }
      if (parent) parent.nodes = [...parent.nodes.filter((id) => id !== group.id), ...group.nodes];
      group.nodes = [];
    }
    model.remove(groups.map((g) => g.id));
    canvas.select(freed);
  }

  /** The innermost group of the active tab under canvas point `point`, not one of `exclude`. */
  groupAt(point, exclude) {
    const hits = this.model.groupsOn(this.model.activeTab).filter((g) => !exclude.has(g.id)
      && point.x >= g.x && point.x <= g.x + g.w && point.y >= g.y && point.y <= g.y + g.h);
    return hits.sort((a, b) => a.w * a.h - b.w * b.h)[0] || null;
  }

  /**
   * Canvas extension: nodes were dragged to `point`. Ungrouped ones dropped on a group
   * join it; with alt held they leave their group first (Node-RED's gestures).
   */
  moved(ids, point, e) {
    const { model } = this;
    const items = this.topLevel(ids);
    const exclude = new Set(items.filter((n) => n.type === "group").flatMap((g) => this.selectionOf(g)));
    // Alt-dragged nodes leave their group, which has grown to follow them while dragged.
    if (e.altKey) items.forEach((n) => n.g && exclude.add(n.g));
    const target = this.groupAt(point, exclude);
    let changed = false;
    for (const node of items) {
      if (node.g && e.altKey && node.g !== target?.id) {
        const old = model.get(node.g);
        if (old) old.nodes = old.nodes.filter((id) => id !== node.id);
        delete node.g;
        changed = true;
      }
      if (!node.g && target) {
        setGroup(node, target.id);
        target.nodes = [...(target.nodes || []), node.id];
        changed = true;
      }
    }
    if (changed) model.emit("change");
  }

  /** Canvas extension: a press on a group's box selects it with its nodes and drags them. */
  pointerDown(e, point) {
    const el = e.target.closest?.("[data-group-id]");
    const group = el && this.model.get(el.dataset.groupId);
    if (!group) return null;
    const { canvas } = this.editor;
    const ids = this.selectionOf(group);
    if (e.shiftKey || e.ctrlKey || e.metaKey) canvas.select([...canvas.selection, ...ids]);
    else if (!canvas.selection.has(group.id)) canvas.select(ids);
    const starts = new Map([...canvas.selection].map((id) => this.model.get(id)).filter(Boolean)
      .map((n) => [n, { x: n.x, y: n.y }]));
    const moving = [...starts.keys()].map((n) => n.id);
    return canvas.clickOrDrag(point, group.id, {
      begin: () => canvas.lift(moving),
      move: (dx, dy) => {
        for (const [node, start] of starts) {
          node.x = Math.round(start.x + dx);
          node.y = Math.round(start.y + dy);
        }
        canvas.requestMove(moving);
      },
      drop: () => {
        canvas.lower();
        this.model.emit("change");
      },
      open: () => this.edit(group.id),
    });
  }

  /** The group dialog: name, border and fill colours, label shown and its colour. */
  edit(id) {
    const { model, history } = this.editor;
    const group = model.get(id);
    if (group?.type !== "group") return;
    const style = { ...GROUP_STYLE, ...(group.style || {}) };
    const readOnly = model.readOnly;
    const colour = (value, fallback) => (/^#[0-9a-f]{6}$/i.test(value || "") ? value : fallback);
    const name = h("input", { type: "text", id: "group-name", value: group.name || "", readOnly });
    const stroke = h("input", { type: "color", id: "group-stroke", value: colour(style.stroke, "#999999"), disabled: readOnly });
    const noFill = h("input", { type: "checkbox", id: "group-fill-none", checked: style.fill === "none", disabled: readOnly });
    const fill = h("input", { type: "color", id: "group-fill", value: colour(style.fill, "#ffffff"), disabled: readOnly });
    const showLabel = h("input", { type: "checkbox", id: "group-label", checked: style.label !== false, disabled: readOnly });
    const labelColour = h("input", { type: "color", id: "group-color", value: colour(style.color, "#a4a4a4"), disabled: readOnly });
    fill.addEventListener("input", () => { noFill.checked = false; });
    const row = (label, forId, ...inputs) => h("div", { class: "form-row inline" }, h("label", { for: forId }, label), inputs);
    const buttons = [{ label: "Cancel" }];
    if (!readOnly) {
      buttons.unshift({
        label: "Delete", action: "group-delete",
        run: () => {
          history.record();
          model.remove(this.selectionOf(group));
          this.editor.canvas.select([]);
        },
      });
      buttons.push({
        label: "Done", primary: true, action: "group-done",
        run: () => {
          // Node-RED's key order: id, type, z, g, name, style, nodes, x, y, w, h.
          const { id: gid, type, z, g, name: _name, ...rest } = group;
          const updated = {
            id: gid, type, z, ...(g ? { g } : {}), ...(name.value ? { name: name.value } : {}),
            ...rest,
            style: {
              ...style, stroke: stroke.value, fill: noFill.checked ? "none" : fill.value,
              label: showLabel.checked, color: labelColour.value,
            },
          };
          if (JSON.stringify(updated) === JSON.stringify(group)) return;
          history.record();
          this.fit(updated);
          model.put(updated);
        },
      });
    }
    openDialog({
      title: `Edit group${group.name ? `: ${group.name}` : ""}`,
      className: "group-dialog",
      body: h("div", {},
        h("div", { class: "form-row" }, h("label", { for: "group-name" }, "Name"), name),
        row("Border", "group-stroke", stroke),
        row("Fill", "group-fill", h("span", {}, fill, h("label", { class: "checkbox" }, noFill, "none"))),
        row("Show label", "group-label", showLabel),
        row("Label colour", "group-color", labelColour)),
      buttons,
    });
  }
}
