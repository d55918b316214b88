"""watch: a message for every change to watched files or directories, as Node-RED's."""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING, Any, ClassVar

from flowrt.errors import ConfigError
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, string

if TYPE_CHECKING:
    from flowrt.file_watch import FileWatcher, PathChange


def _names(files: str) -> list[str]:
    """The comma-separated list, trimmed; surrounding quotes are removed."""
    names = [name.strip() for name in files.split(",")]
    return [n[1:-1] if len(n) >= 2 and n[0] == n[-1] == '"' else n for n in names]


def _existing(base: str | None, names: list[str]) -> tuple[list[str], list[bool]]:
    """The names as absolute paths (from ``base`` or the working directory), and
    whether each exists (blocking: runs in a thread)."""
    paths = [os.path.abspath(os.path.join(base or os.getcwd(), name)) for name in names if name]
    return paths, [os.path.exists(path) for path in paths]


class Watch(Node):
    """Watches files and directories and sends a message for each change.

    **Output**
    - `payload`, `filename` (string): the full name of the file that changed.
    - `file` (string): its short name (without the directory).
    - `topic` (string): the watch list: the one name, or the names as a JSON array.
    - `event` (string): `update` (created or changed) or `remove` (deleted).
    - `type` (string): what the path is now: `file`, `directory`, `fifo`, `socket`,
      `blockdevice`, `characterdevice`, `n/a`, or `none` when it is gone.
    - `size` (number): the file's size in bytes, for a file.

    **Details:** *Files* is a comma-separated list of files and directories (double
    quotes around a name are removed). A directory reports changes to the entries
    in it, and with *recursive* to everything below it, including directories created
    later. Each name must exist when the node starts (a missing one is reported as an
    error and skipped); a file that is deleted and created again may no longer be
    watched, as in Node-RED. Changes are grouped for up to 200 ms, one message per
    changed path in each group. A relative name starts from the `fileWorkingDirectory`
    setting, or from the directory flowrt was started in.

    Changes come from the operating system (inotify on Linux); where that is
    unavailable (the inotify limits reached, a file system without notifications) the
    node warns and looks for changes every 300 ms instead.

    **Differences from Node-RED:** `payload`/`filename` are absolute paths (Node-RED
    keeps a relative watch name relative); the `fileWorkingDirectory` setting applies to
    watch names too; quotes around a name are removed (Node-RED's help asks for them
    around names with spaces, its code keeps them).
    """

    type = "watch"
    category = "storage"
    inputs = 0
    color = "#DEB887"
    icon = "watch"
    editor: ClassVar = {"label": "files", "order": ["files", "recursive", "name"]}
    schema: ClassVar = {"type": "object", "required": ["files"], "properties": {
        "name": string("", title="Name"),
        "files": string("", title="Files and directories (comma-separated)"),
        "recursive": boolean("", title="Watch sub-directories recursively"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._names = _names(str(config.get("files") or ""))
        if not any(self._names):
            raise ConfigError("files: no file or directory to watch")
        self._topic = (self._names[0] if len(self._names) == 1
                       else json.dumps(self._names, separators=(",", ":"), ensure_ascii=False))
        self._recursive = as_bool(config.get("recursive"))
        self._watcher: FileWatcher | None = None

    async def start(self) -> None:
        from flowrt.file_watch import FileWatcher

        base = self.ctx.settings.file_working_directory
        paths, found = await asyncio.to_thread(_existing, base, self._names)
        for path, exists in zip(paths, found, strict=True):
            if not exists:
                self.error(f"Error: {path} does not exist.", {"payload": ""})
        paths = [p for p, exists in zip(paths, found, strict=True) if exists]
        if not paths:
            return
        watcher = FileWatcher(paths, recursive=self._recursive, on_changes=self._changed,
                              on_error=self._watch_failed)
        try:
            await watcher.start()
        except OSError as exc:  # a path gone since the check, or not readable
            self.error(f"Error: {exc}", {"payload": ""})
            return
        if watcher.polling:
            self.warn(f"file notifications unavailable: polling {', '.join(paths)}")
        self._watcher = watcher

    def _changed(self, changes: list[PathChange]) -> None:
        for change in changes:
            msg: Message = {"payload": change.path, "topic": self._topic,
                            "file": os.path.basename(change.path), "filename": change.path,
                            "event": change.event, "type": change.kind}
            if change.size is not None:
                msg["size"] = change.size
            self.send(msg)

    def _watch_failed(self, exc: BaseException) -> None:
        self.error(f"Error: {exc}", {"payload": ""})

    async def close(self, removed: bool) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.close()
