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
        title={"text": f"Most similar to {names.loc[symbol, 'name']} ({symbol})"},
        height=max(360, 90 + 34 * len(best)),
        xaxis={"title": {"text": "cosine similarity"}, "range": [0, 1.12], "tickvals": [0, 0.25, 0.5, 0.75, 1.0]},
        yaxis={"type": "category", "tickfont": {"size": th.FONT_SIZE}},
        margin={"l": 70, "r": 30, "t": 70, "b": 60},
        bargap=0.25,
    )
    return fig


def cosine_heatmap_figure(
    cosines: pd.DataFrame, *, order: Sequence[str] | None = None, theme: str = "light"
) -> go.Figure:
    """Heatmap of all pairwise element cosines.

    Parameters
    ----------
    cosines : DataFrame (n, n)
    order : sequence of str, optional
        Row/column order: Z order by default, or a learned 1D ordering. Must list every
        element of ``cosines`` exactly once.

    Notes
    -----
    Elements without data are blank rows and columns (NaN), still labelled, so the gap is
    visible. plotly.js draws heatmaps as one embedded raster image even in SVG/PDF export
    (one pixel per cell, sharp at any zoom); axes and labels stay vector.
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
            colorbar=th.colorbar("cosine", theme),
            hoverongaps=False,
            hovertemplate="%{y} – %{x}<br>cosine %{z:.3f}<extra></extra>",
        )
    )
    tick = {
        "type": "category",
        "tickmode": "array",
        "tickvals": order,
        "ticktext": order,
        "tickfont": {"size": 9},
        "showgrid": False,
        "ticks": "",
    }
    fig.update_layout(
        template=th.template_name(theme),
        width=900,
        height=860,
        xaxis={**tick, "side": "top", "tickangle": -90, "constrain": "domain"},
        yaxis={**tick, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        margin={"l": 50, "r": 30, "t": 60, "b": 20},
        plot_bgcolor=th.palette(theme)["paper"],
    )
    return fig


__all__ = ["cosine_heatmap_figure", "elements_with_data", "similarity_bar_figure", "top_similar"]
