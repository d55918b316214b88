"""/history and deploy messages against a real ``flowrt run`` in project mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp

from flowrt.projects.storage import ProjectStorage
from flowrt.storage import DeployNote
from tests.cli_runner import run_cli
from tests.server.conftest import FlowrtProcess
from tests.server.test_auth_api import bearer, login, secured_data_dir
from tests.server.test_flows_api import error_of

V2 = {"Node-RED-API-Version": "v2"}
PROJECT = {"FLOWRT_PROJECTS": "true"}
TAB = {"id": "t1", "type": "tab", "label": "Kitchen"}
INJECT = {"id": "a", "type": "inject", "z": "t1", "x": 10, "y": 20, "wires": [["b"]]}
DEBUG = {"id": "b", "type": "debug", "z": "t1", "x": 200, "y": 20, "wires": []}


def git(data: Path, *args: str) -> list[str]:
    """``git ARGS`` in the data directory's project: its output lines."""
    return subprocess.run(["git", "-C", str(data / "project"), *args], capture_output=True,
                          text=True, check=True, timeout=30).stdout.splitlines()


async def test_deploy_edit_diff_and_roll_back(flowrt_factory: type[FlowrtProcess]) -> None:
    server = flowrt_factory(env=PROJECT).start()
    first = [TAB, INJECT, DEBUG]
    edited = [TAB, {**INJECT, "name": "tick", "wires": [[]]}, {**DEBUG, "x": 300}]
    async with aiohttp.ClientSession(server.url) as client:
        for flows, message in ((first, "Kitchen sensors"), (edited, "Rename, unwire")):
            async with client.post("/flows", json={"flows": flows, "message": message},
                                   headers=V2) as r:
                assert r.status == 200, await r.text()
        async with client.get("/history") as r:
            history = await r.json()
        commits = history["commits"]
        assert [c["message"] for c in commits] == [
            "Rename, unwire", "Kitchen sensors", "Create the flows project"]
        assert history["head"] == commits[0]["rev"]
        assert {c["author"] for c in commits} == {"flowrt"}
        old, new = commits[1]["rev"], commits[0]["rev"]

        async with client.get(f"/history/{old[:8]}") as r:
            version = await r.json()
        assert version["commit"]["rev"] == old and version["flows"] == first

        async with client.get("/history/diff", params={"from": old, "to": new}) as r:
            changes = await r.json()
        assert [e["id"] for e in changes["changed"]] == ["a"]
        assert changes["changed"][0]["properties"] == {"name": {"before": None, "after": "tick"}}
        assert [(e["id"], e["removed"]) for e in changes["rewired"]] == [("a", [[0, "b"]])]
        assert [e["id"] for e in changes["moved"]] == ["b"]
        assert changes["added"] == changes["removed"] == []

        async with client.post(f"/history/{old}/deploy", json={}) as r:
            assert r.status == 200, await r.text()
            rolled = await r.json()
        async with client.get("/flows") as r:
            assert await r.json() == first
        async with client.get("/history", params={"limit": "1"}) as r:
            [latest] = (await r.json())["commits"]
        assert latest["rev"] == rolled["commit"] != new
        assert latest["message"] == f"Deploy version {old[:8]} again (Kitchen sensors)"
        # The new commit's tree is the old one's.
        [old_tree, new_tree] = git(server.data_dir, "rev-parse", f"{old}^{{tree}}",
                                   f"{latest['rev']}^{{tree}}")
        assert old_tree == new_tree

        for path, code in (("/history/nosuchrev", 404), ("/history/diff?from=nope", 404),
                           ("/history/diff", 400), ("/history?limit=x", 400)):
            async with client.get(path) as r:
                assert (r.status, (await error_of(r))["code"]) == (
                    code, "not_found" if code == 404 else "invalid_request"), path
    assert server.stop() == 0
    # The rolled-back flows are what a restart loads.
    again = flowrt_factory(env=PROJECT, data_dir=server.data_dir).start()
    async with aiohttp.ClientSession(again.url) as client, client.get("/flows") as r:
        assert await r.json() == first


async def test_the_logged_in_user_is_the_author_and_readers_cannot_roll_back(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    server = flowrt_factory(data_dir=secured_data_dir(tmp_path), env=PROJECT).start()
    async with aiohttp.ClientSession(server.url) as client:
        admin = bearer(await login(client, "admin", "adminpw"))
        viewer = bearer(await login(client, "viewer", "password"))
        async with client.post("/flows", json={"flows": [TAB], "message": "By admin"},
                               headers={**V2, **admin}) as r:
            assert r.status == 200
        async with client.get("/history") as r:
            assert r.status == 401
        async with client.get("/history", headers=viewer) as r:
            rev = (await r.json())["commits"][0]["rev"]
        async with client.post(f"/history/{rev}/deploy", json={}, headers=viewer) as r:
            assert (r.status, (await error_of(r))["code"]) == (403, "forbidden")
        async with client.post(f"/history/{rev}/deploy", json={}, headers={
                **admin, "Origin": "https://evil.example"}) as r:
            assert r.status == 403
        async with client.post("/flows", json={"flows": [], "message": 5},
                               headers={**V2, **admin}) as r:
            assert (r.status, (await error_of(r))["code"]) == (400, "invalid_request")
    assert git(server.data_dir, "log", "--format=%an|%s")[0] == "admin|By admin"


async def test_a_single_flow_file_has_no_history(flowrt: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(flowrt.url) as client, client.get("/history") as r:
        assert (r.status, (await error_of(r))["code"]) == (404, "not_a_project")


async def test_the_cli_rolls_back_through_a_running_server(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    storage = ProjectStorage(data)
    storage.create([TAB, INJECT, DEBUG], {}, "First")
    storage.save([TAB, {**INJECT, "name": "tick"}, DEBUG], {}, DeployNote("eve", "Name it"))
    server = flowrt_factory(data_dir=data, env=PROJECT)
    (data / "settings.toml").write_text(f"port = {server.port}\n")  # where the CLI looks
    server.start()
    refused = run_cli("rollback", "HEAD~1", "--data-dir", str(data))
    assert refused.exit_code == 1 and "give its --url" in refused.output
    done = run_cli("rollback", "HEAD~1", "--url", server.url, "--data-dir", str(data))
    assert done.exit_code == 0, done.output
    async with aiohttp.ClientSession(server.url) as client, client.get("/flows") as r:
        assert await r.json() == [TAB, INJECT, DEBUG]


async def test_run_takes_a_project_directory_as_its_flow_file(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    elsewhere = ProjectStorage(tmp_path / "first")
    elsewhere.create([TAB, INJECT, DEBUG], {}, "First")
    clone = tmp_path / "other" / "project"
    git(tmp_path / "first", "clone", "-q", str(elsewhere.root), str(clone))
    server = flowrt_factory(str(clone)).start()
    async with aiohttp.ClientSession(server.url) as client:
        async with client.get("/flows") as r:
            assert await r.json() == [TAB, INJECT, DEBUG]
        async with client.post("/flows", json={"flows": [TAB], "message": "Only the tab"},
                               headers=V2) as r:
            assert r.status == 200
    assert git(tmp_path / "other", "log", "-1", "--format=%s") == ["Only the tab"]
    assert not (server.data_dir / "project").exists()
    code, stderr = flowrt_factory(str(tmp_path)).run_to_exit()
    assert code == 1 and f"{tmp_path} is not a flows project" in stderr


async def test_the_revision_an_editor_holds_survives_a_restart(
        flowrt_factory: type[FlowrtProcess]) -> None:
    # Keys in an order of the editor's own: the project stores them in its order.
    node = {"wires": [], "name": "last", "y": 40, "x": 100, "z": "t1", "type": "debug", "id": "c"}
    server = flowrt_factory(env=PROJECT).start()
    async with (aiohttp.ClientSession(server.url) as client,
                client.post("/flows", json={"flows": [TAB, node]}, headers=V2) as r):
        rev = (await r.json())["rev"]
    assert server.stop() == 0
    again = flowrt_factory(env=PROJECT, data_dir=server.data_dir).start()
    async with (aiohttp.ClientSession(again.url) as client, client.get("/flows", headers=V2) as r):
        assert (await r.json())["rev"] == rev  # so its next deploy is no conflict
