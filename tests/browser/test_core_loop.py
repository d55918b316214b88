"""The core loop, as a person does it: build the edge pipeline on an empty canvas by
dragging and wiring, configure nodes through their forms, deploy, then watch the
debug sidebar and the status badges."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_build_configure_deploy_and_debug(editor):
    page = editor.page
    editor.screenshot("01-empty-editor")
    inject = editor.drag_from_palette("inject", 120, 120)
    flt = editor.drag_from_palette("rbe", 300, 120)
    threshold = editor.drag_from_palette("threshold", 480, 120)
    debug = editor.drag_from_palette("debug", 700, 80)
    editor.wire(inject, 0, flt)
    editor.wire(flt, 0, threshold)
    editor.wire(threshold, 0, debug)
    expect(editor.node(threshold).locator("[data-port]")).to_have_count(3)

    panel = editor.edit(inject)
    panel.locator('[data-path="/payload"] select.typed-type').select_option("num")
    panel.locator('[data-path="/payload"] input').fill("42")
    editor.field(panel, "/topic").fill("sensor/1")
    editor.done()

    panel = editor.edit(threshold)
    panel.locator("[data-add=rules]").click()
    expect(panel.locator('[data-error-path="/rules/0/property"]')).to_have_text("is required")
    editor.screenshot("02-threshold-form-invalid")
    editor.field(panel, "/rules/0/property").fill("payload")
    expect(panel.locator('[data-error-path="/rules/0/property"]')).to_have_count(0)
    editor.field(panel, "/rules/0/warning").fill("10")
    editor.field(panel, "/rules/0/label").fill("temp")
    editor.done()
    expect(editor.node(threshold).locator("[data-marker=changed]")).to_have_count(1)
    expect(editor.node(threshold).locator("[data-marker=invalid]")).to_have_count(0)
    editor.screenshot("03-pipeline-built")

    editor.deploy()
    expect(page.locator("#canvas [data-marker=changed]")).to_have_count(0)
    deployed = {n["id"]: n for n in editor.server.flows()}
    assert deployed[inject]["payload"] == "42" and deployed[inject]["payloadType"] == "num"
    assert deployed[threshold]["rules"][0]["property"] == "payload"
    assert deployed[threshold]["rules"][0]["warning"] == 10
    assert deployed[inject]["wires"] == [[flt]] and deployed[threshold]["wires"][0] == [debug]

    editor.sidebar("debug")
    editor.node(inject).locator("[data-button=inject]").click()
    message = page.locator("#debug-messages .debug-message").first
    expect(message).to_be_visible()
    expect(message.locator(".debug-topic")).to_have_text("alert/sensor/1/temp")
    message.locator("summary").first.click()
    expect(message.locator(".dv-tree")).to_contain_text("warning")
    expect(editor.node(threshold).locator(".node-status")).to_be_visible()
    expect(editor.node(threshold).locator(".status-text")).not_to_have_text("")
    editor.screenshot("04-deployed-debug-and-status")

    page.locator("#debug-filter").select_option("selected")
    editor.click_node(flt)
    expect(message).to_be_hidden()
    editor.click_node(debug)
    expect(message).to_be_visible()
    page.locator("#debug-clear").click()
    expect(page.locator("#debug-messages .debug-message")).to_have_count(0)
