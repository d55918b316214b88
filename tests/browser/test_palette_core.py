"""The palette shows every node of Node-RED 4's core palette, in Node-RED's categories,
under the words Node-RED's palette uses."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage

# Node-RED 4.1's palette: category → (type, label shown). Config nodes (mqtt-broker,
# tls-config, http proxy, websocket-listener/-client) are not in a palette;
# global-config and unknown are not node types one places.
NODE_RED_PALETTE = {
    "common": [("inject", "inject"), ("debug", "debug"), ("complete", "complete"),
               ("catch", "catch"), ("status", "status"), ("link in", "link in"),
               ("link call", "link call"), ("link out", "link out"),
               ("comment", "comment"), ("junction", "junction")],
    "function": [("function", "function"), ("switch", "switch"), ("change", "change"),
                 ("range", "range"), ("template", "template"), ("delay", "delay"),
                 ("trigger", "trigger"), ("exec", "exec"), ("rbe", "filter")],
    "network": [("mqtt in", "mqtt in"), ("mqtt out", "mqtt out"), ("http in", "http in"),
                ("http response", "http response"), ("http request", "http request"),
                ("websocket in", "websocket in"), ("websocket out", "websocket out"),
                ("tcp in", "tcp in"), ("tcp out", "tcp out"), ("tcp request", "tcp request"),
                ("udp in", "udp in"), ("udp out", "udp out")],
    "sequence": [("split", "split"), ("join", "join"), ("sort", "sort"), ("batch", "batch")],
    "parser": [("csv", "csv"), ("html", "html"), ("json", "json"), ("xml", "xml"),
               ("yaml", "yaml")],
    "storage": [("file", "write file"), ("file in", "read file"), ("watch", "watch")],
}


def test_every_core_node_is_in_its_node_red_category(editor: EditorPage) -> None:
    page = editor.page
    for category, nodes in NODE_RED_PALETTE.items():
        section = page.locator(f'[data-category="{category}"]')
        expect(section).to_be_visible()
        for node_type, label in nodes:
            entry = section.locator(f'[data-palette-type="{node_type}"]')
            expect(entry).to_be_visible()
            expect(entry.locator(".palette-label")).to_have_text(label)
    for config_type in ("mqtt-broker", "tls-config", "http proxy", "websocket-listener",
                        "websocket-client"):
        expect(page.locator(f'[data-palette-type="{config_type}"]')).to_have_count(0)
