/** Modal dialogs built on <dialog>. */
import { h } from "./dom.js";

/**
 * Open a modal: `openDialog({title, body, buttons: [{label, primary, run}]})`.
 * A button's `run` may return false to keep the dialog open. Returns {close, element}.
 */
export function openDialog({ title, body, buttons = [], className = "", onClose = null }) {
  const dialog = h("dialog", { class: `modal ${className}` });
  const close = () => {
    dialog.close();
    dialog.remove();
    if (onClose) onClose();
  };
  const footer = h("div", { class: "modal-buttons" }, buttons.map((button) => h("button", {
    class: button.primary ? "primary" : "secondary",
    "data-action": button.action || null,
    onclick: async () => {
      if ((await button.run?.()) !== false) close();
    },
  }, button.label)));
  dialog.append(h("h2", {}, title), h("div", { class: "modal-body" }, body), footer);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { close, element: dialog };
}

/** Ask a yes/no question; resolves true when the confirm button is pressed. */
export function confirmDialog(title, body, confirmLabel) {
  return new Promise((resolve) => {
    let answer = false;
    openDialog({
      title,
      body,
      onClose: () => resolve(answer),
      buttons: [
        { label: "Cancel" },
        { label: confirmLabel, primary: true, action: "confirm", run: () => { answer = true; } },
      ],
    });
  });
}

/** True while a modal dialog is open (keyboard shortcuts stay out of its way). */
export function dialogOpen() {
  return document.querySelector("dialog[open]") !== null;
}
