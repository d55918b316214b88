"""Admin authentication: Node-RED's ``adminAuth`` with bearer tokens.

With ``[adminAuth]`` in the settings, every admin route and ``/comms`` needs a
token from ``POST /auth/token`` (Node-RED's OAuth2 password grant:
``grant_type=password``, ``username``, ``password``, as a form or JSON). A
request without one gets 401; a user without the route's permission gets 403.
Permissions are ``"*"`` (everything), ``"read"`` (every ``*.read``) or a list of
scoped ones such as ``"flows.read"``; ``adminAuth.default.permissions`` lets
anonymous requests through with those permissions.

Passwords are stored hashed: argon2 (``flowrt hash-password``) or a Node-RED
bcrypt hash (``$2a$``/``$2b$``). Failed logins slow down further attempts from
the same address for the same username (:mod:`.login_throttle`: 429 with
``Retry-After``), decided before the password is checked; at most
``VERIFY_CONCURRENCY`` hashes are checked at a time, off the event loop (argon2
takes 64 MiB each), and usernames and passwords longer than ``MAX_USERNAME`` and
``MAX_PASSWORD`` characters are refused unchecked.
Tokens expire after ``sessionExpiryTime`` seconds (7 days by default), can be
revoked with ``POST /auth/revoke``, and survive restarts: the data directory's
``.sessions.json`` keeps their SHA-256, never the tokens themselves.

``/healthz``, the editor page and its static files, and ``/auth/login`` and
``/auth/token`` are public; ``/metrics`` too when ``metricsPublic`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from flowrt.files import atomic_write
from flowrt.server.http import ApiError
from flowrt.server.login_throttle import LoginThrottle
from flowrt.settings import SettingsError

log = logging.getLogger("flowrt.auth")

SESSIONS_FILE = ".sessions.json"
DEFAULT_EXPIRY = 604800
VERIFY_CONCURRENCY = 2
MAX_USERNAME = 256
MAX_PASSWORD = 1024
MAX_LOGIN_BODY = 16 * 1024
"""Bytes of a ``POST /auth/token`` body: refused before it is read or parsed."""
# The dashboard's page is public and its websocket checks access itself (its own
# dashboardAuth, or an editor token sent in-band: flowrt.server.dashboard_routes).
PUBLIC_PATHS = frozenset({"/", "/healthz", "/auth/login", "/auth/token", "/ui", "/ui/",
                          "/ui/ws"})
PUBLIC_PREFIXES = ("/static/", "/flows-examples")
# The permission scope of each first path segment (Node-RED's names).
SCOPES = {"flows": "flows", "flow": "flows", "nodes": "nodes", "node-types": "nodes",
          "settings": "settings", "context": "context",
          "credentials": "credentials", "inject": "inject", "debug": "debug",
          "comms": "status", "auth": "auth", "metrics": "metrics", "history": "flows",
          "jsonata": "jsonata"}


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for ``adminAuth.users[].password``."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    """True if ``password`` matches an argon2 or bcrypt hash."""
    if stored.startswith("$argon2"):
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return PasswordHasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode(), stored.replace("$2y$", "$2b$", 1).encode())
        except ValueError:
            return False
    return False


@dataclass(frozen=True)
class User:
    """An authenticated (or anonymous) user and what it may do."""

    username: str
    permissions: tuple[str, ...]
    anonymous: bool = False

    def allows(self, needed: str) -> bool:
        """True if the user holds ``needed`` (e.g. ``flows.write``)."""
        return any(p == "*" or p == needed or (p == "read" and needed.endswith(".read"))
                   for p in self.permissions)

    def describe(self) -> dict[str, Any]:
        """The ``user`` object of ``GET /settings``."""
        info: dict[str, Any] = {"username": self.username,
                                "permissions": _permission_value(self.permissions)}
        if self.anonymous:
            info["anonymous"] = True
        return info


USER = web.RequestKey("user", User)
"""The logged-in user of an admin request (set by ``auth_routes.auth_middleware``)."""


class Auth:
    """Users, tokens and login throttling (disabled when ``config`` is None)."""

    def __init__(self, config: dict[str, Any] | None, data_dir: Path) -> None:
        self.enabled = config is not None
        config = config or {}
        self.expiry = int(config.get("sessionExpiryTime", DEFAULT_EXPIRY))
        self._hashes: dict[str, str] = {}
        self.users: dict[str, User] = {}
        for index, entry in enumerate(config.get("users", [])):
            self._add_user(index, entry)
        if self.enabled and not self.users:
            raise SettingsError("adminAuth has no users: add [[adminAuth.users]] entries")
        default = config.get("default")
        self.anonymous = (User("anonymous", _permissions(default.get("permissions"),
                                                         "adminAuth.default"), anonymous=True)
                          if isinstance(default, dict) else None)
        self._sessions_path = data_dir / SESSIONS_FILE
        self._sessions: dict[str, dict[str, Any]] = self._load_sessions() if self.enabled else {}
        self.throttle = LoginThrottle()
        self._verifying = asyncio.Semaphore(VERIFY_CONCURRENCY)
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ tokens
    async def login(self, username: str, password: str, source: str = "") -> dict[str, Any]:
        """Check a password from ``source`` and issue a token, or raise ApiError (400, 403, 429)."""
        for name, value, limit in (("username", username, MAX_USERNAME),
                                   ("password", password, MAX_PASSWORD)):
            if len(value) > limit:
                raise ApiError(400, "invalid_request",
                               f"{name} is longer than {limit} characters")
        wait = self.throttle.begin(source, username)
        if wait:
            retry = max(1, round(wait))
            raise ApiError(429, "too_many_attempts",
                           f"too many failed logins for this user from {source or 'here'}; "
                           f"retry in {retry} s", headers={"Retry-After": str(retry)})
        ok = False
        try:
            async with self._verifying:
                ok = await asyncio.to_thread(self._check_password, username, password)
        finally:
            self.throttle.end(source, username, ok)
        if not ok:
            log.warning("failed login for %r from %s", username, source or "an unknown address")
            raise ApiError(403, "invalid_grant", "Invalid resource owner credentials")
        token = secrets.token_urlsafe(48)
        self._sessions[_digest(token)] = {"user": username, "expires": time.time() + self.expiry}
        await asyncio.to_thread(self._save_sessions)
        return {"access_token": token, "expires_in": self.expiry, "token_type": "Bearer"}

    async def revoke(self, token: str) -> None:
        """Forget a token (unknown tokens are ignored)."""
        if self._sessions.pop(_digest(token), None) is not None:
            await asyncio.to_thread(self._save_sessions)

    def user_for_token(self, token: str | None) -> User | None:
        """The user a valid, unexpired token belongs to."""
        if not token:
            return None
        session = self._sessions.get(_digest(token))
        if session is None:
            return None
        if session["expires"] < time.time():
            self._sessions.pop(_digest(token), None)
            return None
        return self.users.get(session["user"])

    def user_for_request(self, request: web.Request) -> User | None:
        """The bearer token's user, else the anonymous default user (if any)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self.user_for_token(token.strip())
        return self.anonymous

    # ----------------------------------------------------------------- helpers
    def _add_user(self, index: int, entry: Any) -> None:
        where = f"adminAuth.users[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
            raise SettingsError(f"{where} needs a 'username'")
        password = entry.get("password")
        if not isinstance(password, str) or not password.startswith(("$argon2", "$2")):
            raise SettingsError(f"{where}.password must be an argon2 or bcrypt hash "
                                "(make one with `flowrt hash-password`)")
        name = entry["username"]
        self._hashes[name] = password
        self.users[name] = User(name, _permissions(entry.get("permissions"), where))

    def _check_password(self, username: str, password: str) -> bool:
        # In a worker thread: argon2 takes tens of milliseconds and 64 MiB.
        stored = self._hashes.get(username) or self._dummy()
        return verify_password(stored, password) and username in self.users

    def _dummy(self) -> str:
        # Unknown users cost as much as known ones, so timing does not reveal names.
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_hex(8))
        return self._dummy_hash

    def _load_sessions(self) -> dict[str, dict[str, Any]]:
        try:
            sessions = orjson.loads(self._sessions_path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError:
            log.warning("%s is not valid JSON: every session is dropped", self._sessions_path)
            return {}
        now = time.time()
        return {k: v for k, v in sessions.items() if isinstance(v, dict)
                and v.get("expires", 0) > now and v.get("user") in self.users}

    def _save_sessions(self) -> None:
        atomic_write(self._sessions_path, orjson.dumps(self._sessions))
        os.chmod(self._sessions_path, 0o600)


def _permissions(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise SettingsError(f"{where}.permissions must be \"*\", \"read\" or a list of permissions")


def _permission_value(permissions: tuple[str, ...]) -> str | list[str]:
    return permissions[0] if len(permissions) == 1 else list(permissions)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def required_permission(request: web.Request) -> str:
    """The permission a request needs: ``<scope>.read`` for GET, else ``<scope>.write``."""
    scope = SCOPES.get(request.path.strip("/").split("/", 1)[0], "admin")
    return f"{scope}.{'read' if request.method in ('GET', 'HEAD', 'OPTIONS') else 'write'}"


def is_public(path: str) -> bool:
    """Routes that never need a token."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
