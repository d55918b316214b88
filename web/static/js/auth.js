/**
 * Admin authentication: the login dialog (GET /auth/login says whether login is
 * needed, POST /auth/token returns the bearer token), logout, and read-only mode
 * for users without the flows.write permission.
 */
import { get, post } from "./api.js";
import { clearToken, getToken, setToken } from "./auth-token.js";
import { h } from "./dom.js";

/** True when `permissions` ("*", "read", a string or a list) allow deploying. */
export function canWrite(permissions) {
  const list = Array.isArray(permissions) ? permissions : [permissions];
  return list.some((p) => p === "*" || p === "flows.write");
}

function showLogin(prompts) {
  return new Promise((resolve) => {
    const error = h("div", { class: "field-error", id: "login-error" });
    const inputs = prompts.map((prompt) => h("input", {
      id: `login-${prompt.id}`, name: prompt.id, type: prompt.type === "password" ? "password" : "text",
      autocomplete: prompt.type === "password" ? "current-password" : "username",
    }));
    const form = h("form", { class: "login-form", id: "login-form" },
      h("h2", {}, "flowrt — log in"),
      prompts.map((prompt, i) => h("div", { class: "form-row" },
        h("label", { for: `login-${prompt.id}` }, String(prompt.label || prompt.id).replace(/^user\./, "")), inputs[i])),
      error,
      h("button", { type: "submit", class: "primary", "data-action": "login" }, "Log in"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
      try {
        const token = await post("auth/token", {
          client_id: "node-red-editor", grant_type: "password", scope: "*", ...values,
        });
        setToken(token.access_token, token.expires_in || 604800);
        overlay.remove();
        resolve();
      } catch (err) {
        error.textContent = err.status === 403 ? "Login failed: wrong username or password" : `Login failed: ${err.message}`;
      }
    });
    const overlay = h("div", { class: "login-overlay" }, form);
    document.body.append(overlay);
    inputs[0]?.focus();
  });
}

/**
 * Make sure we may talk to the admin API; returns the settings (with `user`
 * when auth is on). Shows the login dialog when a token is needed.
 */
export async function authenticate(pageSettings) {
  const scheme = await get("auth/login").catch(() => ({}));
  if (!scheme || scheme.type !== "credentials") return { settings: pageSettings, auth: false };
  for (;;) {
    if (getToken()) {
      try {
        return { settings: await get("settings"), auth: true };
      } catch (err) {
        if (err.status !== 401) throw err;
        clearToken();
      }
    }
    await showLogin(scheme.prompts || [{ id: "username", type: "text" }, { id: "password", type: "password" }]);
  }
}

/** Log out: revoke the token and reload the page. */
export async function logout() {
  const token = getToken();
  if (token) await post("auth/revoke", { token }).catch(() => {});
  clearToken();
  location.reload();
}
