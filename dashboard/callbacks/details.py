"""Compound details: a click on the map (or a search) focuses a compound; its properties and
its nearest compounds in fingerprint space are listed, each clickable."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import ALL, Input, Output, Patch, State, ctx, html, no_update

from dashboard import theme as th
from dashboard.callbacks import build, validate
from dashboard.callbacks import search as search_module
from dashboard.components import ids
from dashboard.maps import LoadedMap

NEIGHBOURS = 10


def focus_from_click(click_data: object, n_points: int, upload: object = None) -> dict | str | None:
    """The focus a map click asks for: ``{"row": r}`` for a compound of the map, or the
    formula of an uploaded compound (to be placed), from plotly's ``clickData``; None for a
    click on the searched formula's star or on the focus ring (nothing new to show)."""
    if not isinstance(click_data, dict) or not isinstance(click_data.get("points"), list) or not click_data["points"]:
        raise validate.InputError("a click on the map must name one point")
    point = click_data["points"][0]
    if not isinstance(point, dict):
        raise validate.InputError("a click on the map must name one point")
    curve = point.get("curveNumber")
    if curve == 0:
        return {"row": validate.row(point.get("pointIndex", point.get("pointNumber")), n_points)}
    if curve == ids.SLOT_UPLOAD:
        uploaded = (validate.overlay(upload) or {"points": []})["points"]
        index = point.get("pointIndex")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(uploaded):
            return uploaded[index]["formula"]
    elif curve in (ids.SLOT_SEARCH, ids.SLOT_FOCUS):
        return None
    raise validate.InputError(f"a click on the map must name a compound of the map or of the upload, got {validate.shortened(point, 80)}")


#: Property values closer to zero than this read "0" (a magnetisation of -3e-07 μB is none).
ZERO_BELOW = 5e-4


def _value_text(value, column: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or (not isinstance(value, str) and pd.isna(value)):
        return "no data"
    if isinstance(value, (float, np.floating)):
        text = "0" if abs(value) < ZERO_BELOW else f"{value:.4g}"
    else:
        text = str(value)
    unit = th.UNITS.get(column)
    return f"{text} {unit}" if unit else text


def _neighbour_list(loaded: LoadedMap, rows, distances) -> html.Ol:
    items = []
    points = loaded.points
    key = loaded.default_color
    for row, distance in zip(rows, distances):
        extra = f" · {th.LABELS.get(key, key).lower()} {_value_text(points[key].iat[row], key)}" if key else ""
        items.append(
            html.Li(
                html.Button(
                    [html.Span(points["formula"].iat[row], className="formula"), html.Span(f" distance {distance:.3f}{extra}", className="muted")],
                    id={"type": ids.NEIGHBOUR, "row": int(row)},
                    className="link-button",
                    n_clicks=0,
                    title=f"Show {points['id'].iat[row]}",
                )
            )
        )
    return html.Ol(items, className="neighbours")


def details_children(loaded: LoadedMap, focus: object) -> list:
    """The details panel for a focus: ``{"row": r}`` or ``{"placed": search result}``."""
    if focus is None:
        return [html.P("Click a compound on the map, or find a formula, to see its properties and its nearest compounds.", className="muted")]
    if not isinstance(focus, dict):
        raise validate.InputError(f"the compound to show must be an object, got {type(focus).__name__}")
    if "row" in focus:
        row = validate.row(focus["row"], loaded.n_points)
        record = loaded.points.iloc[row]
        distances, neighbours = loaded.neighbours_of([row], k=NEIGHBOURS)
        columns = [c for c in loaded.points.columns if c not in ("id", "formula", "x", "y")]
        same = str(record["id"]) == str(record["formula"])  # the built-in datasets name compounds by formula
        return [
            html.H3([html.Span(record["formula"], className="formula")] + ([] if same else [html.Span(f"  {record['id']}", className="muted")])),
            html.Table(
                html.Tbody([html.Tr([html.Th(th.LABELS.get(c, c)), html.Td(_value_text(record[c], c))]) for c in columns]),
                className="properties",
            ),
            html.H4("Nearest compounds (fingerprint distance)"),
            _neighbour_list(loaded, neighbours[0], distances[0]),
        ]
    placed = focus.get("placed")
    if isinstance(placed, dict) and placed.get("status") == "placed":
        pairs = placed.get("neighbours") or []
        rows = [validate.row(r, loaded.n_points) for r, _ in pairs]
        distances = [validate.number(d, name="distance", low=0, high=1e6) for _, d in pairs]
        formula = validate.text(str(placed.get("formula", "?"))[:200], name="searched formula")  # shown back: no lone surrogates
        return [
            html.H3([html.Span(formula, className="formula"), html.Span("  not in this map", className="muted")]),
            html.P("Placed on the map from its composition fingerprint (out-of-sample projection: the star). Its nearest known compounds:", className="muted"),
            _neighbour_list(loaded, rows, distances),
        ]
    raise validate.InputError("the compound to show is not valid")


def register(app, context) -> None:
    @app.callback(
        Output(ids.FOCUS, "data"),
        Input(ids.MAP_GRAPH, "clickData"),
        Input({"type": ids.NEIGHBOUR, "row": ALL}, "n_clicks"),
        State(ids.MAP_NAME, "data"),
        State(ids.UPLOAD_OVERLAY, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: no_update)
    def focus(click_data, _neighbour_clicks, map_name, upload):
        loaded = context.load(map_name)
        triggered = ctx.triggered_id
        if isinstance(triggered, dict) and triggered.get("type") == ids.NEIGHBOUR:
            if not any(t.get("value") for t in ctx.triggered):  # buttons just rendered, not clicked
                return no_update
            return {"row": validate.row(triggered.get("row"), loaded.n_points)}
        target = focus_from_click(click_data, loaded.n_points, upload)
        if target is None:
            return no_update
        if isinstance(target, str):
            result = search_module.run_search(loaded, target)
            return search_module.focus_of(result) or no_update
        return target

    @app.callback(
        Output(ids.DETAILS, "children"),
        Input(ids.FOCUS, "data"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: html.P(message, className="error"))
    def details(focus, map_name):
        return details_children(context.load(map_name), focus)

    # Not called when the page renders: the map is built with the focus ring already.
    @app.callback(
        Output(ids.MAP_GRAPH, "figure", allow_duplicate=True),
        Input(ids.FOCUS, "data"),
        State(ids.MAP_NAME, "data"),
        State(ids.THEME, "value"),
        State(ids.MAP_BUILT, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: no_update)
    def focus_ring(focus, map_name, theme, built):
        if not built:
            return no_update
        loaded = context.load(map_name)
        patch = Patch()
        theme = validate.choice(theme, th.THEMES, name="theme")
        focus = validate.focus(focus, loaded.n_points)
        patch["data"][ids.SLOT_FOCUS] = build.overlay_trace(build.focus_points(loaded, focus), ids.SLOT_FOCUS, theme=theme).to_plotly_json()
        return patch
