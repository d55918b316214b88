"""The exceptions flowrt raises, each carrying the context needed to act on it.

::

    FlowrtError
    ├── FlowValidationError   a flow document is invalid; ``details`` lists every problem
    ├── PluginError           a node plugin failed to load or register
    ├── DeployError           flows failed to start and were rolled back
    ├── DataFileError         a data file (flows, credentials, key) cannot be read or written
    ├── ProjectError          a flows repository operation failed (git's message, the command)
    ├── ConfigError           a node's configuration cannot be used (code or an expression
    │                         that does not compile, a bad option); also a ValueError
    └── NodeError             a node failed while handling a message (node id, type, msg id)
        └── NotStoredError    a durable node could not take a message (disk full): not delivered

Every problem in a flow document is a :class:`Problem`: the node id and type it
concerns, the JSON path into the document (``$[3].wires[0]``) and a message.
"""

from __future__ import annotations

import errno as errno_codes
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow document, located precisely enough to fix it."""

    id: str | None
    type: str | None
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used by the admin API's error ``details``."""
        return asdict(self)

    def __str__(self) -> str:
        where = f"node {self.id!r} ({self.type})" if self.id else "document"
        return f"{where} at {self.path}: {self.message}"


class FlowrtError(Exception):
    """Base class of every error flowrt raises on purpose."""


class ConfigError(FlowrtError, ValueError):
    """A node's configuration cannot be used: code or an expression that does not
    compile, an option out of range. Raised from a node's constructor, its text names
    what is wrong and where, in the user's words (``flowrt validate`` shows it as is)."""


class FlowValidationError(FlowrtError):
    """A flow document failed validation; nothing was started or saved."""

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = problems
        count = len(problems)
        headline = message or f"{count} problem{'s' if count != 1 else ''} in flow document"
        super().__init__(headline + "".join(f"\n  - {p}" for p in problems))
        self.headline = headline


class PluginError(FlowrtError):
    """A node plugin could not be imported or registered."""

    def __init__(self, origin: str, module: str, message: str) -> None:
        self.origin = origin
        self.module = module
        self.message = message
        super().__init__(f"{origin} plugin {module}: {message}")


class DeployError(FlowrtError):
    """Starting the new flows failed; the previous flows were restored."""

    def __init__(self, message: str, node_id: str | None = None, node_type: str | None = None):
        self.node_id = node_id
        self.node_type = node_type
        super().__init__(message)


class DataFileError(FlowrtError):
    """A data file cannot be read or written; the message names it and what to do.

    ``errno`` is the OS error's; ``disk_full`` is true when it means no space (or
    quota) left, which the message then says too.
    """

    def __init__(self, path: Path, message: str, errno: int | None = None) -> None:
        self.path = path
        self.errno = errno
        self.disk_full = errno in (errno_codes.ENOSPC, errno_codes.EDQUOT)
        super().__init__(message + (" (the disk is full)" if self.disk_full else ""))


class ProjectError(FlowrtError):
    """A git operation on the flows repository failed (project mode): the message says
    which command and what git answered; ``not_found`` when a revision does not exist."""

    def __init__(self, message: str, not_found: bool = False) -> None:
        self.not_found = not_found
        super().__init__(message)


class NodeError(FlowrtError):
    """A node reported an error while handling a message."""

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        node_type: str | None = None,
        msg_id: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.msg_id = msg_id
        super().__init__(message)


class NotStoredError(NodeError):
    """A durable node could not commit a message (disk full, I/O error).

    Unlike other node errors this means the message was *not* taken: a source
    that acknowledges upstream (``mqtt in`` at QoS 1/2) must withhold its
    acknowledgement so the broker delivers the message again.
    """
