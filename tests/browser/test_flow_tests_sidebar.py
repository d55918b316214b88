"""The tests sidebar: the cases beside the flow file, pass/fail per case with the
failure's text, and a case recorded from the debug output of the running flows."""

from __future__ import annotations

import textwrap

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

FLOWS = [
    {"id": "tab", "type": "tab", "label": "Greeter"},
    {"id": "tick", "type": "inject", "z": "tab", "name": "tick", "x": 120, "y": 80,
     "repeat": "1", "once": False, "props": [{"p": "payload"}], "payload": "",
     "payloadType": "date", "wires": [["greet"]]},
    {"id": "greet", "type": "change", "z": "tab", "name": "greet", "x": 300, "y": 80,
     "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "hello", "tot": "str"}],
     "wires": [["out"]]},
    {"id": "out", "type": "debug", "z": "tab", "name": "out", "x": 480, "y": 80,
     "active": True, "tosidebar": True, "complete": "payload", "wires": []},
]

CASES = """\
cases:
  - name: greets
    steps:
      - inject: greet
      - expect: out
        payload: hello
  - name: says goodbye
    steps:
      - inject: greet
      - expect: out
        payload: bye
"""


@pytest.fixture
def tests_file(server: Server) -> object:
    # The browser tests' data dir is a project (new, git installed): the flows' test-case
    # file is committed beside them in the repository.
    path = server.data_dir / "project" / "flows.tests.yaml"
    path.write_text(CASES)
    yield path
    path.unlink()


def deploy(editor: EditorPage) -> None:
    editor.server.request("POST", "/flows", FLOWS)
    editor.open()


def test_run_all_shows_pass_and_fail_per_case(editor: EditorPage, tests_file: object) -> None:
    deploy(editor)
    page = editor.page
    editor.sidebar("tests")
    pane = page.locator("#sidebar-tests")
    expect(pane.locator(".tests-file h4")).to_have_text("flows.tests.yaml")
    expect(pane.locator(".tests-name")).to_have_text(["greets", "says goodbye"])
    expect(pane.locator('[data-case="greets"]')).to_have_attribute("data-result", "none")
    pane.locator('[data-action="run-all"]').click()
    expect(pane.locator('[data-case="greets"]')).to_have_attribute("data-result", "pass",
                                                                   timeout=30000)
    failed = pane.locator('[data-case="says goodbye"]')
    expect(failed).to_have_attribute("data-result", "fail")
    expect(failed.locator(".tests-mark")).to_have_text("✗")
    expect(failed.locator(".tests-failure")).to_contain_text(
        'payload: expected "bye", got "hello"')
    expect(pane.locator('[data-case="greets"] .tests-failure')).to_have_count(0)
    expect(pane.locator(".tests-summary")).to_have_text("1 passed, 1 failed")
    editor.screenshot("flow-tests-sidebar")


def test_one_case_runs_alone(editor: EditorPage, tests_file: object) -> None:
    deploy(editor)
    pane = editor.page.locator("#sidebar-tests")
    editor.sidebar("tests")
    pane.locator('[data-case="says goodbye"] button').click()
    expect(pane.locator('[data-case="says goodbye"]')).to_have_attribute(
        "data-result", "fail", timeout=30000)
    expect(pane.locator('[data-case="greets"]')).to_have_attribute("data-result", "none")


def test_a_case_recorded_from_the_debug_output_is_saved_and_passes(
        editor: EditorPage, tests_file: object) -> None:
    deploy(editor)
    page = editor.page
    pane = page.locator("#sidebar-tests")
    editor.sidebar("tests")
    record = pane.locator('[data-action="record"]')
    record.click()
    # The inject node ticks every second: two messages reach the debug node.
    expect(record).to_have_text("stop (2)", timeout=10000)
    record.click()
    dialog = page.locator("dialog.modal")
    dialog.locator('input[aria-label="Case name"]').fill("ticks greet")
    dialog.locator('[data-action="save-case"]').click()
    expect(pane.locator(".tests-name")).to_have_text(["greets", "says goodbye", "ticks greet"])
    saved = tests_file.read_text()  # type: ignore[attr-defined]
    assert saved.startswith(CASES)
    assert textwrap.dedent(saved[len(CASES):]).startswith(
        "- name: ticks greet\n  steps:\n  - expect: out\n")
    pane.locator('[data-case="ticks greet"] button').click()
    expect(pane.locator('[data-case="ticks greet"]')).to_have_attribute(
        "data-result", "pass", timeout=30000)
    editor.screenshot("flow-tests-recorded")
