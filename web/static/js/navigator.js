/**
 * The navigator, as Node-RED's: a footer button toggles a small overview of the whole
 * workspace in the canvas's bottom-right corner, with the active tab's nodes as small
 * rectangles and the part of the workspace the view shows as a dashed rectangle.
 * Pressing or dragging in it pans the view so that point is in the middle.
 */
import { h, s, replace } from "./dom.js";

const SCALE = 50; // workspace pixels per navigator pixel: the 8000 px workspace in 160 px
const MIN_WIDTH = 8; // nodes smaller than this would vanish at SCALE
const MIN_HEIGHT = 3;

export class Navigator {
  /** `canvas` supplies geos, model, visibleBox() and centreOn(x, y); `workspace` is its size. */
  constructor(canvas, workspace, container, footer) {
    this.canvas = canvas;
    const size = workspace / SCALE;
    this.nodes = s("g", { class: "navigator-nodes" });
    this.view = s("rect", { class: "navigator-view", "data-navigator-view": "" });
    this.svg = s("svg", { width: size, height: size, viewBox: `0 0 ${size} ${size}` },
      s("rect", { class: "navigator-bg", width: size, height: size }), this.view, this.nodes);
    this.box = h("div", { class: "navigator", "data-navigator": "", hidden: true }, this.svg);
    container.append(this.box);
    this.button = h("button", {
      type: "button", "data-navigator-toggle": "", title: "Navigator", "aria-label": "Navigator",
      "aria-pressed": "false", onclick: () => this.toggle(),
    }, "\u25A3");
    footer?.append(this.button);
    this.bindEvents();
  }

  get shown() {
    return !this.box.hidden;
  }

  /** Show or hide the navigator. */
  toggle() {
    this.box.hidden = !this.box.hidden;
    this.button.classList.toggle("active", this.shown);
    this.button.setAttribute("aria-pressed", String(this.shown));
    this.redraw();
    this.placeView();
  }

  /** Draw the active tab's nodes (when shown). */
  redraw() {
    if (!this.shown) return;
    const { model, geos } = this.canvas;
    replace(this.nodes, [...geos].map(([id, geo]) => s("rect", {
      class: "navigator-node",
      x: (geo.x - geo.width / 2) / SCALE, y: (geo.y - geo.height / 2) / SCALE,
      width: Math.max(MIN_WIDTH, geo.width / SCALE), height: Math.max(MIN_HEIGHT, geo.height / SCALE),
      fill: model.type(model.get(id))?.color || "#fff",
    })));
  }

  /** Draw the rectangle of the visible area (when shown). */
  placeView() {
    if (!this.shown) return;
    const v = this.canvas.visibleBox();
    const attrs = { x: v.x0 / SCALE, y: v.y0 / SCALE, width: (v.x1 - v.x0) / SCALE, height: (v.y1 - v.y0) / SCALE };
    for (const [key, value] of Object.entries(attrs)) this.view.setAttribute(key, value);
  }

  bindEvents() {
    const panTo = (e) => {
      const rect = this.svg.getBoundingClientRect();
      this.canvas.centreOn((e.clientX - rect.left) * SCALE, (e.clientY - rect.top) * SCALE);
    };
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      this.svg.setPointerCapture(e.pointerId);
      panTo(e);
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (this.svg.hasPointerCapture(e.pointerId)) panTo(e);
    });
  }
}
