"""The context-data and info sidebars (issue 16), asserted on what the person sees:
the context tab's rows and values, refreshing and deleting a key; the info table's
words (never "null") and its columns with a long node name. Screenshots 90-92."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
COUNTER = [
    TAB,
    {"id": "in1", "type": "inject", "z": "t1", "x": 120, "y": 80, "wires": [["f1"]],
     "props": [{"p": "payload"}], "payload": "", "payloadType": "date", "name": "tick"},
    {"id": "f1", "type": "function", "z": "t1", "x": 300, "y": 80, "wires": [["d1"]],
     "name": "count", "outputs": 1,
     "func": "const n = (flow.get('count') || 0) + 1; flow.set('count', n);"
             "flow.set('seen', {last: n, tags: ['a', 'b']}); context.set('mine', 'own');"
             "global.set('site', 'plant-7'); msg.payload = n; return msg;"},
    {"id": "d1", "type": "debug", "z": "t1", "x": 480, "y": 80, "wires": [], "active": True,
     "tosidebar": True, "complete": "payload"},
]


def section(editor: EditorPage, scope: str) -> Locator:
    return editor.page.locator(f'#sidebar-context [data-context-scope="{scope}"]')


def value_of(editor: EditorPage, scope: str, key: str) -> Locator:
    return section(editor, scope).locator(f'[data-context-key="{key}"] .debug-value')


def inject_and_see(editor: EditorPage, count: int) -> None:
    """Press the inject's button on the canvas; wait for the function's output in debug."""
    editor.node("in1").locator("[data-button], .inject-button").first.click()
    editor.sidebar("debug")
    expect(editor.page.locator("#debug-messages .debug-message")).to_have_count(count)


def test_context_tab_shows_refreshes_and_deletes_what_a_function_set(
        editor: EditorPage) -> None:
    editor.server.request("POST", "/flows", COUNTER)
    editor.open()
    inject_and_see(editor, 1)
    editor.sidebar("context")
    expect(value_of(editor, "flow", "count")).to_have_text("1")
    expect(value_of(editor, "global", "site")).to_have_text("plant-7")
    # An object is shown as the debug sidebar shows it: a tree with its keys.
    expect(value_of(editor, "flow", "seen")).to_contain_text("last")
    # No node selected: the node section says so.
    expect(section(editor, "node")).to_contain_text("none selected")
    editor.click_node("f1")
    expect(value_of(editor, "node", "mine")).to_have_text("own")
    editor.page.locator("#canvas").click(position={"x": 700, "y": 500})  # back to no selection
    editor.sidebar("context")

    inject_and_see(editor, 2)
    editor.sidebar("context")
    # The sidebar shows what it loaded until the person refreshes it.
    expect(value_of(editor, "flow", "count")).to_have_text("1")
    section(editor, "flow").locator(".context-refresh").click()
    expect(value_of(editor, "flow", "count")).to_have_text("2")
    editor.screenshot("90-context-sidebar")

    row = section(editor, "flow").locator('[data-context-key="count"]')
    row.hover()
    row.get_by_role("button", name="Delete count").click()
    dialog = editor.page.locator("dialog[open]")
    expect(dialog).to_contain_text("Delete flow.count?")
    dialog.locator("[data-action=confirm]").click()
    expect(row).to_have_count(0)
    expect(section(editor, "flow").locator('[data-context-key="seen"]')).to_have_count(1)
    assert editor.server.request("GET", "/context/flow/t1/count") == {
        "msg": "(undefined)", "format": "undefined"}


TWO_STORES = """
[contextStorage.default]
module = "memory"
[contextStorage.file]
module = "sqlite"
"""


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server, with a memory store and a persistent one."""
    srv = start_server(tmp_path_factory.mktemp("two-stores"), TWO_STORES)
    yield srv
    stop_server(srv)


def test_context_tab_names_the_store_of_each_key_when_there_are_several(
        two_stores: Server, browser: Any) -> None:
    flows = [dict(node) for node in COUNTER]
    flows[2]["func"] = "flow.set('count', 1); flow.set('kept', 'on disk', 'file'); return msg;"
    two_stores.request("POST", "/flows", flows)
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    try:
        editor = EditorPage(context.new_page(), two_stores)
        editor.open()
        inject_and_see(editor, 1)
        editor.sidebar("context")
        expect(value_of(editor, "flow", "kept")).to_have_text("on disk")
        rows = section(editor, "flow").locator(".context-row")
        expect(rows.locator(".context-key")).to_have_text(["count", "kept"])
        expect(rows.locator(".context-store")).to_have_text(["default", "file"])
        editor.screenshot("92-context-two-stores")
    finally:
        context.close()


UNKNOWN = {"id": "u1", "type": "not-installed", "z": "t1", "x": 150, "y": 160, "wires": [],
           "name": None, "info": None}
NULLISH = [
    {"id": "t1", "type": "tab"},  # a tab without a label
    {"id": "c1", "type": "catch", "z": "t1", "x": 150, "y": 80, "wires": [[]], "name": "",
     "scope": None, "uncaught": False},
    {"id": "sw1", "type": "switch", "z": "t1", "x": 300, "y": 240, "wires": [[], []],
     "name": "a very long switch node name that goes on and on and on", "property": "payload",
     "propertyType": "msg", "rules": [{"t": "eq", "v": "a", "vt": "str"},
                                      {"t": "eq", "v": "b", "vt": "str"}],
     "checkall": "true", "repair": False, "outputs": 2},
]


def info_text(editor: EditorPage) -> str:
    """What the info tab says about the node or flow (its type's help text aside)."""
    return "\n".join(editor.page.locator("#sidebar-info > :not(.info-help)").all_inner_texts())


def test_info_sidebar_shows_the_node_table_in_words_and_never_null(editor: EditorPage) -> None:
    editor.server.request("POST", "/flows", NULLISH)
    editor.open()
    editor.sidebar("info")
    no_null = re.compile(r"null", re.IGNORECASE)
    expect(editor.page.locator("#sidebar-info h3")).to_have_text("Flow: t1")
    assert not no_null.search(info_text(editor)), info_text(editor)
    editor.import_text(json.dumps([UNKNOWN]))  # a type this runtime lacks: not deployable
    expect(editor.node("u1")).to_have_count(1)
    for node_id, node_type in (("c1", "catch"), ("u1", "not-installed"), ("sw1", "switch")):
        editor.click_node(node_id)
        table = editor.page.locator("#sidebar-info .info-table").first
        expect(table.locator('[data-info-key="Node"] td')).to_have_text(node_id)
        expect(table.locator('[data-info-key="Type"] td')).to_have_text(node_type)
        more = editor.page.locator("#sidebar-info .info-more > summary")
        if node_id != "u1":  # a node with no properties set has nothing more to show
            more.click()
        else:
            expect(more).to_have_count(0)
        text = info_text(editor)
        assert not no_null.search(text), (node_id, text)
    # The switch's properties are listed under "show more", its rules as a tree.
    more = editor.page.locator("#sidebar-info .info-more")
    expect(more.locator('[data-info-key="property"] td')).to_have_text("payload")
    expect(more.locator('[data-info-key="rules"] td')).to_contain_text("array[2]")
    editor.screenshot("91-info-sidebar-long-name")
    # "show more" stays unfolded for the next node (the info tab is redrawn on every render).
    editor.click_node("c1")
    expect(editor.page.locator('#sidebar-info .info-more [data-info-key="uncaught"] td')
           ).to_be_visible()


def test_a_long_node_name_does_not_squeeze_the_info_columns(editor: EditorPage) -> None:
    editor.server.request("POST", "/flows", NULLISH)
    editor.open()
    editor.sidebar("info")
    editor.click_node("sw1")
    title = editor.page.locator("#sidebar-info h3")
    expect(title).to_have_text(NULLISH[2]["name"])
    heading = editor.page.locator('#sidebar-info [data-info-key="Type"] th')
    box = heading.bounding_box()
    line = heading.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 16")
    # "Type" on one line, in a column a good part of the sidebar wide.
    assert box["height"] < 2 * line + 8, box
    sidebar = editor.page.locator("#sidebar").bounding_box()
    assert box["width"] > sidebar["width"] * 0.25, (box, sidebar)
    # The title wraps between words: no line holds a single letter.
    lines = title.evaluate("""el => {
        const range = document.createRange(); range.selectNodeContents(el);
        return [...range.getClientRects()].map(r => Math.round(r.width));
    }""")
    assert all(width > 20 for width in lines), lines
