"""``flowrt test``: find test-case files, run their cases, print pass/fail per case."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from flowrt.flowtests.runner import CaseResult, run_case_sync
from flowrt.flowtests.spec import (
    FlowTestFormatError,
    is_test_file,
    load_test_file,
    tests_beside,
)


def find_test_files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The test-case files ``paths`` name: a test-case file itself, a flow file's
    (``demo.json`` → ``demo.tests.yaml``...), or every one under a directory. Also the
    problems: a path that does not exist, a flow file without tests."""
    found: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            under = sorted(p for p in path.rglob("*") if p.is_file() and is_test_file(p))
            if not under:
                problems.append(f"{path}: no test-case files (*.tests.yaml, *.tests.json) "
                                "under this directory")
            found += under
        elif not path.exists():
            problems.append(f"{path}: no such file or directory")
        elif is_test_file(path) or path.suffix in (".yaml", ".yml"):
            found.append(path)
        elif beside := tests_beside(path):
            found += beside
        else:
            problems.append(f"{path}: no test cases beside it (write "
                            f"{path.name.removesuffix('.json')}.tests.yaml)")
    return list(dict.fromkeys(found)), problems


def run_tests(paths: list[Path], *, real: bool = False, keyword: str | None = None,
              out: TextIO) -> int:
    """Run every case (whose name contains ``keyword``) and print the outcome; the exit
    code: 0 when all passed, 1 when a case failed or a file could not be used."""
    files, problems = find_test_files(paths or [Path()])
    passed = failed = 0
    # Node errors are part of a failure's report; logged as well they would only repeat it.
    flowrt_log = logging.getLogger("flowrt")
    level = flowrt_log.level
    flowrt_log.setLevel(logging.CRITICAL)
    try:
        for path in files:
            try:
                test_file = load_test_file(path)
            except FlowTestFormatError as exc:
                problems += exc.problems
                continue
            cases = [c for c in test_file.cases if not keyword or keyword in c.name]
            if not cases:
                continue
            print(f"{path} ({test_file.flows_path})", file=out)
            for case in cases:
                try:
                    result = run_case_sync(test_file, case, real=real)
                except Exception as exc:  # a runner bug: say so, go on with the others
                    result = CaseResult(case, [f"the runner failed: {type(exc).__name__}: "
                                               f"{exc}"])
                if result.failure is None:
                    passed += 1
                    print(f"  PASS  {case.name}", file=out)
                    continue
                failed += 1
                print(f"  FAIL  {case.name}  (line {case.line})", file=out)
                for line in result.failure:
                    print(f"        {line}", file=out)
    finally:
        flowrt_log.setLevel(level)
    if not passed + failed and not problems:
        problems.append("no case ran" + (f" (none is named like {keyword!r})" if keyword
                                         else ""))
    for problem in problems:
        print(f"error: {problem}", file=out)
    summary = f"{passed} passed, {failed} failed"
    if problems:
        summary += f", {len(problems)} error(s)"
    print(summary, file=out)
    return 1 if failed or problems else 0
