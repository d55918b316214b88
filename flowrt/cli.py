"""The ``flowrt`` command line: run, validate, nodes, hash-password."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from flowrt import flowdoc
from flowrt.errors import FlowValidationError, Problem
from flowrt.registry import discover
from flowrt.settings import DEFAULT_DATA_DIR


@click.group()
@click.version_option(package_name="flowrt")
def main() -> None:
    """flowrt: a Node-RED-style flow runtime for IoT edge gateways."""


@main.command()
@click.argument("flowfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", type=int, default=None, help="HTTP port (default 1880).")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data directory (default ~/.flowrt).")
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Settings file (default DATA_DIR/settings.toml).")
def run(flowfile: Path | None, port: int | None, host: str | None, data_dir: Path | None,
        settings_file: Path | None) -> None:
    """Start the runtime and the editor (FLOWFILE default: DATA_DIR/flows.json)."""
    from flowrt.server.app import serve

    sys.exit(serve(flowfile=flowfile, port=port, host=host, data_dir=data_dir,
                   settings_file=settings_file))


@main.command()
@click.argument("flowfiles", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also load node types from DATA_DIR/nodes.")
def validate(flowfiles: tuple[Path, ...], data_dir: Path | None) -> None:
    """Check flow files: document shape, ids, node types, every node's config, and
    that every node can be created (code and expressions compile); nothing is started.
    Every problem of a file is listed, each with its node id, type and JSON path."""
    from flowrt.runtime import Runtime

    registry = discover(data_dir)
    runtime = Runtime(registry)
    failed = False
    for path in flowfiles:
        try:
            problems = asyncio.run(runtime.validate(flowdoc.parse_json(path.read_bytes(),
                                                                       str(path))))
        except FlowValidationError as exc:
            problems = exc.problems
        except OSError as exc:
            problems = [Problem(None, None, "$", f"cannot read the file: {exc.strerror}")]
        if problems:
            failed = True
            click.echo(f"{path}: {len(problems)} problem(s)", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
        else:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DATA_DIR.expanduser(),
              help="Data directory whose nodes/ to include.")
def nodes(data_dir: Path) -> None:
    """List every installed node type and where it came from."""
    registry = discover(data_dir)
    width = max((len(t) for t in registry.types), default=4)
    for name, entry in sorted(registry.types.items()):
        click.echo(f"{name:<{width}}  {entry.cls.category:<10}  {entry.origin}  ({entry.module})")
    for error in registry.errors:
        click.echo(f"error: {error}", err=True)


@main.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
def hash_password(from_stdin: bool) -> None:
    """Print an argon2 hash for a password in settings.toml's [[adminAuth.users]]."""
    from flowrt.server.auth import hash_password as make_hash

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("the password is empty")
    click.echo(make_hash(password))
