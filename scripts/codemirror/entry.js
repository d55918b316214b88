// The parts of CodeMirror 6 that flowrt's editor uses (web/static/js/codeeditor.js),
// bundled by scripts/vendor-codemirror.sh into one ES module.
export { EditorState, Compartment } from "@codemirror/state";
export {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
export {
  StreamLanguage, bracketMatching, indentOnInput, syntaxHighlighting, foldGutter, foldKeymap,
} from "@codemirror/language";
export { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
export { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
// Stable token classes (tok-keyword, tok-string...): editor.css holds the colours.
export { classHighlighter } from "@lezer/highlight";
export { javascript } from "@codemirror/lang-javascript";
export { python } from "@codemirror/lang-python";
export { json } from "@codemirror/lang-json";
