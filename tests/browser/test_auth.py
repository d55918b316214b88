"""Admin auth: the login page, the bearer token on every request and on /comms, and
read-only mode for users who may not deploy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from flowrt.server.auth import hash_password
from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with two users: admin (everything) and viewer (read only)."""
    settings = f"""
[adminAuth]
[[adminAuth.users]]
username = "admin"
password = "{hash_password('admin-pw')}"
permissions = "*"
[[adminAuth.users]]
username = "viewer"
password = "{hash_password('viewer-pw')}"
permissions = "read"
"""
    srv = start_server(tmp_path_factory.mktemp("flowrt-auth"), settings)
    yield srv
    stop_server(srv)


@pytest.fixture
def page(auth_server: Server, browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(auth_server.url + "/")
    yield page
    context.close()


def login(page: Page, username: str, password: str) -> None:
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(password)
    page.locator("[data-action=login]").click()


def test_login_then_deploy_with_token(page, auth_server):
    expect(page.locator("#login-form")).to_be_visible()
    login(page, "admin", "wrong")
    expect(page.locator("#login-error")).to_contain_text("wrong username or password")
    page.screenshot(path=str(EditorPage(page, auth_server).screenshot_path("13-login")))
    login(page, "admin", "admin-pw")
    page.wait_for_selector("body[data-ready=true]")
    editor = EditorPage(page, auth_server)
    editor.drag_from_palette("inject", 200, 120)
    editor.deploy()
    expect(page.locator("body")).not_to_have_class("offline")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")  # the token survives a reload
    expect(page.locator("#canvas [data-node-id]")).to_have_count(1)
    editor.menu("logout")
    expect(page.locator("#login-form")).to_be_visible()


def test_read_only_user_cannot_edit_or_deploy(page, auth_server):
    login(page, "viewer", "viewer-pw")
    page.wait_for_selector("body[data-ready=true]")
    editor = EditorPage(page, auth_server)
    expect(page.locator("#readonly-badge")).to_be_visible()
    expect(page.locator("#deploy-button")).to_be_disabled()
    before = page.locator("#canvas [data-node-id]").count()
    source = page.locator('[data-palette-type="debug"]').bounding_box()
    canvas = page.locator("#canvas").bounding_box()
    page.mouse.move(source["x"] + 30, source["y"] + 10)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 300, canvas["y"] + 300, steps=5)
    page.mouse.up()
    expect(page.locator("#canvas [data-node-id]")).to_have_count(before)
    page.keyboard.press("Control+i")
    expect(page.locator("dialog.import-dialog")).to_have_count(0)
    editor.screenshot("14-read-only")
