/**
 * The edit tray: a node's property form generated from its type's JSON Schema,
 * credentials as fields that never show stored secrets, config-node references
 * with add/edit (a stacked tray), inline validation, and Done / Cancel / Delete.
 * Plugins get this form with no front-end code of their own. A subflow instance's
 * tray adds its env properties and "Edit subflow template" (subflows.js).
 */
import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { applyConditions, conditional, fields } from "./form.js";
import { instanceOf, isConfigNode } from "./model.js";
import { describeProblem, validateNode } from "./validate.js";
import { fitWires } from "./wires.js";

const LINK_TARGETS = { "link out": "link in", "link in": "link out", "link call": "link in" };

export class PropertyEditor {
  /** `editor` supplies model, history, canvas and notify. */
  constructor(root, editor) {
    this.root = root;
    this.editor = editor;
    this.stack = [];
  }

  get open() {
    return this.stack.length > 0;
  }

  /** Edit the node `node` (a model node, or a new config node not yet in the model). */
  edit(node, { onDone = null } = {}) {
    const { model } = this.editor;
    const type = model.type(node);
    const draft = structuredClone(node);
    const creds = {};
    const readOnly = model.readOnly;
    const errorsBox = h("div", { class: "tray-errors" });
    const panel = h("section", { class: "tray-panel", "data-editing": node.id, "data-editing-type": node.type });
    let ctx = null;
    const validate = () => {
      if (ctx) applyConditions(ctx);
      this.showErrors(panel, type ? validateNode(draft, type, (id) => model.get(id)) : [], type);
    };
    ctx = this.formContext(draft, type, readOnly, validate);
    const body = type
      ? [fields(type.schema || {}, draft, "", ctx), this.credentialFields(node, type, creds, readOnly, draft, ctx),
        this.editor.subflows?.instanceFields(draft)]
      : [h("p", { class: "warning" }, `Unknown node type "${node.type}": its settings are kept as they are.`)];
    const description = "x" in node
      ? h("div", { class: "form-row" }, h("label", { for: "node-info" }, "Description"),
        h("textarea", {
          id: "node-info", rows: 4, value: draft.info || "", readOnly,
          oninput: (e) => { draft.info = e.target.value; },
        }))
      : null;
    const enabled = "x" in node
      ? h("div", { class: "form-row inline" }, h("label", { for: "node-enabled" }, "Enabled"),
        h("input", {
          type: "checkbox", id: "node-enabled", checked: !draft.d, disabled: readOnly,
          onchange: (e) => { if (e.target.checked) delete draft.d; else draft.d = true; },
        }))
      : null;
    const close = () => this.close(panel);
    const done = () => {
      this.save(node, draft, creds, ctx.origins);
      close();
      onDone?.(draft);
    };
    const remove = () => {
      this.editor.history.record();
      model.remove([node.id]);
      close();
    };
    panel.append(
      h("header", { class: "tray-header" },
        h("span", { class: "tray-title" }, instanceOf(node)
          ? `Edit subflow instance: ${type?.paletteLabel || node.type}` : `Edit ${type?.paletteLabel || node.type} node`),
        this.editor.subflows?.templateButton(node, close),
        model.get(node.id) && !readOnly ? h("button", { class: "secondary danger", "data-action": "delete-node", onclick: remove }, "Delete") : null,
        h("button", { class: "secondary", "data-action": "cancel", onclick: close }, "Cancel"),
        readOnly ? null : h("button", { class: "primary", "data-action": "done", onclick: done }, "Done")),
      h("form", { class: "tray-body", onsubmit: (e) => e.preventDefault() }, errorsBox, body, description, enabled));
    panel.done = done;
    panel.cancel = close;
    panel.draft = draft;
    this.root.append(panel);
    this.stack.push(panel);
    this.root.hidden = false;
    this.editor.sidebar?.editing(node.type);
    validate();
    panel.querySelector("input, select, textarea")?.focus();
    return panel;
  }

  formContext(draft, type, readOnly, validate) {
    const props = type?.schema?.properties || {};
    const typeKeyOf = (key, schema) => {
      const candidate = schema["x-type-key"] || `${key}Type`;
      return candidate in props ? candidate : null;
    };
    const skip = new Set(Object.entries(props)
      .filter(([, schema]) => schema?.["x-kind"] === "typed").map(([key, schema]) => typeKeyOf(key, schema)).filter(Boolean));
    const order = [...new Set(["name", ...(type?.editor?.order || [])])];  // "name" once, first
    const { model } = this.editor;
    return {
      readOnly, skip, order, typeKeyOf,
      conditions: [],
      origins: new Map(), outputsFrom: type?.editor?.outputsFrom,
      lookup: (id) => (id ? model.get(id) || this.pendingConfig(id) : undefined),
      typeOf: (node) => model.type(node),
      schemaOf: (key) => props[key],
      changed: validate,
      configPicker: (refType, holder, key) => this.configPicker(refType, holder, key, validate, readOnly),
      // The other nodes of the node's flow, for node-list fields (catch / status / complete scope).
      flowNodes: () => model.nodesOn(draft.z).filter((n) => n.id !== draft.id)
        .map((n) => ({ id: n.id, label: model.label(n), type: n.type }))
        .sort((a, b) => a.label.localeCompare(b.label)),
      custom: (key, schema, holder, path) => (
        path === "/links" && LINK_TARGETS[draft.type] ? this.linkPicker(draft, holder, validate, readOnly) : null),
    };
  }

  /** A config node being created in a stacked tray above (not in the model yet). */
  pendingConfig(id) {
    return this.stack.map((p) => p.draft).find((d) => d?.id === id);
  }

  /** Show validation messages next to their fields (and a summary at the top, in words). */
  showErrors(panel, errors, type) {
    panel.querySelectorAll(".field-error").forEach((el) => el.remove());
    panel.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    for (const error of errors) {
      let path = error.path;
      let target = null;
      while (!target && path) {
        target = panel.querySelector(`[data-path="${CSS.escape(path)}"]`);
        path = path.slice(0, path.lastIndexOf("/"));
      }
      if (target) {
        target.classList.add("invalid");
        target.append(h("div", { class: "field-error", "data-error-path": error.path }, error.message));
      } else {
        panel.querySelector(".tray-errors").append(h("div", { class: "field-error", "data-error-path": error.path },
          describeProblem(error, type)));
      }
    }
  }

  /** The credential fields; the type's `editor.credentials` hints give each its `title` and
   * `x-show-if` / `x-title-by` against the node's fields (http request: by auth type). */
  credentialFields(node, type, creds, readOnly, draft, ctx) {
    const entries = Object.entries(type.credentials || {});
    if (!entries.length) return null;
    const { model } = this.editor;
    const pending = model.creds.get(node.id) || {};
    const inputs = new Map();
    const rows = entries.map(([name, spec]) => {
      const password = spec.type === "password";
      const input = h("input", {
        type: password ? "password" : "text", autocomplete: "new-password", readOnly, "data-credential": name,
        value: password ? "" : (pending[name] ?? ""),
        placeholder: password && name in pending ? "changed (not deployed yet)" : "",
      });
      input.addEventListener("input", () => { creds[name] = input.value; });
      inputs.set(name, input);
      const hints = type.editor?.credentials?.[name] || {};
      input.id = `credential-${name}`;
      return conditional(h("div", { class: "form-row", "data-path": `/credentials/${name}` },
        h("label", { for: input.id }, hints.title || name.charAt(0).toUpperCase() + name.slice(1)), input),
      hints, draft, `/${name}`, ctx);  // its conditions read the node's own (top-level) fields
    });
    if (model.baseline.has(node.id)) {
      get(`credentials/${encodeURIComponent(node.type)}/${encodeURIComponent(node.id)}`).then((stored) => {
        for (const [name, input] of inputs) {
          if (name in creds || name in pending) continue;
          if (input.type === "password") {
            if (stored?.[`has_${name}`]) input.placeholder = "stored — type to replace";
          } else if (typeof stored?.[name] === "string") {
            input.value = stored[name];
          }
        }
      }).catch(() => {});
    }
    return h("fieldset", { class: "form-object credentials" }, h("legend", {}, "Credentials"), rows);
  }

  configPicker(refType, holder, key, validate, readOnly) {
    const { model } = this.editor;
    const select = h("select", { disabled: readOnly, "data-config-type": refType });
    const fill = () => {
      const choices = model.configNodes(refType);
      replace(select, 
        h("option", { value: "" }, "none"),
        choices.map((n) => h("option", { value: n.id, selected: n.id === holder[key] }, model.label(n))),
        h("option", { value: "__add__" }, `Add new ${refType}...`));
      if (holder[key] && !choices.some((n) => n.id === holder[key])) {
        select.prepend(h("option", { value: holder[key], selected: true }, `missing: ${holder[key]}`));
      }
    };
    const openConfig = (configNode) => this.edit(configNode, {
      onDone: (saved) => {
        holder[key] = saved.id;
        fill();
        validate();
      },
    });
    select.addEventListener("change", () => {
      if (select.value === "__add__") {
        fill();
        openConfig(model.createNode(refType));
      } else {
        holder[key] = select.value;
        validate();
      }
    });
    const editButton = h("button", {
      type: "button", class: "secondary edit-config", title: `Edit ${refType}`, disabled: readOnly,
      onclick: () => {
        const existing = model.get(holder[key]);
        openConfig(existing || model.createNode(refType));
      },
    }, "✎");
    fill();
    return h("span", { class: "config-picker" }, select, editButton);
  }

  linkPicker(draft, holder, validate, readOnly) {
    const { model } = this.editor;
    const wanted = LINK_TARGETS[draft.type];
    const candidates = [...model.nodes.values()].filter((n) => n.type === wanted && n.id !== draft.id);
    if (!Array.isArray(holder.links)) holder.links = [];
    const rows = candidates.map((n) => {
      const tab = model.get(n.z);
      const box = h("input", {
        type: "checkbox", checked: holder.links.includes(n.id), disabled: readOnly, "data-link-target": n.id,
        onchange: () => {
          holder.links = box.checked ? [...holder.links, n.id] : holder.links.filter((id) => id !== n.id);
          validate();
        },
      });
      return h("label", { class: "link-target" }, box, `${model.label(n)} (${tab ? model.label(tab) : "?"})`);
    });
    return h("fieldset", { class: "form-list", "data-path": "/links" }, h("legend", {}, `Linked ${wanted} nodes`),
      rows.length ? rows : h("p", { class: "hint" }, `No ${wanted} nodes yet.`));
  }

  /** Put the edited node in the model; `origins` (form.js lists) moves a switch's wires
   * with its rules, as Node-RED does, when they were reordered or removed. */
  save(node, draft, creds, origins = new Map()) {
    const { model, history } = this.editor;
    const existing = model.get(node.id);
    const credsChanged = Object.keys(creds).length > 0;
    if (existing && JSON.stringify(existing) === JSON.stringify(draft) && !credsChanged) return;
    history.record();
    if (credsChanged) model.creds.set(node.id, { ...(model.creds.get(node.id) || {}), ...creds });
    const from = model.type(draft)?.editor?.outputsFrom;
    // One output per list item (switch rules): `outputs` is saved as Node-RED saves it.
    const origin = from && from !== "outputs" ? origins.get(`/${from}`) : null;
    if (origin && Array.isArray(draft.wires)) draft.wires = origin.map((index) => (index >= 0 && draft.wires[index]) || []);
    if (from && from !== "outputs" && Array.isArray(draft[from]) && "outputs" in draft) draft.outputs = draft[from].length;
    if (!isConfigNode(draft)) fitWires(model, draft);
    model.serverErrors.delete(node.id);
    model.put(draft);
  }

  close(panel) {
    const index = this.stack.indexOf(panel);
    if (index === -1) return;
    for (const p of this.stack.splice(index)) p.remove();
    this.root.hidden = this.stack.length === 0;
    this.editor.sidebar?.editing(this.top()?.dataset.editingType || null);
  }

  /** Done / cancel for the top panel (ctrl-enter / ctrl-escape). */
  top() {
    return this.stack[this.stack.length - 1] || null;
  }
}

