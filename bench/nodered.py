"""Node-RED for the comparison: installed with npm into bench/.cache/node-red when missing
(one installed in bench/.cache itself, ``npm install node-red`` run there, is used too),
started with a fresh userDir and a small settings file (flowFile, uiHost 127.0.0.1).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "node-red"
PLACES = (CACHE_DIR, CACHE_DIR.parent)  # where an installed Node-RED is looked for
PACKAGE = "node-red@4"
INSTALL_TIMEOUT_S = 900.0

SETTINGS_TEMPLATE = """\
// Written by flowrt's bench/nodered.py for one benchmark run.
module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    userDir: {user_dir},
    flowFile: {flow_file},
    credentialSecret: false,
    telemetry: {{ enabled: false, updateNotification: false }},
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
}};
"""


def install_dir() -> Path:
    """The first of ``PLACES`` that holds Node-RED (``CACHE_DIR`` when none does)."""
    return next((place for place in PLACES if red_js(place).exists()), CACHE_DIR)


def red_js(cache_dir: Path | None = None) -> Path:
    """Where Node-RED's entry script lives once installed."""
    return (cache_dir or install_dir()) / "node_modules" / "node-red" / "red.js"


def installed(cache_dir: Path | None = None) -> bool:
    """True when Node-RED is installed in the cache and node is on PATH."""
    return red_js(cache_dir).exists() and shutil.which("node") is not None


def version(cache_dir: Path | None = None) -> str | None:
    """The installed Node-RED version, or None."""
    pkg = red_js(cache_dir).parent / "package.json"
    try:
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed(cache_dir: Path = CACHE_DIR, timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Install node-red@4 into cache_dir with npm unless Node-RED is installed (there or in
    another of ``PLACES``); return red.js's path.

    Raises RuntimeError when node or npm is missing or the install fails.
    """
    if installed():
        return red_js()
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("Node-RED comparison needs node and npm on PATH")
    cache_dir.mkdir(parents=True, exist_ok=True)
    argv = [npm, "install", PACKAGE, "--prefix", str(cache_dir), "--no-audit", "--no-fund",
            "--omit=dev", "--loglevel=error"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"npm install {PACKAGE} timed out after {timeout:.0f} s") from err
    if done.returncode != 0 or not installed(cache_dir):
        raise RuntimeError(f"npm install {PACKAGE} failed:\n{done.stderr[-2000:]}")
    return red_js(cache_dir)


def command(flow_path: Path, port: int, user_dir: Path,
            cache_dir: Path | None = None) -> list[str]:
    """Write a settings file into a fresh user_dir and return the argv that starts Node-RED
    on flow_path (run ``node red.js`` directly so the pid measured is Node-RED's own)."""
    user_dir.mkdir(parents=True, exist_ok=True)
    settings = user_dir / "settings.js"
    settings.write_text(SETTINGS_TEMPLATE.format(
        port=port, user_dir=json.dumps(str(user_dir)), flow_file=json.dumps(str(flow_path))))
    node = shutil.which("node") or "node"
    return [node, str(red_js(cache_dir)), "--settings", str(settings), "-u", str(user_dir),
            "-p", str(port), "-D", "uiHost=127.0.0.1"]
