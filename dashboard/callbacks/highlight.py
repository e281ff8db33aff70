"""Selected elements -> the compounds that contain them stand out on the map.

The mask is two sparse operations on the map's precomputed element membership; only the
matching row numbers travel (base64 int32), and the browser paints them over the faded WebGL
map (``assets/chemmap.js``), so a click never redraws the WebGL trace.
"""

from __future__ import annotations

import base64

import numpy as np
from dash import ClientsideFunction, Input, Output, State, html, no_update

from dashboard.callbacks import validate
from dashboard.components import ids
from dashboard.state import MODES

MODE_WORDS = {"all": "contain all of", "any": "contain any of", "only": "are made only of"}


def highlight_summary(symbols: list[str], mode: str, n_match: int, n_points: int) -> str:
    """``"4,114 of 95,651 compounds contain all of Fe, O"``."""
    if not symbols:
        return f"No element selected: all {n_points:,} compounds shown. Click tiles to highlight the compounds that contain them."
    share = f" ({n_match / n_points:.1%})" if n_points else ""
    return f"{n_match:,} of {n_points:,} compounds{share} {MODE_WORDS[mode]} {', '.join(symbols)}."


def highlight_rows(mask) -> dict:
    """The highlight for the browser: ``{"active", "n", "rows"}`` with rows as base64 int32."""
    if mask is None:
        return {"active": False, "n": 0, "rows": None}
    rows = np.flatnonzero(mask).astype("<i4")
    return {"active": True, "n": int(rows.size), "rows": base64.b64encode(rows.tobytes()).decode("ascii")}


def chips(symbols: list[str]) -> list:
    if not symbols:
        return [html.Span("Selected elements: none", className="muted")]
    return [html.Span("Selected elements:", className="chips-label")] + [html.Span(s, className="chip") for s in symbols]


def register(app, context) -> None:
    @app.callback(
        Output(ids.HIGHLIGHT_COUNT, "children"),
        Output(ids.ELEMENT_CHIPS, "children"),
        Output(ids.HIGHLIGHT_ROWS, "data"),
        Input(ids.SELECTED_ELEMENTS, "data"),
        Input(ids.MODE, "value"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: (html.Span(message, className="error"), no_update, no_update))
    def highlight(elements, mode, map_name):
        loaded = context.load(map_name)
        symbols = validate.elements(elements)
        mode = validate.choice(mode, MODES, name="highlight mode")
        mask = loaded.highlight(symbols, mode) if symbols else None
        n_match = int(mask.sum()) if mask is not None else loaded.n_points
        return highlight_summary(symbols, mode, n_match, loaded.n_points), chips(symbols), highlight_rows(mask)

    # The browser paints the highlight over the WebGL map (assets/chemmap.js): no figure update.
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="drawHighlight"),
        Output(ids.HIGHLIGHT_DRAWN, "data"),
        Input(ids.HIGHLIGHT_ROWS, "data"),
        Input(ids.MAP_GRAPH, "figure"),
    )
