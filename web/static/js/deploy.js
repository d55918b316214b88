/**
 * Deploying: the Deploy button (grey when clean, red when dirty) with its Full /
 * Modified flows / Modified nodes menu, the pre-deploy diff review, server
 * validation errors placed on the offending nodes, and the 409 "newer flows on
 * the server" choice between reloading and merging.
 */
import { ApiError, get, request } from "./api.js";
import { openDialog, confirmDialog } from "./dialog.js";
import { h } from "./dom.js";
import { diffFlows, mergeOnto, renderDiff } from "./diff.js";
import { notify } from "./notify.js";

export class Deployer {
  /** `editor` supplies model, canvas, history. */
  constructor(editor) {
    this.editor = editor;
    this.model = editor.model;
    this.button = document.getElementById("deploy-button");
    this.menu = document.getElementById("deploy-menu");
    this.mode = "full";
    this.busy = false;
    this.button.addEventListener("click", () => this.deploy());
    document.getElementById("deploy-menu-button").addEventListener("click", (e) => {
      e.stopPropagation();
      this.menu.hidden = !this.menu.hidden;
    });
    document.addEventListener("click", (e) => { if (!this.menu.contains(e.target)) this.menu.hidden = true; });
    for (const radio of this.menu.querySelectorAll("input[name=deploy-type]")) {
      radio.addEventListener("change", () => {
        this.mode = radio.value;
        this.button.querySelector(".deploy-mode").textContent = radio.closest("label").textContent.trim();
      });
    }
    this.menu.querySelector("[data-action=review]").addEventListener("click", () => {
      this.menu.hidden = true;
      this.review();
    });
    this.model.on("change", () => this.refresh());
    window.addEventListener("beforeunload", (e) => { if (this.model.isDirty()) e.preventDefault(); });
  }

  refresh() {
    const dirty = this.model.isDirty();
    this.button.disabled = this.model.readOnly || this.busy || !dirty;
    this.button.classList.toggle("dirty", dirty);
    document.body.classList.toggle("dirty", dirty);
  }

  /** The local changes against the deployed flows. */
  currentDiff() {
    const before = [...this.model.baseline.values()].map((text) => JSON.parse(text));
    return diffFlows(before, this.model.all());
  }

  review() {
    openDialog({
      title: "Review changes",
      className: "diff-dialog",
      body: renderDiff(this.currentDiff(), (n) => this.model.label(n), (id) => this.model.get(id)),
      buttons: [
        { label: "Close" },
        { label: "Deploy", primary: true, action: "deploy-reviewed", run: () => { this.deploy(); } },
      ],
    });
  }

  body() {
    const flows = this.model.all().map((node) => {
      const creds = this.model.creds.get(node.id);
      return creds ? { ...node, credentials: creds } : node;
    });
    return { flows, rev: this.model.rev };
  }

  /** Deploy the workspace with the chosen mode (ctrl-d). */
  async deploy() {
    if (this.model.readOnly || this.busy || !this.model.isDirty()) return;
    const invalid = this.model.all().filter((n) => !["tab", "group"].includes(n.type) && this.model.problems(n).length);
    if (invalid.length) {
      const ok = await confirmDialog("Deploy with errors?", h("div", {},
        h("p", {}, "These nodes are not properly configured:"),
        h("ul", {}, invalid.map((n) => h("li", {}, `${this.model.label(n)} (${n.type})`)))), "Deploy anyway");
      if (!ok) return;
    }
    this.busy = true;
    this.refresh();
    try {
      const sent = structuredClone(this.model.all());
      const result = await request("POST", "flows", {
        body: this.body(),
        headers: { "Node-RED-Deployment-Type": this.mode },
      });
      this.model.markDeployed(result?.rev ?? null, sent);
      notify("Successfully deployed", { type: "success" });
    } catch (err) {
      this.failed(err);
    } finally {
      this.busy = false;
      this.model.emit("change");
    }
  }

  failed(err) {
    if (!(err instanceof ApiError)) {
      notify(`Deploy failed: ${err.message}`, { type: "error" });
    } else if (err.status === 409) {
      this.conflict();
    } else if (err.status === 400 && Array.isArray(err.body?.details)) {
      this.model.serverErrors.clear();
      for (const detail of err.body.details) {
        if (!detail.id) continue;
        const list = this.model.serverErrors.get(detail.id) || [];
        list.push({ path: detail.path || "", message: String(detail.message), server: true });
        this.model.serverErrors.set(detail.id, list);
      }
      notify(`Deploy rejected: ${err.body.message || "invalid flows"}`, {
        type: "error", timeout: 10000,
        lines: err.body.details.map((d) => `${d.id ? `${this.labelOf(d.id)}: ` : ""}${d.path ? `${d.path} ` : ""}${d.message}`),
      });
    } else {
      notify(`Deploy failed: ${err.message}`, { type: "error" });
    }
  }

  labelOf(id) {
    const node = this.model.get(id);
    return node ? this.model.label(node) : id;
  }

  conflict() {
    openDialog({
      title: "Flows changed on the server",
      body: h("p", {}, "The flows on the server were updated since you loaded them. Reload them (your undeployed "
        + "changes are lost), or merge your changes onto the server's flows, review them and deploy again."),
      buttons: [
        { label: "Cancel" },
        { label: "Reload", action: "reload-flows", run: () => this.reload() },
        { label: "Merge", primary: true, action: "merge-flows", run: () => this.merge() },
      ],
    });
  }

  /** Load the server's flows, dropping local changes. */
  async reload() {
    const { flows, rev } = await get("flows");
    this.editor.history.record();
    this.model.load(flows, rev);
    notify("Flows reloaded from the server", { type: "success" });
  }

  async merge() {
    const { flows, rev } = await get("flows");
    const { nodes, conflicts } = mergeOnto(flows, this.currentDiff(), this.model.baseline);
    this.editor.history.record();
    const tab = this.model.activeTab;
    const creds = new Map(this.model.creds);
    this.model.load(flows, rev);
    this.model.nodes = new Map(nodes.map((n) => [n.id, n]));
    this.model.creds = creds;
    if (this.model.nodes.has(tab)) this.model.activeTab = tab;
    this.model.emit("change");
    notify(conflicts.length ? `Merged; your version replaced ${conflicts.length} node(s) also changed on the server`
      : "Merged your changes onto the server's flows: review and deploy", { type: "warning", timeout: 8000 });
  }
}
