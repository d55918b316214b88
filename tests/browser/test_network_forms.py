"""The forms of the network, storage and exec nodes in Node-RED's words (issue 14):
labels and choices as Node-RED 4.1's forms show them, and the rows Node-RED shows only
for some choices appearing and disappearing with them. Screenshots network-forms-*."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def flow_node(node_id: str, type_: str, y: int, **extra: object) -> dict:
    return {"id": node_id, "type": type_, "z": "t1", "x": 200, "y": y, "wires": [], **extra}


def visible_labels(panel: Locator) -> list[str]:
    """The label texts of the form rows the person can see."""
    return [text.strip() for text in panel.locator(
        ".form-row:visible > label, fieldset:visible > legend").all_inner_texts()]


def choices(select: Locator) -> list[str]:
    return select.locator("option").all_inner_texts()


def picked(select: Locator) -> str:
    """The text a select shows."""
    return select.locator("option:checked").inner_text()


def row(panel: Locator, key: str) -> Locator:
    return panel.locator(f'[data-path="/{key}"]')


@pytest.fixture
def network_flows(server: Server, editor: EditorPage) -> EditorPage:
    server.request("POST", "/flows", [
        TAB,
        flow_node("req", "http request", 60, method="GET", ret="txt", paytoqs="ignore",
                  url="http://127.0.0.1:1/x", tls="", persist=False, proxy="",
                  insecureHTTPParser=False, authType="", senderr=False, headers=[]),
        flow_node("tin", "tcp in", 120, server="server", host="", port="0",
                  datamode="stream", datatype="buffer", newline="", topic="", trim=False,
                  base64=False, tls=""),
        flow_node("uout", "udp out", 180, addr="127.0.0.1", iface="", port="9",
                  ipv="udp4", outport="", base64=False, multicast="false"),
        flow_node("fin", "file in", 240, filename="/tmp/none.txt", filenameType="str",
                  format="utf8", chunk=False, sendError=False, encoding="none",
                  allProps=False),
        flow_node("ex", "exec", 300, command="true", addpay="", append="", useSpawn="false",
                  timer="", winHide=False, oldrc=False),
        # watch's editor order names "name" too: the form shows it once all the same.
        flow_node("w", "watch", 360, files="/tmp", recursive=""),
    ])
    editor.open()
    return editor


def cancel(editor: EditorPage) -> None:
    editor.page.locator(".tray-panel [data-action=cancel]").click()


def test_http_request_form(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("req")
    labels = visible_labels(panel)
    assert {"Method", "URL", "Payload", "TLS Configuration", "Proxy Configuration",
            "Use authentication", "Enable connection keep-alive",
            "Disable strict HTTP parsing", "Return",
            "Only send non-2xx responses to Catch node", "Headers"} <= set(labels), labels
    ret = editor.field(panel, "/ret")
    assert choices(ret) == ["a UTF-8 string", "a binary buffer", "a parsed JSON object"]
    assert picked(ret) == "a UTF-8 string"
    auth = editor.field(panel, "/authType")
    assert choices(auth) == ["none", "basic authentication", "digest authentication",
                             "bearer authentication"]
    assert picked(editor.field(panel, "/paytoqs")) == "Ignore"
    assert "Send as request body" in choices(editor.field(panel, "/paytoqs"))
    editor.screenshot("network-forms-http-request")
    # Node-RED shows the payload choice only for GET.
    editor.field(panel, "/method").fill("POST")
    expect(row(panel, "paytoqs")).to_be_hidden()
    editor.field(panel, "/method").fill("GET")
    expect(row(panel, "paytoqs")).to_be_visible()
    cancel(editor)


def test_http_request_credentials_follow_the_auth_type(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("req")
    auth = editor.field(panel, "/authType")
    user = panel.locator('[data-path="/credentials/user"]')
    secret = panel.locator('[data-path="/credentials/password"]')
    legend = panel.get_by_text("Credentials", exact=True)
    # No authentication: no user, no password, not even the empty box.
    assert picked(auth) == "none"
    for hidden in (user, secret, legend):
        expect(hidden).to_be_hidden()
    auth.select_option(label="basic authentication")
    expect(user.locator("label")).to_have_text("Username")
    expect(secret.locator("label")).to_have_text("Password")
    # Bearer: the token only (flowrt keeps it as the password credential, as Node-RED).
    auth.select_option(label="bearer authentication")
    expect(user).to_be_hidden()
    expect(secret.locator("label")).to_have_text("Token")
    editor.screenshot("network-forms-http-request-bearer")
    auth.select_option(label="digest authentication")
    expect(user).to_be_visible()
    expect(secret.locator("label")).to_have_text("Password")
    auth.select_option(label="none")
    for hidden in (user, secret, legend):
        expect(hidden).to_be_hidden()
    cancel(editor)


def test_tcp_in_form(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("tin")
    kind = editor.field(panel, "/server")
    assert choices(kind) == ["Listen on", "Connect to"]
    assert picked(kind) == "Listen on"
    assert choices(editor.field(panel, "/datamode")) == ["stream of", "single"]
    assert choices(editor.field(panel, "/datatype")) == ["Buffer", "String", "Base64 String"]
    labels = visible_labels(panel)
    assert {"Type", "Port", "Output", "Payload(s)", "Topic"} <= set(labels), labels
    assert "Host" not in labels and "Delimited by" not in labels, labels
    # The host row appears for "Connect to", the delimiter for a stream of Strings.
    kind.select_option(label="Connect to")
    expect(row(panel, "host")).to_be_visible()
    editor.field(panel, "/datatype").select_option(label="String")
    expect(row(panel, "newline")).to_be_visible()
    expect(row(panel, "trim")).to_be_visible()
    editor.screenshot("network-forms-tcp-in")
    editor.field(panel, "/datamode").select_option(label="single")
    expect(row(panel, "newline")).to_be_hidden()
    cancel(editor)


def test_udp_out_form(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("uout")
    send = editor.field(panel, "/multicast")
    assert choices(send) == ["udp message", "broadcast message", "multicast message"]
    assert choices(editor.field(panel, "/ipv")) == ["ipv4", "ipv6"]
    labels = visible_labels(panel)
    assert {"Send a", "Address", "To port", "Using", "Bind to local port",
            "Decode Base64 encoded payload?"} <= set(labels), labels
    assert "Local IF" not in labels, labels
    # Multicast: the address is the group, sent from a local interface.
    send.select_option(label="multicast message")
    expect(row(panel, "iface")).to_be_visible()
    expect(row(panel, "addr").locator(":scope > label")).to_have_text("Group")
    editor.screenshot("network-forms-udp-out")
    cancel(editor)


def test_file_in_form(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("fin")
    output = editor.field(panel, "/format")
    assert choices(output) == ["a single utf8 string", "a single Buffer object",
                               "a msg per line", "a stream of Buffers"]
    assert picked(output) == "a single utf8 string"
    filename_type = panel.locator('[data-path="/filename"] select')
    assert picked(filename_type) == "path"
    labels = visible_labels(panel)
    assert {"Filename", "Output", "Encoding", "Send message on error (legacy mode)"} \
        <= set(labels), labels
    assert "Chunk (unused, kept for Node-RED)" not in labels, labels
    expect(row(panel, "allProps")).to_be_hidden()
    output.select_option(label="a msg per line")
    expect(row(panel, "allProps")).to_be_visible()
    expect(row(panel, "encoding")).to_be_visible()
    editor.screenshot("network-forms-file-in")
    # A Buffer has no encoding.
    output.select_option(label="a single Buffer object")
    expect(row(panel, "encoding")).to_be_hidden()
    cancel(editor)


def test_exec_form(network_flows: EditorPage) -> None:
    editor = network_flows
    panel = editor.edit("ex")
    output = editor.field(panel, "/useSpawn")
    assert picked(output) == "when the command is complete - exec mode"
    assert "while the command is running - spawn mode" in choices(output)
    labels = visible_labels(panel)
    assert {"Command", "Append msg property", "Extra input parameters", "Output",
            "Timeout (seconds)", "Hide console",
            "Use old style output (compatibility mode)"} <= set(labels), labels
    editor.screenshot("network-forms-exec")
    cancel(editor)


def test_every_field_appears_once(network_flows: EditorPage) -> None:
    editor = network_flows
    for node_id in ("req", "tin", "uout", "fin", "ex", "w"):
        panel = editor.edit(node_id)
        labels = visible_labels(panel)
        assert len(labels) == len(set(labels)), (node_id, labels)
        cancel(editor)
