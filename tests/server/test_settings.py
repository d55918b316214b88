"""settings.toml, environment variables and command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowrt.settings import SettingsError, env_name, load_settings


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "settings.toml").write_text(text)
    return tmp_path / "settings.toml"


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert (settings.host, settings.port, settings.flow_file) == ("127.0.0.1", 1880, None)
    assert settings.unknown == []


def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    write(tmp_path, 'host = "0.0.0.0"\nport = 1900\ncredentialSecret = "s"\n'
                    '[logging]\nlevel = "debug"\nformat = "json"\n'
                    '[contextStorage.default]\nmodule = "sqlite"\n')
    settings = load_settings(tmp_path, environ={"FLOWRT_PORT": "1901",
                                                "FLOWRT_LOGGING_LEVEL": "warn"},
                             overrides={"port": 1902, "host": None})
    assert settings.host == "0.0.0.0"
    assert settings.port == 1902
    assert settings.logging_level == "warn"
    assert settings.logging_format == "json"
    assert settings.credential_secret == "s"
    assert settings.context_storage == {"default": {"module": "sqlite"}}


def test_environment_types(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={
        "FLOWRT_CREDENTIAL_SECRET": "false", "FLOWRT_NODES_EXCLUDES": "function, exec",
        "FLOWRT_ADMIN_AUTH": '{"users": []}', "FLOWRT_NODE_CLOSE_TIMEOUT": "2.5"})
    assert settings.credential_secret is False
    assert settings.nodes_excludes == ["function", "exec"]
    assert settings.admin_auth == {"users": []}
    assert settings.node_close_timeout == 2.5


def test_unknown_keys_are_reported_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, 'uiPort = 1880\n[logging]\ncolour = true\n')
    settings = load_settings(tmp_path, environ={"FLOWRT_TYPO": "1", "OTHER": "x"})
    assert settings.unknown == [f"uiPort ({tmp_path / 'settings.toml'})",
                                f"logging.colour ({tmp_path / 'settings.toml'})",
                                "FLOWRT_TYPO (environment)"]


@pytest.mark.parametrize(("text", "message"), [
    ('port = "1880"', "setting 'port' in .* must be a int, not str '1880'"),
    ("port = 70000", "between 1 and 65535"),
    ("flowFilePretty = 1", "must be a bool"),
    ("port = true", "must be a int, not bool"),
    ('[logging]\nlevel = "loud"', "logging.level' must be one of"),
    ("credentialSecret = true", "credentialSecret' must be a string or false"),
    ("port = ", "settings.toml: "),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(SettingsError, match=message):
        load_settings(tmp_path, environ={})


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FLOWRT_PORT='abc'"):
        load_settings(tmp_path, environ={"FLOWRT_PORT": "abc"})


def test_explicit_settings_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path, tmp_path / "missing.toml", environ={})


def test_env_names() -> None:
    assert env_name("credentialSecret") == "FLOWRT_CREDENTIAL_SECRET"
    assert env_name("logging.format") == "FLOWRT_LOGGING_FORMAT"


def test_node_settings_reach_the_runtime(tmp_path: Path) -> None:
    write(tmp_path, "mqttReconnectTime = 15000\nmqttQueueSize = 500\n"
                    "nodeMessageBufferMaxLength = 42\ndebugStatusLength = 10\n")
    runtime = load_settings(tmp_path, environ={})
    assert (runtime.mqtt_reconnect_time, runtime.mqtt_queue_size) == (15000, 500)
    assert runtime.node_message_buffer_max_length == 42
    assert runtime.debug_status_length == 10
