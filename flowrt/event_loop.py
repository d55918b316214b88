"""Which event loop ``flowrt run`` runs on: uvloop when it is installed
(``pip install flowrt[uvloop]``), the standard library's otherwise.

The ``eventLoop`` setting (``FLOWRT_EVENT_LOOP``) chooses: ``auto`` (the default),
``asyncio`` (the standard library's, even with uvloop installed) or ``uvloop`` (an error
when it is not installed). uvloop runs the same asyncio programs with less CPU per
network wake-up; flowrt's behaviour is the same on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

EVENT_LOOPS = ("auto", "asyncio", "uvloop")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopUnavailable(Exception):
    """The setting asks for uvloop and it is not installed."""


def loop_factory(choice: str) -> LoopFactory | None:
    """The factory of the loop ``choice`` (one of :data:`EVENT_LOOPS`) stands for, or
    None for the standard library's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopUnavailable("setting 'eventLoop' is 'uvloop' but uvloop is not "
                                       "installed (pip install 'flowrt[uvloop]')") from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which implementation ``loop`` is."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
