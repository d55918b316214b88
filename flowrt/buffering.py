"""Holding messages: the buffer bound, held completions, and the error for a refused one.

A node that keeps messages for later (delay, trigger, split, join) returns a
*hold* from ``on_input``: a future that completes the message when the node
:func:`release`\\ s it, so a ``complete`` node or a tracked send sees it finish
when it really leaves (or is discarded). Every such buffer is bounded by
:func:`buffer_limit`; a message that does not fit is refused by raising
:func:`failure` from ``on_input``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from flowrt.errors import NodeError

if TYPE_CHECKING:
    from flowrt.node import Node

DEFAULT_BUFFER_LIMIT = 10_000
"""How many messages a node holds at most when the ``nodeMessageBufferMaxLength``
setting is unset or 0 (Node-RED leaves it unbounded)."""


def buffer_limit(node: Node) -> int:
    """The most messages ``node`` may hold: ``nodeMessageBufferMaxLength``, or
    :data:`DEFAULT_BUFFER_LIMIT` when that setting is unset or 0."""
    setting = node.ctx.settings.node_message_buffer_max_length
    return setting if setting > 0 else DEFAULT_BUFFER_LIMIT


def new_hold() -> asyncio.Future[None]:
    """A future to return from ``on_input`` for a message completed later by :func:`release`."""
    return asyncio.get_running_loop().create_future()


def release(future: asyncio.Future[None] | None) -> None:
    """Complete a held message (a no-op when it already completed)."""
    if future is not None and not future.done():
        future.set_result(None)


def failure(node: Node, text: str) -> NodeError:
    """The error to raise from ``on_input`` when a message cannot be handled.

    The runtime reports it (catch nodes get ``text`` as ``msg.error.message``) and
    the message does not complete, as with Node-RED's ``done(err)``.
    """
    return NodeError(text, node_id=node.id, node_type=type(node).type)
