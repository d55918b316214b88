"""Deploying: the diff review before deploy, deploy modes, and a stale rev (409)
resolved by merging or reloading."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_review_changes_before_deploy(editor):
    page = editor.page
    inject = editor.drag_from_palette("inject", 150, 100)
    gone = editor.drag_from_palette("comment", 150, 220)
    editor.deploy()
    panel = editor.edit(inject)
    editor.field(panel, "/name").fill("every second")
    editor.done()
    debug = editor.drag_from_palette("debug", 420, 100)
    editor.wire(inject, 0, debug)
    editor.click_node(gone)
    page.keyboard.press("Delete")
    expect(page.locator("#deploy-button")).to_be_enabled()

    page.locator("#deploy-menu-button").click()
    page.locator("#deploy-menu [data-action=review]").click()
    dialog = page.locator("dialog.diff-dialog")
    expect(dialog.locator("[data-diff=added] [data-diff-node]")).to_have_count(1)
    expect(dialog.locator(f'[data-diff=added] [data-diff-node="{debug}"]')).to_contain_text("debug")
    expect(dialog.locator(f'[data-diff=removed] [data-diff-node="{gone}"]')).to_be_visible()
    changed = dialog.locator(f'[data-diff=changed] [data-diff-node="{inject}"]')
    expect(changed).to_contain_text('name: "" → "every second"')
    new_wire = dialog.locator(f'[data-diff=wires-added] [data-diff-wire="{inject}:0:{debug}"]')
    expect(new_wire).to_have_text("every second [1] → debug")
    editor.screenshot("11-review-changes")
    with editor.expect_deploy():
        dialog.locator("[data-action=deploy-reviewed]").click()
    expect(page.locator("#deploy-button")).to_be_disabled()
    flows = {n["id"]: n for n in editor.server.flows()}
    assert gone not in flows and flows[inject]["wires"] == [[debug]]


def test_modified_nodes_deploy_mode_is_sent(editor):
    page = editor.page
    editor.drag_from_palette("inject", 150, 100)
    page.locator("#deploy-menu-button").click()
    page.locator("#deploy-menu input[value=nodes]").check()
    expect(page.locator("#deploy-button .deploy-mode")).to_have_text("Modified Nodes")
    with page.expect_request("**/flows") as request:
        editor.deploy()
    assert request.value.headers["node-red-deployment-type"] == "nodes"
    assert request.value.headers["node-red-api-version"] == "v2"


def test_stale_rev_offers_merge(editor):
    page = editor.page
    inject = editor.drag_from_palette("inject", 150, 100)
    editor.deploy()
    server_flows = editor.server.flows()
    tab = next(n["id"] for n in server_flows if n["type"] == "tab")
    other = {"id": "5e5e5e5e5e5e5e5e", "type": "comment", "z": tab, "name": "from elsewhere",
             "info": "", "x": 150, "y": 300, "wires": []}
    editor.server.request("POST", "/flows", [*server_flows, other])
    notice = page.locator("[data-notification=warning]", has_text="updated")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Close").click()

    debug = editor.drag_from_palette("debug", 420, 100)
    editor.wire(inject, 0, debug)
    page.locator("#deploy-button").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Flows changed on the server")
    editor.screenshot("12-conflict-409")
    dialog.locator("[data-action=merge-flows]").click()
    expect(editor.node(other["id"])).to_be_visible()
    expect(editor.wire_locator(inject, 0, debug)).to_have_count(1)
    editor.deploy()
    ids = {n["id"] for n in editor.server.flows()}
    assert {inject, debug, other["id"]} <= ids


def test_stale_rev_reload_discards_local_changes(editor):
    page = editor.page
    editor.drag_from_palette("inject", 150, 100)
    editor.deploy()
    editor.server.request("POST", "/flows", [])
    local = editor.drag_from_palette("debug", 420, 100)
    page.locator("#deploy-button").click()
    page.locator("dialog[open] [data-action=reload-flows]").click()
    expect(editor.node(local)).to_have_count(0)
    expect(page.locator("#canvas [data-node-id]")).to_have_count(0)
    expect(page.locator("#deploy-button")).to_be_disabled()


def test_node_red_status_keys_read_as_words(editor):
    from tests.brokers import free_port

    closed_port = free_port()
    editor.server.request("POST", "/flows", [
        {"id": "t1", "type": "tab", "label": "Flow 1"},
        {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(closed_port)},
        {"id": "m1", "type": "mqtt in", "z": "t1", "x": 200, "y": 100, "topic": "a/#",
         "qos": "0", "datatype": "auto-detect", "broker": "b1", "wires": [[]]},
    ])
    editor.open()
    status = editor.node("m1").locator(".status-text")
    expect(status).to_have_text(re.compile(r"^(connecting|disconnected)$"))
