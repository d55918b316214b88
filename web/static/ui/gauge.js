/**
 * The gauge widget in SVG: "gauge" (a half dial filled to the value, coloured by the
 * segment the value is in), "donut" (a full ring), "compass" (a needle over 360°) and
 * "level" (a tank filled from the bottom). Redrawn only in its value's parts.
 */
import { h, s } from "../js/dom.js";

const W = 200;
const H = 130;

function colourAt(spec, value) {
  let colour = spec.segments[0]?.color || "var(--ui-accent)";
  for (const segment of spec.segments) if (value >= segment.from) colour = segment.color;
  return colour;
}

function fraction(spec, value) {
  const span = spec.max - spec.min || 1;
  return Math.max(0, Math.min(1, (value - spec.min) / span));
}

function polar(cx, cy, r, angle) {
  return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
}

function arc(cx, cy, r, from, to) {
  const [x1, y1] = polar(cx, cy, r, from);
  const [x2, y2] = polar(cx, cy, r, to);
  const large = to - from > Math.PI ? 1 : 0;
  return `M${x1.toFixed(2)},${y1.toFixed(2)} A${r},${r} 0 ${large} 1 ${x2.toFixed(2)},${y2.toFixed(2)}`;
}

/** Angles of the dial: half a circle for the gauge, almost a whole one for the donut. */
function sweep(style) {
  return style === "donut" ? [-Math.PI / 2, Math.PI * 1.5 - 0.0001] : [Math.PI, 2 * Math.PI];
}

export function createGauge(spec) {
  const title = h("div", { class: "ui-gauge-title" }, spec.title);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: `ui-gauge-svg ${spec.style}`, role: "img" });
  const valueText = s("text", { x: W / 2, y: spec.style === "donut" ? 80 : 108, class: "ui-gauge-value", "text-anchor": "middle" });
  const unitsText = s("text", { x: W / 2, y: spec.style === "donut" ? 98 : 124, class: "ui-gauge-units", "text-anchor": "middle" }, spec.units);
  let fill;
  if (spec.style === "compass") {
    svg.append(s("circle", { cx: W / 2, cy: 62, r: 55, class: "ui-gauge-track" }));
    for (const [text, angle] of [["N", -90], ["E", 0], ["S", 90], ["W", 180]]) {
      const [x, y] = polar(W / 2, 66, 44, (angle * Math.PI) / 180);
      svg.append(s("text", { x, y, class: "ui-gauge-tick", "text-anchor": "middle" }, text));
    }
    fill = s("path", { d: `M${W / 2},14 L${W / 2 - 6},62 L${W / 2 + 6},62 Z`, class: "ui-gauge-needle" });
    svg.append(fill, s("circle", { cx: W / 2, cy: 62, r: 5, class: "ui-gauge-hub" }));
    valueText.setAttribute("y", 128);
    unitsText.remove();
  } else if (spec.style === "level") {
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.append(s("rect", { x: 60, y: 6, width: 80, height: 118, rx: 8, class: "ui-gauge-track" }));
    fill = s("rect", { x: 60, y: 124, width: 80, height: 0, rx: 8, class: "ui-gauge-fill" });
    svg.append(fill);
    valueText.setAttribute("y", 70);
    unitsText.setAttribute("y", 88);
  } else {
    const [from, to] = sweep(spec.style);
    const cx = W / 2;
    const cy = spec.style === "donut" ? 68 : 104;
    const r = spec.style === "donut" ? 56 : spec.segmentBand ? 72 : 84;
    svg.append(s("path", { d: arc(cx, cy, r, from, to), class: "ui-gauge-track" }));
    if (spec.segmentBand) {
      // Dashboard 2 draws its segments' colours as a band around the dial.
      spec.segments.forEach((segment, i) => {
        const end = spec.segments[i + 1]?.from ?? spec.max;
        const a = from + (to - from) * fraction(spec, segment.from);
        const b = from + (to - from) * fraction(spec, end);
        if (b > a) svg.append(s("path", { d: arc(cx, cy, r + 17, a, b), class: "ui-gauge-band", style: `stroke:${segment.color}` }));
      });
    }
    fill = s("path", { d: "", class: "ui-gauge-fill" });
    svg.append(fill);
    if (spec.style === "gauge") {
      svg.append(s("text", { x: cx - r, y: cy + 16, class: "ui-gauge-tick", "text-anchor": "middle" }, String(spec.min)),
        s("text", { x: cx + r, y: cy + 16, class: "ui-gauge-tick", "text-anchor": "middle" }, String(spec.max)));
    }
    fill.dataset.geometry = JSON.stringify({ cx, cy, r, from, to });
  }
  svg.append(valueText, unitsText);
  const el = h("div", { class: "ui-gauge-body" }, spec.title ? title : null, svg);
  return {
    el,
    set(frame) {
      const value = frame.value;
      valueText.textContent = value === null || value === undefined ? "" : frame.text;
      svg.setAttribute("aria-label", `${spec.title} ${valueText.textContent} ${spec.units}`.trim());
      if (value === null || value === undefined) return;
      const part = fraction(spec, value);
      const colour = colourAt(spec, value);
      if (spec.style === "compass") {
        fill.setAttribute("transform", `rotate(${part * 360} ${W / 2} 62)`);
      } else if (spec.style === "level") {
        fill.setAttribute("y", String(124 - 118 * part));
        fill.setAttribute("height", String(118 * part));
        fill.style.fill = colour;
      } else {
        const { cx, cy, r, from, to } = JSON.parse(fill.dataset.geometry);
        fill.setAttribute("d", part > 0 ? arc(cx, cy, r, from, from + (to - from) * part) : "");
        fill.style.stroke = colour;
      }
    },
  };
}
