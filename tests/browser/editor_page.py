"""A page object for the flowrt editor: the gestures a person makes, by data-* hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import SCREENSHOTS, Server

TIMEOUT = 5000


class EditorPage:
    """Drives one editor tab."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.server = server
        page.set_default_timeout(TIMEOUT)

    def open(self) -> None:
        """Load the editor and wait until it has booted."""
        self.page.goto(self.server.url + "/")
        self.page.wait_for_selector("body[data-ready=true]")

    def screenshot_path(self, name: str) -> Path:
        """Where screenshot `name` is saved: tests/screenshots/<name>.png."""
        return SCREENSHOTS / f"{name}.png"

    def screenshot(self, name: str) -> None:
        """Save a screenshot of the whole editor."""
        self.page.screenshot(path=str(self.screenshot_path(name)))

    # ------------------------------------------------------------------ nodes
    def node(self, node_id: str) -> Locator:
        return self.page.locator(f'#canvas [data-node-id="{node_id}"]')

    def node_ids(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#canvas [data-node-id]", "els => els.map(e => e.dataset.nodeId)")

    def drag_from_palette(self, node_type: str, x: float, y: float) -> str:
        """Drag a palette entry to (x, y) relative to the canvas; returns the new node's id."""
        before = set(self.node_ids())
        source = self.page.locator(f'[data-palette-type="{node_type}"]')
        source.scroll_into_view_if_needed()
        box = source.bounding_box()
        canvas = self.page.locator("#canvas").bounding_box()
        self.page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=8)
        self.page.mouse.up()
        self.page.wait_for_function(
            "n => document.querySelectorAll('#canvas [data-node-id]').length === n",
            arg=len(before) + 1)
        (new_id,) = set(self.node_ids()) - before
        return new_id

    def _centre(self, locator: Locator) -> tuple[float, float]:
        box = locator.bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def wire(self, source: str, port: int, target: str) -> None:
        """Drag from output `port` of `source` to the input of `target`."""
        start = self._centre(self.node(source).locator(f'[data-port="out-{port}"]'))
        end = self._centre(self.node(target).locator('[data-port="in"]'))
        self.page.mouse.move(*start)
        self.page.mouse.down()
        self.page.mouse.move(*end, steps=8)
        self.page.mouse.up()
        expect(self.wire_locator(source, port, target)).to_have_count(1)

    def wire_locator(self, source: str, port: int, target: str) -> Locator:
        return self.page.locator(f'#canvas [data-wire="{source}:{port}:{target}"]')

    def click_node(self, node_id: str, **kwargs: Any) -> None:
        self.node(node_id).locator(".node-body").click(**kwargs)

    def move_node(self, node_id: str, dx: float, dy: float) -> None:
        x, y = self._centre(self.node(node_id).locator(".node-body"))
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + dx, y + dy, steps=6)
        self.page.mouse.up()

    # ------------------------------------------------------------------ edit tray
    def edit(self, node_id: str) -> Locator:
        """Double-click a node and return its edit panel."""
        self.node(node_id).locator(".node-body").dblclick()
        panel = self.page.locator(f'.tray-panel[data-editing="{node_id}"]')
        expect(panel).to_be_visible()
        return panel

    def field(self, panel: Locator, path: str) -> Locator:
        """The input / select / textarea of the form row for JSON pointer `path`."""
        return panel.locator(f'[data-path="{path}"]').locator("input, select, textarea").first

    def code_editor(self, panel: Locator, path: str) -> Locator:
        """The code editor of the form row for `path`: its `.cm-content` takes `fill()`,
        its `.cm-line`s are the code as shown, `data-language` the highlighting."""
        return panel.locator(f'[data-path="{path}"] .code-editor')

    def done(self) -> None:
        self.page.locator(".tray-panel").last.locator("[data-action=done]").click()

    # ------------------------------------------------------------------ deploy
    def expect_deploy(self) -> Any:
        """Around a gesture that deploys: waits for the server's answer to it (the
        button is disabled while the request is in flight, so it tells nothing)."""
        return self.page.expect_response(
            lambda r: r.request.method == "POST" and r.url == self.server.url + "/flows")

    def deploy(self) -> None:
        """Press Deploy and wait for the server's answer and the success notification."""
        button = self.page.locator("#deploy-button")
        expect(button).to_be_enabled()
        with self.expect_deploy():
            button.click()
        success = self.page.locator("[data-notification=success]",
                                    has_text="Successfully deployed").last  # earlier ones linger
        expect(success).to_be_visible()
        expect(button).to_be_disabled()

    def sidebar(self, name: str) -> None:
        self.page.locator(f'[data-sidebar-tab="{name}"]').click()

    def menu(self, item: str) -> None:
        self.page.locator("#main-menu-button").click()
        self.page.locator(f'#main-menu [data-menu="{item}"]').click()

    def import_text(self, text: str, *, new_tab: bool = False) -> None:
        """Import JSON through the import dialog's text box."""
        self.menu("import")
        dialog = self.page.locator("dialog.import-dialog")
        dialog.locator("#import-text").fill(text)
        if new_tab:
            dialog.locator("#import-target").select_option("new")
        dialog.locator("[data-action=import]").click()

    def export_text(self, scope: str, fmt: str = "compact") -> str:
        """Open the export dialog, choose range and format, return the JSON shown."""
        self.menu("export")
        dialog = self.page.locator("dialog.export-dialog")
        dialog.locator("#export-range").select_option(scope)
        dialog.locator("#export-format").select_option(fmt)
        text = dialog.locator("#export-text").input_value()
        dialog.get_by_role("button", name="Close").click()
        return text
