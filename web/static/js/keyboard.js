/**
 * Keyboard shortcuts (Node-RED's keymap): delete/backspace, ctrl-c/x/v, ctrl-z,
 * ctrl-y / ctrl-shift-z, ctrl-a, ctrl-d deploy, ctrl-e export, ctrl-i import,
 * enter edit, escape clear, arrows move (shift: one grid step), ctrl +/-/0 zoom,
 * ctrl-alt-l clear debug, ctrl-f search, ctrl-shift-g group, ctrl-shift-u ungroup;
 * ctrl-enter / ctrl-escape close the edit tray.
 * None of them while a popup (search, quick-add, context menu) is open.
 */
import { dialogOpen } from "./dialog.js";
import { popupOpen } from "./popup.js";

function typing(target) {
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

function combo(e) {
  const parts = [];
  if (e.ctrlKey || e.metaKey) parts.push("ctrl");
  if (e.altKey) parts.push("alt");
  if (e.shiftKey) parts.push("shift");
  parts.push(e.key.length === 1 ? e.key.toLowerCase() : e.key);
  return parts.join("-");
}

/** Install the shortcuts; `actions` maps action names to functions. */
export function installKeyboard(editor, actions) {
  const trayKeys = { "ctrl-Enter": "trayDone", "ctrl-Escape": "trayCancel" };
  const keys = {
    Delete: "delete", Backspace: "delete", "ctrl-c": "copy", "ctrl-x": "cut", "ctrl-v": "paste",
    "ctrl-z": "undo", "ctrl-y": "redo", "ctrl-shift-z": "redo", "ctrl-a": "selectAll", "ctrl-d": "deploy",
    "ctrl-e": "export", "ctrl-i": "import", Enter: "edit", Escape: "clearSelection",
    ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
    "shift-ArrowUp": "up20", "shift-ArrowDown": "down20", "shift-ArrowLeft": "left20", "shift-ArrowRight": "right20",
    "ctrl-=": "zoomIn", "ctrl-+": "zoomIn", "ctrl--": "zoomOut", "ctrl-0": "zoomReset", "ctrl-alt-l": "clearDebug",
    "ctrl-f": "search", "shift-!": "zoomFit", "shift-1": "zoomFit",
    "ctrl-shift-g": "group", "ctrl-shift-u": "ungroup",
  };
  window.addEventListener("keydown", (e) => {
    const key = combo(e);
    if (editor.properties.open) {
      // Not under a dialog opened from the form (the expression editor): it is not the tray's.
      if (trayKeys[key] && !dialogOpen()) {
        e.preventDefault();
        actions[trayKeys[key]]();
      }
      return;
    }
    if (dialogOpen() || popupOpen() || typing(e.target)) return;
    const action = keys[key];
    if (!action) return;
    e.preventDefault();
    actions[action]();
  });
}
