"""The runtimes under test and how each is started on a flow file: flowrt (on uvloop
when it is installed), flowrt on the standard library's asyncio loop, and Node-RED.

All are judged the same way: ready when ``GET http://127.0.0.1:PORT/flows`` answers 200,
timed from just before spawn.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import nodered
from bench.proc import ManagedProcess, free_port, http_status

FLOWRT = "flowrt"
FLOWRT_ASYNCIO = "flowrt-asyncio"
NODERED = "nodered"
ALL_RUNTIMES = (FLOWRT, FLOWRT_ASYNCIO, NODERED)
# flowrt's eventLoop setting per variant: "auto" is uvloop when it is installed.
EVENT_LOOP_SETTING = {FLOWRT: "auto", FLOWRT_ASYNCIO: "asyncio"}


def flow_flavour(runtime: str) -> str:
    """Which of a scenario's flow files runtime runs: ``flowrt`` for every flowrt
    variant, ``nodered`` for Node-RED."""
    return NODERED if runtime == NODERED else FLOWRT


def flowrt_executable() -> Path:
    """The ``flowrt`` console script next to the interpreter running the harness."""
    return Path(sys.executable).parent / "flowrt"


def unavailable_reason(runtime: str, *, may_install: bool) -> str | None:
    """Why runtime cannot be run here, or None when it can (installing Node-RED if allowed)."""
    if runtime in EVENT_LOOP_SETTING:
        exe = flowrt_executable()
        if not exe.exists():
            return f"{exe} not found (pip install -e . first)"
        if runtime == FLOWRT_ASYNCIO and importlib.util.find_spec("uvloop") is None:
            return "uvloop is not installed, so flowrt itself runs on the asyncio loop"
        return None
    if nodered.installed():
        return None
    if not may_install:
        return "Node-RED is not installed in bench/.cache/node-red"
    try:
        nodered.ensure_installed()
    except RuntimeError as err:
        return str(err)
    return None


def command(runtime: str, flow_path: Path, port: int, workdir: Path) -> list[str]:
    """The argv that starts runtime on flow_path, listening on 127.0.0.1:port."""
    if runtime in EVENT_LOOP_SETTING:
        return [str(flowrt_executable()), "run", str(flow_path), "--port", str(port),
                "--host", "127.0.0.1", "--data-dir", str(workdir / "data")]
    if runtime == NODERED:
        return nodered.command(flow_path, port, workdir / "userdir")
    raise ValueError(f"unknown runtime {runtime!r}")


@dataclass
class RunningRuntime:
    """A started runtime: its process, HTTP port and when it was spawned."""

    name: str
    port: int
    process: ManagedProcess
    spawned_wall: float
    spawned_mono: float
    ready_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The runtime's process id."""
        return self.process.pid

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float) -> float:
        """Poll ``GET /flows`` until it answers 200; return seconds since spawn.

        Raises RuntimeError (with the log tail) when the process exits or time runs out.
        """
        deadline = self.spawned_mono + timeout
        url = f"{self.base_url}/flows"
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"{self.name} exited before it was ready "
                                   f"(code {self.process.popen.returncode}):\n"
                                   f"{self.process.log_tail()}")
            if http_status(url, timeout=1.0) == 200:
                self.ready_s = time.monotonic() - self.spawned_mono
                return self.ready_s
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n"
                           f"{self.process.log_tail()}")

    def event_loop(self) -> str | None:
        """The event loop flowrt's start line names, None for Node-RED."""
        found = re.search(r"event loop (\w+)", self.process.log_tail(200))
        return found.group(1) if found else None

    def stop(self) -> int | None:
        """Stop the runtime (SIGTERM, then SIGKILL after 10 s)."""
        return self.process.stop(term_timeout=10.0)


def spawn(runtime: str, flow_path: Path, workdir: Path) -> RunningRuntime:
    """Start runtime on flow_path with its state in workdir (which must be fresh)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = command(runtime, flow_path, port, workdir)
    env = dict(os.environ)
    if runtime in EVENT_LOOP_SETTING:
        env["FLOWRT_EVENT_LOOP"] = EVENT_LOOP_SETTING[runtime]
    wall, mono = time.time(), time.monotonic()
    process = ManagedProcess(argv, workdir / f"{runtime}.log", cwd=workdir, env=env)
    return RunningRuntime(name=runtime, port=port, process=process, spawned_wall=wall,
                          spawned_mono=mono)
