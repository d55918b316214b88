/**
 * The canvas context menu (right-click), with Node-RED 4's entries for what flowrt can
 * do: insert a node (quick-add at that point), import; edit, help, enable / disable the
 * selected nodes; group, ungroup, selection to subflow, and for a subflow instance edit
 * its template or convert it to nodes; undo, redo; cut, copy, paste, delete; export;
 * select all. Node-RED's "Insert", "Node", "Group" and "Arrange" submenus are flattened
 * into one list. Right-clicking a node that
 * is not selected selects it first, a wire selects the wire, as in Node-RED.
 */
import { h } from "./dom.js";
import { closePopup, openPopup } from "./popup.js";

/** Set or clear `d` (disabled) on the selected nodes, as the edit tray's Enabled box does. */
function setDisabled(editor, disabled) {
  const { model, canvas, history } = editor;
  const nodes = [...canvas.selection].map((id) => model.get(id)).filter((n) => n && Boolean(n.d) !== disabled);
  if (!nodes.length) return;
  history.record();
  for (const node of nodes) {
    if (disabled) node.d = true;
    else delete node.d;
  }
  model.emit("change");
}

/** The menu's entries for the current selection: [{action, label, keys, enabled, run}] or null (a line). */
export function menuEntries(editor, actions, clientX, clientY) {
  const { model, canvas, history, clipboard } = editor;
  const writable = !model.readOnly;
  const selected = [...canvas.selection].map((id) => model.get(id)).filter(Boolean);
  const single = selected.length === 1 ? selected[0] : null;
  const instance = editor.selectedInstance();
  const entry = (action, label, enabled, run, keys = "") => ({ action, label, keys, enabled, run });
  return [
    entry("insert", "Insert node…", writable, () => editor.quickAdd.show(clientX, clientY), "ctrl-click"),
    entry("import", "Import…", writable, actions.import, "ctrl-i"),
    null,
    entry("edit", "Edit…", Boolean(single), actions.edit, "enter"),
    entry("help", "Show node help", Boolean(single), () => editor.showHelp(single.type)),
    entry("enable", "Enable selected nodes", writable && selected.some((n) => n.d), () => setDisabled(editor, false)),
    entry("disable", "Disable selected nodes", writable && selected.some((n) => !n.d), () => setDisabled(editor, true)),
    null,
    entry("group", "Group selection", writable && selected.length > 0, actions.group, "ctrl-shift-g"),
    entry("ungroup", "Ungroup selection", writable && selected.some((n) => n.type === "group"), actions.ungroup, "ctrl-shift-u"),
    entry("selection-to-subflow", "Selection to Subflow", writable && selected.length > 0, actions.selectionToSubflow),
    entry("edit-template", "Edit subflow template", Boolean(instance), actions.editTemplate),
    entry("convert-to-nodes", "Convert to nodes", writable && Boolean(instance), actions.convertToNodes),
    null,
    entry("undo", "Undo", writable && history.undoStack.length > 0, actions.undo, "ctrl-z"),
    entry("redo", "Redo", writable && history.redoStack.length > 0, actions.redo, "ctrl-y"),
    null,
    entry("cut", "Cut selected nodes", writable && selected.length > 0, actions.cut, "ctrl-x"),
    entry("copy", "Copy selected nodes", selected.length > 0, actions.copy, "ctrl-c"),
    entry("paste", "Paste nodes", writable && Boolean(clipboard.nodes), actions.paste, "ctrl-v"),
    entry("delete", "Delete selection", writable && (selected.length > 0 || Boolean(canvas.selectedWire)), actions.delete, "delete"),
    null,
    entry("export", "Export…", true, actions.export, "ctrl-e"),
    entry("select-all", "Select all", true, actions.selectAll, "ctrl-a"),
  ];
}

/** Open the context menu on right-clicks on the canvas; `actions` are the editor's. */
export function installContextMenu(editor, actions) {
  const { canvas } = editor;
  canvas.svg.addEventListener("contextmenu", (e) => {
    e.preventDefault();
    if (canvas.drag) return;
    const nodeEl = e.target.closest("[data-node-id]");
    const wireEl = e.target.closest("[data-wire]");
    const groupEl = e.target.closest("[data-group-id]");
    if (nodeEl && !canvas.selection.has(nodeEl.dataset.nodeId)) canvas.select([nodeEl.dataset.nodeId]);
    else if (!nodeEl && wireEl) canvas.select([], { wire: wireEl.dataset.wire });
    else if (groupEl && !canvas.selection.has(groupEl.dataset.groupId)) {
      canvas.select(editor.groups.selectionOf(editor.model.get(groupEl.dataset.groupId)));
    }
    const items = menuEntries(editor, actions, e.clientX, e.clientY).map((item) => (item
      ? h("button", {
        type: "button", class: "menu-item", role: "menuitem", "data-context-action": item.action, disabled: !item.enabled,
        onclick: () => {
          closePopup();
          item.run();
        },
      }, item.label, item.keys ? h("kbd", {}, item.keys) : null)
      : h("hr")));
    const menu = h("div", {
      class: "context-menu popup", role: "menu", "data-context-menu": "", style: `left: ${e.clientX}px; top: ${e.clientY}px`,
    }, items);
    openPopup(menu);
  });
}
