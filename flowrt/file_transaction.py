"""Replace several files together: after a crash, all of them are old or all new.

Used for the flow file and its credentials file, which must never disagree::

    staged = stage(journal, {cred_file: cred_bytes, flow_file: flow_bytes})
    ...                      # start the new flows
    staged.commit()          # or staged.discard() if they failed to start

``stage`` writes the list of files to ``<journal>.pending``, then each new file
beside its target (``.<name>.staged``, mode 0600) and fsyncs them, then keeps
each current file as ``.<name>.backup`` (a hard link: no data is copied). This
is where a full disk fails, before anything has changed. ``commit`` renames the
pending journal to ``<journal>`` -- the commit point -- then renames each staged
file over its target and removes the journal; renames need no new data blocks,
so a commit does not fail for lack of space. ``recover`` runs at start: with a
journal, a crash interrupted a commit, and the remaining renames are done; with
only a pending one, the staged files of an uncommitted save are removed.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import orjson

from flowrt.errors import DataFileError

log = logging.getLogger("flowrt.storage")


class StagedFiles:
    """New contents written beside their targets, waiting for ``commit`` or ``discard``."""

    def __init__(self, journal: Path, files: dict[Path, Path]) -> None:
        self.journal = journal
        self.files = files
        """Staged file → target."""

    def commit(self) -> None:
        """Put every staged file in place (see the module docstring).

        DataFileError if the commit point was not reached (the targets are as they
        were). Past it the save stands: a failure to rename is logged, and ``recover``
        completes the renames at the next start.
        """
        try:
            os.replace(_pending(self.journal), self.journal)
        except OSError as exc:
            self.discard()
            raise _error(self.journal, "write", exc) from None
        try:
            _sync_dir(self.journal.parent)
            _finish(self.journal, self.files)
        except DataFileError as exc:
            log.error("%s; the save is completed at the next start", exc)

    def discard(self) -> None:
        """Remove the staged files; the targets stay as they were."""
        for staged in self.files:
            staged.unlink(missing_ok=True)
        _pending(self.journal).unlink(missing_ok=True)


def stage(journal: Path, contents: dict[Path, bytes]) -> StagedFiles:
    """Write ``contents`` (target → bytes) durably beside their targets; DataFileError
    (nothing changed) if that fails."""
    files = {target.with_name(f".{target.name}.staged"): target for target in contents}
    staged = StagedFiles(journal, files)
    try:
        for directory in {p.parent for p in [journal, *files]}:
            _make_dir(directory)
        # The pending journal goes first, so that ``recover`` finds staged files to remove.
        # Its errors name the first file being saved: the journal means nothing to a user.
        _write_synced(_pending(journal), orjson.dumps([[str(s), str(t)] for s, t in files.items()]),
                      next(iter(contents)))
        for staged_path, target in files.items():
            _write_synced(staged_path, contents[target], target)
        for target in files.values():
            _keep_backup(target)
        for directory in {p.parent for p in [journal, *files]}:
            _sync_dir(directory)
    except DataFileError:
        staged.discard()
        raise
    return staged


def recover(journal: Path) -> None:
    """Finish a commit a crash interrupted, or remove an uncommitted save's files."""
    if journal.exists():
        _finish(journal, _read_journal(journal))
    pending = _pending(journal)
    if pending.exists():
        try:
            files = _read_journal(pending)
        except DataFileError:
            files = {}  # torn while written: no staged file was written after it
        StagedFiles(journal, files).discard()


# --------------------------------------------------------------------- helpers
def _pending(journal: Path) -> Path:
    return journal.with_name(journal.name + ".pending")


def _finish(journal: Path, files: dict[Path, Path]) -> None:
    for staged, target in files.items():
        if staged.exists():  # absent: renamed before a crash
            try:
                os.replace(staged, target)
            except OSError as exc:
                raise _error(target, "write", exc) from None
    # Every rename durable before the journal goes; one fsync per directory does that.
    for directory in {target.parent for target in files.values()}:
        _sync_dir(directory)
    journal.unlink(missing_ok=True)
    _sync_dir(journal.parent)


def _read_journal(journal: Path) -> dict[Path, Path]:
    try:
        pairs = orjson.loads(journal.read_bytes())
        return {Path(staged): Path(target) for staged, target in pairs}
    except (OSError, ValueError, TypeError) as exc:
        raise DataFileError(journal, f"{journal} is unreadable ({exc}): it records an "
                                     "interrupted save; delete it to keep the files as they are",
                            ) from None


def _keep_backup(target: Path) -> None:
    if not target.exists():
        return
    backup = target.with_name(f".{target.name}.backup")
    temporary = target.with_name(f".{target.name}.backup.tmp")
    try:
        temporary.unlink(missing_ok=True)
        try:
            os.link(target, temporary)
        except OSError:  # a filesystem without hard links: copy
            shutil.copyfile(target, temporary)
        os.replace(temporary, backup)
    except OSError as exc:
        raise _error(backup, "write", exc) from None


def _write_synced(path: Path, data: bytes, named: Path) -> None:
    """Write ``path`` (mode 0600) and fsync it; errors name ``named``, the file it becomes."""
    try:
        path.unlink(missing_ok=True)  # a leftover would keep its own mode
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _error(named, "write", exc) from None


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _error(directory, "create", exc) from None


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _error(directory, "sync", exc) from None


def _error(path: Path, action: str, exc: OSError) -> DataFileError:
    return DataFileError(path, f"cannot {action} {path}: {exc.strerror or exc}", exc.errno)
