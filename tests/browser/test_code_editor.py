"""The code editor (codeeditor.js, CodeMirror) and the JSONata expression editor with its
tester (expression.js, POST /jsonata/evaluate), as a person sees them: highlighted code
with line numbers, brackets closed as typed and the code saved as shown, highlighting
that follows the node's language, and a tester that shows the runtime's result or the
error and where it is."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
JS_CODE = "// double big numbers\nif (msg.payload > 10) {\n    msg.payload *= 2;\n}\nreturn msg;"
PY_CODE = "def double(x):\n    return x * 2\nmsg['payload'] = double(msg['payload'])\nreturn msg"


def function(node_id: str, code: str, **extra: object) -> dict:
    return {"id": node_id, "type": "function", "z": "t1", "name": node_id, "func": code,
            "outputs": 1, "x": 200, "y": 100, "wires": [[]], **extra}


def shown_lines(editor: Locator) -> list[str]:
    """The code's lines as the editor shows them."""
    return editor.locator(".cm-line").all_inner_texts()


def test_function_code_is_highlighted_and_saved_as_typed(server: Server,
                                                         editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, function("fn", JS_CODE)])
    editor.open()
    panel = editor.edit("fn")
    code = editor.code_editor(panel, "/func")
    expect(code.locator(".cm-content")).to_be_visible()
    expect(code.locator("textarea")).to_be_hidden()
    # Highlighted as JavaScript: keywords, comment, number, each in its own token span.
    keywords = code.locator(".tok-keyword")
    expect(keywords.first).to_have_text("if")
    assert {"if", "return"} <= set(keywords.all_inner_texts())
    expect(code.locator(".tok-comment")).to_have_text("// double big numbers")
    expect(code.locator(".tok-number")).to_have_text(["10", "2"])
    # Line numbers beside the code, one per line.
    numbers = code.locator(".cm-lineNumbers .cm-gutterElement:visible")
    expect(numbers.filter(has_text="5")).to_have_count(1)
    assert shown_lines(code) == JS_CODE.split("\n")
    editor.screenshot("code-editor-function")

    # Type at the end: the opening bracket closes itself, the text goes inside it, and
    # typing the closing bracket steps over it rather than doubling it.
    code.locator(".cm-content").click()
    editor.page.keyboard.press("Control+End")
    editor.page.keyboard.press("Enter")
    editor.page.keyboard.type("node.warn(msg.topic")
    expect(code.locator(".cm-line").last).to_have_text("node.warn(msg.topic)")
    editor.page.keyboard.type(");")
    expect(code.locator(".cm-line").last).to_have_text("node.warn(msg.topic);")
    expected = JS_CODE + "\nnode.warn(msg.topic);"
    assert shown_lines(code) == expected.split("\n")
    editor.screenshot("code-editor-typed")
    editor.done()
    editor.deploy()
    (saved,) = [n for n in server.flows() if n["id"] == "fn"]
    assert saved["func"] == expected

    # Open again: the saved code is what the editor shows.
    panel = editor.edit("fn")
    assert shown_lines(editor.code_editor(panel, "/func")) == expected.split("\n")


def test_code_opens_in_a_larger_window_and_comes_back(server: Server,
                                                    editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, function("fn", JS_CODE)])
    editor.open()
    panel = editor.edit("fn")
    code = editor.code_editor(panel, "/func")
    code.locator("[data-action=expand-code]").click()
    dialog = editor.page.locator("dialog.code-dialog")
    expect(dialog.locator("h2")).to_have_text("On Message")
    large = dialog.locator(".code-editor")
    expect(large).to_have_attribute("data-language", "javascript")
    expect(large.locator(".cm-line")).to_have_text(JS_CODE.split("\n"))
    assert large.bounding_box()["width"] > code.bounding_box()["width"]
    expect(large.locator(".tok-keyword")).to_have_text(["if", "return"])
    large.locator(".cm-content").click()
    editor.page.keyboard.press("Control+End")
    editor.page.keyboard.type("\n// checked")
    editor.screenshot("code-editor-expanded")
    dialog.locator("[data-action=done]").click()
    expect(dialog).to_have_count(0)
    expect(panel).to_be_visible()  # ctrl-enter / done in the dialog is not the tray's
    expect(code.locator(".cm-line")).to_have_text([*JS_CODE.split("\n"), "// checked"])


def test_choosing_python_highlights_the_code_as_python(server: Server,
                                                       editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, function("fn", PY_CODE)])
    editor.open()
    panel = editor.edit("fn")
    code = editor.code_editor(panel, "/func")
    expect(code.locator(".tok-keyword").first).to_have_text("return")
    # As JavaScript, `def` is only a name.
    expect(code.locator(".tok-keyword", has_text="def")).to_have_count(0)
    editor.field(panel, "/language").select_option("python")
    expect(code.locator(".tok-keyword", has_text="def")).to_have_count(1)
    expect(code).to_have_attribute("data-language", "python")
    expect(editor.code_editor(panel, "/initialize")).to_have_attribute("data-language", "python")
    editor.screenshot("code-editor-python")
    editor.done()
    editor.deploy()
    (saved,) = [n for n in server.flows() if n["id"] == "fn"]
    assert (saved["language"], saved["func"]) == ("python", PY_CODE)


def test_the_template_is_highlighted_in_the_format_the_node_names(server: Server,
                                                                 editor: EditorPage) -> None:
    # x-format-by is not the function node's alone: the template's `format` drives it.
    server.request("POST", "/flows", [TAB, {
        "id": "tpl", "type": "template", "z": "t1", "name": "tpl", "x": 200, "y": 100,
        "field": "payload", "fieldType": "msg", "format": "handlebars", "syntax": "mustache",
        "template": '{"count": 1, "name": "{{payload}}"}', "output": "str", "wires": [[]]}])
    editor.open()
    panel = editor.edit("tpl")
    code = editor.code_editor(panel, "/template")
    expect(code).to_have_attribute("data-language", "handlebars")
    expect(code.locator(".cm-line")).to_have_text(['{"count": 1, "name": "{{payload}}"}'])
    expect(code.locator(".tok-number")).to_have_count(0)  # handlebars: plain text
    editor.field(panel, "/format").fill("json")
    expect(code).to_have_attribute("data-language", "json")
    expect(code.locator(".tok-number")).to_have_text("1")
    expect(code.locator(".tok-propertyName")).to_have_text(['"count"', '"name"'])


def test_the_jsonata_tester_shows_the_runtimes_result_or_the_error(server: Server,
                                                                   editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, {
        "id": "sw", "type": "switch", "z": "t1", "name": "sum", "x": 200, "y": 100,
        "property": "payload", "propertyType": "msg", "checkall": "true", "outputs": 1,
        "rules": [{"t": "gt", "v": "5", "vt": "num"}], "wires": [[]]}])
    editor.open()
    panel = editor.edit("sw")
    row = panel.locator('[data-path="/property"]')
    expand = row.locator("[data-action=edit-expression]")
    expect(expand).to_be_hidden()  # only for expressions
    row.locator("select.typed-type").select_option("jsonata")
    expect(expand).to_be_visible()
    expand.click()

    dialog = editor.page.locator("dialog.expression-dialog")
    expression = dialog.locator(".code-editor[data-language=jsonata] .cm-content")
    expect(expression).to_be_visible()
    # JSONata's own highlighting (jsonata-mode.js): calls, variables, names, strings,
    # numbers, regular expressions, words and comments each in their token span.
    expression.fill('/* big */ $x := $count(payload[price > 10]) and /^a/i ~> $match("b")')
    tokens = {cls: dialog.locator(f".code-editor[data-language=jsonata] .tok-{cls}")
              for cls in ("comment", "variableName", "variableName2", "propertyName",
                          "number", "keyword", "string2", "string")}
    expect(tokens["comment"]).to_have_text("/* big */")
    expect(tokens["variableName"]).to_have_text("$x")
    expect(tokens["variableName2"]).to_have_text(["$count", "$match"])
    expect(tokens["propertyName"]).to_have_text(["payload", "price"])
    expect(tokens["number"]).to_have_text("10")
    expect(tokens["keyword"]).to_have_text("and")
    expect(tokens["string2"]).to_have_text("/^a/i")
    expect(tokens["string"]).to_have_text('"b"')
    expression.fill("$sum(payload)")
    dialog.locator(".code-editor[data-language=json] .cm-content").fill('{"payload":[1,2,3]}')
    dialog.locator("[data-action=test-expression]").click()
    expect(dialog.locator("[data-test-result]")).to_have_text("6")
    editor.screenshot("expression-tester-result")

    expression.fill("$sum(payload")
    dialog.locator("[data-action=test-expression]").click()
    error = dialog.locator("[data-test-error]")
    expect(error).to_contain_text("Invalid expression: Expected ) before end of expression")
    expect(error).to_contain_text("at line 1, column 13")
    editor.screenshot("expression-tester-error")

    expression.fill("$sum(payload) * 2")
    dialog.locator("[data-action=done]").click()
    expect(dialog).to_have_count(0)
    expect(row.locator("input[type=text]")).to_have_value("$sum(payload) * 2")
    editor.done()
    editor.deploy()
    (saved,) = [n for n in server.flows() if n["id"] == "sw"]
    assert (saved["property"], saved["propertyType"]) == ("$sum(payload) * 2", "jsonata")


def test_codemirror_loads_only_when_a_code_field_opens(server: Server,
                                                       editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, function("fn", JS_CODE)])
    loaded: list[str] = []
    editor.page.on("request", lambda r: loaded.append(r.url) if "/vendor/" in r.url else None)
    editor.open()
    assert loaded == []
    with editor.page.expect_request(lambda r: "/static/vendor/codemirror-" in r.url):
        panel = editor.edit("fn")
    expect(editor.code_editor(panel, "/func").locator(".cm-content")).to_be_visible()
