"""Passwords, permissions, tokens and login throttling (in-process)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import bcrypt
import pytest

from flowrt.server.auth import (
    MAX_USERNAME,
    VERIFY_CONCURRENCY,
    Auth,
    User,
    hash_password,
    verify_password,
)
from flowrt.server.http import ApiError
from flowrt.server.login_throttle import (
    FORGET_AFTER,
    FREE_ATTEMPTS,
    SOURCE_FREE_ATTEMPTS,
    LoginThrottle,
)
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


async def test_wrong_passwords_back_off_per_source_and_user(tmp_path: Path) -> None:
    auth = Auth(config(), tmp_path)
    now = [1000.0]
    auth.throttle.clock = lambda: now[0]
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(ApiError) as err:
            await auth.login("admin", "nope", "10.0.0.9")
        assert (err.value.status, err.value.code) == (403, "invalid_grant")
    with pytest.raises(ApiError) as err:
        await auth.login("admin", "password", "10.0.0.9")
    assert (err.value.status, err.value.code) == (429, "too_many_attempts")
    assert err.value.headers == {"Retry-After": "1"}
    # The attacker's failures do not lock the admin out from elsewhere.
    assert (await auth.login("admin", "password", "10.0.0.1"))["access_token"]
    now[0] += 1.5  # the back-off doubles with each further failure
    with pytest.raises(ApiError) as err:
        await auth.login("admin", "nope", "10.0.0.9")
    assert err.value.status == 403
    with pytest.raises(ApiError) as err:
        await auth.login("admin", "password", "10.0.0.9")
    assert err.value.headers == {"Retry-After": "2"}
    now[0] += 2.5
    assert (await auth.login("admin", "password", "10.0.0.9"))["access_token"]
    with pytest.raises(ApiError) as err:  # a success starts the count again
        await auth.login("admin", "nope", "10.0.0.9")
    assert err.value.status == 403


async def test_parallel_guesses_are_throttled_before_verification(tmp_path: Path) -> None:
    auth = Auth(config(), tmp_path)
    guesses = [auth.login("admin", f"guess{n}", "10.0.0.9") for n in range(30)]
    outcomes = await asyncio.gather(*guesses, return_exceptions=True)
    statuses = sorted(e.status for e in outcomes if isinstance(e, ApiError))
    assert statuses == [403] * FREE_ATTEMPTS + [429] * (30 - FREE_ATTEMPTS)
    with pytest.raises(ApiError) as err:
        await auth.login("admin", "password", "10.0.0.9")
    assert err.value.status == 429


async def test_password_checks_run_a_few_at_a_time(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    running, most = [0], [0]
    changed = threading.Condition()
    release = threading.Event()

    def slow_verify(stored: str, password: str) -> bool:
        with changed:
            running[0] += 1
            most[0] = max(most[0], running[0])
            changed.notify_all()
        release.wait(10)
        with changed:
            running[0] -= 1
        return False

    def wait_for_running(count: int, timeout: float) -> bool:
        with changed:
            return changed.wait_for(lambda: running[0] >= count, timeout)

    monkeypatch.setattr("flowrt.server.auth.verify_password", slow_verify)
    auth = Auth(config(), tmp_path)
    logins = [asyncio.create_task(auth.login("admin", "x", f"10.0.1.{n}")) for n in range(8)]
    assert await asyncio.to_thread(wait_for_running, VERIFY_CONCURRENCY, 10)
    # Unbounded, every login would now be hashing (argon2: 64 MiB each).
    assert not await asyncio.to_thread(wait_for_running, VERIFY_CONCURRENCY + 1, 1)
    release.set()
    outcomes = await asyncio.gather(*logins, return_exceptions=True)
    assert all(isinstance(e, ApiError) and e.status == 403 for e in outcomes)
    assert most[0] == VERIFY_CONCURRENCY


async def test_long_usernames_are_refused_and_the_failure_table_is_bounded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    auth = Auth(config(), tmp_path)
    with pytest.raises(ApiError) as err:
        await auth.login("u" * 2_000_000, "x", "10.0.0.9")
    assert (err.value.status, err.value.message) == (
        400, f"username is longer than {MAX_USERNAME} characters")
    assert len(auth.throttle) == 0 and "uuuu" not in caplog.text
    auth.throttle.max_entries = 10
    for n in range(25):
        with pytest.raises(ApiError):
            await auth.login(f"user{n}", "x", "10.0.0.9")
    assert len(auth.throttle) == 10


def test_throttle_forgets_old_failures() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(FREE_ATTEMPTS):
        assert throttle.begin("a", "u") == 0
        throttle.end("a", "u", success=False)
    assert throttle.begin("a", "u") > 0
    now[0] += FORGET_AFTER + 1
    assert throttle.begin("a", "u") == 0


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


def test_hash_password_command(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from flowrt.cli import main

    typed = iter(["s3cret", "s3cret", "one", "other"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert main(["hash-password"]) == 0
    hashed = capsys.readouterr().out.strip().splitlines()[-1]
    assert hashed.startswith("$argon2id$") and verify_password(hashed, "s3cret")
    with pytest.raises(SystemExit) as differ:
        main(["hash-password"])
    assert differ.value.code == 2 and "the two passwords differ" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("other\n"))
    assert main(["hash-password", "--stdin"]) == 0
    assert verify_password(capsys.readouterr().out.strip(), "other")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(SystemExit) as empty:
        main(["hash-password", "--stdin"])
    assert empty.value.code == 2 and "empty" in capsys.readouterr().err


def test_guesses_spread_over_random_usernames_cannot_reset_a_pair() -> None:
    # Finding by review: flooding the bounded table with random usernames from one
    # address used to push out its (address, admin) pair, and with it the back-off.
    throttle = LoginThrottle(max_entries=10)
    for _ in range(FREE_ATTEMPTS):
        assert throttle.begin("evil", "admin") == 0
        throttle.end("evil", "admin", success=False)
    let_through = 0
    for n in range(1000):
        if throttle.begin("evil", f"random{n}") == 0:
            let_through += 1
            throttle.end("evil", f"random{n}", success=False)
    assert let_through == SOURCE_FREE_ATTEMPTS - FREE_ATTEMPTS
    assert throttle.begin("evil", "admin") > 0
    assert throttle.begin("friend", "admin") == 0  # other addresses are not slowed
