"""Project mode's storage: the flows as files in a git repository, every deploy a commit.

The repository is ``DATA_DIR/project`` (layout: :mod:`flowrt.projects.layout`); the
credentials stay in ``DATA_DIR/flows_cred.json``, outside it, encrypted as ever.

A deploy is saved as the single flow file is (:mod:`flowrt.file_transaction`): the
project's files, the credentials and a *deploy note* (author and message,
``DATA_DIR/.project-deploy.json``) are staged durably before the flows start; the
commit point puts them in place, and only then is the git commit made. A crash
between the two leaves the working tree ahead of HEAD: ``recover`` at the next start
commits it, with the note's author and message, so no deployed flows are lost and
the history says who deployed them. A git failure after the commit point is logged;
the flows stand, and the next start (or deploy) commits them.

``storage_for`` decides the mode: ``flowrt run FLOWFILE`` runs that file, or that
project when FLOWFILE is a directory; else the ``projects`` setting when set; otherwise
project mode for a data directory that has a project, or that has neither a project
nor a flow file (a new one, when git is installed). An existing single flow file is
never converted behind the user's back: ``flowrt project init`` does that.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import orjson

from flowrt.errors import DataFileError, ProjectError
from flowrt.file_transaction import StagedFiles
from flowrt.projects import layout
from flowrt.projects.git import Author, Commit, GitRepo, git_binary
from flowrt.settings import Settings
from flowrt.storage import Credentials, DeployNote, FileStorage, Flows

log = logging.getLogger("flowrt.storage")

PROJECT_DIR = "project"
CREDENTIALS_FILE = "flows_cred.json"
NOTE_FILE = ".project-deploy.json"
TRACKED = (".gitignore", layout.INDEX, *layout.FLOW_DIRS)
"""What flowrt commits; anything else in the repository is the user's to manage."""
GITIGNORE = ".*.backup\n.*.staged\n.*.tmp\n"
"""The save's own temporary and backup files (``flowrt.file_transaction``)."""
RECOVERED = ("Flows changed outside flowrt, committed at start (the working tree was "
             "ahead of the last commit)")


def default_author(settings: Settings) -> Author:
    """``projectAuthor`` from the settings, else ``flowrt <flowrt@HOSTNAME>``."""
    if settings.project_author:
        return Author.parse(settings.project_author)
    return Author("flowrt", f"flowrt@{socket.gethostname()}")


def is_project_mode(settings: Settings, data_dir: Path, flowfile: Path | None = None) -> bool:
    """Whether ``flowrt run`` keeps the flows in a project (see the module docstring)."""
    if flowfile is not None:
        return flowfile.is_dir()
    if settings.projects is not None:
        return settings.projects
    if GitRepo(data_dir / PROJECT_DIR).exists():
        return True
    single = data_dir / (settings.flow_file or "flows.json")
    return settings.flow_file is None and not single.exists() and git_binary() is not None


def storage_for(settings: Settings, data_dir: Path,
                flowfile: Path | None = None) -> FileStorage:
    """The storage ``flowrt run`` uses: a ProjectStorage or the single flow file."""
    single = flowfile or data_dir / (settings.flow_file or "flows.json")
    if is_project_mode(settings, data_dir, flowfile):
        return ProjectStorage(data_dir, settings.credential_secret, default_author(settings),
                              single_file=single, root=flowfile)
    return FileStorage(single, data_dir, settings.credential_secret, settings.flow_file_pretty)


def init_project(settings: Settings, data_dir: Path) -> ProjectStorage:
    """``flowrt project init``: make the data directory's project, from its single flow
    file if it has one (kept as ``<name>.pre-project``; its credentials move to the
    project's credentials file). DataFileError if there already is a project."""
    project = ProjectStorage(data_dir, settings.credential_secret, default_author(settings))
    if project.repo.exists():
        raise DataFileError(project.root, f"{project.root} is already a flows project")
    single = FileStorage(data_dir / (settings.flow_file or "flows.json"), data_dir,
                         settings.credential_secret)
    flows, credentials = single.load()
    project.create(flows, credentials, f"Create the flows project from {single.flow_file.name}")
    if single.flow_file.exists():
        single.flow_file.rename(single.flow_file.with_name(single.flow_file.name + ".pre-project"))
    return project


class ProjectSave(StagedFiles):
    """A staged deploy: ``commit`` puts the files in place, then commits them to git."""

    def __init__(self, storage: ProjectStorage, staged: StagedFiles,
                 note: DeployNote | None) -> None:
        super().__init__(staged.journal, staged.files)
        self.storage = storage
        self.note = note

    def commit(self) -> None:
        """The save stands once the files are in place (DataFileError before that);
        a failing git commit is logged and made at the next start or deploy."""
        super().commit()
        try:
            self.storage.remove_stale()
            self.storage.commit_working_tree(*self.storage.author_and_message(self.note))
        except (ProjectError, OSError) as exc:
            log.error("the deployed flows are saved but not committed (%s); they are "
                      "committed at the next start or deploy", exc)


class ProjectStorage(FileStorage):
    """Flows in ``DATA_DIR/project`` (a git repository; ``root``: another one, such as
    a clone given to ``flowrt run DIR``), credentials in the data directory."""

    def __init__(self, data_dir: Path, credential_secret: str | bool | None = None,
                 author: Author | None = None, single_file: Path | None = None,
                 interactive: bool = False, root: Path | None = None) -> None:
        root = root or data_dir / PROJECT_DIR
        super().__init__(root / layout.INDEX, data_dir, credential_secret)
        self.root = root
        self.repo = GitRepo(root, interactive=interactive)
        self.cred_file = data_dir / CREDENTIALS_FILE
        self.journal = data_dir / ".project.journal"
        self.note_file = data_dir / NOTE_FILE
        self.author = author or Author("flowrt", f"flowrt@{socket.gethostname()}")
        self.single_file = single_file
        """A single flow file this data directory may hold: never silently ignored."""

    @property
    def location(self) -> Path:
        """The repository's directory."""
        return self.root

    @property
    def flows_name(self) -> Path:
        """``flows.json`` in the repository (it holds none): the flows' test-case files,
        ``flows.tests.yaml``, are committed beside the flows."""
        return self.root / "flows.json"

    def create_if_missing(self) -> bool:
        """Create the repository with empty flows; True when it was created.
        DataFileError when the data directory has a single flow file instead."""
        if self.repo.exists():
            return False
        if self.single_file is not None and self.single_file.exists():
            raise DataFileError(self.single_file, (
                f"{self.single_file} holds flows and there is no project yet: convert it "
                "with `flowrt project init`, or set projects = false to keep using it"))
        self.create([], {}, "Create the flows project")
        return True

    def create(self, flows: Flows, credentials: Credentials, message: str) -> None:
        """Make the repository with ``flows`` as its first commit."""
        try:
            self.repo.init()
            (self.root / ".gitignore").write_text(GITIGNORE)
            self.save(flows, credentials, DeployNote(None, message))
        except OSError as exc:
            raise DataFileError(self.root, f"cannot create {self.root}: "
                                           f"{exc.strerror or exc}") from None
        if self.repo.head() is None:
            raise ProjectError(f"could not make the first commit in {self.root} (see the log)")

    def recover(self) -> None:
        """Finish an interrupted save, then commit a working tree that is ahead of HEAD
        (a crash before the git commit, or files edited by hand)."""
        super().recover()
        if not self.repo.exists():
            if self.root != self.data_dir / PROJECT_DIR:
                raise DataFileError(self.root, f"{self.root} is not a flows project (no git "
                                               "repository): give a flow file or a project")
            return
        self.remove_stale()
        if self.note_file.exists():
            author, message = self._read_note()
            message += "\n\n(committed at start: the deploy was interrupted before)"
        else:
            author, message = self.author, RECOVERED
        if self.commit_working_tree(author, message) is not None:
            log.warning("committed flows the last commit did not have: %s",
                        message.splitlines()[0])

    def stage(self, flows: Flows, credentials: Credentials,
              note: DeployNote | None = None) -> ProjectSave:
        """Write the project's changed files, the credentials and the deploy note durably."""
        return ProjectSave(self, super().stage(flows, credentials, note), note)

    def flow_contents(self, flows: Flows, note: DeployNote | None = None) -> dict[Path, bytes]:
        """The project's files that differ from the working tree's, and the deploy note:
        a deploy that edits one tab of a hundred writes (and fsyncs) one tab file."""
        author, message = self.author_and_message(note)
        files = {self.root / path: data for path, data in layout.split(flows).items()
                 if _content(self.root / path) != data}
        files[self.note_file] = orjson.dumps(
            {"author": author.name, "email": author.email, "message": message})
        return files

    def author_and_message(self, note: DeployNote | None) -> tuple[Author, str]:
        """The commit's author (the user, else the default) and message."""
        author = Author(note.user, "") if note is not None and note.user else self.author
        return author, (note.message.strip() if note is not None else "") or "Deploy"

    def commit_working_tree(self, author: Author, message: str) -> str | None:
        """Commit the flows as the working tree has them; the commit, None if unchanged."""
        for directory in layout.FLOW_DIRS:  # git refuses a path that does not exist
            (self.root / directory).mkdir(exist_ok=True)
        rev = self.repo.commit(TRACKED, author, message)
        self.note_file.unlink(missing_ok=True)
        return rev

    def remove_stale(self) -> None:
        """Remove the files of tabs and subflows the index no longer names (none when
        the index cannot be read)."""
        kept = self._referenced()
        if kept is None:
            return
        for directory in layout.FLOW_DIRS:
            for path in (self.root / directory).glob("*.json"):
                if f"{directory}/{path.name}" not in kept:
                    path.unlink(missing_ok=True)
                    path.with_name(f".{path.name}.backup").unlink(missing_ok=True)

    def history(self, limit: int = 100, skip: int = 0) -> list[Commit]:
        """The deploys, newest first."""
        return self.repo.log(limit, skip)

    def commit_of(self, rev: str) -> Commit:
        """The commit ``rev`` names (ProjectError ``not_found`` if none)."""
        return self.repo.log(1, rev=rev)[0]

    def flows_at(self, rev: str) -> Flows:
        """The flow document as committed at ``rev``."""
        return layout.join(self.repo.read_files(rev, TRACKED))

    def load_flows(self) -> Flows:
        """The flows as the working tree has them."""
        if not self.flow_file.exists():
            return []
        return layout.join(self._read_files())

    # ----------------------------------------------------------------- helpers
    def _read_files(self) -> dict[str, bytes]:
        files = {}
        for path in [self.flow_file, *[p for d in layout.FLOW_DIRS
                                       for p in (self.root / d).glob("*.json")]]:
            try:
                files[path.relative_to(self.root).as_posix()] = path.read_bytes()
            except OSError as exc:
                raise DataFileError(path, f"cannot read {path}: {exc.strerror or exc}",
                                    exc.errno) from None
        return files

    def _referenced(self) -> set[str] | None:
        """The files the index names (None when it cannot be read: nothing is removed)."""
        try:
            order = orjson.loads(self.flow_file.read_bytes())["order"]
            return {run[0] for run in order}
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def _read_note(self) -> tuple[Author, str]:
        try:
            note = orjson.loads(self.note_file.read_bytes())
            return Author(str(note["author"]), str(note["email"])), str(note["message"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable deploy note %s (%s)", self.note_file, exc)
            return self.author_and_message(None)


def _content(path: Path) -> bytes | None:
    """A file's bytes, None if it cannot be read (it is written anew)."""
    try:
        return path.read_bytes()
    except OSError:
        return None
