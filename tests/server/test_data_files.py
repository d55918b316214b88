"""The data directory's files through a real ``flowrt run``: a full disk, inline
credentials, and corrupt files at start."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from flowrt import credentials as creds
from flowrt.storage import FileStorage
from tests.server.conftest import FlowrtProcess
from tests.server.test_credentials import NODE_RED_FILE
from tests.server.test_runtime_api import PLUGIN, Comms
from tests.server.test_storage import CREDS, FLOWS, NEW_FLOWS, crash_during_save
from tests.tmpfs import small_tmpfs

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
NOTE = {"id": "c1", "type": "comment", "z": "t1", "name": "hello", "x": 100, "y": 80, "wires": []}
VAULT = {"id": "v1", "type": "vault", "z": "t1", "x": 1, "y": 1}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", "1m") as mount_point:
        yield mount_point


async def test_a_deploy_that_does_not_fit_on_the_disk_answers_507_and_changes_nothing(
        flowrt_factory: type[FlowrtProcess], small_disk: Path) -> None:
    server = flowrt_factory(data_dir=small_disk).start()
    huge = [TAB, {**NOTE, "id": "c2", "info": "x" * 2_000_000}]
    async with aiohttp.ClientSession(server.url) as client:
        async with client.post("/flows", json=[TAB, NOTE]) as r:
            assert r.status == 204
        async with client.post("/flows", data=io.BytesIO(orjson.dumps(huge)),
                               headers=JSON) as r:
            assert r.status == 507
            error = await r.json()
        assert error["code"] == "flows_not_saved"
        assert f"cannot write {small_disk / 'flows.json'}" in error["message"]
        assert "(the disk is full); the running flows are unchanged" in error["message"]
        async with client.get("/flows") as r:
            assert await r.json() == [TAB, NOTE]
        # Nothing of the failed save is left taking the space.
        async with client.post("/flows", json=[TAB]) as r:
            assert r.status == 204
    assert orjson.loads((small_disk / "flows.json").read_bytes()) == [TAB]


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "vault.py").write_text(PLUGIN)
    return data


async def test_credentials_inline_in_the_flow_file_are_moved_applied_and_never_served(
        flowrt_factory: type[FlowrtProcess], plugin_dir: Path, tmp_path: Path) -> None:
    flow_file = tmp_path / "exported.json"
    flow_file.write_bytes(orjson.dumps([TAB, {**VAULT, "credentials": {
        "user": "alice", "password": "s3cret"}}]))
    server = flowrt_factory(str(flow_file), data_dir=plugin_dir)
    async with aiohttp.ClientSession() as client:
        server.start()
        async with client.ws_connect(f"{server.url}/comms") as ws:
            comms = Comms(ws)
            await comms.send({"subscribe": "status/#"})
            assert (await comms.next_event("status/v1"))["text"] == "alice"
        async with client.get(f"{server.url}/flows") as r:
            assert await r.json() == [TAB, VAULT]
        async with client.get(f"{server.url}/credentials/vault/v1") as r:
            assert await r.json() == {"user": "alice", "has_password": True}
    assert orjson.loads(flow_file.read_bytes()) == [TAB, VAULT]
    stored = orjson.loads((plugin_dir / "exported_cred.json").read_bytes())
    assert creds.is_encrypted(stored) and b"s3cret" not in orjson.dumps(stored)
    assert "moved the credentials written in the flow file (nodes v1)" in server.stderr()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("flows.json", b'[{"id": "t1", "type": "tab", "label": "caf\xe9"}]',
     "flows.json is not UTF-8 text: document at $: byte 0xe9 at offset 42 is not UTF-8; "
     "fix it"),
    ("flows.json", b'[{"id": "t1", "type": "tab", "deep": ' + b"[" * 300 + b"]" * 300 + b"}]",
     "flows.json is not a valid flow document: node 't1' (tab) at $[0].deep: nested more "
     "than 200 levels deep; fix it"),
    (creds.RUNTIME_CONFIG, b'{"_credentialSecret": "ab',
     ".config.runtime.json is unreadable (not valid JSON: "),
    ("flows_cred.json", orjson.dumps(NODE_RED_FILE),
     "flows_cred.json (cannot decrypt credentials: wrong credentialSecret?): set the "
     "credentialSecret it was saved with"),
])
def test_corrupt_data_files_stop_the_start_with_one_line(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path, name: str, content: bytes,
        message: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_bytes(content)
    code, stderr = flowrt_factory(data_dir=data,
                                  env={"FLOWRT_CREDENTIAL_SECRET": "not it"}).run_to_exit()
    assert code == 1
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if "cannot start" in line]
    assert f"{data / name}" in line and message in line, stderr
    assert (data / name).read_bytes() == content


def modes(directory: Path) -> dict[str, str]:
    """Every path under ``directory`` (relative) and its mode, directories marked."""
    return {p.relative_to(directory).as_posix() + ("/" if p.is_dir() else ""):
            oct(p.stat().st_mode & 0o777)
            for p in directory.rglob("*") if "__pycache__" not in p.parts}


async def test_every_file_the_runtime_creates_is_private(
        flowrt_factory: type[FlowrtProcess], plugin_dir: Path) -> None:
    (plugin_dir / "settings.toml").write_text('[contextStorage.default]\nmodule = "sqlite"\n')
    ours = modes(plugin_dir)
    server = flowrt_factory(data_dir=plugin_dir).start()
    store = {"id": "sf1", "type": "store-forward", "z": "t1", "x": 1, "y": 2, "wires": [[]]}
    async with aiohttp.ClientSession(server.url) as client:
        async with client.post("/flows", json={"flows": [TAB, store, {
                **VAULT, "credentials": {"user": "alice", "password": "s3cret"}}]},
                headers={"Node-RED-API-Version": "v2"}) as r:
            assert r.status == 200, await r.text()
        async with client.post("/flows", json=[TAB, store, VAULT]) as r:
            assert r.status == 204
    assert server.stop() == 0
    created = {name: mode for name, mode in modes(plugin_dir).items() if name not in ours}
    assert {"flows.json", "flows_cred.json", creds.RUNTIME_CONFIG, "context.sqlite",
            "queues/", "queues/sf1.sqlite3"} <= set(created), created
    assert {name: mode for name, mode in created.items()
            if mode != (oct(0o700) if name.endswith("/") else oct(0o600))} == {}


async def test_start_completes_an_interrupted_save_and_removes_stale_temporaries(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = tmp_path / "data"
    FileStorage(data / "flows.json", data).save(FLOWS, CREDS)
    crash_during_save(data, "after", "flows_cred.json")  # killed between the two renames
    (data / ".flows.json.k2j3h4.tmp").write_bytes(b"[" * 100_000)
    server = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession(server.url) as client, client.get("/flows") as r:
        assert await r.json() == NEW_FLOWS
    assert sorted(p.name for p in data.iterdir()) == [
        ".config.runtime.json", ".flows.json.backup", ".flows_cred.json.backup",
        "flows.json", "flows_cred.json"]
