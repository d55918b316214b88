/** Node geometry: sizes and port positions, shared by the canvas and the wires. */
export const GRID = 20;
export const NODE_HEIGHT = 30;
export const PORT_SIZE = 10;
const PORT_SPACING = 15;
const MIN_WIDTH = 100;

const measure = document.createElement("canvas").getContext("2d");
measure.font = "14px Helvetica, Arial, sans-serif";
// Measuring text is the dearest part of laying out a big flow, and labels repeat.
const textWidths = new Map();
const MAX_REMEMBERED = 10000;

/** The width of `text` in the canvas' label font. */
export function textWidth(text) {
  let width = textWidths.get(text);
  if (width === undefined) {
    width = measure.measureText(text).width;
    if (textWidths.size >= MAX_REMEMBERED) textWidths.clear();
    textWidths.set(text, width);
  }
  return width;
}

/** Width and height of a node whose label is `label` with `outputs` output ports. */
export function nodeSize(label, outputs) {
  const text = textWidth(label);
  const width = Math.max(MIN_WIDTH, GRID * Math.ceil((text + 50) / GRID));
  const height = Math.max(NODE_HEIGHT, outputs * PORT_SPACING + 5);
  return { width, height };
}

/** Y offset (from the node's top) of output port `index` of `count`. */
export function outputY(height, index, count) {
  return height / 2 + (index - (count - 1) / 2) * PORT_SPACING;
}

/** The SVG path of a wire from (x1, y1) to (x2, y2), Node-RED's S-curve. */
export function wirePath(x1, y1, x2, y2) {
  const dx = x2 - x1;
  const reach = dx > 0 ? Math.max(dx / 2, 25) : Math.max(75, Math.abs(y2 - y1) / 2, -dx / 2);
  return `M ${x1} ${y1} C ${x1 + reach} ${y1}, ${x2 - reach} ${y2}, ${x2} ${y2}`;
}
