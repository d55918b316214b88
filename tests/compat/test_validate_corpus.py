"""``flowrt validate`` on the corpus as found (contrib nodes and all): it reports, never
crashes, and every JavaScript function body and JSONata expression compiles."""

from __future__ import annotations

import re

import pytest

from tests.cli_runner import run_cli
from tests.compat import corpus

pytestmark = pytest.mark.compat

# What no corpus file may show: a function node's code or a JSONata expression that
# flowrt cannot compile (the problems name the language), but for the function nodes
# that load a Node module, which corpus.EXCEPTIONS lists.
COMPILE_ERROR = re.compile(r"^  node '([^']+)' .*(JavaScript|JSONata)")
LOADS_A_MODULE = {node_id for nodes in corpus.EXCEPTIONS.values()
                  for node_id, why in nodes.items() if "from libs" in why}


def test_validate_reports_every_corpus_file_and_no_compile_error() -> None:
    files = corpus.flow_files()
    result = run_cli("validate", *map(str, files))
    assert result.exit_code in (0, 1)
    output = result.output
    for path in files:
        assert re.search(rf"^{re.escape(str(path))}: (ok|\d+ problem\(s\))$", output,
                         re.MULTILINE), f"{path} not reported"
    compile_errors = [line for line in output.splitlines()
                      if (found := COMPILE_ERROR.search(line))
                      and found.group(1) not in LOADS_A_MODULE]
    assert compile_errors == []
    assert len(LOADS_A_MODULE) == 2 and all(f"node '{node_id}'" in output
                                            for node_id in LOADS_A_MODULE)
    # Every Node-RED core type is built in: what is unknown is a contrib node, named so.
    assert "is not loaded" not in output and "a contrib node that is not installed" in output
