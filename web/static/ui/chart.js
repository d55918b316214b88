/**
 * The chart widget: a line chart drawn by uPlot (vendored, /static/vendor/uplot-*.js,
 * a global `uPlot`), one series per topic, within the chart's time window; bars and pies
 * of each topic's latest value in SVG. Updates are drawn once per animation frame.
 */
import { h, s } from "../js/dom.js";

const PALETTE = ["#1F77B4", "#AEC7E8", "#FF7F0E", "#2CA02C", "#98DF8A", "#D62728", "#FF9896", "#9467BD", "#C5B0D5"];
const MAX_POINTS = 2000;

const colourOf = (spec, i) => (spec.colors?.length ? spec.colors[i % spec.colors.length] : PALETTE[i % PALETTE.length]);
const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function createChart(spec) {
  const title = spec.label ? h("div", { class: "ui-chart-title" }, spec.label) : null;
  const area = h("div", { class: "ui-chart-area" });
  const empty = h("div", { class: "ui-chart-empty" }, spec.nodata);
  const legend = h("div", { class: "ui-chart-legend" });
  const el = h("div", { class: "ui-chart-body" }, title, area, legend, empty);
  const drawLegend = (names) => legend.replaceChildren(...(spec.legend ? names.map((name, i) =>
    h("span", { class: "ui-legend-item" }, h("i", { style: `background:${colourOf(spec, i)}` }), name)) : []));
  return spec.chartType === "line" ? lineChart(spec, el, area, empty, drawLegend)
    : barChart(spec, el, area, empty, drawLegend);
}

function lineChart(spec, el, area, empty, drawLegend) {
  const series = new Map(); // name -> [[x, y], ...]
  let plot = null;
  let names = [];
  let pending = false;

  function aligned() {
    const xs = [...new Set([...series.values()].flatMap((points) => points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    return [xs, ...names.map((name) => {
      const ys = new Array(xs.length).fill(null);
      for (const [x, y] of series.get(name)) ys[index.get(x)] = y;
      return ys;
    })];
  }

  function build() {
    plot?.destroy();
    names = [...series.keys()];
    const axisColour = cssVar("--ui-text-muted") || "#666";
    const grid = { stroke: cssVar("--ui-grid") || "#e5e5e5", width: 1 };
    plot = new uPlot({
      width: Math.max(area.clientWidth, 100),
      height: Math.max(area.clientHeight, 80),
      ms: 1,
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, lo, hi) => [spec.ymin ?? lo, spec.ymax ?? hi] } },
      axes: [{ stroke: axisColour, grid, ticks: grid }, { stroke: axisColour, grid, ticks: grid, size: 44 }],
      series: [{}, ...names.map((name, i) => ({ label: name, stroke: colourOf(spec, i), width: 2, spanGaps: true, points: { show: false } }))],
    }, aligned(), area);
    drawLegend(names);
  }

  function draw() {
    pending = false;
    const count = [...series.values()].reduce((n, p) => n + p.length, 0);
    empty.hidden = count > 0 || !spec.nodata;
    el.dataset.points = String(count);
    if (names.length !== series.size || !plot) build();
    else plot.setData(aligned());
  }

  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(draw);
    }
  }

  function prune() {
    let newest = -Infinity;
    for (const points of series.values()) if (points.length) newest = Math.max(newest, points[points.length - 1][0]);
    const oldest = newest - spec.window * 1000;
    for (const points of series.values()) {
      let drop = 0;
      while (drop < points.length && points[drop][0] < oldest) drop += 1;
      if (points.length - drop > MAX_POINTS) drop = points.length - MAX_POINTS;
      if (drop) points.splice(0, drop);
    }
  }

  new ResizeObserver(() => {
    if (plot) plot.setSize({ width: Math.max(area.clientWidth, 100), height: Math.max(area.clientHeight, 80) });
  }).observe(area);

  return {
    el,
    set(frame) {
      series.clear();
      for (const { name, points } of frame.series) series.set(name, points.slice());
      plot?.destroy();
      plot = null;
      schedule();
    },
    append(points) {
      for (const [name, x, y] of points) {
        if (!series.has(name)) series.set(name, []);
        series.get(name).push([x, y]);
      }
      prune();
      schedule();
    },
    themeChanged() {
      plot?.destroy();
      plot = null;
      schedule();
    },
  };
}

function barChart(spec, el, area, empty, drawLegend) {
  const svg = s("svg", { class: `ui-bars ${spec.chartType}`, viewBox: "0 0 300 200", preserveAspectRatio: "xMidYMid meet", role: "img" });
  area.append(svg);

  function drawBars(bars) {
    const top = Math.max(spec.ymax ?? -Infinity, ...bars.map((b) => b.value), 0);
    const bottom = Math.min(spec.ymin ?? Infinity, ...bars.map((b) => b.value), 0);
    const span = top - bottom || 1;
    const zero = 190 - ((0 - bottom) / span) * 180;
    const width = 280 / Math.max(bars.length, 1);
    svg.replaceChildren(s("line", { x1: 10, x2: 290, y1: zero, y2: zero, class: "ui-bars-axis" }),
      ...bars.flatMap((bar, i) => {
        const y = 190 - ((bar.value - bottom) / span) * 180;
        const x = 10 + i * width + width * 0.1;
        return [s("rect", { x, y: Math.min(y, zero), width: width * 0.8, height: Math.abs(zero - y), fill: colourOf(spec, i) },
          s("title", {}, `${bar.label}: ${bar.value}`)),
        s("text", { x: x + width * 0.4, y: Math.min(y, zero) - 3, "text-anchor": "middle", class: "ui-bars-value" }, String(bar.value))];
      }));
  }

  function drawPie(bars) {
    const total = bars.reduce((sum, b) => sum + Math.max(b.value, 0), 0) || 1;
    let angle = -Math.PI / 2;
    svg.replaceChildren(...bars.map((bar, i) => {
      const part = Math.max(bar.value, 0) / total;
      const next = angle + part * 2 * Math.PI;
      const [x1, y1] = [150 + 90 * Math.cos(angle), 100 + 90 * Math.sin(angle)];
      const [x2, y2] = [150 + 90 * Math.cos(next), 100 + 90 * Math.sin(next)];
      const d = part >= 0.9999 ? "M150,10 A90,90 0 1 1 149.99,10 Z"
        : `M150,100 L${x1},${y1} A90,90 0 ${part > 0.5 ? 1 : 0} 1 ${x2},${y2} Z`;
      angle = next;
      return s("path", { d, fill: colourOf(spec, i) }, s("title", {}, `${bar.label}: ${bar.value}`));
    }));
  }

  return {
    el,
    set(frame) {
      const bars = frame.bars || [];
      el.dataset.points = String(bars.length);
      empty.hidden = bars.length > 0 || !spec.nodata;
      if (spec.chartType === "pie") drawPie(bars);
      else drawBars(bars);
      drawLegend(bars.map((bar) => bar.label));
    },
  };
}
