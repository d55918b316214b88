/**
 * A small Markdown renderer for node help text. It builds DOM nodes directly
 * (text through text nodes), so help written by plugin authors cannot inject HTML.
 * Supports headings, paragraphs, lists, fenced code, `code`, **bold**, *italic*
 * and [links](http...).
 */
import { h } from "./dom.js";

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*]+\*|_[^_]+_)|(\[[^\]]+\]\([^)\s]+\))/g;

function inline(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    parts.push(text.slice(last, match.index));
    const token = match[0];
    if (match[1]) parts.push(h("code", {}, token.slice(1, -1)));
    else if (match[2]) parts.push(h("strong", {}, inline(token.slice(2, -2))));
    else if (match[3]) parts.push(h("em", {}, inline(token.slice(1, -1))));
    else {
      const [, label, href] = token.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
      const safe = /^https?:\/\//.test(href);
      parts.push(safe ? h("a", { href, target: "_blank", rel: "noopener" }, label) : label);
    }
    last = match.index + token.length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** Render Markdown `source` into a DocumentFragment. */
export function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = String(source || "").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = [];
      for (i += 1; i < lines.length && !/^```/.test(lines[i]); i += 1) code.push(lines[i]);
      out.append(h("pre", {}, h("code", {}, code.join("\n"))));
      i += 1;
    } else if (/^#{1,6}\s/.test(line)) {
      const level = Math.min(line.match(/^#+/)[0].length + 2, 6);
      out.append(h(`h${level}`, {}, inline(line.replace(/^#+\s*/, ""))));
      i += 1;
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
        const item = [lines[i].replace(/^\s*([-*]|\d+\.)\s+/, "")];
        // Indented lines that follow continue the item.
        for (i += 1; i < lines.length && /^\s+\S/.test(lines[i]) && !/^\s*([-*]|\d+\.)\s+/.test(lines[i]); i += 1) {
          item.push(lines[i].trim());
        }
        list.append(h("li", {}, inline(item.join(" "))));
      }
      out.append(list);
    } else if (line.trim() === "") {
      i += 1;
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|\s*([-*]|\d+\.)\s)/.test(lines[i]); i += 1) {
        para.push(lines[i]);
      }
      out.append(h("p", {}, inline(para.join(" "))));
    }
  }
  return out;
}

/** The first paragraph of a help text as plain text (palette tooltips). */
export function firstParagraph(source) {
  return String(source || "").split(/\n\s*\n/)[0].replace(/[`*_#]/g, "").trim();
}
