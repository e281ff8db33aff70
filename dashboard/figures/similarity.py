"""Element similarity figures: ranked bars for one element, and the full cosine heatmap.

Cosines are the Gram matrix of the element vectors (``fingerprints.embedding.cosine_matrix``):
a (98, 98) DataFrame indexed and labelled by symbol, with all-zero rows and columns for
elements without substitution data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import theme as th
from fingerprints.elements import SYMBOL_TO_INDEX, element_table


def _check_cosines(cosines: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(cosines, pd.DataFrame):
        raise TypeError(
            f"cosines must be a DataFrame indexed and labelled by element symbol, got {type(cosines).__name__}"
        )
    if cosines.shape[0] != cosines.shape[1]:
        raise ValueError(f"cosines must be square, got shape {cosines.shape}")
    rows, cols = [str(s) for s in cosines.index], [str(s) for s in cosines.columns]
    if rows != cols:
        raise ValueError("cosines must have the same element symbols, in the same order, as rows and columns")
    unknown = sorted(set(rows) - set(SYMBOL_TO_INDEX))
    if unknown:
        raise ValueError(f"cosines has unknown element symbols {unknown[:10]}")
    return cosines


def elements_with_data(cosines: pd.DataFrame) -> np.ndarray:
    """Boolean mask (n,): True where the element's row has any non-zero, finite cosine."""
    values = np.asarray(cosines, dtype=np.float64)
    return np.any(np.isfinite(values) & (values != 0), axis=1)


def top_similar(cosines: pd.DataFrame, *, top: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The ``top`` most similar elements of every element, highest cosine first.

    Returns
    -------
    dict
        ``{symbol: [(other, cosine), ...]}``; elements without data map to an empty list,
        and elements without data never appear as neighbours. Ties keep Z order.
    """
    _check_cosines(cosines)
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    symbols = np.array([str(s) for s in cosines.index], dtype=object)
    values = np.asarray(cosines, dtype=np.float64).copy()
    has_data = elements_with_data(cosines)
    values[~np.isfinite(values)] = -np.inf
    values[:, ~has_data] = -np.inf
    np.fill_diagonal(values, -np.inf)
    order = np.argsort(-values, axis=1, kind="stable")[:, :top]
    best = np.take_along_axis(values, order, axis=1)
    result = {}
    for i, symbol in enumerate(symbols):
        keep = np.isfinite(best[i]) if has_data[i] else np.zeros(order.shape[1], dtype=bool)
        result[symbol] = [(symbols[j], float(c)) for j, c in zip(order[i][keep], best[i][keep])]
    return result


def _message_figure(message: str, theme: str, *, height: int = 420) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        template=th.template_name(theme),
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    )
    return fig


def similarity_bar_figure(cosines: pd.DataFrame, symbol: str, *, top: int = 15, theme: str = "light") -> go.Figure:
    """Horizontal bars: the ``top`` elements most similar to ``symbol``, most similar on top.

    Bars are coloured by element category (legend-free: the category is in the hover) and
    labelled with the cosine. An element without data gives a figure that says so.

    Raises
    ------
    ValueError
        When ``symbol`` is not an element of ``cosines``.
    """
    th.check_theme(theme)
    _check_cosines(cosines)
    if symbol not in cosines.index:
        raise ValueError(f"unknown element {symbol!r}: not in the cosine matrix")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    has_data = pd.Series(elements_with_data(cosines), index=cosines.index)
    names = element_table().set_index("symbol")
    if not has_data[symbol]:
        return _message_figure(f"{names.loc[symbol, 'name']} ({symbol}) has no substitution data", theme)
    row = cosines.loc[symbol].astype(float).drop(symbol)
    row = row[has_data.reindex(row.index).to_numpy() & np.isfinite(row.to_numpy())]
    best = row.sort_values(ascending=False, kind="stable").head(top)[::-1]  # plotly draws bottom-up
    categories = names.loc[best.index, "category"].astype(str)
    colors = [th.CATEGORY_COLORS.get(c, th.palette(theme)["muted"]) for c in categories]
    fig = go.Figure(
        go.Bar(
            x=best.to_numpy(),
            y=list(best.index),
            orientation="h",
            marker={"color": colors, "line": {"width": 0}},
            text=[f"{c:.3f}" for c in best],
            textposition="outside",
            cliponaxis=False,
            customdata=np.column_stack([names.loc[best.index, "name"].to_numpy(), categories.to_numpy()]),
            hovertemplate="<b>%{customdata[0]}</b> (%{y})<br>%{customdata[1]}<br>cosine %{x:.3f}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(
        template=th.template_name(theme),
        title={
            "text": f"Most similar to {names.loc[symbol, 'name']} ({symbol})",
            "subtitle": {"text": BAR_COLOUR_NOTE, "font": {"size": th.TICK_FONT_SIZE, "color": th.palette(theme)["muted"]}},
        },
        height=max(360, 90 + 34 * len(best)),
        xaxis={"title": {"text": "cosine similarity"}, "range": [0, 1.12], "tickvals": [0, 0.25, 0.5, 0.75, 1.0]},
        yaxis={"type": "category", "tickfont": {"size": th.FONT_SIZE}},
        margin={"l": 70, "r": 30, "t": 96, "b": 60},
        bargap=0.25,
    )
    return fig


#: Subtitle of the ranked bars: what their colours mean.
BAR_COLOUR_NOTE = "bar colour: element category, as on the periodic table"

#: Element labels along each side of the heatmap: every other element, alternating between
#: opposite sides, so 98 labels fit at a legible size (hover names every cell).
HEATMAP_LABEL_SIZE = 10
HEATMAP_NO_DATA_NOTE = "grey: no substitution data"


def cosine_heatmap_figure(
    cosines: pd.DataFrame,
    *,
    order: Sequence[str] | None = None,
    theme: str = "light",
    width: int = 900,
    title: str | None = None,
) -> go.Figure:
    """Heatmap of all pairwise element cosines.

    Parameters
    ----------
    cosines : DataFrame (n, n)
    order : sequence of str, optional
        Row/column order: Z order by default, or a learned 1D ordering. Must list every
        element of ``cosines`` exactly once.
    theme : {"light", "dark"}
    width : int
        Figure width in px; the heatmap is square and the height follows.
    title : str, optional

    Notes
    -----
    Elements without data are grey rows and columns (NaN), still labelled, so the gap is
    visible. The element labels alternate between the opposite sides of the heatmap
    (1st, 3rd, ... on the top and left; 2nd, 4th, ... on the bottom and right) so that
    they stay legible; the main axes keep every label (``xaxis.ticktext``) for reference.
    plotly.js draws heatmaps as one embedded raster image even in SVG/PDF export (one pixel
    per cell, sharp at any zoom); axes and labels stay vector.
    """
    th.check_theme(theme)
    _check_cosines(cosines)
    symbols = [str(s) for s in cosines.index]
    if order is None:
        order = sorted(symbols, key=SYMBOL_TO_INDEX.__getitem__)
    else:
        order = [str(s) for s in order]
        problems = []
        if len(set(order)) != len(order):
            problems.append("repeats elements")
        if set(order) - set(symbols):
            problems.append(f"has elements not in cosines {sorted(set(order) - set(symbols))[:5]}")
        if set(symbols) - set(order):
            problems.append(f"lacks {sorted(set(symbols) - set(order))[:5]}")
        if problems:
            raise ValueError(f"order must list each element of cosines once: it {'; '.join(problems)}")
    if width < 300:
        raise ValueError(f"width must be at least 300 px, got {width}")
    colors = th.palette(theme)
    matrix = cosines.loc[order, order].to_numpy(dtype=np.float64).copy()
    has_data = elements_with_data(cosines.loc[order, order])
    matrix[~has_data, :] = np.nan
    matrix[:, ~has_data] = np.nan
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=order,
            y=order,
            zmin=0.0,
            zmax=1.0,
            colorscale=th.SEQUENTIAL_SCALE,
            colorbar=th.colorbar("cosine", theme, len=0.7, y=0.5, yanchor="middle", x=1.0, xanchor="left", xpad=42),
            hoverongaps=False,
            hovertemplate="%{y} – %{x}<br>cosine %{z:.3f}<extra></extra>",
        )
    )
    label_font = {"size": HEATMAP_LABEL_SIZE, "color": colors["text"]}
    category = {
        "type": "category", "categoryorder": "array", "categoryarray": order, "showgrid": False, "ticks": "",
        "showline": False, "zeroline": False, "automargin": False,  # fixed margins keep the heatmap square and large
    }  # fmt: skip
    main = {**category, "tickmode": "array", "tickvals": order, "ticktext": order, "showticklabels": False}
    # Exact ranges: autorange would pad the matched label axes' invisible markers.
    x_range, y_range = [-0.5, len(order) - 0.5], [len(order) - 0.5, -0.5]
    first, second = order[0::2], order[1::2]

    def labels(values, side: str, overlaying: str, **extra) -> dict:
        return {**category, "tickmode": "array", "tickvals": values, "ticktext": values, "tickfont": label_font,
                "side": side, "overlaying": overlaying, "matches": overlaying, **extra}  # fmt: skip

    margin = {"l": 40, "r": 140, "t": 40 + (48 if title else 0), "b": 64}
    side = width - margin["l"] - margin["r"]
    fig.update_layout(
        template=th.template_name(theme),
        width=width,
        height=side + margin["t"] + margin["b"],
        xaxis={**main, "side": "top", "constrain": "domain", "range": x_range},
        yaxis={**main, "range": y_range, "scaleanchor": "x", "constrain": "domain"},
        xaxis2=labels(first, "top", "x", tickangle=-90, range=x_range),
        xaxis3=labels(second, "bottom", "x", tickangle=-90, range=x_range),
        yaxis2=labels(first, "left", "y", range=y_range),
        yaxis3=labels(second, "right", "y", range=y_range),
        # Fixed margins: a margin grown by the colour bar would make the plot area non-square,
        # and the label axes would no longer line up with the cells.
        margin={**margin, "autoexpand": False},
        plot_bgcolor=th.nan_color(theme),
        meta={"order": list(order)},
    )
    # The label axes need categories of their own: an invisible diagonal on each pair.
    for xaxis, yaxis in (("x2", "y2"), ("x3", "y3")):
        fig.add_trace(
            go.Scatter(
                x=order, y=order, xaxis=xaxis, yaxis=yaxis, mode="markers", marker={"opacity": 0, "size": 1},
                hoverinfo="skip", showlegend=False, name="labels",
            )
        )  # fmt: skip
    if title:
        fig.update_layout(title={"text": title, "y": 1.0, "yanchor": "top", "pad": {"t": 14}})
    if (~has_data).any():
        fig.add_annotation(
            text=HEATMAP_NO_DATA_NOTE, xref="paper", yref="paper", x=0.0, y=0.0, yshift=-36, xanchor="left", yanchor="top",
            showarrow=False, font={"size": th.TICK_FONT_SIZE, "color": colors["muted"]},
        )  # fmt: skip
    return fig


__all__ = ["cosine_heatmap_figure", "elements_with_data", "similarity_bar_figure", "top_similar"]
