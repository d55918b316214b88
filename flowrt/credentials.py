"""Node credentials at rest, encrypted exactly as Node-RED encrypts them.

The credentials file holds ``{"$": hex(iv) + base64(ciphertext)}``: AES-256-CTR
with a random 16-byte IV on every save, the key being ``sha256(secret)`` of the
UTF-8 secret, and the plaintext ``JSON.stringify({nodeId: {name: value}})``. A
``flows_cred.json`` written by Node-RED therefore decrypts here with the same
secret, and the other way round.

The secret is the ``credentialSecret`` setting when it is a string. Without one a
64-hex-character system key is generated once and kept in the data directory's
``.config.runtime.json`` as ``_credentialSecret`` (Node-RED's file and key, so a
Node-RED user directory keeps working). ``credentialSecret = false`` stores the
credentials as plain JSON.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import orjson

from flowrt.errors import DataFileError
from flowrt.files import atomic_write

RUNTIME_CONFIG = ".config.runtime.json"
SYSTEM_KEY = "_credentialSecret"

Credentials = dict[str, dict[str, Any]]


class CredentialsError(Exception):
    """The credentials file cannot be read with the configured secret."""


def encrypt(credentials: Credentials, secret: str) -> dict[str, str]:
    """Encrypt a credentials map into Node-RED's ``{"$": ...}`` document."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(_key(secret)), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(orjson.dumps(credentials)) + encryptor.finalize()
    return {"$": iv.hex() + base64.b64encode(ciphertext).decode("ascii")}


def decrypt(document: dict[str, Any], secret: str) -> Credentials:
    """Decrypt a ``{"$": ...}`` document; CredentialsError if the secret is wrong."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    blob = document.get("$")
    if not isinstance(blob, str) or len(blob) < 32:
        raise CredentialsError("not an encrypted credentials document (no '$' string)")
    try:
        iv, ciphertext = bytes.fromhex(blob[:32]), base64.b64decode(blob[32:], validate=True)
    except ValueError as exc:
        raise CredentialsError(f"malformed encrypted credentials: {exc}") from None
    decryptor = Cipher(algorithms.AES(_key(secret)), modes.CTR(iv)).decryptor()
    plaintext = decryptor.update(ciphertext) + decryptor.finalize()
    try:
        credentials = orjson.loads(plaintext)
    except orjson.JSONDecodeError:
        raise CredentialsError("cannot decrypt credentials: wrong credentialSecret?") from None
    if not isinstance(credentials, dict):
        raise CredentialsError("decrypted credentials are not an object")
    return credentials


def is_encrypted(document: Any) -> bool:
    """True for an encrypted ``{"$": ...}`` document (as opposed to a plain map)."""
    return isinstance(document, dict) and set(document) == {"$"}


def system_secret(data_dir: Path, create: bool = True) -> str | None:
    """The data directory's generated key (made and saved on first use when ``create``).

    DataFileError if ``.config.runtime.json`` cannot be read or written.
    """
    path = data_dir / RUNTIME_CONFIG
    config = _runtime_config(path)
    if isinstance(config.get(SYSTEM_KEY), str):
        return config[SYSTEM_KEY]
    if not create:
        return None
    config[SYSTEM_KEY] = secrets.token_hex(32)
    try:
        atomic_write(path, orjson.dumps(config, option=orjson.OPT_INDENT_2))
    except OSError as exc:
        raise DataFileError(path, f"cannot write {path}: {exc.strerror or exc}",
                            exc.errno) from None
    return config[SYSTEM_KEY]


def _runtime_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    config: Any = None
    try:
        config = orjson.loads(path.read_bytes() or b"{}")
        problem = "not a JSON object"
    except orjson.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc}"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    if isinstance(config, dict):
        return config
    raise DataFileError(path, f"{path} is unreadable ({problem}): restore it from a backup; "
                              "deleting it loses the key that decrypts the credentials file")


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()
