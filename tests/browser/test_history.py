"""The flow history in the editor (project mode, docs/projects.md): the deploy message,
the history sidebar's list of versions, the diff of two versions in words, and
"Deploy this version" to roll back."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

AUTHOR = "Ada Lovelace"
V2 = {"Node-RED-API-Version": "v2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A project-mode server (a new data dir, git installed) whose deploys are authored
    by a named person."""
    srv = start_server(tmp_path_factory.mktemp("flowrt-project"),
                       f'projectAuthor = "{AUTHOR} <ada@example.com>"\n')
    assert srv.request("GET", "/settings")["flowHistory"] is True  # type: ignore[index]
    yield srv
    stop_server(srv)


def deploy_with_message(server: Server, flows: list[dict], message: str) -> None:
    """Deploy `flows` through the v2 API with a commit message (test set-up)."""
    rev = server.request("GET", "/flows", headers=V2)["rev"]  # type: ignore[index]
    server.request("POST", "/flows", {"flows": flows, "rev": rev, "message": message}, headers=V2)


def open_history(editor: EditorPage) -> None:
    editor.sidebar("history")
    expect(editor.page.locator("#sidebar-history .version").first).to_be_visible()


def version(editor: EditorPage, message: str) -> Locator:
    return editor.page.locator("#sidebar-history .version", has_text=message)


def test_a_deploy_message_is_listed_with_its_author(editor: EditorPage) -> None:
    page = editor.page
    message = page.locator("#deploy-message")
    expect(message).to_be_visible()
    inject = editor.drag_from_palette("inject", 150, 100)
    message.fill("First sensor poll")
    editor.deploy()
    expect(message).to_have_value("")

    open_history(editor)
    top = page.locator("#sidebar-history .version").first
    expect(top.locator(".version-message")).to_have_text("First sensor poll")
    expect(top.locator(".version-author")).to_have_text(AUTHOR)
    expect(top.locator(".version-date")).to_have_text("just now")
    expect(top.locator(".version-current")).to_have_text("deployed")

    # ctrl-d with no message: the history says what the deploy did.
    panel = editor.edit(inject)
    editor.field(panel, "/name").fill("tick")
    editor.done()
    editor.page.locator("#canvas").click(position={"x": 600, "y": 500})
    with editor.expect_deploy():
        page.keyboard.press("Control+d")
    expect(top.locator(".version-message")).to_have_text('Changed inject "tick"')
    expect(version(editor, "First sensor poll")).to_have_count(1)
    expect(version(editor, "First sensor poll").locator(".version-current")).to_have_count(0)
    editor.screenshot("history-sidebar")


def test_the_diff_of_two_versions_names_the_changed_property(editor: EditorPage) -> None:
    page = editor.page
    inject = editor.drag_from_palette("inject", 150, 100)
    page.locator("#deploy-message").fill("Poll added")
    editor.deploy()
    panel = editor.edit(inject)
    editor.field(panel, "/name").fill("every minute")
    editor.done()
    debug = editor.drag_from_palette("debug", 420, 100)
    editor.wire(inject, 0, debug)
    page.locator("#deploy-message").fill("Poll named and shown")
    editor.deploy()

    open_history(editor)
    compare = page.locator("#sidebar-history [data-action=compare]")
    expect(compare).to_be_disabled()
    version(editor, "Poll added").locator("input[type=checkbox]").check()
    version(editor, "Poll named and shown").locator("input[type=checkbox]").check()
    expect(compare).to_have_text("compare the two")
    compare.click()
    dialog = page.locator("dialog.versions-diff")
    expect(dialog.locator("h2")).to_have_text(
        re.compile(r"^Changes from [0-9a-f]{8} to the deployed version$"))
    expect(dialog.locator(".versions-compared li")).to_have_text(
        [re.compile("Poll added"), re.compile("Poll named and shown")])
    changed = dialog.locator(f'[data-diff=changed] [data-diff-node="{inject}"]')
    expect(changed.locator("[data-diff-key=name]")).to_have_text('name: "" → "every minute"')
    expect(dialog.locator(f'[data-diff=added] [data-diff-node="{debug}"]')).to_contain_text("debug")
    expect(dialog.locator(f'[data-diff=rewired] [data-diff-node="{inject}"]')).to_contain_text(
        "+ wire from output 1 → debug")
    editor.screenshot("history-diff")


def test_deploy_this_version_restores_the_old_flows(editor: EditorPage) -> None:
    page = editor.page
    server = editor.server
    tab = {"id": "f1", "type": "tab", "label": "Flow 1"}
    node = {"id": "c1", "type": "comment", "z": "f1", "name": "old label", "info": "",
            "x": 200, "y": 120, "wires": []}
    deploy_with_message(server, [tab, node], "The old way")
    deploy_with_message(server, [tab, {**node, "name": "new label"}], "The new way")
    editor.open()
    expect(editor.node("c1").locator(".node-label")).to_have_text("new label")

    open_history(editor)
    rows = page.locator("#sidebar-history .version")
    count = rows.count()
    expect(version(editor, "The new way").locator("[data-action=deploy-version]")).to_have_count(0)
    version(editor, "The old way").locator("[data-action=deploy-version]").click()
    confirm = page.locator("dialog[open]")
    expect(confirm).to_contain_text("The old way")
    with page.expect_response(lambda r: r.request.method == "POST" and "/history/" in r.url):
        confirm.locator("[data-action=confirm]").click()

    expect(editor.node("c1").locator(".node-label")).to_have_text("old label")
    expect(page.locator("#deploy-button")).to_be_disabled()
    expect(rows).to_have_count(count + 1)
    expect(rows.first.locator(".version-message")).to_have_text(
        re.compile(r"^Deploy version [0-9a-f]{8} again \(The old way\)$"))
    expect(rows.first.locator(".version-current")).to_be_visible()
    assert next(n for n in server.flows() if n["id"] == "c1")["name"] == "old label"
