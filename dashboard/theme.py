"""Look of every figure: plotly templates, fonts sized for a projector, and colour maps.

Importing this module registers two plotly templates, ``"chemmap-light"`` and
``"chemmap-dark"`` (see ``TEMPLATES``); figure builders take ``theme="light"|"dark"`` and
call :func:`template_name`.

Colour choices
--------------
- Element categories and blocks: hues from the Okabe-Ito palette (distinguishable with the
  common colour-vision deficiencies), lightened where needed so that the tile labels stay
  legible; label colour is picked per tile from the tile's luminance (:func:`text_colors`).
- Continuous statistics: ``SEQUENTIAL_SCALE`` (viridis: perceptually uniform and
  colour-blind safe).
- Energy above the convex hull: the paper's colouring, capped at ``E_HULL_CAP`` = 0.5 eV/atom,
  reversed red-yellow-green (0 = green = stable, 0.5 = red). Red-green is not colour-blind
  safe; it is kept because it is the paper's convention, and callers may pass another scale.
"""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from fingerprints.elements import CATEGORIES

#: Font stack: metric-compatible fallbacks that exist on Linux (Liberation, DejaVu), so a
#: figure exported on a server looks like the one in the browser.
FONT_FAMILY = (
    "Inter, 'Source Sans 3', 'Segoe UI', 'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
)

#: Sizes in px, legible from the back of a lecture room on a projector.
FONT_SIZE = 18
TITLE_FONT_SIZE = 24
TICK_FONT_SIZE = 16
HOVER_FONT_SIZE = 16

#: The eight Okabe-Ito colours (Okabe & Ito 2008), black moved to the end.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999", "#000000")

#: Colours for any categorical column: Okabe-Ito, then lighter companions when there are more
#: than eight categories (beyond that no palette stays colour-blind safe).
CATEGORICAL_PALETTE: tuple[str, ...] = OKABE_ITO[:8] + (
    "#8FD3F5",  # light sky blue
    "#F5C266",  # light orange
    "#66C2A5",  # light green
    "#E7A6C8",  # light pink
    "#7FA8D6",  # light blue
    "#F09A66",  # light vermilion
    "#C9C27A",  # olive
    "#B3B3B3",  # light grey
)

#: Element category -> colour. Keys are exactly ``fingerprints.elements.CATEGORIES``.
CATEGORY_COLORS: dict[str, str] = {
    "alkali metal": "#E69F00",
    "alkaline earth metal": "#F0E442",
    "transition metal": "#56B4E9",
    "lanthanide": "#CC79A7",
    "actinide": "#E7A6C8",
    "post-transition metal": "#8FD3C0",
    "metalloid": "#009E73",
    "nonmetal": "#A3D977",
    "halogen": "#F09A66",
    "noble gas": "#A99BDB",
}
assert tuple(CATEGORY_COLORS) == CATEGORIES, "CATEGORY_COLORS must follow fingerprints.elements.CATEGORIES"

#: Periodic-table block -> colour (Okabe-Ito).
BLOCK_COLORS: dict[str, str] = {"s": "#E69F00", "p": "#56B4E9", "d": "#009E73", "f": "#CC79A7"}

#: Colour-blind-safe sequential scale for numeric statistics.
SEQUENTIAL_SCALE = "Viridis"

#: The paper caps the energy above hull at 0.5 eV/atom.
E_HULL_CAP = 0.5
#: Reversed red-yellow-green (ColorBrewer RdYlGn): green at 0 (stable), red at the cap.
E_HULL_SCALE: list[list] = [[i / 10, color] for i, color in enumerate(reversed(plotly.colors.diverging.RdYlGn))]

#: Property units for colour-bar titles and hover labels (the built-in datasets' columns).
UNITS: dict[str, str] = {
    "band_gap": "eV",
    "e_above_hull": "eV/atom",
    "e_form": "eV/atom",
    "magnetization": "μB",
    "volume_per_atom": "Å³/atom",
    "energy_per_atom": "eV/atom",
}

#: Human labels for known columns.
LABELS: dict[str, str] = {
    "band_gap": "Band gap",
    "e_above_hull": "Energy above hull",
    "e_form": "Formation energy",
    "magnetization": "Magnetisation",
    "n_elements": "Number of elements",
    "group": "Group",
    "period": "Period",
    "volume_per_atom": "Volume per atom",
    "energy_per_atom": "Energy per atom",
    "elements": "Elements",
    "n_polymorphs": "Polymorphs",
    "magnetic": "Magnetism",
}

_PALETTE = {
    "light": {
        "paper": "#FFFFFF",
        "plot": "#FFFFFF",
        "text": "#1A1A1A",
        "muted": "#6B6B6B",
        "grid": "#E3E3E3",
        "nan": "#C8C8C8",
        "outline": "#000000",
        "hover_bg": "#FFFFFF",
    },
    "dark": {
        "paper": "#15171A",
        "plot": "#15171A",
        "text": "#EDEDED",
        "muted": "#A0A0A0",
        "grid": "#33363B",
        "nan": "#5A5A5A",
        "outline": "#FFFFFF",
        "hover_bg": "#24272C",
    },
}

THEMES = tuple(_PALETTE)
TEMPLATES = {theme: f"chemmap-{theme}" for theme in THEMES}


def check_theme(theme: str) -> str:
    if theme not in _PALETTE:
        raise ValueError(f"theme must be one of {THEMES}, got {theme!r}")
    return theme


def palette(theme: str) -> dict[str, str]:
    """Named colours of a theme: paper, plot, text, muted, grid, nan, outline, hover_bg."""
    return dict(_PALETTE[check_theme(theme)])


def template_name(theme: str) -> str:
    """Registered plotly template name for ``theme`` ("light" or "dark")."""
    return TEMPLATES[check_theme(theme)]


def nan_color(theme: str) -> str:
    """Grey used for missing values and elements without data."""
    return _PALETTE[check_theme(theme)]["nan"]


def _axis(colors: dict[str, str]) -> dict:
    return {
        "gridcolor": colors["grid"],
        "linecolor": colors["muted"],
        "zerolinecolor": colors["grid"],
        "tickfont": {"size": TICK_FONT_SIZE},
        "title": {"font": {"size": FONT_SIZE}, "standoff": 12},
        "automargin": True,
        "showline": True,
        "ticks": "outside",
        "tickcolor": colors["muted"],
    }


def _build_template(theme: str) -> go.layout.Template:
    colors = _PALETTE[theme]
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": colors["text"]},
            "title": {"font": {"size": TITLE_FONT_SIZE}, "x": 0.02, "xanchor": "left"},
            "paper_bgcolor": colors["paper"],
            "plot_bgcolor": colors["plot"],
            "colorway": list(OKABE_ITO),
            "colorscale": {"sequential": SEQUENTIAL_SCALE},
            "xaxis": _axis(colors),
            "yaxis": _axis(colors),
            "hoverlabel": {
                "font": {"family": FONT_FAMILY, "size": HOVER_FONT_SIZE, "color": colors["text"]},
                "bgcolor": colors["hover_bg"],
                "bordercolor": colors["muted"],
                "align": "left",
            },
            "legend": {"font": {"size": FONT_SIZE}, "bgcolor": "rgba(0,0,0,0)"},
            "coloraxis": {"colorbar": {"tickfont": {"size": TICK_FONT_SIZE}, "outlinewidth": 0}},
            "margin": {"l": 60, "r": 30, "t": 60, "b": 60},
            "hovermode": "closest",
        }
    )


def register_templates() -> None:
    """(Re)register the chemmap templates with plotly; done on import."""
    for theme in THEMES:
        pio.templates[TEMPLATES[theme]] = _build_template(theme)


register_templates()


#: Colour-bar titles longer than this break before their unit: "Energy above hull<br>(eV/atom)".
COLORBAR_TITLE_CHARS = 16
#: An empty line under a colour-bar title keeps a tick label at the very top of the bar
#: (the "≥ 0.5" of a clipped scale) from overlapping the title.
TITLE_SPACER = "<br><span style='font-size:6px'>&nbsp;</span>"


def wrap_title(title: str, *, width: int = COLORBAR_TITLE_CHARS) -> str:
    """Break a long "Label (unit)" title before the unit, so a vertical colour bar stays narrow."""
    if len(title) <= width or "<br>" in title:
        return title
    cut = title.rfind(" (")
    return f"{title[:cut]}<br>{title[cut + 1:]}" if cut > 0 else title


def colorbar(title: str, theme: str, *, top_tick: bool = False, **extra) -> dict:
    """Colour-bar settings shared by every figure (legible ticks, title on top).

    Parameters
    ----------
    title : str
        Long titles are wrapped before their unit (:func:`wrap_title`).
    top_tick : bool, keyword-only
        A tick label sits at the very top of the bar (a clipped scale's "≥ high"): the title
        gets an empty line below it so the two do not overlap.
    **extra
        Further ``marker.colorbar`` settings (override the defaults).
    """
    colors = palette(theme)
    text = wrap_title(title) + (TITLE_SPACER if top_tick else "")
    return {
        "title": {"text": text, "side": "top", "font": {"size": FONT_SIZE, "color": colors["text"]}},
        "tickfont": {"size": TICK_FONT_SIZE, "color": colors["text"]},
        "outlinewidth": 0,
        "thickness": 18,
        "len": 0.9,
        **extra,
    }


def discrete_colorscale(colors) -> list[list]:
    """Step colour scale for integer codes 0..k-1 with ``cmin=-0.5, cmax=k-0.5``.

    One trace can then show k categories with a colour bar whose ticks name them, instead
    of k traces (which break in-place updates of the marker arrays).
    """
    colors = list(colors)
    k = len(colors)
    if k == 0:
        raise ValueError("discrete_colorscale needs at least one colour")
    if k == 1:
        return [[0.0, colors[0]], [1.0, colors[0]]]
    scale = []
    for i, color in enumerate(colors):
        scale.append([i / k, color])
        scale.append([(i + 1) / k, color])
    return scale


def _rgb_array(colors) -> np.ndarray:
    """(n, 3) floats 0..1 from hex ("#rrggbb") or "rgb(r, g, b)" strings."""
    rgb = []
    for color in colors:
        text = str(color).strip()
        if text.startswith("#") and len(text) == 7:
            rgb.append(plotly.colors.hex_to_rgb(text))
        elif text.startswith(("rgb(", "rgba(")):
            rgb.append([float(part) for part in text[text.index("(") + 1 : -1].split(",")[:3]])
        else:
            raise ValueError(f"colour {color!r} is not '#rrggbb' or 'rgb(r, g, b)'")
    return np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0


def relative_luminance(colors) -> np.ndarray:
    """WCAG relative luminance (0 black .. 1 white) of each colour string."""
    rgb = _rgb_array(colors)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def text_colors(background_colors, *, dark: str = "#111111", light: str = "#FFFFFF") -> list[str]:
    """Label colour with the better WCAG contrast on each background colour."""
    luminance = relative_luminance(background_colors)
    contrast_with_dark = (luminance + 0.05) / (relative_luminance([dark])[0] + 0.05)
    contrast_with_light = (relative_luminance([light])[0] + 0.05) / (luminance + 0.05)
    return np.where(contrast_with_dark >= contrast_with_light, dark, light).tolist()


def sample_scale(colorscale, fractions) -> list[str]:
    """Colours of a (named or explicit) plotly colour scale at fractions in [0, 1]."""
    scale = plotly.colors.get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    fractions = np.clip(np.asarray(fractions, dtype=np.float64), 0.0, 1.0)
    return plotly.colors.sample_colorscale(scale, fractions.tolist(), colortype="rgb")


def label_with_unit(column: str, units: dict[str, str] | None = None) -> str:
    """ "Band gap (eV)" for a known column, the column name itself otherwise."""
    units = UNITS if units is None else {**UNITS, **units}
    label = LABELS.get(column, column)
    unit = units.get(column)
    return f"{label} ({unit})" if unit else label
