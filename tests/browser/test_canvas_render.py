"""The canvas redraws only what changed (issue 16): dragging a node in a larger flow moves
it and its wires and leaves every other element as it was, a status message changes only
the badge, selecting changes only the highlight; a lone node dropped on a wire (from the
canvas or the palette) is spliced into it; the navigator shows the tab and pans the view;
what the subflows and groups extensions draw follows a drag (wires of a dragged group's
nodes, the box around a dragged member, a subflow port's wires) without a redraw; arrow
keys move the selection the same way.

"Not replaced" is checked by tagging elements with a JS property before the gesture and
finding the tag on the elements shown after it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = "7a0000000000000a"
CHAINS = 12  # chains of inject -> function -> function -> debug: 48 nodes


def chain_flow() -> list[dict]:
    """A tab of CHAINS wired chains, one row each, with a debug node counting into its status."""
    nodes: list[dict] = [{"id": TAB, "type": "tab", "label": "Big", "disabled": False, "info": ""}]
    for row in range(CHAINS):
        ids = [f"c{row:02d}n{col}aaaaaaaaa" for col in range(4)]
        y = 60 + row * 50
        nodes += [
            {"id": ids[0], "type": "inject", "z": TAB, "name": f"start {row}", "x": 120, "y": y,
             "props": [{"p": "payload"}], "payload": "", "payloadType": "date",
             "wires": [[ids[1]]]},
            {"id": ids[1], "type": "function", "z": TAB, "name": f"step {row}a", "x": 320, "y": y,
             "func": "return msg;", "outputs": 1, "wires": [[ids[2]]]},
            {"id": ids[2], "type": "function", "z": TAB, "name": f"step {row}b", "x": 520, "y": y,
             "func": "return msg;", "outputs": 1, "wires": [[ids[3]]]},
            {"id": ids[3], "type": "debug", "z": TAB, "name": f"end {row}", "x": 720, "y": y,
             "active": True, "tosidebar": False, "tostatus": True, "complete": "payload",
             "targetType": "msg", "statusVal": "", "statusType": "counter", "wires": []},
        ]
    return nodes


def node_id(row: int, col: int) -> str:
    return f"c{row:02d}n{col}aaaaaaaaa"


def open_flow(editor: EditorPage, flow: list[dict]) -> None:
    editor.server.request("POST", "/flows", flow)
    editor.open()
    expect(editor.page.locator("#canvas [data-node-id]")).to_have_count(
        sum(1 for n in flow if "x" in n and n["type"] != "group"))


def tag_canvas(editor: EditorPage) -> int:
    """Mark every node, wire and group element (and the tab list entries) with a JS property."""
    return editor.page.evaluate("""() => {
        const els = document.querySelectorAll(
            '#canvas [data-node-id], #canvas [data-wire], #canvas [data-group-id], #tab-list .tab');
        els.forEach((el) => { el.__tagged = true; });
        return els.length;
    }""")


def untagged(editor: EditorPage, selector: str) -> list[str]:
    """The data-node-id / data-wire of the elements matching selector that lost their tag."""
    return editor.page.eval_on_selector_all(
        selector,
        "els => els.filter(e => !e.__tagged)"
        ".map(e => e.dataset.nodeId || e.dataset.wire || e.dataset.groupId || 'tab')")


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drawn(editor: EditorPage, nid: str) -> Locator:
    """Node nid's element, on the canvas or (mid-drag) lifted into the overlay."""
    return editor.page.locator(
        f'#canvas [data-node-id="{nid}"], .canvas-overlay [data-node-id="{nid}"]')


def body_centre(editor: EditorPage, nid: str) -> tuple[float, float]:
    return centre(drawn(editor, nid).locator(".node-body").bounding_box())


def port_centre(editor: EditorPage, nid: str, port: str) -> tuple[float, float]:
    return centre(drawn(editor, nid).locator(f'[data-port="{port}"]').bounding_box())


def wire_ends(editor: EditorPage, key: str) -> list[tuple[float, float]]:
    """The screen points where the drawn wire line starts and ends (on the canvas or lifted).

    Found and measured in one script: a redraw falling between finding the element and
    measuring it would leave a detached path, measured in canvas coordinates."""
    return [tuple(p) for p in editor.page.evaluate(
        """key => {
            const path = document.querySelector(`[data-wire="${key}"] .wire-line`);
            const m = path.getScreenCTM();
            const at = (l) => {
                const p = path.getPointAtLength(l).matrixTransform(m);
                return [p.x, p.y];
            };
            return [at(0), at(path.getTotalLength())];
        }""", key)]


def wire_middle(editor: EditorPage, key: str) -> tuple[float, float]:
    x, y = editor.page.eval_on_selector(f'#canvas [data-wire="{key}"] .wire-line', """path => {
        const m = path.getScreenCTM();
        const p = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(m);
        return [p.x, p.y];
    }""")
    return x, y


def near(a: tuple[float, float], b: tuple[float, float], tolerance: float = 1.5) -> bool:
    return abs(a[0] - b[0]) <= tolerance and abs(a[1] - b[1]) <= tolerance


def test_dragging_a_node_moves_it_and_its_wires_and_replaces_nothing(editor: EditorPage) -> None:
    open_flow(editor, chain_flow())
    page = editor.page
    moved = node_id(5, 1)
    before = body_centre(editor, moved)
    tagged = tag_canvas(editor)
    assert tagged == CHAINS * 4 + CHAINS * 3 + 1

    page.mouse.move(*before)
    page.mouse.down()
    page.mouse.move(before[0] + 50, before[1] + 30, steps=5)
    page.mouse.move(before[0] + 100, before[1] + 60, steps=5)
    # While dragged, the node and its two wires are lifted into the overlay above the canvas.
    lifted = page.locator(f'.canvas-overlay [data-node-id="{moved}"]')
    expect(lifted).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(".canvas-overlay [data-wire]")).to_have_count(2)
    page.wait_for_function(
        """([id, x]) => {
            const node = document.querySelector(`.canvas-overlay [data-node-id="${id}"]`);
            const b = node.querySelector(".node-body").getBoundingClientRect();
            return Math.abs(b.x + b.width / 2 - x) < 1.5;
        }""", arg=[moved, before[0] + 100])
    # Mid-drag the rest of the editor has not been redrawn (the tab list re-renders on "change").
    assert untagged(editor, "#tab-list .tab") == []
    expect(lifted.locator("[data-marker=changed]")).to_have_count(0)
    editor.screenshot("canvas-render-00-mid-drag")
    page.mouse.up()
    expect(page.locator(".canvas-overlay").locator("[data-node-id], [data-wire]")).to_have_count(0)

    after = body_centre(editor, moved)
    assert near(after, (before[0] + 100, before[1] + 60)), (before, after)
    incoming = f"{node_id(5, 0)}:0:{moved}"
    outgoing = f"{moved}:0:{node_id(5, 2)}"
    assert near(wire_ends(editor, incoming)[1], port_centre(editor, moved, "in"))
    assert near(wire_ends(editor, incoming)[0], port_centre(editor, node_id(5, 0), "out-0"))
    assert near(wire_ends(editor, outgoing)[0], port_centre(editor, moved, "out-0"))
    assert near(wire_ends(editor, outgoing)[1], port_centre(editor, node_id(5, 2), "in"))
    # The drop told the rest of the editor, once: the changed marker and the deploy button.
    expect(editor.node(moved).locator("[data-marker=changed]")).to_have_count(1)
    expect(page.locator("#deploy-button")).to_be_enabled()
    # Every node and wire element is the one drawn before the drag, the moved ones included.
    assert untagged(editor, "#canvas [data-node-id], #canvas [data-wire]") == []
    editor.screenshot("canvas-render-01-dragged")

    page.keyboard.press("Control+z")
    expect(editor.node(moved).locator("[data-marker=changed]")).to_have_count(0)
    assert near(body_centre(editor, moved), before)
    assert near(wire_ends(editor, incoming)[1], port_centre(editor, moved, "in"))


def test_arrow_keys_move_the_selection_and_its_wires_and_replace_nothing(
        editor: EditorPage) -> None:
    open_flow(editor, chain_flow())
    page = editor.page
    moved = node_id(4, 2)
    editor.click_node(moved)
    before = body_centre(editor, moved)
    tag_canvas(editor)
    page.keyboard.down("ArrowRight")  # held: the key repeats
    page.keyboard.down("ArrowRight")
    page.keyboard.down("ArrowRight")
    node_x_is(editor, moved, before[0] + 3)
    # While the key is held nothing else was redrawn: not the tab list, no changed marker.
    assert untagged(editor, "#tab-list .tab") == []
    expect(editor.node(moved).locator("[data-marker=changed]")).to_have_count(0)
    page.keyboard.up("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")  # one grid step
    node_at(editor, moved, (before[0] + 3, before[1] + 20))
    expect(editor.node(moved).locator("[data-marker=changed]")).to_have_count(1)
    expect(page.locator("#deploy-button")).to_be_enabled()
    incoming = f"{node_id(4, 1)}:0:{moved}"
    outgoing = f"{moved}:0:{node_id(4, 3)}"
    assert near(wire_ends(editor, incoming)[1], port_centre(editor, moved, "in"))
    assert near(wire_ends(editor, outgoing)[0], port_centre(editor, moved, "out-0"))
    assert untagged(editor, "#canvas [data-node-id], #canvas [data-wire]") == []

    page.keyboard.press("Control+z")  # the key presses of one hold are one undo step
    node_at(editor, moved, (before[0] + 3, before[1]))
    page.keyboard.press("Control+z")
    node_at(editor, moved, before)


def test_a_status_message_changes_only_its_badge(editor: EditorPage) -> None:
    open_flow(editor, chain_flow())
    counter = editor.node(node_id(3, 3))
    tag_canvas(editor)
    editor.node(node_id(3, 0)).locator("[data-button=inject]").click()
    expect(counter.locator(".status-text")).to_have_text("1")
    editor.node(node_id(3, 0)).locator("[data-button=inject]").click()
    expect(counter.locator(".status-text")).to_have_text("2")
    expect(editor.node(node_id(4, 3)).locator(".status-text")).to_have_text("0")  # counts from 0
    assert untagged(editor, "#canvas [data-node-id], #canvas [data-wire]") == []
    editor.screenshot("canvas-render-02-status")


def test_selecting_changes_only_the_highlight(editor: EditorPage) -> None:
    open_flow(editor, chain_flow())
    selected = editor.page.locator("#canvas .node.selected")
    tag_canvas(editor)
    editor.click_node(node_id(2, 1))
    expect(selected).to_have_count(1)
    expect(editor.node(node_id(2, 1))).to_have_class(re.compile(r"\bselected\b"))
    editor.click_node(node_id(7, 2), modifiers=["Shift"])
    expect(selected).to_have_count(2)
    wire = editor.wire_locator(node_id(9, 0), 0, node_id(9, 1))
    editor.page.mouse.click(*wire_middle(editor, f"{node_id(9, 0)}:0:{node_id(9, 1)}"))
    expect(selected).to_have_count(0)
    expect(wire).to_have_class(re.compile(r"\bselected\b"))
    assert untagged(editor, "#canvas [data-node-id], #canvas [data-wire]") == []


SPLICE_FLOW = [
    {"id": TAB, "type": "tab", "label": "Splice", "disabled": False, "info": ""},
    {"id": "a000000000000001", "type": "inject", "z": TAB, "name": "source", "x": 120, "y": 100,
     "props": [{"p": "payload"}], "payload": "", "payloadType": "date",
     "wires": [["c000000000000003"]]},
    {"id": "c000000000000003", "type": "debug", "z": TAB, "name": "target", "x": 620, "y": 160,
     "active": True, "tosidebar": True, "complete": "payload", "targetType": "msg", "wires": []},
    {"id": "b000000000000002", "type": "function", "z": TAB, "name": "spliced", "x": 300, "y": 320,
     "func": "return msg;", "outputs": 1, "wires": [[]]},
]
SOURCE, TARGET, LONE = "a000000000000001", "c000000000000003", "b000000000000002"


def test_dropping_a_lone_node_on_a_wire_splices_it_in_one_undo_step(editor: EditorPage) -> None:
    open_flow(editor, SPLICE_FLOW)
    page = editor.page
    old = editor.wire_locator(SOURCE, 0, TARGET)
    spot = wire_middle(editor, f"{SOURCE}:0:{TARGET}")
    start = body_centre(editor, LONE)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*spot, steps=10)
    expect(old).to_have_class(re.compile(r"\bsplice\b"))  # the wire shows it will take the node
    editor.screenshot("canvas-render-03-splice-hover")
    page.mouse.up()

    expect(old).to_have_count(0)
    expect(editor.wire_locator(SOURCE, 0, LONE)).to_be_visible()
    expect(editor.wire_locator(LONE, 0, TARGET)).to_be_visible()
    assert near(body_centre(editor, LONE), spot)  # the node sits where the wire was
    assert near(wire_ends(editor, f"{SOURCE}:0:{LONE}")[1], port_centre(editor, LONE, "in"))
    assert near(wire_ends(editor, f"{LONE}:0:{TARGET}")[0], port_centre(editor, LONE, "out-0"))
    expect(page.locator("#canvas .wire.splice")).to_have_count(0)
    editor.screenshot("canvas-render-04-spliced")

    page.keyboard.press("Control+z")  # one step undoes the move and the splice
    expect(old).to_have_count(1)
    expect(editor.wire_locator(SOURCE, 0, LONE)).to_have_count(0)
    expect(editor.wire_locator(LONE, 0, TARGET)).to_have_count(0)
    assert near(body_centre(editor, LONE), start)


def test_a_wired_node_dropped_on_a_wire_is_only_moved(editor: EditorPage) -> None:
    flow = [*SPLICE_FLOW, {"id": "d000000000000004", "type": "debug", "z": TAB, "name": "other",
                           "x": 600, "y": 320, "active": True, "tosidebar": True,
                           "complete": "payload", "targetType": "msg", "wires": []}]
    flow[3] = {**flow[3], "wires": [["d000000000000004"]]}
    open_flow(editor, flow)
    spot = wire_middle(editor, f"{SOURCE}:0:{TARGET}")
    editor.page.mouse.move(*body_centre(editor, LONE))
    editor.page.mouse.down()
    editor.page.mouse.move(*spot, steps=10)
    expect(editor.page.locator("#canvas .wire.splice")).to_have_count(0)
    editor.page.mouse.up()
    assert near(body_centre(editor, LONE), spot)
    expect(editor.wire_locator(SOURCE, 0, TARGET)).to_have_count(1)
    expect(editor.wire_locator(SOURCE, 0, LONE)).to_have_count(0)


def test_a_node_dropped_from_the_palette_on_a_wire_is_spliced(editor: EditorPage) -> None:
    open_flow(editor, SPLICE_FLOW)
    page = editor.page
    spot = wire_middle(editor, f"{SOURCE}:0:{TARGET}")
    before = set(editor.node_ids())
    source = page.locator('[data-palette-type="delay"]')
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(*spot, steps=10)
    expect(editor.wire_locator(SOURCE, 0, TARGET)).to_have_class(re.compile(r"\bsplice\b"))
    page.mouse.up()
    expect(page.locator("#canvas [data-node-id]")).to_have_count(len(before) + 1)
    (added,) = set(editor.node_ids()) - before
    expect(editor.wire_locator(SOURCE, 0, TARGET)).to_have_count(0)
    expect(editor.wire_locator(SOURCE, 0, added)).to_be_visible()
    expect(editor.wire_locator(added, 0, TARGET)).to_be_visible()
    assert near(body_centre(editor, added), spot)
    editor.screenshot("canvas-render-05-palette-splice")

    page.keyboard.press("Control+z")  # the new node and its wiring go in one step
    expect(editor.node(added)).to_have_count(0)
    expect(editor.wire_locator(SOURCE, 0, TARGET)).to_have_count(1)


def test_the_navigator_shows_the_tab_and_pans_the_view(editor: EditorPage) -> None:
    flow = chain_flow()
    flow.append({"id": "f000000000000009", "type": "inject", "z": TAB, "name": "far away",
                 "x": 4000, "y": 3000, "props": [{"p": "payload"}], "payload": "",
                 "payloadType": "date", "wires": [[]]})
    open_flow(editor, flow)
    page = editor.page
    navigator = page.locator("[data-navigator]")
    expect(navigator).to_be_hidden()
    page.locator("[data-navigator-toggle]").click()
    expect(navigator).to_be_visible()
    expect(navigator.locator(".navigator-node")).to_have_count(CHAINS * 4 + 1)
    canvas = page.locator("#canvas").bounding_box()
    nav = navigator.bounding_box()
    assert nav["x"] + nav["width"] <= canvas["x"] + canvas["width"]  # bottom-right corner
    assert nav["y"] + nav["height"] <= canvas["y"] + canvas["height"]
    assert nav["x"] > canvas["x"] + canvas["width"] / 2
    assert nav["y"] > canvas["y"] + canvas["height"] / 2
    view = navigator.locator("[data-navigator-view]")
    start = view.bounding_box()
    assert abs(start["x"] - nav["x"]) < 2 and abs(start["y"] - nav["y"]) < 2  # view at the origin
    editor.screenshot("canvas-render-06-navigator")

    # The far node's rectangle sits at (4000, 3000) / 50 in the navigator: press there.
    page.mouse.click(nav["x"] + 1 + 80, nav["y"] + 1 + 60)
    far = editor.node("f000000000000009").locator(".node-body")
    expect(far).to_be_in_viewport()
    x, y = centre(far.bounding_box())
    assert abs(x - (canvas["x"] + canvas["width"] / 2)) < 60, (x, canvas)
    assert abs(y - (canvas["y"] + canvas["height"] / 2)) < 60, (y, canvas)
    moved = view.bounding_box()
    assert moved["x"] > start["x"] + 40 and moved["y"] > start["y"] + 30
    editor.screenshot("canvas-render-07-navigator-panned")

    # Dragging in it pans as the mouse goes, back towards the origin.
    page.mouse.move(nav["x"] + 81, nav["y"] + 61)
    page.mouse.down()
    page.mouse.move(nav["x"] + 10, nav["y"] + 10, steps=5)
    page.mouse.up()
    expect(editor.node(node_id(0, 0))).to_be_in_viewport()
    page.locator("[data-navigator-toggle]").click()
    expect(navigator).to_be_hidden()


GROUP_FLOW = [
    {"id": TAB, "type": "tab", "label": "Groups", "disabled": False, "info": ""},
    {"id": "g000000000000001", "type": "group", "z": TAB, "name": "Sensors",
     "style": {"label": True}, "nodes": [SOURCE, LONE], "x": 34, "y": 54, "w": 352, "h": 92},
    {"id": SOURCE, "type": "inject", "z": TAB, "g": "g000000000000001", "name": "source",
     "x": 120, "y": 100, "props": [{"p": "payload"}], "payload": "", "payloadType": "date",
     "wires": [[LONE]]},
    {"id": LONE, "type": "function", "z": TAB, "g": "g000000000000001", "name": "inside",
     "x": 300, "y": 100, "func": "return msg;", "outputs": 1, "wires": [[TARGET]]},
    {"id": TARGET, "type": "debug", "z": TAB, "name": "outside", "x": 560, "y": 260,
     "active": True, "tosidebar": True, "complete": "payload", "targetType": "msg", "wires": []},
]


def wires_meet_their_ports(editor: EditorPage) -> bool:
    """Whether both wires of GROUP_FLOW start and end on the ports of their nodes."""
    inner, outer = f"{SOURCE}:0:{LONE}", f"{LONE}:0:{TARGET}"
    return (near(wire_ends(editor, inner)[0], port_centre(editor, SOURCE, "out-0"))
            and near(wire_ends(editor, inner)[1], port_centre(editor, LONE, "in"))
            and near(wire_ends(editor, outer)[0], port_centre(editor, LONE, "out-0"))
            and near(wire_ends(editor, outer)[1], port_centre(editor, TARGET, "in")))


def node_x_is(editor: EditorPage, nid: str, x: float) -> None:
    """Wait until node nid's body is centred on screen x (a drag frame was drawn)."""
    editor.page.wait_for_function(
        """([id, x]) => {
            const body = document.querySelector(`[data-node-id="${id}"] .node-body`);
            const b = body.getBoundingClientRect();
            return Math.abs(b.x + b.width / 2 - x) < 1.5;
        }""", arg=[nid, x])


def node_at(editor: EditorPage, nid: str, point: tuple[float, float]) -> None:
    """Wait until node nid's body is centred on screen point `point` (a frame was drawn)."""
    editor.page.wait_for_function(
        """([id, x, y]) => {
            const b = document.querySelector(`[data-node-id="${id}"] .node-body`)
                .getBoundingClientRect();
            return Math.abs(b.x + b.width / 2 - x) < 1.5 && Math.abs(b.y + b.height / 2 - y) < 1.5;
        }""", arg=[nid, *point])


def group_box(editor: EditorPage) -> dict:
    return editor.page.locator("#canvas [data-group-id] .group-box").bounding_box()


def encloses(outer: dict, inner: dict) -> bool:
    return (outer["x"] <= inner["x"] and outer["y"] <= inner["y"]
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


def test_a_dragged_group_takes_its_nodes_wires_and_box_along(editor: EditorPage) -> None:
    open_flow(editor, GROUP_FLOW)
    page = editor.page
    group = page.locator("#canvas [data-group-id]")
    source, inside = body_centre(editor, SOURCE), body_centre(editor, LONE)
    tag_canvas(editor)
    label = page.locator("#canvas .group-label").bounding_box()
    page.mouse.move(label["x"] + 5, label["y"] + 5)
    page.mouse.down()
    page.mouse.move(label["x"] + 85, label["y"] + 125, steps=8)
    # Mid-drag: the group is selected, its nodes moved, their wires (one to a node outside) follow.
    node_x_is(editor, LONE, inside[0] + 80)
    expect(group).to_have_class(re.compile(r"\bselected\b"))
    assert near(body_centre(editor, SOURCE), (source[0] + 80, source[1] + 120))
    assert wires_meet_their_ports(editor)
    assert encloses(group_box(editor), drawn(editor, LONE).locator(".node-body").bounding_box())
    # Only the group, its nodes and their wires were touched: no model "change" mid-drag
    # (the tab list and the changed markers follow one), no element drawn again.
    assert untagged(editor, "#tab-list .tab") == []
    expect(drawn(editor, LONE).locator("[data-marker=changed]")).to_have_count(0)
    editor.screenshot("canvas-render-08-group-mid-drag")
    page.mouse.up()
    assert near(body_centre(editor, LONE), (inside[0] + 80, inside[1] + 120))
    assert wires_meet_their_ports(editor)
    expect(editor.node(LONE).locator("[data-marker=changed]")).to_have_count(1)
    expect(group).to_have_count(1)
    assert untagged(
        editor, "#canvas [data-node-id], #canvas [data-wire], #canvas [data-group-id]") == []
    editor.screenshot("canvas-render-09-group-dragged")

    # Clicking away unselects the group box; dragging a member takes the box with it as it goes.
    canvas = page.locator("#canvas").bounding_box()
    page.mouse.click(canvas["x"] + canvas["width"] - 20, canvas["y"] + canvas["height"] - 20)
    expect(group).not_to_have_class(re.compile(r"\bselected\b"))
    tag_canvas(editor)
    width = group_box(editor)["width"]
    start = body_centre(editor, LONE)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 150, start[1], steps=8)
    node_x_is(editor, LONE, start[0] + 150)
    assert group_box(editor)["width"] == pytest.approx(width + 150, abs=1)
    assert wires_meet_their_ports(editor)
    assert untagged(editor, "#tab-list .tab") == []
    page.mouse.up()
    assert encloses(group_box(editor), drawn(editor, LONE).locator(".node-body").bounding_box())
    assert wires_meet_their_ports(editor)


def test_a_node_dragged_in_a_subflow_takes_its_port_wires_along(editor: EditorPage) -> None:
    from tests.browser.test_subflows import PIPELINE, context_action, load, to_subflow

    load(editor, PIPELINE)
    instance = to_subflow(editor)
    editor.click_node(instance)
    context_action(editor, instance, "edit-template")
    page = editor.page
    in_port = page.locator('[data-subflow-port="in-0"] [data-port="out-0"]')
    out_port = page.locator('[data-subflow-port="out-0"] [data-port="in"]')
    expect(in_port).to_be_visible()
    # In Node-RED's subflow: input -> A -> B -> C -> output; drag A, then C.
    dragged = (("c1", "in", "subflow-in:0:c1", in_port),
               ("c3", "out-0", "subflow-out:0:c3:0", out_port))
    for nid, into, key, port in dragged:
        end = 0 if port is in_port else 1
        start = body_centre(editor, nid)
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(start[0] + 40, start[1] + 90, steps=6)
        node_x_is(editor, nid, start[0] + 40)
        ends = wire_ends(editor, key)
        assert near(ends[1 - end], port_centre(editor, nid, into)), (key, ends)
        assert near(ends[end], centre(port.bounding_box())), (key, ends)
        page.mouse.up()
        assert near(wire_ends(editor, key)[1 - end], port_centre(editor, nid, into))
    editor.screenshot("canvas-render-10-subflow-port-wires")
