"""Figures of the page assembled from a loaded map and the view state: plain functions.

The callbacks and the export dialog both call these, so an exported figure is exactly the
figure on screen (rebuilt on the server from the state, never taken from the browser).
Thin wrappers over :mod:`dashboard.figures`: colourings the app adds (compound counts on a
log scale, element frequencies in a selection, means of a property), the overlay trace
slots of the materials map, and opacity arrays sent as compact typed arrays.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch

from dashboard import theme as th
from dashboard.components import ids
from dashboard.figures import (
    add_overlay,
    cosine_heatmap_figure,
    materials_map_figure,
    periodic_table_figure,
    similarity_bar_figure,
)
from dashboard.figures._colors import MISSING_LABEL
from dashboard.figures.periodic_table import selection_outline
from dashboard.figures.materials_map import FADED_OPACITY, color_marker
from dashboard.maps import LoadedMap

TABLE_WIDTH = 720
#: Tallest periodic table on the page: the tiles shrink rather than push the views below away.
TABLE_MAX_HEIGHT = 700
#: The map's height: the page's first screen (1920x1080) shows it whole, colour bar included.
MAP_HEIGHT = 700
BUILTIN_TABLE_COLORINGS = ("category", "block", "group", "period")
SLOT_NAMES = {ids.SLOT_SEARCH: "searched formula", ids.SLOT_UPLOAD: "your compounds", ids.SLOT_FOCUS: "clicked compound"}


def table_color_options(loaded: LoadedMap) -> list[dict]:
    """Options of the periodic table's colour menu."""
    options = [
        {"label": "Element category", "value": "category"},
        {"label": "Block (s, p, d, f)", "value": "block"},
        {"label": "Group", "value": "group"},
        {"label": "Period", "value": "period"},
        {"label": "Compounds in this map", "value": "count"},
        {"label": "Compounds in the lasso selection", "value": "selection"},
    ]
    for column in loaded.numeric_columns:
        options.append({"label": f"Mean {th.label_with_unit(column)}", "value": f"mean:{column}"})
    return options


def map_color_options(loaded: LoadedMap) -> list[dict]:
    options = [{"label": th.label_with_unit(c), "value": c} for c in loaded.numeric_columns]
    options += [{"label": f"{th.LABELS.get(c, c)} (categories)", "value": c} for c in loaded.categorical_columns]
    return options


def _log_counts(counts: pd.Series, title: str) -> tuple[pd.Series, list[float], list[str]]:
    """log10(1 + count) for colouring, with colour-bar ticks labelled in counts."""
    values = np.log10(1 + counts.astype(np.float64))
    top = int(counts.max()) if len(counts) else 0
    # 0, 10, 100, ...: a tick at 1 would sit too close to 0 on a log(1 + n) bar.
    ticks = [0] + [10**k for k in range(1, len(str(max(top, 1))) + 1) if 10**k <= top]
    if len(ticks) < 3 and top >= 1:
        ticks = sorted({0, 1, top})
    tickvals = [float(np.log10(1 + t)) for t in ticks]
    ticktext = [f"{t:,}" if t < 1000 else f"{t // 1000:,}k" for t in ticks]
    return values.rename(title), tickvals, ticktext


def table_figure(
    loaded: LoadedMap,
    *,
    layout: str = "learned",
    color: str = "category",
    elements=(),
    selection_rows=(),
    theme: str = "light",
    width: int = TABLE_WIDTH,
    max_height: int | None = TABLE_MAX_HEIGHT,
) -> go.Figure:
    """The periodic table of the map's element layout, coloured as the menu says.

    ``color``: a built-in colouring, ``count`` (compounds per element, log scale),
    ``selection`` (how many selected compounds contain each element) or ``mean:<column>``.
    """
    counts = None
    title = None
    values = None
    if color in BUILTIN_TABLE_COLORINGS:
        color_by = color
    elif color == "count":
        counts, title = loaded.element_counts, "Compounds"
    elif color == "selection":
        counts, title = loaded.frequencies(selection_rows), "In selection"
    elif color.startswith("mean:") and color[5:] in loaded.element_means:
        column = color[5:]
        label = th.label_with_unit(column)
        values = loaded.element_means[column].rename(f"Mean {label[:1].lower()}{label[1:]}")
        color_by = values.name
    else:
        raise ValueError(f"unknown periodic-table colouring {color!r}")
    ticks = None
    if counts is not None:
        values, tickvals, ticktext = _log_counts(counts, title)
        # The colour bar starts at the smallest count of an element with data: no tick below it.
        with_data = loaded.elements.loc[loaded.elements["has_data"].astype(bool), "symbol"]
        lowest = float(np.nanmin(values.reindex(with_data).to_numpy(dtype=np.float64), initial=np.inf))
        kept = [k for k, v in enumerate(tickvals) if v >= lowest - 1e-9] if np.isfinite(lowest) else []
        color_by, ticks = title, ([tickvals[k] for k in kept], [ticktext[k] for k in kept])
    fig = periodic_table_figure(
        loaded.elements,
        layout=layout,
        color_by=color_by,
        values=values,
        selected=list(elements),
        similar=loaded.similar,
        theme=theme,
        width=width,
        max_height=max_height,
    )
    if ticks is not None:
        colorbar = fig.data[0].marker.colorbar
        tickvals, ticktext = list(ticks[0]), list(ticks[1])
        if colorbar.ticktext and colorbar.ticktext[0] == MISSING_LABEL:  # keep the grey band's label
            tickvals, ticktext = [colorbar.tickvals[0], *tickvals], [MISSING_LABEL, *ticktext]
        colorbar.update(tickmode="array", tickvals=tickvals, ticktext=ticktext)
        # The hover shows the count itself, not its logarithm.
        shown = counts.reindex([str(s) for s in fig.data[0].customdata]).to_numpy()
        label = title
        fig.data[0].hovertext = [
            _replace_stat_line(text, label, f"{int(n):,}") for text, n in zip(fig.data[0].hovertext, shown)
        ]
    fig.update_layout(clickmode="event", meta={**(fig.layout.meta or {}), "coloring": color})
    return fig


def _table_key(layout: str, color: str, selection_rows, theme: str) -> tuple:
    rows = np.unique(np.asarray(selection_rows, dtype=np.int64)) if color == "selection" else np.empty(0, np.int64)
    return ("periodic-table", layout, color, theme, hashlib.sha256(rows.tobytes()).hexdigest())


def _unselected_table(loaded: LoadedMap, *, layout: str, color: str, selection_rows, theme: str) -> dict:
    """:func:`table_figure` with no element selected, as a JSON-ready dict, kept per map and view."""
    return loaded.cached_figure(
        _table_key(layout, color, selection_rows, theme),
        lambda: table_figure(loaded, layout=layout, color=color, selection_rows=selection_rows, theme=theme).to_plotly_json(),
    )


def _table_with_outlines(loaded: LoadedMap, *, layout: str, color: str, elements, selection_rows, theme: str):
    """The kept table of this view, and the tile outlines of the selected ``elements`` on it."""
    base = _unselected_table(loaded, layout=layout, color=color, selection_rows=selection_rows, theme=theme)
    widths, colors = selection_outline(base["data"][0]["customdata"], elements, base["layout"]["meta"]["tile_px"], theme)
    return base, widths, colors


def table_figure_dict(loaded: LoadedMap, *, layout: str, color: str, elements=(), selection_rows=(), theme: str) -> dict:
    """:func:`table_figure` as a dict: the same figure, built once per map and view and then
    only given the outlines of the selected ``elements`` (a tile click costs no rebuild)."""
    base, widths, colors = _table_with_outlines(
        loaded, layout=layout, color=color, elements=elements, selection_rows=selection_rows, theme=theme
    )
    trace = base["data"][0]
    marker = {**trace["marker"], "line": {**trace["marker"]["line"], "width": widths, "color": colors}}
    return {**base, "data": [{**trace, "marker": marker}, *base["data"][1:]]}


def table_outline_patch(loaded: LoadedMap, *, layout: str, color: str, elements=(), selection_rows=(), theme: str) -> Patch:
    """Only the tile outlines of :func:`table_figure_dict`: what a change of the selected elements
    changes, sent as a partial update."""
    _, widths, colors = _table_with_outlines(
        loaded, layout=layout, color=color, elements=elements, selection_rows=selection_rows, theme=theme
    )
    patch = Patch()
    patch["data"][0]["marker"]["line"]["width"] = widths.tolist()
    patch["data"][0]["marker"]["line"]["color"] = colors.tolist()
    # Outlines change at once: plotly drops clicks on the table while it slides (600 ms), so a
    # quick second tile click would be lost. The next full figure brings the slide back.
    patch["layout"]["transition"]["duration"] = 0
    return patch


def _replace_stat_line(text: str, label: str, shown: str) -> str:
    lines = text.split("<br>")
    for i, line in enumerate(lines):
        if line.startswith(f"{label}:"):
            lines[i] = f"{label}: {shown}"
    return "<br>".join(lines)


def typed_array(values: np.ndarray) -> dict:
    """A float32 array as plotly.js's base64 typed-array spec (compact, decoded natively)."""
    array = np.ascontiguousarray(values, dtype="<f4")
    return {"dtype": "f4", "bdata": base64.b64encode(array.tobytes()).decode("ascii")}


def opacity_values(mask: np.ndarray | None, opacity: float) -> float | np.ndarray:
    """Marker opacity: ``opacity`` everywhere, or on ``mask`` with the rest faded."""
    if mask is None:
        return float(opacity)
    return np.where(mask, np.float32(opacity), np.float32(min(FADED_OPACITY, opacity))).astype(np.float32)


def empty_slot(slot: int, webgl: bool = False) -> go.Scattergl | go.Scatter:
    trace_type = go.Scattergl if webgl else go.Scatter
    return trace_type(x=[], y=[], mode="markers", name=SLOT_NAMES[slot], showlegend=False, hoverinfo="skip")


def overlay_trace(points: pd.DataFrame | None, slot: int, *, theme: str, webgl: bool = False):
    """The trace of one overlay slot (an empty trace when there is nothing to show).

    Overlays are SVG traces (a few markers with crisp labels, drawn above the WebGL points).
    """
    if points is None or len(points) == 0:
        return empty_slot(slot, webgl)
    base = go.Figure(go.Scattergl(x=[0.0], y=[0.0]) if webgl else go.Scatter(x=[0.0], y=[0.0]))
    colors = th.palette(theme)
    if slot == ids.SLOT_FOCUS:
        trace_type = go.Scattergl if webgl else go.Scatter
        return trace_type(
            x=points["x"].to_numpy(dtype=np.float64),
            y=points["y"].to_numpy(dtype=np.float64),
            mode="markers",
            marker={"symbol": "circle-open", "size": 26, "color": colors["outline"], "line": {"width": 3, "color": colors["outline"]}},
            name=SLOT_NAMES[slot],
            text=points["formula"].to_numpy(dtype=object),
            hovertemplate="<b>%{text}</b><br>clicked compound<extra></extra>",
            showlegend=False,
        )
    symbol, size, color = ("star", 22, "#D55E00") if slot == ids.SLOT_SEARCH else ("diamond", 11, "#CC79A7")
    add_overlay(base, points, name=SLOT_NAMES[slot], symbol=symbol, size=size, color=color, theme=theme)
    return base.data[1]


def _frame(records) -> pd.DataFrame | None:
    if not records:
        return None
    frame = pd.DataFrame(records)
    if not {"formula", "x", "y"} <= set(frame.columns):
        return None
    frame = frame[np.isfinite(pd.to_numeric(frame["x"], errors="coerce")) & np.isfinite(pd.to_numeric(frame["y"], errors="coerce"))]
    return frame if len(frame) else None


def search_points(result: dict | None) -> pd.DataFrame | None:
    """The searched formula's marker (only for a formula placed by projection)."""
    if not isinstance(result, dict) or result.get("status") != "placed":
        return None
    return _frame([{"formula": result.get("formula", "?"), "x": result.get("x"), "y": result.get("y"), "id": "placed by projection"}])


def focus_points(loaded: LoadedMap, focus: dict | None) -> pd.DataFrame | None:
    row = focus.get("row") if isinstance(focus, dict) else None
    if not isinstance(row, int) or not 0 <= row < loaded.n_points:
        return None
    return loaded.points.iloc[[row]][["id", "formula", "x", "y"]]


def upload_points(upload: dict | None) -> pd.DataFrame | None:
    return _frame(upload.get("points")) if isinstance(upload, dict) else None


def clip_of(loaded: LoadedMap, color: str | None, cmin, cmax) -> tuple[float, float] | None:
    """The colour range from the two inputs; a missing bound is the data's (None: automatic)."""
    if color not in loaded.numeric_columns or (cmin is None and cmax is None):
        return None
    values = loaded.points[color].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    low = float(cmin) if cmin is not None else (float(finite.min()) if finite.size else 0.0)
    high = float(cmax) if cmax is not None else (float(finite.max()) if finite.size else 1.0)
    if not low < high:
        raise ValueError(f"the colour range needs min < max (got {low:g} and {high:g})")
    return (low, high)


#: Compounds outside a lasso selection: one pale grey, so the selection stands out even where
#: 100k points overlap (plotly's WebGL markers ignore the opacity of unselected points).
UNSELECTED_COLOR = {"light": "#D4D4D4", "dark": "#3A3D42"}


def unselected_style(theme: str) -> dict:
    """``unselected`` of the map's base trace (used only while a selection exists)."""
    return {"marker": {"color": UNSELECTED_COLOR.get(theme, UNSELECTED_COLOR["light"])}}


def map_marker(loaded: LoadedMap, *, color: str, cmin=None, cmax=None, theme: str = "light") -> dict:
    """The colouring part of the base trace's marker (``color``, ``colorscale``, ``cmin``,
    ``cmax``, ``showscale``, ``colorbar``), exactly as :func:`map_figure` draws it."""
    return color_marker(loaded.points, color_by=color, clip=clip_of(loaded, color, cmin, cmax), theme=theme)


def map_figure(
    loaded: LoadedMap,
    *,
    color: str | None,
    cmin=None,
    cmax=None,
    size: float = 4.0,
    opacity: float = 0.8,
    theme: str = "light",
    highlight: np.ndarray | None = None,
    selection_rows=None,
    search: dict | None = None,
    upload: dict | None = None,
    focus: dict | None = None,
    x_range=None,
    y_range=None,
    webgl: bool = True,
    rows: np.ndarray | None = None,
) -> go.Figure:
    """The materials map with its overlay slots (see ``ids.SLOT_*``).

    ``rows`` restricts the base trace to some compounds (exporting the visible window as
    vector markers); customdata keeps the original row numbers.
    """
    points = loaded.points
    if rows is not None:
        points = points.iloc[rows]
    fig = materials_map_figure(
        points,
        color_by=color,
        clip=clip_of(loaded, color, cmin, cmax),
        marker_size=size,
        opacity=opacity,
        webgl=webgl,
        theme=theme,
        height=MAP_HEIGHT,
    )
    base = fig.data[0]
    if rows is not None:
        custom = np.asarray(base.customdata).copy()
        custom[:, 0] = rows
        base.customdata = custom
    mask = highlight if highlight is None or rows is None else highlight[rows]
    base.marker.opacity = opacity_values(mask, opacity)
    # Set even without a selection: the lasso callback then only patches ``selectedpoints``.
    base.unselected = unselected_style(theme)
    base.selected = {"marker": {"opacity": 1.0}}
    if selection_rows is not None and len(selection_rows) and rows is None:
        base.selectedpoints = np.asarray(selection_rows, dtype=np.int64)
    for slot, frame in (
        (ids.SLOT_SEARCH, search_points(search)),
        (ids.SLOT_UPLOAD, upload_points(upload)),
        (ids.SLOT_FOCUS, focus_points(loaded, focus)),
    ):
        fig.add_trace(overlay_trace(frame, slot, theme=theme))
    fig.update_layout(
        dragmode="lasso",
        clickmode="event+select",
        legend={"bgcolor": th.palette(theme)["paper"]},
        hoverlabel={"namelength": -1},
        meta={**(fig.layout.meta or {}), "map": loaded.name, "theme": theme},
    )
    if x_range and y_range:
        fig.update_layout(xaxis={"range": list(x_range)}, yaxis={"range": list(y_range)})
    return fig


def visible_rows(loaded: LoadedMap, x_range, y_range) -> np.ndarray | None:
    """Rows inside the zoom window, or None when the whole map is shown."""
    if not (x_range and y_range):
        return None
    x = loaded.points["x"].to_numpy()
    y = loaded.points["y"].to_numpy()
    inside = (x >= min(x_range)) & (x <= max(x_range)) & (y >= min(y_range)) & (y <= max(y_range))
    return np.flatnonzero(inside)


def similarity_figure(loaded: LoadedMap, element: str, *, theme: str = "light") -> go.Figure:
    fig = similarity_bar_figure(loaded.cosines, element, top=15, theme=theme)
    fig.update_layout(height=580)
    return fig


def heatmap_figure(loaded: LoadedMap, *, order: str = "learned", theme: str = "light", width: int | None = None) -> go.Figure:
    return cosine_heatmap_figure(
        loaded.cosines,
        order=loaded.order_learned if order == "learned" else None,
        theme=theme,
        width=width or TABLE_WIDTH,
        title="Cosine similarity of all element pairs",
    )


def message_figure(message: str, *, theme: str = "light", height: int = 300) -> go.Figure:
    """An empty figure that says why there is nothing to draw."""
    fig = go.Figure()
    fig.update_layout(
        template=th.template_name(theme if theme in th.THEMES else "light"),
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    )
    return fig
