/**
 * While the /comms connection to the runtime is down: `body.offline` (the header's
 * "disconnected" badge, node statuses greyed out as stale) and Node-RED's red notice
 * "Lost connection to server, reconnecting in Ns." with a "Try now" button.
 */
import { h } from "./dom.js";
import { notify } from "./notify.js";

export class OfflineNotice {
  /** `reconnect()` is called by "Try now". */
  constructor(reconnect) {
    this.reconnect = reconnect;
    this.text = null;
    this.close = null;
    this.ticker = null;
  }

  /** The connection came up (`up`), or went down with the next try in `retryIn` ms. */
  update(up, retryIn = 0) {
    document.body.classList.toggle("offline", !up);
    clearInterval(this.ticker);
    if (up) {
      this.close?.();
      this.close = null;
      return;
    }
    if (!this.text?.isConnected) {
      this.text = h("span", { "data-offline-notice": "" });
      this.close = notify(this.text, {
        type: "error", timeout: 0, actions: [{ label: "Try now", run: () => this.reconnect() }],
      });
    }
    const due = Date.now() + retryIn;
    const tick = () => {
      const seconds = Math.ceil((due - Date.now()) / 1000);
      this.text.textContent = seconds > 0
        ? `Lost connection to server, reconnecting in ${seconds}s.` : "Lost connection to server, reconnecting...";
    };
    tick();
    this.ticker = setInterval(tick, 1000);
  }
}
