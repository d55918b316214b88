"""The project commands of ``flowrt``, on real repositories (and a real server)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import orjson
import pytest

from flowrt.projects.storage import ProjectStorage
from flowrt.storage import DeployNote, FileStorage
from tests.cli_runner import run_cli
from tests.server.conftest import free_port

TAB = {"id": "t1", "type": "tab", "label": "Kitchen"}
INJECT = {"id": "a", "type": "inject", "z": "t1", "x": 10, "y": 20, "wires": [["b"]]}
DEBUG = {"id": "b", "type": "debug", "z": "t1", "x": 200, "y": 20, "wires": []}
FIRST = [TAB, INJECT, DEBUG]
SECOND = [TAB, {**INJECT, "name": "tick"}, DEBUG]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                          timeout=30).stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with a single flow file (port: one nobody listens on)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text(f"port = {free_port()}\n")
    FileStorage(data / "flows.json", data).save(FIRST, {"b": {"token": "t0ken"}})
    return data


def test_init_log_diff_rollback_and_export(data: Path, tmp_path: Path) -> None:
    result = run_cli("project", "init", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    assert f"created the flows project {data / 'project'} (3 nodes" in result.output
    ProjectStorage(data).save(SECOND, {"b": {"token": "t0ken"}}, DeployNote("eve", "Name it"))

    log = run_cli("log", "--data-dir", str(data))
    lines = log.output.splitlines()
    assert [line.split()[-2:] for line in lines] == [["Name", "it"], ["from", "flows.json"]]
    assert "eve" in lines[0]
    old = lines[1].split()[0]

    text = run_cli("diff", old, "--data-dir", str(data))
    assert text.output.splitlines() == [
        "Changed (1):", '  ~ inject "tick" (a) on tab "Kitchen"', '      name: (none) → "tick"']
    as_json = json.loads(run_cli("diff", old, "HEAD", "--json", "--data-dir", str(data)).output)
    assert [e["id"] for e in as_json["changed"]] == ["a"]

    rolled = run_cli("rollback", old, "-m", "Back to the first", "--data-dir", str(data))
    assert rolled.exit_code == 0, rolled.output
    assert ProjectStorage(data).load() == (FIRST, {"b": {"token": "t0ken"}})
    assert "Back to the first" in run_cli("log", "-n", "1", "--data-dir", str(data)).output

    exported = run_cli("export", "--data-dir", str(data))
    assert json.loads(exported.output) == FIRST
    assert "t0ken" not in exported.output
    out = tmp_path / "export.json"
    assert run_cli("export", "--rev", "HEAD~1", "-o", str(out), "--data-dir", str(data)
                   ).exit_code == 0
    assert orjson.loads(out.read_bytes()) == SECOND


def test_errors_are_one_line(data: Path) -> None:
    result = run_cli("log", "--data-dir", str(data))
    assert (result.exit_code, result.output.strip()) == (
        1, f"flowrt log: {data} has no flows project (convert its flow file with "
           "`flowrt project init`)")
    run_cli("project", "init", "--data-dir", str(data))
    bad = run_cli("diff", "nosuchrev", "--data-dir", str(data))
    assert (bad.exit_code, bad.output.strip()) == (
        1, f"flowrt diff: no revision 'nosuchrev' in {data / 'project'}")


def test_push_to_and_pull_from_a_bare_repository(data: Path, tmp_path: Path) -> None:
    remote = tmp_path / "flows.git"
    git("init", "-q", "--bare", "--initial-branch=main", str(remote))
    run_cli("project", "init", "--data-dir", str(data))
    pushed = run_cli("push", str(remote), "--data-dir", str(data))
    assert pushed.exit_code == 0, pushed.output
    # A second gateway starts from a clone of the remote.
    other = tmp_path / "other"
    other.mkdir()
    (other / "settings.toml").write_text(f"port = {free_port()}\n")
    git("clone", "-q", str(remote), str(other / "project"))
    assert ProjectStorage(other).load_flows() == FIRST

    ProjectStorage(data).save(SECOND, {}, DeployNote("eve", "Name it"))
    assert run_cli("push", str(remote), "--data-dir", str(data)).exit_code == 0
    assert git("-C", str(remote), "log", "-1", "--format=%an|%s").strip() == "eve|Name it"
    pulled = run_cli("pull", "--data-dir", str(data.parent / "other"))
    assert pulled.exit_code == 0, pulled.output
    assert "pulled: 3 nodes" in pulled.output
    assert ProjectStorage(other).load_flows() == SECOND

