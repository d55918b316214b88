"""flowrt.projects.diff: added, removed, changed, rewired and moved-only nodes."""

from __future__ import annotations

from flowrt.projects.diff import diff, format_text, is_empty

TAB = {"id": "t1", "type": "tab", "label": "Kitchen"}
INJECT = {"id": "a", "type": "inject", "z": "t1", "name": "tick", "x": 10, "y": 20,
          "wires": [["b"]]}
DEBUG = {"id": "b", "type": "debug", "z": "t1", "x": 200, "y": 20, "wires": []}
FUNC = {"id": "c", "type": "function", "z": "t1", "func": "return msg;", "x": 100, "y": 80,
        "wires": [[]]}
LINK = {"id": "l", "type": "link out", "z": "t1", "links": ["x"], "x": 1, "y": 1}
BEFORE = [TAB, INJECT, DEBUG, FUNC, LINK]
AFTER = [TAB, {**INJECT, "wires": [["c"]]}, {**DEBUG, "x": 240},
         {**FUNC, "func": "return null;", "x": 120}, {**LINK, "links": ["y"]},
         {"id": "d", "type": "comment", "z": "t1", "name": "new", "x": 5, "y": 5, "wires": []}]


def test_each_kind_of_change_is_sorted_out() -> None:
    changes = diff(BEFORE, AFTER)
    assert changes["added"] == [{"id": "d", "type": "comment", "z": "t1", "name": "new"}]
    assert changes["removed"] == []
    # Edited and moved: changed (not "moved only"); position is not a property.
    assert changes["changed"] == [{"id": "c", "type": "function", "z": "t1", "properties": {
        "func": {"before": "return msg;", "after": "return null;"}}}]
    assert [(e["id"], e["added"], e["removed"]) for e in changes["rewired"]] == [
        ("a", [[0, "c"]], [[0, "b"]]), ("l", [["link", "y"]], [["link", "x"]])]
    assert changes["moved"] == [{"id": "b", "type": "debug", "z": "t1",
                                 "from": {"x": 200, "y": 20}, "to": {"x": 240, "y": 20}}]
    assert diff(AFTER, BEFORE)["removed"] == changes["added"]


def test_no_change_is_empty_whatever_the_key_order() -> None:
    reordered = [dict(reversed(list(node.items()))) for node in BEFORE]
    assert is_empty(diff(BEFORE, reordered))
    assert format_text(diff(BEFORE, reordered), BEFORE, reordered) == "No changes."


def test_the_text_names_nodes_tabs_values_and_wires() -> None:
    text = format_text(diff(BEFORE, AFTER), BEFORE, AFTER)
    assert text.splitlines() == [
        "Added (1):",
        '  + comment "new" (d) on tab "Kitchen"',
        "Changed (1):",
        '  ~ function (c) on tab "Kitchen"',
        '      func: "return msg;" → "return null;"',
        "Rewired (2):",
        '  ~ inject "tick" (a) on tab "Kitchen"',
        "      + output 1 → function (c)",
        "      - output 1 → debug (b)",
        '  ~ link out (l) on tab "Kitchen"',
        "      + link → y",
        "      - link → x",
        "Moved only (1):",
        '  ~ debug (b) on tab "Kitchen"',
        "      x=200, y=20 → x=240, y=20",
    ]


def test_long_values_are_shortened() -> None:
    long = {**FUNC, "func": "x" * 200}
    line = format_text(diff([FUNC], [long]), [FUNC], [long]).splitlines()[2]
    assert line.endswith('..."') or line.endswith("...")
    assert len(line) < 140
