/**
 * Deploying: the Deploy button (grey when clean, red when dirty) with its Full /
 * Modified flows / Modified nodes menu, the pre-deploy diff review, the list of
 * invalid nodes in words with "Deploy anyway" (the server runs the rest; nodes of
 * types not installed cannot be deployed), server validation errors and nodes that
 * failed to start (GET /healthz after the deploy) placed on the offending nodes,
 * a runtime that does not answer said in words, and the 409 "newer flows on the
 * server" choice between reloading and a node-level three-way merge (conflicting
 * properties picked side by side). With a flow history (project mode) a deploy carries
 * a message: the one typed beside the button, else a summary of the changes; and an
 * old version can be deployed again. Emits "deployed" after each deploy.
 */
import { ApiError, NetworkError, get, post, request } from "./api.js";
import { openDialog, confirmDialog } from "./dialog.js";
import { describeProblem } from "./validate.js";
import { Emitter, h } from "./dom.js";
import { diffFlows, mergeThreeWay, renderDiff, resolveMerge, summarize } from "./diff.js";
import { notify } from "./notify.js";

export class Deployer extends Emitter {
  /** `editor` supplies model, canvas, history and settings. */
  constructor(editor) {
    super();
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
    this.message = document.getElementById("deploy-message");
    this.message.hidden = !editor.settings.flowHistory;
    this.message.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      this.deploy();
    });
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
    if (!this.editor.settings.flowHistory) return { flows, rev: this.model.rev };
    // Deploys are frequent: nobody is made to describe one; an undescribed one says what it did.
    const message = this.message.value.trim() || summarize(this.currentDiff(), (n) => this.model.label(n));
    return { flows, rev: this.model.rev, message };
  }

  /** Deploy the workspace with the chosen mode (ctrl-d). */
  async deploy() {
    if (this.model.readOnly || this.busy || !this.model.isDirty()) return;
    const invalid = this.model.all().filter((n) => !["tab", "group"].includes(n.type) && this.model.problems(n).length);
    const unknown = invalid.filter((n) => !this.model.type(n));
    if (unknown.length) {
      openDialog({
        title: "Cannot deploy: node types not installed",
        className: "deploy-problems-dialog",
        body: h("div", {},
          h("p", {}, "These nodes are of types this runtime does not have. Install the plugins that provide "
            + "them, or delete the nodes, then deploy:"),
          this.problemList(unknown)),
        buttons: [{ label: "Close", primary: true }],
      });
      return;
    }
    if (invalid.length) {
      const ok = await confirmDialog("Deploy with invalid nodes?", h("div", { class: "deploy-problems-body" },
        h("p", {}, `${invalid.length === 1 ? "This node is" : "These nodes are"} not properly configured:`),
        this.problemList(invalid),
        h("p", { class: "hint" }, "Deploy anyway: the invalid nodes do not run (they show a red status) "
          + "and the rest of the flows run.")), "Deploy anyway");
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
      this.message.value = "";
      notify("Successfully deployed", { type: "success" });
      this.emit("deployed");
      await this.reportFailedNodes();
    } catch (err) {
      this.failed(err);
    } finally {
      this.busy = false;
      this.model.emit("change");
    }
  }

  failed(err) {
    if (err instanceof NetworkError) {
      notify("Cannot deploy: the flowrt runtime is not reachable", {
        type: "error", timeout: 10000,
        lines: [`${err.reason}: the server did not answer; is it running? Your changes are kept: deploy again once it is back.`],
      });
    } else if (!(err instanceof ApiError)) {
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
        lines: err.body.details.map((d) => {
          const node = d.id ? this.model.get(d.id) : null;
          const who = node ? `${this.labelOf(d.id)} (${node.type}): ` : d.id ? `${d.id}: ` : "";
          return `${who}${describeProblem(d, node ? this.model.type(node) : null)}`;
        }),
      });
    } else {
      notify(`Deploy failed: ${err.message}`, { type: "error" });
    }
  }

  /** A list of nodes with their problems, in words: name (type), then each problem. */
  problemList(nodes) {
    return h("ul", { class: "deploy-problems" }, nodes.map((n) => h("li", { "data-problem-node": n.id },
      h("span", { class: "problem-node" }, this.model.label(n)), ` (${n.type})`,
      h("ul", {}, this.model.problems(n).map((p) => h("li", {}, describeProblem(p, this.model.type(n))))))));
  }

  /** After a deploy: the nodes that failed to configure or start (the rest runs), from /healthz. */
  async reportFailedNodes() {
    let health;
    try {
      health = await get("healthz");
    } catch (err) {
      health = err instanceof ApiError ? err.body : null;
    }
    const failed = (health?.failedNodes || []).filter((f) => this.model.get(f.id));
    if (!failed.length) return;
    for (const f of failed) {
      const doing = f.stage === "configure" ? "is not configured properly" : "failed to start";
      this.model.serverErrors.set(f.id, [{ path: "", message: `${doing}: ${f.error}`, server: true }]);
    }
    notify(`${failed.length === 1 ? "1 node does" : `${failed.length} nodes do`} not run; the rest of the flows run`, {
      type: "warning", timeout: 10000,
      lines: failed.map((f) => `${this.labelOf(f.id)} (${f.type}): ${f.error}`),
    });
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

  /**
   * Merge the local changes onto the server's newer flows: what only one side changed
   * merges by itself, properties both sides changed are picked side by side; the result
   * is the workspace, to review and deploy. False when the person cancelled.
   */
  async merge() {
    const { flows, rev } = await get("flows");
    const { nodes, conflicts } = mergeThreeWay(this.model.baseline, this.model.all(), flows);
    if (conflicts.length && !await this.pickConflicts(conflicts)) return false;
    const merged = resolveMerge(nodes, conflicts);
    this.editor.history.record();
    const tab = this.model.activeTab;
    const creds = new Map(this.model.creds);
    this.model.load(flows, rev);
    this.model.nodes = new Map(merged.map((n) => [n.id, n]));
    this.model.creds = creds;
    if (this.model.nodes.has(tab)) this.model.activeTab = tab;
    this.model.emit("change");
    notify(this.model.isDirty() ? "Merged your changes onto the server's flows: review and deploy"
      : "Merged: the server's flows already had your changes", { type: "warning", timeout: 8000 });
    return true;
  }

  /** The merge picker: per conflicting node, each property's value before, yours and the
   * server's side by side; a click picks one. Resolves true once every one is picked. */
  pickConflicts(conflicts) {
    return new Promise((resolve) => {
      let applied = false;
      const progress = h("p", { class: "merge-progress" });
      const update = () => {
        const left = conflicts.flatMap((c) => (c.deleted ? [c] : c.fields)).filter((f) => !f.pick).length;
        progress.textContent = left ? `${left} left to pick` : "All picked: apply the merge, then review and deploy.";
        apply.disabled = left > 0;
      };
      const { element } = openDialog({
        title: "Merge: pick the values changed on both sides",
        className: "merge-dialog",
        body: [
          h("p", {}, "Your other changes and the server's merged by themselves. These were changed both here "
            + "and on the server: for each, pick your value or the server's."),
          conflicts.map((c) => this.conflictTable(c, update)),
          progress,
        ],
        onClose: () => resolve(applied),
        buttons: [
          { label: "Cancel" },
          { label: "Apply merge", primary: true, action: "apply-merge", run: () => { applied = true; } },
        ],
      });
      const apply = element.querySelector("[data-action=apply-merge]");
      update();
    });
  }

  /** One conflicting node: a row per property, before / yours / server's. */
  conflictTable(conflict, changed) {
    const shown = (value) => (value === undefined ? "(none)" : JSON.stringify(value, null, 2));
    const rows = conflict.deleted
      ? [{ name: "the node", target: conflict, base: "(as you loaded it)",
        mine: conflict.deleted === "mine" ? "deleted" : "changed", theirs: conflict.deleted === "theirs" ? "deleted" : "changed" }]
      : conflict.fields.map((field) => ({
        name: field.keys.length > 1 ? { x: "position", w: "size" }[field.keys[0]] : field.keys[0],
        target: field,
        ...Object.fromEntries(["base", "mine", "theirs"].map((side) => [side, field.keys.length > 1 && field[side]
          ? Object.entries(field[side]).map(([k, v]) => `${k} ${v}`).join(", ") : shown(field[side])])),
      }));
    const choice = (row, index, side) => h("td", { class: `merge-choice merge-${side}` },
      h("label", {},
        h("input", {
          type: "radio", name: `merge-${conflict.id}-${index}`, value: side,
          onchange: () => { row.target.pick = side; changed(); },
        }),
        h("pre", {}, row[side])));
    return h("section", { class: "merge-conflict", "data-merge-node": conflict.id },
      h("h3", {}, h("span", { class: "diff-type" }, conflict.node.type), " ", this.model.label(conflict.node)),
      h("table", { class: "merge-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "property"), h("th", {}, "before"), h("th", {}, "yours"), h("th", {}, "on the server"))),
        h("tbody", {}, rows.map((row, index) => h("tr", { "data-merge-field": row.name },
          h("th", {}, h("code", {}, row.name)),
          h("td", { class: "merge-base" }, h("pre", {}, row.base)),
          choice(row, index, "mine"), choice(row, index, "theirs"))))));
  }

  /** Deploy an old version again (the history sidebar): the server deploys it as a new
   * version, then the editor loads it, dropping undeployed changes. */
  async deployVersion(commit) {
    this.busy = true;
    this.refresh();
    try {
      await post(`history/${encodeURIComponent(commit.rev)}/deploy`, {});
      const { flows, rev } = await get("flows");
      this.editor.history.record();
      this.model.load(flows, rev);
      notify(`Deployed version ${commit.rev.slice(0, 8)} again`, { type: "success" });
      this.emit("deployed");
    } catch (err) {
      this.failed(err);
    } finally {
      this.busy = false;
      this.model.emit("change");
    }
  }
}
