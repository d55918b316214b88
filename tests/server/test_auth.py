"""Passwords, permissions, tokens and login throttling (in-process)."""

from __future__ import annotations

import time
from pathlib import Path

import bcrypt
import pytest

from flowrt.server.auth import Auth, User, hash_password, verify_password
from flowrt.server.http import ApiError
from flowrt.settings import SettingsError

# Node-RED's documented example hash of "password" (bcryptjs, $2a$, 8 rounds).
NODE_RED_HASH = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN."


def test_argon2_and_node_red_bcrypt_hashes_verify() -> None:
    assert verify_password(hash_password("pw"), "pw")
    assert not verify_password(hash_password("pw"), "PW")
    assert verify_password(NODE_RED_HASH, "password")
    assert not verify_password(NODE_RED_HASH, "Password")
    assert verify_password(bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode(), "x")
    assert not verify_password("plain-text", "plain-text")


def test_permissions() -> None:
    admin, reader = User("a", ("*",)), User("r", ("read",))
    scoped = User("s", ("flows.read", "inject.write"))
    assert admin.allows("flows.write") and reader.allows("flows.read")
    assert not reader.allows("flows.write")
    assert scoped.allows("inject.write") and not scoped.allows("nodes.read")


def config(**extra: object) -> dict[str, object]:
    return {"users": [{"username": "admin", "password": NODE_RED_HASH, "permissions": "*"}],
            **extra}


async def test_tokens_expire_and_can_be_revoked(tmp_path: Path) -> None:
    auth = Auth(config(sessionExpiryTime=60), tmp_path)
    grant = await auth.login("admin", "password")
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 60
    token = grant["access_token"]
    assert auth.user_for_token(token) == User("admin", ("*",))
    assert token not in (tmp_path / ".sessions.json").read_text()
    assert Auth(config(), tmp_path).user_for_token(token) is not None  # survives restarts
    await auth.revoke(token)
    assert auth.user_for_token(token) is None
    assert Auth(config(), tmp_path).user_for_token(token) is None
    expiring = Auth(config(sessionExpiryTime=-1), tmp_path)
    assert expiring.user_for_token((await expiring.login("admin", "password"))["access_token"]) \
        is None


async def test_wrong_password_then_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    auth = Auth(config(), tmp_path)
    for _ in range(5):
        with pytest.raises(ApiError) as err:
            await auth.login("admin", "nope")
        assert (err.value.status, err.value.code) == (403, "invalid_grant")
    with pytest.raises(ApiError) as err:
        await auth.login("admin", "password")
    assert (err.value.status, err.value.code) == (429, "too_many_attempts")
    later = time.monotonic() + 601
    monkeypatch.setattr("flowrt.server.auth.time.monotonic", lambda: later)
    assert (await auth.login("admin", "password"))["access_token"]


async def test_unknown_user_is_rejected_like_a_wrong_password(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as err:
        await Auth(config(), tmp_path).login("mallory", "password")
    assert err.value.status == 403


@pytest.mark.parametrize(("bad", "message"), [
    ({"users": []}, "no users"),
    ({"users": [{"username": "a", "password": "plain", "permissions": "*"}]}, "hash-password"),
    ({"users": [{"password": NODE_RED_HASH}]}, r"users\[0\] needs a 'username'"),
    ({"users": [{"username": "a", "password": NODE_RED_HASH, "permissions": 3}]},
     "permissions must be"),
])
def test_bad_configuration_is_a_settings_error(tmp_path: Path, bad: dict[str, object],
                                               message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Auth(bad, tmp_path)


def test_hash_password_command() -> None:
    from click.testing import CliRunner

    from flowrt.cli import main

    result = CliRunner().invoke(main, ["hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip().splitlines()[-1]
    assert hashed.startswith("$argon2id$") and verify_password(hashed, "s3cret")
    piped = CliRunner().invoke(main, ["hash-password", "--stdin"], input="other\n")
    assert verify_password(piped.output.strip(), "other")
    empty = CliRunner().invoke(main, ["hash-password", "--stdin"], input="\n")
    assert empty.exit_code == 2 and "empty" in empty.output
