/**
 * The code editor: `codeEditor(field, options)` turns a form field (a textarea) into
 * CodeMirror 6 with line numbers, syntax highlighting, bracket matching and closing,
 * auto-indent, search (ctrl-f), undo and folding, for JavaScript, Python, JSON and
 * JSONata (jsonata-mode.js); any other language name is plain text.
 *
 * CodeMirror (web/static/vendor/, see its MANIFEST.json) is imported the first time a
 * code field opens, never at editor start. Until it has loaded the textarea itself is
 * shown and works; then it is hidden and kept in step: each edit sets its value and
 * fires its `input` event, so the form reads code fields as any other field.
 */
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";

const BUNDLE = "/static/vendor/codemirror-6.44.2.bundle.min.js";
const LINE_HEIGHT = 18;  // px: editor.css sets 12px text at line-height 1.5

let loading = null;
/** The views made so far: a view listens on the window and document until destroyed. */
const views = new Set();

/** Destroy the views of forms and dialogs that have closed (their element left the page). */
function sweep() {
  for (const view of views) {
    if (view.dom.isConnected) continue;
    view.destroy();
    views.delete(view);
  }
}

/** CodeMirror and the JSONata mode, loaded once. */
function load() {
  loading ||= Promise.all([import(BUNDLE), import("./jsonata-mode.js")]).then(([cm, mode]) => ({
    cm, jsonata: cm.StreamLanguage.define(mode.jsonataParser),
  }));
  return loading;
}

function languageSupport({ cm, jsonata }, name) {
  switch (name) {
    case "javascript": return cm.javascript();
    case "python": return cm.python();
    case "json": return cm.json();
    case "jsonata": return jsonata;
    default: return [];
  }
}

function readOnlyState(cm, readOnly) {
  return [cm.EditorState.readOnly.of(readOnly), cm.EditorView.editable.of(!readOnly)];
}

function extensions(loaded, { language, readOnly, lineNumbers }, compartments, field) {
  const { cm } = loaded;
  // ctrl-enter closes the edit tray (keyboard.js): it must not also add a line here.
  const keys = cm.defaultKeymap.filter((binding) => binding.key !== "Mod-Enter");
  return [
    lineNumbers ? [cm.lineNumbers(), cm.foldGutter(), cm.highlightActiveLineGutter()] : [],
    cm.highlightSpecialChars(), cm.history(), cm.drawSelection(), cm.indentOnInput(),
    cm.syntaxHighlighting(cm.classHighlighter), cm.bracketMatching(), cm.closeBrackets(),
    cm.highlightActiveLine(), cm.highlightSelectionMatches(),
    cm.keymap.of([...cm.closeBracketsKeymap, ...keys, ...cm.searchKeymap, ...cm.historyKeymap,
      ...cm.foldKeymap, cm.indentWithTab]),
    compartments.language.of(languageSupport(loaded, language)),
    compartments.readOnly.of(readOnlyState(cm, readOnly)),
    cm.EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      field.value = update.state.doc.toString();
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }),
    cm.EditorView.contentAttributes.of({ "aria-label": field.getAttribute("aria-label") || "Code" }),
  ];
}

/**
 * Make `field` (a textarea, attached or not) a code editor. Options: `language`
 * ("javascript", "python", "json", "jsonata", other: plain text), `readOnly`,
 * `lineNumbers` (default true), `height` (CSS, the starting height; by default room
 * for the code and a line more, 4 to 18 lines; the person can drag it taller), and
 * `title`: with one, a ⤢ button opens the code in a large dialog under that title. Returns `{element, ready, setLanguage, setReadOnly, setValue,
 * select}`: `element` (holding the field) goes where the field would have gone;
 * `ready` resolves once CodeMirror shows.
 */
export function codeEditor(field, { language = "", readOnly = false, lineNumbers = true, height = "", title = "" } = {}) {
  const element = h("div", { class: "code-editor", "data-language": language || "text" }, field);
  const lines = Math.min(Math.max(field.value.split("\n").length + 1, 4), 18);
  element.style.height = height || `${lines * LINE_HEIGHT + 10}px`;
  const options = { language, readOnly, lineNumbers };
  let view = null;
  let loaded = null;
  let compartments = null;
  const ready = load().then((result) => {
    loaded = result;
    const { cm } = loaded;
    compartments = { language: new cm.Compartment(), readOnly: new cm.Compartment() };
    sweep();
    view = new cm.EditorView({
      parent: element,
      state: cm.EditorState.create({ doc: field.value, extensions: extensions(loaded, options, compartments, field) }),
    });
    views.add(view);
    field.hidden = true;
    element.classList.add("loaded");
    return view;
  });
  const reconfigure = (compartment, value) => view?.dispatch({ effects: compartments[compartment].reconfigure(value) });
  const controller = {
    element,
    ready,
    /** Highlight (and indent) as another language. */
    setLanguage(name) {
      if (name === options.language) return;
      options.language = name;
      element.dataset.language = name || "text";
      reconfigure("language", loaded ? languageSupport(loaded, name) : []);
    },
    setReadOnly(value) {
      options.readOnly = value;
      field.readOnly = value;
      reconfigure("readOnly", loaded ? readOnlyState(loaded.cm, value) : []);
    },
    /** Replace the whole text (the field's `input` event fires, as for an edit). */
    setValue(text) {
      if (view) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      else field.value = text;
    },
    /** Put the cursor at character `position` (0-based), scrolled into view, and focus. */
    select(position) {
      if (!view) return;
      const at = Math.max(0, Math.min(position, view.state.doc.length));
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
  };
  if (title) element.append(expandButton(field, options, title, controller));
  return controller;
}

/** The ⤢ button: the code in a large dialog; Done copies it back into `controller`. */
function expandButton(field, options, title, controller) {
  return h("button", {
    type: "button", class: "code-expand", title: "Edit in a larger window", "data-action": "expand-code",
    onclick: () => {
      const copy = h("textarea", { value: field.value, readOnly: options.readOnly, spellcheck: "false", "aria-label": title });
      const large = codeEditor(copy, { language: options.language, readOnly: options.readOnly, height: "60vh" });
      openDialog({
        title,
        body: large.element,
        className: "code-dialog",
        buttons: options.readOnly
          ? [{ label: "Close" }]
          : [{ label: "Cancel" }, { label: "Done", primary: true, action: "done", run: () => controller.setValue(copy.value) }],
      });
      large.ready.then((view) => view.focus());
    },
  }, "⤢");
}
