/**
 * The history sidebar (project mode: settings.flowHistory, docs/projects.md): the
 * deployed versions of the flows, newest first, with their message, author and age;
 * select one to see what changed since it, or two to see what changed between them
 * (the server's semantic diff, diff.js renderChanges), and deploy an old version again.
 * (history.js is the editor's undo history, not this.)
 */
import { get } from "./api.js";
import { confirmDialog, openDialog } from "./dialog.js";
import { renderChanges } from "./diff.js";
import { h, replace } from "./dom.js";
import { notify } from "./notify.js";

const AGES = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60]];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago", "yesterday", or "just now" for an ISO date. */
function age(date, now = Date.now()) {
  const seconds = (new Date(date).getTime() - now) / 1000;
  for (const [unit, size] of AGES) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

const subject = (commit) => (commit.message || "").split("\n")[0] || "(no message)";
const short = (rev) => rev.slice(0, 8);

export class VersionsSidebar {
  /** `root`: the sidebar holding `#sidebar-history`; `editor` supplies model and deployer. */
  constructor(root, editor) {
    this.editor = editor;
    this.pane = root.querySelector("#sidebar-history");
    this.commits = [];
    this.head = null;
    this.selected = [];
    this.error = "";
    const tab = root.querySelector('[data-sidebar-tab="history"]');
    tab.hidden = !editor.settings.flowHistory;
    tab.addEventListener("click", () => this.refresh());
    editor.deployer.on("deployed", () => this.refreshIfShown());
  }

  /** Reload the list when it is on screen (after a deploy, here or in another editor). */
  refreshIfShown() {
    if (!this.pane.hidden) this.refresh();
  }

  async refresh() {
    try {
      const { head, commits } = await get("history");
      this.head = head;
      this.commits = commits;
      this.error = "";
    } catch (error) {
      this.commits = [];
      this.error = `The history could not be read: ${error.message}`;
    }
    this.selected = this.selected.filter((rev) => this.commits.some((c) => c.rev === rev));
    this.render();
  }

  render() {
    const count = this.selected.length;
    const onlyHead = count === 1 && this.selected[0] === this.head;
    const toolbar = h("div", { class: "versions-toolbar" },
      h("button", {
        type: "button", "data-action": "compare", disabled: !count || onlyHead, onclick: () => this.compare(),
      }, count === 2 ? "compare the two" : "changes since"),
      h("button", { type: "button", "data-action": "refresh-history", onclick: () => this.refresh() }, "refresh"),
      h("span", { class: "hint" }, count ? `${count} selected` : "select one or two versions"));
    const list = h("ol", { class: "versions-list" }, this.commits.map((commit) => this.row(commit)));
    const empty = this.commits.length ? null : h("p", { class: "hint" }, this.error || "No deploys yet.");
    replace(this.pane, toolbar, empty, list);
  }

  row(commit) {
    const current = commit.rev === this.head;
    const selected = this.selected.includes(commit.rev);
    return h("li", { class: `version${selected ? " selected" : ""}${current ? " current" : ""}`, "data-rev": commit.rev },
      h("label", { class: "version-select" },
        h("input", {
          type: "checkbox", checked: selected, "aria-label": `Select version ${short(commit.rev)}`,
          onchange: () => this.toggle(commit.rev),
        }),
        h("span", { class: "version-message" }, subject(commit))),
      h("div", { class: "version-meta" },
        h("span", { class: "version-author", title: commit.email || "" }, commit.author),
        " · ",
        h("time", { class: "version-date", datetime: commit.date, title: new Date(commit.date).toLocaleString() }, age(commit.date)),
        " · ",
        h("code", { class: "version-rev" }, short(commit.rev)),
        current ? h("span", { class: "badge version-current" }, "deployed") : null),
      current || this.editor.model.readOnly ? null : h("button", {
        type: "button", class: "link", "data-action": "deploy-version", onclick: () => this.deployVersion(commit),
      }, "Deploy this version"));
  }

  /** Select or unselect a version: two at most, the oldest choice giving way. */
  toggle(rev) {
    this.selected = this.selected.includes(rev) ? this.selected.filter((r) => r !== rev) : [...this.selected, rev].slice(-2);
    this.render();
  }

  /** The changes from the older selected version to the newer one (or to the deployed one). */
  async compare() {
    const index = (rev) => this.commits.findIndex((c) => c.rev === rev);
    const [from, to] = [...this.selected, this.head].slice(0, 2).sort((a, b) => index(b) - index(a));
    const commitOf = (rev) => this.commits[index(rev)];
    try {
      const [changes, before, after] = await Promise.all([
        get(`history/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
        get(`history/${encodeURIComponent(from)}`), get(`history/${encodeURIComponent(to)}`)]);
      const nodes = new Map([...before.flows, ...after.flows].map((n) => [n.id, n]));
      const nameOf = (id) => (nodes.has(id) ? this.editor.model.label(nodes.get(id)) : id);
      const heading = (rev) => h("li", {}, h("code", {}, short(rev)), ` ${subject(commitOf(rev))} — ${commitOf(rev).author}, ${age(commitOf(rev).date)}`);
      openDialog({
        title: `Changes from ${short(from)} to ${to === this.head ? "the deployed version" : short(to)}`,
        className: "diff-dialog versions-diff",
        body: [h("ul", { class: "versions-compared" }, heading(from), heading(to)), renderChanges(changes, nameOf)],
        buttons: [{ label: "Close", primary: true }],
      });
    } catch (error) {
      notify(`The versions could not be compared: ${error.message}`, { type: "error" });
    }
  }

  async deployVersion(commit) {
    const dirty = this.editor.model.isDirty();
    const ok = await confirmDialog("Deploy this version?", h("div", {},
      h("p", {}, `Deploy version ${short(commit.rev)} ("${subject(commit)}", ${commit.author}, ${age(commit.date)}) again? `
        + "Its flows replace the running ones, as a new version in the history (nothing is lost: the current one stays in it)."),
      dirty ? h("p", { class: "warning" }, "Your undeployed changes in this editor are dropped.") : null), "Deploy this version");
    if (ok) await this.editor.deployer.deployVersion(commit);
  }
}
