"""Dash application factory: ``create_app(map_dir=..., maps_root=...)``."""

from __future__ import annotations

import logging
from pathlib import Path

import dash

from dashboard import layout
from dashboard.callbacks import register_callbacks
from dashboard.callbacks.context import AppContext
from dashboard.components import ids
from dashboard.settings import ServerSettings

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"


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
        Server settings (unused by the page itself; kept for the command line).
    """
    from data.map_build import default_map_dir

    default = default_map_dir()
    start = Path(map_dir).expanduser() if map_dir is not None else default
    root = Path(maps_root).expanduser() if maps_root is not None else default.parent
    context = AppContext(maps_root=root, start_map=start)
    app = dash.Dash(
        __name__,
        title="ChemMap",
        assets_folder=str(ASSETS),
        update_title=None,
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = layout.shell()
    register_callbacks(app, context)
    validation = _validation_layout(context)
    if _has_id(validation, ids.MAP_GRAPH):
        app.validation_layout = validation
    else:  # no loadable map yet: the page only says how to build one
        log.info("no map could be loaded at start-up; callback ids are not validated")
        app.config.suppress_callback_exceptions = True
    app.server.config["CHEMMAP_SETTINGS"] = settings or ServerSettings()
    return app
