"""Back-off for failed logins, per source address and username.

Each ``(source, username)`` pair has ``FREE_ATTEMPTS`` failures free; after that
every attempt waits ``BASE_DELAY`` seconds after the last failure, doubling with
each further failure up to ``MAX_DELAY``. A success clears the pair, and a pair
with no failure for ``FORGET_AFTER`` seconds starts again.

The decision is taken before the password is checked and reserves the attempt
at once (the event loop does not switch in between), so guesses sent in
parallel count as much as guesses sent one after another: once the attempts in
flight would use up the free ones, further attempts wait for their outcome.

There is no account lock: failures from one address never slow down a login
from another, so nobody can lock the admin out from elsewhere. The table keeps
at most ``MAX_ENTRIES`` pairs (the least recently used go first), so random
usernames cannot grow memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_ATTEMPTS = 5
BASE_DELAY = 1.0
MAX_DELAY = 600.0
FORGET_AFTER = 3600.0
MAX_ENTRIES = 10_000


@dataclass
class _Attempts:
    failures: int = 0
    pending: int = 0
    last_failure: float = 0.0


class LoginThrottle:
    """Decides whether a login attempt may be checked now (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._pairs: OrderedDict[tuple[str, str], _Attempts] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs)

    def begin(self, source: str, username: str) -> float:
        """0 and the attempt reserved, or the seconds to wait before trying again.

        Every attempt that got 0 must be closed with :meth:`end`.
        """
        key = (source, username)
        now = self.clock()
        record = self._pairs.pop(key, None) or _Attempts()
        if record.failures and now - record.last_failure > FORGET_AFTER:
            record.failures = 0
        self._pairs[key] = record
        while len(self._pairs) > self.max_entries:
            self._pairs.popitem(last=False)
        if record.failures + record.pending >= FREE_ATTEMPTS:
            if record.pending:
                return BASE_DELAY  # the attempts in flight decide the delay
            remaining = record.last_failure + _delay(record.failures) - now
            if remaining > 0:
                return remaining
        record.pending += 1
        return 0.0

    def end(self, source: str, username: str, success: bool) -> None:
        """Record the outcome of an attempt :meth:`begin` let through."""
        record = self._pairs.get((source, username))
        if record is None:  # pushed out of the table meanwhile
            return
        record.pending -= 1
        if success:
            record.failures = 0
        else:
            record.failures += 1
            record.last_failure = self.clock()


def _delay(failures: int) -> float:
    return min(BASE_DELAY * 2 ** min(failures - FREE_ATTEMPTS, 30), MAX_DELAY)
