"""Lasso and box selections: they add up in a store, fill the table, colour the periodic table.

The browser reduces a lasso to the row numbers of the base trace before anything is sent
(``assets/chemmap.js`` intercepts plotly's selection event and writes them to the
lasso-event store; the ``lassoRows`` clientside callback on ``selectedData`` is the
fallback), so a lasso over 50k points sends 50k integers, not 50k hover records, and
dcc.Graph never holds them. The accumulated rows go back into the figure as one Patch of
``selectedpoints`` (one WebGL redraw), with a fresh ``selectionrevision`` so that plotly
shows all lassos, not only the last one it drew.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from dash import ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html, no_update

from dashboard import theme as th
from dashboard.callbacks import validate
from dashboard.components import ids
from dashboard.export import export_table_csv

#: Rows sent to the table; the CSV export always holds the whole selection.
MAX_TABLE_ROWS = 10_000


def merge_rows(current: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Union of two row sets, sorted."""
    return np.union1d(current, new).astype(np.int64)


def selection_revision(rows: np.ndarray, event: object = None) -> str:
    """A new ``layout.selectionrevision`` for each lasso: plotly then shows the figure's
    ``selectedpoints`` (every lasso so far) instead of keeping the selection the user last
    drew (``uirevision`` keeps UI state). Derived from the selection and the lasso event
    (whose browser timestamp differs for each lasso), never from server time: two servers
    answer the same request identically."""
    if rows is None:
        return "selection-cleared"
    stamp = event.get("time") if isinstance(event, dict) else None
    digest = zlib.crc32(np.ascontiguousarray(rows, dtype="<i8").tobytes() + repr(stamp).encode())
    return f"selection-{rows.size}-{digest:08x}"


def lasso_rows(event: object, n_points: int) -> np.ndarray:
    """Rows of a lasso event ``{"rows": [...]}`` written by the clientside reducer."""
    if not isinstance(event, dict):
        raise validate.InputError("a selection event must be an object with a 'rows' list")
    return validate.rows(event.get("rows"), n_points)


def column_defs(points: pd.DataFrame, columns: list[str]) -> list[dict]:
    """AG Grid columns: id (unless every id is the formula, as in the built-in datasets),
    formula, then ``columns`` with their labels and units in headers that wrap, not truncate."""
    defs = [
        {"field": "id", "headerName": "id", "pinned": "left", "minWidth": 120, "filter": "agTextColumnFilter"},
        {"field": "formula", "headerName": "Formula", "pinned": "left", "minWidth": 130, "filter": "agTextColumnFilter"},
    ]
    if points["id"].astype(str).equals(points["formula"].astype(str)):
        defs = defs[1:]
    for column in columns:
        numeric = pd.api.types.is_numeric_dtype(points[column].dtype) and not pd.api.types.is_bool_dtype(points[column].dtype)
        defs.append(
            {
                "field": column,
                "headerName": th.label_with_unit(column),
                "headerTooltip": th.label_with_unit(column),
                "filter": "agNumberColumnFilter" if numeric else "agTextColumnFilter",
                "type": "numericColumn" if numeric else None,
            }
        )
    for definition in defs:
        definition.update(wrapHeaderText=True, autoHeaderHeight=True)
    return [{k: v for k, v in d.items() if v is not None} for d in defs]


def table_rows(points: pd.DataFrame, rows: np.ndarray, columns: list[str], *, limit: int = MAX_TABLE_ROWS) -> list[dict]:
    """Records of the first ``limit`` selected rows; numbers rounded to 4 decimals, NaN as null."""
    frame = points.iloc[rows[:limit]][["id", "formula", *columns]].copy()
    for column in columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series.dtype):
            frame[column] = series.round(4)
        elif not pd.api.types.is_numeric_dtype(series.dtype):
            frame[column] = series.astype(object)
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def selection_summary(n_rows: int, n_points: int, *, limit: int = MAX_TABLE_ROWS) -> str:
    if n_rows == 0:
        return "No compounds selected: lasso a region of the map."
    text = f"{n_rows:,} of {n_points:,} compounds selected"
    if n_rows > limit:
        text += f" (the table lists the first {limit:,}; Export CSV writes all {n_rows:,})"
    return text + "."


def table_columns(loaded) -> list[str]:
    return [c for c in loaded.points.columns if c not in ("id", "formula", "x", "y")]


def register(app, context) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="lassoRows"),
        Output(ids.LASSO_EVENT, "data"),
        Input(ids.MAP_GRAPH, "selectedData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.SELECTION_ROWS, "data"),
        Output(ids.TABLE_COLOR, "value"),
        Output(ids.MAP_GRAPH, "figure", allow_duplicate=True),
        Output(ids.SELECTION_COUNT, "children", allow_duplicate=True),
        Input(ids.LASSO_EVENT, "data"),
        Input(ids.SELECTION_CLEAR, "n_clicks"),
        State(ids.SELECTION_ROWS, "data"),
        State(ids.TABLE_COLOR, "value"),
        State(ids.MAP_NAME, "data"),
        State(ids.MAP_BUILT, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: (no_update, no_update, no_update, html.Span(message, className="error")))
    def accumulate(event, _clear, current, table_color, map_name, built):
        loaded = context.load(map_name)
        patch = Patch() if built else no_update
        if ctx.triggered_id == ids.SELECTION_CLEAR:
            if built:
                patch["data"][0]["selectedpoints"] = None
                patch["layout"]["selections"] = []
                patch["layout"]["selectionrevision"] = selection_revision(None)
            return [], "category" if table_color == "selection" else no_update, patch, no_update
        rows = merge_rows(validate.rows(current, loaded.n_points), lasso_rows(event, loaded.n_points))
        if built:
            # An empty lasso with nothing selected before leaves every point as it was (not all dimmed).
            patch["data"][0]["selectedpoints"] = rows.tolist() if rows.size else None
            # A new revision makes plotly show these rows (all lassos), not the last lasso it kept as UI state.
            patch["layout"]["selectionrevision"] = selection_revision(rows, event)
        return rows.tolist(), "selection" if rows.size else no_update, patch, no_update

    @app.callback(
        Output(ids.GRID, "rowData"),
        Output(ids.GRID, "columnDefs"),
        Output(ids.SELECTION_COUNT, "children"),
        Input(ids.SELECTION_ROWS, "data"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: (no_update, no_update, html.Span(message, className="error")))
    def table(selection, map_name):
        loaded = context.load(map_name)
        rows = validate.rows(selection, loaded.n_points)
        columns = table_columns(loaded)
        return table_rows(loaded.points, rows, columns), column_defs(loaded.points, columns), selection_summary(rows.size, loaded.n_points)

    @app.callback(
        Output(ids.SELECTION_DOWNLOAD, "data"),
        Output(ids.SELECTION_COUNT, "children", allow_duplicate=True),
        Input(ids.SELECTION_CSV, "n_clicks"),
        State(ids.SELECTION_ROWS, "data"),
        State(ids.MAP_NAME, "data"),
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error")))
    def export_csv(_clicks, selection, map_name):
        loaded = context.load(map_name)
        rows = validate.rows(selection, loaded.n_points)
        if rows.size == 0:
            raise validate.InputError("nothing to export: lasso some compounds first")
        data = export_table_csv(loaded.points.iloc[rows].drop(columns=["x", "y"]))
        return dcc.send_bytes(data, f"{loaded.name}-selection-{rows.size}.csv", type="text/csv"), no_update
