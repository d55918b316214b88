"""Plugin discovery: built-ins, packages and data-dir files through one registry."""

from __future__ import annotations

import textwrap

import pytest

from flowrt.errors import PluginError
from flowrt.node import Node
from flowrt.registry import Registry, discover


def write_plugin(directory, name, source):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def test_data_dir_plugins_load_and_a_broken_one_does_not_stop_the_others(tmp_path):
    nodes = tmp_path / "nodes"
    write_plugin(nodes, "good", '''
        from flowrt.node import Node

        class Shout(Node):
            """Upper-cases the payload."""
            type = "shout"

            def on_input(self, msg):
                msg["payload"] = str(msg["payload"]).upper()
                self.send(msg)
    ''')
    write_plugin(nodes, "broken", '''
        raise RuntimeError("plugin exploded at import")
    ''')
    registry = discover(tmp_path)
    assert registry.types["shout"].origin == "data dir"
    assert "junction" in registry  # built-ins still there
    messages = [str(e) for e in registry.errors]
    assert any("broken.py" in m and "plugin exploded at import" in m for m in messages)


def test_a_name_collision_is_reported_not_overwritten(tmp_path):
    write_plugin(tmp_path / "nodes", "clash", '''
        from flowrt.node import Node

        class MyJunction(Node):
            """Tries to take the built-in junction's name."""
            type = "junction"
    ''')
    registry = discover(tmp_path)
    assert registry.types["junction"].origin == "built-in"
    assert any("'junction' is already registered by built-in" in str(e)
               for e in registry.errors)


def test_an_invalid_schema_is_rejected_at_registration():
    class Bad(Node):
        """Bad schema."""

        type = "bad-schema"
        schema = {"type": "object", "properties": {"x": {"type": "no-such-json-type"}}}

    with pytest.raises(PluginError, match="invalid schema"):
        Registry().register(Bad, "test", __name__)


def test_builtins_come_from_the_flowrt_distribution():
    registry = discover()
    assert registry.types["catch"].origin == "built-in"
    assert registry.types["catch"].module == "flowrt_nodes.catch_status_complete"
