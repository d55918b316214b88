"""The editor: its page, its static files and the example flows.

``GET /`` renders ``web/templates/index.html`` (jinja2, autoescaped) with
``{"settings": <GET /settings>, "version": <flowrt version>}``; ``/static/``
serves ``web/static/``; ``GET /flows-examples`` lists the example flow files of
``flows/`` and ``GET /flows-examples/<name>`` returns one. Installed from a wheel
these directories are ``flowrt/web`` and ``flowrt/flows`` inside the package; in
a source checkout (editable install) they are at the repository root.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiohttp import web

from flowrt.server.admin_api import settings_document
from flowrt.server.http import ApiError, json_response
from flowrt.server.state import context

TEMPLATE = "index.html"


def resource_dir(name: str) -> Path:
    """``flowrt/<name>`` inside an installed wheel, else ``<repo>/<name>``."""
    packaged = Path(str(resources.files("flowrt") / name))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name


@cache
def _templates(directory: Path) -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(directory),
                              autoescape=jinja2.select_autoescape(default=True))


async def index(request: web.Request) -> web.Response:
    """GET /: the editor page."""
    templates = resource_dir("web") / "templates"
    if not (templates / TEMPLATE).is_file():
        raise ApiError(404, "not_found", "the editor is not installed (no web/templates/"
                       "index.html); the admin API is available, e.g. GET /flows")
    page = _templates(templates).get_template(TEMPLATE).render(
        settings=settings_document(context(request), request), version=version("flowrt"))
    return web.Response(text=page, content_type="text/html")


async def list_examples(request: web.Request) -> web.Response:
    """GET /flows-examples: the example flow file names."""
    directory = resource_dir("flows")
    names = sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []
    return json_response(names)


async def get_example(request: web.Request) -> web.Response:
    """GET /flows-examples/<name>: one example flow file."""
    name = request.match_info["name"]
    path = resource_dir("flows") / name
    if "/" in name or name.startswith(".") or not name.endswith(".json") or not path.is_file():
        raise ApiError(404, "not_found", f"no example flow {name!r}")
    return web.Response(body=path.read_bytes(), content_type="application/json")


def setup(app: web.Application) -> None:
    """Add the editor routes to ``app`` (static files only if ``web/static`` exists)."""
    app.router.add_get("/", index)
    app.router.add_get("/flows-examples", list_examples)
    app.router.add_get("/flows-examples/{name}", get_example)
    static = resource_dir("web") / "static"
    if static.is_dir():
        app.router.add_static("/static/", static)
