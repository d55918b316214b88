/**
 * The editor's entry point: authenticates, loads node types and flows, then wires
 * the parts together (canvas, palette, sidebar, tray, deploy, debug, import/export,
 * clipboard, history, keyboard, search, quick-add, context menu, groups, subflows,
 * the flow history sidebar in project mode)
 * and feeds live status and debug from /comms.
 */
import { get, onUnauthorized, post } from "./api.js";
import { authenticate, canWrite, logout } from "./auth.js";
import { clearToken } from "./auth-token.js";
import { Canvas } from "./canvas.js";
import { Clipboard } from "./clipboard.js";
import { Comms } from "./comms.js";
import { installContextMenu } from "./contextmenu.js";
import { DebugSidebar } from "./debug.js";
import { Deployer } from "./deploy.js";
import { FlowTestsSidebar } from "./flowtests.js";
import { Groups } from "./groups.js";
import { History } from "./history.js";
import { ImportExport } from "./importexport.js";
import { installKeyboard } from "./keyboard.js";
import { Model, instanceOf } from "./model.js";
import { notify } from "./notify.js";
import { OfflineNotice } from "./offline.js";
import { Palette } from "./palette.js";
import { PropertyEditor } from "./properties.js";
import { QuickAdd } from "./quickadd.js";
import { Search } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { Subflows } from "./subflows.js";
import { Tabs } from "./tabs.js";
import { VersionsSidebar } from "./versions.js";
import { disconnect } from "./wires.js";

class Editor {
  constructor(model, { auth, settings }) {
    this.model = model;
    this.settings = settings;
    this.history = new History(model);
    this.status = new Map();
    this.sidebar = new Sidebar(document.getElementById("sidebar"), this);
    this.canvas = new Canvas(document.getElementById("canvas"), this);
    this.groups = new Groups(this);
    this.subflows = new Subflows(this);
    this.palette = new Palette(document.getElementById("palette"), this);
    this.properties = new PropertyEditor(document.getElementById("tray"), this);
    this.tabs = new Tabs(document.getElementById("workspace"), this);
    this.deployer = new Deployer(this);
    this.debug = new DebugSidebar(document.getElementById("sidebar"), this);
    this.flowTests = new FlowTestsSidebar(document.getElementById("sidebar"));
    this.versions = new VersionsSidebar(document.getElementById("sidebar"), this);
    this.clipboard = new Clipboard(this);
    this.importExport = new ImportExport(this);
    this.search = new Search(this);
    this.quickAdd = new QuickAdd(this);
    this.bindMenus(auth);
    installKeyboard(this, this.actions());
    installContextMenu(this, this.actions());
    this.connectComms();
    this.sidebar.show("info");
    document.body.classList.toggle("read-only", model.readOnly);
    document.getElementById("readonly-badge").hidden = !model.readOnly;
    model.emit("change");
    document.body.dataset.ready = "true";
  }

  addNode(typeName, x, y) {
    this.history.record();
    const node = this.model.createNode(typeName, x, y);
    this.model.put(node);
    this.canvas.select([node.id]);
    return node;
  }

  openEditor(id) {
    const node = this.model.get(id);
    if (node?.type === "group") this.groups.edit(id);
    else if (node?.type === "subflow") this.subflows.editProperties(id);
    else if (node) this.properties.edit(node);
  }

  /** The single selected subflow instance, or null. */
  selectedInstance() {
    const { selection } = this.canvas;
    const node = selection.size === 1 ? this.model.get([...selection][0]) : null;
    return instanceOf(node) ? node : null;
  }

  showHelp(typeName) {
    this.sidebar.showHelp(typeName);
    this.sidebar.show("help");
  }

  showTab(id) {
    if (!this.model.get(id)) return;
    this.model.activeTab = id;
    this.canvas.select([]);
    this.model.emit("change");
  }

  /** Show node `id`: switch to its tab, select it and pan it into view (a group: pan only). */
  reveal(id) {
    const node = this.model.get(id);
    if (!node?.z || !this.model.get(node.z)) return;
    this.showTab(node.z);
    this.canvas.select(node.type === "group" ? [] : [id]);
    this.canvas.reveal([node]);
  }

  /** The canvas redrew: refresh what depends on the selection. */
  emitSelection() {
    this.sidebar.showSelection();
    this.debug?.applyFilter();
  }

  /** The inject / debug buttons on nodes. */
  async nodeButton(id, kind) {
    const { model } = this;
    const node = model.get(id);
    if (model.readOnly) {
      notify("Read-only: you may not trigger nodes", { type: "warning" });
      return;
    }
    if (!model.baseline.has(id) || model.changedIds().has(id)) {
      notify("This node has undeployed changes: deploy first", { type: "warning" });
      return;
    }
    try {
      if (kind === "inject") {
        await post(`inject/${encodeURIComponent(id)}`, {});
        notify(`Injected: ${model.label(node)}`, { type: "success", timeout: 2000 });
      } else if (kind === "debug") {
        const active = !(node.active !== false && node.active !== "false");
        await post(`debug/${encodeURIComponent(id)}/${active ? "enable" : "disable"}`, {});
        node.active = active;
        model.baseline.set(id, JSON.stringify(node));
        model.emit("change");
      }
    } catch (err) {
      notify(`${kind} failed: ${err.message}`, { type: "error" });
    }
  }

  deleteSelection() {
    const { canvas, model, history } = this;
    if (model.readOnly) return;
    if (canvas.selectedWire) {
      history.record();
      if (!this.subflows.disconnect(canvas.selectedWire)) disconnect(model, canvas.selectedWire);
      canvas.select([]);
      model.emit("change");
    } else if (canvas.selection.size) {
      history.record();
      model.remove([...canvas.selection]);
      canvas.select([]);
    }
  }

  actions() {
    const move = (dx, dy) => () => this.canvas.moveSelection(dx, dy);
    const readOnlyGuard = (fn) => () => { if (!this.model.readOnly) fn(); };
    return {
      delete: () => this.deleteSelection(),
      copy: () => this.clipboard.copy(),
      cut: readOnlyGuard(() => this.clipboard.cutSelection()),
      paste: () => this.clipboard.paste(),
      undo: readOnlyGuard(() => this.history.undo()),
      redo: readOnlyGuard(() => this.history.redo()),
      selectAll: () => this.canvas.select(this.model.nodesOn(this.model.activeTab).map((n) => n.id)),
      deploy: () => this.deployer.deploy(),
      export: () => this.importExport.openExport(),
      import: () => this.importExport.openImport(),
      edit: () => { if (this.canvas.selection.size === 1) this.openEditor([...this.canvas.selection][0]); },
      clearSelection: () => this.canvas.select([]),
      up: readOnlyGuard(move(0, -1)), down: readOnlyGuard(move(0, 1)),
      left: readOnlyGuard(move(-1, 0)), right: readOnlyGuard(move(1, 0)),
      up20: readOnlyGuard(move(0, -20)), down20: readOnlyGuard(move(0, 20)),
      left20: readOnlyGuard(move(-20, 0)), right20: readOnlyGuard(move(20, 0)),
      zoomIn: () => this.canvas.zoom(1.2), zoomOut: () => this.canvas.zoom(1 / 1.2), zoomReset: () => this.canvas.zoom(0),
      zoomFit: () => this.canvas.zoomToFit(),
      clearDebug: () => this.debug.clear(),
      search: () => this.search.show(),
      group: () => this.groups.groupSelection(),
      ungroup: () => this.groups.ungroupSelection(),
      createSubflow: () => this.subflows.create(),
      selectionToSubflow: () => this.subflows.convert(),
      editTemplate: () => this.subflows.show(instanceOf(this.selectedInstance())),
      convertToNodes: () => this.subflows.inline(this.selectedInstance()?.id),
      trayDone: () => this.properties.top()?.done(),
      trayCancel: () => this.properties.top()?.cancel(),
    };
  }

  bindMenus(auth) {
    const menu = document.getElementById("main-menu");
    document.getElementById("main-menu-button").addEventListener("click", (e) => {
      e.stopPropagation();
      menu.hidden = !menu.hidden;
    });
    document.addEventListener("click", () => { menu.hidden = true; });
    const actions = this.actions();
    const handlers = {
      import: actions.import, export: actions.export, review: () => this.deployer.review(),
      undo: actions.undo, redo: actions.redo, logout,
      "zoom-in": actions.zoomIn, "zoom-out": actions.zoomOut, "zoom-reset": actions.zoomReset,
      "create-subflow": actions.createSubflow, "selection-to-subflow": actions.selectionToSubflow,
      group: actions.group, ungroup: actions.ungroup,
    };
    for (const el of document.querySelectorAll("[data-menu]")) {
      el.addEventListener("click", () => handlers[el.dataset.menu]());
    }
    document.querySelector("[data-menu=logout]").hidden = !auth;
  }

  connectComms() {
    const offline = new OfflineNotice(() => comms.reconnect());
    const comms = new Comms({
      onAuthFail: () => { clearToken(); location.reload(); },
      onConnection: (up, retryIn) => {
        offline.update(up, retryIn);
        // The server replays every current status on (re)subscribing: drop the stale ones.
        if (up) this.status.clear();
        this.canvas.requestRender();
      },
    });
    comms.on("status/#", (topic, data) => {
      const id = topic.slice("status/".length);
      if (data && (data.text || data.fill)) this.status.set(id, data);
      else this.status.delete(id);
      this.canvas.requestStatus(id);
    });
    comms.on("debug", (topic, data) => this.debug.add(data));
    comms.on("debug", (topic, data) => this.flowTests.debugMessage(data));
    comms.on("notification/runtime-deploy", (topic, data) => {
      this.versions.refreshIfShown();
      if (!data?.revision || data.revision === this.model.rev || this.deployer.busy) return;
      notify("The flows on the server have been updated", {
        type: "warning", timeout: 0,
        actions: [{ label: "Reload", run: () => this.deployer.reload() }, { label: "Merge", run: () => this.deployer.merge() }],
      });
    });
    comms.on("notification/comms-dropped", (topic, data) => {
      notify(data?.text || "Some live updates were not received", { type: "warning", timeout: 8000 });
    });
    comms.on("notification/runtime-state", (topic, data) => {
      if (data?.error || data?.text) notify(`Runtime: ${data.text || data.error}`, { type: "warning", timeout: 8000 });
    });
    comms.connect();
  }
}

async function boot() {
  const pageSettings = JSON.parse(document.getElementById("flowrt-settings").textContent || "{}");
  try {
    const { settings, auth } = await authenticate(pageSettings);
    onUnauthorized(() => { clearToken(); location.reload(); });
    const model = new Model();
    model.readOnly = auth && !canWrite(settings.user?.permissions);
    model.setTypes(await get("node-types"));
    const { flows, rev } = await get("flows");
    model.load(flows, rev);
    new Editor(model, { auth, settings });
  } catch (err) {
    notify(`The editor could not start: ${err.message}`, { type: "error", timeout: 0 });
  }
}

boot();
