"""Kill -9 helpers shared by the crash tests."""

from __future__ import annotations

import random
import signal
import subprocess


def ids_until_killed(process: subprocess.Popen[bytes], rng: random.Random,
                     most: int) -> list[int]:
    """Read the ids ``process`` prints once each is acknowledged (one per line),
    SIGKILL it after a random number of them (1..``most``), and return every id it
    printed, including those still in the pipe (a last, cut line is left out)."""
    assert process.stdout is not None
    ids = []
    for _ in range(rng.randint(1, most)):
        line = process.stdout.readline()
        assert line.endswith(b"\n"), "writer exited early"
        ids.append(int(line))
    process.send_signal(signal.SIGKILL)
    rest = process.stdout.read()
    process.wait(timeout=10)
    process.stdout.close()
    return ids + [int(line) for line in rest.split(b"\n")[:-1]]
