"""``/flow-tests``: listing, running and saving flow tests beside the flow file; a case
that would not read back is refused and the file is left as it was."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from flowrt.server.app import build_context, create_app
from flowrt.settings import Settings

FLOWS = [{"id": "t", "type": "tab", "label": "T"},
         {"id": "up", "type": "change", "z": "t", "name": "up", "x": 0, "y": 0,
          "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "UP", "tot": "str"}],
          "wires": [[]]}]
CASES = "cases:\n  - name: ups\n    steps:\n      - inject: up\n      - expect: up\n" \
        "        payload: UP\n"


async def test_list_run_and_save(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "flows.json").write_text(json.dumps(FLOWS))
    tests = data / "flows.tests.yaml"
    app = create_app(build_context(Settings(), data))
    async with TestClient(TestServer(app)) as client:
        empty = await (await client.get("/flow-tests")).json()
        assert empty == {"flows": "flows.json", "files": []}
        tests.write_text(CASES)
        listing = await (await client.get("/flow-tests")).json()
        assert listing["files"] == [{"file": "flows.tests.yaml", "problems": [],
                                     "cases": [{"name": "ups", "line": 2}]}]
        ran = await client.post("/flow-tests/run", json={})
        assert await ran.json() == {"results": [
            {"file": "flows.tests.yaml", "case": "ups", "passed": True, "failure": None}]}
        missing = await client.post("/flow-tests/run", json={"case": "nope"})
        assert missing.status == 404
        assert (await missing.json())["message"] == "no case named 'nope'"

        saved = await client.post("/flow-tests/cases", json={
            "name": "ups twice", "steps": [{"inject": "up"}, {"expect": "up", "payload": "UP"}]})
        assert await saved.json() == {"file": "flows.tests.yaml", "case": "ups twice"}
        assert tests.read_text() == CASES + (
            "  - name: ups twice\n    steps:\n    - inject: up\n    - expect: up\n"
            "      payload: UP\n")
        before = tests.read_text()
        refused = await client.post("/flow-tests/cases", json={
            "name": "ups", "steps": [{"expect": "nobody"}]})
        assert refused.status == 400
        details = [d["message"] for d in (await refused.json())["details"]]
        assert [d.split(": ", 1)[1] for d in details] == [
            "case 'ups': step 1: no node has the id or name 'nobody'",
            "two cases are named 'ups'"]
        assert tests.read_text() == before
