"""Back-off for failed logins, per source address and username.

Each ``(source, username)`` pair has ``FREE_ATTEMPTS`` failures free; after that
every attempt waits ``BASE_DELAY`` seconds after the last failure, doubling with
each further failure up to ``MAX_DELAY``. A success clears the pair, and a pair
with no failure for ``FORGET_AFTER`` seconds starts again.

The decision is taken before the password is checked and reserves the attempt
at once (the event loop does not switch in between), so guesses sent in
parallel count as much as guesses sent one after another: once the attempts in
flight would use up the free ones, further attempts wait for their outcome.

One address also has ``SOURCE_FREE_ATTEMPTS`` failures free over all usernames
together, with the same back-off beyond: otherwise guesses spread over random
usernames would push its pair for the real one out of the bounded table (and so
reset it) while never being slowed down.

There is no account lock: failures from one address never slow down a login
from another, so nobody can lock the admin out from elsewhere. Each table keeps
at most ``MAX_ENTRIES`` entries (the least recently used go first), so random
usernames or addresses cannot grow memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

FREE_ATTEMPTS = 5
SOURCE_FREE_ATTEMPTS = 20
BASE_DELAY = 1.0
MAX_DELAY = 600.0
FORGET_AFTER = 3600.0
MAX_ENTRIES = 10_000


_K = TypeVar("_K")


@dataclass
class _Attempts:
    failures: int = 0
    pending: int = 0
    last_failure: float = 0.0

    def settle(self, success: bool, now: float) -> None:
        """One attempt in flight ended."""
        self.pending -= 1
        if success:
            self.failures = 0
        else:
            self.failures += 1
            self.last_failure = now


class LoginThrottle:
    """Decides whether a login attempt may be checked now (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._pairs: OrderedDict[tuple[str, str], _Attempts] = OrderedDict()
        self._sources: OrderedDict[str, _Attempts] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs)

    def begin(self, source: str, username: str) -> float:
        """0 and the attempt reserved, or the seconds to wait before trying again.

        Every attempt that got 0 must be closed with :meth:`end`.
        """
        now = self.clock()
        pair = self._touch(self._pairs, (source, username), now)
        by_source = self._touch(self._sources, source, now)
        wait = max(_wait(pair, FREE_ATTEMPTS, now), _wait(by_source, SOURCE_FREE_ATTEMPTS, now))
        if wait:
            return wait
        pair.pending += 1
        by_source.pending += 1
        return 0.0

    def end(self, source: str, username: str, success: bool) -> None:
        """Record the outcome of an attempt :meth:`begin` let through."""
        now = self.clock()
        for record in (self._pairs.get((source, username)), self._sources.get(source)):
            if record is not None:  # None: pushed out of the table meanwhile
                record.settle(success, now)

    def _touch(self, table: OrderedDict[_K, _Attempts], key: _K, now: float) -> _Attempts:
        record = table.pop(key, None) or _Attempts()
        if record.failures and now - record.last_failure > FORGET_AFTER:
            record.failures = 0
        table[key] = record
        while len(table) > self.max_entries:
            table.popitem(last=False)
        return record


def _wait(record: _Attempts, free: int, now: float) -> float:
    """Seconds ``record`` must wait before another attempt (0: it may go now)."""
    if record.failures + record.pending < free:
        return 0.0
    if record.pending:
        return BASE_DELAY  # the attempts in flight decide the delay
    return max(0.0, record.last_failure + _delay(record.failures, free) - now)


def _delay(failures: int, free: int) -> float:
    return min(BASE_DELAY * 2 ** min(failures - free, 30), MAX_DELAY)
