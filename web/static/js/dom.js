/**
 * DOM helpers. Every string given as a child becomes a text node, so user data is
 * never parsed as HTML; attributes go through setAttribute / properties.
 */
const SVG_NS = "http://www.w3.org/2000/svg";
const PROPS = new Set(["value", "checked", "disabled", "readOnly", "selected", "hidden", "open"]);

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Create an HTML element: h("div", {class: "x"}, "text", childNode). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Create an SVG element the same way. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace an element's children, with h's rules for them: arrays are flattened and
 * null / undefined / false are skipped (the DOM's own replaceChildren would show an
 * array or a null as text, "null"). replace(el) empties it. */
export function replace(el, ...children) {
  el.replaceChildren();
  return build(el, {}, children);
}

/** A minimal event emitter. */
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return () => this._handlers.get(event).delete(handler);
  }

  emit(event, ...args) {
    for (const handler of this._handlers.get(event) || []) handler(...args);
  }
}
