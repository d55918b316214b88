"""Browser test fixtures: the real `flowrt run` server in a subprocess on a free port
with a temporary data dir (ready when GET /flows answers 200), and Playwright driving
Debian's Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
STARTUP_TIMEOUT = 20.0


@dataclass
class Server:
    """A running `flowrt run` process."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def request(self, method: str, path: str, body: object = None,
                headers: dict[str, str] | None = None) -> object:
        """Call the admin API directly (for test setup and checks); returns parsed JSON."""
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=all_headers)
        with urllib.request.urlopen(req, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def flows(self) -> list[dict]:
        """The deployed flows (v1 array)."""
        return self.request("GET", "/flows")  # type: ignore[return-value]

    def reset(self) -> None:
        """Deploy an empty flow set."""
        self.request("POST", "/flows", [])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, settings: str = "", port: int | None = None) -> Server:
    """Start `flowrt run` with `settings` (TOML) in `data_dir`, on `port` (default: a free
    one); wait until GET /flows works."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if settings:
        (data_dir / "settings.toml").write_text(settings)
    port = port or _free_port()
    flowrt = shutil.which("flowrt", path=str(Path(sys.executable).parent)) or "flowrt"
    with (data_dir / "server.log").open("wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [flowrt, "run", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"flowrt exited with {process.returncode}: "
                               f"{(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/flows", timeout=1).close()
            return Server(url, data_dir, process)
        except urllib.error.HTTPError as exc:  # a subclass of URLError: catch it first
            if exc.code == 401:
                return Server(url, data_dir, process)
            time.sleep(0.1)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("flowrt did not answer GET /flows in time")


def stop_server(server: Server) -> None:
    """SIGTERM the server and wait for it."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A flowrt server shared by the tests of one module."""
    srv = start_server(tmp_path_factory.mktemp("flowrt-data"))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never `playwright install`).

    Module-scoped: Playwright's sync API keeps its own event loop running while it is
    open, which would break the asyncio tests of the modules that run after it.
    """
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def editor(server: Server, browser: object) -> Iterator[object]:
    """A fresh editor page on an empty deployed flow set; fails the test on page errors."""
    from tests.browser.editor_page import EditorPage

    server.reset()
    context = browser.new_context(viewport={"width": 1400, "height": 850})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"unexpected browser dialog: {dialog.message}"))
    editor_page = EditorPage(page, server)
    editor_page.open()
    yield editor_page
    context.close()
    assert not errors, errors


def pytest_configure(config: pytest.Config) -> None:
    """Make sure the screenshot directory exists."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
