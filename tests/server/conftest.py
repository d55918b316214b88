"""Run ``flowrt run`` as a real process on a free port (integration tests)."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FLOWRT = str(Path(sys.executable).with_name("flowrt"))
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FlowrtProcess:
    """A ``flowrt run`` child process; ``start()`` returns once it printed its URL."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host
        self.args = args
        # The single flow file these tests inspect (flows.json); project mode, the
        # default for a new data directory, is tested with FLOWRT_PROJECTS=true.
        self.env = {"FLOWRT_PROJECTS": "false", **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"{data_dir.name}-stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout = ""

    def start(self) -> FlowrtProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRT_")}
        env.update(self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [FLOWRT, "run", *self.args, "--port", str(self.port), "--host", self.host,
                 "--data-dir", str(self.data_dir)],
                stdout=subprocess.PIPE, stderr=log, env=env)
        self.stdout = self._read_until("editor: ")
        return self

    def _read_until(self, marker: str) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        seen = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while marker.encode() not in seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.stop()
                    raise AssertionError(f"flowrt did not start:\n{self.stderr()}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    code = self.proc.wait(5)
                    raise AssertionError(f"flowrt exited with {code}:\n{self.stderr()}")
                seen += chunk
        return seen.decode()

    def stderr(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the process and return its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        return code

    def run_to_exit(self, timeout: float = 30) -> tuple[int, str]:
        """Start, expecting the process to exit by itself; its code and stderr."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRT_")}
        env.update(self.env)
        done = subprocess.run(
            [FLOWRT, "run", *self.args, "--port", str(self.port), "--data-dir",
             str(self.data_dir)], capture_output=True, env=env, timeout=timeout, check=False)
        return done.returncode, done.stderr.decode()


@pytest.fixture
def flowrt_factory(tmp_path: Path) -> Iterator[type[FlowrtProcess]]:
    """Make (not yet started) flowrt processes; every one is stopped after the test."""
    made: list[FlowrtProcess] = []

    def make(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None,
             host: str = "127.0.0.1") -> FlowrtProcess:
        process = FlowrtProcess(data_dir or tmp_path / "data", *args, env=env, host=host)
        made.append(process)
        return process

    yield make  # type: ignore[misc]
    for process in made:
        process.stop()


@pytest.fixture
def flowrt(flowrt_factory: type[FlowrtProcess]) -> FlowrtProcess:
    """A running flowrt with an empty data directory."""
    return flowrt_factory().start()
