/**
 * Form fields generated from a JSON Schema. `field(key, schema, holder, path, ctx)`
 * edits `holder[key]` in place and calls `ctx.changed()` after each edit. Kinds:
 * config-node references, enums, booleans, numbers, Node-RED typed inputs, strings,
 * arrays (of objects such as threshold rules, or of scalars), objects, and raw JSON
 * for anything else. Every wrapper carries data-path (a JSON pointer) so
 * validation messages land next to their field.
 *
 * Code: `x-format` makes a text field code in that language (codeeditor.js), and
 * `x-format-by` names the key whose value is the language instead (function's
 * `language`, template's `format`). A typed input of type `jsonata` has a button that
 * opens the expression editor and its tester (expression.js).
 *
 * Editor annotations (flowrt/schema.py): `title` is the label (`x-title-by` makes it follow
 * another field's value) and `description` a hint
 * under the field; `x-labels` the words of enum values (values with the same text,
 * "1" and 1, are one choice); `x-hidden` keeps a key out of the form; `x-show-if`
 * shows a field only while other fields (or a referenced config node's) have given
 * values: ctx.conditions collects them and `applyConditions(ctx)` re-evaluates.
 * `x-widget: "node-list"` on a list of node ids (catch / status / complete `scope`) ticks
 * nodes of the same flow (`ctx.flowNodes()`); when the schema also allows null and
 * "group", a select offers Node-RED's "all nodes" / "in the same group" / "selected nodes".
 * `x-widget: "row"` on an object (a switch or change rule) lays its fields out on one
 * line, their labels kept for screen readers only, but for the keys in `x-row-labels`
 * whose titles read as words between the fields ("and", "to the value").
 */
import { codeEditor } from "./codeeditor.js";
import { h, replace } from "./dom.js";
import { expressionButton } from "./expression.js";

const TYPED_TYPES = ["msg", "flow", "global", "str", "num", "bool", "json", "bin", "date", "env", "jsonata"];
/** Node-RED's words for typed-input types; the types with no value have no text box. */
export const TYPED_LABELS = {
  msg: "msg.", flow: "flow.", global: "global.", str: "string", num: "number",
  bool: "boolean", json: "JSON", bin: "buffer", date: "timestamp", env: "env variable",
  jsonata: "expression", re: "regular expression", full: "complete msg object",
  pay: "the original msg object", payl: "the latest msg object", nul: "nothing", null: "null",
  val: "value", elem: "element value", seq: "message sequence", prev: "previous value",
};
/** The schema of each nested object a form edits (a list item), for its typed values' type keys. */
const objectSchemas = new WeakMap();
const VALUELESS_TYPES = new Set(["full", "date", "pay", "payl", "nul", "null", "auto", "counter"]);

/** A value as text for comparing ("1" and 1 alike; true → "true"), as flowrt.schema.value_text. */
export function valueText(value) {
  if (value === null || value === undefined) return "null";
  return String(value);
}
const MULTILINE_KEYS = new Set(["func", "info", "template", "initialize", "finalize"]);

/** A human label for a config key: the schema title, else the key split on camelCase. */
export function labelFor(key, schema) {
  if (schema?.title) return schema.title;
  const text = String(key).replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The default value a schema gives a new item. */
export function defaultFor(schema) {
  if (schema && "default" in schema) return structuredClone(schema.default);
  if (schema?.properties) {
    return Object.fromEntries(Object.entries(schema.properties)
      .filter(([, sub]) => sub && "default" in sub).map(([k, sub]) => [k, structuredClone(sub.default)]));
  }
  if (schema?.type === "array") return [];
  if (schema?.enum) return schema.enum[0];
  return "";
}

function kindOf(schema) {
  if (!schema || typeof schema !== "object") return "json";
  if (schema["x-node-type"]) return "ref";
  if (schema["x-widget"] === "node-list") return "nodeList";
  if (schema["x-kind"] === "table" && schema.properties) return "table";
  if (schema["x-kind"] === "batch-modes" && schema.properties) return "batchModes";
  if (schema.enum) return "enum";
  const kind = schema["x-kind"];
  if (kind === "boolean" || schema.type === "boolean") return "boolean";
  if (kind === "number" || kind === "integer" || schema.type === "number" || schema.type === "integer") return "number";
  if (kind === "typed") return "typed";
  if (schema.type === "array") return "array";
  if (schema.type === "object" && schema.properties) return "object";
  if (schema.type === "string") return "string";
  return "json";
}

/** The placeholder of a text field: its default, which the runtime uses while the field is empty. */
const placeholderFor = (schema) => (schema.default === undefined || schema.default === null || schema.default === "" ? "" : String(schema.default));

/** The text shown for a number field. */
const asText = (value) => (value === undefined || value === null ? "" : String(value));

/** Parse typed text back, keeping the stored form (Node-RED often stores numbers as strings). */
function numberFrom(text, previous, schema) {
  const unset = previous === undefined || previous === null;
  const wantsNumber = typeof previous === "number" || (unset && typeof schema.default !== "string");
  if (text.trim() === "") return previous === null || (schema.default === null && wantsNumber) ? null : "";
  if (wantsNumber && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text)) return Number(text);
  return text;
}

function wrap(key, schema, path, control, { inline = false } = {}) {
  const id = `f${Math.random().toString(36).slice(2, 10)}`;
  const focusable = control.matches?.("input, select, textarea") ? control : control.querySelector?.("input, select, textarea");
  if (focusable) focusable.id = focusable.id || id;
  return h("div", { class: `form-row${inline ? " inline" : ""}`, "data-path": path, "data-key": key },
    h("label", { for: focusable?.id || id }, labelFor(key, schema)), control,
    schema.description ? h("div", { class: "field-hint" }, schema.description) : null);
}

/** The choices of an enum schema: one per value text, with its words. */
export function enumChoices(schema) {
  const labels = schema["x-labels"] || {};
  const seen = new Map();
  for (const value of schema.enum || []) {
    const text = valueText(value);
    if (!seen.has(text)) seen.set(text, { text, values: [value], label: labels[text] ?? (text === "" ? "—" : text) });
    else seen.get(text).values.push(value);
  }
  return [...seen.values()];
}

const BUILDERS = {
  ref(key, schema, holder, path, ctx) {
    return wrap(key, schema, path, ctx.configPicker(schema["x-node-type"], holder, key));
  },

  enum(key, schema, holder, path, ctx) {
    const choices = enumChoices(schema);
    // A key the node lacks (an older export) shows the schema's default, as the runtime uses it.
    const current = key in holder ? valueText(holder[key]) : "default" in schema ? valueText(schema.default) : null;
    const options = choices.map((c) => h("option", { value: c.text, selected: c.text === current }, c.label));
    if (current !== null && !choices.some((c) => c.text === current)) {
      options.push(h("option", { value: current, selected: true }, `${current} (not a valid choice)`));
    }
    const select = h("select", { disabled: ctx.readOnly }, options);
    select.addEventListener("change", () => {
      const choice = choices.find((c) => c.text === select.value);
      if (!choice) return;
      // Keep the stored form: a node that held "1" (text) gets "2", one that held 1 gets 2.
      const before = holder[key] === undefined ? schema.default : holder[key];
      holder[key] = choice.values.find((v) => typeof v === typeof before) ?? choice.values[0];
      ctx.changed();
    });
    return wrap(key, schema, path, select);
  },

  boolean(key, schema, holder, path, ctx) {
    const value = key in holder ? holder[key] : schema.default;
    const box = h("input", { type: "checkbox", checked: value === true || value === "true", disabled: ctx.readOnly });
    box.addEventListener("change", () => {
      holder[key] = typeof value === "string" ? String(box.checked) : box.checked;
      ctx.changed();
    });
    return wrap(key, schema, path, box, { inline: true });
  },

  number(key, schema, holder, path, ctx) {
    const input = h("input", {
      type: "text", inputmode: "decimal", value: asText(holder[key]), readOnly: ctx.readOnly, placeholder: placeholderFor(schema),
    });
    const previous = holder[key];
    input.addEventListener("input", () => { holder[key] = numberFrom(input.value, previous, schema); ctx.changed(); });
    return wrap(key, schema, path, input);
  },

  typed(key, schema, holder, path, ctx) {
    // Always text: a typed value such as "true" is a property name or a string, never JSON.
    const input = h("input", { type: "text", value: asText(holder[key]), readOnly: ctx.readOnly });
    input.addEventListener("input", () => { holder[key] = input.value; ctx.changed(); });
    const nested = path.split("/").length > 2;
    // Nested (a list item's value): the type key must be named by x-type-key.
    const typeKey = nested ? schema["x-type-key"] || null : ctx.typeKeyOf(key, schema);
    const parts = [input];
    if (typeKey) {
      const typeSchema = (nested ? objectSchemas.get(holder)?.properties?.[typeKey] : ctx.schemaOf(typeKey)) || {};
      const labels = { ...TYPED_LABELS, ...(typeSchema["x-labels"] || {}) };
      const listed = [...new Set((typeSchema.enum || schema["x-types"] || TYPED_TYPES).map(String))];
      const current = holder[typeKey] || typeSchema.default || listed[0];
      const choices = listed.includes(current) ? listed : [...listed, current];
      const select = h("select", { class: "typed-type", disabled: ctx.readOnly, "data-type-key": typeKey },
        choices.map((choice) => h("option", { value: choice, selected: choice === current }, labels[choice] || choice)));
      const expand = expressionButton(input, ctx.readOnly);
      const valueless = () => {
        input.hidden = VALUELESS_TYPES.has(select.value);
        expand.hidden = select.value !== "jsonata";
      };
      select.addEventListener("change", () => { holder[typeKey] = select.value; valueless(); ctx.changed(); });
      valueless();
      parts.unshift(select);
      parts.push(expand);
    }
    return wrap(key, schema, path, h("span", { class: "typed-input" }, parts));
  },

  string(key, schema, holder, path, ctx) {
    const code = "x-format" in schema || "x-format-by" in schema || schema["x-kind"] === "code";
    const multiline = code || MULTILINE_KEYS.has(key) || schema["x-kind"] === "multiline";
    const input = multiline
      ? h("textarea", { rows: 8, value: asText(holder[key]), readOnly: ctx.readOnly, spellcheck: "false", "aria-label": labelFor(key, schema) })
      : h("input", { type: "text", value: asText(holder[key]), readOnly: ctx.readOnly, placeholder: placeholderFor(schema) });
    input.addEventListener("input", () => { holder[key] = input.value; ctx.changed(); });
    if (!code) return wrap(key, schema, path, input);
    const by = schema["x-format-by"];
    const format = () => (by && holder[by] ? String(holder[by]) : schema["x-format"] || ctx.schemaOf?.(by)?.default || "");
    const editor = codeEditor(input, { language: format(), readOnly: ctx.readOnly, title: labelFor(key, schema) });
    const row = wrap(key, schema, path, editor.element);
    row.classList.add("code");
    if (by) ctx.conditions?.push({ el: row, follow: () => editor.setLanguage(format()) });
    return row;
  },

  json(key, schema, holder, path, ctx) {
    const value = holder[key];
    const input = h("input", {
      type: "text", class: "json-input", readOnly: ctx.readOnly,
      value: value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value),
    });
    input.addEventListener("input", () => {
      try {
        holder[key] = JSON.parse(input.value);
      } catch {
        holder[key] = input.value;
      }
      ctx.changed();
    });
    return wrap(key, schema, path, input);
  },

  object(key, schema, holder, path, ctx) {
    if (!holder[key] || typeof holder[key] !== "object") holder[key] = defaultFor(schema);
    objectSchemas.set(holder[key], schema);
    if (schema["x-widget"] === "row") {
      const words = new Set(schema["x-row-labels"] || []);
      const parts = fields(schema, holder[key], path, ctx);
      for (const part of parts) if (!words.has(part.dataset.key)) part.classList.add("unlabelled");
      return h("div", {
        class: "form-object form-line", role: "group", "aria-label": labelFor(key, schema), "data-path": path, "data-key": key,
      }, parts);
    }
    return h("fieldset", { class: "form-object", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)),
      fields(schema, holder[key], path, ctx));
  },

  /** An object of objects (or of values) as a table: one row per property, one column
   * per property of the rows (`x-kind: table`), e.g. retries per priority. */
  table(key, schema, holder, path, ctx) {
    if (!holder[key] || typeof holder[key] !== "object") holder[key] = defaultFor(schema);
    const rows = Object.entries(schema.properties);
    const rowSchema = rows[0]?.[1] || {};
    const columns = rowSchema.properties ? Object.entries(rowSchema.properties) : [[null, rowSchema]];
    const cell = (rowKey, colKey, colSchema) => {
      const row = holder[key][rowKey];
      const target = colKey === null ? holder[key] : (row && typeof row === "object" ? row : (holder[key][rowKey] = {}));
      const name = colKey === null ? rowKey : colKey;
      const value = target[name];
      const input = h("input", {
        type: "text", inputmode: "decimal", readOnly: ctx.readOnly, value: asText(value),
        "aria-label": `${rowKey} ${colKey === null ? schema["x-column"] || "" : labelFor(colKey, colSchema)}`.trim(),
      });
      input.addEventListener("input", () => {
        const text = input.value.trim();
        if (text === "") {
          // Empty: the default for that cell (null where the schema allows it, e.g. "never").
          if (colKey === null) target[name] = null; else delete target[name];
        } else {
          target[name] = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : text;
        }
        ctx.changed();
      });
      return h("td", { "data-path": `${path}/${rowKey}${colKey === null ? "" : `/${colKey}`}` }, input);
    };
    return h("fieldset", { class: "form-table", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)),
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, ""),
          columns.map(([colKey, colSchema]) => h("th", {}, colKey === null ? schema["x-column"] || "Value" : labelFor(colKey, colSchema))))),
        h("tbody", {}, rows.map(([rowKey, sub]) => h("tr", { "data-row": rowKey },
          h("th", {}, labelFor(rowKey, sub)),
          columns.map(([colKey, colSchema]) => cell(rowKey, colKey, colSchema)))))),
      schema.description ? h("div", { class: "field-hint" }, schema.description) : null);
  },

  /** Per priority: stream, or batch every N seconds / M messages (cloud-bridge `modes`). */
  batchModes(key, schema, holder, path, ctx) {
    if (!holder[key] || typeof holder[key] !== "object") holder[key] = defaultFor(schema);
    const modes = holder[key];
    const defaults = schema.default || {};
    const row = (priority) => {
      const batchOf = () => (modes[priority] && typeof modes[priority] === "object" ? modes[priority].batch || {} : null);
      const fallback = defaults[priority]?.batch || { interval: 5, maxMessages: 500 };
      const select = h("select", { disabled: ctx.readOnly, "aria-label": `${priority} mode` },
        h("option", { value: "stream", selected: !batchOf() }, "stream"),
        h("option", { value: "batch", selected: !!batchOf() }, "batch"));
      const number = (name, label) => {
        const input = h("input", { type: "text", inputmode: "decimal", readOnly: ctx.readOnly, "aria-label": `${priority} ${label}`,
          value: asText(batchOf()?.[name]) });
        input.addEventListener("input", () => {
          const batch = batchOf();
          if (!batch) return;
          const text = input.value.trim();
          if (text === "") delete batch[name]; else batch[name] = /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
          ctx.changed();
        });
        return input;
      };
      const interval = number("interval", "seconds");
      const most = number("maxMessages", "messages");
      const sync = () => {
        const batch = batchOf();
        interval.disabled = most.disabled = !batch;
        interval.value = asText(batch?.interval);
        most.value = asText(batch?.maxMessages);
      };
      select.addEventListener("change", () => {
        modes[priority] = select.value === "stream" ? "stream" : { batch: { ...fallback } };
        sync();
        ctx.changed();
      });
      sync();
      return h("tr", { "data-row": priority, "data-path": `${path}/${priority}` },
        h("th", {}, priority), h("td", {}, select), h("td", {}, interval), h("td", {}, most));
    };
    return h("fieldset", { class: "form-table", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)),
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Priority"), h("th", {}, "Mode"), h("th", {}, "Batch every (s)"), h("th", {}, "or at most (messages)"))),
        h("tbody", {}, Object.keys(schema.properties).map(row))));
  },

  /** Nodes of this flow to tick (`x-widget: "node-list"`), after a scope select when the
   * schema allows null (all nodes) or "group" besides the list. */
  nodeList(key, schema, holder, path, ctx) {
    const allowed = schema.anyOf || [schema];
    const modes = [
      allowed.some((s) => s.type === "null") && ["all", "all nodes"],
      allowed.some((s) => (s.enum || []).includes("group")) && ["group", "in the same group"],
      ["nodes", "selected nodes"],
    ].filter(Boolean);
    const modeOf = (value) => (Array.isArray(value) ? "nodes" : value === "group" ? "group" : modes[0][0]);
    let ticked = Array.isArray(holder[key]) ? [...holder[key]] : [];
    const choices = ctx.flowNodes?.() || [];
    const rows = choices.map((choice) => {
      const box = h("input", { type: "checkbox", checked: ticked.includes(choice.id), disabled: ctx.readOnly, "data-node-choice": choice.id });
      box.addEventListener("change", () => {
        // Ids the list does not show (a node since deleted) are kept as they were.
        ticked = box.checked ? [...ticked, choice.id] : ticked.filter((id) => id !== choice.id);
        holder[key] = [...ticked];
        ctx.changed();
      });
      return h("label", { class: "node-choice", "data-node-choice-row": choice.id, title: choice.id },
        box, h("span", { class: "node-choice-label" }, choice.label), h("span", { class: "node-choice-type" }, choice.type));
    });
    const filter = h("input", { type: "search", class: "node-choice-filter", placeholder: "filter nodes", "aria-label": "Filter nodes" });
    filter.addEventListener("input", () => {
      const text = filter.value.trim().toLowerCase();
      rows.forEach((row, index) => {
        row.hidden = !!text && !`${choices[index].label} ${choices[index].type}`.toLowerCase().includes(text);
      });
    });
    const picker = h("div", { class: "node-choices-box" }, filter,
      h("div", { class: "node-choices" }, rows.length ? rows : h("p", { class: "hint" }, "No other nodes on this flow.")));
    const select = modes.length > 1 ? h("select", { disabled: ctx.readOnly, "data-scope-mode": "" },
      modes.map(([value, words]) => h("option", { value, selected: value === modeOf(holder[key]) }, words))) : null;
    const sync = () => { picker.hidden = select !== null && select.value !== "nodes"; };
    select?.addEventListener("change", () => {
      holder[key] = select.value === "nodes" ? [...ticked] : select.value === "group" ? "group" : null;
      sync();
      ctx.changed();
    });
    if (!select && !Array.isArray(holder[key])) holder[key] = [];
    sync();
    return wrap(key, schema, path, h("div", { class: "node-list" }, select, picker));
  },

  /** An editable list: add, remove, and reorder by dragging an item's handle (or with the
   * up / down arrow keys on it). `ctx.origins` records where each item was when the form
   * opened, so that a switch's wires follow its rules (`ctx.outputsFrom`, "→ n" per rule). */
  array(key, schema, holder, path, ctx) {
    if (!Array.isArray(holder[key])) holder[key] = [];
    const items = holder[key];
    const itemSchema = schema.items || {};
    const origin = items.map((_, index) => index);  // -1: added since the form opened
    ctx.origins?.set(path, origin);
    const outputs = path === `/${ctx.outputsFrom}`;
    const itemName = itemSchema.title || labelFor(key, schema);
    const list = h("ol", { class: "form-array" });
    const move = (from, to) => {
      if (to < 0 || to >= items.length || from === to) return;
      items.splice(to, 0, ...items.splice(from, 1));
      origin.splice(to, 0, ...origin.splice(from, 1));
      redraw();
      ctx.changed();
      list.children[to]?.querySelector(".drag-handle")?.focus();
    };
    const drag = (event, index) => {
      if (event.button !== 0) return;
      event.preventDefault();
      const row = list.children[index];
      const startY = event.clientY;
      let target = index;
      row.classList.add("dragging");
      const follow = (e) => {
        row.style.transform = `translateY(${e.clientY - startY}px)`;
        // The new place: after every other item whose middle is above the pointer.
        target = [...list.children].filter((other, i) => {
          const box = other.getBoundingClientRect();
          return i !== index && box.top + box.height / 2 < e.clientY;
        }).length;
      };
      const drop = () => {
        window.removeEventListener("pointermove", follow);
        window.removeEventListener("pointerup", drop);
        row.classList.remove("dragging");
        row.style.transform = "";
        move(index, target);
      };
      window.addEventListener("pointermove", follow);
      window.addEventListener("pointerup", drop);
    };
    const handle = (index) => h("button", {
      type: "button", class: "drag-handle", title: "Drag to reorder (or press the up / down arrow keys)",
      "aria-label": `Move ${itemName} ${index + 1}`,
      onpointerdown: (e) => drag(e, index),
      onkeydown: (e) => {
        if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
        e.preventDefault();
        move(index, index + (e.key === "ArrowUp" ? -1 : 1));
      },
    }, "≡");
    const redraw = () => {
      replace(list, ...items.map((_, index) => h("li", { class: "form-array-item", "data-index": index },
        ctx.readOnly ? null : handle(index),
        field(index, { ...itemSchema, title: itemSchema.title || `${labelFor(key, schema)} ${index + 1}` },
          items, `${path}/${index}`, ctx),
        outputs ? h("span", { class: "form-array-output", title: `Output ${index + 1}` }, `→ ${index + 1}`) : null,
        ctx.readOnly ? null : h("button", {
          type: "button", class: "secondary remove-item", title: "Remove", "aria-label": `Remove ${itemName} ${index + 1}`,
          onclick: () => { items.splice(index, 1); origin.splice(index, 1); redraw(); ctx.changed(); },
        }, "\u2715"))));
    };
    redraw();
    const add = ctx.readOnly ? null : h("button", {
      type: "button", class: "secondary add-item", "data-add": key,
      onclick: () => { items.push(defaultFor(itemSchema)); origin.push(-1); redraw(); ctx.changed(); },
    }, "+ Add");
    return h("fieldset", { class: "form-list", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)), list, add);
  },
};

/** One field for `holder[key]`. */
export function field(key, schema, holder, path, ctx) {
  const custom = ctx.custom?.(key, schema, holder, path);
  const el = custom || BUILDERS[kindOf(schema)](key, schema || {}, holder, path, ctx);
  return conditional(el, schema, holder, path, ctx);
}

/** Make `el` follow its schema's `x-show-if` / `x-hide-if` / `x-title-by` (evaluated by
 * applyConditions against `holder`); also for fields not built here (credentials). */
export function conditional(el, schema, holder, path, ctx) {
  const condition = schema?.["x-show-if"];
  const against = schema?.["x-hide-if"];
  const labelBy = schema?.["x-title-by"];
  if ((condition || against || labelBy) && ctx.conditions) {
    if (condition) el.dataset.showIf = JSON.stringify(condition);
    if (against) el.dataset.hideIf = JSON.stringify(against);
    ctx.conditions.push({ el, condition, against, labelBy, holder, schemaOf: (k) => holderSchema(ctx, path, k) });
  }
  return el;
}

function holderSchema(ctx, path, key) {
  return path.split("/").length === 2 ? ctx.schemaOf?.(key) : undefined;
}

/** Fields for every property of an object schema, in `ctx.order` first, then schema order. */
export function fields(schema, holder, path, ctx) {
  const keys = Object.keys(schema.properties || {});
  const order = path === "" ? ctx.order || [] : [];
  const sorted = [...order.filter((k) => keys.includes(k)), ...keys.filter((k) => !order.includes(k))];
  // In a nested object the type keys of its typed values are edited by their value's select.
  const nestedTypeKeys = new Set(path === "" ? [] : Object.values(schema.properties || {})
    .filter((sub) => sub?.["x-kind"] === "typed" && sub["x-type-key"]).map((sub) => sub["x-type-key"]));
  const shown = sorted.filter((key) => (path === "" ? !ctx.skip?.has(key) : !nestedTypeKeys.has(key))
    && !schema.properties[key]?.["x-hidden"]);
  // `x-section` groups fields under a heading (Node-RED's Connection / Security / Messages),
  // each section where its first field is.
  const sections = new Map();
  const out = [];
  for (const key of shown) {
    const built = field(key, schema.properties[key], holder, `${path}/${key}`, ctx);
    const section = schema.properties[key]?.["x-section"];
    if (!section) {
      out.push(built);
    } else {
      if (!sections.has(section)) {
        const box = h("fieldset", { class: "form-section", "data-section": section }, h("legend", {}, section));
        sections.set(section, box);
        out.push(box);
      }
      sections.get(section).append(built);
    }
  }
  return out;
}

/**
 * Show or hide the fields with an `x-show-if` (after each edit). `ctx.lookup(id)` finds
 * a config node and `ctx.typeOf(node)` its type descriptor, for `<ref>.<key>` conditions.
 */
export function applyConditions(ctx) {
  for (const { el, condition, against, labelBy, holder, schemaOf, follow } of ctx.conditions || []) {
    if (follow) {
      follow();  // a code field's language follows another field (x-format-by)
      continue;
    }
    if (labelBy) {
      // x-title-by: {key, titles: {value: title}}: the label follows another field (change rules).
      const title = labelBy.titles?.[valueText(holder[labelBy.key])];
      const label = el.querySelector(":scope > label");
      if (title && label) label.textContent = title;
    }
    const holds = ([key, wanted]) => {
      let value;
      const dot = key.indexOf(".");
      if (dot > 0) {
        const ref = ctx.lookup?.(holder[key.slice(0, dot)]);
        const prop = key.slice(dot + 1);
        const refDefault = ref ? ctx.typeOf?.(ref)?.schema?.properties?.[prop]?.default : undefined;
        value = ref ? (prop in ref ? ref[prop] : refDefault) : undefined;
      } else {
        value = key in holder ? holder[key] : schemaOf(key)?.default;
      }
      return value !== undefined && wanted.includes(valueText(value));
    };
    // x-hide-if: one condition object, or a list of them; hidden when all of one hold.
    const hiders = Array.isArray(against) ? against : against ? [against] : [];
    const shown = Object.entries(condition || {}).every(holds)
      && !hiders.some((one) => Object.entries(one).every(holds));
    el.hidden = !shown;
  }
}
