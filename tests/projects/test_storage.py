"""ProjectStorage on real git repositories: commits, credentials, crashes, modes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from flowrt.errors import DataFileError
from flowrt.file_transaction import StagedFiles
from flowrt.projects.git import Author
from flowrt.projects.storage import (
    RECOVERED,
    ProjectStorage,
    init_project,
    is_project_mode,
    storage_for,
)
from flowrt.settings import Settings
from flowrt.storage import DeployNote, FileStorage

TAB = {"id": "t1", "type": "tab", "label": "Kitchen"}
TAB2 = {"id": "t2", "type": "tab", "label": "Garden"}
NODE = {"id": "n1", "type": "inject", "z": "t1", "x": 1, "y": 2, "wires": [[]]}
SECRET = "pa55-word-never-in-git"
CREDS = {"n1": {"password": SECRET}}
AUTHOR = Author("Gateway Admin", "admin@example.com")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def project(data: Path, secret: str | bool | None = None) -> ProjectStorage:
    return ProjectStorage(data, secret, AUTHOR)


@pytest.fixture
def storage(tmp_path: Path) -> ProjectStorage:
    created = project(tmp_path / "data")
    assert created.create_if_missing()
    return created


def test_a_new_data_dir_gets_a_project_and_a_flow_file_keeps_its_mode(tmp_path: Path) -> None:
    assert is_project_mode(Settings(), tmp_path / "new")
    old = tmp_path / "old"
    old.mkdir()
    (old / "flows.json").write_text("[]")
    assert not is_project_mode(Settings(), old)
    assert type(storage_for(Settings(), old)) is FileStorage
    assert is_project_mode(Settings(projects=True), old)
    assert not is_project_mode(Settings(projects=False), tmp_path / "new")
    assert not is_project_mode(Settings(), tmp_path / "new", flowfile=old / "flows.json")
    # projects = true never ignores a flow file that holds the flows: it says what to do.
    with pytest.raises(DataFileError, match="flowrt project init"):
        storage_for(Settings(projects=True), old).create_if_missing()


def test_every_save_is_a_commit_by_its_author_with_its_message(
        storage: ProjectStorage) -> None:
    storage.save([TAB, NODE], {}, DeployNote("alice", "Add the kitchen tab"))
    storage.save([TAB, NODE], {}, DeployNote("bob", "Nothing changed"))  # no empty commit
    storage.save([TAB, {**NODE, "x": 50}], {}, DeployNote(None, ""))
    log = git(storage.root, "log", "--format=%an <%ae>|%s")
    assert log.splitlines() == [
        "Gateway Admin <admin@example.com>|Deploy",
        "alice <>|Add the kitchen tab",
        "Gateway Admin <admin@example.com>|Create the flows project"]
    assert git(storage.root, "status", "--porcelain") == ""
    assert storage.load_flows() == [TAB, {**NODE, "x": 50}]
    assert [c.message for c in storage.history()] == [
        "Deploy", "Add the kitchen tab", "Create the flows project"]
    assert storage.flows_at("HEAD~1") == [TAB, NODE]


def test_a_removed_tab_loses_its_file(storage: ProjectStorage) -> None:
    storage.save([TAB, TAB2, NODE], {})
    assert sorted(git(storage.root, "ls-files").split()) == [
        ".gitignore", "index.json", "tabs/t1.json", "tabs/t2.json"]
    storage.save([TAB, NODE], {})
    assert sorted(git(storage.root, "ls-files").split()) == [
        ".gitignore", "index.json", "tabs/t1.json"]
    assert not (storage.root / "tabs" / "t2.json").exists()


@pytest.mark.parametrize("secret", [False, None, "user key"], ids=["plain", "system", "user"])
def test_credentials_are_never_committed(tmp_path: Path, secret: str | bool | None) -> None:
    storage = project(tmp_path / "data", secret)
    storage.create_if_missing()
    storage.save([TAB, {**NODE, "credentials": {"password": "inline"}}], {})
    storage.save([TAB, NODE], CREDS)
    assert storage.load()[1] == CREDS
    assert storage.cred_file == tmp_path / "data" / "flows_cred.json"
    assert not storage.cred_file.is_relative_to(storage.root)
    objects = subprocess.run(["git", "-C", str(storage.root), "cat-file",
                              "--batch-all-objects", "--batch"], capture_output=True,
                             check=True, timeout=30).stdout
    assert b"index.json" in objects  # the scan does see the repository's content
    assert SECRET.encode() not in objects
    assert b"_cred" not in objects and b'"$"' not in objects


def test_a_crash_between_the_save_and_the_git_commit_is_committed_at_start(
        storage: ProjectStorage) -> None:
    save = storage.stage([TAB, NODE], {}, DeployNote("carol", "Deploy before the crash"))
    StagedFiles.commit(save)  # the files are in place; the process dies before git runs
    head = git(storage.root, "rev-parse", "HEAD")
    assert git(storage.root, "status", "--porcelain")  # the working tree is ahead of HEAD

    again = project(storage.data_dir)
    again.recover()
    assert git(storage.root, "rev-parse", "HEAD~1") == head
    assert git(storage.root, "log", "-1", "--format=%an|%B").startswith(
        "carol|Deploy before the crash\n\n(committed at start")
    assert again.flows_at("HEAD") == [TAB, NODE] == again.load()[0]
    again.recover()  # nothing more to commit
    assert git(storage.root, "rev-parse", "HEAD~1") == head


def test_a_process_killed_before_its_git_commit_loses_no_flows(
        storage: ProjectStorage) -> None:
    # A real SIGKILL: the child saves, and dies the moment git would commit.
    child = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from flowrt.projects import git
        from flowrt.projects.storage import ProjectStorage
        from flowrt.storage import DeployNote
        git.GitRepo.commit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        ProjectStorage(Path({str(storage.data_dir)!r})).save(
            {[TAB, NODE]!r}, {{}}, DeployNote("dave", "Killed"))
    """)
    done = subprocess.run([sys.executable, "-c", child], timeout=60, check=False)
    assert done.returncode == -9
    again = project(storage.data_dir)
    again.recover()
    assert again.load_flows() == [TAB, NODE] == again.flows_at("HEAD")
    assert git(storage.root, "log", "-1", "--format=%an|%s") == "dave|Killed\n"


def test_files_edited_by_hand_are_committed_at_start(storage: ProjectStorage) -> None:
    storage.save([TAB, NODE], {})
    tab_file = storage.root / "tabs" / "t1.json"
    tab_file.write_text(tab_file.read_text().replace('"Kitchen"', '"Cellar"'))
    storage.recover()
    assert git(storage.root, "log", "-1", "--format=%an|%s").strip() == (
        f"Gateway Admin|{RECOVERED}")
    assert storage.load_flows()[0]["label"] == "Cellar"


def test_project_init_converts_a_flow_file_with_its_credentials(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    FileStorage(data / "flows.json", data).save([TAB, NODE], CREDS)
    converted = init_project(Settings(), data)
    assert converted.load() == ([TAB, NODE], CREDS)
    assert not (data / "flows.json").exists()
    assert orjson.loads((data / "flows.json.pre-project").read_bytes()) == [TAB, NODE]
    assert is_project_mode(Settings(), data)
    with pytest.raises(DataFileError, match="already a flows project"):
        init_project(Settings(), data)
