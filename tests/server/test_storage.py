"""The data directory's flow and credentials files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flowrt import credentials as creds
from flowrt.errors import FlowValidationError
from flowrt.storage import FileStorage

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


def test_undecryptable_credentials_load_empty_with_the_reason(tmp_path: Path) -> None:
    FileStorage(tmp_path / "flows.json", tmp_path, credential_secret="one").save(FLOWS, CREDS)
    storage = FileStorage(tmp_path / "flows.json", tmp_path, credential_secret="two")
    assert storage.load() == (FLOWS, {})
    assert storage.credentials_error and "wrong credentialSecret" in storage.credentials_error


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


def test_missing_flow_file_is_empty_and_can_be_created(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "flows.json", tmp_path)
    assert storage.load() == ([], {})
    assert storage.create_if_missing() is True
    assert storage.create_if_missing() is False
    assert orjson.loads((tmp_path / "flows.json").read_bytes()) == []
