"""Crash-safe file writes for the data directory (flows, credentials, sessions).

:func:`atomic_write` replaces one file; :mod:`flowrt.file_transaction` replaces
several together.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes, backup: bool = False) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new file, whole.

    Writes a temporary file in the same directory, fsyncs it, renames it over
    the target and fsyncs the directory. With ``backup`` the previous file is
    kept as ``.<name>.backup`` first, as Node-RED does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if backup and path.exists():
        backup_path = path.with_name(f".{path.name}.backup")
        _write_then_rename(backup_path, path.read_bytes())
    _write_then_rename(path, data)


def _write_then_rename(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
