"""Node, flow and global context, in memory or persisted to SQLite.

Scopes follow Node-RED: node context is ``"<nodeId>:<flowId>"``, flow context is
the tab (or subflow) id, global context is ``"global"``. Keys are property
expressions (``counts.total``). Stores are configured by name (settings
``[contextStorage]``); ``memory`` keeps values in the process, ``sqlite`` keeps a
write-back cache that is flushed to ``<data dir>/context.sqlite`` every
``flushInterval`` seconds (30 by default), on every deploy and on shutdown, off
the event loop. An unknown store name falls back to the default store with a
one-time warning, as in Node-RED.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from flowrt.messages import clone_value, delete_property, get_property, parse_path, set_property

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger("flowrt.context")


class MemoryStore:
    """Context values held in memory only."""

    persistent = False

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self._generations: dict[tuple[str, str], int] = {}
        self._changes = 0

    def scope(self, scope: str) -> dict[str, Any]:
        """The dict of top-level keys of one scope (created on first use)."""
        values = self.data.get(scope)
        if values is None:
            values = self.data[scope] = {}
        return values

    def touched(self, scope: str, key: str) -> None:
        """Note that a top-level key of a scope changed."""
        self._changes += 1
        self._generations[(scope, key)] = self._changes

    def generation(self, scope: str, key: str) -> int:
        """A number that changes whenever a top-level key of a scope is touched."""
        return self._generations.get((scope, key), 0)

    def delete_scope(self, scope: str) -> None:
        """Forget a scope (its node or flow was removed)."""
        for key in self.data.pop(scope, {}):
            self.touched(scope, key)

    async def open(self) -> None:
        """Load persisted values, if any."""

    async def flush(self) -> None:
        """Persist changed values, if the store is persistent."""

    async def close(self) -> None:
        """Flush and release resources."""


class SQLiteStore(MemoryStore):
    """Context values cached in memory and flushed to an SQLite file (WAL)."""

    persistent = True

    def __init__(self, path: Path, flush_interval: float = 30.0) -> None:
        super().__init__()
        self.path = path
        self.flush_interval = flush_interval
        self._dirty: set[tuple[str, str]] = set()
        self._deleted_scopes: set[str] = set()
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None

    def _connect(self) -> sqlite3.Connection:
        import sqlite3  # only flows with a persistent store pay for it (about 1 MB RSS)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS context (scope TEXT NOT NULL, key TEXT NOT NULL,"
                     " value BLOB NOT NULL, PRIMARY KEY (scope, key))")
        return conn

    async def open(self) -> None:
        def read() -> list[tuple[str, str, bytes]]:
            with self._connect() as conn:
                return conn.execute("SELECT scope, key, value FROM context").fetchall()

        for scope, key, value in await asyncio.to_thread(read):
            self.scope(scope)[key] = orjson.loads(value)
        self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.flush_interval, self._periodic)

    def _periodic(self) -> None:
        task = asyncio.get_running_loop().create_task(self.flush())
        task.add_done_callback(lambda _: self._schedule())

    def touched(self, scope: str, key: str) -> None:
        super().touched(scope, key)
        self._dirty.add((scope, key))

    def delete_scope(self, scope: str) -> None:
        super().delete_scope(scope)
        self._deleted_scopes.add(scope)
        self._dirty = {item for item in self._dirty if item[0] != scope}

    async def flush(self) -> None:
        async with self._lock:
            if not self._dirty and not self._deleted_scopes:
                return
            dirty, self._dirty = self._dirty, set()
            deleted, self._deleted_scopes = self._deleted_scopes, set()
            upserts, removals = [], []
            for scope, key in dirty:
                values = self.data.get(scope, {})
                if key in values:
                    try:
                        upserts.append((scope, key, orjson.dumps(values[key])))
                    except TypeError as exc:
                        log.warning("context %s key %r not persisted: %s", scope, key, exc)
                else:
                    removals.append((scope, key))

            def write() -> None:
                with self._connect() as conn:
                    conn.executemany("DELETE FROM context WHERE scope = ?",
                                     [(s,) for s in deleted])
                    conn.executemany("DELETE FROM context WHERE scope = ? AND key = ?", removals)
                    conn.executemany("INSERT OR REPLACE INTO context VALUES (?, ?, ?)", upserts)

            await asyncio.to_thread(write)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self.flush()


class Context:
    """One scope's context, as nodes and function code see it."""

    __slots__ = ("_scope", "_stores")

    def __init__(self, stores: ContextStores, scope: str) -> None:
        self._stores = stores
        self._scope = scope

    def get(self, key: str, store: str | None = None) -> Any:
        """The value at ``key`` (a property expression), or None."""
        values = self._stores.store(store).scope(self._scope)
        return get_property(values, _checked(key))

    def set(self, key: str, value: Any, store: str | None = None) -> None:
        """Set (or with ``None``, delete) the value at ``key``."""
        backend = self._stores.store(store)
        values = backend.scope(self._scope)
        top = _top(key)
        if value is None:
            delete_property(values, key)
        else:
            set_property(values, key, value)
        backend.touched(self._scope, top)

    def generation(self, key: str, store: str | None = None) -> int:
        """A number that changes whenever the top-level key of ``key`` is set or deleted
        (a JavaScript function node holds an object it fetched while it is unchanged)."""
        return self._stores.store(store).generation(self._scope, _top(key))

    def changed_in_place(self, key: str, store: str | None = None) -> int:
        """Note that the value at ``key`` was changed in place (so it is persisted);
        returns the key's new generation."""
        backend = self._stores.store(store)
        top = _top(key)
        backend.touched(self._scope, top)
        return backend.generation(self._scope, top)

    def keys(self, store: str | None = None) -> list[str]:
        """The top-level keys in this scope."""
        return list(self._stores.store(store).scope(self._scope))

    def values(self, store: str | None = None) -> dict[str, Any]:
        """The top-level keys and values in this scope, read-only (a scope never written
        is not created: the admin API reads contexts of any id it is asked for)."""
        return self._stores.store(store).data.get(self._scope, {})

    def delete(self, key: str, store: str | None = None) -> None:
        """Remove the value at ``key``, if the scope has one."""
        if self._scope in self._stores.store(store).data:
            self.set(key, None, store)


def _top(key: str) -> str:
    return str(parse_path(_checked(key))[0])


def _checked(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("Invalid context key")
    return key


class ContextStores:
    """The configured context stores and the Context objects handed to nodes."""

    def __init__(self, config: dict[str, Any] | None = None, data_dir: Path | None = None,
                 global_seed: dict[str, Any] | None = None) -> None:
        self.stores: dict[str, MemoryStore] = {}
        config = config or {"default": {"module": "memory"}}
        for name, spec in config.items():
            if isinstance(spec, str):
                continue
            module = spec.get("module", "memory")
            if module == "memory":
                self.stores[name] = MemoryStore()
            elif module in ("sqlite", "localfilesystem"):
                if data_dir is None:
                    raise ValueError(f"context store {name!r} needs a data directory")
                interval = float(spec.get("config", {}).get("flushInterval", 30))
                self.stores[name] = SQLiteStore(data_dir / self._file_name(name), interval)
            else:
                raise ValueError(f"context store {name!r}: unknown module {module!r}")
        default = config.get("default")
        if isinstance(default, str):
            self.default = default
        elif "default" in self.stores:
            self.default = "default"
        else:
            self.default = next(iter(self.stores))
        self._warned: set[str] = set()
        self.global_ = Context(self, "global")
        for key, value in (global_seed or {}).items():
            self.stores[self.default].scope("global")[key] = clone_value(value)

    def _file_name(self, name: str) -> str:
        # The first persistent store keeps the file every store shared before
        # (existing context stays where it was); each further one gets its own.
        if not any(store.persistent for store in self.stores.values()):
            return "context.sqlite"
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        return f"context-{safe}.sqlite"

    def store(self, name: str | None) -> MemoryStore:
        """The store called ``name`` (None: the default)."""
        if name is None:
            return self.stores[self.default]
        found = self.stores.get(name)
        if found is None:
            if name not in self._warned:
                self._warned.add(name)
                log.warning("unknown context store %r: using %r", name, self.default)
            return self.stores[self.default]
        return found

    def node(self, node_id: str, flow_id: str) -> Context:
        """The context of one node."""
        return Context(self, f"{node_id}:{flow_id}")

    def flow(self, flow_id: str) -> Context:
        """The context of one flow (tab or subflow instance)."""
        return Context(self, flow_id)

    def clean(self, keep_scopes: set[str]) -> None:
        """Drop context of nodes and flows that no longer exist."""
        for store in self.stores.values():
            for scope in list(store.data):
                if scope == "global":
                    continue
                ids = scope.split(":")
                if ids[0] not in keep_scopes:
                    store.delete_scope(scope)

    async def open(self) -> None:
        """Load persistent stores."""
        for store in self.stores.values():
            await store.open()

    async def flush(self) -> None:
        """Write persistent stores now."""
        for store in self.stores.values():
            await store.flush()

    async def close(self) -> None:
        """Flush and close every store."""
        for store in self.stores.values():
            await store.close()
