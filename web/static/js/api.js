/**
 * The admin HTTP API client. Every request carries `Node-RED-API-Version: v2` and,
 * when logged in, the bearer token. Failures throw an ApiError holding the status
 * and the parsed JSON body, or a NetworkError when the server did not answer.
 */
import { getToken } from "./auth-token.js";

/** A failed API call: `status` and the parsed `body` (or null). */
export class ApiError extends Error {
  constructor(status, body, text) {
    super((body && (body.message || body.error_description || body.code)) || text || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** The server did not answer at all (not running, network down): `reason` is the browser's word. */
export class NetworkError extends Error {
  constructor(reason) {
    super(`the flowrt runtime is not reachable (${reason})`);
    this.reason = reason;
  }
}

const unauthorizedHandlers = new Set();

/** Register a callback run when the server answers 401 (session missing or expired). */
export function onUnauthorized(handler) {
  unauthorizedHandlers.add(handler);
}

/** Call the API: `request("POST", "flows", {body, headers})` → parsed JSON or null. */
export async function request(method, path, { body, headers = {} } = {}) {
  const all = { "Node-RED-API-Version": "v2", Accept: "application/json", ...headers };
  const token = getToken();
  if (token) all.Authorization = `Bearer ${token}`;
  const init = { method, headers: all };
  if (body !== undefined) {
    all["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(path.startsWith("/") ? path : `/${path}`, init);
    text = await response.text();
  } catch (err) {
    throw new NetworkError(err.message || String(err));
  }
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    if (response.status === 401) unauthorizedHandlers.forEach((handler) => handler());
    throw new ApiError(response.status, parsed, text.slice(0, 200));
  }
  return parsed;
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options = {}) => request("POST", path, { ...options, body });
