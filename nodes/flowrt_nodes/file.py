"""file and file in: write (append, overwrite, delete) and read files, as Node-RED 4.

Every file operation runs in a worker thread (``asyncio.to_thread``), never on the
event loop; a ``file`` node writes its messages one at a time, in arrival order, and
a message completes only when its write is done.
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import orjson

from flowrt.errors import ConfigError
from flowrt.jsvalue import MISSING, js_string
from flowrt.messages import Message, clone_message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, enum, show_if, string, typed
from flowrt.text_encodings import check_encoding, encode_text, new_decoder
from flowrt.typed_input import TypedInputError, TypedValue

CHUNK_SIZE = 64 * 1024
"""Bytes per read of ``file in`` (Node's stream high-water mark): the size of the
Buffers of the ``stream`` format."""

NO_FILENAME = "No filename specified"
FILENAME_TYPES = ["str", "msg", "jsonata", "env", "flow", "global"]
# Node-RED's words; "" is how flows from before Node-RED 3.0 store it (_filename_value).
_FILENAME_TYPE_LABELS = {"": "path, or msg.filename if empty (older flows)", "str": "path"}
_WRITING = ["false", "true"]
"""The file node's actions that write (its write options are hidden for delete)."""
_ENCODINGS = "none: default; or an encoding name such as utf8, latin1, cp1252, shift_jis"

# libuv's wording where it differs from the C library's strerror().
_UV_TEXT = {errno.EISDIR: "illegal operation on a directory",
            errno.ENOTDIR: "not a directory", errno.EEXIST: "file already exists"}


class FileFailure(Exception):
    """An OSError worded as Node's fs errors (``ENOENT: no such file or directory,
    open '/x'``); ``details`` is the error object Node-RED puts in ``msg.error``."""

    def __init__(self, exc: OSError, syscall: str, path: str) -> None:
        code = errno.errorcode.get(exc.errno or 0, "EIO")
        reason = _UV_TEXT.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        text = f"{code}: {reason}, {syscall} '{path}'"
        super().__init__(text)
        self.details = {"message": text, "errno": -(exc.errno or 0), "code": code,
                        "syscall": syscall, "path": path}

    def __str__(self) -> str:
        return f"Error: {self.args[0]}"


def _filename_value(node: Node, config: dict[str, Any]) -> TypedValue:
    """The filename typed input, upgraded as Node-RED does for flows from before 3.0
    (no ``filenameType``: an empty name means ``msg.filename``, any other a path)."""
    name = config.get("filename")
    name = "" if name is None else js_string(name)
    kind = config.get("filenameType") or ""
    if not kind:
        name, kind = ("filename", "msg") if name == "" else (name, "str")
    try:
        return TypedValue(node, name, kind, "filename")
    except TypedInputError as exc:
        raise ConfigError(str(exc)) from None


def _resolve(node: Node, filename: str) -> str:
    """``filename`` from the ``fileWorkingDirectory`` setting when relative."""
    base = node.ctx.settings.file_working_directory
    if filename and base and not os.path.isabs(filename):
        return os.path.abspath(os.path.join(base, filename))
    return filename


def _check_encoding(name: str, what: str = "encoding") -> None:
    try:
        check_encoding(name)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


class FileWrite(Node):
    """Writes `msg.payload` to a file, adding to its end or replacing its content; or
    deletes the file.

    **Input**
    - `filename` (string): the file, when the node's *Filename* is set to
      `msg.filename` (the default for flows from before Node-RED 3) or another message
      property, a JSONata expression or an environment variable.
    - `encoding` (string): the encoding, when *Encoding* is "set by msg.encoding".

    **Output:** the input message, once the file is written (or deleted), with
    `msg.filename` set to the name used.

    **Details:** a string is written in the chosen *Encoding* (default: UTF-8), a Buffer
    as it is, an object or array as JSON, a number or boolean as its text. With *Add
    newline* each payload gets a `\\n` after it, except the last part of a string
    sequence (`msg.parts` of type string). A message without `payload` is ignored.
    *Action* `append` adds to the end (a fixed filename keeps the file open between
    messages and reopens it when the file was deleted or replaced), `overwrite`
    replaces the content, `delete` removes the file. *Create directory* makes missing
    parent directories. A relative filename starts from the `fileWorkingDirectory`
    setting, or from the directory flowrt was started in.

    Messages are written one at a time, in order; each completes when its data has
    been handed to the operating system (a `complete` node sees it then). A failure
    (permission denied, missing directory) is this message's error for `catch` nodes,
    worded as Node-RED's (`failed to append to file: Error: EACCES: ...`), and the
    message is not sent on.

    **Differences from Node-RED:** encodings Python has no codec for (cp808, cp922,
    cp1046, cp1124, cp1129, cp1133, cp1161, cp1162, cp1163, macthai, macukraine, koi8-ru,
    armscii8, tcvn, georgianacademy, georgianps, viscii, iso646cn, iso646jp, hproman8)
    are refused when the node is deployed; no fsync is done (as Node-RED: a power cut
    may lose the last writes).

    **Security:** this node writes or deletes any file the flowrt process may; see
    docs/security.md.
    """

    type = "file"
    category = "storage"
    color = "#DEB887"
    icon = "file-out"
    palette_label = "write file"
    max_inflight = 1000
    editor: ClassVar = {"label": "filename", "order": [
        "filename", "overwriteFile", "appendNewline", "createDir", "encoding"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "filename": typed("", types=FILENAME_TYPES, title="Filename"),
        "filenameType": enum(["", *FILENAME_TYPES], "str", title="Filename type",
                             labels=_FILENAME_TYPE_LABELS),
        "overwriteFile": enum(["false", "true", "delete", True, False], "false", title="Action",
                              labels={"false": "append to file", "true": "overwrite file",
                                      "delete": "delete file"}),
        "appendNewline": show_if(boolean(True, title="Add newline (\\n) to each payload?"),
                                 overwriteFile=_WRITING),
        "createDir": show_if(boolean(False, title="Create directory if it doesn't exist?"),
                             overwriteFile=_WRITING),
        "encoding": show_if(string("none", title="Encoding",
                                   description=_ENCODINGS + "; setbymsg: msg.encoding"),
                            overwriteFile=_WRITING),
    }}
    config_when_absent: ClassVar = {"filenameType": "", "appendNewline": False,
                                    "overwriteFile": "false"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._filename = _filename_value(self, config)
        self._static = self._filename.type in ("str", "env")
        # As Node-RED: only a node whose (upgraded) filename is empty shows one.
        self._dynamic_status = self._filename.raw == ""
        self._append_newline = as_bool(config.get("appendNewline"))
        self._create_dir = as_bool(config.get("createDir"))
        action = config.get("overwriteFile")
        self._action = js_string(action).lower() if action is not None else "false"
        if self._action not in ("true", "false", "delete"):
            raise ConfigError(f"overwriteFile: {action!r} is not true, false or delete")
        self._encoding = str(config.get("encoding") or "none")
        if self._encoding != "setbymsg":
            _check_encoding(self._encoding)
        self._lock = asyncio.Lock()
        self._stream: BinaryIO | None = None
        self._stream_path = ""
        self._status_shown: str | None = None

    async def on_input(self, msg: Message) -> None:
        try:
            value = self._filename.get(msg, MISSING)
        except Exception as exc:
            self.error(exc, msg)
            return
        filename = "" if value is None or value is MISSING else js_string(value)
        msg["filename"] = filename
        if self._dynamic_status and filename != self._status_shown:
            self._status_shown = filename
            self.status(fill="grey", shape="dot", text=filename)
        if filename == "":
            self.warn(NO_FILENAME)
            return
        path = _resolve(self, filename)
        if self._action == "delete":
            async with self._lock:
                try:
                    await asyncio.to_thread(_delete, path)
                except FileFailure as exc:
                    self.error(f"failed to delete file: {exc}", msg)
                    return
            self.send(msg)
            return
        payload = msg.get("payload", MISSING)
        if payload is MISSING:
            return
        try:
            data = self._bytes_of(payload, msg)
        except (TypeError, ValueError) as exc:  # orjson's errors are TypeErrors
            self.error(f"failed to write to file: {exc}", msg)
            return
        async with self._lock:
            if self._create_dir:
                try:
                    await asyncio.to_thread(_make_parent, path)
                except FileFailure as exc:
                    self.error(f"failed to create file: {exc}", msg)
                    return
            try:
                if self._action == "true":
                    await asyncio.to_thread(_overwrite, path, data)
                else:
                    await asyncio.to_thread(self._append, path, data)
            except FileFailure as exc:
                verb = "write to" if self._action == "true" else "append to"
                self.error(f"failed to {verb} file: {exc}", msg)
                return
        self.send(msg)

    def _bytes_of(self, payload: Any, msg: Message) -> bytes:
        if isinstance(payload, bytes | bytearray):
            return bytes(payload)
        if isinstance(payload, dict | list) or payload is None:
            text = orjson.dumps(payload, default=_json_default,
                                option=orjson.OPT_NON_STR_KEYS).decode()
        else:
            text = js_string(payload)
        parts = msg.get("parts")
        last_of_string = (isinstance(parts, dict) and parts.get("type") == "string"
                          and isinstance(parts.get("count"), int | float)
                          and isinstance(parts.get("index"), int | float)
                          and parts["count"] == parts["index"] + 1)
        if self._append_newline and not last_of_string:
            text += os.linesep
        encoding = self._encoding
        if encoding == "setbymsg":
            encoding = msg.get("encoding") or "none"
            check_encoding(js_string(encoding))
        return encode_text(text, js_string(encoding))

    def _append(self, path: str, data: bytes) -> None:
        """Append in the worker thread; a fixed filename keeps its file open, reopened
        when the file was deleted or replaced (another inode)."""
        stream = self._stream
        if stream is not None and (self._stream_path != path or not _same_file(path, stream)):
            self._close_stream()
            stream = None
        if stream is None:
            try:
                stream = open(path, "ab")  # noqa: SIM115 - kept open between messages
            except OSError as exc:
                raise FileFailure(exc, "open", path) from None
            if self._static:
                self._stream, self._stream_path = stream, path
        try:
            stream.write(data)
            stream.flush()
        except OSError as exc:
            self._close_stream()
            raise FileFailure(exc, "write", path) from None
        finally:
            if not self._static:
                stream.close()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError as exc:
                self.log.warning("closing %s: %s", self._stream_path, exc)

    async def close(self, removed: bool) -> None:
        async with self._lock:  # the writes already queued finish first
            if self._stream is not None:
                await asyncio.to_thread(self._close_stream)
        self.status({})


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"type": "Buffer", "data": list(value)}
    raise TypeError


def _same_file(path: str, stream: BinaryIO) -> bool:
    """Whether ``path`` still names the file ``stream`` writes to."""
    try:
        return os.stat(path).st_ino == os.fstat(stream.fileno()).st_ino
    except OSError:
        return False


def _delete(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        raise FileFailure(exc, "unlink", path) from None


def _make_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise FileFailure(exc, "mkdir", parent) from None


def _overwrite(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise FileFailure(exc, "open", path) from None


class FileRead(Node):
    """Reads a file's content as a string, a Buffer, one message per line, or a stream
    of Buffers.

    **Input**
    - `filename` (string): the file, when the node's *Filename* is set to
      `msg.filename` (the default for flows from before Node-RED 3) or another message
      property, a JSONata expression or an environment variable.

    **Output**
    - `payload` (string | Buffer): the content, as *Output* says: `utf8` one string
      (decoded with *Encoding*), `` (empty) one Buffer, `lines` one message per line
      (string, without the `\\n`), `stream` one message per 64 KiB Buffer.
    - `filename` (string): the name of the file read.
    - `parts`: with `lines` and `stream`, the place of each message in the sequence
      (`index`, `count` on the last, `type` `string` or `buffer`, `ch`, `id`), so a
      `join` node can put it back together.

    **Details:** each line or chunk message carries only `topic`, `filename`, `payload`
    and `parts`, unless *include all existing properties* (`allProps`) is set. A relative
    filename starts from the `fileWorkingDirectory` setting, or from the directory flowrt
    was started in. A file that cannot be read (missing, no permission) is this message's
    error for `catch` nodes (`Error: ENOENT: no such file or directory, open 'x'`); with
    *Send message on error* (`sendError`, on for flows from before Node-RED 1.0) the
    message is also sent on, without `payload` and with `msg.error` (`code`, `errno`,
    `syscall`, `path`, `message`).

    The file is read in a worker thread, 64 KiB at a time for `lines` and `stream`.

    **Differences from Node-RED:** a multi-byte character split between two 64 KiB
    reads is decoded whole (Node-RED decodes each read apart); an empty file in
    `stream` format gives one message with an empty Buffer (Node-RED sends none); a
    file whose size is a multiple of 64 KiB ends, as in Node-RED, with an extra message
    without payload, but its `parts.count` counts it. Encodings Python has no codec for
    are refused (see the `file` node).

    **Security:** this node reads any file the flowrt process may; see
    docs/security.md.
    """

    type = "file in"
    category = "storage"
    color = "#DEB887"
    icon = "file-in"
    palette_label = "read file"
    max_inflight = 100
    editor: ClassVar = {"label": "filename", "order": [
        "filename", "format", "encoding", "allProps", "sendError"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "filename": typed("", types=FILENAME_TYPES, title="Filename"),
        "filenameType": enum(["", *FILENAME_TYPES], "str", title="Filename type",
                             labels=_FILENAME_TYPE_LABELS),
        "format": enum(["utf8", "", "lines", "stream"], "utf8", title="Output", labels={
            "utf8": "a single utf8 string", "": "a single Buffer object",
            "lines": "a msg per line", "stream": "a stream of Buffers"}),
        "chunk": boolean(False, title="Chunk (unused, kept for Node-RED)", **{"x-hidden": True}),
        "sendError": boolean(False, title="Send message on error (legacy mode)"),
        "encoding": show_if(string("none", title="Encoding", description=_ENCODINGS),
                            format=["utf8", "lines"]),
        "allProps": show_if(boolean(False, title="Include all existing properties in each msg"),
                            format=["lines", "stream"]),
    }}
    config_when_absent: ClassVar = {"filenameType": "", "format": "", "sendError": True}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._filename = _filename_value(self, config)
        # As Node-RED: only a node whose (upgraded) filename is empty shows one.
        self._dynamic_status = self._filename.raw == ""
        self._format = str(config.get("format") or "")
        self._encoding = str(config.get("encoding") or "none")
        _check_encoding(self._encoding)
        self._all_props = as_bool(config.get("allProps"))
        self._send_error = as_bool(config.get("sendError"))

    async def on_input(self, msg: Message) -> None:
        try:
            value = self._filename.get(msg, MISSING)
        except Exception as exc:
            self.error(exc, msg)
            return
        filename = "" if value is None or value is MISSING else js_string(value)
        filename = filename.replace("\t", "").replace("\r", "").replace("\n", "")
        if self._dynamic_status:
            self.status(fill="grey", shape="dot", text=filename)
        if filename == "":
            self.warn(NO_FILENAME)
            return
        msg["filename"] = filename
        path = _resolve(self, filename)
        try:
            if self._format in ("lines", "stream"):
                await self._read_in_parts(path, msg)
            else:
                data = await asyncio.to_thread(_read_whole, path)
                msg["payload"] = (new_decoder(self._encoding)(data, True)
                                  if self._format == "utf8" else data)
                self.send(msg)
        except FileFailure as exc:
            self.error(str(exc), msg)
            if self._send_error:
                failed = clone_message(msg)
                failed.pop("payload", None)
                failed["error"] = exc.details
                self.send(failed)

    def _part(self, msg: Message, payload: Any, parts: dict[str, Any]) -> Message:
        if self._all_props:
            out = clone_message(msg)
        else:
            out = {"topic": msg.get("topic"), "filename": msg["filename"]}
            if "topic" not in msg:
                del out["topic"]
        out["payload"] = payload
        out["parts"] = parts
        return out

    async def _read_in_parts(self, path: str, msg: Message) -> None:
        handle = await asyncio.to_thread(_open_for_reading, path)
        msgid = msg.get("_msgid")
        count = 0
        try:
            if self._format == "lines":
                decode = new_decoder(self._encoding)
                spare = ""
                while True:
                    chunk = await asyncio.to_thread(_read_chunk, handle, path)
                    spare += decode(chunk, not chunk)
                    *lines, spare = spare.split("\n")
                    for line in lines:
                        self.send(self._part(msg, line, {
                            "index": count, "ch": "\n", "type": "string", "id": msgid}))
                        count += 1
                    if not chunk:
                        break
                self.send(self._part(msg, spare, {
                    "index": count, "count": count + 1, "ch": "\n", "type": "string",
                    "id": msgid}))
                return
            while True:
                chunk = await asyncio.to_thread(_read_chunk, handle, path)
                parts: dict[str, Any] = {"index": count, "ch": "", "type": "buffer",
                                         "id": msgid}
                count += 1
                if len(chunk) < CHUNK_SIZE:
                    parts["count"] = count
                    if chunk or count == 1:
                        self.send(self._part(msg, chunk, parts))
                    else:  # the file ended on a chunk boundary, as Node-RED's
                        self.send({"parts": parts})
                    return
                self.send(self._part(msg, chunk, parts))
        finally:
            await asyncio.to_thread(handle.close)

    async def close(self, removed: bool) -> None:
        self.status({})


def _read_whole(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FileFailure(exc, "open" if not os.path.isdir(path) else "read", path) from None


def _open_for_reading(path: str) -> BinaryIO:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise FileFailure(exc, "open", path) from None
    return handle


def _read_chunk(handle: BinaryIO, path: str) -> bytes:
    try:
        return handle.read(CHUNK_SIZE)
    except OSError as exc:
        raise FileFailure(exc, "read", path) from None
