"""Who deployed and why, passed from the admin API through the runtime to the storage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeployNote:
    """Who deployed and why: the author and message of a project's commit (project
    mode, ``flowrt.projects``); the single flow file keeps no history and ignores it."""

    user: str | None = None
    """The logged-in user (adminAuth), None for the configured default author."""
    message: str = ""
