"""Context stores (flowrt/context.py) through their public interface: ``ContextStores``
and the ``Context`` objects it hands out, in memory and persisted to SQLite."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest

from flowrt.context import ContextStores
from flowrt.testing import FlowHarness

SQLITE = {"default": {"module": "sqlite", "config": {"flushInterval": 3600}}}
"""A persistent default store that only flushes when asked (or on deploy and close)."""


async def opened(data_dir: Path, config: dict[str, Any] | None = None) -> ContextStores:
    stores = ContextStores(config or SQLITE, data_dir)
    await stores.open()
    return stores


async def persisted(data_dir: Path, config: dict[str, Any] | None = None,
                    scope: str = "global", store: str | None = None) -> dict[str, Any]:
    """What a fresh process would load from ``data_dir``: one scope's values."""
    stores = await opened(data_dir, config)
    try:
        context = stores.flow(scope) if scope != "global" else stores.global_
        return {key: context.get(key, store) for key in context.keys(store)}
    finally:
        await stores.close()


# ------------------------------------------------------------------ get / set / keys
@pytest.mark.parametrize("config", [None, SQLITE], ids=["memory", "sqlite"])
async def test_get_set_keys_and_delete(config, tmp_path):
    stores = await opened(tmp_path, config)
    context = stores.flow("t1")
    assert context.get("missing") is None and context.keys() == []
    context.set("count", 3)
    context.set("name", "pump")
    assert context.get("count") == 3 and sorted(context.keys()) == ["count", "name"]
    context.set("count", None)  # None deletes, as in Node-RED
    assert context.get("count") is None and context.keys() == ["name"]
    context.set("never-set", None)  # deleting what is not there is no error
    await stores.close()


async def test_nested_paths_create_and_read_inner_values():
    context = ContextStores().flow("t1")
    context.set("counts.total", 5)
    context.set("counts.byTopic['a/b']", 2)
    context.set("readings[1]", 7.5)
    assert context.get("counts") == {"total": 5, "byTopic": {"a/b": 2}}
    assert context.get("counts.byTopic[\"a/b\"]") == 2
    assert context.get("readings") == [None, 7.5]
    assert context.get("counts.total.deeper") is None
    assert sorted(context.keys()) == ["counts", "readings"]  # top-level keys only
    context.set("counts.total", None)
    assert context.get("counts") == {"byTopic": {"a/b": 2}}


@pytest.mark.parametrize("key", ["", "   ", None, 3])
def test_a_key_must_be_a_non_empty_string(key):
    context = ContextStores().global_
    with pytest.raises(ValueError, match="Invalid context key"):
        context.get(key)
    with pytest.raises(ValueError, match="Invalid context key"):
        context.set(key, 1)


def test_node_flow_and_global_scopes_are_separate():
    stores = ContextStores()
    stores.node("n1", "t1").set("k", "node")
    stores.node("n1", "t2").set("k", "same node id, other flow")
    stores.flow("t1").set("k", "flow")
    stores.global_.set("k", "global")
    assert stores.node("n1", "t1").get("k") == "node"
    assert stores.node("n1", "t2").get("k") == "same node id, other flow"
    assert stores.flow("t1").get("k") == "flow"
    assert stores.flow("t2").get("k") is None
    assert stores.global_.get("k") == "global"


def test_global_seed_is_copied_into_the_default_store():
    seed = {"limits": {"max": 10}}
    stores = ContextStores({"default": {"module": "memory"}, "other": {"module": "memory"}},
                           global_seed=seed)
    seed["limits"]["max"] = 99  # the caller's dict is not shared
    assert stores.global_.get("limits.max") == 10
    assert stores.global_.get("limits", "other") is None


# ------------------------------------------------------------------ configuration
def test_named_stores_and_the_default(tmp_path, caplog):
    stores = ContextStores({"default": "file", "file": {"module": "localfilesystem"},
                            "memory": {"module": "memory"}}, tmp_path)
    assert stores.default == "file"
    context = stores.flow("t1")
    context.set("k", "in memory", "memory")
    context.set("k", "in file")
    assert context.get("k", "memory") == "in memory"
    assert context.get("k", "file") == "in file"
    with caplog.at_level(logging.WARNING, logger="flowrt.context"):
        assert context.get("k", "nosuch") == "in file"  # falls back to the default
        context.get("k", "nosuch")
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["unknown context store 'nosuch': using 'file'"]  # once per name


def test_without_a_store_called_default_the_first_one_is():
    stores = ContextStores({"fast": {"module": "memory"}, "slow": {"module": "memory"}})
    assert stores.default == "fast"


@pytest.mark.parametrize(("config", "message"), [
    ({"default": {"module": "sqlite"}}, "context store 'default' needs a data directory"),
    ({"default": {"module": "redis"}}, "context store 'default': unknown module 'redis'"),
])
def test_bad_configurations_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        ContextStores(config)


# ------------------------------------------------------------------ persistence
async def test_values_survive_close_and_reopen(tmp_path):
    stores = await opened(tmp_path)
    stores.global_.set("config", {"unit": "C", "limits": [1, 2.5, None, True]})
    stores.flow("t1").set("counts.total", 5)
    stores.node("n1", "t1").set("last", "ok")
    await stores.close()

    stores = await opened(tmp_path)
    assert stores.global_.get("config") == {"unit": "C", "limits": [1, 2.5, None, True]}
    assert stores.flow("t1").get("counts.total") == 5
    assert stores.node("n1", "t1").get("last") == "ok"
    await stores.close()


async def test_writes_reach_the_file_on_flush_or_close_not_before(tmp_path):
    stores = await opened(tmp_path)
    stores.global_.set("a", 1)
    assert await persisted(tmp_path) == {}  # write-back cache: nothing written yet
    await stores.flush()
    assert await persisted(tmp_path) == {"a": 1}
    stores.global_.set("b", 2)
    await stores.close()  # close flushes
    assert await persisted(tmp_path) == {"a": 1, "b": 2}


async def test_an_inner_change_persists_the_whole_top_level_value(tmp_path):
    stores = await opened(tmp_path)
    stores.global_.set("device.name", "pump")
    await stores.flush()
    stores.global_.set("device.limits.max", 10)
    await stores.close()
    assert await persisted(tmp_path) == {"device": {"name": "pump", "limits": {"max": 10}}}


async def test_deleted_keys_are_deleted_from_the_file(tmp_path):
    stores = await opened(tmp_path)
    stores.global_.set("a", 1)
    stores.global_.set("b", 2)
    await stores.flush()
    stores.global_.set("a", None)
    await stores.close()
    assert await persisted(tmp_path) == {"b": 2}


async def test_clean_forgets_removed_nodes_and_flows_in_the_file_too(tmp_path):
    stores = await opened(tmp_path)
    stores.node("gone", "t1").set("k", 1)
    stores.node("kept", "t1").set("k", 2)
    stores.flow("t2").set("k", 3)
    stores.global_.set("k", 4)
    await stores.flush()
    stores.clean({"kept", "t1"})
    assert stores.node("gone", "t1").get("k") is None
    assert stores.node("kept", "t1").get("k") == 2
    await stores.close()

    stores = await opened(tmp_path)
    assert stores.node("gone", "t1").keys() == []
    assert stores.node("kept", "t1").get("k") == 2
    assert stores.flow("t2").keys() == []
    assert stores.global_.get("k") == 4  # global context is never cleaned
    await stores.close()


async def test_the_flush_interval_writes_without_being_asked(tmp_path):
    config = {"default": {"module": "sqlite", "config": {"flushInterval": 0.01}}}
    stores = await opened(tmp_path, config)
    stores.global_.set("a", 1)
    deadline = time.monotonic() + 5
    while await persisted(tmp_path) != {"a": 1}:
        assert time.monotonic() < deadline, "the periodic flush never wrote"
        await asyncio.sleep(0.01)  # the periodic flush has no event to wait on
    await stores.close()


async def test_memory_stores_keep_nothing_across_a_restart(tmp_path):
    config = {"default": {"module": "memory"}}
    stores = await opened(tmp_path, config)
    stores.global_.set("a", 1)
    await stores.close()
    assert await persisted(tmp_path, config) == {}
    assert not (tmp_path / "context.sqlite").exists()


# ------------------------------------------------------------------ values JSON can't hold
@pytest.mark.parametrize(("value", "reason"), [
    (b"\x00\x01", "bytes"),
    ({1: "a"}, "Dict key must be str"),
    (2**70, "Integer exceeds 64-bit range"),
    (object(), "not JSON serializable"),
], ids=["bytes", "int-keys", "big-int", "object"])
async def test_a_value_json_cannot_hold_stays_in_memory_with_a_warning(
        value, reason, tmp_path, caplog):
    stores = await opened(tmp_path)
    stores.global_.set("bad", value)
    stores.global_.set("good", 1)
    with caplog.at_level(logging.WARNING, logger="flowrt.context"):
        await stores.flush()
    assert stores.global_.get("bad") is value  # still there for this process
    [warning] = [r.getMessage() for r in caplog.records]
    assert "global key 'bad' not persisted" in warning and reason in warning
    await stores.close()
    assert await persisted(tmp_path) == {"good": 1}  # the rest of the flush went through


async def test_values_json_changes_come_back_as_json_gives_them(tmp_path):
    stores = await opened(tmp_path)
    stores.global_.set("tuple", (1, 2))
    stores.global_.set("nan", math.nan)  # JSON.stringify(NaN) is null in Node-RED too
    stores.global_.set("text", "ünïcode ✓")
    await stores.close()
    assert await persisted(tmp_path) == {"tuple": [1, 2], "nan": None, "text": "ünïcode ✓"}


# ------------------------------------------------------------------ concurrency
async def test_flushes_racing_with_writes_lose_nothing(tmp_path):
    stores = await opened(tmp_path)

    async def writer(n: int) -> None:
        for i in range(20):
            stores.flow(f"t{n}").set(f"k{i}", i)
            await stores.flush()

    await asyncio.gather(*(writer(n) for n in range(5)))
    await stores.close()
    for n in range(5):
        assert await persisted(tmp_path, scope=f"t{n}") == {f"k{i}": i for i in range(20)}


async def test_two_processes_on_one_data_dir_keep_each_others_keys(tmp_path):
    first, second = await opened(tmp_path), await opened(tmp_path)
    first.global_.set("a", "first")
    second.global_.set("b", "second")
    first.global_.set("shared", "first")
    second.global_.set("shared", "second")
    await first.flush()
    await second.flush()  # the last flush of a key wins
    await first.close()
    await second.close()
    assert await persisted(tmp_path) == {"a": "first", "b": "second", "shared": "second"}


async def test_two_sqlite_stores_keep_their_values_apart(tmp_path):
    config = {"default": {"module": "sqlite"}, "archive": {"module": "sqlite"}}
    stores = await opened(tmp_path, config)
    stores.global_.set("k", "default")
    stores.global_.set("k", "archive", "archive")
    await stores.close()
    assert await persisted(tmp_path, config) == {"k": "default"}
    assert await persisted(tmp_path, config, store="archive") == {"k": "archive"}


# ------------------------------------------------------------------ in the runtime
def counter_flow(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """A change node that copies msg.payload into flow context ``count``."""
    return [{"id": "t1", "type": "tab"},
            {"id": "set", "type": "change", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             "rules": [{"t": "set", "p": "count", "pt": "flow", "to": "payload",
                        "tot": "msg"}]}, *extra]


async def test_the_runtime_flushes_on_every_deploy(tmp_path):
    settings = {"contextStorage": SQLITE}
    async with FlowHarness(counter_flow(), settings=settings, data_dir=tmp_path) as h:
        await h.inject("set", payload=5)
        assert await persisted(tmp_path, scope="t1") == {}
        await h.deploy(counter_flow({"id": "t2", "type": "tab"}), "flows")
        assert await persisted(tmp_path, scope="t1") == {"count": 5}


async def test_a_deploy_forgets_the_context_of_a_removed_flow(tmp_path):
    settings = {"contextStorage": SQLITE}
    async with FlowHarness(counter_flow(), settings=settings, data_dir=tmp_path) as h:
        await h.inject("set", payload=5)
        await h.deploy([{"id": "t2", "type": "tab"}])
    assert await persisted(tmp_path, scope="t1") == {}
