"""A small tmpfs for full-disk tests: mounted as root, skipped with the reason otherwise."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "3m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``where`` for the block; skip the test if the
    machine refuses (not root, no mount permission in this container)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs to fill (needs root): "
                    f"{mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Write a ballast file in ``directory`` until at most ``leave`` bytes are free;
    delete the file to give the space back."""
    ballast = directory / "ballast"
    stats = os.statvfs(directory)
    room = stats.f_bavail * stats.f_frsize - leave
    chunk = b"\0" * 65536
    with open(ballast, "wb", buffering=0) as out:
        try:
            while room > 0:
                room -= out.write(chunk[: min(room, len(chunk))])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return ballast
