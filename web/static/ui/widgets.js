/**
 * Dashboard widgets: createWidget(spec, send) builds one from its layout entry (kind,
 * label, options) and returns { el, set(frame, disabled), append?(points) }. `send(value)`
 * reports a person's input to the runtime. Only HTML the server cleaned (text and
 * template widgets, flowrt/dashboard/template.py) is set as innerHTML.
 */
import { h } from "../js/dom.js";
import { createGauge } from "./gauge.js";
import { createChart } from "./chart.js";

const label = (spec) => (spec.label ? h("span", { class: "ui-label" }, spec.label) : null);

const KINDS = {
  text(spec) {
    const name = h("span", { class: "ui-label" }, spec.label);
    const value = h("span", { class: "ui-value" });
    const el = h("div", { class: `ui-text-row ${spec.layout}` }, name, value);
    return { el, set(frame) { name.textContent = frame.label ?? spec.label; value.innerHTML = frame.html; } };
  },

  gauge: createGauge,
  chart: createChart,

  template(spec) {
    const el = h("div", { class: "ui-template-body" });
    return { el, set(frame) { el.innerHTML = frame.html; } };
  },

  spacer() {
    return { el: h("div", { class: "ui-spacer-body" }), set() {} };
  },

  button(spec, send) {
    const el = h("button", { type: "button", class: "ui-button-body", title: spec.tooltip || null,
      style: [spec.bgcolor && `background:${spec.bgcolor}`, spec.color && `color:${spec.color}`].filter(Boolean).join(";") || null,
      onclick: () => send(null) }, spec.label || "button");
    return { el, set(frame, disabled) { el.disabled = disabled; } };
  },

  switch(spec, send) {
    let on = false;
    const knob = h("button", { type: "button", role: "switch", class: "ui-switch-toggle",
      "aria-checked": "false", "aria-label": spec.label || "switch",
      onclick: () => send(!on) }, h("span", { class: "ui-switch-knob" }));
    const el = h("div", { class: "ui-row", title: spec.tooltip || null }, label(spec), knob);
    return { el, set(frame, disabled) {
      on = Boolean(frame.value);
      knob.setAttribute("aria-checked", String(on));
      if (spec.oncolor) knob.style.background = on ? spec.oncolor : "";
      knob.disabled = disabled;
    } };
  },

  slider(spec, send) {
    const input = h("input", { type: "range", min: spec.min, max: spec.max, step: spec.step,
      "aria-label": spec.label || "slider" });
    const shown = h("span", { class: "ui-value" });
    let lastSent = 0;
    input.addEventListener("input", () => {
      shown.textContent = input.value;
      const now = performance.now();
      if (spec.outs === "all" && now - lastSent > 100) { lastSent = now; send(Number(input.value)); }
    });
    input.addEventListener("change", () => send(Number(input.value)));
    const el = h("div", { class: "ui-row", title: spec.tooltip || null }, label(spec), input, shown);
    return { el, set(frame, disabled) {
      if (document.activeElement !== input) input.value = frame.value;
      shown.textContent = input.value;
      input.disabled = disabled;
    } };
  },

  numeric(spec, send) {
    let value = spec.min;
    const shown = h("span", { class: "ui-value ui-numeric-value" });
    const step = (direction) => {
      let next = Math.round((value + direction * spec.step) * 1e9) / 1e9;
      if (next > spec.max) next = spec.wrap ? spec.min : spec.max;
      if (next < spec.min) next = spec.wrap ? spec.max : spec.min;
      send(next);
    };
    const down = h("button", { type: "button", "aria-label": "less", onclick: () => step(-1) }, "−");
    const up = h("button", { type: "button", "aria-label": "more", onclick: () => step(1) }, "+");
    const el = h("div", { class: "ui-row", title: spec.tooltip || null }, label(spec),
      h("span", { class: "ui-numeric-controls" }, down, shown, up));
    return { el, set(frame, disabled) {
      value = Number(frame.value ?? spec.min);
      shown.textContent = frame.text ?? String(value);
      down.disabled = up.disabled = disabled;
    } };
  },

  text_input(spec, send) {
    const input = h("input", { type: spec.mode === "multiline" ? "text" : spec.mode,
      placeholder: spec.label || null, "aria-label": spec.label || "text" });
    let timer = null;
    let sent = null;
    const sendNow = () => {
      clearTimeout(timer);
      if (input.value !== sent) { sent = input.value; send(input.value); }
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      if (spec.delay > 0) timer = setTimeout(sendNow, spec.delay);
    });
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") sendNow(); });
    if (spec.sendOnBlur) input.addEventListener("blur", sendNow);
    const el = h("label", { class: "ui-field", title: spec.tooltip || null }, input);
    return { el, set(frame, disabled) {
      if (document.activeElement !== input) input.value = frame.value ?? "";
      sent = input.value;
      input.disabled = disabled;
    } };
  },

  dropdown(spec, send) {
    const select = h("select", { multiple: spec.multiple, "aria-label": spec.label || "choose" });
    select.addEventListener("change", () => {
      const chosen = [...select.selectedOptions].map((o) => Number(o.value)).filter((i) => i >= 0);
      send(spec.multiple ? chosen : chosen[0]);
    });
    const el = h("div", { class: "ui-row", title: spec.tooltip || null }, label(spec), select);
    return { el, set(frame, disabled) {
      const chosen = Array.isArray(frame.value) ? frame.value : [frame.value];
      const key = (v) => JSON.stringify(v);
      const wanted = new Set(chosen.map(key));
      select.replaceChildren(
        spec.multiple ? null : h("option", { value: "-1", disabled: true, selected: frame.value === null || frame.value === undefined }, spec.place || ""),
        ...frame.choices.map((c, i) => h("option", { value: String(i), selected: wanted.has(key(c.value)) }, c.label)));
      select.disabled = disabled;
    } };
  },

  date(spec, send) {
    const input = h("input", { type: "date", "aria-label": spec.label || "date" });
    input.addEventListener("change", () => {
      if (!input.value) return;
      const [y, m, d] = input.value.split("-").map(Number);
      send(new Date(y, m - 1, d).getTime());
    });
    const el = h("div", { class: "ui-row" }, label(spec), input);
    return { el, set(frame, disabled) {
      const when = typeof frame.value === "number" || typeof frame.value === "string" ? new Date(frame.value) : null;
      if (when && !Number.isNaN(when.getTime())) {
        const pad = (n) => String(n).padStart(2, "0");
        input.value = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
      }
      input.disabled = disabled;
    } };
  },

  colour(spec, send) {
    const input = h("input", { type: "color", "aria-label": spec.label || "colour" });
    input.addEventListener("change", () => send(input.value));
    const el = h("div", { class: "ui-row" }, label(spec), input);
    return { el, set(frame, disabled) {
      if (typeof frame.value === "string" && /^#[0-9a-f]{6}$/i.test(frame.value)) input.value = frame.value;
      input.disabled = disabled;
    } };
  },

  form(spec, send) {
    const inputs = spec.fields.map((field) => {
      const type = { multiline: "textarea", checkbox: "checkbox", switch: "checkbox" }[field.type] || field.type;
      const input = type === "textarea"
        ? h("textarea", { name: field.name, rows: field.rows, required: field.required })
        : h("input", { type, name: field.name, required: field.required });
      return { field, input, el: h("label", { class: "ui-form-field" }, h("span", {}, field.label), input) };
    });
    const valueOf = ({ field, input }) => (input.type === "checkbox" ? input.checked
      : field.type === "number" ? (input.value === "" ? null : Number(input.value)) : input.value);
    const form = h("form", { class: "ui-form-body" }, spec.label ? h("h3", {}, spec.label) : null,
      inputs.map((i) => i.el),
      h("div", { class: "ui-form-buttons" },
        h("button", { type: "submit", class: "primary" }, spec.submit),
        spec.cancel ? h("button", { type: "reset" }, spec.cancel) : null));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(Object.fromEntries(inputs.map((i) => [i.field.name, valueOf(i)])));
      form.reset();
    });
    return { el: form, set(frame, disabled) {
      const values = frame.value && typeof frame.value === "object" ? frame.value : {};
      for (const { field, input } of inputs) {
        if (field.name in values) {
          if (input.type === "checkbox") input.checked = Boolean(values[field.name]);
          else input.value = values[field.name] ?? "";
        }
        input.disabled = disabled;
      }
    } };
  },

  table(spec, send) {
    const table = h("table", { class: "ui-table-body" });
    const el = h("div", { class: "ui-table-scroll" }, label(spec), table);
    return { el, set(frame) {
      const rows = Array.isArray(frame.value) ? frame.value : [];
      const columns = [...new Set(rows.flatMap((r) => (r && typeof r === "object" ? Object.keys(r) : [])))];
      const cell = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
      table.replaceChildren(
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
        h("tbody", {}, rows.map((row, i) => h("tr", { onclick: () => send(i) },
          columns.map((c) => h("td", {}, cell(row?.[c])))))));
    } };
  },
};

/** The widget for `spec` (an unknown kind shows its name, never breaks the page). */
export function createWidget(spec, send) {
  const make = KINDS[spec.kind];
  if (!make) return { el: h("div", { class: "ui-unknown" }, spec.type), set() {} };
  return make(spec, send);
}
