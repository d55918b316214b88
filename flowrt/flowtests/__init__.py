"""Flow tests: test cases stored beside the flows, run on a fake clock (docs/flow-tests.md).

``NAME.tests.yaml`` (or ``.tests.json``) beside ``NAME.json`` holds cases: messages
injected at nodes or published on MQTT topics, context values, fake time moved on, and
the messages expected at nodes or on topics. :func:`load_test_file` reads a file (every
problem names its file and line); :func:`run_case` runs one case on
:class:`~flowrt.testing.FlowHarness`. ``flowrt test`` and the pytest plugin
(:mod:`flowrt.flowtests.pytest_plugin`) are built on these two.
"""

from flowrt.flowtests.runner import CaseResult, run_case, run_case_sync
from flowrt.flowtests.spec import (
    Case,
    FlowTestFormatError,
    TestFile,
    is_test_file,
    load_test_file,
    tests_beside,
)

__all__ = ["Case", "CaseResult", "FlowTestFormatError", "TestFile", "is_test_file",
           "load_test_file", "run_case", "run_case_sync", "tests_beside"]
