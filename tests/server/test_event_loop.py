"""The event loop ``flowrt run`` uses: uvloop when installed, the standard library's
when it is not or when the ``eventLoop`` setting says so; the start line names it."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from pathlib import Path

import pytest
import uvloop

from flowrt.event_loop import EventLoopUnavailable, loop_factory, loop_name
from tests.server.conftest import FlowrtProcess

# An http in → change → http response flow: a request answered proves the loop serves.
FLOW = [
    {"id": "t", "type": "tab", "label": "t"},
    {"id": "in", "type": "http in", "z": "t", "url": "/loop", "method": "get",
     "wires": [["set"]]},
    {"id": "set", "type": "change", "z": "t", "wires": [["out"]],
     "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "served", "tot": "str"}]},
    {"id": "out", "type": "http response", "z": "t", "wires": []},
]


def test_auto_is_uvloop_when_installed_and_asyncio_forces_the_standard_loop() -> None:
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_is_the_standard_loop_and_uvloop_is_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(EventLoopUnavailable, match=r"pip install 'flowrt\[uvloop\]'"):
        loop_factory("uvloop")


def test_loop_name() -> None:
    for factory, name in ((asyncio.new_event_loop, "asyncio"), (uvloop.new_event_loop, "uvloop")):
        loop = factory()
        try:
            assert loop_name(loop) == name
        finally:
            loop.close()


@pytest.fixture
def no_uvloop(tmp_path: Path) -> str:
    """A PYTHONPATH on which ``import uvloop`` fails, as where it is not installed."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "uvloop.py").write_text("raise ImportError('uvloop is not installed')\n")
    return str(shadow)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "uvloop"),
    ({"FLOWRT_EVENT_LOOP": "uvloop"}, "uvloop"),
    ({"FLOWRT_EVENT_LOOP": "asyncio"}, "asyncio"),
    ({"PYTHONPATH": "no_uvloop"}, "asyncio"),
])
def test_flowrt_run_says_which_loop_it_runs_and_serves_on_it(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path, no_uvloop: str,
        env: dict[str, str], expected: str) -> None:
    env = {k: no_uvloop if v == "no_uvloop" else v for k, v in env.items()}
    flow_file = tmp_path / "flows.json"
    flow_file.write_text(json.dumps(FLOW))
    process = flowrt_factory(str(flow_file), env=env).start()
    assert f"event loop {expected}\n" in process.stdout
    with urllib.request.urlopen(f"{process.url}/loop", timeout=10) as response:
        assert response.read() == b"served"
    assert process.stop() == 0


def test_asking_for_uvloop_where_it_is_not_installed_exits_1_saying_so(
        flowrt_factory: type[FlowrtProcess], no_uvloop: str) -> None:
    process = flowrt_factory(env={"PYTHONPATH": no_uvloop, "FLOWRT_EVENT_LOOP": "uvloop"})
    code, stderr = process.run_to_exit()
    assert code == 1
    assert "setting 'eventLoop' is 'uvloop' but uvloop is not installed" in stderr


def test_an_unknown_loop_is_a_settings_error(flowrt_factory: type[FlowrtProcess]) -> None:
    code, stderr = flowrt_factory(env={"FLOWRT_EVENT_LOOP": "trio"}).run_to_exit()
    assert code == 1
    assert "setting 'eventLoop' must be one of auto, asyncio, uvloop, not 'trio'" in stderr
