"""The pytest plugin flowrt ships (entry point ``pytest11``): ``pytest flows/`` collects
every ``*.tests.yaml`` / ``*.tests.json`` file and runs each case as a test item, with
the failure text ``flowrt test`` prints. ``--flowrt-real`` runs them on the flows' real
brokers and network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowrt.flowtests.runner import run_case_sync
from flowrt.flowtests.spec import Case, FlowTestFormatError, TestFile, is_test_file, load_test_file


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--flowrt-real``."""
    parser.getgroup("flowrt").addoption(
        "--flowrt-real", action="store_true",
        help="run flow tests on the flows' real MQTT brokers and the network (no fakes)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A test-case file becomes a :class:`FlowTestFile`."""
    if is_test_file(file_path):
        return FlowTestFile.from_parent(parent, path=file_path)
    return None


class FlowTestFile(pytest.File):
    """One test-case file; its cases are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        """One :class:`FlowTestItem` per case; a file that cannot be used is a collection
        error listing every problem with its line."""
        try:
            test_file = load_test_file(self.path)
        except FlowTestFormatError as exc:
            raise self.CollectError(str(exc)) from None
        for case in test_file.cases:
            yield FlowTestItem.from_parent(self, name=case.name, test_file=test_file, case=case)


class FlowCaseFailed(Exception):
    """A flow-test case failed; the lines say where and how."""


class FlowTestItem(pytest.Item):
    """One case of a test-case file."""

    def __init__(self, *, test_file: TestFile, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_file = test_file
        self.case = case

    def runtest(self) -> None:
        """Run the case on its own event loop."""
        result = run_case_sync(self.test_file, self.case,
                               real=bool(self.config.getoption("flowrt_real")))
        if result.failure is not None:
            raise FlowCaseFailed("\n".join(result.failure))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        """A failed case as ``flowrt test`` shows it (no Python traceback)."""
        if isinstance(excinfo.value, FlowCaseFailed):
            return f"{self.case.where}: FAILED\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the case is written."""
        return self.path, self.case.line - 1, f"flow test: {self.case.name}"
