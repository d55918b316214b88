"""The runtime: deploys flow documents and runs their nodes on one event loop.

``Runtime.deploy(flows, deploy_type)`` is transactional: the document is
validated and its save staged first (every problem reported, nothing touched on
failure, a full disk included), then only what the deploy type requires is
stopped (``full``: everything; ``nodes``: the changed and removed nodes;
``flows``: also every node wire-connected to a change; ``reload``: everything,
from storage), the new nodes are started and the save is committed.

A node whose constructor raises (bad configuration) or whose ``start()`` raises
does not fail the deploy, as in Node-RED: it is logged, shown with a red status,
listed by ``failed_nodes()`` (``/healthz``) and replaced by a
:class:`~flowrt.failed_node.FailedNode` that drops what is wired to it; the rest
of the flows run, and the next deploy tries it again. With ``strictDeploy`` a
deploy is all-or-nothing instead: the first failure restores the previous graph,
discards the save and raises DeployError. Starting at boot (``load``) never
raises for a flow problem. Documents with unknown node types are rejected by
``deploy``; at boot (``load``) they leave the runtime in the ``missing-types``
state, as Node-RED does, with each type named as a Node-RED core node flowrt
lacks or a contrib node that is not installed.

``check_nodes`` creates every node of a document without starting any (the same
``_create`` as a deploy): ``flowrt validate`` reports what a constructor raises.

Credentials written inline in a document (``"credentials"`` on a node) are moved
into the credentials store, on deploy and at boot, and never kept in the document.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from flowrt import flowdoc
from flowrt.clock import Clock
from flowrt.context import ContextStores
from flowrt.dispatch import Dispatcher
from flowrt.errors import DataFileError, DeployError, FlowValidationError, NodeError, Problem
from flowrt.events import Events
from flowrt.failed_node import FailedNode, Stage, error_text
from flowrt.flow import Flow
from flowrt.graph import Graph, NodeSpec, build_graph, diff_graphs
from flowrt.held_deliveries import HeldDeliveries
from flowrt.http_endpoints import Endpoints
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.registry import Registry
from flowrt.schema import defaults_of
from flowrt.settings import Settings
from flowrt.subflow_nodes import INTERNAL_TYPES

if TYPE_CHECKING:
    from flowrt.deploy_note import DeployNote

log = logging.getLogger("flowrt.runtime")

DEPLOY_TYPES = ("full", "nodes", "flows", "reload")
UNCHANGED_PASSWORD = "__PWRD__"


class StagedSave(Protocol):
    """Flows and credentials written durably, not yet in place."""

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class FlowStorage(Protocol):
    """Where deployed flows and credentials are kept (the data directory).

    A deploy stages its save before starting anything (a full disk fails it with
    nothing changed) and commits it once the new flows run.
    """

    def load(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]: ...

    def stage(self, flows: list[dict[str, Any]], credentials: dict[str, dict[str, Any]],
              note: DeployNote | None = None) -> StagedSave: ...

    def save(self, flows: list[dict[str, Any]], credentials: dict[str, dict[str, Any]]) -> None:
        ...


@dataclass
class RuntimeStats:
    """Counters for ``/metrics``."""

    deploys: int = 0
    deploy_failures: int = 0
    errors: int = 0


class Runtime:
    """Runs flow documents; see the module docstring."""

    def __init__(self, registry: Registry, *, clock: Clock | None = None,
                 storage: FlowStorage | None = None, data_dir: Path | None = None,
                 settings: Settings | None = None) -> None:
        self.registry = registry
        self.clock = clock or Clock()
        self.storage = storage
        self.data_dir = data_dir
        self.settings = settings or Settings()
        self.dispatcher = Dispatcher(self.settings.max_pending_messages, self.clock)
        self.contexts = ContextStores(self.settings.context_storage, data_dir,
                                      self.settings.function_global_context)
        self.events = Events()
        self.endpoints = Endpoints(self.settings.http_node_root)
        """The HTTP routes the running flows serve (``http in``, websocket listeners)."""
        self.stats = RuntimeStats()
        self.flows_document: list[dict[str, Any]] = []
        self.credentials: dict[str, dict[str, Any]] = {}
        self.rev = revision([])
        self.state = "stop"
        self.state_reason = "not started"
        self.missing: list[str] = []
        self.nodes: dict[str, Node] = {}
        self.failed: dict[str, FailedNode] = {}
        """Nodes of the running flows that failed to configure or start, by id."""
        self.flows: dict[str, Flow] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.global_env: list[dict[str, Any]] = []
        self._graph = Graph()
        self._lock = asyncio.Lock()
        self._started_at = time.monotonic()

    # ------------------------------------------------------------------ public
    def get_node(self, node_id: str) -> Node | None:
        """A running node by id (subflow copies by ``<instance>-<id>``)."""
        return self.nodes.get(node_id)

    def running_nodes(self) -> Iterator[Node]:
        """Every running node."""
        return iter(list(self.nodes.values()))

    def failed_nodes(self) -> list[dict[str, Any]]:
        """The nodes that failed to configure or start: id, type, flow, stage, error."""
        return [node.describe_failure() for node in self.failed.values()]

    async def open(self) -> None:
        """Open persistent context stores; call once before the first deploy."""
        await self.contexts.open()

    async def load(self, flows: list[dict[str, Any]] | None = None,
                   credentials: dict[str, dict[str, Any]] | None = None) -> None:
        """Start a document at boot (from storage when ``flows`` is None).

        Unlike ``deploy`` this never raises for a bad document: it reports the
        problems and leaves the runtime stopped with the reason in ``state``.
        """
        if flows is None:
            flows, credentials = self.storage.load() if self.storage else ([], {})
        inline = _with_inline_credentials(flows)
        if inline:
            flows, credentials, _ = self._extract_credentials(flows, credentials or {})
            await self._keep_extracted_credentials(flows, credentials, inline)
        self.flows_document = flows
        self.credentials = credentials or {}
        self.rev = revision(flows)
        try:
            await self._start_loaded(flows)
        except Exception as exc:
            # Nodes' failures are reported where they happen; anything else is a bug,
            # which must not end the process either: the editor stays up to fix things.
            log.exception("starting the flows failed: %s", error_text(exc))
            self._set_state("stop", "start-failed")

    async def _start_loaded(self, flows: list[dict[str, Any]]) -> None:
        problems, config_problems = flowdoc.validate_parts(flows, self.registry)
        self.missing = flowdoc.missing_types(flows, self.registry)
        if self.missing:
            self._set_state("stop", "missing-types")
            log.error("Waiting for missing types to be registered:\n%s",
                      "\n".join(f" - {t}: {flowdoc.unknown_type_message(t)}" for t in self.missing))
            return
        if problems:
            self._set_state("stop", "invalid-flows")
            log.error("%s", FlowValidationError(problems))
            return
        # A node whose config its schema refuses fails alone (as a constructor that
        # raises does); a deploy refuses such a document, but one that is already the
        # saved flows must not keep every other node from running.
        async with self._lock:
            await self._apply(flows, "full", set(), refused=_refused(config_problems))

    async def deploy(self, flows: list[dict[str, Any]] | None, deploy_type: str = "full",
                     credentials: dict[str, dict[str, Any]] | None = None,
                     note: DeployNote | None = None) -> str:
        """Validate, save and start a flow document; return its revision. ``note`` (who
        and why) goes to the storage: in project mode, the commit's author and message.

        The save is staged before anything stops and committed once the new flows
        run. Raises FlowValidationError for a document nothing can run (shape, ids,
        unknown types) or DataFileError (not saved; nothing changed). A node whose
        config its schema refuses, or that fails to configure or start, is reported
        and the rest runs; with ``strictDeploy`` such a node raises
        FlowValidationError (a schema problem) or DeployError (previous flows
        restored, nothing saved) instead.
        """
        if deploy_type not in DEPLOY_TYPES:
            raise FlowValidationError([Problem(None, None, "$", f"unknown deploy type "
                                               f"{deploy_type!r}; use one of {DEPLOY_TYPES}")])
        async with self._lock:
            if deploy_type == "reload":
                if self.storage is not None:
                    flows, credentials = self.storage.load()
                else:
                    flows, credentials = self.flows_document, self.credentials
                deploy_type = "full"
            assert flows is not None
            problems, config_problems = flowdoc.validate_parts(flows, self.registry)
            if problems or (config_problems and self.settings.strict_deploy):
                raise FlowValidationError(problems + config_problems)
            if self.settings.strict_deploy:
                # A node that cannot even be created refuses the deploy before anything
                # stops: the running flows are not restarted for a deploy that never runs.
                await self._refuse_unconstructible(flows)
            flows, new_credentials, changed_creds = self._extract_credentials(flows, credentials)
            old_document, old_credentials = self.flows_document, self.credentials
            if self.state != "start" or _global_config(flows) != _global_config(old_document):
                deploy_type = "full"
            # Written durably before anything stops or starts: a deploy that cannot be
            # saved (disk full) fails here, and a restart never reverts one that ran.
            staged = None
            if self.storage is not None:
                try:
                    staged = await asyncio.to_thread(self.storage.stage, flows, new_credentials,
                                                    note)
                except DataFileError:
                    self.stats.deploy_failures += 1
                    raise
            old_rev = self.rev
            self.credentials = new_credentials
            try:
                await self._apply(flows, deploy_type, changed_creds,
                                  strict=self.settings.strict_deploy,
                                  refused=_refused(config_problems))
                # They run: GET /flows shows them while the save is committed.
                self.flows_document, self.rev = flows, revision(flows)
                if staged is not None:
                    await asyncio.to_thread(staged.commit)
            except (DeployError, DataFileError):
                if staged is not None:
                    await asyncio.to_thread(staged.discard)
                self.flows_document, self.rev = old_document, old_rev
                self.credentials = old_credentials
                self.stats.deploy_failures += 1
                # Not strict: the flows that ran before run again even if a node of
                # theirs fails now (its broker gone...); that node is reported. Only what
                # this deploy stopped starts again (all of it for a full deploy).
                await self._apply(old_document, deploy_type, changed_creds)
                raise
            self.missing = []
            self.stats.deploys += 1
            await self.contexts.flush()
            self.events.publish("notification/runtime-deploy", {"revision": self.rev}, retain=True)
            return self.rev

    async def _refuse_unconstructible(self, flows: list[dict[str, Any]]) -> None:
        """strictDeploy: raise DeployError for the first node of ``flows`` whose
        constructor fails (checked in a dry run, nothing running is touched)."""
        failures = await self._constructor_failures(
            flowdoc.constructible(flows, self.registry), first_only=True)
        if failures:
            node_id, node_type, exc = failures[0]
            raise DeployError(f"node {node_id} ({node_type}) failed to start: "
                              f"{error_text(exc)}", node_id, node_type) from exc

    async def validate(self, flows: Any) -> list[Problem]:
        """Every problem of a flow document, in document order: its own (shape, ids,
        types, node configs: ``flowdoc.validate``) and what creating each node raises
        (``check_nodes``) for the nodes that have none of the former."""
        problems = flowdoc.validate(flows, self.registry)
        if not isinstance(flows, list):
            return problems
        where = {node["id"]: index for index, node in reversed(list(enumerate(flows)))
                 if isinstance(node, dict) and isinstance(node.get("id"), str)}
        flagged = {p.id for p in problems if p.id is not None}
        for problem in await self.check_nodes(flowdoc.constructible(flows, self.registry),
                                              skip=flagged):
            assert problem.id is not None
            problems.append(Problem(problem.id, problem.type, f"$[{where[problem.id]}]",
                                    problem.message))
        problems.sort(key=flowdoc.document_position)
        return problems

    async def check_nodes(self, flows: list[dict[str, Any]],
                          skip: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
        """Construct every node of a valid document, start none, and return what the
        constructors raised (a JavaScript or JSONata compile error, a bad option), one
        problem per node of the document (a node in a subflow used twice counts once).

        Nodes are created in the deploy's order with the deploy's ``_create``, in a
        :class:`DryRun` that shares nothing with the running flows; whatever tasks a
        constructor made are cancelled. Types no plugin provides are skipped: the
        document's validation reports them, as are the nodes in ``skip``.
        """
        where = {node["id"]: index for index, node in enumerate(flows)}
        return [Problem(node_id, node_type,
                        "$" if where.get(node_id) is None else f"$[{where[node_id]}]",
                        error_text(exc))
                for node_id, node_type, exc in await self._constructor_failures(flows, skip)]

    async def _constructor_failures(
        self, flows: list[dict[str, Any]], skip: set[str] | frozenset[str] = frozenset(),
        first_only: bool = False,
    ) -> list[tuple[str, str, Exception]]:
        """``(node id, type, exception)`` for each node of ``flows`` whose constructor
        raises, in a dry run (see :meth:`check_nodes`); only the first if ``first_only``."""
        graph = build_graph(flows)
        dry_run = DryRun(self, graph)
        failures: dict[str, tuple[str, Exception]] = {}
        try:
            for spec in _start_order(graph, set(graph.nodes), self.registry):
                if spec.type not in INTERNAL_TYPES and spec.type not in self.registry:
                    continue
                original = str(spec.config.get("_alias", spec.id))
                if original in skip:
                    continue
                try:
                    dry_run.created[spec.id] = self._create(spec, dry_run)
                except Exception as exc:
                    if original not in failures:
                        failures[original] = (spec.type, exc)
                        if first_only:
                            break
        finally:
            await dry_run.discard()
        return [(node_id, node_type, exc) for node_id, (node_type, exc) in failures.items()]

    async def _keep_extracted_credentials(self, flows: list[dict[str, Any]],
                                          credentials: dict[str, dict[str, Any]],
                                          nodes: list[str]) -> None:
        # A flow file exported with credentials: they move into the (encrypted)
        # credentials file, out of the flow file, which ``GET /flows`` serves.
        if self.storage is None:
            return
        try:
            await asyncio.to_thread(self.storage.save, flows, credentials)
        except DataFileError as exc:
            log.error("credentials written in the flow file (nodes %s) could not be moved "
                      "to the credentials file: %s", ", ".join(nodes), exc)
            return
        log.warning("moved the credentials written in the flow file (nodes %s) to the "
                    "credentials file", ", ".join(nodes))

    async def stop(self) -> None:
        """Stop every node (close handlers, with a timeout) and flush context."""
        async with self._lock:
            self._forget_failed()
            await self._stop_nodes(set(self.nodes), removed=False)
            self._set_state("stop", "stopped")
        await self.contexts.close()

    # ---------------------------------------------------------------- deploying
    async def _apply(self, flows: list[dict[str, Any]], deploy_type: str,
                     changed_creds: set[str], strict: bool = False,
                     refused: dict[str, str] | None = None) -> None:
        """Stop, create, wire and start what ``deploy_type`` requires; the nodes in
        ``refused`` (id → why) fail to configure without being created."""
        graph = build_graph(flows)
        old = self._graph
        if deploy_type == "full":
            stop, start = set(self.nodes), set(graph.nodes)
        else:
            diff = diff_graphs(old, graph, changed_creds)
            restart = diff.changed | (diff.linked | diff.rewired
                                      if deploy_type == "flows" else set())
            stop = (restart | diff.removed) & set(self.nodes)
            start = (restart | diff.added) & set(graph.nodes)
            # Nodes not running (new, or failed before: tried again) start too.
            start |= set(graph.nodes) - set(self.nodes)
        removed = set(old.nodes) - set(graph.nodes)
        self._forget_failed()
        await self._stop_nodes(stop, removed=False, removed_ids=removed)
        if stop:
            # The stopped nodes refer to each other (and their rules to them): only the
            # cyclic collector frees them. Free them now, before the new graph is
            # built, so that it reuses their memory instead of adding to it.
            gc.collect()
            _trim_heap()
        self._graph = graph
        self.groups = graph.groups
        self.global_env = graph.global_env
        self._sync_flows(graph)
        # Create every node and connect the wires before any starts, so a node
        # may send from start() (Node-RED nodes can send from their constructor).
        created: list[Node] = []
        for spec in _start_order(graph, start, self.registry):
            try:
                why = (refused or {}).get(str(spec.config.get("_alias", spec.id)))
                if why is not None:
                    raise NodeError(why, node_id=spec.id, node_type=spec.type)
                node = self._create(spec)
            except Exception as exc:
                if strict:
                    await self._abort(created, spec.config, exc)
                self._fail(spec.config, spec.flow_id, "configure", exc)
                continue
            self.nodes[spec.id] = node
            created.append(node)
        self._rewire(graph)
        start_failed = False
        # A node started earlier may send to one not started yet: that waits.
        holds = {node.id: HeldDeliveries(node) for node in created}
        for node in created:
            hold = holds.pop(node.id)
            try:
                await node.start()
            except Exception as exc:
                if strict:
                    for other in (hold, *holds.values()):
                        other.discard()
                    await self._abort(created, node.config, exc)
                start_failed = True
                # Whatever it acquired before failing is released as on any stop.
                await self._stop_nodes({node.id}, removed=False)
                self._fail(node.config, graph.nodes[node.id].flow_id, "start", exc)
                hold.release(self.failed[node.id])
            else:
                hold.release(node)
        if start_failed:
            self._rewire(graph)  # wires to the nodes that failed lead to their stand-ins
        self.contexts.clean(set(graph.nodes) | set(graph.flows))
        self._set_state("start", "running")
        failed = f", {len(self.failed)} failed" if self.failed else ""
        log.info("Started %s: %d nodes%s", "flows" if deploy_type == "full"
                 else f"modified {deploy_type}", len(start), failed)

    async def _abort(self, created: list[Node], config: dict[str, Any],
                     exc: Exception) -> None:
        """strictDeploy: stop what this deploy created and raise DeployError."""
        await self._stop_nodes({n.id for n in created}, removed=True)
        self._forget_failed()
        # self._graph stays the refused deploy's: the rollback diffs it against the
        # previous flows and restarts only the nodes this deploy stopped or created.
        raise DeployError(f"node {config['id']} ({config['type']}) failed to start: "
                          f"{error_text(exc)}", config["id"], config["type"]) from exc

    def _fail(self, config: dict[str, Any], flow_id: str, stage: Stage,
              exc: Exception) -> None:
        """Put a FailedNode in the place of a node that failed, and report it."""
        stand_in = FailedNode(config, self.new_context(config["id"], flow_id), stage, exc,
                              flow_id)
        self.failed[stand_in.id] = stand_in
        stand_in.report()

    def _forget_failed(self) -> None:
        """Drop the stand-ins of failed nodes (a deploy tries those nodes again)."""
        if not self.failed:
            return
        stand_ins = set(self.failed.values())
        self.dispatcher.clear_for(stand_ins)  # type: ignore[arg-type]
        for stand_in in stand_ins:
            self.events.publish(f"status/{stand_in.id}", {}, retain=True)
        self.failed = {}

    def _create(self, spec: NodeSpec, dry_run: DryRun | None = None) -> Node:
        """Construct the node of ``spec`` (not started).

        A deploy creates nodes in the running flows; ``check_nodes`` passes a
        :class:`DryRun`, so that validation constructs nodes exactly as a deploy
        does, without touching the running flows.
        """
        cls = INTERNAL_TYPES.get(spec.type) or self.registry.get(spec.type)
        if cls is None:
            raise DeployError(flowdoc.unknown_type_message(spec.type), spec.id, spec.type)
        flow = (dry_run.flows if dry_run is not None else self.flows)[spec.flow_id]
        config = {**defaults_of(cls.schema), **cls.config_when_absent, **spec.config}
        config = flow.substitute_env(config, config)
        ctx = (self.new_context(spec.id, spec.flow_id) if dry_run is None
               else dry_run.context(spec.id, flow))
        node = cls(config, ctx)
        creds = self.credentials.get(spec.id) or self.credentials.get(config.get("_alias", ""))
        node.creds = flow.substitute_env(dict(creds or {}), config)
        return node

    def new_context(self, node_id: str, flow_id: str) -> NodeContext:
        """The context of a node about to be created in a running flow."""
        return NodeContext(host=self, flow=self.flows[flow_id], node_id=node_id,
                           clock=self.clock, settings=self.settings, data_dir=self.data_dir,
                           contexts=self.contexts, dispatcher=self.dispatcher,
                           events=self.events, endpoints=self.endpoints)

    def _sync_flows(self, graph: Graph) -> None:
        flows: dict[str, Flow] = {}
        for flow_id, spec in graph.flows.items():
            existing = self.flows.get(flow_id)
            # A subflow instance's flow resolves env through the instance node's config:
            # a changed instance (its env) needs a new flow, as a changed tab does.
            if (existing is not None and existing.config == spec.config
                    and existing.instance == spec.instance):
                flows[flow_id] = existing
                continue
            flows[flow_id] = Flow(self, spec.config, self.contexts.flow(flow_id),
                                  subflow=spec.subflow, instance=spec.instance)
        for flow_id, spec in graph.flows.items():
            flows[flow_id].parent = flows.get(spec.parent_id) if spec.parent_id else None
        self.flows = flows

    def _rewire(self, graph: Graph) -> None:
        nodes = self.nodes
        # A wire to a node that failed leads to its stand-in, which drops and counts.
        targets: dict[str, Node] = {**self.failed, **nodes}
        members: dict[str, list[Node]] = {}
        for node_id, node in nodes.items():
            spec = graph.nodes[node_id]
            wires = [[targets[t] for t in port if t in targets] for port in spec.wires]
            while wires and not wires[-1]:
                wires.pop()
            node.ctx.wires = wires
            node.ctx.flow = self.flows[spec.flow_id]
            members.setdefault(spec.flow_id, []).append(node)
        for flow_id, flow in self.flows.items():
            flow_nodes = members.get(flow_id, [])
            flow.index(flow_nodes)
            flow.instance_node = nodes.get(flow_id) if flow.instance is not None else None
            for node in flow_nodes:
                node.ctx.watch_complete = flow.watches_complete(node)

    async def _stop_nodes(self, ids: set[str], removed: bool,
                          removed_ids: set[str] | None = None) -> None:
        nodes = [self.nodes[i] for i in ids if i in self.nodes]
        if not nodes:
            return
        self.dispatcher.clear_for(set(nodes))
        # Flow nodes stop before the config nodes they use (Node-RED's order).
        for group in ([n for n in nodes if n.category != "config"],
                      [n for n in nodes if n.category == "config"]):
            await asyncio.gather(*(self._close(n, removed or n.id in (removed_ids or ()))
                                   for n in group))
        for node in nodes:
            self.nodes.pop(node.id, None)
            node.ctx.wires = []

    async def _close(self, node: Node, removed: bool) -> None:
        try:
            await asyncio.wait_for(node.close(removed), self.settings.node_close_timeout)
        except TimeoutError:
            node.log.error("Error stopping node: Close timed out")
        except Exception as exc:
            node.log.error("Error stopping node: %s", exc)
        await node._stop_tasks()
        if removed:
            self.events.publish(f"status/{node.id}", {}, retain=True)

    def _extract_credentials(
        self, flows: list[dict[str, Any]], supplied: dict[str, dict[str, Any]] | None,
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], set[str]]:
        """Split ``credentials`` out of the nodes (Node-RED's ``credentials.extract``)."""
        store = {k: dict(v) for k, v in (supplied if supplied is not None
                                         else self.credentials).items()}
        changed: set[str] = set()
        clean: list[dict[str, Any]] = []
        for node in flows:
            if "credentials" not in node:
                clean.append(node)
                continue
            node = dict(node)
            given = node.pop("credentials") or {}
            cls = self.registry.get(node["type"])
            fields = cls.credentials if cls else {}
            current = store.setdefault(node["id"], {})
            for name, value in given.items():
                if fields and name not in fields and not name.startswith("has_"):
                    continue
                if name.startswith("has_"):
                    continue
                if value == UNCHANGED_PASSWORD:
                    continue
                if value is None or (isinstance(value, str) and not value.strip()):
                    if current.pop(name, None) is not None:
                        changed.add(node["id"])
                elif current.get(name) != value:
                    current[name] = value
                    changed.add(node["id"])
            clean.append(node)
        ids = {n["id"] for n in clean}
        store = {k: v for k, v in store.items() if k in ids and v}
        return clean, store, changed

    # ------------------------------------------------------------------ events
    def _set_state(self, state: str, reason: str) -> None:
        self.state, self.state_reason = state, reason
        data: dict[str, Any] = {"state": state}
        if reason == "missing-types":
            data.update(error="missing-types", type="warning", types=self.missing,
                        text="notification.warnings.missing-types")
        self.events.publish("notification/runtime-state", data, retain=True)

    def publish_status(self, node: Node, status: dict[str, Any]) -> None:
        """Publish a node's status on ``status/<id>`` (retained)."""
        self.events.publish(f"status/{node.id}", status, retain=True)

    def publish_log(self, node: Node, level: int, text: str, msg: Message | None) -> None:
        """Forward a node's warning or error to the debug sidebar (errors are counted)."""
        if level >= logging.ERROR:
            self.stats.errors += 1
        self.events.publish("debug", {
            "level": 20 if level >= logging.ERROR else 30,
            "id": node.id, "type": node.config["type"], "name": node.name,
            "z": node.z, "path": node.ctx.flow.path, "msg": text, "format": "string",
            "timestamp": int(time.time() * 1000),
            **({"_msgid": msg.get("_msgid")} if msg else {}),
        })

    def node_counts(self) -> dict[str, tuple[int, int, int]]:
        """Per node type: messages received, sent and errors (for ``/metrics``)."""
        counts: dict[str, tuple[int, int, int]] = {}
        for node in self.nodes.values():
            r, s, e = counts.get(node.config["type"], (0, 0, 0))
            counts[node.config["type"]] = (r + node.received, s + node.sent, e + node.errors)
        return counts


def revision(flows: list[dict[str, Any]]) -> str:
    """The flows' revision: sha256 of their JSON (changes whenever the flows change).
    Keys are sorted: a project stores a node's keys in an order of its own, and the
    flows read back after a restart must keep the revision an open editor holds."""
    return hashlib.sha256(orjson.dumps(flows, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _with_inline_credentials(flows: list[dict[str, Any]]) -> list[str]:
    """Ids of the nodes that carry ``credentials`` (none if the document is malformed)."""
    # The shape is checked only when there is something to extract: on a document
    # without inline credentials (nearly all) it would repeat, at every start, the
    # check that parsing and validation already make (about 1 s for 20k nodes).
    if not isinstance(flows, list) or not any(
            isinstance(node, dict) and "credentials" in node for node in flows):
        return []
    try:
        flowdoc.check_shape(flows)
    except FlowValidationError:
        return []  # reported by the validation that follows
    return [node["id"] for node in flows if "credentials" in node]


def _refused(config_problems: list[Problem]) -> dict[str, str]:
    """Node id → why its type's schema refuses its config: such a node fails to
    configure on its own (as a constructor that raises does) and the rest runs."""
    refused: dict[str, str] = {}
    for problem in config_problems:
        assert problem.id is not None
        where = problem.path.split("]", 1)[1].lstrip(".") or "config"
        refused.setdefault(problem.id, f"invalid configuration: {where}: {problem.message}")
    return refused


def _global_config(flows: list[dict[str, Any]]) -> Any:
    return [n for n in flows if n.get("type") == "global-config"]


def _start_order(graph: Graph, ids: set[str], registry: Registry) -> list[NodeSpec]:
    # Config nodes first (those referring to other config nodes after them), then
    # nodes with inputs, and sources (inject, mqtt in...) last: a source started
    # early could deliver to a node whose start() (opening a queue) has not run.
    specs = [graph.nodes[i] for i in ids]
    config_ids = {s.id for s in specs if s.is_config}

    def rank(spec: NodeSpec) -> tuple[int, str]:
        if spec.is_config:
            refers = any(isinstance(v, str) and v in config_ids and v != spec.id
                         for v in spec.config.values())
            return (1 if refers else 0, spec.id)
        cls = INTERNAL_TYPES.get(spec.type) or registry.get(spec.type)
        return (3 if cls is not None and cls.inputs == 0 else 2, spec.id)

    return sorted(specs, key=rank)


def _trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``).

    A big deploy's parsed document and the graph it replaced leave freed memory that
    glibc keeps resident; without this, RSS creeps up deploy after deploy though
    nothing is retained. Elsewhere (musl, macOS) there is nothing to call.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class DryRun:
    """The flows, host and services of nodes created only to be checked.

    It gives constructors what a deploy gives them (flows with their env, the
    settings, config nodes created earlier in the same order through
    ``get_node``) but its own context stores, run queue and event hub, so a
    constructor's side effects stay here; ``discard`` cancels their tasks.
    """

    def __init__(self, runtime: Runtime, graph: Graph) -> None:
        self.runtime = runtime
        self.groups = graph.groups
        self.global_env = graph.global_env
        self.created: dict[str, Node] = {}
        # The same store names as the runtime's, in memory: a constructor that checks
        # a store name sees what a deploy would, and nothing is written to disk.
        stores: dict[str, Any] = {name: {"module": "memory"}
                                  for name in runtime.contexts.stores}
        if "default" not in stores:
            stores["default"] = runtime.contexts.default  # the name of the default store
        self.contexts = ContextStores(stores)
        self.dispatcher = Dispatcher(runtime.settings.max_pending_messages, runtime.clock)
        self.events = Events()
        self.endpoints = Endpoints(runtime.settings.http_node_root)  # served by nobody
        self.flows: dict[str, Flow] = {
            flow_id: Flow(self, spec.config, self.contexts.flow(flow_id),
                          subflow=spec.subflow, instance=spec.instance)
            for flow_id, spec in graph.flows.items()}
        for flow_id, spec in graph.flows.items():
            self.flows[flow_id].parent = self.flows.get(spec.parent_id or "")

    def context(self, node_id: str, flow: Flow) -> NodeContext:
        """The context of a node created in this dry run."""
        runtime = self.runtime
        return NodeContext(host=self, flow=flow, node_id=node_id, clock=runtime.clock,
                           settings=runtime.settings, data_dir=runtime.data_dir,
                           contexts=self.contexts, dispatcher=self.dispatcher,
                           events=self.events, endpoints=self.endpoints)

    def get_node(self, node_id: str) -> Node | None:
        """A node created earlier in this dry run."""
        return self.created.get(node_id)

    def running_nodes(self) -> Iterator[Node]:
        """Nothing runs in a dry run."""
        return iter(())

    def publish_status(self, node: Node, status: dict[str, Any]) -> None:
        """A constructor's status goes nowhere: nothing shows a dry run."""

    def publish_log(self, node: Node, level: int, text: str, msg: Message | None) -> None:
        """A constructor's warning goes to the log only (``Node.warn`` logged it)."""

    async def discard(self) -> None:
        """Cancel whatever tasks the constructors started."""
        for node in self.created.values():
            await node._stop_tasks()
        self.created.clear()
