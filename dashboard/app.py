"""Dash application factory: ``create_app(map_dir=..., maps_root=...)``."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import dash
import flask
from dash.exceptions import DependencyException
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard import layout
from dashboard.callbacks import register_callbacks
from dashboard.callbacks.context import AppContext
from dashboard.components import ids
from dashboard.settings import ServerSettings

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
MB = 1024 * 1024


def _validation_layout(context: AppContext):
    """Shell + a full page for the first map, so Dash can check every callback's ids."""
    from dash import html

    from dashboard.callbacks.page import page_for

    return html.Div([layout.shell(), page_for(context, "")])


def _has_id(component, wanted: str) -> bool:
    if getattr(component, "id", None) == wanted:
        return True
    children = getattr(component, "children", None)
    if children is None or isinstance(children, str):
        return False
    if not isinstance(children, (list, tuple)):
        children = [children]
    return any(_has_id(child, wanted) for child in children if child is not None and not isinstance(child, (str, int, float)))


def create_app(*, map_dir: Path | None = None, maps_root: Path | None = None, settings: ServerSettings | None = None) -> dash.Dash:
    """Create the Dash app.

    Parameters
    ----------
    map_dir : Path, optional
        The map opened first (a directory written by ``build-map``); default
        ``data.map_build.default_map_dir()``.
    maps_root : Path, optional
        The folder whose subfolders are the selectable maps; default: the parent of the
        default map directory (``~/.cache/chemmap/maps``). The browser can only name one of
        these maps; no path is ever read from a request.
    settings : ServerSettings, optional
        Server settings (default: read from the environment): the request and upload size
        limits. Dash debug mode is never switched on here; only ``app.run(debug=...)`` can.
    """
    from data.map_build import default_map_dir

    default = default_map_dir()
    start = Path(map_dir).expanduser() if map_dir is not None else default
    root = Path(maps_root).expanduser() if maps_root is not None else default.parent
    context = AppContext(maps_root=root, start_map=start)
    settings = settings or ServerSettings()
    # No Flask static folder: the only files served are the assets and Dash's own bundles.
    server = flask.Flask(__name__, static_folder=None)
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    server.config["CHEMMAP_SETTINGS"] = settings
    server.extensions["chemmap"] = context
    server.register_error_handler(RequestEntityTooLarge, _request_too_large)
    server.register_error_handler(DependencyException, _not_a_bundle)
    app = dash.Dash(
        __name__,
        server=server,
        title="ChemMap",
        assets_folder=str(ASSETS),
        update_title=None,
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = layout.shell()
    register_callbacks(app, context)
    with server.app_context():  # the page reads this app's settings (the upload limit), not the environment's
        validation = _validation_layout(context)
    if _has_id(validation, ids.MAP_GRAPH):
        app.validation_layout = validation
    else:  # no loadable map yet: the page only says how to build one
        log.info("no map could be loaded at start-up; callback ids are not validated")
        app.config.suppress_callback_exceptions = True
    return app


def _request_too_large(error: RequestEntityTooLarge):
    """413 with a one-line reason for the client, and a line in the server's log."""
    request = flask.request
    limit = flask.current_app.config["MAX_CONTENT_LENGTH"]
    size = request.content_length
    shown = f"{size / MB:.1f} MB" if size is not None else "a body of unknown length"
    log.warning(
        "refused %s %s from %s: %s, more than the %g MB limit (CHEMMAP_MAX_REQUEST_MB)",
        request.method, request.path, request.remote_addr, shown, limit / MB,
    )  # fmt: skip
    message = f"request too large: {shown}; this server accepts at most {limit / MB:g} MB per request"
    return flask.jsonify(error=message), 413


def _not_a_bundle(_error: DependencyException):
    """A request for a file that is not one of Dash's registered bundles: 404, not a 500 and a traceback."""
    return "not found", 404


def warm_up(app: dash.Dash) -> None:
    """Load the start map and compile its placement of new formulas, in this process.

    The first out-of-sample placement on a UMAP map compiles numba code (about 10 s). Run in
    a server's master process before it forks its workers (gunicorn ``preload_app``), every
    worker inherits the loaded map and the compiled code instead of paying for both itself.
    """
    context: AppContext = app.server.extensions["chemmap"]
    entries = context.entries()
    if not entries:
        return
    # Through the map's own locks: the work is shared with its background warm-up thread.
    context.load(context.default_name(entries)).warm()


#: Lock file next to the built-in map, held while a process checks or builds it.
LOCK_NAME = ".default-map.lock"


@contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def start_map(settings: ServerSettings) -> Path:
    """The map directory to open first: ``settings.map`` checked as is, or the built-in map.

    The built-in map is built if it is missing or damaged (``app.ensure_default_map``), one
    process at a time; a user's map is never rebuilt, only checked.

    Raises
    ------
    data.map_artifact.MapArtifactError
        When ``settings.map`` is not a complete, intact map directory.
    """
    from data.map_artifact import load_map

    if settings.map is not None:
        directory = Path(settings.map).expanduser()
        load_map(directory)  # fail at start-up, with the reason, not in the browser
        return directory
    from data.map_build import default_map_dir

    with exclusive_lock(default_map_dir().parent / LOCK_NAME):
        return _ensure_default_map()


def _ensure_default_map() -> Path:
    # The builder lives with the command line (app.py at the repository root); make sure
    # that root is importable even when gunicorn was started from another folder.
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.append(root)
    from app import ensure_default_map

    return ensure_default_map()
