"""The data directory's flow and credentials files (the runtime's FlowStorage).

Files follow Node-RED's layout: the flow file (``flows.json`` unless another is
given) and, in the data directory, ``<flow file stem>_cred.json`` holding the
credentials encrypted by :mod:`flowrt.credentials`. Both are written as one
:mod:`~flowrt.file_transaction` (mode 0600, fsynced, the previous versions kept
as ``.<name>.backup``), so a crash never leaves flows and credentials from
different saves, and a full disk fails a save before anything changes. An empty
flow file is replaced by its backup on load, as Node-RED does after a crash
mid-write on filesystems without atomic rename.

A file that cannot be read -- not UTF-8 or JSON, credentials that the configured
secret does not decrypt -- is a :class:`~flowrt.errors.DataFileError` (flow file
content: :class:`~flowrt.errors.FlowValidationError`) naming the file and what to
do: the runtime stops rather than start without, and later overwrite, what it
could not read.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Any

import orjson

from flowrt import credentials as creds
from flowrt import file_transaction, flowdoc
from flowrt.deploy_note import DeployNote
from flowrt.errors import DataFileError
from flowrt.file_transaction import StagedFiles

log = logging.getLogger("flowrt.storage")

Flows = list[dict[str, Any]]
Credentials = dict[str, dict[str, Any]]




class FileStorage:
    """Flows and credentials in files; implements ``flowrt.runtime.FlowStorage``.

    This class is the single flow file; ``flowrt.projects.storage.ProjectStorage``
    (project mode) overrides where the flows are read from and written to.

    ``credential_secret`` is the ``credentialSecret`` setting: a string, None
    (use the data directory's generated key) or False (store plain JSON).
    """

    def __init__(self, flow_file: Path, data_dir: Path,
                 credential_secret: str | bool | None = None, pretty: bool = True) -> None:
        self.flow_file = flow_file
        self.data_dir = data_dir
        self.cred_file = data_dir / f"{flow_file.stem}_cred{flow_file.suffix or '.json'}"
        self.journal = data_dir / f".{flow_file.name}.journal"
        self.pretty = pretty
        self._secret_setting = credential_secret

    @property
    def encryption_type(self) -> str:
        """``user``, ``system`` or ``disabled`` (reported by ``GET /settings``)."""
        if self._secret_setting is False:
            return "disabled"
        return "user" if isinstance(self._secret_setting, str) else "system"

    @property
    def location(self) -> Path:
        """Where the flows are kept, as said to people: the flow file."""
        return self.flow_file

    @property
    def flow_backup(self) -> Path:
        """The previous flow file (``.<name>.backup``)."""
        return self.flow_file.with_name(f".{self.flow_file.name}.backup")

    def recover(self) -> None:
        """At start: finish or undo a save a crash interrupted; remove stale temporary files."""
        file_transaction.recover(self.journal)
        for directory, name in ((self.flow_file.parent, self.flow_file.name),
                                (self.data_dir, self.cred_file.name),
                                (self.data_dir, creds.RUNTIME_CONFIG)):
            for stale in directory.glob(f".{glob.escape(name)}.*.tmp"):
                log.info("removing %s, left by an interrupted write", stale)
                stale.unlink(missing_ok=True)

    def create_if_missing(self) -> bool:
        """Create an empty flow file if there is none; True when one was created."""
        if self.flow_file.exists():
            return False
        flowdoc.save(self.flow_file, [], self.pretty)
        return True

    def load(self) -> tuple[Flows, Credentials]:
        """Read the flows (FlowValidationError if the file is not a flow document)
        and the credentials; DataFileError if either cannot be read."""
        return self.load_flows(), self._load_credentials()

    def stage(self, flows: Flows, credentials: Credentials,
              note: DeployNote | None = None) -> StagedFiles:
        """Write the flows and the (encrypted) credentials durably, to be committed
        once the flows have started; DataFileError (nothing changed) if that fails."""
        secret = self._write_secret()
        document: Any = credentials if secret is None else creds.encrypt(credentials, secret)
        return file_transaction.stage(self.journal, {
            self.cred_file: orjson.dumps(document, option=orjson.OPT_INDENT_2),
            **self.flow_contents(flows, note),
        })

    def save(self, flows: Flows, credentials: Credentials,
             note: DeployNote | None = None) -> None:
        """Write and commit the flows and credentials together."""
        self.stage(flows, credentials, note).commit()

    def flow_contents(self, flows: Flows, note: DeployNote | None = None) -> dict[Path, bytes]:
        """The files a save of ``flows`` writes besides the credentials: the flow file."""
        return {self.flow_file: flowdoc.dumps(flows, self.pretty)}

    def decrypt(self, document: dict[str, Any], secrets: list[str] | None = None) -> Credentials:
        """Decrypt a ``{"$": ...}`` document with the configured (or system) secret."""
        failures = []
        for secret in self._read_secrets() if secrets is None else secrets:
            try:
                return creds.decrypt(document, secret)
            except creds.CredentialsError as exc:
                failures.append(str(exc))
        raise creds.CredentialsError("; ".join(failures) or "no credentialSecret to decrypt with")

    @property
    def flows_name(self) -> Path:
        """Where a Node-RED ``flows.json`` of these flows is: test-case files sit beside
        it (``flows.tests.yaml``, docs/flow-tests.md)."""
        return self.flow_file

    def load_flows(self) -> Flows:
        """The flows alone (no credentials, no key needed): ``flowrt export``."""
        if not self.flow_file.exists():
            return []
        data = _read(self.flow_file)
        if not data.strip() and self.flow_backup.exists():
            log.warning("flow file %s is empty: restoring its backup", self.flow_file)
            data = _read(self.flow_backup)
        return flowdoc.parse(data, source=str(self.flow_file))

    # ----------------------------------------------------------------- helpers
    def _load_credentials(self) -> Credentials:
        # Reads .config.runtime.json too: a corrupt one is reported at start, not
        # by the first deploy.
        secrets = self._read_secrets()
        if not self.cred_file.exists():
            return {}
        move_away = f"restore it from .{self.cred_file.name}.backup, or move it away to " \
                    "start without credentials"
        try:
            document = orjson.loads(_read(self.cred_file) or b"{}")
        except orjson.JSONDecodeError as exc:
            raise DataFileError(self.cred_file, f"{self.cred_file} is not valid JSON ({exc}): "
                                                f"{move_away}") from None
        if not creds.is_encrypted(document):
            if isinstance(document, dict) and all(isinstance(v, dict) for v in document.values()):
                return document
            raise DataFileError(self.cred_file, f"{self.cred_file} is not a credentials "
                                                f"document: {move_away}")
        try:
            return self.decrypt(document, secrets)
        except creds.CredentialsError as exc:
            raise DataFileError(self.cred_file, (
                f"cannot decrypt {self.cred_file} ({exc}): set the credentialSecret it was "
                f"saved with (or keep {creds.RUNTIME_CONFIG} in the data directory), or move "
                "it away to start without credentials")) from None

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


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read {path}: {exc.strerror or exc}",
                            exc.errno) from None
