/**
 * The dashboard page at /ui: one websocket to /ui/ws (protocol in flowrt/dashboard/__init__.py),
 * a menu of pages, each page a responsive grid of groups holding widgets (widgets.js).
 */
import { h, replace } from "../js/dom.js";
import { getToken } from "../js/auth-token.js";
import { createWidget } from "./widgets.js";

const THEME_KEY = "flowrt-ui-theme";
const RECONNECT_MAX = 10000;

const state = {
  layout: null,
  page: 0,
  widgets: new Map(), // id -> { spec, view, last }
  socket: null,
  readOnly: false,
  retry: 500,
};

const main = document.querySelector(".ui-page");
const nav = document.querySelector(".ui-nav");
const title = document.querySelector(".ui-title");
const connection = document.querySelector(".ui-connection");
const menuButton = document.querySelector(".ui-menu-button");

function setConnection(label) {
  connection.dataset.state = label;
  connection.title = label;
}

function send(id, value) {
  if (state.readOnly || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
  state.socket.send(JSON.stringify({ type: "event", id, value }));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ui/ws`);
  state.socket = socket;
  setConnection("connecting");
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ auth: getToken() }));
  });
  socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    setConnection("disconnected");
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, RECONNECT_MAX);
  });
}

function receive(message) {
  if (message.type === "auth") {
    if (!message.ok) {
      state.socket = null;
      setConnection("refused");
      replace(main, h("p", { class: "ui-empty" }, "This dashboard needs an editor login. ",
        h("a", { href: "/" }, "Log in to the editor"), ", then open it again."));
      return;
    }
    state.retry = 500;
    state.readOnly = message.readOnly;
    document.body.classList.toggle("read-only", message.readOnly);
    setConnection("connected");
  } else if (message.type === "layout") {
    state.layout = message;
    applySite(message.site || {});
    renderMenu();
    renderPage();
  } else if (message.type === "update") {
    for (const [id, frame] of Object.entries(message.widgets)) update(id, frame);
  } else if (message.type === "toast") {
    showToast(message);
  }
}

function update(id, frame) {
  const widget = state.widgets.get(id);
  if (!widget) return;
  if (frame.op === "append") {
    widget.view.append?.(frame.points);
    return;
  }
  if (JSON.stringify(frame.control || {}) !== JSON.stringify(widget.control || {})) {
    widget.control = frame.control || {};
    const view = createWidget({ ...widget.spec, ...widget.control }, (value) => send(id, value));
    widget.view.el.replaceWith(view.el);
    widget.view = view;
  }
  widget.view.el.classList.toggle("disabled", Boolean(frame.disabled) || state.readOnly);
  widget.view.set(frame, Boolean(frame.disabled) || state.readOnly);
}

// ------------------------------------------------------------------ site and menu
function applySite(site) {
  const name = site.title || "Dashboard";
  document.title = name;
  title.textContent = name;
  const colors = site.colors || {};
  const saved = localStorage.getItem(THEME_KEY);
  // A Dashboard 2 theme with dark groups reads as the dark theme (light text on them).
  const darkGroups = colors.groupBg ? luminance(colors.groupBg) < 0.4 : false;
  document.documentElement.dataset.theme = saved || (site.dark || darkGroups ? "dark" : "light");
  const root = document.documentElement.style;
  if (colors.surface) root.setProperty("--ui-header-text", luminance(colors.surface) < 0.4 ? "#fff" : "#222");
  else root.removeProperty("--ui-header-text");
  const vars = { primary: ["--ui-accent"], surface: ["--ui-header-bg"], bgPage: ["--ui-page-bg"],
    groupBg: ["--ui-group-bg"], groupOutline: ["--ui-group-outline"] };
  for (const [key, names] of Object.entries(vars)) {
    for (const name of names) {
      if (colors[key]) root.setProperty(name, colors[key]);
      else root.removeProperty(name);
    }
  }
}

/** Relative luminance (0 black .. 1 white) of a #rgb / #rrggbb colour; 1 when unreadable. */
function luminance(colour) {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour.trim())?.[1];
  if (!hex) return 1;
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function pageFromHash(pages) {
  const wanted = decodeURIComponent(location.hash.replace(/^#!?\/?/, ""));
  if (wanted === "") return 0;
  const byIndex = Number(wanted);
  if (Number.isInteger(byIndex) && byIndex >= 0 && byIndex < pages.length) return byIndex;
  const found = pages.findIndex((p) => p.name === wanted || p.path === `/${wanted}`);
  return found >= 0 ? found : 0;
}

function renderMenu() {
  const pages = state.layout.pages;
  state.page = pageFromHash(pages);
  menuButton.hidden = pages.length < 2;
  replace(nav, pages.map((page, index) => h("a", {
    href: `#!/${index}`,
    class: `ui-nav-item${index === state.page ? " current" : ""}${page.disabled ? " disabled" : ""}`,
    "aria-current": index === state.page ? "page" : null,
    dataset: { pageId: page.id },
    onclick: () => { nav.hidden = true; menuButton.setAttribute("aria-expanded", "false"); },
  }, page.name)));
}

function unitSize(units) {
  return units * 48 + (units - 1) * 6;
}

function renderPage() {
  state.widgets.clear();
  const page = state.layout.pages[state.page];
  if (!page) {
    replace(main, h("p", { class: "ui-empty" }, "No dashboard widgets are deployed. Add ",
      "ui_ nodes (the dashboard category) to a flow."));
    return;
  }
  const columns = page.columns; // Dashboard 2: a 12-column grid; Dashboard 1: 48 px units
  main.dataset.pageId = page.id;
  main.classList.toggle("columns", Boolean(columns));
  replace(main, page.groups.map((group) => renderGroup(group, columns)));
  // As Node-RED Dashboard: the header names the page, the browser tab the site too.
  title.textContent = page.name;
  document.title = `${state.layout.site.title || "Dashboard"} · ${page.name}`;
}

function renderGroup(group, columns) {
  const style = columns
    ? `--span:${Math.min(group.width, 12)}`
    : `width:${unitSize(group.width) + 14}px`; // 6 px padding and 1 px border each side
  const body = h("div", { class: "ui-group-body" });
  for (const spec of group.widgets) {
    const widthUnits = Math.min(spec.width || group.width, group.width);
    const view = createWidget(spec, (value) => send(spec.id, value));
    const sizeStyle = columns
      ? `width:calc(${(widthUnits / group.width) * 100}% - 6px);min-height:${unitSize(spec.height)}px`
      : `width:${unitSize(widthUnits)}px;min-height:${unitSize(spec.height)}px`;
    const cell = h("div", { class: `ui-widget ui-${spec.kind} ${spec.className}`.trim(),
      style: sizeStyle, dataset: { widgetId: spec.id, kind: spec.kind, nodeType: spec.type } }, view.el);
    state.widgets.set(spec.id, { spec, view, control: {} });
    body.append(cell);
  }
  const header = group.showTitle && group.name ? h("h2", { class: "ui-group-title" }, group.name) : null;
  const section = h("section", { class: "ui-group", style, dataset: { groupId: group.id } }, header, body);
  if (group.collapse && header) {
    header.classList.add("collapsible");
    header.addEventListener("click", () => section.classList.toggle("collapsed"));
  }
  return section;
}

// ------------------------------------------------------------------ notifications
function showToast(toast) {
  const box = document.querySelector(".ui-toasts");
  const dialog = toast.position === "dialog" || toast.position === "prompt";
  const content = h("div", { class: "ui-toast-body" });
  if (toast.html) content.innerHTML = toast.html; // cleaned by the server's allow-list
  else content.textContent = toast.text;
  const close = () => element.remove();
  const buttons = dialog ? h("div", { class: "ui-toast-buttons" },
    toast.cancel ? h("button", { type: "button", onclick: () => { send(toast.id, toast.cancel); close(); } }, toast.cancel) : null,
    h("button", { type: "button", class: "primary", onclick: () => { send(toast.id, toast.ok); close(); } }, toast.ok)) : null;
  const element = h("div", {
    class: `ui-toast ${dialog ? "dialog" : toast.position.replace(" ", "-")}`,
    role: dialog ? "alertdialog" : "status",
    style: toast.color ? `border-left-color:${toast.color}` : null,
  }, toast.title ? h("strong", { class: "ui-toast-title" }, toast.title) : null, content, buttons);
  if (!dialog) element.addEventListener("click", close);
  box.append(element);
  if (!dialog && toast.timeout > 0) setTimeout(close, toast.timeout * 1000);
}

// ------------------------------------------------------------------ chrome
menuButton.addEventListener("click", () => {
  nav.hidden = !nav.hidden;
  menuButton.setAttribute("aria-expanded", String(!nav.hidden));
});
document.querySelector(".ui-theme-button").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem(THEME_KEY, next);
  for (const widget of state.widgets.values()) widget.view.themeChanged?.();
});
window.addEventListener("hashchange", () => {
  if (!state.layout) return;
  renderMenu();
  renderPage();
  state.socket?.send(JSON.stringify({ type: "resync" }));
});

connect();
