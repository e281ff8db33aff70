"""Figures of the "Compare embeddings" view: MAE bars per target and embedding, and one map per embedding.

Plain functions returning ``go.Figure`` in the app's themes (no Dash). The data come from a
results folder read by :func:`data.compare_results.load_compare_results`.

- :func:`mae_figure`: one panel per target (its own MAE scale and unit), inside it one group
  of bars per model and one bar per embedding, error bars = standard deviation over the folds;
  the best embedding of each target and model has a star and an outline.
- :func:`embedding_map_figure`: the compounds of the map subsample placed by one embedding
  (WebGL), coloured like the main materials map; a linked selection is drawn with plotly's
  ``selectedpoints`` (selected at full opacity, the rest faded), which a Dash ``Patch`` can
  change without resending the points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme as th
from dashboard.figures.materials_map import materials_map_figure
from data.compare import EMBEDDING_COLORS
from data.compare_results import best_rows

MODEL_LABELS = {"knn": "k-NN", "hgb": "HGB"}
#: Units of the study's targets where they differ from the app's (magnetisation is per cell).
STUDY_UNITS = {"magnetization": "μB per cell"}
MAE_HEIGHT = 560
MAP_HEIGHT = 620
#: Opacity of the compounds outside a linked selection.
UNSELECTED_OPACITY = 0.07
BEST_MARK = "★"
_MAE_COLUMNS = ("target", "model", "embedding", "mae_mean", "mae_std")


def _panel_title(target: str, units: dict[str, str]) -> str:
    label, unit = th.LABELS.get(target, target), units.get(target)
    return f"{label}<br>({unit})" if unit else label


def embedding_color(name: str, theme: str = "light") -> str:
    """The colour of an embedding (a neutral grey for names the palette does not know)."""
    return EMBEDDING_COLORS.get(name, th.palette(theme)["muted"])


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def mae_figure(
    prediction: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    theme: str = "light",
    units: dict[str, str] | None = None,
    height: int = MAE_HEIGHT,
) -> go.Figure:
    """Grouped bars of MAE per target and embedding, with the spread over folds as error bars.

    Parameters
    ----------
    prediction : DataFrame
        ``prediction_summary.csv``: ``target, model, embedding, mae_mean, mae_std``.
    models : sequence of str, optional
        Models to show (default: all, in the table's order); each panel has one bar group per model.
    theme : {"light", "dark"}
    units : dict, optional
        ``{target: unit}`` for the panel titles (default: the study's units).
    height : int

    Returns
    -------
    go.Figure
        One bar trace per embedding and target, in the table's order (trace ``name`` = embedding,
        ``x`` = model labels, ``y`` = mean MAE, ``error_y.array`` = std over folds, NaN as 0), then
        one empty legend entry per embedding (``meta == {"legend_only": True}``);
        ``layout.meta["best"]`` maps ``"target|model"`` to the best embedding(s).
    """
    th.check_theme(theme)
    if not isinstance(prediction, pd.DataFrame):
        raise TypeError(f"prediction must be a DataFrame, got {type(prediction).__name__}")
    missing = [c for c in _MAE_COLUMNS if c not in prediction.columns]
    if missing:
        raise ValueError(f"prediction lacks column(s) {missing} (needs {list(_MAE_COLUMNS)})")
    available = list(dict.fromkeys(prediction["model"]))
    models = available if models is None else list(models)
    unknown = [m for m in models if m not in available]
    if unknown or not models:
        raise ValueError(f"models {unknown or models} are not in the results (models: {', '.join(available)})")
    part = prediction[prediction["model"].isin(models)].copy()
    part["best"] = best_rows(part, by=("target", "model"), value="mae_mean")
    targets = list(dict.fromkeys(part["target"]))
    embeddings = list(dict.fromkeys(part["embedding"]))
    colors = th.palette(theme)
    all_units = {**th.UNITS, **STUDY_UNITS, **(units or {})}
    fig = make_subplots(
        rows=1,
        cols=len(targets),
        subplot_titles=[_panel_title(t, all_units) for t in targets],
        horizontal_spacing=0.045,
    )
    labels = [model_label(m) for m in models]
    for column, target in enumerate(targets, start=1):
        for name in embeddings:
            rows = part[(part["target"] == target) & (part["embedding"] == name)].set_index("model").reindex(models)
            best = rows["best"].fillna(False).astype(bool).to_numpy()
            std = rows["mae_std"].to_numpy(dtype=np.float64)
            fig.add_trace(
                go.Bar(
                    x=labels,
                    y=rows["mae_mean"].to_numpy(dtype=np.float64),
                    name=name,
                    legendgroup=name,
                    offsetgroup=name,
                    showlegend=False,
                    marker={
                        "color": embedding_color(name, theme),
                        "line": {"color": colors["outline"], "width": np.where(best, 2.5, 0.0).tolist()},
                    },
                    error_y={
                        "type": "data",
                        "array": np.nan_to_num(std, nan=0.0).tolist(),
                        "visible": True,
                        "color": colors["text"],
                        "thickness": 1.2,
                        "width": 2,
                    },
                    text=[BEST_MARK if b else "" for b in best],
                    textposition="outside",
                    constraintext="none",
                    textfont={"size": th.TICK_FONT_SIZE, "color": colors["text"]},
                    cliponaxis=False,
                    customdata=std,
                    hovertext=[f"{BEST_MARK} best for this target and model" if b else "" for b in best],
                    hovertemplate=f"<b>{name}</b><br>%{{x}}: MAE %{{y:.4f}} ± %{{customdata:.4f}}"
                    "<br>%{hovertext}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        fig.update_yaxes(rangemode="tozero", row=1, col=column)
    # Legend entries from empty bars: the real ones carry the best-bar outline, which the legend would copy.
    for rank, name in enumerate(embeddings):
        fig.add_trace(
            go.Bar(
                x=labels[:1], y=[None], name=name, legendgroup=name, offsetgroup=name, legendrank=rank,
                marker={"color": embedding_color(name, theme)}, showlegend=True, hoverinfo="skip", meta={"legend_only": True},
            ),  # fmt: skip
            row=1,
            col=1,
        )
    fig.update_yaxes(title_text="MAE (mean over folds)", row=1, col=1)
    best = {
        f"{t}|{m}": part.loc[(part["target"] == t) & (part["model"] == m) & part["best"], "embedding"].tolist()
        for t in targets
        for m in models
    }
    fig.update_layout(
        template=th.template_name(theme),
        barmode="group",
        bargap=0.18,
        bargroupgap=0.04,
        height=height,
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
        legend={"title": {"text": "Embedding"}, "traceorder": "normal", "itemclick": "toggle", "itemdoubleclick": "toggleothers"},
        hovermode="closest",
        meta={"figure": "compare-mae", "models": models, "targets": targets, "embeddings": embeddings, "best": best},
    )
    fig.update_annotations(font={"size": th.FONT_SIZE})
    return fig


def embedding_map_figure(
    points: pd.DataFrame,
    *,
    embedding: str,
    color_by: str | None,
    clip: tuple[float, float] | None = None,
    selected_rows: Sequence[int] | np.ndarray | None = None,
    theme: str = "light",
    marker_size: float = 4,
    opacity: float = 0.8,
    height: int = MAP_HEIGHT,
    webgl: bool = True,
) -> go.Figure:
    """The compounds placed by one embedding, coloured by a property; a selection highlighted.

    Parameters
    ----------
    points : DataFrame
        ``id, formula, x, y`` and the properties (:meth:`CompareResults.map_points`).
    embedding : str
        Shown as the title; part of ``uirevision`` (zoom resets when the embedding changes).
    color_by, clip
        As in :func:`dashboard.figures.materials_map_figure` (energy above hull is capped at
        0.5 eV/atom unless ``clip`` says otherwise).
    selected_rows : sequence of int, optional
        Rows of ``points`` to highlight; the others fade to ``UNSELECTED_OPACITY``. ``None`` or
        empty: no selection.

    Returns
    -------
    go.Figure whose ``data[0]`` holds every point in ``points``' row order (drag mode: box select).
    """
    fig = materials_map_figure(
        points,
        color_by=color_by,
        clip=clip,
        marker_size=marker_size,
        opacity=opacity,
        theme=theme,
        height=height,
        title=embedding,
        webgl=webgl,
    )
    base = fig.data[0]
    rows = selection_array(selected_rows, len(points))
    if rows is not None:
        base.selectedpoints = rows
        base.selected = {"marker": {"opacity": 1.0}}
        base.unselected = {"marker": {"opacity": UNSELECTED_OPACITY}}
    fig.update_layout(
        dragmode="select",
        uirevision=f"compare-map-{embedding}",
        margin={"l": 10, "r": 10, "t": 56, "b": 10},
        title={"font": {"size": th.FONT_SIZE + 2}},
        meta={**(fig.layout.meta or {}), "embedding": embedding, "n_selected": 0 if rows is None else int(rows.size)},
    )
    return fig


def selection_array(rows, n_points: int) -> np.ndarray | None:
    """Rows as a sorted int array within ``0..n_points-1``, or None for no selection."""
    if rows is None:
        return None
    array = np.unique(np.asarray(rows, dtype=np.int64))
    if array.size == 0:
        return None
    if array[0] < 0 or array[-1] >= n_points:
        raise ValueError(f"selected rows must lie in 0..{n_points - 1}")
    return array
