"""watch: Node-RED's spec scenarios (23-watch_spec.js) on real files, create/modify/delete,
recursion, the polling fallback, and watchfiles loaded only by flows with a watch node."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from flowrt.errors import DeployError
from flowrt.file_watch import FileWatcher, PathChange
from flowrt.testing import FlowHarness
from tests.nodes.nodered_examples import EXAMPLES, fire_all


def watch_flow(files, recursive=False):
    return [{"id": "w", "type": "watch", "z": "t1", "x": 0, "y": 0, "name": "",
             "files": files, "recursive": recursive, "wires": [[]]},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def change_of(h, path, event="update", within=5.0):
    """The first message about ``path`` with ``event`` (bounded wait)."""
    def found():
        return [m for m in h.outputs("w") if m["filename"] == str(path) and m["event"] == event]
    await h.wait_for(lambda: bool(found()), within=within)
    return found()[0]


async def test_a_file_changed(tmp_path):
    target = tmp_path / "file0.txt"
    target.write_text("")
    async with FlowHarness(watch_flow(str(target))) as h:
        with target.open("a") as handle:
            handle.write("ABCDE")
        msg = await change_of(h, target)
        assert msg == {"payload": str(target), "topic": str(target), "file": "file0.txt",
                       "filename": str(target), "event": "update", "type": "file",
                       "size": 5, "_msgid": msg["_msgid"]}


async def test_multiple_files_and_the_topic_lists_them(tmp_path):
    first, second = tmp_path / "file0.txt", tmp_path / "file1.txt"
    first.write_text("")
    second.write_text("")
    files = f"{first}, {second}"
    async with FlowHarness(watch_flow(files)) as h:
        first.write_text("ABCDE")
        second.write_text("123")
        one = await change_of(h, first)
        two = await change_of(h, second)
        assert one["topic"] == two["topic"] == json.dumps([str(first), str(second)],
                                                          separators=(",", ":"))
        assert two["size"] == 3


async def test_attribute_change(tmp_path):
    target = tmp_path / "file0.txt"
    target.write_text("")
    target.chmod(0o444)
    async with FlowHarness(watch_flow(str(target))) as h:
        target.chmod(0o666)
        msg = await change_of(h, target)
        assert msg["type"] == "file"


async def test_directory_create_modify_delete(tmp_path):
    async with FlowHarness(watch_flow(str(tmp_path))) as h:
        target = tmp_path / "new.txt"
        target.write_text("hi")
        created = await change_of(h, target)
        assert created["type"] == "file" and created["size"] == 2
        assert created["topic"] == str(tmp_path)
        h.clear()
        target.write_text("hello")
        modified = await change_of(h, target)
        assert modified["size"] == 5
        target.unlink()
        removed = await change_of(h, target, "remove")
        assert removed["type"] == "none" and "size" not in removed
        sub = tmp_path / "sub"
        sub.mkdir()
        assert (await change_of(h, sub))["type"] == "directory"


async def test_recursive_sees_sub_directories_created_later(tmp_path):
    existing = tmp_path / "subdir"
    existing.mkdir()
    async with FlowHarness(watch_flow(str(tmp_path), recursive=True)) as h:
        deep = existing / "file2.txt"
        deep.write_text("ABCDE")
        assert (await change_of(h, deep))["file"] == "file2.txt"
        later = tmp_path / "later"
        later.mkdir()
        await change_of(h, later)
        inside = later / "x.txt"
        inside.write_text("x")
        await change_of(h, inside)


async def test_not_recursive_ignores_sub_directories(tmp_path):
    sub = tmp_path / "subdir"
    sub.mkdir()
    async with FlowHarness(watch_flow(str(tmp_path), recursive=False)) as h:
        (sub / "deep.txt").write_text("x")
        marker = tmp_path / "marker.txt"
        marker.write_text("x")  # a change that is reported, after the deep one
        await change_of(h, marker)
        assert not [m for m in h.outputs("w") if m["file"] == "deep.txt"]


async def test_relative_names_from_file_working_directory(tmp_path):
    (tmp_path / "rel.txt").write_text("")
    flow = watch_flow('"rel.txt"')
    async with FlowHarness(flow, settings={"fileWorkingDirectory": str(tmp_path)}) as h:
        (tmp_path / "rel.txt").write_text("1")
        msg = await change_of(h, tmp_path / "rel.txt")
        assert msg["topic"] == "rel.txt"


async def test_a_missing_path_is_an_error_and_the_others_are_watched(tmp_path):
    present = tmp_path / "here.txt"
    present.write_text("")
    missing = tmp_path / "missing.txt"
    async with FlowHarness(watch_flow(f"{missing},{present}")) as h:
        # Reported while the node starts (before the harness records outputs).
        assert [e["msg"] for e in h.errors] == [f"Error: {missing} does not exist."]
        present.write_text("x")
        await change_of(h, present)


async def test_no_files_is_a_configuration_error():
    with pytest.raises(DeployError, match="files"):
        async with FlowHarness(watch_flow(" ")):
            pass


async def test_stops_reporting_when_closed(tmp_path):
    async with FlowHarness(watch_flow(str(tmp_path))) as h:
        (tmp_path / "a").write_text("")
        await change_of(h, tmp_path / "a")
        await h.deploy([])  # the watch node is removed
        (tmp_path / "b").write_text("")
        await asyncio.sleep(0.4)  # longer than a group of changes: none may come
        assert not [m for m in h.outputs("w") if m["file"] == "b"]


@pytest.mark.parametrize("polling", [False, True])
async def test_file_watcher_with_notifications_and_polling(tmp_path, polling):
    queue: asyncio.Queue[PathChange] = asyncio.Queue()
    errors: list[BaseException] = []

    def changed(changes):
        for change in changes:
            queue.put_nowait(change)

    async def next_for(path, event, within=5.0):
        while True:
            change = await asyncio.wait_for(queue.get(), within)
            if change.path == str(path) and change.event == event:
                return change

    watcher = FileWatcher([str(tmp_path)], recursive=True, on_changes=changed,
                          on_error=errors.append, force_polling=polling)
    await watcher.start()
    try:
        assert watcher.polling is polling
        target = tmp_path / "f.txt"
        target.write_text("abc")
        assert (await next_for(target, "update")).size == 3
        target.write_text("abcdef")  # within the same second: still seen
        assert (await next_for(target, "update")).size == 6
        target.chmod(0o600)
        assert (await next_for(target, "update")).size == 6
        target.unlink()
        assert (await next_for(target, "remove")).kind == "none"
    finally:
        await watcher.close()
    assert errors == []


def test_watchfiles_is_loaded_only_when_a_watch_node_starts():
    probe = ("import sys\nfrom flowrt.registry import discover\nregistry = discover()\n"
             "assert 'watch' in registry\n"
             "print(','.join(m for m in ('watchfiles', 'anyio') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True, cwd=os.getcwd())
    assert result.stdout.strip() == ""


# ------------------------------------------------ Node-RED's example flows
def example_in(tmp_path, name):
    text = (EXAMPLES / name).read_text()
    text = text.replace("/tmp/hello.txt", f"{tmp_path}/hello.txt")
    return json.loads(text.replace("/tmp/HG", f"{tmp_path}/HG"))


async def test_node_red_example_watch_a_file(tmp_path):
    (tmp_path / "hello.txt").write_text("")
    flow = example_in(tmp_path, "storage__watch__01---Watch-change-of-a-file.json")
    watch_id = next(n["id"] for n in flow if n["type"] == "watch")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        await h.wait_for(lambda: any(m.get("size") == 14 for m in h.outputs(watch_id)))
        assert h.outputs(watch_id)[-1]["payload"] == f"{tmp_path}/hello.txt"


async def test_node_red_example_watch_a_directory(tmp_path):
    (tmp_path / "HG").mkdir()
    flow = example_in(tmp_path, "storage__watch__02---Watch-change-in-a-directory.json")
    watch_id = next(n["id"] for n in flow if n["type"] == "watch")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        await h.wait_for(lambda: {m["file"] for m in h.outputs(watch_id)}
                         >= {"hello.txt", "goodbye.txt"})
        assert {m["topic"] for m in h.outputs(watch_id)} == {f"{tmp_path}/HG"}
