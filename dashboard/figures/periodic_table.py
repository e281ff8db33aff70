"""The periodic table as tiles, in the standard layout or in a learned (data-mined) layout.

Figure contract (the app relies on it)
--------------------------------------
- ``fig.data[0]`` is the ONLY trace: a ``go.Scatter`` in mode ``"markers+text"`` with square
  markers (the tiles) and the labels (Z above the symbol) in the same trace.
- Its points are the elements in Z order, the same order in every layout, so switching
  layouts only changes ``x`` and ``y``. A Dash ``dcc.Graph(animate=True)`` (or Plotly.react
  with ``layout.transition``, which this figure sets) then slides each tile to its new place.
  Change ``layout.xaxis.range``/``yaxis.range``, ``height`` and ``marker.size`` along with
  ``x``/``y``, or simply send the new figure.
- ``customdata`` is the element symbol (``clickData["points"][0]["customdata"] == "Fe"``).
- Coordinates: x grows to the right, y grows downwards (the y axis is reversed), in tile
  units: standard layout x = group, y = period; grid layout x = grid_col, y = grid_row;
  learned layout: the 2D map rescaled so its longer side spans ``LEARNED_SPAN`` tiles, then
  crowded tiles pushed apart along the lines joining them until none overlap
  (:mod:`._overlap`; about 3/4 of each element's 5 nearest neighbours stay among its 5
  nearest on the default map).
- Tiles are markers with a size in pixels computed from the figure width (they export as
  vector paths to SVG/PDF); the figure therefore has a fixed ``width`` and ``height``: keep
  the Graph from resizing it (``responsive=False`` or a container as wide as the figure).
- The legend never narrows the tiles when it can go elsewhere (:mod:`._table_legend`):
  categories get a key of swatches (layout shapes and annotations; the colour bar is
  hidden), statistics a colour bar; in the empty block above the transition metals of the
  standard table, or beside or below a learned layout. ``layout.meta["legend"]`` says where.
- No element is ever hidden: elements without data are grey, and in the learned layouts
  (and any element without a position there) they sit in a labelled row below the map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import theme as th
from dashboard.figures import _table_legend as tl
from dashboard.figures._colors import MISSING_BAND, ColorSpec, categorical_colors, continuous_colors
from dashboard.figures._overlap import separate_squares
from fingerprints.elements import CATEGORIES, SYMBOL_TO_INDEX, element_table

LAYOUTS = ("standard", "learned", "grid")
BUILTIN_COLORINGS = ("category", "block", "group", "period")
DESCRIPTIVE_COLUMNS = ("symbol", "name", "Z", "group", "period", "block", "category")

#: Longer side of the learned free layout, in tiles (the standard table is 18 wide).
LEARNED_SPAN = 16.0
#: Tile side as a fraction of the distance between neighbouring positions.
TILE_FRACTION = {"standard": 0.92, "grid": 0.92, "learned": 0.9}
#: Rows of the f-block in the standard layout, a half row below period 7.
LANTHANIDE_ROW = 8.5
ACTINIDE_ROW = 9.5
#: Gap (in rows) between a learned layout and its row of elements without data.
UNPLACED_GAP = 1.6
#: The empty block above the transition metals in the standard layout (x from group 3 to 12,
#: y over periods 1 to 3), where the legend goes as in printed tables: x0, x1, y_top, y_bottom.
STANDARD_GAP = (2.5, 12.5, 0.5, 3.5)
#: Room for a figure title, in px.
TITLE_PX = 52

NO_DATA_LABEL = "No data"
NOT_PLACED_LABEL = "No data / not placed on the map"


@dataclass
class TileLayout:
    """Where the tiles go.

    Attributes
    ----------
    x, y : ndarray of shape (n,)
        Tile centres (y grows downwards).
    placed : ndarray of bool, shape (n,)
        False for tiles in the "no data / not placed" row.
    x_range, y_range : tuple of float
        Axis ranges that frame every tile (y_range is (bottom, top): reversed axis).
    tile_fraction : float
        Tile side relative to one unit of x/y.
    unplaced_label : str or None
        Label of the row of unplaced tiles, None when there is none.
    unplaced_label_y : float or None
    """

    x: np.ndarray
    y: np.ndarray
    placed: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    tile_fraction: float
    unplaced_label: str | None = None
    unplaced_label_y: float | None = None


def element_frame(map_elements: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 98 elements with their descriptive columns and, if given, the map columns.

    Parameters
    ----------
    map_elements : DataFrame, optional
        ``elements.parquet`` of a map directory (``symbol, x, y, has_data, grid_col,
        grid_row``), in any row order, possibly with fewer elements.

    Returns
    -------
    DataFrame of shape (98, 7 + k)
        ``element_table()`` (Z order) left-joined with the map columns by symbol. Elements
        absent from ``map_elements`` get NaN positions and ``has_data`` False.
    """
    table = element_table()
    if map_elements is None:
        return table
    if "symbol" not in map_elements.columns:
        raise ValueError("map elements table has no 'symbol' column")
    unknown = sorted(set(map_elements["symbol"]) - set(SYMBOL_TO_INDEX))
    if unknown:
        raise ValueError(f"map elements table has unknown element symbols {unknown[:10]}")
    duplicated = map_elements["symbol"][map_elements["symbol"].duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"map elements table lists {duplicated[:10]} more than once")
    extra = map_elements[["symbol", *[c for c in map_elements.columns if c not in DESCRIPTIVE_COLUMNS]]]
    merged = table.merge(extra, on="symbol", how="left", validate="one_to_one")
    if "has_data" in merged.columns:
        merged["has_data"] = merged["has_data"].fillna(False).astype(bool)
    return merged


def _complete(elements: pd.DataFrame) -> pd.DataFrame:
    """Validate, add missing descriptive columns, sort by Z."""
    if not isinstance(elements, pd.DataFrame):
        raise TypeError(f"elements must be a DataFrame, got {type(elements).__name__}")
    if "symbol" not in elements.columns:
        raise ValueError("elements has no 'symbol' column")
    if elements.empty:
        raise ValueError("elements is empty")
    symbols = elements["symbol"].astype(str)
    unknown = sorted(set(symbols) - set(SYMBOL_TO_INDEX))
    if unknown:
        raise ValueError(f"elements has unknown element symbols {unknown[:10]} (expected H..Cf)")
    duplicated = symbols[symbols.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"elements lists {duplicated[:10]} more than once")
    missing_descriptive = [c for c in DESCRIPTIVE_COLUMNS if c not in elements.columns]
    frame = elements.copy()
    frame["symbol"] = symbols.to_numpy()
    if missing_descriptive:
        frame = frame.merge(element_table()[["symbol", *missing_descriptive]], on="symbol", how="left")
    if "has_data" in frame.columns:
        if frame["has_data"].isna().any():
            raise ValueError("elements column 'has_data' has missing values")
        frame["has_data"] = frame["has_data"].astype(bool)
    elif {"x", "y"} <= set(frame.columns):
        frame["has_data"] = np.isfinite(frame[["x", "y"]].to_numpy(dtype=np.float64)).all(axis=1)
    else:
        frame["has_data"] = True
    return frame.sort_values("Z", kind="stable").reset_index(drop=True)


def standard_positions(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Usual periodic-table positions: x = group (1..18), y = period (1..7).

    La and Ac stay in group 3 (below Y); Ce-Lu and Th-Cf fill two rows below the table
    (``LANTHANIDE_ROW``, ``ACTINIDE_ROW``), Ce and Th under group 4.
    """
    z = frame["Z"].to_numpy(dtype=np.int64)
    x = frame["group"].to_numpy(dtype=np.float64).copy()
    y = frame["period"].to_numpy(dtype=np.float64).copy()
    lanthanide = (z >= 58) & (z <= 71)
    actinide = (z >= 90) & (z <= 103)
    x[lanthanide] = z[lanthanide] - 58 + 4
    y[lanthanide] = LANTHANIDE_ROW
    x[actinide] = z[actinide] - 90 + 4
    y[actinide] = ACTINIDE_ROW
    return x, y


def _unplaced_row(n_unplaced: int, x_low: float, width: float, y_start: float) -> tuple[np.ndarray, np.ndarray]:
    capacity = max(int(np.floor(width)) + 1, 6)
    per_row = -(-n_unplaced // -(-n_unplaced // capacity))  # rows as even as possible: 6 + 5, not 10 + 1
    index = np.arange(n_unplaced)
    return x_low + (index % per_row), y_start + (index // per_row)


def tile_positions(elements: pd.DataFrame, layout: str = "standard", *, separate: bool = False) -> TileLayout:
    """Tile centres of every element of ``elements`` (sorted by Z) in ``layout``.

    Parameters
    ----------
    elements : DataFrame
        See :func:`periodic_table_figure`.
    layout : {"standard", "learned", "grid"}
    separate : bool, keyword-only
        Learned layout only: move crowded tiles apart until no two overlap
        (:func:`~dashboard.figures._overlap.separate_squares`, tiles of one unit); otherwise
        the tiles sit exactly at the rescaled map positions. The figure separates them.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    frame = _complete(elements)
    n = len(frame)
    if layout == "standard":
        x, y = standard_positions(frame)
        f_rows = frame["Z"].between(58, 71).any() or frame["Z"].between(90, 103).any()
        bottom = (ACTINIDE_ROW if f_rows else 7.0) + 0.5
        return TileLayout(x, y, np.ones(n, dtype=bool), (0.5, 18.5), (bottom, 0.5), TILE_FRACTION["standard"])

    columns = ("x", "y") if layout == "learned" else ("grid_col", "grid_row")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the {layout} layout needs columns {list(columns)} in elements; missing {missing} "
            "(build the element map first, or use layout='standard')"
        )
    raw = frame[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    placed = np.isfinite(raw).all(axis=1) & frame["has_data"].to_numpy()
    x = np.zeros(n)
    y = np.zeros(n)
    if placed.any():
        points = raw[placed]
        if layout == "learned":
            low, high = points.min(axis=0), points.max(axis=0)
            span = float((high - low).max())
            scale = (LEARNED_SPAN - 1) / span if span > 0 else 1.0
            # Map y grows upwards; tile rows grow downwards.
            x[placed] = (points[:, 0] - low[0]) * scale
            y[placed] = (high[1] - points[:, 1]) * scale
            if separate:
                spread = separate_squares(np.column_stack([x[placed], y[placed]]), side=1.0)
                spread -= spread.min(axis=0)
                x[placed], y[placed] = spread[:, 0], spread[:, 1]
        else:
            x[placed], y[placed] = points[:, 0], points[:, 1]
        x_low, x_high = float(x[placed].min()), float(x[placed].max())
        y_high = float(y[placed].max())
        y_low = float(y[placed].min())
    else:
        x_low, x_high, y_low, y_high = 0.0, 17.0, 0.0, -UNPLACED_GAP
    label = label_y = None
    if (~placed).any():
        lacks_data = ~frame["has_data"].to_numpy()
        label = NO_DATA_LABEL if lacks_data[~placed].all() else NOT_PLACED_LABEL
        row_start = y_high + UNPLACED_GAP
        x[~placed], y[~placed] = _unplaced_row(int((~placed).sum()), x_low, x_high - x_low, row_start)
        label_y = row_start - 0.85
        x_high = max(x_high, float(x[~placed].max()))
        y_high = float(y[~placed].max())
    pad = 0.5 if layout == "grid" else 0.6
    top = min(y_low, label_y if label_y is not None else y_low) - pad
    return TileLayout(
        x,
        y,
        placed,
        (x_low - pad, x_high + pad),
        (y_high + pad, top),
        TILE_FRACTION[layout],
        label,
        label_y,
    )


def _values_for(frame: pd.DataFrame, color_by, values: pd.Series | None) -> tuple[str, pd.Series | None]:
    """(label, per-element values aligned to frame) for a statistic; None for built-ins."""
    if isinstance(color_by, pd.Series):
        values, color_by = color_by, (color_by.name or "value")
    if values is not None:
        if not isinstance(values, pd.Series):
            raise TypeError(f"values must be a pandas Series indexed by element symbol, got {type(values).__name__}")
        unknown = sorted(set(map(str, values.index)) - set(SYMBOL_TO_INDEX))
        if unknown:
            raise ValueError(f"values are indexed by unknown element symbols {unknown[:10]}")
        if values.index.duplicated().any():
            raise ValueError(
                f"values list {values.index[values.index.duplicated()].unique().tolist()[:10]} more than once"
            )
        label = str(
            color_by if isinstance(color_by, str) and color_by not in BUILTIN_COLORINGS else values.name or "value"
        )
        aligned = values.reindex(frame["symbol"].to_numpy())
        aligned.index = frame.index
        return label, aligned
    if color_by in ("category", "block"):
        return str(color_by), None
    if not isinstance(color_by, str) or color_by not in frame.columns:
        allowed = ", ".join(BUILTIN_COLORINGS)
        raise ValueError(f"color_by must be one of {allowed}, a column of elements, or a Series; got {color_by!r}")
    return str(color_by), frame[color_by]


def _coloring(frame: pd.DataFrame, color_by, values, theme: str, *, missing_band: float = MISSING_BAND) -> ColorSpec:
    has_data = frame["has_data"].to_numpy()
    label, statistic = _values_for(frame, color_by, values)
    if statistic is None:
        if label == "category":
            names = frame["category"].astype(object).where(has_data, None)
            return categorical_colors(
                names, title="Category", theme=theme, colors=th.CATEGORY_COLORS, order=list(CATEGORIES)
            )
        names = frame["block"].astype(object).where(has_data, None)
        return categorical_colors(
            names, title="Block", theme=theme, colors=th.BLOCK_COLORS, order=list(th.BLOCK_COLORS)
        )
    numeric = pd.to_numeric(statistic, errors="coerce") if statistic.dtype == object else statistic
    if pd.api.types.is_numeric_dtype(numeric.dtype) and not pd.api.types.is_bool_dtype(numeric.dtype):
        numbers = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        numbers = np.where(has_data, numbers, np.nan)
        return continuous_colors(
            numbers, title=th.label_with_unit(label), theme=theme, dtype=np.float64, missing_band=missing_band
        )
    return categorical_colors(
        statistic.astype(object).where(has_data, None), title=th.label_with_unit(label), theme=theme
    )


def _hover_texts(
    frame: pd.DataFrame, statistic_label: str | None, statistic: pd.Series | None, similar, top: int = 5
) -> list[str]:
    texts = []
    for row in frame.itertuples(index=False):  # 98 rows
        lines = [
            f"<b>{row.name}</b> ({row.symbol})",
            f"Z = {row.Z} · group {row.group} · period {row.period}",
            f"{row.block}-block · {row.category}",
        ]
        if statistic is not None:
            value = statistic.iloc[len(texts)]
            shown = (
                "no value"
                if pd.isna(value)
                else (f"{value:.4g}" if isinstance(value, (int, float, np.number)) else str(value))
            )
            lines.append(f"{statistic_label}: {shown}")
        if not row.has_data:
            lines.append("<i>no substitution data</i>")
        elif similar is not None:
            neighbours = list(similar.get(row.symbol, ()))[:top]
            if neighbours:
                lines.append("Most similar:")
                lines.extend(f"  {other}  {cosine:.3f}" for other, cosine in neighbours)
        texts.append("<br>".join(lines))
    return texts


def selection_outline(symbols, selected: Sequence[str], tile_px: float, theme: str) -> tuple[np.ndarray, np.ndarray]:
    """Tile outlines: thick for the ``selected`` symbols, thin in the paper colour otherwise.

    Returns
    -------
    widths : ndarray of float, shape (n,)
    colors : ndarray of str, shape (n,)
        In the order of ``symbols`` (the trace's ``customdata``).
    """
    colors = th.palette(theme)
    is_selected = np.isin(np.asarray(symbols, dtype=object), list(selected))
    widths = np.where(is_selected, max(3.0, float(tile_px) * 0.08), 1.0)
    return widths, np.where(is_selected, colors["outline"], colors["paper"]).astype(object)


def periodic_table_figure(
    elements: pd.DataFrame,
    *,
    layout: str = "learned",
    color_by="category",
    values: pd.Series | None = None,
    selected: Sequence[str] = (),
    similar: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    theme: str = "light",
    width: int = 1200,
    title: str | None = None,
    transition_ms: int = 600,
    max_height: int | None = None,
) -> go.Figure:
    """Periodic table of tiles, in the standard, learned-map or learned-grid layout.

    See the module docstring for the contract the app relies on (one trace, Z order,
    ``customdata`` = symbol, animated layout switches).

    Parameters
    ----------
    elements : DataFrame with n <= 98 rows
        ``symbol`` plus, per layout, ``x, y`` (learned) or ``grid_col, grid_row`` (grid), and
        ``has_data``; descriptive columns (``name, Z, group, period, block, category``) are
        taken from ``element_table()`` when absent. :func:`element_frame` builds it from a
        map's ``elements.parquet``.
    layout : {"learned", "grid", "standard"}
    color_by : "category", "block", "group", "period", a column of ``elements``, or a Series
        Numeric statistics (e.g. compounds per element, mean band gap) get a colour bar;
        missing values are grey.
    values : Series indexed by symbol, optional
        A statistic to colour by (then ``color_by``, if not a built-in, names it).
    selected : sequence of str
        Symbols drawn with a thick outline.
    similar : dict, optional
        ``{symbol: [(other, cosine), ...]}`` best first (``similarity.top_similar``); the
        top five appear in the hover.
    theme : {"light", "dark"}
    width : int
        Figure width in px; the height follows from the layout so that tiles are square.
    transition_ms : int
        ``layout.transition.duration`` for animated layout changes (0: none).
    max_height : int, optional
        Tallest figure in px: tiles shrink (and the table is centred) to stay within it.

    The legend never takes the tiles' width when it can go elsewhere: categories get a key
    and statistics a colour bar in the empty block above the transition metals (standard
    layout), or beside or below the tiles, whichever leaves the larger tiles
    (``layout.meta["legend"]`` says where).

    Returns
    -------
    go.Figure with exactly one trace.
    """
    th.check_theme(theme)
    frame = _complete(elements)
    positions = tile_positions(frame, layout, separate=True)
    colors = th.palette(theme)
    selected = [selected] if isinstance(selected, str) else list(selected)
    unknown = sorted(set(selected) - set(frame["symbol"]))
    if unknown:
        raise ValueError(f"selected elements {unknown[:10]} are not in elements")
    if width < 200:
        raise ValueError(f"width must be at least 200 px, got {width}")
    if max_height is not None and max_height < 150:
        raise ValueError(f"max_height must be at least 150 px, got {max_height}")

    spec = _coloring(frame, color_by, values, theme)
    label, statistic = _values_for(frame, color_by, values)
    top = tl.EDGE_PX + (TITLE_PX if title else 0)
    geometry = _geometry(positions, spec, layout=layout, width=width, max_height=max_height, top=top)
    box = geometry.legend
    if not spec.categories and spec.missing.any():
        # The grey "no data" band gets a fixed length in px, enough for its label.
        spec = _coloring(frame, color_by, values, theme, missing_band=tl.missing_band_share(box, geometry.plot.height))
    has_data = frame["has_data"].to_numpy()
    fills = spec.point_colors()
    label_colors = np.array(th.text_colors(fills), dtype=object)
    label_colors[~has_data] = colors["muted"]

    cell = geometry.cell
    tile = cell * positions.tile_fraction
    symbol_px = max(8, round(tile * 0.42))
    number_px = max(7, round(tile * 0.26))
    text = [
        f"<span style='font-size:{number_px}px'>{z}</span><br><b>{symbol}</b>"
        for z, symbol in zip(frame["Z"], frame["symbol"])
    ]
    outline_width, outline_color = selection_outline(frame["symbol"].to_numpy(dtype=object), selected, tile, theme)

    marker = spec.marker()
    marker.update(
        symbol="square",
        size=tile,
        line={"width": outline_width, "color": outline_color},
        opacity=1.0,
        # Categories get a key drawn beside the tiles; the colour bar would only repeat it.
        showscale=not spec.categories,
    )
    trace = go.Scatter(
        x=positions.x,
        y=positions.y,
        mode="markers+text",
        marker=marker,
        text=text,
        textposition="middle center",
        textfont={"family": th.FONT_FAMILY, "size": symbol_px, "color": label_colors},
        customdata=frame["symbol"].to_numpy(dtype=object),
        hovertext=_hover_texts(frame, th.label_with_unit(label) if statistic is not None else None, statistic, similar),
        hovertemplate="%{hovertext}<extra></extra>",
        showlegend=False,
        name="elements",
        cliponaxis=False,
    )
    fig = go.Figure(trace)
    axis = {"visible": False, "fixedrange": layout != "learned", "showgrid": False, "zeroline": False}
    fig.update_layout(
        template=th.template_name(theme),
        width=width,
        height=geometry.height,
        margin={**geometry.margin, "autoexpand": False},
        xaxis={**axis, "range": list(positions.x_range)},
        yaxis={**axis, "range": list(positions.y_range)},
        hoverlabel={"align": "left"},
        dragmode="pan" if layout == "learned" else False,
        meta={"layout": layout, "tile_px": tile, "legend": box.placement},
    )
    if title:
        fig.update_layout(title_text=title)
    if transition_ms:
        fig.update_layout(transition={"duration": transition_ms, "easing": "cubic-in-out"})
    _add_legend(fig, spec, geometry, theme=theme)
    annotation = {"showarrow": False, "font": {"size": th.TICK_FONT_SIZE, "color": colors["muted"]}, "xanchor": "left"}
    if positions.unplaced_label:
        fig.add_annotation(
            x=positions.x_range[0] + 0.05, y=positions.unplaced_label_y, text=positions.unplaced_label, **annotation
        )
    if layout == "standard":
        for row, name in ((LANTHANIDE_ROW, "lanthanides"), (ACTINIDE_ROW, "actinides")):
            fig.add_annotation(x=3.45, y=row, text=name, **{**annotation, "xanchor": "right"})
    return fig


@dataclass(frozen=True)
class _Geometry:
    """Pixel geometry of the table figure: tile cell, margins, height, legend box and origin."""

    cell: float
    margin: dict
    height: int
    legend: tl.Legend
    legend_origin: tuple[float, float]
    plot: tl.Plot


def _gap_box(positions: TileLayout, cell: float) -> tuple[float, float, float, float]:
    """The free block above the transition metals, in px relative to the plot's top-left corner."""
    x0, x1, y0, y1 = STANDARD_GAP
    left, bottom = positions.x_range[0], positions.y_range[1]
    inset = 0.12 * cell
    return ((x0 - left) * cell + inset, (y0 - bottom) * cell + inset, (x1 - x0) * cell - 2 * inset, (y1 - y0) * cell - 2 * inset)


def _legend_for(spec: ColorSpec, placement: str, *, width: float, height: float | None = None) -> tl.Legend | None:
    if spec.categories:
        return tl.key_legend(spec.categories, spec.title, placement=placement, width=width, height=height)
    ticks = spec.colorbar.get("ticktext") or []
    return tl.colorbar_legend(spec.title, ticks, placement=placement, width=width, height=height)


def _geometry(positions: TileLayout, spec: ColorSpec, *, layout: str, width: int, max_height: int | None, top: float) -> _Geometry:
    """Tiles as large as the width (and ``max_height``) allow, with the legend in the gap,
    beside or below them: whichever leaves the larger tiles (the gap, then the right, wins ties)."""
    edge = tl.EDGE_PX
    x_span = positions.x_range[1] - positions.x_range[0]
    y_span = positions.y_range[0] - positions.y_range[1]
    inner = width - 2 * edge

    def capped(cell: float, extra_height: float) -> float:
        if max_height is None:
            return cell
        return max(1.0, min(cell, (max_height - top - edge - extra_height) / y_span))

    options = []  # (cell, legend box)
    if layout == "standard":
        cell = capped(inner / x_span, 0.0)
        _, _, gap_width, gap_height = _gap_box(positions, cell)
        box = _legend_for(spec, "gap", width=gap_width, height=gap_height)
        if box is not None:
            options.append((cell, box))
    if not options:
        right = _legend_for(spec, "right", width=inner)
        options.append((capped((inner - right.width - tl.LEGEND_PAD_PX) / x_span, 0.0), right))
        below = _legend_for(spec, "below", width=inner)
        options.append((capped(inner / x_span, below.height + tl.LEGEND_PAD_PX), below))
    cell, box = max(options, key=lambda option: option[0])
    plot_width, plot_height = cell * x_span, cell * y_span
    used = plot_width + (box.width + tl.LEGEND_PAD_PX if box.placement == "right" else 0.0)
    left = edge + max(0.0, (inner - used) / 2)  # centred when the height limit shrank the tiles
    bottom = edge
    if box.placement == "below":
        bottom += box.height + tl.LEGEND_PAD_PX
    elif box.placement == "right":
        bottom += max(0.0, box.height - plot_height)  # a tall key beside a low table
    if box.placement == "right":
        origin = (left + plot_width + tl.LEGEND_PAD_PX, top)
    elif box.placement == "below":
        centred = left + (plot_width - box.width) / 2
        origin = (min(max(centred, edge), width - edge - box.width), top + plot_height + tl.LEGEND_PAD_PX)
    else:
        gap_left, gap_top, gap_width, gap_height = _gap_box(positions, cell)
        origin = (left + gap_left + (gap_width - box.width) / 2, top + gap_top + (gap_height - box.height) / 2)
    margin = {"l": left, "r": width - left - plot_width, "t": top, "b": bottom}
    return _Geometry(cell, margin, round(top + plot_height + bottom), box, origin, tl.Plot(left, top, plot_width, plot_height))


def _add_legend(fig: go.Figure, spec: ColorSpec, geometry: _Geometry, *, theme: str) -> None:
    box, plot = geometry.legend, geometry.plot
    x0, y0 = geometry.legend_origin
    if spec.categories:
        tl.draw_key(
            fig, box, plot, x0=x0, y0=y0, labels=spec.categories, colors=spec.category_colors(), title=spec.title, theme=theme
        )
        return
    ticktext = list(spec.colorbar.get("ticktext") or [])
    top_tick = bool(ticktext) and str(ticktext[-1]).startswith("≥")
    fig.data[0].marker.colorbar.update(
        tl.colorbar_settings(box, plot, x0=x0, y0=y0, title=spec.title, theme=theme, top_tick=top_tick)
    )
