"""Credential encryption, compatible with Node-RED's flows_cred.json."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from flowrt import credentials as creds

# Made by Node-RED's algorithm (Node.js crypto, aes-256-ctr, key sha256("node-red secret")).
NODE_RED_FILE = {"$": "4372e318b64460b87fd83fb05e1524daXRKhnHntj5qHsWngqZW+hh7c2hJNmd6s4dWorHdSI"
                      "+ywpXJE3HjDgr5mew=="}


def test_decrypts_a_file_node_red_encrypted() -> None:
    assert creds.decrypt(NODE_RED_FILE, "node-red secret") == {
        "b1": {"user": "alice", "password": "s3cret"}}


def test_wrong_secret_is_a_clear_error() -> None:
    with pytest.raises(creds.CredentialsError, match="wrong credentialSecret"):
        creds.decrypt(NODE_RED_FILE, "another secret")


def test_round_trip_uses_a_fresh_iv_each_time() -> None:
    data = {"n1": {"password": "p\u00e4ss"}}
    first, second = creds.encrypt(data, "k"), creds.encrypt(data, "k")
    assert first["$"][:32] != second["$"][:32]
    assert creds.decrypt(first, "k") == creds.decrypt(second, "k") == data


@pytest.mark.parametrize("document", [{"$": "zz"}, {"$": "0" * 32 + "***"}, {"x": 1}])
def test_malformed_documents_are_rejected(document: dict[str, str]) -> None:
    with pytest.raises(creds.CredentialsError):
        creds.decrypt(document, "k")


def test_system_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    assert creds.system_secret(tmp_path, create=False) is None
    secret = creds.system_secret(tmp_path)
    assert secret is not None and len(secret) == 64
    assert creds.system_secret(tmp_path) == secret
    config = tmp_path / creds.RUNTIME_CONFIG
    assert orjson.loads(config.read_bytes()) == {creds.SYSTEM_KEY: secret}
    assert os.stat(config).st_mode & 0o077 == 0
