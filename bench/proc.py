"""Child processes with bounded waits, CPU pinning, and the small network helpers the
harness needs.

Every process the harness starts runs in its own session (process group), so stopping it
also stops anything it spawned, and it is always stopped by its own id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on 127.0.0.1:port; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.01)
    return False


def pin(pid: int, cores: set[int]) -> None:
    """Bind every thread of process pid to ``cores`` (what ``taskset -a -p`` does); threads
    it starts later inherit the binding. A process that is gone is left alone."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(tid, cores)


@contextlib.contextmanager
def pinned(runtime_pid: int, infra_pids: Sequence[int]) -> Iterator[dict[str, list[int]]]:
    """Run the block with the runtime on one core and the infrastructure (the brokers,
    this harness, and so the clients it starts) on the others; every process gets all
    the cores back afterwards. Yields which cores each side has. RuntimeError with
    fewer than two usable cores."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise RuntimeError(f"pinning needs two cores, this process may use {cores}")
    runtime_cores, infra_cores = {cores[0]}, set(cores[1:])
    everyone = [runtime_pid, *infra_pids, os.getpid()]
    try:
        pin(runtime_pid, runtime_cores)
        for pid in [*infra_pids, os.getpid()]:
            pin(pid, infra_cores)
        yield {"runtime": sorted(runtime_cores), "infrastructure": sorted(infra_cores)}
    finally:
        for pid in everyone:
            pin(pid, set(cores))


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """GET url and return its status code, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None


class ManagedProcess:
    """A child process whose output goes to a log file and that is always stopped.

    Use as a context manager; ``stop()`` sends SIGTERM to the process group, waits up to
    ``term_timeout`` seconds, then SIGKILLs it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: int | None = subprocess.DEVNULL,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=stdin,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the child has not exited."""
        return self.popen.poll() is None

    def stop(self, term_timeout: float = 10.0) -> int | None:
        """Stop the process group (TERM, then KILL) and return the exit code."""
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=5.0)
        # Once the leader is reaped its pid (= the group id) may be reused by someone
        # else's process, so the group is never signalled after that.
        self._log.close()
        return self.popen.returncode

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the process's output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
