/** Toast notifications, at the top centre of the window over the header (where Node-RED shows them). */
import { h } from "./dom.js";

/**
 * Show a message. `type` is "success", "error", "warning" or "info"; `lines` are
 * extra detail lines; `actions` are [{label, run}] buttons. Returns a close function.
 */
export function notify(text, { type = "info", lines = [], actions = [], timeout = 5000 } = {}) {
  const box = document.getElementById("notifications");
  const close = () => note.remove();
  const note = h("div", { class: `notification ${type}`, role: "status", "data-notification": type },
    h("div", { class: "notification-text" }, text),
    lines.length ? h("ul", {}, lines.map((line) => h("li", {}, line))) : null,
    actions.length || timeout === 0
      ? h("div", { class: "notification-actions" },
        actions.map(({ label, run }) => h("button", { onclick: () => { close(); run(); } }, label)),
        h("button", { class: "secondary", onclick: close }, "Close"))
      : null);
  box.append(note);
  if (timeout > 0 && !actions.length) setTimeout(close, timeout);
  return close;
}
