"""Formula search: a known compound is focused, a new one placed on the map, a bad one explained."""

from __future__ import annotations

import logging

import numpy as np
from dash import Input, Output, Patch, State, html, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.maps import LoadedMap
from fingerprints.formula import FormulaError, parse_formula

log = logging.getLogger(__name__)

#: Characters of a refused formula written to the log.
LOGGED_FORMULA = 80

#: Half-width of the window the map zooms to around a found compound, as a share of the map.
ZOOM_SHARE = 0.08
NEIGHBOURS = 10


def run_search(loaded: LoadedMap, text: object) -> dict:
    """What a search for ``text`` finds.

    Returns
    -------
    dict with ``status``:
        ``"empty"``; ``"invalid"`` with ``message`` (the parser's reason); ``"known"`` with
        ``row`` (the map's compound), ``formula``, ``x``, ``y``; ``"placed"`` with ``formula``,
        ``x``, ``y`` (out-of-sample position) and ``neighbours``: ``[[row, distance], ...]``.
    """
    formula = validate.text(text, name="formula")
    if not formula:
        return {"status": "empty"}
    try:
        parse_formula(formula)
    except FormulaError as err:
        return _refused(formula, str(err), "is not a valid formula")
    exact = np.flatnonzero(loaded.points["formula"].to_numpy() == formula)
    if exact.size:
        row = int(exact[0])
        return {"status": "known", "row": row, "formula": formula, "x": float(loaded.points["x"].iat[row]), "y": float(loaded.points["y"].iat[row])}
    placed = loaded.place([formula], k=NEIGHBOURS).iloc[0]
    if placed["error"]:
        return _refused(formula, str(placed["error"]), "could not be placed on this map")
    if int(placed["known_row"]) >= 0:
        row = int(placed["known_row"])
        return {"status": "known", "row": row, "formula": formula, "x": float(loaded.points["x"].iat[row]), "y": float(loaded.points["y"].iat[row])}
    return {
        "status": "placed",
        "formula": formula,
        "x": float(placed["x"]),
        "y": float(placed["y"]),
        "neighbours": [[int(r), float(d)] for r, d in placed["neighbours"]],
    }


def _refused(formula: str, message: str, problem: str) -> dict:
    """The ``"invalid"`` answer for ``formula``, and a WARNING line naming it in the server's log."""
    log.warning("search: %s %s: %s", validate.shortened(repr(formula), LOGGED_FORMULA), problem, validate.shortened(message))
    return {"status": "invalid", "formula": formula, "message": message}


def search_message(loaded: LoadedMap, result: dict):
    """The line shown next to the search box."""
    status = result.get("status")
    if status == "invalid":
        return html.Span(["Not a valid formula: ", result["message"]], className="error")
    if status == "known":
        row = result["row"]
        same = loaded.points["formula"].iat[row]
        shown = result["formula"] if same == result["formula"] else f"{result['formula']} (as {same})"
        return html.Span(f"{shown} is in this map ({loaded.points['id'].iat[row]}): shown on the map and in the details.", className="ok")
    if status == "placed":
        nearest = loaded.points["formula"].iat[result["neighbours"][0][0]] if result["neighbours"] else "?"
        return html.Span(f"{result['formula']} is not in this map: placed by its fingerprint (star); nearest known compound {nearest}.", className="ok")
    return ""


def focus_of(result: dict) -> dict | None:
    if result.get("status") == "known":
        return {"row": result["row"]}
    if result.get("status") == "placed":
        return {"placed": result}
    return None


def zoom_window(loaded: LoadedMap, x: float, y: float) -> tuple[list[float], list[float]]:
    """A window centred on (x, y), ``ZOOM_SHARE`` of the map's extent on each side."""
    xs, ys = loaded.points["x"].to_numpy(), loaded.points["y"].to_numpy()
    half = ZOOM_SHARE * max(float(np.nanmax(xs) - np.nanmin(xs)), float(np.nanmax(ys) - np.nanmin(ys)), 1e-9)
    return [x - half, x + half], [y - half, y + half]


def register(app, context) -> None:
    @app.callback(
        Output(ids.SEARCH_RESULT, "data"),
        Output(ids.SEARCH_MESSAGE, "children"),
        Output(ids.FOCUS, "data", allow_duplicate=True),
        Output(ids.MAP_GRAPH, "figure", allow_duplicate=True),
        Output(ids.MAP_VIEW, "data", allow_duplicate=True),
        Input(ids.SEARCH_GO, "n_clicks"),
        Input(ids.SEARCH_INPUT, "n_submit"),
        State(ids.SEARCH_INPUT, "value"),
        State(ids.MAP_NAME, "data"),
        State(ids.THEME, "value"),
        State(ids.MAP_BUILT, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error"), no_update, no_update, no_update))
    def search(_clicks, _submits, text, map_name, theme, built):
        loaded = context.load(map_name)
        theme = validate.choice(theme, ("light", "dark"), name="theme")
        result = run_search(loaded, text)
        patch = Patch()
        patch["data"][ids.SLOT_SEARCH] = build.overlay_trace(build.search_points(result), ids.SLOT_SEARCH, theme=theme).to_plotly_json()
        view = no_update
        if result.get("status") in ("known", "placed"):
            x_range, y_range = zoom_window(loaded, result["x"], result["y"])
            patch["layout"]["xaxis"]["range"] = x_range
            patch["layout"]["yaxis"]["range"] = y_range
            view = {"x": x_range, "y": y_range}
        focus = focus_of(result)
        if not built:  # the map is still being built, with the stores: nothing to patch
            patch = no_update
        return result, search_message(loaded, result), focus if focus is not None else no_update, patch, view
