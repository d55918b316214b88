"""A ``flowrt run`` process and paho test clients for end-to-end durability tests.

Every wait is bounded; every process and client is stopped by its owner
(``FlowrtProcess.kill`` / ``stop``, ``close``) — the tests do so in ``finally``.
"""

from __future__ import annotations

import http.client
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import free_port

FLOWRT = Path(sys.executable).with_name("flowrt")
READY_TIMEOUT = 20.0


def wait_until(predicate: Callable[[], bool], within: float, what: str,
               every: float = 0.02) -> None:
    """Poll ``predicate`` until true; AssertionError naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(every)


class FlowrtProcess:
    """``flowrt run FLOWFILE`` on a free port with a given data directory."""

    def __init__(self, flow_file: Path, data_dir: Path) -> None:
        self.flow_file = flow_file
        self.data_dir = data_dir
        self.log = data_dir / "flowrt.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FlowrtProcess:
        """Start and wait (bounded) until ``GET /flows`` answers 200."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(FLOWRT), "run", str(self.flow_file), "--port", str(self.port),
                 "--host", "127.0.0.1", "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, READY_TIMEOUT, f"flowrt on port {self.port} ready "
                   f"(log: {self.log})", every=0.05)
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"flowrt exited with {self.process.returncode}: "
                                 f"{self.log.read_text()[-2000:]}")
        return self.get("/flows")[0] == 200

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of a GET on the admin API; (0, b"") while nothing listens."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            connection.close()

    def kill(self) -> None:
        """SIGKILL (no clean-up of any kind), then reap."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> int:
        """SIGTERM (graceful stop) and return the exit code; SIGKILL after 15 s."""
        process, self.process = self.process, None
        if process is None:
            return 0
        process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError("flowrt did not stop within 15 s of SIGTERM") from None


def mqtt_client(port: int, client_id: str, clean: bool = True) -> paho.Client:
    """A connected paho client (network thread started; fast reconnects)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=clean)
    client.reconnect_delay_set(0.1, 0.5)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(5):
        client.loop_stop()
        raise AssertionError(f"test client {client_id} could not connect to port {port}")
    return client


PRIORITIES = ("critical", "high", "normal", "low")
WEIGHTS = (1, 2, 5, 2)


class Publisher:
    """Publishes ``{"seq", "priority"}`` at QoS 1 to ``topic``, at ``rate`` per second,
    in a thread; remembers each publish so the test knows what the broker acknowledged."""

    def __init__(self, port: int, topic: str, seed: int, rate: float) -> None:
        self.client = mqtt_client(port, f"e2e-publisher-{seed}")
        self.topic = topic
        self.rng = random.Random(seed)
        self.interval = 1.0 / rate
        self.sent: list[tuple[int, str, paho.MQTTMessageInfo]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, count: int) -> None:
        """Publish ``count`` messages now (in the caller's thread)."""
        for _ in range(count):
            self._one()

    def _one(self) -> None:
        seq = len(self.sent)
        priority = self.rng.choices(PRIORITIES, WEIGHTS)[0]
        payload = json.dumps({"seq": seq, "priority": priority})
        self.sent.append((seq, priority, self.client.publish(self.topic, payload, 1)))

    def start(self) -> None:
        """Publish steadily until :meth:`halt`."""
        def run() -> None:
            next_at = time.monotonic()
            while not self._stop.is_set():
                self._one()
                next_at += self.interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="e2e-publisher", daemon=True)
        self._thread.start()

    def halt(self) -> None:
        """Stop publishing and wait (bounded) for the broker's acknowledgements."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        wait_until(lambda: all(info.is_published() for _, _, info in self.sent), 10,
                   "local broker acknowledged every publish")

    def acknowledged(self) -> dict[int, str]:
        """seq → priority of every message the broker acknowledged (PUBACK)."""
        return {seq: priority for seq, priority, info in self.sent if info.is_published()}

    def close(self) -> None:
        """Stop and disconnect."""
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Arrival:
    """One message the cloud subscriber received."""

    seq: int
    priority: str
    sfid: str
    at: float
    payload: dict[str, Any] = field(repr=False)


class CloudSubscriber:
    """A persistent-session subscriber on the "cloud" broker recording what arrives:
    every message in ``raw``, and JSON objects with a ``seq`` as :class:`Arrival`."""

    def __init__(self, port: int, topic: str) -> None:
        self.arrivals: list[Arrival] = []
        self.raw: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt_client(port, f"e2e-cloud-{port}", clean=False)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe(topic, 1)
        if not subscribed.wait(5):
            raise AssertionError(f"no SUBACK for {topic}")

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        now = time.monotonic()
        with self.lock:
            self.raw.append((message.topic, message.payload))
            try:
                data = json.loads(message.payload)
            except ValueError:
                return
            for item in _records(data):
                if "seq" in item:
                    self.arrivals.append(Arrival(item["seq"], item.get("priority", ""),
                                                 str(item.get("sfid")), now, item))

    def seqs(self) -> set[int]:
        """Sequence numbers received so far."""
        with self.lock:
            return {a.seq for a in self.arrivals}

    def snapshot(self) -> list[Arrival]:
        """Every arrival so far, in arrival order."""
        with self.lock:
            return list(self.arrivals)

    def raw_snapshot(self) -> list[tuple[str, bytes]]:
        """Every (topic, payload) so far, in arrival order."""
        with self.lock:
            return list(self.raw)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def _records(data: Any) -> list[dict[str, Any]]:
    """The messages in a payload: itself, or unwrapped from cloud-bridge's envelope
    (``envelope: true``: ``{"topic", "payload", "_sfid", ...}``) or batch
    (``{"messages": [...]}``)."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("messages"), list):
        return [record for item in data["messages"] for record in _records(item)]
    if "_sfid" in data and isinstance(data.get("payload"), dict):
        return [{**data["payload"], "sfid": data["_sfid"]}]
    return [data]


def duplicates(arrivals: list[Arrival]) -> dict[str, int]:
    """Counts of extra copies: by sequence number, by ``_sfid``, and sequence numbers
    stored twice (arriving under more than one ``_sfid``)."""
    by_seq: dict[int, int] = {}
    by_sfid: dict[str, int] = {}
    sfids_of: dict[int, set[str]] = {}
    for arrival in arrivals:
        by_seq[arrival.seq] = by_seq.get(arrival.seq, 0) + 1
        by_sfid[arrival.sfid] = by_sfid.get(arrival.sfid, 0) + 1
        sfids_of.setdefault(arrival.seq, set()).add(arrival.sfid)
    return {"by_seq": sum(by_seq.values()) - len(by_seq),
            "by_sfid": sum(by_sfid.values()) - len(by_sfid),
            "stored_twice": sum(len(s) - 1 for s in sfids_of.values())}


def first_copies(arrivals: list[Arrival]) -> list[Arrival]:
    """Arrivals with later copies of the same ``_sfid`` dropped (receiver-side dedup)."""
    seen: set[str] = set()
    out = []
    for arrival in arrivals:
        if arrival.sfid not in seen:
            seen.add(arrival.sfid)
            out.append(arrival)
    return out



