"""Turn a column of values into marker colours for ONE trace (continuous or categorical).

Both kinds produce a numeric ``marker.color`` array plus a colour scale, so a figure keeps a
single trace whose colours a Dash ``Patch`` can replace in place, and numeric arrays travel to
the browser as compact typed arrays.

Missing values get a grey band at the bottom of the colour scale: they are mapped to a value
just below ``cmin``'s continuous part, and the colour bar labels the band "no data". That
keeps the colour array numeric (a mixed number/colour-string array would have to be sent as
a JSON list, far slower for a million points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashboard import theme as th

#: Share of the colour bar given to the grey "no data" band.
MISSING_BAND = 0.06
#: More distinct values than this: the rarest are pooled into "other".
MAX_CATEGORIES = 16
MISSING_LABEL = "no data"
OTHER_LABEL = "other"
#: Height of one category on a categorical colour bar, in px.
CATEGORY_BAR_PX = 36


@dataclass
class ColorSpec:
    """Marker colouring of one trace.

    Attributes
    ----------
    values : ndarray of shape (n,)
        Numbers for ``marker.color`` (float32 for continuous data, int codes for categories).
    colorscale : list
        Explicit plotly colour scale.
    cmin, cmax : float
    colorbar : dict
        ``marker.colorbar`` settings (title, ticks naming categories or the missing band).
    missing : ndarray of bool, shape (n,)
        Points shown grey because their value is missing.
    categories : tuple of str
        Category names, top of the colour bar first; category ``categories[i]`` has code
        ``len(categories) - 1 - i`` (empty for continuous colouring).
    title : str
        The colour bar's title as given (before wrapping).
    """

    values: np.ndarray
    colorscale: list
    cmin: float
    cmax: float
    colorbar: dict
    missing: np.ndarray
    categories: tuple[str, ...] = field(default=())
    title: str = ""

    def marker(self) -> dict:
        return {
            "color": self.values,
            "colorscale": self.colorscale,
            "cmin": self.cmin,
            "cmax": self.cmax,
            "showscale": True,
            "colorbar": self.colorbar,
        }

    def code_of(self, category: str) -> int:
        """The ``marker.color`` value of a category."""
        return len(self.categories) - 1 - self.categories.index(category)

    def category_colors(self) -> list[str]:
        """The colour of each of ``categories`` (same order), for a legend drawn by hand."""
        codes = np.array([self.code_of(c) for c in self.categories], dtype=np.float64)
        return _sample_explicit_scale(self.colorscale, (codes - self.cmin) / (self.cmax - self.cmin))

    def point_colors(self) -> list[str]:
        """The colour each point is drawn with (for label contrast; fine for ~100 points)."""
        fractions = (np.asarray(self.values, dtype=np.float64) - self.cmin) / (self.cmax - self.cmin)
        return _sample_explicit_scale(self.colorscale, fractions)


def _sample_explicit_scale(scale: list, fractions: np.ndarray) -> list[str]:
    """Colour at each fraction of a step-or-smooth explicit scale (step edges: upper colour)."""
    stops = np.array([stop for stop, _ in scale], dtype=np.float64)
    rgb = th._rgb_array([color for _, color in scale])
    fractions = np.clip(np.asarray(fractions, dtype=np.float64), 0.0, 1.0)
    upper = np.clip(np.searchsorted(stops, fractions, side="right"), 1, len(stops) - 1)
    lower = upper - 1
    width = stops[upper] - stops[lower]
    t = np.divide(fractions - stops[lower], width, out=np.zeros_like(fractions), where=width > 0)
    mixed = rgb[lower] + (rgb[upper] - rgb[lower]) * t[:, None]
    return [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in np.round(mixed * 255)]


def nice_ticks(low: float, high: float, *, target: int = 5) -> np.ndarray:
    """About ``target`` round tick values (steps 1, 2, 2.5, 5 x 10^k) covering [low, high]."""
    span = high - low
    if not np.isfinite(span) or span <= 0:
        return np.array([low])
    magnitude = 10 ** math.floor(math.log10(span / target))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if span / step <= target + 1:
            break
    start = math.ceil(low / step - 1e-9) * step
    ticks = np.arange(start, high + step * 1e-6, step)
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return np.round(ticks, decimals)


def _format_tick(value: float) -> str:
    return f"{value:.6g}"


def resolve_colorscale(colorscale) -> list:
    """An explicit ``[[fraction, colour], ...]`` scale from a name or an explicit scale."""
    import plotly.colors

    if isinstance(colorscale, str):
        reverse = colorscale.endswith("_r")
        scale = plotly.colors.get_colorscale(colorscale[:-2] if reverse else colorscale)
        if reverse:
            scale = [[1 - stop, color] for stop, color in reversed(scale)]
    else:
        scale = [[float(stop), color] for stop, color in colorscale]
    # Hex and named-rgb colours only, so that shares can be computed (label contrast, tests).
    return [[stop, _as_rgb_string(color)] for stop, color in scale]


def _as_rgb_string(color: str) -> str:
    import plotly.colors

    text = str(color).strip()
    if text.startswith("#"):
        return "rgb({},{},{})".format(*plotly.colors.hex_to_rgb(text))
    if text.startswith(("rgb(", "rgba(")):
        return text
    raise ValueError(f"colour scale entry {color!r} must be '#rrggbb' or 'rgb(r, g, b)'")


def continuous_colors(
    values,
    *,
    title: str,
    theme: str,
    clip: tuple[float, float] | None = None,
    colorscale=None,
    dtype=np.float32,
    missing_band: float = MISSING_BAND,
) -> ColorSpec:
    """Continuous colouring, clipped to ``clip`` (default: the finite data range), NaN grey.

    Tick labels at a clip bound read "≤ low" / "≥ high" when data lie beyond it, so a capped
    colour bar (energy above hull capped at 0.5 eV/atom) says so. ``missing_band`` is the
    share of the colour bar given to the grey "no data" band (when values are missing); a
    short horizontal bar needs a wider share for its "no data" label.
    """
    if not 0 < missing_band < 0.5:
        raise ValueError(f"missing_band must be between 0 and 0.5, got {missing_band}")
    data = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(data)
    finite = data[~missing]
    if clip is None:
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    else:
        low, high = (float(clip[0]), float(clip[1]))
        if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
            raise ValueError(f"clip must be two finite numbers (low, high) with low < high, got {clip!r}")
    if high <= low:  # a single distinct value: give the scale some width
        low, high = low - 0.5, high + 0.5
    scale = resolve_colorscale(th.SEQUENTIAL_SCALE if colorscale is None else colorscale)
    ticks = nice_ticks(low, high)
    ticks = ticks[(ticks >= low - 1e-12) & (ticks <= high + 1e-12)]
    labels = [_format_tick(t) for t in ticks]
    if finite.size and ticks.size:
        if finite.max() > high and math.isclose(ticks[-1], high, rel_tol=1e-9, abs_tol=1e-12):
            labels[-1] = f"≥ {labels[-1]}"
        if finite.min() < low and math.isclose(ticks[0], low, rel_tol=1e-9, abs_tol=1e-12):
            labels[0] = f"≤ {labels[0]}"
    shown = np.clip(data, low, high)
    cmin = low
    tickvals, ticktext = list(ticks), labels
    if missing.any():
        # The continuous part keeps [low, high]; the band below it is grey.
        pad = (high - low) * missing_band / (1 - missing_band)
        cmin = low - pad
        sentinel = low - pad / 2
        shown = np.where(missing, sentinel, shown)
        # The grey band ends just below the data's lowest value, so that value is never grey.
        scale = [[0.0, th.nan_color(theme)], [missing_band - 1e-6, th.nan_color(theme)]] + [
            [missing_band + (1 - missing_band) * stop, color] for stop, color in scale
        ]
        tickvals = [sentinel, *tickvals]
        ticktext = [MISSING_LABEL, *ticktext]
    top_tick = bool(ticks.size) and math.isclose(ticks[-1], high, rel_tol=1e-9, abs_tol=1e-12)
    colorbar = th.colorbar(title, theme, top_tick=top_tick, tickmode="array", tickvals=tickvals, ticktext=ticktext)
    return ColorSpec(
        values=shown.astype(dtype),
        colorscale=scale,
        cmin=cmin,
        cmax=high,
        colorbar=colorbar,
        missing=missing,
        title=title,
    )


def categorical_colors(
    labels,
    *,
    title: str,
    theme: str,
    colors: dict[str, str] | None = None,
    order=None,
    max_categories: int = MAX_CATEGORIES,
) -> ColorSpec:
    """Colour by category with a step colour scale; the colour bar's ticks name the categories.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Category of each point; None/NaN are missing (grey, "no data").
    colors : dict, optional
        Fixed colour per category (e.g. ``CATEGORY_COLORS``); others come from
        ``CATEGORICAL_PALETTE``.
    order : sequence, optional
        Category order on the colour bar; default: ``colors``' order, then by frequency.
    max_categories : int
        Beyond this many distinct values the rarest are pooled into "other" (a colour bar
        cannot name thousands of chemical systems legibly).
    """
    series = pd.Series(labels, copy=False)
    missing = series.isna().to_numpy()
    text = series.astype(str).where(~missing, None)
    if order is None:
        fixed_order = [c for c in (colors or {})]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            # Counts such as n_elements read best in numeric order.
            numeric_order = np.sort(pd.unique(series[~missing].to_numpy()))
            counts_order = [str(v) for v in numeric_order]
        else:
            counts_order = list(text[~missing].value_counts(sort=True).index)
        known = [c for c in fixed_order if c in set(counts_order)]
        order = known + [c for c in counts_order if c not in set(known)]
    else:
        order = [str(c) for c in order]
        unknown = pd.Index(pd.unique(text[~missing])).difference(order)
        if len(unknown):
            raise ValueError(f"{title}: values {list(unknown[:5])} are not in the given category order")
    order = list(order)
    pooled = False
    if len(order) > max_categories:
        order, pooled = order[: max_categories - 1], True
    codes = pd.Categorical(text, categories=order).codes.astype(np.int16)
    if pooled:
        other = (codes < 0) & ~missing
        codes = np.where(other, len(order), codes).astype(np.int16)
        order = [*order, OTHER_LABEL]
    palette = iter(c for c in th.CATEGORICAL_PALETTE if c not in set((colors or {}).values()))
    fixed = colors or {}
    category_colors = []
    for name in order:
        if name in fixed:
            category_colors.append(fixed[name])
        elif name == OTHER_LABEL and pooled:
            category_colors.append(th.palette(theme)["muted"])
        else:
            category_colors.append(next(palette, th.palette(theme)["muted"]))
    names = list(order)
    if missing.any():
        codes = np.where(missing, len(names), codes).astype(np.int16)
        names.append(MISSING_LABEL)
        category_colors.append(th.nan_color(theme))
    k = len(names)
    # Colour bars run bottom-up: reversed codes list the first category at the top, like a legend.
    codes = (k - 1 - codes).astype(np.int16)
    colorbar = th.colorbar(
        title,
        theme,
        tickmode="array",
        tickvals=list(range(k - 1, -1, -1)),
        ticktext=names,
        lenmode="pixels",
        len=CATEGORY_BAR_PX * k,
        y=1.0,
        yanchor="top",
    )
    return ColorSpec(
        values=codes,
        colorscale=[[stop, _as_rgb_string(color)] for stop, color in th.discrete_colorscale(category_colors[::-1])],
        cmin=-0.5,
        cmax=k - 0.5,
        colorbar=colorbar,
        missing=missing,
        categories=tuple(names),
        title=title,
    )
