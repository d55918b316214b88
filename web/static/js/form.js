/**
 * Form fields generated from a JSON Schema. `field(key, schema, holder, path, ctx)`
 * edits `holder[key]` in place and calls `ctx.changed()` after each edit. Kinds:
 * config-node references, enums, booleans, numbers, Node-RED typed inputs, strings,
 * arrays (of objects such as threshold rules, or of scalars), objects, and raw JSON
 * for anything else. Every wrapper carries data-path (a JSON pointer) so
 * validation messages land next to their field.
 */
import { h, replace } from "./dom.js";

const TYPED_TYPES = ["str", "num", "bool", "json", "bin", "date", "msg", "flow", "global", "env", "jsonata"];
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
  control.id = control.id || id;
  return h("div", { class: `form-row${inline ? " inline" : ""}`, "data-path": path, "data-key": key },
    h("label", { for: control.id }, labelFor(key, schema)), control);
}

const BUILDERS = {
  ref(key, schema, holder, path, ctx) {
    return wrap(key, schema, path, ctx.configPicker(schema["x-node-type"], holder, key));
  },

  enum(key, schema, holder, path, ctx) {
    const current = JSON.stringify(holder[key]);
    const select = h("select", { disabled: ctx.readOnly },
      schema.enum.map((value) => h("option", { value: JSON.stringify(value), selected: JSON.stringify(value) === current },
        String(value))));
    select.addEventListener("change", () => { holder[key] = JSON.parse(select.value); ctx.changed(); });
    return wrap(key, schema, path, select);
  },

  boolean(key, schema, holder, path, ctx) {
    const value = holder[key];
    const box = h("input", { type: "checkbox", checked: value === true || value === "true", disabled: ctx.readOnly });
    box.addEventListener("change", () => {
      holder[key] = typeof value === "string" ? String(box.checked) : box.checked;
      ctx.changed();
    });
    return wrap(key, schema, path, box, { inline: true });
  },

  number(key, schema, holder, path, ctx) {
    const input = h("input", { type: "text", inputmode: "decimal", value: asText(holder[key]), readOnly: ctx.readOnly });
    const previous = holder[key];
    input.addEventListener("input", () => { holder[key] = numberFrom(input.value, previous, schema); ctx.changed(); });
    return wrap(key, schema, path, input);
  },

  typed(key, schema, holder, path, ctx) {
    const input = h("input", { type: "text", value: asText(holder[key]), readOnly: ctx.readOnly });
    input.addEventListener("input", () => { holder[key] = input.value; ctx.changed(); });
    const typeKey = ctx.typeKeyOf(key, schema);
    const parts = [input];
    if (typeKey) {
      const listed = ctx.schemaOf(typeKey)?.enum || schema["x-types"] || TYPED_TYPES;
      const choices = listed.includes(holder[typeKey]) || !holder[typeKey] ? listed : [...listed, holder[typeKey]];
      const select = h("select", { class: "typed-type", disabled: ctx.readOnly, "data-type-key": typeKey },
        choices.map((choice) => h("option", { value: choice, selected: choice === holder[typeKey] }, String(choice))));
      select.addEventListener("change", () => { holder[typeKey] = select.value; ctx.changed(); });
      parts.unshift(select);
    }
    return wrap(key, schema, path, h("span", { class: "typed-input" }, parts));
  },

  string(key, schema, holder, path, ctx) {
    const multiline = MULTILINE_KEYS.has(key) || ["code", "multiline"].includes(schema["x-kind"]);
    const input = multiline
      ? h("textarea", { rows: 8, value: asText(holder[key]), readOnly: ctx.readOnly, spellcheck: "false" })
      : h("input", { type: "text", value: asText(holder[key]), readOnly: ctx.readOnly });
    input.addEventListener("input", () => { holder[key] = input.value; ctx.changed(); });
    return wrap(key, schema, path, input);
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
    return h("fieldset", { class: "form-object", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)),
      fields(schema, holder[key], path, ctx));
  },

  array(key, schema, holder, path, ctx) {
    if (!Array.isArray(holder[key])) holder[key] = [];
    const items = holder[key];
    const itemSchema = schema.items || {};
    const list = h("ol", { class: "form-array" });
    const redraw = () => {
      replace(list, ...items.map((_, index) => h("li", { class: "form-array-item", "data-index": index },
        field(index, { ...itemSchema, title: itemSchema.title || `${labelFor(key, schema)} ${index + 1}` },
          items, `${path}/${index}`, ctx),
        ctx.readOnly ? null : h("button", {
          type: "button", class: "secondary remove-item", title: "Remove",
          onclick: () => { items.splice(index, 1); redraw(); ctx.changed(); },
        }, "Remove"))));
    };
    redraw();
    const add = ctx.readOnly ? null : h("button", {
      type: "button", class: "secondary add-item", "data-add": key,
      onclick: () => { items.push(defaultFor(itemSchema)); redraw(); ctx.changed(); },
    }, "+ Add");
    return h("fieldset", { class: "form-list", "data-path": path, "data-key": key },
      h("legend", {}, labelFor(key, schema)), list, add);
  },
};

/** One field for `holder[key]`. */
export function field(key, schema, holder, path, ctx) {
  const custom = ctx.custom?.(key, schema, holder, path);
  if (custom) return custom;
  return BUILDERS[kindOf(schema)](key, schema || {}, holder, path, ctx);
}

/** Fields for every property of an object schema, in `ctx.order` first, then schema order. */
export function fields(schema, holder, path, ctx) {
  const keys = Object.keys(schema.properties || {});
  const order = path === "" ? ctx.order || [] : [];
  const sorted = [...order.filter((k) => keys.includes(k)), ...keys.filter((k) => !order.includes(k))];
  return sorted.filter((key) => !ctx.skip?.has(key) || path !== "")
    .map((key) => field(key, schema.properties[key], holder, `${path}/${key}`, ctx));
}
