"""The project commands of ``flowrt``: export, log, diff, rollback, project init, push, pull.

They work on the data directory's files (``--data-dir``, default ``~/.flowrt``), with
the settings found there. ``rollback`` and ``pull`` change the deployed flows: given
``--url`` of a running flowrt they go through its admin API (``--token`` when
adminAuth is on), so the server deploys them; without it they edit the data directory
and refuse to when a flowrt answers on the port of the settings (its next deploy would
overwrite the change).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowrt import flowdoc
from flowrt.deploy_note import DeployNote
from flowrt.errors import DataFileError, FlowrtError, ProjectError
from flowrt.projects import diff as semantic
from flowrt.projects.storage import (
    ProjectStorage,
    default_author,
    init_project,
    storage_for,
)
from flowrt.settings import DEFAULT_DATA_DIR, Settings, SettingsError, load_settings

Handler = Callable[[argparse.Namespace], int]
Command = Callable[[Handler, str], argparse.ArgumentParser]
HTTP_TIMEOUT = 60.0


def export(args: argparse.Namespace) -> int:
    """Write the deployed flows (or a version's: --rev) as one Node-RED flows.json."""
    settings, data_dir = _settings(args)
    if args.rev:
        flows = _project(settings, data_dir).flows_at(args.rev)
    else:
        flows = storage_for(settings, data_dir).load_flows()
    if args.output:
        flowdoc.save(args.output, flows)
        print(f"wrote {len(flows)} nodes to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(flowdoc.dumps(flows).decode() + "\n")
    return 0


def log(args: argparse.Namespace) -> int:
    """List the deploys, newest first: commit, date, author, message."""
    project = _project(*_settings(args))
    for commit in project.history(args.max_count):
        subject = commit.message.splitlines()[0] if commit.message else ""
        print(f"{commit.rev[:10]}  {commit.date}  {commit.author:<16}  {subject}")
    return 0


def diff(args: argparse.Namespace) -> int:
    """Show what changed between two versions, node by node (B default: the last one)."""
    project = _project(*_settings(args))
    before, after = project.flows_at(args.a), project.flows_at(args.b)
    changes = semantic.diff(before, after)
    if args.json:
        print(json.dumps(changes, indent=2, ensure_ascii=False))
    else:
        print(semantic.format_text(changes, before, after))
    return 0


def rollback(args: argparse.Namespace) -> int:
    """Deploy an earlier version again, as a new commit (through --url's server, or
    in the data directory when no server runs)."""
    if args.url:
        answer = _request(args, "POST", f"/history/{args.rev}/deploy",
                          {"message": args.message} if args.message else {})
        print(f"deployed {args.rev} again: commit {str(answer['commit'])[:10]}")
        return 0
    settings, data_dir = _settings(args)
    project = _project(settings, data_dir)
    _refuse_if_running(settings)
    commit = project.commit_of(args.rev)
    flows = project.flows_at(commit.rev)
    _, credentials = project.load()
    subject = commit.message.splitlines()[0] if commit.message else ""
    project.save(flows, credentials, DeployNote(None, args.message or (
        f"Deploy version {commit.rev[:8]} again ({subject})")))
    print(f"the data directory has version {commit.rev[:10]} again "
          f"(commit {str(project.repo.head())[:10]}); it runs at the next start")
    return 0


def project(args: argparse.Namespace) -> int:
    """Manage the flows project: `init` converts the data directory's flow file into a
    git repository (DATA_DIR/project), where every deploy is a commit."""
    settings, data_dir = _settings(args)
    created = init_project(settings, data_dir)
    print(f"created the flows project {created.root} "
          f"({len(created.load_flows())} nodes, commit {str(created.repo.head())[:10]})")
    return 0


def push(args: argparse.Namespace) -> int:
    """Push the flows' history to a git remote (a name or URL), with your own git
    credentials (ssh keys, credential helpers) as git uses them."""
    repo = _project(*_settings(args), interactive=True).repo
    repo.run("push", *([args.remote, "HEAD"] if args.remote else []))
    print(f"pushed {str(repo.head())[:10]}")
    return 0


def pull(args: argparse.Namespace) -> int:
    """Pull the flows from a git remote (merging as git does); with --url, the server
    then deploys them."""
    settings, data_dir = _settings(args)
    project = _project(settings, data_dir, interactive=True)
    if not args.url:
        _refuse_if_running(settings)
    project.repo.run("pull", "--no-rebase", "--no-edit", *([args.remote] if args.remote else []))
    flows = project.load_flows()  # what a start or reload reads: refuse what cannot load
    print(f"pulled: {len(flows)} nodes at {str(project.repo.head())[:10]}")
    if args.url:
        _request(args, "POST", "/flows", None, {"Node-RED-Deployment-Type": "reload"})
        print("the server deployed them")
    return 0


def add_commands(command: Command) -> None:
    """Add the project commands to the ``flowrt`` parser (``command(function, name)``
    makes a sub-parser running ``function``)."""
    sub = command(_guarded(export), "export")
    _data_dir(sub)
    sub.add_argument("--rev", help="A version from `flowrt log` (default: the deployed flows).")
    sub.add_argument("-o", "--output", type=Path, help="Write to this file (default: stdout).")

    sub = command(_guarded(log), "log")
    _data_dir(sub)
    sub.add_argument("-n", "--max-count", type=int, default=50, help="At most N (50).")

    sub = command(_guarded(diff), "diff")
    _data_dir(sub)
    sub.add_argument("a", metavar="A", help="The older version (a commit from `flowrt log`).")
    sub.add_argument("b", metavar="B", nargs="?", default="HEAD", help="The newer (HEAD).")
    sub.add_argument("--json", action="store_true", help="The diff as JSON.")

    sub = command(_guarded(rollback), "rollback")
    _data_dir(sub)
    _server(sub)
    sub.add_argument("rev", metavar="REV", help="The version to deploy again.")
    sub.add_argument("-m", "--message", help="The commit message.")

    sub = command(_guarded(project), "project")
    _data_dir(sub)
    sub.add_argument("action", choices=["init"], help="init: make the flows project.")

    sub = command(_guarded(push), "push")
    _data_dir(sub)
    sub.add_argument("remote", metavar="REMOTE", nargs="?",
                     help="A remote name or URL (default: the branch's upstream).")

    sub = command(_guarded(pull), "pull")
    _data_dir(sub)
    _server(sub)
    sub.add_argument("remote", metavar="REMOTE", nargs="?",
                     help="A remote name or URL (default: the branch's upstream).")


# --------------------------------------------------------------------- helpers
def _guarded(handler: Handler) -> Handler:
    """``handler`` with its errors as one line on stderr and exit code 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (FlowrtError, SettingsError, OSError) as exc:
            print(f"flowrt {handler.__name__}: {exc}", file=sys.stderr)
            return 1

    return run


def _data_dir(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                     help="Data directory (default ~/.flowrt).")


def _server(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--url", help="A running flowrt (http://host:port) that deploys the change.")
    sub.add_argument("--token", help="Its admin token (POST /auth/token), with adminAuth.")


def _settings(args: argparse.Namespace) -> tuple[Settings, Path]:
    data_dir = Path(args.data_dir).expanduser()
    return load_settings(data_dir), data_dir


def _project(settings: Settings, data_dir: Path, interactive: bool = False) -> ProjectStorage:
    project = ProjectStorage(data_dir, settings.credential_secret, default_author(settings),
                             interactive=interactive)
    if not project.repo.exists():
        raise DataFileError(data_dir, f"{data_dir} has no flows project (convert its flow "
                                      "file with `flowrt project init`)")
    return project


def _refuse_if_running(settings: Settings) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2):
            pass
    except urllib.error.HTTPError:
        pass  # something answers: a flowrt (its health may be degraded)
    except OSError:
        return
    raise ProjectError(f"a flowrt server answers on {host}:{settings.port}: give its --url "
                       "so that it deploys the change (or stop it first)")


def _request(args: argparse.Namespace, method: str, path: str, body: Any,
             headers: dict[str, str] | None = None) -> Any:
    all_headers = {"Content-Type": "application/json", "Node-RED-API-Version": "v2",
                   **(headers or {})}
    if args.token:
        all_headers["Authorization"] = f"Bearer {args.token}"
    data = json.dumps(body).encode() if body is not None else b"{}"
    request = urllib.request.Request(args.url.rstrip("/") + path, data=data, method=method,
                                     headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise ProjectError(f"{args.url} answered {exc.code}: {message}") from None
    return json.loads(text) if text.strip() else {}
