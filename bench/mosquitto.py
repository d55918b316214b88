"""A private mosquitto broker on a free port, configured for load tests.

Queues are large so the broker is not what drops messages, and ``set_tcp_nodelay`` is on:
without it Nagle's algorithm holds small broker-to-client writes back by milliseconds, which
would be charged to whichever runtime is under test (the harness's own clients use
``--nodelay`` for the same reason).

    with Broker.start(workdir) as broker:
        print(broker.port)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.proc import ManagedProcess, free_port, wait_port

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto")

CONFIG_TEMPLATE = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 100000
set_tcp_nodelay true
log_dest stdout
log_type error
log_type warning
"""


def mosquitto_binary() -> str | None:
    """Path of the mosquitto broker executable, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return None


def clients_available() -> bool:
    """True when mosquitto_pub and mosquitto_sub are on PATH."""
    return bool(shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub"))


@dataclass
class Broker:
    """A running private broker; stop() (or leaving the with-block) ends it."""

    port: int
    process: ManagedProcess

    @classmethod
    def start(cls, workdir: Path, name: str = "broker", timeout: float = 5.0) -> Broker:
        """Start mosquitto on a free 127.0.0.1 port with a config file in workdir."""
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (make system-deps installs it)")
        workdir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # the free port can be taken between probe and bind
            port = free_port()
            conf = workdir / f"{name}.conf"
            conf.write_text(CONFIG_TEMPLATE.format(port=port))
            proc = ManagedProcess([binary, "-c", str(conf)], workdir / f"{name}.log")
            if wait_port(port, timeout) and proc.alive():
                return cls(port=port, process=proc)
            last_error = proc.log_tail()
            proc.stop()
        raise RuntimeError(f"mosquitto did not start: {last_error}")

    def stop(self) -> None:
        """Stop the broker (by its pid)."""
        self.process.stop(term_timeout=5.0)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
