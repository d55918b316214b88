"""web/static/vendor/: every vendored file is in MANIFEST.json with its checksum, packages,
exact versions and licence, and every vendored file the editor imports is there."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web" / "static"
VENDOR = WEB / "vendor"


def test_the_manifest_describes_every_vendored_file() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {entry["name"]: entry for entry in manifest["files"]}
    licences = {entry["licenseFile"] for entry in manifest["files"]}
    on_disk = {p.name for p in VENDOR.iterdir()} - {"MANIFEST.json"}
    assert on_disk == set(listed) | licences
    for name, entry in listed.items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"], name
        assert entry["license"] and entry["built"], name
        assert entry["packages"], name
        for package in entry["packages"]:
            assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package
            assert package["license"], package
        # The version in the name is a package's exact version (CodeMirror's core).
        version = re.search(r"-(\d+\.\d+\.\d+)\.", name)
        assert version and version[1] in {p["version"] for p in entry["packages"]}, name


def test_what_the_editor_imports_is_vendored() -> None:
    imported = {match for path in (WEB / "js").glob("*.js")
                for match in re.findall(r"/static/vendor/([\w.-]+)", path.read_text())}
    assert imported
    for name in imported:
        assert (VENDOR / name).is_file(), name
