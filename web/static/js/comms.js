/**
 * The /comms websocket: sends the token and subscriptions, dispatches the
 * server's JSON arrays of {topic, data} to handlers registered with MQTT-style
 * topic patterns (+ and #), and reconnects with backoff when the socket drops
 * (`onConnection(false, retryIn)` says when it tries next; `reconnect()` tries now).
 * Subscribing again on every connect makes the server replay the current statuses.
 */
import { getToken } from "./auth-token.js";

const SUBSCRIPTIONS = ["status/#", "debug", "notification/#"];

/** True when `topic` matches the MQTT-style `pattern`. */
export function topicMatches(pattern, topic) {
  const p = pattern.split("/");
  const t = topic.split("/");
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === "#") return true;
    if (i >= t.length || (p[i] !== "+" && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

export class Comms {
  constructor({ onAuthFail = () => {}, onConnection = () => {} } = {}) {
    this.handlers = [];
    this.retry = 500;
    this.onAuthFail = onAuthFail;
    this.onConnection = onConnection;
    this.socket = null;
  }

  /** Call `handler(topic, data)` for every message whose topic matches `pattern`. */
  on(pattern, handler) {
    this.handlers.push({ pattern, handler });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/comms`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 500;
      const token = getToken();
      if (token) socket.send(JSON.stringify({ auth: token }));
      for (const topic of SUBSCRIPTIONS) socket.send(JSON.stringify({ subscribe: topic }));
      this.onConnection(true);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.onConnection(false, this.retry);
      this.timer = setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    });
  }

  /** While disconnected: try to connect now instead of at the next retry. */
  reconnect() {
    if (this.socket?.readyState === WebSocket.OPEN || this.socket?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.timer);
    this.connect();
  }

  receive(text) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (parsed && parsed.auth === "fail") {
      this.socket = null;
      this.onAuthFail();
      return;
    }
    for (const { topic, data } of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof topic !== "string") continue;
      for (const { pattern, handler } of this.handlers) if (topicMatches(pattern, topic)) handler(topic, data);
    }
  }
}
