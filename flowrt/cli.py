"""The ``flowrt`` command line: run, validate, nodes, test, hash-password, and the
project commands (export, log, diff, rollback, project init, push, pull:
flowrt.projects.cli).

Built on ``argparse``: the runtime pays for whatever its command line imports (``click``
cost about 1 MB of an idle gateway's memory), and four commands need nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from flowrt import flowdoc
from flowrt.errors import FlowValidationError, Problem
from flowrt.projects import cli as project_cli
from flowrt.registry import discover
from flowrt.settings import DEFAULT_DATA_DIR


def run(args: argparse.Namespace) -> int:
    """Start the runtime and the editor (FLOWFILE default: DATA_DIR/flows.json)."""
    from flowrt.server.app import serve

    return serve(flowfile=args.flowfile, port=args.port, host=args.host,
                 data_dir=args.data_dir, settings_file=args.settings)


def validate(args: argparse.Namespace) -> int:
    """Check flow files: document shape, ids, node types, every node's config, and
    that every node can be created (code and expressions compile); nothing is started.
    Every problem of a file is listed, each with its node id, type and JSON path."""
    from flowrt.runtime import Runtime

    registry = discover(args.data_dir)
    runtime = Runtime(registry)
    failed = False
    for path in args.flowfiles:
        try:
            problems = asyncio.run(runtime.validate(flowdoc.parse_json(path.read_bytes(),
                                                                       str(path))))
        except FlowValidationError as exc:
            problems = exc.problems
        except OSError as exc:
            problems = [Problem(None, None, "$", f"cannot read the file: {exc.strerror}")]
        if problems:
            failed = True
            print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


def nodes(args: argparse.Namespace) -> int:
    """List every installed node type and where it came from."""
    registry = discover(args.data_dir)
    width = max((len(t) for t in registry.types), default=4)
    for name, entry in sorted(registry.types.items()):
        print(f"{name:<{width}}  {entry.cls.category:<10}  {entry.origin}  ({entry.module})")
    for error in registry.errors:
        print(f"error: {error}", file=sys.stderr)
    return 0


def hash_password(args: argparse.Namespace) -> int:
    """Print an argon2 hash for a password in settings.toml's [[adminAuth.users]]."""
    from flowrt.server.auth import hash_password as make_hash

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat for confirmation: "):
            args.parser.error("the two passwords differ")
    if not password:
        args.parser.error("the password is empty")
    print(make_hash(password))
    return 0


def test(args: argparse.Namespace) -> int:
    """Run the flow tests (docs/flow-tests.md) of flow files, test-case files or
    directories (default: the current one); one line per case, and what differed for
    each failure. Exit 1 when a case fails. MQTT and HTTP are faked unless --real."""
    from flowrt.flowtests.console import run_tests

    return run_tests(args.paths, real=args.real, keyword=args.keyword, out=sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowrt", description="flowrt: a Node-RED-style flow runtime for IoT edge gateways.")
    parser.add_argument("--version", action="version",
                        version=f"flowrt, version {version('flowrt')}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(function: object, name: str) -> argparse.ArgumentParser:
        doc = (function.__doc__ or "").strip()
        sub = commands.add_parser(name, help=doc.split("\n")[0], description=doc)
        sub.set_defaults(handler=function, parser=sub)
        return sub

    sub = command(run, "run")
    sub.add_argument("flowfile", nargs="?", type=Path,
                     help="flow file (JSON), or a flows project's directory")
    sub.add_argument("--port", type=int, help="HTTP port (default 1880).")
    sub.add_argument("--host", help="Address to listen on (default 127.0.0.1).")
    sub.add_argument("--data-dir", type=Path, help="Data directory (default ~/.flowrt).")
    sub.add_argument("--settings", type=Path,
                     help="Settings file (default DATA_DIR/settings.toml).")

    sub = command(validate, "validate")
    sub.add_argument("flowfiles", nargs="+", type=Path, metavar="FLOWFILE")
    sub.add_argument("--data-dir", type=Path, help="Also load node types from DATA_DIR/nodes.")

    sub = command(nodes, "nodes")
    sub.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR.expanduser(),
                     help="Data directory whose nodes/ to include.")

    sub = command(test, "test")
    sub.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                     help="flow file (its NAME.tests.yaml), test-case file or directory")
    sub.add_argument("--real", action="store_true",
                     help="Use the flows' real MQTT brokers and the network (no fakes).")
    sub.add_argument("-k", dest="keyword", help="Only cases whose name contains this text.")

    project_cli.add_commands(command)

    sub = command(hash_password, "hash-password")
    sub.add_argument("--stdin", action="store_true",
                     help="Read the password from the first line of stdin instead of prompting.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (also raised as SystemExit by the console script)."""
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
