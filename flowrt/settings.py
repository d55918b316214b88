"""Settings: ``settings.toml`` in the data directory, environment, command line.

Later sources override earlier ones: built-in defaults, then the settings file
(``DATA_DIR/settings.toml``, or the file given with ``--settings``), then
environment variables, then command-line options. Keys keep Node-RED's
``settings.js`` names where Node-RED has one, so its documentation applies::

    host = "0.0.0.0"
    port = 1880
    flowFile = "flows.json"            # relative to the data directory
    credentialSecret = "a long secret" # or false: credentials stored unencrypted
    nodesExcludes = ["function"]       # node types not to load
    strictDeploy = true                # a node failing to start fails the deploy
    projects = true                    # flows in a git repository (docs/projects.md)
    eventLoop = "asyncio"              # default "auto": uvloop when it is installed

    [logging]
    level = "info"                     # trace, debug, info, warn, error, fatal, off
    format = "text"                    # or "json": one JSON object per line

    [contextStorage.default]
    module = "sqlite"                  # or "memory"

    [adminAuth]
    sessionExpiryTime = 604800         # seconds
    [[adminAuth.users]]
    username = "admin"
    password = "$argon2id$..."         # `flowrt hash-password`; bcrypt ($2b$) accepted
    permissions = "*"                  # or "read"

Every setting has an environment variable ``FLOWRT_`` + its key in upper snake
case (``FLOWRT_PORT``, ``FLOWRT_CREDENTIAL_SECRET``, ``FLOWRT_LOGGING_LEVEL``);
tables take JSON (``FLOWRT_ADMIN_AUTH='{"users": [...]}'``), lists take
comma-separated values. Keys flowrt does not know are reported (``unknown``),
not fatal; a value of the wrong type is a :class:`SettingsError` naming the key
and where it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from flowrt.event_loop import EVENT_LOOPS
from flowrt.watchdog import DEFAULT_FUNCTION_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT

SETTINGS_FILE = "settings.toml"
DEFAULT_DATA_DIR = Path("~/.flowrt")
ENV_PREFIX = "FLOWRT_"
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "off")


class SettingsError(Exception):
    """A setting has a value flowrt cannot use."""


def _key(key: str, *kinds: type) -> dict[str, Any]:
    """Field metadata: the settings key and the TOML types it accepts."""
    return {"key": key, "kinds": kinds}


@dataclass
class Settings:
    """Every setting flowrt reads (see the module docstring for the sources)."""

    # Each field: its settings key, the TOML types it accepts, and its default.
    host: str = field(default="127.0.0.1", metadata=_key("host", str))
    port: int = field(default=1880, metadata=_key("port", int))
    flow_file: str | None = field(default=None, metadata=_key("flowFile", str))
    """Flow file, relative to the data directory (default ``flows.json``)."""
    flow_file_pretty: bool = field(default=True, metadata=_key("flowFilePretty", bool))
    credential_secret: str | bool | None = field(
        default=None, metadata=_key("credentialSecret", str, bool))
    """Key for the credentials file; false stores them unencrypted."""
    admin_auth: dict[str, Any] | None = field(default=None, metadata=_key("adminAuth", dict))
    logging_level: str = field(default="info", metadata=_key("logging.level", str))
    logging_format: str = field(default="text", metadata=_key("logging.format", str))
    context_storage: dict[str, Any] | None = field(
        default=None, metadata=_key("contextStorage", dict))
    nodes_excludes: list[str] = field(default_factory=list,
                                      metadata=_key("nodesExcludes", list))
    """Node types not to load."""
    function_global_context: dict[str, Any] = field(
        default_factory=dict, metadata=_key("functionGlobalContext", dict))
    strict_deploy: bool = field(default=False, metadata=_key("strictDeploy", bool))
    """All-or-nothing deploys: a node that fails to configure or start fails the deploy
    and the previous flows are restored. Default (as Node-RED): the node is reported and
    the rest runs."""
    node_close_timeout: float = field(default=15.0,
                                      metadata=_key("nodeCloseTimeout", int, float))
    """Seconds a node may take to close."""
    max_pending_messages: int = field(default=100_000,
                                      metadata=_key("maxPendingMessages", int))
    api_max_length: int = field(default=5 * 1024 * 1024, metadata=_key("apiMaxLength", int))
    """Largest request body, in bytes."""
    debug_max_length: int = field(default=1000, metadata=_key("debugMaxLength", int))
    debug_rate_limit: int = field(default=100, metadata=_key("debugRateLimit", int))
    """Debug messages per second sent to each editor connection."""
    web_socket_keep_alive_time: float = field(
        default=15.0, metadata=_key("webSocketKeepAliveTime", int, float))
    """Seconds of silence before a comms heartbeat."""
    debug_status_length: int = field(default=32, metadata=_key("debugStatusLength", int))
    node_message_buffer_max_length: int = field(
        default=0, metadata=_key("nodeMessageBufferMaxLength", int))
    """Cap of the buffers of delay, join and switch (0: each node's documented default)."""
    mqtt_reconnect_time: int = field(default=5000, metadata=_key("mqttReconnectTime", int))
    """Longest wait between MQTT reconnect attempts, in milliseconds."""
    mqtt_queue_size: int = field(default=100_000, metadata=_key("mqttQueueSize", int))
    """QoS 1/2 publishes kept in memory per broker while disconnected."""
    mqtt_queue_bytes: int = field(default=32 * 1024 * 1024,
                                  metadata=_key("mqttQueueBytes", int))
    """Payload bytes those publishes may hold in all (flowrt's; Node-RED has no bound)."""
    http_admin_cors: str | None = field(default=None, metadata=_key("httpAdminCors", str))
    """Origin allowed to call the admin API from another site (CORS off when unset)."""
    # Admin API exposure (docs/security.md).
    http_admin_origins: list[str] = field(default_factory=list,
                                          metadata=_key("httpAdminOrigins", list))
    """More origins (``https://host[:port]``) that may change state and open /comms."""
    http_admin_hosts: list[str] = field(default_factory=list,
                                        metadata=_key("httpAdminHosts", list))
    """More names the ``Host`` header may carry (``"*"``: any), besides IPs and localhost."""
    http_max_connections: int = field(default=256, metadata=_key("httpMaxConnections", int))
    """Open HTTP and websocket connections; more are answered 503 and closed."""
    http_headers_timeout: float = field(default=20.0,
                                        metadata=_key("httpHeadersTimeout", int, float))
    """Seconds a client has to send a request's headers (also the idle keep-alive time)."""
    comms_auth_timeout: float = field(default=10.0,
                                      metadata=_key("commsAuthTimeout", int, float))
    """Seconds a /comms connection has to authenticate when adminAuth is on."""
    comms_max_queue_bytes: int = field(default=4 * 1024 * 1024,
                                       metadata=_key("commsMaxQueueBytes", int))
    """Events waiting for one /comms connection, in bytes; the oldest are dropped beyond."""
    metrics_public: bool = field(default=False, metadata=_key("metricsPublic", bool))
    """Serve /metrics without a token even when adminAuth is on."""
    # Function code and stopping (flowrt/watchdog.py).
    function_timeout: float = field(default=DEFAULT_FUNCTION_TIMEOUT,
                                    metadata=_key("functionTimeout", int, float))
    """Seconds a function node without its own ``timeout`` may run without reaching an
    ``await`` before it is interrupted (the runtime stands still meanwhile); 0: no limit."""
    shutdown_timeout: float = field(default=DEFAULT_SHUTDOWN_TIMEOUT,
                                    metadata=_key("shutdownTimeout", int, float))
    """Seconds a graceful stop (SIGTERM, SIGINT) may take before the process logs that
    and exits anyway (exit code 70)."""
    # What flows serve, read, write and run (network and storage nodes; docs/security.md).
    http_node_root: str = field(default="/", metadata=_key("httpNodeRoot", str))
    """Path under which ``http in`` routes and websocket listeners are served."""
    http_node_auth: dict[str, Any] | None = field(
        default=None, metadata=_key("httpNodeAuth", dict))
    """HTTP basic authentication for those routes: ``{user = "...", pass = "<hash>"}``,
    the password hashed as ``adminAuth``'s (``flowrt hash-password``, or Node-RED's
    bcrypt). Node-RED's legacy MD5 hashes are refused."""
    http_node_cors: dict[str, Any] | None = field(
        default=None, metadata=_key("httpNodeCors", dict))
    """CORS for those routes, the ``cors`` package's options as Node-RED takes them:
    ``{origin = "*", methods = "GET,POST"}``; also ``credentials``, ``allowedHeaders``,
    ``exposedHeaders``, ``maxAge``, ``optionsSuccessStatus``. ``origin`` is ``"*"``, one
    origin, a list of origins, or true (the request's own)."""
    http_request_timeout: int = field(default=120_000,
                                      metadata=_key("httpRequestTimeout", int))
    """Milliseconds an ``http request`` node waits for an answer (its own
    ``requestTimeout`` wins), and an ``http in`` request waits for its ``http response``
    (then it is answered 504)."""
    file_working_directory: str | None = field(
        default=None, metadata=_key("fileWorkingDirectory", str))
    """Directory relative file names of ``file``, ``file in`` and ``watch`` start from
    (default: the directory flowrt was started in, as Node-RED)."""
    socket_reconnect_time: int = field(default=10_000,
                                       metadata=_key("socketReconnectTime", int))
    """Milliseconds ``tcp in`` and ``tcp out`` clients wait before reconnecting."""
    socket_timeout: int | None = field(default=None, metadata=_key("socketTimeout", int))
    """Milliseconds of silence after which ``tcp in``/``tcp out`` servers close a
    connection (unset: never)."""
    exec_max_buffer_size: int = field(default=10_000_000,
                                      metadata=_key("execMaxBufferSize", int))
    """Bytes of stdout (and of stderr) an ``exec`` node in exec mode collects from one
    command; a command writing more is killed (Node-RED's ``execMaxBufferSize``)."""
    projects: bool | None = field(default=None, metadata=_key("projects", bool))
    """Keep the flows in a git repository, every deploy a commit (docs/projects.md).
    Unset: on for a new data directory (when git is installed) and one that has a
    project, off for one with a single flow file (``flowrt project init`` converts it)."""
    project_author: str | None = field(default=None, metadata=_key("projectAuthor", str))
    """``"Name <e-mail>"``: the author of commits when nobody is logged in (no
    adminAuth); default ``flowrt <flowrt@HOSTNAME>``."""
    event_loop: str = field(default="auto", metadata=_key("eventLoop", str))
    """``auto`` (uvloop when installed), ``asyncio`` or ``uvloop`` (flowrt.event_loop)."""
    # The dashboard at /ui (flowrt.dashboard, docs/security.md).
    dashboard_auth: dict[str, Any] | None = field(
        default=None, metadata=_key("dashboardAuth", dict))
    """HTTP basic authentication for the dashboard's viewers: ``{user = "...", pass =
    "<hash>"}`` as ``httpNodeAuth``. Unset: with ``adminAuth``, the dashboard needs an
    editor login; without, it is open (as Node-RED Dashboard)."""
    dashboard_read_only: bool = field(default=False,
                                      metadata=_key("dashboardReadOnly", bool))
    """Viewers only look: buttons, switches and other inputs of the dashboard do nothing."""
    dashboard_max_queue_bytes: int = field(default=1024 * 1024,
                                           metadata=_key("dashboardMaxQueueBytes", int))
    """Updates waiting for one open dashboard page, in bytes; the oldest are dropped."""
    unknown: list[str] = field(default_factory=list)
    """Keys found in the settings file or environment that flowrt does not know."""

    @classmethod
    def from_keys(cls, values: Mapping[str, Any], source: str = "settings") -> Settings:
        """Settings from a mapping of settings-file keys (``{"maxPendingMessages": 10}``),
        checked as the settings file is; for embedding and ``flowrt.testing``."""
        settings = cls()
        _apply_file(settings, dict(values), source)
        _check(settings)
        return settings


def load_settings(data_dir: Path, settings_file: Path | None = None,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read settings from every source; ``overrides`` are attribute values from the CLI."""
    settings = Settings()
    path = settings_file or data_dir / SETTINGS_FILE
    if settings_file is not None and not path.is_file():
        raise SettingsError(f"settings file {path} not found")
    if path.is_file():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from None
        _apply_file(settings, document, str(path))
    _apply_environment(settings, os.environ if environ is None else environ)
    for name, value in (overrides or {}).items():
        if value is not None:
            setattr(settings, name, value)
    _check(settings)
    return settings


def env_name(key: str) -> str:
    """The environment variable of a settings key (``logging.level`` → FLOWRT_LOGGING_LEVEL)."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key.replace(".", "_"))
    return ENV_PREFIX + snake.upper()


# --------------------------------------------------------------------- helpers
_FIELDS = {f.metadata["key"]: f for f in fields(Settings) if "key" in f.metadata}
_TABLES = {key.split(".")[0] for key in _FIELDS if "." in key}


def _apply_file(settings: Settings, document: dict[str, Any], source: str) -> None:
    for key, value in document.items():
        if key in _TABLES and isinstance(value, dict):
            for sub, sub_value in value.items():
                _assign(settings, f"{key}.{sub}", sub_value, source)
        else:
            _assign(settings, key, value, source)


def _apply_environment(settings: Settings, environ: Mapping[str, str]) -> None:
    known = {env_name(key): key for key in _FIELDS}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = known.get(name)
        if key is None:
            settings.unknown.append(f"{name} (environment)")
            continue
        _assign(settings, key, _from_text(text, _FIELDS[key].metadata["kinds"], name), name)


def _assign(settings: Settings, key: str, value: Any, source: str) -> None:
    spec = _FIELDS.get(key)
    if spec is None:
        settings.unknown.append(f"{key} ({source})")
        return
    kinds: tuple[type, ...] = spec.metadata["kinds"]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise SettingsError(f"setting {key!r} in {source} must be a {wanted}, "
                            f"not {type(value).__name__} {value!r}")
    setattr(settings, spec.name, value)


def _from_text(text: str, kinds: tuple[type, ...], name: str) -> Any:
    if bool in kinds and text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        if dict in kinds:
            return orjson.loads(text)
        if int in kinds and float in kinds:
            return float(text)
        if int in kinds:
            return int(text)
    except ValueError as exc:
        raise SettingsError(f"environment variable {name}={text!r}: {exc}") from None
    if list in kinds:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _check(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"setting 'port' must be between 1 and 65535, not {settings.port}")
    if settings.logging_level not in LOG_LEVELS:
        raise SettingsError(f"setting 'logging.level' must be one of {', '.join(LOG_LEVELS)}, "
                            f"not {settings.logging_level!r}")
    if settings.event_loop not in EVENT_LOOPS:
        raise SettingsError(f"setting 'eventLoop' must be one of {', '.join(EVENT_LOOPS)}, "
                            f"not {settings.event_loop!r}")
    if settings.logging_format not in ("text", "json"):
        raise SettingsError(f"setting 'logging.format' must be 'text' or 'json', "
                            f"not {settings.logging_format!r}")
    if settings.credential_secret is True:
        raise SettingsError("setting 'credentialSecret' must be a string or false")
    if settings.project_author is not None:
        from flowrt.projects.git import Author

        try:
            Author.parse(settings.project_author)
        except ValueError as exc:
            raise SettingsError(f"setting 'projectAuthor': {exc}") from None
    for key, value in (("functionTimeout", settings.function_timeout),
                       ("shutdownTimeout", settings.shutdown_timeout)):
        if value < 0:
            raise SettingsError(f"setting {key!r} must be 0 or more seconds, not {value}")
    if not settings.http_node_root.startswith("/"):
        raise SettingsError(f"setting 'httpNodeRoot' must start with '/', "
                            f"not {settings.http_node_root!r}")
    _check_http_node_auth(settings.http_node_auth)
    _check_http_node_auth(settings.dashboard_auth, "dashboardAuth")
    _check_http_node_cors(settings.http_node_cors)
    if settings.http_request_timeout <= 0:
        raise SettingsError("setting 'httpRequestTimeout' must be greater than 0")
    if not all(isinstance(item, str) for item in settings.nodes_excludes):
        raise SettingsError("setting 'nodesExcludes' must be a list of node type names")
    for key in ("httpMaxConnections", "httpHeadersTimeout", "commsAuthTimeout",
                "commsMaxQueueBytes"):
        if getattr(settings, _FIELDS[key].name) <= 0:
            raise SettingsError(f"setting {key!r} must be greater than 0")


def _check_http_node_auth(auth: dict[str, Any] | None, key: str = "httpNodeAuth") -> None:
    if auth is None:
        return
    if not isinstance(auth.get("user"), str) or not auth["user"]:
        raise SettingsError(f"setting '{key}' needs a 'user'")
    password = auth.get("pass")
    if not isinstance(password, str) or not password.startswith(("$argon2", "$2a$", "$2b$",
                                                                  "$2y$")):
        raise SettingsError(f"setting '{key}.pass' must be an argon2 or bcrypt hash "
                            "(make one with `flowrt hash-password`)")


def _check_http_node_cors(cors: dict[str, Any] | None) -> None:
    if cors is None:
        return
    origin = cors.get("origin", "*")
    if not (isinstance(origin, str | bool) or (isinstance(origin, list) and all(
            isinstance(item, str) for item in origin))):
        raise SettingsError("setting 'httpNodeCors.origin' must be \"*\", an origin, a list "
                            "of origins, true or false")
    for key in ("methods", "allowedHeaders", "headers", "exposedHeaders"):
        value = cors.get(key)
        if value is not None and not (isinstance(value, str) or (isinstance(value, list) and all(
                isinstance(item, str) for item in value))):
            raise SettingsError(f"setting 'httpNodeCors.{key}' must be text or a list of text")
    if "credentials" in cors and not isinstance(cors["credentials"], bool):
        raise SettingsError("setting 'httpNodeCors.credentials' must be true or false")
    status = cors.get("optionsSuccessStatus", 204)
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status < 300:
        raise SettingsError("setting 'httpNodeCors.optionsSuccessStatus' must be a 2xx status")
