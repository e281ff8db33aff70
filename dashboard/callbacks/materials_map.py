"""The materials map: the full figure (colour, range, size, opacity, theme) and the zoom window.

Selections and overlays are patched in by their own callbacks; a full rebuild here carries
them (read from the stores), so nothing is lost when the colour changes. Element highlights
are painted by the browser over the map (``highlight.py``) and follow every redraw.
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, html, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.state import OPACITY_RANGE, SIZE_RANGE, THEMES


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
        search=values.get("search"),
        upload=values.get("upload"),
        focus=values.get("focus"),
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
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error"), no_update))
    def figure(color, cmin, cmax, size, opacity, theme, map_name, selection, search, upload, focus, view):
        values = dict(
            map=map_name, color=color, cmin=cmin, cmax=cmax, size=size, opacity=opacity, theme=theme,
            selection=selection, search=search, upload=upload, focus=focus, view=view,
        )  # fmt: skip
        return figure_for(context, values), "", True

    # Zoom and pan -> the view store (read by the URL and by full rebuilds).
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="viewFromRelayout"),
        Output(ids.MAP_VIEW, "data"),
        Input(ids.MAP_GRAPH, "relayoutData"),
        State(ids.MAP_VIEW, "data"),
        prevent_initial_call=True,
    )
