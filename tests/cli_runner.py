"""Running the ``flowrt`` command line in-process, as a person at the terminal sees it."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from flowrt.cli import main


@dataclass
class Result:
    exit_code: int
    output: str
    """stdout then stderr."""


def run_cli(*args: str) -> Result:
    """``flowrt ARGS``: its exit code and output. An exception other than argparse's
    SystemExit (a traceback the person would see) propagates and fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # usage errors, --help, --version
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue() + err.getvalue())
