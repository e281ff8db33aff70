"""The periodic table's legend: where it goes and how it is drawn, all in pixels.

The tiles are sized from the figure's width, so the legend must not take width from them:

- standard layout: inside the empty block above the transition metals, as printed periodic
  tables do (``"gap"``);
- learned layouts: to the right of the tiles (``"right"``) or below them (``"below"``),
  whichever leaves the larger tiles within the figure's height limit.

Categories get a key drawn by hand (a swatch and a label per category: layout shapes and
annotations, vector in every export); statistics get plotly's colour bar, horizontal in the
gap or below the tiles, vertical on the right.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import plotly.graph_objects as go

from dashboard import theme as th

#: Outer margin of the figure, in px.
EDGE_PX = 12
#: Space between the tiles and a legend beside or below them, in px.
LEGEND_PAD_PX = 16
#: Key font sizes tried in order where space is scarce (the gap of the standard table).
KEY_FONT_SIZES = (th.TICK_FONT_SIZE, 15, 14)
#: Height of one key row relative to its font size.
ROW_FACTOR = 1.45
#: Character widths (in em) of Arial/Liberation Sans, the metric family the UI fonts fall back
#: to; other characters count as 0.56 em. Estimates get SAFETY on top (Inter is a little wider).
_NARROW = dict.fromkeys("ijl.,;:!|'()[] ", 0.28) | dict.fromkeys("ftrI-", 0.34) | dict.fromkeys("mwMW%", 0.86)
_UPPER_EM = 0.68
SAFETY = 1.05
COLORBAR_THICKNESS = 16
#: Longest horizontal colour bar, in px.
MAX_BAR_PX = 440
#: Length of the grey "no data" band of a horizontal / vertical colour bar, in px (room for its label).
MISSING_BAND_PX = 84
VERTICAL_MISSING_BAND_PX = 30

_TAG = re.compile(r"<[^>]+>")


def text_px(text: str, size: float) -> float:
    """Estimated width of ``text`` (HTML tags ignored) at font ``size``, in px (a little generous)."""
    plain = _TAG.sub("", str(text)).replace("&nbsp;", " ")
    ems = sum(_NARROW.get(c, _UPPER_EM if c.isupper() else 0.56) for c in plain)
    return ems * size * SAFETY


@dataclass(frozen=True)
class Legend:
    """Size and arrangement of a legend.

    Attributes
    ----------
    placement : {"gap", "right", "below"}
    width, height : float
        Outer size in px (``width`` matters on the right, ``height`` below).
    font : int
        Font size of the key labels and tick labels.
    n_cols : int
        Columns of a categorical key (1 for colour bars).
    row : float
        Height of a key row in px.
    show_title : bool
        False when the gap is too small for a title row (the key is then self-explanatory).
    bar_inset : tuple of float
        Horizontal colour bar: room left at its (left, right) end for the end tick labels,
        which are centred on the bar's ends and would otherwise stick out of the box.
    """

    placement: str
    width: float
    height: float
    font: int = th.TICK_FONT_SIZE
    n_cols: int = 1
    row: float = 0.0
    show_title: bool = True
    bar_inset: tuple[float, float] = (0.0, 0.0)

    @property
    def title_row(self) -> float:
        return self.row if self.show_title else 0.0


def _swatch(font: float) -> float:
    return round(font * 0.95)


#: Space between two columns of a key, in px.
COLUMN_GAP_PX = 14


def _column_px(labels, font: float) -> float:
    """Width of a key column (swatch, label and the gap to the next column), in px."""
    return _swatch(font) + 7 + max(text_px(label, font) for label in labels) + COLUMN_GAP_PX


def key_legend(labels, title: str, *, placement: str, width: float, height: float | None = None) -> Legend | None:
    """A categorical key within ``width`` (and ``height`` if given), or None if it cannot fit.

    ``right``: one column. ``below`` and ``gap``: as many columns as fit the width, filled
    top to bottom. In the gap (a fixed ``height``) the font shrinks to 14 px at most, and the
    title row is left out before that. The returned size is the key's own block.
    """
    fonts = KEY_FONT_SIZES if height is not None else KEY_FONT_SIZES[:1]
    for font in fonts:
        row = font * ROW_FACTOR
        column = _column_px(labels, font)
        if placement == "right":
            block = max(column - COLUMN_GAP_PX, text_px(f"<b>{title}</b>", font) * 1.1)
            return Legend("right", block, row * (len(labels) + 1), font, 1, row)
        if column - COLUMN_GAP_PX > width:
            continue
        n_cols = max(1, min(len(labels), int((width + COLUMN_GAP_PX) // column)))
        n_rows = math.ceil(len(labels) / n_cols)
        block = n_cols * column - COLUMN_GAP_PX
        if height is None:
            return Legend(placement, block, row * (n_rows + 1), font, n_cols, row)
        for show_title in (True, False):
            rows = n_rows + (1 if show_title else 0)
            fitted = min(row, height / rows)
            if fitted >= font * 1.2:
                return Legend(placement, block, fitted * rows, font, n_cols, fitted, show_title)
    return None


def colorbar_legend(title: str, ticktext, *, placement: str, width: float = 0.0, height: float | None = None) -> Legend | None:
    """A colour bar's block: vertical on the right; horizontal below or in the gap, at most
    ``MAX_BAR_PX`` long, or None when the gap is too low for it."""
    font = th.TICK_FONT_SIZE
    if placement == "right":
        title_width = max(text_px(line, th.FONT_SIZE) for line in th.wrap_title(title).split("<br>"))
        ticks_width = max((text_px(t, font) for t in ticktext), default=0.0)
        return Legend("right", max(title_width, COLORBAR_THICKNESS + 8 + ticks_width), 0.0, font)
    needed = th.FONT_SIZE * 1.5 + 6 + COLORBAR_THICKNESS + 6 + font * 1.4
    if height is not None and needed > height:
        return None
    ticks = [str(t) for t in ticktext] or [""]
    # The first tick label is the grey band's "no data" (centred inside the band) or a value at the end.
    left = 0.0 if ticks[0] == "no data" else text_px(ticks[0], font) / 2 + 2
    right = text_px(ticks[-1], font) / 2 + 2
    total = min(width, MAX_BAR_PX + left + right)
    return Legend(placement, total, needed, font, bar_inset=(left, right))


@dataclass(frozen=True)
class Plot:
    """Where the plot area sits in the figure, to turn pixels into paper coordinates."""

    left: float
    top: float
    width: float
    height: float

    def paper_x(self, px: float) -> float:
        return (px - self.left) / self.width

    def paper_y(self, py: float) -> float:
        """``py`` counts from the top of the figure; paper y from the bottom of the plot."""
        return 1.0 - (py - self.top) / self.height


def draw_key(fig: go.Figure, legend: Legend, plot: Plot, *, x0: float, y0: float, labels, colors, title: str, theme: str) -> None:
    """Swatches and labels of a categorical key whose top-left corner is at (x0, y0) px."""
    palette = th.palette(theme)
    font = legend.font
    swatch = _swatch(font)
    column = _column_px(labels, font)
    n_rows = math.ceil(len(labels) / legend.n_cols)
    if legend.show_title:
        fig.add_annotation(
            x=plot.paper_x(x0), y=plot.paper_y(y0 + legend.row / 2), xref="paper", yref="paper",
            text=f"<b>{title}</b>", showarrow=False, xanchor="left", yanchor="middle",
            font={"size": font, "color": palette["text"]},
        )  # fmt: skip
    top = y0 + legend.title_row
    for index, (label, color) in enumerate(zip(labels, colors)):
        row, col = index % n_rows, index // n_rows  # fill columns top to bottom, like reading a list
        left = x0 + col * column
        middle = top + (row + 0.5) * legend.row
        fig.add_shape(
            type="rect", xref="paper", yref="paper", layer="above",
            x0=plot.paper_x(left), x1=plot.paper_x(left + swatch),
            y0=plot.paper_y(middle - swatch / 2), y1=plot.paper_y(middle + swatch / 2),
            fillcolor=color, line={"width": 1, "color": palette["muted"]},
        )  # fmt: skip
        fig.add_annotation(
            x=plot.paper_x(left + swatch + 7), y=plot.paper_y(middle), xref="paper", yref="paper",
            text=str(label), showarrow=False, xanchor="left", yanchor="middle",
            font={"size": font, "color": palette["text"]},
        )  # fmt: skip


def colorbar_settings(legend: Legend, plot: Plot, *, x0: float, y0: float, title: str, theme: str, top_tick: bool) -> dict:
    """``marker.colorbar`` updates that put the colour bar in the legend's box (top-left at x0, y0 px)."""
    palette = th.palette(theme)
    if legend.placement == "right":
        return {
            "orientation": "v",
            "x": plot.paper_x(x0),
            "xanchor": "left",
            "xpad": 0,
            "y": 1.0,
            "yanchor": "top",
            "ypad": 0,
            "lenmode": "pixels",
            "len": bar_length(legend, plot.height),
            "thickness": COLORBAR_THICKNESS,
            "title": {"text": th.wrap_title(title) + (th.TITLE_SPACER if top_tick else ""), "side": "top"},
        }
    return {
        "orientation": "h",
        "x": plot.paper_x(x0 + legend.bar_inset[0]),
        "xanchor": "left",
        "xpad": 0,
        "y": plot.paper_y(y0),
        "yanchor": "top",
        "ypad": 0,
        "lenmode": "pixels",
        "len": bar_length(legend, plot.height),
        "thickness": COLORBAR_THICKNESS,
        "tickangle": 0,  # close ticks (0 and 1 on a log count scale) must not tilt every label
        "title": {"text": title, "side": "top", "font": {"size": th.FONT_SIZE, "color": palette["text"]}},
    }


def bar_length(legend: Legend, plot_height: float) -> float:
    """Length of the colour bar, in px."""
    if legend.placement == "right":
        return max(160.0, min(plot_height - 70.0, 360.0))
    return legend.width - sum(legend.bar_inset)


def missing_band_share(legend: Legend, plot_height: float) -> float:
    """Share of the colour bar its grey "no data" band needs for a legible label."""
    band = MISSING_BAND_PX if legend.placement != "right" else VERTICAL_MISSING_BAND_PX
    return min(0.4, band / bar_length(legend, plot_height))
