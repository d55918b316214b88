"""file and file in: Node-RED's spec scenarios (10-file_spec.js) on real files in tmp_path,
encodings, ordering and completion, a write-then-read flow."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from flowrt.errors import DeployError
from flowrt.node import Node
from flowrt.testing import FlowHarness
from flowrt.text_encodings import UNAVAILABLE, decode_bytes, encode_text
from tests.nodes.nodered_examples import EXAMPLES, fire_all

FILE_TEXT = "File message line 1\nFile message line 2\n"


def node(node_id, node_type, **config):
    return {"id": node_id, "type": node_type, "z": "t1", "x": 0, "y": 0,
            "wires": config.pop("wires", [[]]), **config}


def write_flow(filename, **config):
    config = {"name": "", "filenameType": "str", "appendNewline": False,
              "overwriteFile": "true", "encoding": "none", **config}
    return [node("f", "file", filename=str(filename), **config),
            node("c", "catch", scope=None), node("done", "complete", scope=["f"])]


def read_flow(filename, **config):
    config = {"name": "", "filenameType": "str", "format": "utf8", "encoding": "none",
              **config}
    return [node("r", "file in", filename=str(filename), **config),
            node("c", "catch", scope=None)]


async def sent(h, node_id, count=1, port=0):
    """Wait (bounded, real time) for ``count`` messages on a node's output."""
    await h.wait_for(lambda: len(h.outputs(node_id, port)) >= count)
    return h.outputs(node_id, port)


async def caught(h, count=1):
    await h.wait_for(lambda: len(h.outputs("c")) >= count)
    return [m["error"]["message"] for m in h.outputs("c")]


# ----------------------------------------------------------------- file (write)
async def test_writes_a_file_and_sends_the_message_on(tmp_path):
    target = tmp_path / "out.txt"
    async with FlowHarness(write_flow(target)) as h:
        h.send("f", {"payload": "test", "topic": "t"})
        [out] = await sent(h, "f")
        assert target.read_text() == "test"
        assert out["payload"] == "test" and out["filename"] == str(target)
        assert out["topic"] == "t"


async def test_jsonata_filename(tmp_path):
    target = tmp_path / "foo.txt"
    flow = write_flow(f'"{tmp_path}/" & payload & ".txt"', filenameType="jsonata")
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "foo"})
        [out] = await sent(h, "f")
        assert target.read_text() == "foo"
        assert out["filename"] == str(target)


async def test_relative_name_starts_from_file_working_directory(tmp_path):
    async with FlowHarness(write_flow("rel.txt"),
                           settings={"fileWorkingDirectory": str(tmp_path)}) as h:
        h.send("f", {"payload": "test"})
        [out] = await sent(h, "f")
        assert (tmp_path / "rel.txt").read_text() == "test"
        assert out["filename"] == "rel.txt"  # as given, as Node-RED


async def test_multi_byte_string(tmp_path):
    target = tmp_path / "mb.txt"
    async with FlowHarness(write_flow(target)) as h:
        h.send("f", {"payload": "試験"})
        await sent(h, "f")
        assert target.read_bytes() == "試験".encode()


async def test_appends_with_newline_except_the_last_part_of_a_string_sequence(tmp_path):
    target = tmp_path / "append.txt"
    flow = write_flow(target, appendNewline=True, overwriteFile="false")
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "first"})
        h.send("f", {"payload": 2, "parts": {"type": "string", "index": 0, "count": 2}})
        h.send("f", {"payload": {"a": [1, True]},
                     "parts": {"type": "string", "index": 1, "count": 2}})
        h.send("f", {"payload": b"\x00\x01"})  # a Buffer: no newline
        await sent(h, "f", 4)
        assert target.read_bytes() == b'first\n2\n{"a":[1,true]}\x00\x01'
        assert len(h.outputs("done")) == 4


async def test_append_after_the_file_was_deleted_or_replaced(tmp_path):
    target = tmp_path / "append.txt"
    flow = write_flow(target, appendNewline=True, overwriteFile="false")
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "one"})
        await sent(h, "f", 1)
        target.unlink()
        h.send("f", {"payload": "two"})
        await sent(h, "f", 2)
        assert target.read_text() == "two\n"
        os.replace(target, tmp_path / "old.txt")
        target.write_text("new\n")
        h.send("f", {"payload": "three"})
        await sent(h, "f", 3)
        assert target.read_text() == "new\nthree\n"
        assert (tmp_path / "old.txt").read_text() == "two\n"


async def test_msg_filename_by_default_for_old_flows(tmp_path):
    # No filenameType and no filename: Node-RED's pre-3.0 upgrade to msg.filename.
    flow = [node("f", "file", appendNewline=False, overwriteFile="true"),
            node("c", "catch", scope=None)]
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "fine", "filename": str(tmp_path / "a.txt")})
        h.send("f", {"payload": "fine", "filename": str(tmp_path / "b.txt")})
        await sent(h, "f", 2)
        assert (tmp_path / "a.txt").read_text() == "fine"
        assert (tmp_path / "b.txt").read_text() == "fine"
        assert h.status("f") == {}  # Node-RED 4 shows none once upgraded to msg.filename


async def test_filename_from_another_msg_property_and_a_number(tmp_path):
    flow = write_flow("_user_specified_filename", filenameType="msg")
    async with FlowHarness(flow, settings={"fileWorkingDirectory": str(tmp_path)}) as h:
        h.send("f", {"payload": "x", "_user_specified_filename": str(tmp_path / "u.txt")})
        h.send("f", {"payload": "y", "_user_specified_filename": 123})
        await sent(h, "f", 2)
        assert (tmp_path / "u.txt").read_text() == "x"
        assert (tmp_path / "123").read_text() == "y"
        assert h.outputs("f")[1]["filename"] == "123"


async def test_filename_from_an_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWRT_TEST_FILE", str(tmp_path / "env.txt"))
    async with FlowHarness(write_flow("FLOWRT_TEST_FILE", filenameType="env")) as h:
        h.send("f", {"payload": "env"})
        await sent(h, "f")
        assert (tmp_path / "env.txt").read_text() == "env"


async def test_delete(tmp_path):
    target = tmp_path / "gone.txt"
    target.write_text("x")
    async with FlowHarness(write_flow(target, overwriteFile="delete")) as h:
        h.send("f", {"payload": "ignored"})
        await sent(h, "f")
        assert not target.exists()
        h.send("f", {"payload": "again"})  # now it is missing
        [text] = await caught(h)
        assert text == (f"failed to delete file: Error: ENOENT: no such file or directory, "
                        f"unlink '{target}'")
        assert len(h.outputs("f")) == 1


async def test_warns_without_a_filename_and_ignores_a_missing_payload(tmp_path):
    flow = write_flow("", filenameType="str")
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "nofile"})
        await h.wait_for(lambda: len(h.warnings) == 1)
        assert h.warnings[0]["msg"] == "No filename specified"
    target = tmp_path / "none.txt"
    async with FlowHarness(write_flow(target)) as h:
        await h.inject("f", topic="test")
        await h.wait_for(lambda: len(h.outputs("done")) == 1)
        assert not target.exists() and h.outputs("f") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
@pytest.mark.parametrize(("action", "verb"), [("true", "write to"), ("false", "append to")])
async def test_read_only_file_fails(tmp_path, action, verb):
    target = tmp_path / "ro.txt"
    target.write_text("")
    target.chmod(0o444)
    async with FlowHarness(write_flow(target, overwriteFile=action)) as h:
        h.send("f", {"payload": "x"})
        [text] = await caught(h)
        assert text == (f"failed to {verb} file: Error: EACCES: permission denied, "
                        f"open '{target}'")


@pytest.mark.parametrize(("action", "verb"), [("true", "write to"), ("false", "append to")])
async def test_writing_to_a_directory_fails_even_as_root(tmp_path, action, verb):
    async with FlowHarness(write_flow(tmp_path, overwriteFile=action)) as h:
        h.send("f", {"payload": "x"})
        [text] = await caught(h)
        assert text == (f"failed to {verb} file: Error: EISDIR: illegal operation on a "
                        f"directory, open '{tmp_path}'")
        assert h.outputs("f") == []


@pytest.mark.parametrize("action", ["true", "false"])
async def test_create_dir(tmp_path, action):
    target = tmp_path / "new" / "deeper" / "file.txt"
    async with FlowHarness(write_flow(target, overwriteFile=action)) as h:
        h.send("f", {"payload": "x"})
        [text] = await caught(h)
        verb = "write to" if action == "true" else "append to"
        assert text == (f"failed to {verb} file: Error: ENOENT: no such file or directory, "
                        f"open '{target}'")
        assert h.outputs("f") == []
    async with FlowHarness(write_flow(target, overwriteFile=action, createDir=True)) as h:
        h.send("f", {"payload": "x"})
        await sent(h, "f")
        assert target.read_text() == "x"


class Snapshot(Node):
    """Records the file's content when a message arrives (wired after a complete node)."""

    type = "test-file-snapshot"
    outputs = 0
    seen: ClassVar[list[tuple[object, str]]] = []
    path: ClassVar[Path | None] = None

    def on_input(self, msg):
        assert self.path is not None
        self.seen.append((msg["payload"], self.path.read_text()))


async def test_writes_are_in_order_and_each_completes_after_its_write(tmp_path):
    target = tmp_path / "order.txt"
    Snapshot.seen, Snapshot.path = [], target
    flow = write_flow(target, overwriteFile="false", appendNewline=True)
    flow[2]["wires"] = [["snap"]]
    flow.append(node("snap", "test-file-snapshot"))
    async with FlowHarness(flow, node_types=[Snapshot]) as h:
        for index in range(50):
            h.send("f", {"payload": index})
        await sent(h, "f", 50)
        await h.wait_for(lambda: len(Snapshot.seen) == 50)
    assert target.read_text() == "".join(f"{i}\n" for i in range(50))
    assert [m["payload"] for m in h.outputs("f")] == list(range(50))
    # When each message completed, its own line was in the file.
    assert sorted(payload for payload, _text in Snapshot.seen) == list(range(50))
    for payload, text in Snapshot.seen:
        assert str(payload) in text.splitlines()


async def test_writes_run_off_the_event_loop_thread(tmp_path, monkeypatch):
    from flowrt_nodes import file as file_module

    threads = []
    original = file_module._overwrite

    def spy(path, data):
        threads.append(threading.current_thread())
        original(path, data)

    monkeypatch.setattr(file_module, "_overwrite", spy)
    async with FlowHarness(write_flow(tmp_path / "t.txt")) as h:
        h.send("f", {"payload": "x"})
        await sent(h, "f")
    assert threads and threads[0] is not threading.main_thread()


async def test_multiple_files_by_msg_filename_then_close(tmp_path):
    flow = write_flow("filename", filenameType="msg", overwriteFile="false",
                      appendNewline=True)
    async with FlowHarness(flow) as h:
        for name in ("a", "b", "a", "b"):
            h.send("f", {"payload": name, "filename": str(tmp_path / name)})
        # Closing waits for the queued writes.
    assert (tmp_path / "a").read_text() == "a\na\n"
    assert (tmp_path / "b").read_text() == "b\nb\n"


async def test_encoding_set_by_msg(tmp_path):
    target = tmp_path / "enc.txt"
    async with FlowHarness(write_flow(target, encoding="setbymsg")) as h:
        h.send("f", {"payload": "試験", "encoding": "Shift_JIS"})
        await sent(h, "f")
        assert target.read_bytes() == "試験".encode("shift_jis")
        h.send("f", {"payload": "x", "encoding": "cp922"})
        [text] = await caught(h)
        assert "cp922" in text and "not available" in text


async def test_unavailable_encoding_is_refused_by_name(tmp_path):
    with pytest.raises(DeployError, match="cp1046"):
        async with FlowHarness(write_flow(tmp_path / "x", encoding="cp1046")):
            pass


# Node-RED's encodings list, less the ones Python lacks.
ENCODINGS = [
    "utf8", "ucs2", "utf-16le", "ascii", "binary", "base64", "hex", "utf-16be",
    "Shift_JIS", "Windows-31j", "Windows932", "EUC-JP", "GB2312", "GBK", "GB18030",
    "Windows936", "EUC-CN", "KS_C_5601", "Windows949", "EUC-KR", "Big5", "Big5-HKSCS",
    "Windows950", "cp874", *[f"cp{n}" for n in range(1250, 1259)],
    *[f"ISO-8859-{n}" for n in (*range(1, 12), 13, 14, 15, 16)],
    "cp437", "cp737", "cp775", "cp850", "cp852", "cp855", "cp856", "cp857", "cp858",
    "cp860", "cp861", "cp866", "cp869", "cp1125", "maccroatian", "maccyrillic", "macgreek",
    "maciceland", "macroman", "macromania", "macturkish", "maccenteuro", "macintosh",
    "koi8-r", "koi8-u", "koi8-t", "rk1048", "pt154", "tis620",
]
SAMPLES = {"ascii": "test", "binary": "test", "base64": "test", "hex": "6162"}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_encodings_write_then_read(tmp_path, encoding):
    text = SAMPLES.get(encoding, "test")
    target = tmp_path / "enc.txt"
    flow = [*write_flow(target, encoding=encoding, wires=[["r"]]),
            node("r", "file in", filename=str(target), filenameType="str", format="utf8",
                 encoding=encoding)]
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": text})
        [out] = await sent(h, "r")
        assert target.read_bytes() == encode_text(text, encoding)
        assert out["payload"] == text


def test_node_buffer_encodings_and_iconv_rules():
    assert encode_text("test", "base64") == b"\xb5\xeb-"  # Buffer.from("test", "base64")
    assert encode_text("61zz", "hex") == b"a"
    assert decode_bytes(b"\xef\xbb\xbfhi", "utf8") == "hi"  # BOM dropped
    assert decode_bytes(b"\xef\xbb\xbfhi", "none") == "\ufeffhi"
    assert encode_text("試", "cp1252") == b"?"
    assert decode_bytes(b"\xff", "utf8") == "\ufffd"
    assert "cp808" in UNAVAILABLE


# -------------------------------------------------------------- file in (read)
async def test_reads_a_buffer_and_a_utf8_string(tmp_path):
    target = tmp_path / "in.txt"
    target.write_text(FILE_TEXT)
    async with FlowHarness(read_flow(target, format="")) as h:
        h.send("r", {"payload": ""})
        [out] = await sent(h, "r")
        assert out["payload"] == FILE_TEXT.encode()
        assert out["filename"] == str(target)
    async with FlowHarness(read_flow(target)) as h:
        h.send("r", {"payload": ""})
        [out] = await sent(h, "r")
        assert out["payload"] == FILE_TEXT


async def test_reads_with_file_working_directory_and_msg_filename(tmp_path):
    (tmp_path / "in.txt").write_text("abc\r")
    flow = [node("r", "file in", format="utf8")]  # no filenameType: msg.filename
    async with FlowHarness(flow, settings={"fileWorkingDirectory": str(tmp_path)}) as h:
        h.send("r", {"filename": "in.txt\n"})
        [out] = await sent(h, "r")
        assert out["payload"] == "abc\r"
        assert out["filename"] == "in.txt"


async def test_lines_with_parts(tmp_path):
    target = tmp_path / "in.txt"
    target.write_text(FILE_TEXT)
    async with FlowHarness(read_flow(target, format="lines")) as h:
        h.send("r", {"payload": "", "topic": "A", "foo": "bar", "_msgid": "m1"})
        outs = await sent(h, "r", 3)
        assert [m["payload"] for m in outs] == ["File message line 1", "File message line 2", ""]
        assert [m["parts"] for m in outs] == [
            {"index": 0, "ch": "\n", "type": "string", "id": "m1"},
            {"index": 1, "ch": "\n", "type": "string", "id": "m1"},
            {"index": 2, "count": 3, "ch": "\n", "type": "string", "id": "m1"}]
        assert all(m["topic"] == "A" and "foo" not in m for m in outs)
        assert outs[0]["filename"] == str(target)


async def test_lines_with_empty_lines_and_all_properties(tmp_path):
    target = tmp_path / "in.txt"
    target.write_text("-\n\n-\n")
    async with FlowHarness(read_flow(target, format="lines", allProps=True)) as h:
        h.send("r", {"payload": "", "topic": "B", "foo": "bar"})
        outs = await sent(h, "r", 4)
        assert [m["payload"] for m in outs] == ["-", "", "-", ""]
        assert "count" not in outs[2]["parts"] and outs[3]["parts"]["count"] == 4
        assert all(m["foo"] == "bar" and m["topic"] == "B" for m in outs)


async def test_lines_across_reads_and_multibyte_characters(tmp_path):
    target = tmp_path / "big.txt"
    line = "é" * 5000  # 10 000 bytes: lines and characters cross 64 KiB reads
    target.write_text("\n".join([line] * 20))
    async with FlowHarness(read_flow(target, format="lines")) as h:
        h.send("r", {"payload": ""})
        outs = await sent(h, "r", 20)
        assert [m["payload"] for m in outs] == [line] * 20
        assert outs[-1]["parts"]["count"] == 20


async def test_stream_of_buffers(tmp_path):
    target = tmp_path / "in.txt"
    target.write_text(FILE_TEXT[:40].ljust(40, "x"))
    async with FlowHarness(read_flow(target, format="stream")) as h:
        h.send("r", {"payload": ""})
        [out] = await sent(h, "r")
        assert isinstance(out["payload"], bytes) and len(out["payload"]) == 40
        assert out["parts"]["count"] == 1 and out["parts"]["type"] == "buffer"
        assert out["parts"]["ch"] == ""
    big = os.urandom(64 * 1024 * 2)  # ends on a chunk boundary: an extra last message
    target.write_bytes(big)
    async with FlowHarness(read_flow(target, format="stream")) as h:
        h.send("r", {"payload": ""})
        outs = await sent(h, "r", 3)
        assert b"".join(m.get("payload", b"") for m in outs) == big
        assert [m["parts"]["index"] for m in outs] == [0, 1, 2]
        assert outs[2]["parts"]["count"] == 3 and "payload" not in outs[2]


async def test_warns_without_a_filename(tmp_path):
    async with FlowHarness([node("r", "file in", format="")]) as h:
        h.send("r", {})
        await h.wait_for(lambda: len(h.warnings) == 1)
        assert h.warnings[0]["msg"] == "No filename specified"


async def test_read_error_is_caught_and_sent_when_send_error_is_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flow = [node("r", "file in", filename="badfile", format=""),  # old flow: sendError on
            node("c", "catch", scope=None)]
    async with FlowHarness(flow) as h:
        h.send("r", {"payload": ""})
        [out] = await sent(h, "r")
        [text] = await caught(h)
        assert text == "Error: ENOENT: no such file or directory, open 'badfile'"
        assert "payload" not in out
        assert out["error"]["code"] == "ENOENT" and out["error"]["errno"] == -2
    async with FlowHarness(read_flow("badfile", sendError=False)) as h:
        h.send("r", {"payload": ""})
        await caught(h)
        assert h.outputs("r") == []


async def test_file_write_then_file_in_lines_in_one_flow(tmp_path):
    target = tmp_path / "log.txt"
    flow = [node("inj", "function", func="return msg;", wires=[["f"]]),
            node("f", "file", filename=str(target), filenameType="str", appendNewline=True,
                 overwriteFile="false", encoding="none", wires=[["r"]]),
            node("r", "file in", filename=str(target), filenameType="str", format="lines",
                 encoding="none")]
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "alpha"})
        await sent(h, "r", 2)
        h.send("f", {"payload": "beta"})
        outs = await sent(h, "r", 5)
    assert [m["payload"] for m in outs] == ["alpha", "", "alpha", "beta", ""]


# ------------------------------------------------ Node-RED's example flows
def example_in(tmp_path, name):
    """A storage example flow, its /tmp/hello.txt moved into tmp_path."""
    text = (EXAMPLES / name).read_text().replace("/tmp/hello.txt", f"{tmp_path}/hello.txt")
    return json.loads(text)


async def run_storage_example(tmp_path, name, count=1):
    flow = example_in(tmp_path, name)
    debug = next(n["id"] for n in flow if n["type"] == "debug")
    senders = [n["id"] for n in flow if any(debug in port for port in n.get("wires", []))]
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        await h.wait_for(lambda: sum(len(h.outputs(s)) for s in senders) >= count)
        assert not h.errors, h.errors
        return [m for s in senders for m in h.outputs(s)]


@pytest.mark.parametrize(("name", "payloads"), [
    ("storage__write-file__01---Write-string-to-a-file.json", ["Hello, World!\n"]),
    ("storage__read-file__01---Read-string-from-a-file.json", ["Hello, World!\n"]),
    ("storage__write-file__02---Write-string-to-a-file-specified-by-property.json",
     ["Hello, World!\n"]),
    ("storage__read-file__02---Read-data-in-specified-encoding.json", ["8J+YgAo="]),
    ("storage__write-file__04---Specify-encoding-of-written-data.json", ["😀"]),
    ("storage__read-file__03---Read-data-breaking-lines-into-messages.json",
     ["one", "two", "three!", ""]),
    ("storage__read-file__04---Create-a-message-stream.json", ["Apple\nBanana\n"]),
])
async def test_node_red_examples(tmp_path, name, payloads):
    outs = await run_storage_example(tmp_path, name, len(payloads))
    assert [m["payload"] for m in outs] == payloads


async def test_node_red_example_delete(tmp_path):
    (tmp_path / "hello.txt").write_text("x")
    outs = await run_storage_example(tmp_path, "storage__write-file__03---Delete-a-file.json")
    assert outs[0]["filename"] == f"{tmp_path}/hello.txt"
    assert not (tmp_path / "hello.txt").exists()


async def test_corpus_configurations_deploy(tmp_path):
    """Every file and file in node of the compat corpus deploys (alone, unwired)."""
    configs = []
    for path in sorted((EXAMPLES.parent).rglob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(document, dict):
            document = document.get("flows", [])
        configs += [n for n in document if isinstance(n, dict)
                    and n.get("type") in ("file", "file in")]
    assert len(configs) >= 40
    for config in configs:
        alone = {**config, "z": "t1", "wires": [[]]}
        alone.pop("g", None)
        alone.pop("d", None)
        async with FlowHarness([alone]) as h:
            assert h.node(config["id"])
