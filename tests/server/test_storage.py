"""The data directory's flow and credentials files."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from flowrt import credentials as creds
from flowrt.errors import DataFileError, FlowValidationError
from flowrt.storage import FileStorage
from tests.tmpfs import small_tmpfs

FLOWS = [{"id": "t1", "type": "tab", "label": "Flow 1"}]
CREDS = {"b1": {"user": "alice", "password": "s3cret"}}


def test_round_trip_with_encrypted_credentials(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    storage.save(FLOWS, CREDS)
    document = orjson.loads((tmp_path / "flows_cred.json").read_bytes())
    assert creds.is_encrypted(document)
    assert b"s3cret" not in (tmp_path / "flows_cred.json").read_bytes()
    again = FileStorage(tmp_path / "flows.json", tmp_path)
    assert again.load() == (FLOWS, CREDS)
    assert again.encryption_type == "system"


def test_flow_file_elsewhere_keeps_credentials_in_the_data_dir(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "project" / "demo.json", tmp_path / "data", "k")
    storage.save(FLOWS, CREDS)
    assert (tmp_path / "data" / "demo_cred.json").exists()
    assert not (tmp_path / "project" / "demo_cred.json").exists()


def test_plaintext_when_encryption_disabled(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path, credential_secret=False)
    storage.save(FLOWS, CREDS)
    assert orjson.loads((tmp_path / "flows_cred.json").read_bytes()) == CREDS
    assert storage.encryption_type == "disabled"


def test_user_secret_added_later_still_reads_system_encrypted_file(tmp_path: Path) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path).save(FLOWS, CREDS)
    storage = FileStorage(tmp_path / "flows.json", tmp_path, credential_secret="mine")
    assert storage.load()[1] == CREDS
    storage.save(FLOWS, CREDS)
    document = orjson.loads((tmp_path / "flows_cred.json").read_bytes())
    assert creds.decrypt(document, "mine") == CREDS


def test_credentials_the_secret_cannot_decrypt_stop_the_load(tmp_path: Path) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path, credential_secret="one").save(FLOWS, CREDS)
    before = (tmp_path / "flows_cred.json").read_bytes()
    storage = FileStorage(tmp_path / "flows.json", tmp_path, credential_secret="two")
    with pytest.raises(DataFileError, match=r"cannot decrypt .*flows_cred\.json .*set the "
                                            r"credentialSecret it was saved with") as info:
        storage.load()
    assert "\n" not in str(info.value)
    assert info.value.path == tmp_path / "flows_cred.json"
    assert (tmp_path / "flows_cred.json").read_bytes() == before


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("flows_cred.json", b'{"$": "abc', "is not valid JSON"),
    ("flows_cred.json", b'["x"]', "is not a credentials document"),
    (creds.RUNTIME_CONFIG, b"{\xff\xfe", "is unreadable"),
    (creds.RUNTIME_CONFIG, b"[]", "not a JSON object"),
])
def test_corrupt_data_files_are_named(tmp_path: Path, name: str, content: bytes,
                                      problem: str) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path).save(FLOWS, CREDS)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataFileError, match=problem) as info:
        FileStorage(tmp_path / "flows.json", tmp_path).load()
    assert info.value.path == tmp_path / name and str(tmp_path / name) in str(info.value)


def test_empty_flow_file_restores_the_backup(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    storage.save(FLOWS, {})
    storage.save([*FLOWS, {"id": "t2", "type": "tab"}], {})
    (tmp_path / "flows.json").write_bytes(b"")
    assert storage.load()[0] == FLOWS


def test_invalid_flow_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "flows.json").write_text("[{")
    with pytest.raises(FlowValidationError, match=r"flows\.json is not valid JSON"):
        FileStorage(tmp_path / "flows.json", tmp_path).load()
    (tmp_path / "flows.json").write_bytes(b'[{"id": "t1", "type": "tab", "label": "\xe9"}]')
    with pytest.raises(FlowValidationError, match=r"flows\.json is not UTF-8 text") as info:
        FileStorage(tmp_path / "flows.json", tmp_path).load()
    assert info.value.problems[0].message == "byte 0xe9 at offset 39 is not UTF-8"


def test_missing_flow_file_is_empty_and_can_be_created(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    assert storage.load() == ([], {})
    assert storage.create_if_missing() is True
    assert storage.create_if_missing() is False
    assert orjson.loads((tmp_path / "flows.json").read_bytes()) == []


def test_a_corrupt_key_file_is_found_without_a_credentials_file(tmp_path: Path) -> None:
    (tmp_path / creds.RUNTIME_CONFIG).write_bytes(b"{")
    with pytest.raises(DataFileError, match=r"\.config\.runtime\.json is unreadable"):
        FileStorage(tmp_path / "flows.json", tmp_path).load()


# ------------------------------------------------------- crashes and full disks
NEW_FLOWS = [*FLOWS, {"id": "t2", "type": "tab", "label": "Flow 2"}]
NEW_CREDS = {"b1": {"user": "bob", "password": "n3w"}}
CRASHING_SAVE = """
import os, signal, sys
from pathlib import Path
import orjson
from flowrt.storage import FileStorage
from tests.tmpfs import small_tmpfs

data_dir, when, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
replace = os.replace


def replace_then_die(source, target):
    # SIGKILL just before or just after the rename onto the file named `name`.
    if when == "before" and Path(target).name == name:
        os.kill(os.getpid(), signal.SIGKILL)
    replace(source, target)
    if when == "after" and Path(target).name == name:
        os.kill(os.getpid(), signal.SIGKILL)


os.replace = replace_then_die
FileStorage(data_dir / "flows.json", data_dir).save(*orjson.loads(sys.argv[4]))
"""


def crash_during_save(data_dir: Path, when: str, name: str) -> None:
    """Save NEW_FLOWS and NEW_CREDS in a process that SIGKILLs itself ``when`` ("before"
    or "after") a rename onto the file ``name``."""
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_SAVE, str(data_dir), when, name,
         orjson.dumps([NEW_FLOWS, NEW_CREDS]).decode()], capture_output=True, timeout=60,
        check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


@pytest.mark.parametrize(("when", "name"), [
    ("after", "flows_cred.json"), ("after", "flows.json"),
    ("before", "flows_cred.json"), ("before", "flows.json")])
def test_a_crash_between_the_two_files_leaves_them_matched(
        tmp_path: Path, when: str, name: str) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path).save(FLOWS, CREDS)
    crash_during_save(tmp_path, when, name)
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    storage.recover()
    # Every case is past the commit point: the new pair stands, never a mix.
    assert storage.load() == (NEW_FLOWS, NEW_CREDS)
    assert not [p.name for p in tmp_path.iterdir()
                if p.name.endswith((".staged", ".pending", ".journal", ".tmp"))]


def test_a_crash_before_the_commit_point_keeps_the_old_pair(tmp_path: Path) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path).save(FLOWS, CREDS)
    crash_during_save(tmp_path, "before", ".flows.json.journal")
    assert {p.name for p in tmp_path.iterdir()} >= {".flows.json.staged",
                                                    ".flows_cred.json.staged"}
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    storage.recover()
    assert storage.load() == (FLOWS, CREDS)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".staged")]


def test_stale_temporary_files_are_removed_at_start(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    storage.save(FLOWS, CREDS)
    stale = [".flows.json.k2j3h4.tmp", ".flows_cred.json.x8y9.tmp",
             "..config.runtime.json.a1b2.tmp", ".flows.json.backup.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"[" * 100_000)
    (tmp_path / ".someone-else.tmp").write_bytes(b"kept")
    storage.recover()
    assert not [name for name in stale if (tmp_path / name).exists()]
    assert (tmp_path / ".someone-else.tmp").exists()
    assert storage.load() == (FLOWS, CREDS)


def test_data_files_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        storage = FileStorage(tmp_path / "flows.json", tmp_path)
        storage.create_if_missing()
        storage.save(FLOWS, CREDS)
        storage.save(NEW_FLOWS, NEW_CREDS)
    finally:
        os.umask(old_umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert set(modes) == {"flows.json", "flows_cred.json", ".flows.json.backup",
                          ".flows_cred.json.backup", creds.RUNTIME_CONFIG}
    assert set(modes.values()) == {0o600}, modes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", "1m") as mount_point:
        yield mount_point


def test_a_save_that_does_not_fit_changes_nothing(small_disk: Path) -> None:
    storage = FileStorage(small_disk / "flows.json", small_disk)
    storage.save(FLOWS, CREDS)
    before = sorted((p.name, p.read_bytes()) for p in small_disk.iterdir())
    huge = [*FLOWS, {"id": "c1", "type": "comment", "info": "x" * 2_000_000}]
    with pytest.raises(DataFileError, match=r"cannot write .*: No space left on device "
                                            r"\(the disk is full\)") as info:
        storage.save(huge, CREDS)
    assert info.value.disk_full
    assert sorted((p.name, p.read_bytes()) for p in small_disk.iterdir()) == before
    assert storage.load() == (FLOWS, CREDS)
