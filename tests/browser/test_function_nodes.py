"""What the editor shows for function nodes (issue 13): the language of each node's code in
words, and a node whose JavaScript does not compile marked red with the reason, while
the rest of the flow deploys and runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def function(node_id: str, code: str, y: int, **extra: object) -> dict:
    return {"id": node_id, "type": "function", "z": "t1", "name": node_id, "func": code,
            "outputs": 1, "x": 200, "y": y, "wires": [[]], **extra}


def test_the_form_says_which_language_and_a_bad_node_is_marked(server: Server,
                                                               editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB,
        function("from-node-red", "msg.payload = msg.payload * 2;\nreturn msg;", 80),
        function("in-python", "msg['payload'] *= 2\nreturn msg", 160, language="python"),
        function("broken", "return msg.payload.(;", 240),
    ])
    editor.open()

    panel = editor.edit("from-node-red")
    language = editor.field(panel, "/language")
    expect(language.locator("option:checked")).to_have_text("JavaScript")
    expect(panel.locator('[data-path="/language"]')).to_contain_text("Language of the code")
    assert language.locator("option").all_inner_texts() == ["JavaScript", "Python"]
    labels = panel.locator("[data-path] label").all_inner_texts()
    assert labels.count("Name") == 1, labels
    assert {"On Message", "On Start", "On Stop", "Outputs", "Timeout (seconds)"} <= set(labels)
    editor.done()

    panel = editor.edit("in-python")
    expect(editor.field(panel, "/language").locator("option:checked")).to_have_text("Python")
    editor.screenshot("19-function-language")
    editor.done()

    status = editor.node("broken").locator(".node-status")
    expect(status).to_contain_text("JavaScript syntax error")
    assert [n["id"] for n in server.request("GET", "/healthz").get("failedNodes", [])] == \
        ["broken"]
    editor.screenshot("20-function-broken")
