"""The materials map: the full figure (first drawing, theme) or a patch of its markers
(colour, range, size, opacity), and the zoom window.

A change of colour, range, size or opacity sends only the marker attributes that change
(:func:`marker_update`, a Dash ``Patch``: for 100k compounds about 0.5 MB instead of the
7 MB of a whole figure with positions, hover data and labels). Selections and overlays are
patched in by their own callbacks; a full rebuild here (first drawing, theme) carries them
(read from the stores), so nothing is lost. Element highlights are painted by the browser
over the map (``highlight.py``) and follow every redraw.
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, Patch, State, ctx, html, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.state import OPACITY_RANGE, SIZE_RANGE, THEMES

#: Controls whose change only restyles the markers (a Patch); any other trigger rebuilds the figure.
MARKER_CONTROLS = {ids.MAP_COLOR: "color", ids.MAP_CMIN: "range", ids.MAP_CMAX: "range", ids.MAP_SIZE: "size", ids.MAP_OPACITY: "opacity"}


def marker_update(context, values: dict, changed: set[str]) -> dict:
    """The marker attributes of the base trace that ``changed`` controls alter.

    Parameters
    ----------
    values : dict
        The validated-on-use control values (as for :func:`figure_for`).
    changed : set of {"color", "range", "size", "opacity"}

    Returns
    -------
    dict
        ``marker.<attribute>: value`` paths of ``data[0]``; colours travel as a float32
        typed array. The selection and overlays are untouched.
    """
    loaded = context.load(values["map"])
    update: dict = {}
    if changed & {"color", "range"}:
        color = values["color"]
        if color not in loaded.color_columns:
            raise validate.InputError(f"this map has no column {str(color)[:40]!r} to colour by")
        cmin = validate.number(values.get("cmin"), name="colour minimum", low=-1e12, high=1e12, allow_none=True)
        cmax = validate.number(values.get("cmax"), name="colour maximum", low=-1e12, high=1e12, allow_none=True)
        theme = validate.choice(values.get("theme"), THEMES, name="theme")
        marker = build.map_marker(loaded, color=color, cmin=cmin, cmax=cmax, theme=theme)
        update["marker.color"] = build.typed_array(marker.pop("color"))
        update.update({f"marker.{key}": value for key, value in marker.items()})
    if "size" in changed:
        update["marker.size"] = validate.number(values.get("size"), name="point size", low=SIZE_RANGE[0], high=SIZE_RANGE[1])
    if "opacity" in changed:
        opacity = validate.number(values.get("opacity"), name="opacity", low=OPACITY_RANGE[0] - 0.05, high=OPACITY_RANGE[1])
        update["marker.opacity"] = build.opacity_values(None, opacity)
    return update


def _patch(update: dict) -> Patch:
    patch = Patch()
    for path, value in update.items():
        target = patch["data"][0]
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return patch


def figure_for(context, values: dict):
    """The full map figure from the (validated) control and store values."""
    loaded = context.load(values["map"])
    color = values["color"]
    if color not in loaded.color_columns:
        raise validate.InputError(f"this map has no column {str(color)[:40]!r} to colour by")
    cmin = validate.number(values.get("cmin"), name="colour minimum", low=-1e12, high=1e12, allow_none=True)
    cmax = validate.number(values.get("cmax"), name="colour maximum", low=-1e12, high=1e12, allow_none=True)
    view = values.get("view") if isinstance(values.get("view"), dict) else {}
    return build.map_figure(
        loaded,
        color=color,
        cmin=cmin,
        cmax=cmax,
        size=validate.number(values.get("size"), name="point size", low=SIZE_RANGE[0], high=SIZE_RANGE[1]),
        opacity=validate.number(values.get("opacity"), name="opacity", low=OPACITY_RANGE[0] - 0.05, high=OPACITY_RANGE[1]),
        theme=validate.choice(values.get("theme"), THEMES, name="theme"),
        # The element highlight is painted by the browser over the map (see highlight.py).
        highlight=None,
        selection_rows=validate.rows(values.get("selection"), loaded.n_points),
        search=validate.search_result(values.get("search"), loaded.n_points),
        upload=validate.overlay(values.get("upload")),
        focus=validate.focus(values.get("focus"), loaded.n_points),
        x_range=validate.axis_range(view.get("x")),
        y_range=validate.axis_range(view.get("y")),
    )


def register(app, context) -> None:
    @app.callback(
        Output(ids.MAP_GRAPH, "figure"),
        Output(ids.MAP_MESSAGE, "children"),
        Output(ids.MAP_BUILT, "data"),
        Input(ids.MAP_COLOR, "value"),
        Input(ids.MAP_CMIN, "value"),
        Input(ids.MAP_CMAX, "value"),
        Input(ids.MAP_SIZE, "value"),
        Input(ids.MAP_OPACITY, "value"),
        Input(ids.THEME, "value"),
        State(ids.MAP_NAME, "data"),
        State(ids.SELECTION_ROWS, "data"),
        State(ids.SEARCH_RESULT, "data"),
        State(ids.UPLOAD_OVERLAY, "data"),
        State(ids.FOCUS, "data"),
        State(ids.MAP_VIEW, "data"),
        State(ids.MAP_BUILT, "data"),
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error"), no_update))
    def figure(color, cmin, cmax, size, opacity, theme, map_name, selection, search, upload, focus, view, built):
        values = dict(
            map=map_name, color=color, cmin=cmin, cmax=cmax, size=size, opacity=opacity, theme=theme,
            selection=selection, search=search, upload=upload, focus=focus, view=view,
        )  # fmt: skip
        triggered = {key.rsplit(".", 1)[0] for key in ctx.triggered_prop_ids}
        if built and triggered and triggered <= set(MARKER_CONTROLS):
            changed = {MARKER_CONTROLS[component] for component in triggered}
            return _patch(marker_update(context, values, changed)), "", no_update
        return figure_for(context, values), "", True

    # Zoom and pan -> the view store (read by the URL and by full rebuilds).
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="viewFromRelayout"),
        Output(ids.MAP_VIEW, "data"),
        Input(ids.MAP_GRAPH, "relayoutData"),
        State(ids.MAP_VIEW, "data"),
        prevent_initial_call=True,
    )
