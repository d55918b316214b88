"""exec: runs a system command per message, as Node-RED 4's exec node.

Commands run as asyncio subprocesses (nothing waits on the event loop thread), each
in a process group of its own, so that a timeout, ``msg.kill`` or a redeploy stops
the command with everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.errors import ConfigError
from flowrt.jsvalue import MISSING, js_string
from flowrt.messages import Message, clone_message, get_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, enum, number, string

READ_SIZE = 64 * 1024
"""Most bytes one stdout/stderr message carries in spawn mode (what one read returns)."""
CLOSE_GRACE = 3.0
"""Seconds commands get to end after SIGTERM when the node stops, before SIGKILL."""
MAXBUFFER_CODE = "ERR_CHILD_PROCESS_STDIO_MAXBUFFER"

_ARGUMENT = re.compile(r'(?:[^\s"]+|"[^"]*")+')
# Node's is-utf8: valid UTF-8 without C0 control characters other than tab, LF, CR.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_or_buffer(data: bytes) -> str | bytes:
    """``data`` as a string when it is UTF-8 text (Node-RED's ``is-utf8`` test, which
    also refuses control characters), else as it is (a Buffer)."""
    if _CONTROL.search(data):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def split_arguments(line: str) -> list[str]:
    """Spawn mode's words: split at white space, a "quoted part" is one word (the
    quotes removed when they enclose the whole word), as Node-RED does."""
    words = _ARGUMENT.findall(line)
    return [w[1:-1] if len(w) >= 2 and w[0] == '"' and w[-1] == '"' else w for w in words]


def _signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``pid`` leads."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


@dataclass
class _Running:
    """One command this node started and has not seen end."""

    process: asyncio.subprocess.Process
    timer: TimerHandle | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the command has exited and its output pipes have closed."""


class Exec(Node):
    """Runs a system command and returns its output.

    **Input**
    - `payload`: appended to the command (after a space) when *Append* `msg.payload`
      is ticked (`addpay`; another message property may be chosen).
    - `kill` (string): a signal name (`SIGINT`, `SIGHUP`...; anything not starting with
      `SIG` means `SIGTERM`) sent to the running command, when exactly one runs.
    - `pid` (number | string): with `kill`, which of several running commands.

    **Outputs**
    1. standard output: `payload` (string, or a Buffer when it is not UTF-8 text);
       exec mode adds `rc`, a copy of the return code object.
    2. standard error: the same shape (exec mode: only sent when there was some).
    3. return code: `payload` is `{code: 0}`, `{code: 1, message: "Command failed: ..."}`,
       or `{code: null, signal: "SIGTERM"}` for a killed command; with *Use old style
       output* (`oldrc`), spawn mode sends the bare code and exec mode sends nothing
       on success.

    **Details:** *Command* is the command line, then the appended property, then
    *Append* (extra arguments). In **exec** mode (the default) the line runs in
    `/bin/bash -c` (`/bin/sh` without bash) and the outputs are sent when it ends;
    stdout and stderr are each collected up to the `execMaxBufferSize` setting
    (10 000 000 bytes), beyond which the command is killed and the return code is
    `{code: "ERR_CHILD_PROCESS_STDIO_MAXBUFFER", message: "stdout maxBuffer length
    exceeded"}`. In **spawn** mode (`useSpawn` `"true"`) the line is split into words
    (a "quoted part" is one word), run without a shell, and stdout and stderr are sent
    as they arrive (a message per chunk, usually a line); a command that cannot be
    started ends with a negative code (`{code: -2}`: not found). *Timeout* (`timer`,
    seconds) kills a command still running then with SIGTERM.

    The status shows `pid:<n>` while a command runs, then `killed`, `error:<code>` or
    `rc:<code>` (spawn mode shows `rc:0` after success, as Node-RED does). The message
    completes when its command has ended and its outputs are sent.

    **Differences from Node-RED:** every command runs in its own process group and is
    stopped as a group: a timeout, `msg.kill` and a stop or redeploy reach the
    processes it started too (Node-RED signals the one child), and a stop waits up to
    3 s, then sends SIGKILL. Commands get no standard input (`/dev/null`; Node-RED
    leaves a pipe open that nobody writes). `winHide` is ignored (Windows only).

    **Security:** this node runs any command, as the flowrt user, with whatever the
    message puts into the command line: treat it as a shell. See docs/security.md.
    """

    type = "exec"
    category = "function"
    outputs = 3
    color = "#E9967A"
    icon = "cog"
    editor: ClassVar = {"label": "command", "order": [
        "command", "addpay", "append", "useSpawn", "timer", "winHide", "oldrc"],
        "outputLabels": ["stdout", "stderr", "return code"]}
    schema: ClassVar = {"type": "object", "properties": {
        "command": string("", title="Command"),
        "addpay": {"anyOf": [{"type": "string"}, {"type": "boolean"}], "default": "",
                   "title": "Append msg property",
                   "description": "empty: none; true: payload"},
        "append": string("", title="Extra input parameters"),
        "useSpawn": enum(["false", "true", "", False, True], "false", title="Output", labels={
            "false": "when the command is complete - exec mode",
            "": "when the command is complete - exec mode (not set)",
            "true": "while the command is running - spawn mode"}),
        "timer": number("", allow_empty=True, title="Timeout (seconds)",
                        description="optional"),
        "winHide": boolean(False, title="Hide console", description="Windows only; ignored"),
        "oldrc": boolean(False, title="Use old style output (compatibility mode)"),
        "name": string("", title="Name"),
    }}
    config_when_absent: ClassVar = {"addpay": True}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._command = js_string(config.get("command") or "").strip()
        addpay = config.get("addpay")
        self._addpay = ("payload" if addpay is True
                        else "" if addpay in (False, None) else js_string(addpay).strip())
        self._append = js_string(config.get("append") or "").strip()
        self._spawn = config.get("useSpawn") in ("true", True)
        timer = as_number(config.get("timer"), 0.0)
        if timer is None or timer < 0:
            raise ConfigError(f"timer: {config.get('timer')!r} is not a number of seconds")
        self._timeout = timer
        self._oldrc = as_bool(config.get("oldrc"))
        self._max_buffer = ctx.settings.exec_max_buffer_size
        self._running: dict[int, _Running] = {}
        self._closing = False
        self._shell = "/bin/sh"

    async def start(self) -> None:
        # Node-RED uses bash on Linux when there is one.
        if await asyncio.to_thread(os.path.exists, "/bin/bash"):
            self._shell = "/bin/bash"

    # ------------------------------------------------------------------ input
    async def on_input(self, msg: Message) -> None:
        if "kill" in msg:
            self._kill_requested(msg)
            return
        line = self._command
        if self._addpay:
            value = get_message_property(msg, self._addpay, MISSING)
            if value is not MISSING:
                line += " " + js_string(value)
        if self._append:
            line += " " + self._append
        if self._spawn:
            await self._run_spawn(line, msg)
        else:
            await self._run_exec(line, msg)

    def _kill_requested(self, msg: Message) -> None:
        name = msg.get("kill")
        if not isinstance(name, str) or not name.upper().startswith("SIG"):
            name = "SIGTERM"
        name = name.upper()
        if "pid" in msg:
            pid = msg["pid"]
            try:
                running = self._running.get(int(pid))
            except (TypeError, ValueError):
                running = None
        else:
            running = next(iter(self._running.values())) if len(self._running) == 1 else None
        if running is None:
            return
        try:
            sig = signal.Signals[name]
        except KeyError:
            self.error(f"TypeError [ERR_UNKNOWN_SIGNAL]: Unknown signal: {name}", msg)
            return
        self._stop(running, sig)
        self.status(fill="red", shape="dot", text="killed")

    def _stop(self, running: _Running, sig: int = signal.SIGTERM) -> None:
        # Only while tracked: the group's id is not reused while it has members.
        if running.process.pid in self._running:
            _signal_group(running.process.pid, sig)

    # ------------------------------------------------------------- processes
    async def _launch(self, *argv: str) -> _Running:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
        running = _Running(process)
        self._running[process.pid] = running
        if self._timeout:
            running.timer = self.clock.call_later(self._timeout, self._stop, running)
        self.status(fill="blue", shape="dot", text=f"pid:{process.pid}")
        return running

    def _ended(self, running: _Running) -> None:
        if running.timer is not None:
            running.timer.cancel()
        self._running.pop(running.process.pid, None)
        running.ended.set()

    async def _run_exec(self, line: str, msg: Message) -> None:
        running = await self._launch(self._shell, "-c", line)
        process = running.process
        assert process.stdout is not None and process.stderr is not None
        overflow: list[str] = []

        def exceeded(name: str) -> None:
            if not overflow:
                overflow.append(name)
                self._stop(running)

        try:
            stdout, stderr = await asyncio.gather(
                _collect(process.stdout, self._max_buffer, lambda: exceeded("stdout")),
                _collect(process.stderr, self._max_buffer, lambda: exceeded("stderr")))
            code = await process.wait()
        finally:
            self._ended(running)
        if self._closing:
            return
        error: dict[str, Any] | None = None
        if overflow:
            error = {"code": MAXBUFFER_CODE,
                     "message": f"{overflow[0]} maxBuffer length exceeded"}
        elif code != 0:
            failed = f"Command failed: {line}\n{stderr.decode('utf-8', 'replace')}"
            if code < 0:
                error = {"code": None, "message": failed, "signal": signal.Signals(-code).name}
            else:
                error = {"code": code, "message": failed}
        msg.pop("payload", None)
        err_msg: Message | None = None
        if stderr:
            err_msg = clone_message(msg)
            err_msg["payload"] = text_or_buffer(stderr)
        msg["payload"] = text_or_buffer(stdout)
        self.status({})
        rc_msg: Message | None = None
        if error is not None:
            rc_msg = clone_message(msg)
            rc_msg["payload"] = error
            self.status(fill="red", shape="dot", text="killed" if error["code"] is None
                        else f"error:{error['code']}")
        elif not self._oldrc:
            rc_msg = clone_message(msg)
            rc_msg["payload"] = {"code": 0}
        if rc_msg is not None:
            msg["rc"] = dict(rc_msg["payload"])
            if err_msg is not None:
                err_msg["rc"] = dict(rc_msg["payload"])
        self.send([msg, err_msg, rc_msg])

    async def _run_spawn(self, line: str, msg: Message) -> None:
        words = split_arguments(line)
        if not words:
            self.error("exec: no command to run (the command line is empty)", msg)
            return
        try:
            running = await self._launch(*words)
        except OSError as exc:
            failed = -(exc.errno or 1)
            self.status(fill="red", shape="dot", text=f"rc:{failed}")
            msg["payload"] = failed if self._oldrc else {"code": failed}
            if not self._closing:
                self.send([None, None, msg])
            return
        process = running.process
        assert process.stdout is not None and process.stderr is not None
        try:
            await asyncio.gather(self._forward(process.stdout, msg, 0),
                                 self._forward(process.stderr, msg, 1))
            returncode = await process.wait()
        finally:
            self._ended(running)
        if self._closing:
            return
        code: int | None = returncode if returncode >= 0 else None
        if self._oldrc:
            msg["payload"] = code
        else:
            msg["payload"] = {"code": code}
            if returncode < 0:
                msg["payload"]["signal"] = signal.Signals(-returncode).name
        if code is None:
            self.status(fill="red", shape="dot", text="killed")
        elif code < 0:
            self.status(fill="red", shape="dot", text=f"rc:{code}")
        else:  # also for 0, as Node-RED's status shows
            self.status(fill="yellow", shape="dot", text=f"rc:{code}")
        self.send([None, None, msg])

    async def _forward(self, stream: asyncio.StreamReader, msg: Message, port: int) -> None:
        while chunk := await stream.read(READ_SIZE):
            if self._closing:
                continue
            msg["payload"] = text_or_buffer(chunk)
            out: list[Message | None] = [None, None, None]
            out[port] = clone_message(msg)
            self.send(out)

    # ------------------------------------------------------------------ stop
    async def close(self, removed: bool) -> None:
        self._closing = True
        running = list(self._running.values())
        for one in running:
            if one.timer is not None:
                one.timer.cancel()
            _signal_group(one.process.pid, signal.SIGTERM)
        # Until each command has exited and its pipes have closed (what it started in
        # the background holds them too), then SIGKILL for what is left.
        if running and not await _all_set([one.ended for one in running], CLOSE_GRACE):
            for one in running:
                if not one.ended.is_set():
                    _signal_group(one.process.pid, signal.SIGKILL)
            await _all_set([one.ended for one in running], CLOSE_GRACE)
        self.status({})


async def _all_set(events: list[asyncio.Event], within: float) -> bool:
    """Whether every event was set within ``within`` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    _done, pending = await asyncio.wait(waits, timeout=within)
    for wait in pending:
        wait.cancel()
    return not pending


async def _collect(stream: asyncio.StreamReader, limit: int, exceeded: Any) -> bytes:
    """Everything ``stream`` gives, up to ``limit`` bytes; past it ``exceeded()`` is
    called once and the rest is read and dropped (so the command never blocks)."""
    data = bytearray()
    over = False
    while chunk := await stream.read(READ_SIZE):
        if over:
            continue
        room = limit - len(data)
        if len(chunk) > room:
            data += chunk[:room]
            over = True
            exceeded()
        else:
            data += chunk
    return bytes(data)
