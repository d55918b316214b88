/**
 * The JSONata expression editor (Node-RED's, with its "Test" tab): a dialog with the
 * expression in a code editor and a tester below it, an example message (JSON), a Test
 * button and the result, "No match", or the error with where it is in the expression.
 * The runtime evaluates it (POST /jsonata/evaluate), with its own JSONata engine.
 */
import { post } from "./api.js";
import { codeEditor } from "./codeeditor.js";
import { openDialog } from "./dialog.js";
import { h, replace } from "./dom.js";

/** Node-RED's first example message; after that, the last one used on this page. */
let exampleMessage = '{\n    "payload": "hello world"\n}';

/** Line and column (1-based) of character `position` in `text`. */
function lineAndColumn(text, position) {
  const before = text.slice(0, position).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Show the result of a test (or why there is none) in `output`. */
async function runTest(expression, message, output, editor) {
  let parsed;
  try {
    parsed = JSON.parse(message);
  } catch (err) {
    replace(output, h("div", { class: "expression-error", "data-test-error": "message" }, `The example message is not JSON: ${err.message}`));
    return;
  }
  replace(output, h("div", { class: "hint" }, "Testing…"));
  try {
    const answer = await post("jsonata/evaluate", { expression, message: parsed });
    replace(output, "result" in answer
      ? h("pre", { class: "expression-result", "data-test-result": "" }, JSON.stringify(answer.result, null, 4))
      : h("div", { class: "expression-result no-match", "data-test-result": "" }, "No match"));
  } catch (err) {
    const detail = err.body?.details?.[0];
    const position = Number.isInteger(detail?.position) ? detail.position : null;
    const where = position === null ? null : lineAndColumn(expression, position);
    const heading = err.body?.code === "invalid_expression" ? "Invalid expression" : "Evaluation failed";
    replace(output, h("div", { class: "expression-error", "data-test-error": err.body?.code || "request" },
      h("strong", {}, `${heading}: `), detail?.message || err.message,
      where ? h("div", { class: "expression-error-where" }, `at line ${where.line}, column ${where.column}`) : null));
    if (position !== null) editor.select(position);
  }
}

/**
 * Edit `value` (a JSONata expression) in the dialog; `onDone(text)` gets the edited
 * expression when the person presses Done (not with `readOnly`).
 */
export function editExpression(value, { readOnly = false, onDone = null } = {}) {
  const source = h("textarea", { value, readOnly, spellcheck: "false", "aria-label": "Expression" });
  const editor = codeEditor(source, { language: "jsonata", readOnly, height: "180px" });
  const sample = h("textarea", { value: exampleMessage, spellcheck: "false", "aria-label": "Example message" });
  const sampleEditor = codeEditor(sample, { language: "json", lineNumbers: false, height: "150px" });
  sample.addEventListener("input", () => { exampleMessage = sample.value; });
  const output = h("div", { class: "expression-output", "aria-live": "polite" });
  const test = h("button", {
    type: "button", class: "secondary", "data-action": "test-expression",
    onclick: () => runTest(source.value, sample.value, output, editor),
  }, "Test");
  const body = h("div", { class: "expression-editor" },
    h("div", { class: "expression-label" }, "Expression"), editor.element,
    h("div", { class: "expression-tester" },
      h("div", { class: "expression-column" }, h("div", { class: "expression-label" }, "Example message"), sampleEditor.element),
      h("div", { class: "expression-column" },
        h("div", { class: "expression-label" }, "Result", test), output)));
  const dialog = openDialog({
    title: "JSONata expression",
    body,
    className: "expression-dialog",
    buttons: readOnly
      ? [{ label: "Close" }]
      : [{ label: "Cancel" }, { label: "Done", primary: true, action: "done", run: () => onDone?.(source.value) }],
  });
  editor.ready.then((view) => view.focus());
  return dialog;
}

/**
 * The "…" button beside a typed input's text box that opens the expression editor on
 * `input`'s text and writes the edited expression back (firing `input`).
 */
export function expressionButton(input, readOnly) {
  return h("button", {
    type: "button", class: "secondary expand-expression", title: "Edit expression", "data-action": "edit-expression",
    onclick: () => editExpression(input.value, {
      readOnly,
      onDone: (text) => {
        input.value = text;
        input.dispatchEvent(new Event("input", { bubbles: true }));
      },
    }),
  }, "…");
}
