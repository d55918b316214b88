"""A page on another site, opened in a real Chromium, cannot deploy, inject or read
debug output (issue 11, finding 2): flowrt runs without adminAuth, the attacker's page
is served from another port of the same machine."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
INJECT = {"id": "in1", "type": "inject", "z": "t1", "x": 100, "y": 100, "wires": [["d1"]],
          "props": [{"p": "payload"}], "payload": "hi", "payloadType": "str"}
DEBUG = {"id": "d1", "type": "debug", "z": "t1", "x": 300, "y": 100, "wires": [],
         "active": True, "tosidebar": True, "tostatus": True, "statusType": "counter"}

ATTACK = """<!doctype html><title>evil</title><iframe name="sink"></iframe><script>
const target = TARGET;
async function attack() {
  const out = {};
  try {  // a "simple" request: no CORS preflight, the browser just sends it
    await fetch(target + "/flows", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify(EVIL_FLOWS)});
    out.deploy = "sent";
  } catch (err) { out.deploy = String(err); }
  try {  // the same deploy as JSON needs a preflight that flowrt does not grant
    const r = await fetch(target + "/flows", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(EVIL_FLOWS)});
    out.jsonDeploy = "status " + r.status;
  } catch (err) { out.jsonDeploy = "blocked"; }
  out.form = await new Promise((resolve) => {  // an empty form POST to /inject
    const form = document.createElement("form");
    form.method = "POST"; form.action = target + "/inject/in1"; form.target = "sink";
    document.body.append(form);
    document.querySelector("iframe").addEventListener("load", () => resolve("submitted"),
                                                      {once: true});
    form.submit();
  });
  out.comms = await new Promise((resolve) => {  // read debug output over /comms
    const ws = new WebSocket(target.replace("http", "ws") + "/comms");
    ws.onopen = () => resolve("open");
    ws.onerror = () => resolve("refused");
  });
  return out;
}
</script>"""


@pytest.fixture
def attacker_site(server: Server, tmp_path: Path) -> Iterator[str]:
    """An HTTP server on another port serving the attacker's page."""
    marker = tmp_path / "pwned"
    evil = [TAB, {"id": "i9", "type": "inject", "z": "t1", "once": True, "onceDelay": 0,
                  "wires": [["f9"]], "props": [{"p": "payload"}]},
            {"id": "f9", "type": "function", "language": "python", "z": "t1", "wires": [[]],
             "func": f"import os\nos.system('touch {marker}')\nreturn msg"}]
    page = (ATTACK.replace("TARGET", json.dumps(server.url))
            .replace("EVIL_FLOWS", json.dumps(evil)).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join(5)
    httpd.server_close()


def test_a_page_on_another_site_cannot_deploy_inject_or_listen(
        server: Server, browser, attacker_site: str, tmp_path: Path) -> None:
    flows = [TAB, INJECT, DEBUG]
    server.request("POST", "/flows", flows)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(attacker_site)
        outcome = page.evaluate("attack()")
    finally:
        context.close()
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    seen = {"json deploy": outcome["jsonDeploy"], "comms": outcome["comms"],
            "flows unchanged": server.flows() == flows,
            "command ran": (tmp_path / "pwned").exists(),
            "injected": 'flowrt_messages_sent_total{type="inject"} 0' not in metrics}
    assert seen == {"json deploy": "blocked", "comms": "refused", "flows unchanged": True,
                    "command ran": False, "injected": False}
