"""The materials map: one marker per compound at its 2D map position, coloured by a property.

Figure contract (the app relies on it)
--------------------------------------
- ``fig.data[0]`` is the base trace holding ALL points, in the row order of ``points``
  (``go.Scattergl``, or ``go.Scatter`` with ``webgl=False``). Its ``marker.color`` and
  ``marker.opacity`` are plain numeric arrays, so a Dash ``Patch`` can replace them in place
  (``patch["data"][0]["marker"]["opacity"] = ...``) without resending positions.
- ``customdata[:, 0]`` is the row position in ``points`` (``points.iloc[row]``), the next
  columns the hover properties; ``hovertext`` is the compound id, ``text`` the formula. Click
  and lasso events carry ``pointIndex`` (= row) and ``customdata`` for every point.
- Overlays (uploaded compounds, a searched formula) are extra traces added by
  :func:`add_overlay`, after the base trace.
- Categorical colouring keeps the single base trace: categories are integer codes shown with
  a step colour scale, and the colour bar names them (several traces, one per category,
  would break the in-place updates above and the row-index mapping).
- Hover text is assembled by plotly.js from ``hovertemplate`` + ``customdata``: no string is
  built per point in Python, so a million points build in about a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import theme as th
from dashboard.figures._colors import ColorSpec, categorical_colors, continuous_colors

REQUIRED_COLUMNS = ("id", "formula", "x", "y")
DEFAULT_HOVER_COLUMNS = ("band_gap", "e_above_hull", "e_form", "magnetization")
#: Integer columns with at most this many distinct values are colored as categories.
MAX_INTEGER_CATEGORIES = 12
#: Opacity of points outside a highlight.
FADED_OPACITY = 0.06
#: Row indices travel as float32 (half the bytes) while they are exact in it.
_FLOAT32_EXACT = 2**24


def _check_points(points: pd.DataFrame) -> None:
    if not isinstance(points, pd.DataFrame):
        raise TypeError(
            f"points must be a DataFrame with columns {list(REQUIRED_COLUMNS)}, got {type(points).__name__}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in points.columns]
    if missing:
        raise ValueError(f"points lacks columns {missing} (needs {list(REQUIRED_COLUMNS)} plus property columns)")
    for axis in ("x", "y"):
        if not pd.api.types.is_numeric_dtype(points[axis].dtype):
            raise ValueError(f"points column {axis!r} must be numeric, got dtype {points[axis].dtype}")


def is_categorical(series: pd.Series) -> bool:
    """Auto rule: non-numeric or boolean columns, and integer columns with few values."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return True
    if pd.api.types.is_integer_dtype(dtype):
        return series.nunique(dropna=True) <= MAX_INTEGER_CATEGORIES
    return False


def _coloring(points: pd.DataFrame, color_by: str, *, clip, colorscale, categorical, theme: str, units) -> ColorSpec:
    if color_by not in points.columns:
        raise ValueError(f"color_by {color_by!r} is not a column of points (columns: {list(points.columns)})")
    series = points[color_by]
    title = th.label_with_unit(color_by, units)
    if categorical is None:
        categorical = is_categorical(series)
    if categorical:
        if clip is not None:
            raise ValueError(f"clip applies to numeric colouring, but {color_by!r} is coloured as categories")
        return categorical_colors(series.to_numpy(), title=title, theme=theme)
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise ValueError(f"column {color_by!r} (dtype {series.dtype}) is not numeric: use categorical=True")
    if color_by == "e_above_hull":
        # The paper's colouring: capped at 0.5 eV/atom, green = stable.
        clip = (0.0, th.E_HULL_CAP) if clip is None else clip
        colorscale = th.E_HULL_SCALE if colorscale is None else colorscale
    return continuous_colors(
        series.to_numpy(dtype=np.float64, na_value=np.nan), title=title, theme=theme, clip=clip, colorscale=colorscale
    )


def color_marker(
    points: pd.DataFrame,
    *,
    color_by: str,
    clip: tuple[float, float] | None = None,
    colorscale=None,
    categorical: bool | None = None,
    theme: str = "light",
    units: dict[str, str] | None = None,
) -> dict:
    """The colouring attributes of the base trace's marker for ``color_by``, exactly as
    :func:`materials_map_figure` sets them: ``color`` (an array), ``colorscale``, ``cmin``,
    ``cmax``, ``showscale`` and ``colorbar``. A recolouring can send just these (a Patch)."""
    th.check_theme(theme)
    return _coloring(points, color_by, clip=clip, colorscale=colorscale, categorical=categorical, theme=theme, units=units).marker()


def _hover_template(columns: Sequence[str], units: dict[str, str] | None) -> str:
    lines = ["<b>%{text}</b>", "%{hovertext}"]
    all_units = {**th.UNITS, **(units or {})}
    for position, column in enumerate(columns, start=1):
        unit = all_units.get(column)
        label = th.LABELS.get(column, column)
        lines.append(f"{label}: %{{customdata[{position}]:.3~f}}" + (f" {unit}" if unit else ""))
    return "<br>".join(lines) + "<extra></extra>"


def _hover_columns(points: pd.DataFrame, hover_columns: Sequence[str]) -> list[str]:
    explicit = tuple(hover_columns) != DEFAULT_HOVER_COLUMNS
    chosen = []
    for column in hover_columns:
        if column not in points.columns:
            if explicit:
                raise ValueError(f"hover column {column!r} is not a column of points")
            continue  # a dataset without, say, magnetisation simply lacks that hover line
        dtype = points[column].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            if explicit:
                raise ValueError(f"hover column {column!r} must be numeric (dtype {dtype})")
            continue
        chosen.append(column)
    return chosen


def _customdata(points: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    n = len(points)
    dtype = np.float32 if n <= _FLOAT32_EXACT else np.float64
    data = np.empty((n, 1 + len(columns)), dtype=dtype)
    data[:, 0] = np.arange(n)
    for position, column in enumerate(columns, start=1):
        data[:, position] = points[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return data


def _opacity(n: int, opacity: float, highlight) -> float | np.ndarray:
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    if highlight is None:
        return opacity
    mask = np.asarray(highlight)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(
            f"highlight must be a boolean array of shape ({n},), got dtype {mask.dtype} shape {mask.shape}"
        )
    return np.where(mask, np.float32(1.0), np.float32(FADED_OPACITY)).astype(np.float32)


def _selected_points(ids: pd.Series, selected_ids) -> np.ndarray | None:
    if selected_ids is None:
        return None
    wanted = pd.Index(pd.unique(pd.Series(list(selected_ids), dtype=object)))
    found = ids.isin(wanted).to_numpy()
    unknown = wanted.difference(pd.Index(ids[found].unique()))
    if len(unknown):
        raise ValueError(f"selected_ids {list(unknown[:5])} are not ids of points ({len(unknown)} unknown)")
    return np.flatnonzero(found)


def materials_map_figure(
    points: pd.DataFrame,
    *,
    color_by: str | None = None,
    clip: tuple[float, float] | None = None,
    colorscale=None,
    categorical: bool | None = None,
    marker_size: float = 4,
    opacity: float = 0.8,
    highlight: np.ndarray | None = None,
    selected_ids: Sequence[str] | None = None,
    hover_columns: Sequence[str] = DEFAULT_HOVER_COLUMNS,
    webgl: bool = True,
    theme: str = "light",
    units: dict[str, str] | None = None,
    title: str | None = None,
    height: int = 720,
) -> go.Figure:
    """Scatter map of compounds coloured by a property (see the module docstring's contract).

    Parameters
    ----------
    points : DataFrame of n rows
        ``id, formula, x, y`` and property columns (a map's ``points.parquet``).
    color_by : str, optional
        Property column; None draws every point in one colour. ``"e_above_hull"`` defaults
        to the paper's colouring (clip (0, 0.5) eV/atom, reversed red-yellow-green).
    clip : (low, high), optional
        Colour range for numeric colouring; values beyond are drawn at the ends and the end
        tick labels read "≤ low" / "≥ high". Missing values are grey ("no data").
    colorscale : plotly colour scale name or explicit scale, optional
    categorical : bool, optional
        Force categorical or numeric colouring; default: categorical for text, boolean and
        integer columns with at most ``MAX_INTEGER_CATEGORIES`` values (such as n_elements).
    marker_size, opacity : float
    highlight : bool ndarray of shape (n,), optional
        Highlighted points at full opacity, the others faded to ``FADED_OPACITY``.
    selected_ids : sequence of str, optional
        Ids shown as plotly's selection (``selectedpoints``); the rest dimmed.
    hover_columns : sequence of str
        Numeric columns shown on hover (the default list skips columns the data lack).
    webgl : bool
        ``go.Scattergl`` (fast in the browser) or ``go.Scatter`` (SVG markers, for vector export).
    theme : {"light", "dark"}
    units : dict, optional
        Extra ``{column: unit}`` for titles and hover.

    Returns
    -------
    go.Figure whose ``data[0]`` holds all n points.
    """
    th.check_theme(theme)
    _check_points(points)
    if marker_size <= 0:
        raise ValueError(f"marker_size must be positive, got {marker_size}")
    n = len(points)
    colors = th.palette(theme)
    columns = _hover_columns(points, hover_columns)
    marker: dict = {"size": marker_size, "opacity": _opacity(n, opacity, highlight), "line": {"width": 0}}
    if color_by is None:
        marker["color"] = th.OKABE_ITO[4] if theme == "light" else th.OKABE_ITO[1]
    else:
        marker.update(
            _coloring(
                points, color_by, clip=clip, colorscale=colorscale, categorical=categorical, theme=theme, units=units
            ).marker()
        )
    xy = points[["x", "y"]].to_numpy(dtype=np.float64, na_value=np.nan)
    unplaced = int((~np.isfinite(xy).all(axis=1)).sum())
    trace_type = go.Scattergl if webgl else go.Scatter
    selected = _selected_points(points["id"].astype(str), selected_ids)
    trace = trace_type(
        x=xy[:, 0].astype(np.float32),
        y=xy[:, 1].astype(np.float32),
        mode="markers",
        marker=marker,
        customdata=_customdata(points, columns),
        text=points["formula"].to_numpy(dtype=object),
        hovertext=points["id"].astype(str).to_numpy(dtype=object),
        hovertemplate=_hover_template(columns, units),
        name="compounds",
        showlegend=False,
        selectedpoints=selected,
        unselected={"marker": {"opacity": 0.15}} if selected is not None else None,
        selected={"marker": {"opacity": 1.0}} if selected is not None else None,
    )
    fig = go.Figure(data=[trace])
    axis = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "showline": False}
    fig.update_layout(
        template=th.template_name(theme),
        height=height,
        xaxis=axis,
        yaxis={**axis, "scaleanchor": "x", "scaleratio": 1},
        margin={"l": 20, "r": 20, "t": 60 if title else 20, "b": 20},
        uirevision="materials-map",
        legend={"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
        meta={"n_points": n, "n_without_position": unplaced, "color_by": color_by},
    )
    if title:
        fig.update_layout(title_text=title)
    if unplaced:
        fig.add_annotation(
            text=f"{unplaced:,} of {n:,} compounds have no map position and are not drawn",
            xref="paper", yref="paper", x=0.0, y=0.0, xanchor="left", yanchor="bottom", showarrow=False,
            font={"size": th.TICK_FONT_SIZE, "color": colors["muted"]},
        )  # fmt: skip
    return fig


def add_overlay(
    fig: go.Figure,
    points: pd.DataFrame,
    *,
    name: str,
    symbol: str = "star",
    size: float = 16,
    color: str | None = None,
    label: bool | None = None,
    theme: str = "light",
) -> go.Figure:
    """Add marked points (uploaded compounds, a searched formula) on top of a materials map.

    Parameters
    ----------
    fig : go.Figure
        A figure from :func:`materials_map_figure`; it is changed in place and returned.
    points : DataFrame
        ``formula, x, y`` and optionally ``id``. Every row must have a finite position.
    name : str
        Legend entry.
    label : bool, optional
        Write the formula next to each marker; default: only for up to 30 points.

    Returns
    -------
    The same figure with one more trace (same WebGL/SVG type as the base trace);
    ``customdata`` is the row position in ``points``.
    """
    th.check_theme(theme)
    if not isinstance(points, pd.DataFrame):
        raise TypeError(f"overlay points must be a DataFrame, got {type(points).__name__}")
    missing = [c for c in ("formula", "x", "y") if c not in points.columns]
    if missing:
        raise ValueError(f"overlay {name!r}: points lack columns {missing}")
    xy = points[["x", "y"]].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if bad.size:
        formulas = points["formula"].iloc[bad[:5]].tolist()
        raise ValueError(
            f"overlay {name!r}: {bad.size} point(s) have no map position (first: {formulas}); place them first"
        )
    colors = th.palette(theme)
    label = len(points) <= 30 if label is None else label
    trace_type = go.Scattergl if fig.data and isinstance(fig.data[0], go.Scattergl) else go.Scatter
    ids = points["id"].astype(str) if "id" in points.columns else points["formula"].astype(str)
    fig.add_trace(
        trace_type(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers+text" if label else "markers",
            marker={
                "symbol": symbol,
                "size": size,
                "color": color or colors["outline"],
                "line": {"width": 1.5, "color": colors["paper"]},
                "opacity": 1.0,
            },
            text=points["formula"].to_numpy(dtype=object),
            textposition="top center",
            textfont={"size": th.TICK_FONT_SIZE, "color": colors["text"]},
            hovertext=ids.to_numpy(dtype=object),
            customdata=np.arange(len(points)),
            hovertemplate=f"<b>%{{text}}</b><br>%{{hovertext}}<br>{name}<extra></extra>",
            name=name,
            showlegend=True,
        )
    )
    return fig
