"""Scale-out: the same flow in two `flowrt run` processes shares a `$share/...` subscription."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.brokers import free_port
from tests.nodes.test_mqtt import Client

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FLOWRT = str(Path(sys.executable).with_name("flowrt"))


def worker_flow(broker_port: int) -> list[dict[str, Any]]:
    """mqtt in ($share/workers/jobs/#) → mqtt out (topic from the WORKER_TOPIC env var)."""
    return [
        {"id": "t1", "type": "tab", "label": "workers"},
        {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(broker_port),
         "clientid": "", "protocolVersion": "4"},
        {"id": "in1", "type": "mqtt in", "z": "t1", "topic": "$share/workers/jobs/#",
         "qos": "1", "datatype": "utf8", "broker": "b1", "x": 100, "y": 100,
         "wires": [["out1"]]},
        {"id": "out1", "type": "mqtt out", "z": "t1", "topic": "${WORKER_TOPIC}", "qos": "1",
         "retain": "", "broker": "b1", "x": 300, "y": 100, "wires": []},
    ]


def wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        time.sleep(0.05)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/flows", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def workers(mosquitto: Any, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    flow_file = tmp_path / "flow.json"
    flow_file.write_text(json.dumps(worker_flow(mosquitto.port)))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("w1", "w2"):
            port = free_port()
            env = {**os.environ, "WORKER_TOPIC": f"done/{name}"}
            processes.append(subprocess.Popen(
                [FLOWRT, "run", str(flow_file), "--port", str(port), "--host", "127.0.0.1",
                 "--data-dir", str(tmp_path / name)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait(lambda port=port: answers(port), 20, f"flowrt {name} ready")
        yield processes
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_two_processes_split_a_shared_subscription(mosquitto: Any,
                                                   workers: list[Any]) -> None:
    watcher = Client(mosquitto.port)
    publisher = Client(mosquitto.port)
    lock = watcher.lock
    try:
        watcher.subscribe("done/#", 1)
        # Warm up until both workers have subscribed (each handled a message).
        wait(lambda: _warm(publisher, watcher, lock), 20, "both workers subscribed")
        with lock:
            watcher.messages.clear()
        total = 1000
        for i in range(total):
            publisher.client.publish(f"jobs/{i % 4}", f"job-{i}", 1)
        wait(lambda: len(watcher.messages) >= total, 20, f"{total} jobs relayed")
        time.sleep(0.3)  # anything doubled would arrive now
        with lock:
            by_worker: dict[str, list[str]] = {"done/w1": [], "done/w2": []}
            for message in watcher.messages:
                by_worker[message.topic].append(message.payload.decode())
        everything = by_worker["done/w1"] + by_worker["done/w2"]
        assert sorted(everything) == sorted(f"job-{i}" for i in range(total))  # no loss, no dup
        assert by_worker["done/w1"] and by_worker["done/w2"]  # both took a share
    finally:
        watcher.close()
        publisher.close()


def _warm(publisher: Client, watcher: Client, lock: Any) -> bool:
    with lock:
        topics = {m.topic for m in watcher.messages}
    if topics >= {"done/w1", "done/w2"}:
        return True
    publisher.publish("jobs/warmup", "warmup")
    return False
