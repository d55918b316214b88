"""The data directory's flow and credentials files (the runtime's FlowStorage).

Files follow Node-RED's layout: the flow file (``flows.json`` unless another is
given) and, in the data directory, ``<flow file stem>_cred.json`` holding the
credentials encrypted by :mod:`flowrt.credentials`. Every write is atomic
(temporary file, fsync, rename) and keeps the previous file as
``.<name>.backup``; an empty flow file is replaced by its backup on load, as
Node-RED does after a crash mid-write on filesystems without atomic rename.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from flowrt import credentials as creds
from flowrt import flowdoc

log = logging.getLogger("flowrt.storage")


class FileStorage:
    """Flows and credentials in files; implements ``flowrt.runtime.FlowStorage``.

    ``credential_secret`` is the ``credentialSecret`` setting: a string, None
    (use the data directory's generated key) or False (store plain JSON).
    """

    def __init__(self, flow_file: Path, data_dir: Path,
                 credential_secret: str | bool | None = None, pretty: bool = True) -> None:
        self.flow_file = flow_file
        self.data_dir = data_dir
        self.cred_file = data_dir / f"{flow_file.stem}_cred{flow_file.suffix or '.json'}"
        self.pretty = pretty
        self._secret_setting = credential_secret
        self.credentials_error: str | None = None
        """Why the last load found no usable credentials (None when it did)."""

    @property
    def encryption_type(self) -> str:
        """``user``, ``system`` or ``disabled`` (reported by ``GET /settings``)."""
        if self._secret_setting is False:
            return "disabled"
        return "user" if isinstance(self._secret_setting, str) else "system"

    def create_if_missing(self) -> bool:
        """Create an empty flow file if there is none; True when one was created."""
        if self.flow_file.exists():
            return False
        flowdoc.save(self.flow_file, [], self.pretty)
        return True

    def load(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Read the flows (FlowValidationError if the file is not a flow document)
        and the credentials (empty, with ``credentials_error`` set, if unreadable)."""
        return self._load_flows(), self._load_credentials()

    def save(self, flows: list[dict[str, Any]], credentials: dict[str, dict[str, Any]]) -> None:
        """Atomically write the flows and the (encrypted) credentials."""
        flowdoc.save(self.flow_file, flows, self.pretty)
        secret = self._write_secret()
        document: Any = credentials if secret is None else creds.encrypt(credentials, secret)
        flowdoc.atomic_write(self.cred_file, orjson.dumps(document, option=orjson.OPT_INDENT_2),
                             backup=True)
        os.chmod(self.cred_file, 0o600)
        self.credentials_error = None

    # ----------------------------------------------------------------- helpers
    def _load_flows(self) -> list[dict[str, Any]]:
        if not self.flow_file.exists():
            return []
        data = self.flow_file.read_bytes()
        backup = self.flow_file.with_name(f".{self.flow_file.name}.backup")
        if not data.strip() and backup.exists():
            log.warning("flow file %s is empty: restoring its backup", self.flow_file)
            data = backup.read_bytes()
        return flowdoc.parse(data, source=str(self.flow_file))

    def _load_credentials(self) -> dict[str, dict[str, Any]]:
        self.credentials_error = None
        if not self.cred_file.exists():
            return {}
        try:
            document = orjson.loads(self.cred_file.read_bytes() or b"{}")
        except orjson.JSONDecodeError as exc:
            return self._unreadable(f"{self.cred_file} is not valid JSON: {exc}")
        if not creds.is_encrypted(document):
            if isinstance(document, dict):
                return document
            return self._unreadable(f"{self.cred_file} is not a JSON object")
        try:
            return self.decrypt(document)
        except creds.CredentialsError as exc:
            return self._unreadable(f"{self.cred_file}: {exc}")

    def decrypt(self, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Decrypt a ``{"$": ...}`` document with the configured (or system) secret."""
        failures = []
        for secret in self._read_secrets():
            try:
                return creds.decrypt(document, secret)
            except creds.CredentialsError as exc:
                failures.append(str(exc))
        raise creds.CredentialsError("; ".join(failures) or "no credentialSecret to decrypt with")

    def _unreadable(self, reason: str) -> dict[str, dict[str, Any]]:
        log.error("%s; starting without credentials", reason)
        self.credentials_error = reason
        return {}

    def _read_secrets(self) -> list[str]:
        # A user key added later: the file may still be encrypted with the
        # system key; it is re-encrypted with the user key on the next save.
        found = [self._secret_setting] if isinstance(self._secret_setting, str) else []
        system = creds.system_secret(self.data_dir, create=False)
        return found + ([system] if system else [])

    def _write_secret(self) -> str | None:
        if self._secret_setting is False:
            return None
        if isinstance(self._secret_setting, str):
            return self._secret_setting
        return creds.system_secret(self.data_dir)
