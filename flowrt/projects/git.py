"""The flows repository, driven through the ``git`` command.

Why the binary and not dulwich (measured in this repository's history, commit
"projects: flows under version control"): an idle runtime pays nothing for it (dulwich
adds 3.3 MB of resident memory when imported, 4.3 MB after some commits), a deploy's
commit of a 100-tab project took 39 ms against dulwich's 11 ms (a deploy takes longer
than either), and push and pull use the user's own git set-up as it is -- ssh keys and
config, credential helpers, proxies -- which dulwich only partly reads. Without git on
the machine, new data directories keep the single flow file (``flowrt.projects.storage``).

Every call runs one git command with ``-C <repo>``; a failure is a
:class:`~flowrt.errors.ProjectError` quoting git's own message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flowrt.errors import ProjectError

BRANCH = "main"
_SEP, _END = "\x1f", "\x1e"
_AUTHOR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*(?:<(?P<email>[^<>]*)>)?\s*$")
GIT_TIMEOUT = 120.0
"""Seconds one git command may take (a push or pull over a slow link included)."""


def git_binary() -> str | None:
    """The ``git`` command's path, or None when git is not installed."""
    return shutil.which("git")


@dataclass(frozen=True)
class Author:
    """Who a commit is by: a name and an e-mail address (may be empty)."""

    name: str
    email: str = ""

    @classmethod
    def parse(cls, text: str) -> Author:
        """``"Ada Lovelace <ada@example.com>"`` or a bare name."""
        match = _AUTHOR.match(text)
        if match is None or not match["name"]:
            raise ValueError(f"{text!r} is not 'Name <e-mail>'")
        return cls(match["name"], match["email"] or "")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Commit:
    """One entry of the history."""

    rev: str
    author: str
    email: str
    date: str
    """ISO 8601 with the author's offset."""
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form of the history API."""
        return {"rev": self.rev, "author": self.author, "email": self.email,
                "date": self.date, "message": self.message}


class GitRepo:
    """A git repository with a working tree at ``path``."""

    def __init__(self, path: Path, interactive: bool = False) -> None:
        self.path = path
        self.interactive = interactive
        """May git ask the person at the terminal (a passphrase, a password)? Never in
        the server, where nobody would answer."""

    def exists(self) -> bool:
        """True when ``path`` holds a repository."""
        return (self.path / ".git").is_dir()

    def init(self) -> None:
        """Create the repository (branch ``main``)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.run("init", "-q", f"--initial-branch={BRANCH}")

    def head(self) -> str | None:
        """The current commit, None before the first."""
        done = self._run(["rev-parse", "--verify", "-q", "HEAD"], check=False)
        return done.stdout.decode().strip() or None

    def resolve(self, rev: str) -> str:
        """The full id of a commit named by ``rev`` (an id, a prefix, ``HEAD~2``...)."""
        if rev.startswith("-"):
            raise ProjectError(f"{rev!r} is not a revision", not_found=True)
        done = self._run(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], check=False)
        if done.returncode:
            raise ProjectError(f"no revision {rev!r} in {self.path}", not_found=True)
        return done.stdout.decode().strip()

    def commit(self, paths: Sequence[str], author: Author, message: str) -> str | None:
        """Stage the working tree's ``paths`` (additions and removals; each must exist,
        a directory may be empty) and commit; the new commit's id, or None when nothing
        changed."""
        self.run("add", "-A", "--", *paths)
        if self.head() is not None and not self._run(
                ["diff", "--cached", "--quiet", "HEAD"], check=False).returncode:
            return None
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
        self.run("-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
                 "--allow-empty-message", "-F", "-", input=message.encode(), env=env)
        return self.head()

    def log(self, limit: int = 100, skip: int = 0, rev: str = "HEAD") -> list[Commit]:
        """Commits reachable from ``rev``, newest first."""
        if self.head() is None:
            return []
        out = self.run("log", f"--max-count={limit}", f"--skip={skip}",
                       f"--format=%H{_SEP}%an{_SEP}%ae{_SEP}%aI{_SEP}%B{_END}",
                       self.resolve(rev))
        commits = []
        for record in out.split(_END):
            fields = record.strip("\n").split(_SEP)
            if len(fields) == 5:
                commits.append(Commit(fields[0], fields[1], fields[2], fields[3],
                                      fields[4].rstrip("\n")))
        return commits

    def read_files(self, rev: str, paths: Sequence[str]) -> dict[str, bytes]:
        """The content of every file under ``paths`` at ``rev``."""
        commit = self.resolve(rev)
        names = [n for n in self.run("ls-tree", "-r", "-z", "--name-only", commit, "--",
                                     *paths).split("\0") if n]
        if not names:
            return {}
        requests = "".join(f"{commit}:{name}\n" for name in names).encode()
        out = self._run(["cat-file", "--batch"], input=requests).stdout
        files: dict[str, bytes] = {}
        position = 0
        for name in names:
            header_end = out.index(b"\n", position)
            size = int(out[position:header_end].split()[2])
            files[name] = out[header_end + 1:header_end + 1 + size]
            position = header_end + 1 + size + 1
        return files

    def tree(self, rev: str) -> str:
        """The id of ``rev``'s tree (equal trees: equal content)."""
        return self.run("rev-parse", f"{self.resolve(rev)}^{{tree}}").strip()

    def run(self, *args: str, input: bytes | None = None,
            env: Mapping[str, str] | None = None) -> str:
        """Run ``git ARGS`` in the repository; its stdout (ProjectError on failure)."""
        return self._run(list(args), input=input, env=env).stdout.decode()

    def _run(self, args: list[str], *, input: bytes | None = None,
             env: Mapping[str, str] | None = None, check: bool = True,
             ) -> subprocess.CompletedProcess[bytes]:
        binary = git_binary()
        if binary is None:
            raise ProjectError("git is not installed: project mode needs the git command")
        full_env = {**os.environ, **(env or {})}
        if not self.interactive:
            full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
        try:
            done = subprocess.run(
                [binary, "-C", str(self.path), "-c", "core.quotepath=false", *args],
                input=input, env=full_env, timeout=GIT_TIMEOUT, check=False,
                stdout=subprocess.PIPE,
                stderr=None if self.interactive and args[0] in ("push", "pull") else
                subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise ProjectError(f"git {args[0]} took more than {GIT_TIMEOUT:.0f} s") from None
        except OSError as exc:
            raise ProjectError(f"cannot run git: {exc.strerror or exc}") from None
        if check and done.returncode:
            said = (done.stderr or b"").decode(errors="replace").strip()
            raise ProjectError(f"git {args[0]} failed in {self.path}: "
                               f"{said or f'exit code {done.returncode}'}")
        return done
