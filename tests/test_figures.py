"""Figure builders: tiles and positions, colours, hover, and the materials map's arrays and speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from dashboard import theme as th
from dashboard.figures import (
    add_overlay,
    cosine_heatmap_figure,
    element_frame,
    materials_map_figure,
    periodic_table_figure,
    similarity_bar_figure,
    tile_positions,
    top_similar,
)
from dashboard.figures.materials_map import FADED_OPACITY
from dashboard.figures._table_legend import text_px
from dashboard.figures.periodic_table import ACTINIDE_ROW, LANTHANIDE_ROW, NO_DATA_LABEL
from fingerprints.elements import CATEGORIES, SYMBOL_TO_INDEX, SYMBOLS, element_table

NO_DATA = ("At", "Rn", "Fr")


def rgb(color: str) -> tuple[int, int, int]:
    if color.startswith("#"):
        return plotly.colors.hex_to_rgb(color)
    return tuple(int(float(v)) for v in color[color.index("(") + 1 : -1].split(",")[:3])


def step_color(marker, code: int) -> tuple[int, int, int]:
    """Colour of integer code ``code`` on a step colour scale with cmin = -0.5."""
    return rgb(marker.colorscale[2 * int(code)][1])


def is_grey(marker, value: float, theme: str = "light") -> bool:
    """True when ``value`` falls in the grey missing-value band of the marker's colour scale."""
    fraction = (value - marker.cmin) / (marker.cmax - marker.cmin)
    grey = rgb(th.nan_color(theme))
    band = [stop for stop, color in marker.colorscale if rgb(color) == grey]
    return bool(band) and 0 <= fraction <= max(band)


@pytest.fixture(scope="module")
def elements() -> pd.DataFrame:
    """98 elements with a learned map: a ring of positions, a grid, and three without data."""
    map_elements = pd.DataFrame({"symbol": list(SYMBOLS)})
    angle = np.linspace(0, 2 * np.pi, 98, endpoint=False)
    map_elements["x"] = 10 + 4 * np.cos(angle)
    map_elements["y"] = -3 + 2 * np.sin(angle)
    map_elements["has_data"] = ~map_elements["symbol"].isin(NO_DATA)
    map_elements.loc[~map_elements["has_data"], ["x", "y"]] = np.nan
    index = np.arange(98)
    map_elements["grid_col"] = (index % 14).astype(float)
    map_elements["grid_row"] = (index // 14).astype(float)
    map_elements.loc[~map_elements["has_data"], ["grid_col", "grid_row"]] = np.nan
    return element_frame(map_elements.sample(frac=1, random_state=3))  # input order must not matter


def tile_xy(fig: go.Figure, symbol: str) -> tuple[float, float]:
    trace = fig.data[0]
    i = list(trace.customdata).index(symbol)
    return float(trace.x[i]), float(trace.y[i])


# --- theme -------------------------------------------------------------------------------


def test_templates_are_registered_and_legible():
    for theme in ("light", "dark"):
        template = pio.templates[th.template_name(theme)]
        assert template.layout.font.size >= 16
        assert "sans-serif" in template.layout.font.family
    assert pio.templates["chemmap-dark"].layout.paper_bgcolor != pio.templates["chemmap-light"].layout.paper_bgcolor
    with pytest.raises(ValueError, match="theme must be one of"):
        th.template_name("neon")


def test_energy_above_hull_scale_runs_green_to_red():
    first, last = rgb(th.E_HULL_SCALE[0][1]), rgb(th.E_HULL_SCALE[-1][1])
    assert first[1] > first[0]  # green at 0 eV (stable)
    assert last[0] > last[1]  # red at the cap
    assert th.E_HULL_CAP == 0.5


def test_label_contrast_picks_dark_text_on_light_tiles():
    assert th.text_colors(["#FFFFFF", "#000000", "#F0E442", "#0072B2"]) == ["#111111", "#FFFFFF", "#111111", "#FFFFFF"]


# --- periodic table ----------------------------------------------------------------------


def test_element_frame_merges_the_map_in_z_order(elements):
    assert len(elements) == 98
    assert list(elements["symbol"]) == list(SYMBOLS)
    assert elements.loc[elements["symbol"] == "Fe", "group"].item() == 8
    assert not elements.loc[elements["symbol"] == "At", "has_data"].item()
    with pytest.raises(ValueError, match="unknown element symbols"):
        element_frame(pd.DataFrame({"symbol": ["Fe", "Xx"], "x": [0, 1]}))


@pytest.mark.parametrize("layout", ["standard", "learned", "grid"])
def test_one_trace_with_98_square_tiles_in_z_order(elements, layout):
    fig = periodic_table_figure(elements, layout=layout)
    assert len(fig.data) == 1
    trace = fig.data[0]
    assert isinstance(trace, go.Scatter) and trace.mode == "markers+text"
    assert trace.marker.symbol == "square"
    assert list(trace.customdata) == list(SYMBOLS)
    assert len(trace.x) == len(trace.y) == len(trace.text) == 98
    assert np.isfinite(np.asarray(trace.x, dtype=float)).all() and np.isfinite(np.asarray(trace.y, dtype=float)).all()
    assert "<b>Fe</b>" in trace.text[SYMBOL_TO_INDEX["Fe"]] and ">26<" in trace.text[SYMBOL_TO_INDEX["Fe"]]
    positions = set(zip(np.round(trace.x, 6), np.round(trace.y, 6)))
    if layout != "learned":
        assert len(positions) == 98  # no two tiles share a cell
    x_low, x_high = fig.layout.xaxis.range
    y_bottom, y_top = fig.layout.yaxis.range
    assert x_low < min(trace.x) and max(trace.x) < x_high
    assert y_top < min(trace.y) and max(trace.y) < y_bottom  # reversed y axis frames all tiles
    assert fig.layout.transition.duration > 0


def test_standard_layout_positions(elements):
    fig = periodic_table_figure(elements, layout="standard")
    assert tile_xy(fig, "Fe") == (8.0, 4.0)
    assert tile_xy(fig, "H") == (1.0, 1.0)
    assert tile_xy(fig, "He") == (18.0, 1.0)
    assert tile_xy(fig, "Au") == (11.0, 6.0)
    # La and Ac stay in group 3 below Y; Ce-Lu and Th-Cf fill the two rows below, Ce under group 4.
    assert tile_xy(fig, "La") == (3.0, 6.0)
    assert tile_xy(fig, "Ac") == (3.0, 7.0)
    assert tile_xy(fig, "Ce") == (4.0, LANTHANIDE_ROW)
    assert tile_xy(fig, "Lu") == (17.0, LANTHANIDE_ROW)
    assert tile_xy(fig, "Th") == (4.0, ACTINIDE_ROW)
    assert tile_xy(fig, "Cf") == (12.0, ACTINIDE_ROW)
    assert tile_xy(fig, "Hf") == (4.0, 6.0)


def test_grid_layout_uses_grid_cells(elements):
    fig = periodic_table_figure(elements, layout="grid")
    fe = SYMBOL_TO_INDEX["Fe"]
    assert tile_xy(fig, "Fe") == (float(fe % 14), float(fe // 14))


def test_learned_layout_keeps_the_map_shape(elements):
    positions = tile_positions(elements, "learned")
    placed = positions.placed
    source = elements.loc[placed, ["x", "y"]].to_numpy()
    # Uniform scaling, x to the right, y flipped (rows grow downwards), longer side 15 tiles.
    scale = (positions.x[placed].max() - positions.x[placed].min()) / np.ptp(source[:, 0])
    np.testing.assert_allclose(positions.x[placed], (source[:, 0] - source[:, 0].min()) * scale, atol=1e-9)
    np.testing.assert_allclose(positions.y[placed], (source[:, 1].max() - source[:, 1]) * scale, atol=1e-9)
    assert np.ptp(positions.x[placed]) == pytest.approx(15.0)


@pytest.mark.parametrize("layout", ["learned", "grid"])
def test_elements_without_data_sit_greyed_in_a_labelled_row(elements, layout):
    fig = periodic_table_figure(elements, layout=layout)
    trace = fig.data[0]
    rows = {tile_xy(fig, s)[1] for s in NO_DATA}
    assert len(rows) == 1
    (row,) = rows
    placed_rows = [y for y, s in zip(trace.y, trace.customdata) if s not in NO_DATA]
    assert row > max(placed_rows)  # below the map
    labels = [a for a in fig.layout.annotations if a.text == NO_DATA_LABEL]
    assert len(labels) == 1 and max(placed_rows) < labels[0].y < row
    for symbol in NO_DATA:
        i = SYMBOL_TO_INDEX[symbol]
        assert step_color(trace.marker, trace.marker.color[i]) == rgb(th.nan_color("light"))
        assert "no substitution data" in trace.hovertext[i]
        assert trace.textfont.color[i] == th.palette("light")["muted"]


def test_no_data_elements_are_grey_in_the_standard_layout_too(elements):
    fig = periodic_table_figure(elements, layout="standard")
    trace = fig.data[0]
    assert tile_xy(fig, "At") == (17.0, 6.0)
    assert step_color(trace.marker, trace.marker.color[SYMBOL_TO_INDEX["At"]]) == rgb(th.nan_color("light"))


def test_category_and_block_colours(elements):
    fig = periodic_table_figure(elements, layout="standard", color_by="category")
    marker = fig.data[0].marker
    assert step_color(marker, marker.color[SYMBOL_TO_INDEX["Fe"]]) == rgb(th.CATEGORY_COLORS["transition metal"])
    assert step_color(marker, marker.color[SYMBOL_TO_INDEX["Na"]]) == rgb(th.CATEGORY_COLORS["alkali metal"])
    assert marker.colorbar.ticktext[0] == "alkali metal" and marker.colorbar.ticktext[-1] == "no data"
    fig = periodic_table_figure(elements, layout="standard", color_by="block")
    marker = fig.data[0].marker
    assert step_color(marker, marker.color[SYMBOL_TO_INDEX["Ce"]]) == rgb(th.BLOCK_COLORS["f"])
    assert step_color(marker, marker.color[SYMBOL_TO_INDEX["Si"]]) == rgb(th.BLOCK_COLORS["p"])


def test_numeric_statistic_colours_with_colour_bar_and_nan_grey(elements):
    counts = pd.Series({"Fe": 120.0, "O": 900.0, "Si": 300.0, "Cu": np.nan}, name="compounds")
    fig = periodic_table_figure(elements, layout="standard", values=counts)
    marker = fig.data[0].marker
    color = np.asarray(marker.color, dtype=float)
    assert marker.showscale and marker.colorbar.title.text == "compounds"
    assert color[SYMBOL_TO_INDEX["Fe"]] == 120 and color[SYMBOL_TO_INDEX["O"]] == 900
    assert marker.cmax == 900
    for symbol in ("Cu", "H", "At"):  # missing value, absent from the Series, no data
        assert is_grey(marker, color[SYMBOL_TO_INDEX[symbol]])
    for symbol in ("Fe", "O", "Si"):
        assert not is_grey(marker, color[SYMBOL_TO_INDEX[symbol]])
    assert "no data" in marker.colorbar.ticktext
    assert "compounds: 120" in fig.data[0].hovertext[SYMBOL_TO_INDEX["Fe"]]
    # A numeric column of the table works the same way, here the group.
    fig = periodic_table_figure(elements, layout="standard", color_by="group")
    assert np.asarray(fig.data[0].marker.color, dtype=float)[SYMBOL_TO_INDEX["Fe"]] == 8


def test_hover_names_the_element_and_its_most_similar(elements):
    similar = {"Fe": [("Co", 0.826), ("Ni", 0.8), ("Mn", 0.79), ("Cr", 0.7), ("Ru", 0.65), ("Os", 0.6)]}
    fig = periodic_table_figure(elements, layout="learned", similar=similar)
    hover = fig.data[0].hovertext[SYMBOL_TO_INDEX["Fe"]]
    for text in ("Iron", "Z = 26", "group 8", "d-block", "transition metal", "Co  0.826", "Ru  0.650"):
        assert text in hover
    assert "Os" not in hover  # top five only
    assert fig.data[0].hovertemplate == "%{hovertext}<extra></extra>"


def test_selected_elements_get_a_thick_outline(elements):
    fig = periodic_table_figure(elements, layout="standard", selected=["Fe", "O"])
    widths = np.asarray(fig.data[0].marker.line.width, dtype=float)
    assert widths[SYMBOL_TO_INDEX["Fe"]] >= 3 and widths[SYMBOL_TO_INDEX["O"]] >= 3
    assert widths[SYMBOL_TO_INDEX["Cu"]] == 1
    with pytest.raises(ValueError, match="selected elements"):
        periodic_table_figure(elements, selected=["Xx"])


def test_tiles_are_square_and_sized_from_the_figure(elements):
    fig = periodic_table_figure(elements, layout="standard", width=1200)
    margin = fig.layout.margin
    x_span = fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0]
    y_span = fig.layout.yaxis.range[0] - fig.layout.yaxis.range[1]
    px_per_x = (fig.layout.width - margin.l - margin.r) / x_span
    px_per_y = (fig.layout.height - margin.t - margin.b) / y_span
    assert px_per_x == pytest.approx(px_per_y, rel=0.01)
    assert fig.data[0].marker.size == pytest.approx(0.92 * px_per_x)


def _px(fig: go.Figure, paper_x: float, paper_y: float) -> tuple[float, float]:
    """Figure pixels (from the top-left corner) of a paper position."""
    m = fig.layout.margin
    plot_w, plot_h = fig.layout.width - m.l - m.r, fig.layout.height - m.t - m.b
    return m.l + paper_x * plot_w, m.t + (1 - paper_y) * plot_h


def _data_to_px(fig: go.Figure, x: float, y: float) -> tuple[float, float]:
    x0, x1 = fig.layout.xaxis.range
    y_bottom, y_top = fig.layout.yaxis.range
    return _px(fig, (x - x0) / (x1 - x0), (y_bottom - y) / (y_bottom - y_top))


def _key_boxes(fig: go.Figure) -> list[tuple[float, float, float, float]]:
    """Pixel boxes (left, top, right, bottom) of the hand-drawn key: swatches and labels."""
    boxes = []
    for shape in fig.layout.shapes:
        (left, top), (right, bottom) = _px(fig, shape.x0, shape.y1), _px(fig, shape.x1, shape.y0)
        boxes.append((left, top, right, bottom))
    for note in fig.layout.annotations:
        if note.xref != "paper":
            continue
        x, y = _px(fig, note.x, note.y)
        width = text_px(note.text, note.font.size)
        boxes.append((x, y - note.font.size * 0.6, x + width, y + note.font.size * 0.6))
    return boxes


def _tile_boxes(fig: go.Figure) -> list[tuple[float, float, float, float]]:
    trace = fig.data[0]
    half = trace.marker.size / 2
    return [(px - half, py - half, px + half, py + half) for px, py in (_data_to_px(fig, x, y) for x, y in zip(trace.x, trace.y))]


def _intersects(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("color_by", ["category", "block"])
def test_standard_table_key_sits_in_the_gap_above_the_transition_metals(elements, color_by, theme):
    fig = periodic_table_figure(elements, layout="standard", color_by=color_by, theme=theme, width=720)
    assert fig.layout.meta["legend"] == "gap"
    # The key takes no width from the tiles: 18 columns fill the figure's width.
    assert fig.layout.meta["tile_px"] >= 0.92 * (720 - 24) / 18 - 1e-6
    assert not fig.data[0].marker.showscale  # the key replaces the colour bar
    boxes = _key_boxes(fig)
    labels = {note.text for note in fig.layout.annotations if note.xref == "paper"}
    categories = list(CATEGORIES) + ["no data"] if color_by == "category" else ["s", "p", "d", "f", "no data"]
    assert set(categories) <= labels and len(fig.layout.shapes) == len(categories)
    (gap_left, gap_top), (gap_right, gap_bottom) = _data_to_px(fig, 2.5, 0.5), _data_to_px(fig, 12.5, 3.5)
    tiles = _tile_boxes(fig)
    for box in boxes:
        assert gap_left <= box[0] and box[2] <= gap_right and gap_top <= box[1] and box[3] <= gap_bottom, box
        assert not any(_intersects(box, tile) for tile in tiles)
    # Swatches have the colours of the tiles of their category.
    swatch = {note.text: shape.fillcolor for note, shape in zip([n for n in fig.layout.annotations if n.xref == "paper" and not n.text.startswith("<b>")], fig.layout.shapes)}
    trace = fig.data[0]
    fe_color = th.CATEGORY_COLORS["transition metal"] if color_by == "category" else th.BLOCK_COLORS["d"]
    assert rgb(swatch["transition metal" if color_by == "category" else "d"]) == rgb(fe_color)
    assert step_color(trace.marker, trace.marker.color[SYMBOL_TO_INDEX["Fe"]]) == rgb(fe_color)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_standard_table_colour_bar_is_horizontal_in_the_gap_and_inside_the_figure(elements, theme):
    counts = pd.Series({"Fe": 120.0, "O": 900.0, "Si": 300.0}, name="compounds")
    fig = periodic_table_figure(elements, layout="standard", values=counts, theme=theme, width=720)
    colorbar = fig.data[0].marker.colorbar
    assert fig.layout.meta["legend"] == "gap" and fig.data[0].marker.showscale
    assert colorbar.orientation == "h" and colorbar.lenmode == "pixels" and colorbar.tickangle == 0
    left, top = _px(fig, colorbar.x, colorbar.y)
    (gap_left, gap_top), (gap_right, gap_bottom) = _data_to_px(fig, 2.5, 0.5), _data_to_px(fig, 12.5, 3.5)
    assert gap_left <= left and left + colorbar.len <= gap_right and gap_top <= top <= gap_bottom
    assert fig.layout.meta["tile_px"] >= 0.92 * (720 - 24) / 18 - 1e-6
    # The grey "no data" band is long enough for its label on a horizontal bar.
    band = max(stop for stop, color in fig.data[0].marker.colorscale if rgb(color) == rgb(th.nan_color(theme)))
    assert band * colorbar.len >= text_px("no data", th.TICK_FONT_SIZE)


@pytest.mark.parametrize("layout", ["learned", "grid"])
@pytest.mark.parametrize("color_by", ["category", "group"])
def test_learned_layouts_put_the_legend_beside_or_below_within_the_figure(elements, layout, color_by):
    fig = periodic_table_figure(elements, layout=layout, color_by=color_by, width=720, max_height=700)
    placement = fig.layout.meta["legend"]
    assert placement in ("right", "below")
    assert fig.layout.height <= 700
    tiles = _tile_boxes(fig)
    plot_right = max(t[2] for t in tiles)
    plot_bottom = max(t[3] for t in tiles)
    if color_by == "category":
        boxes = _key_boxes(fig)
        for box in boxes:
            assert 0 <= box[0] and box[2] <= fig.layout.width and 0 <= box[1] and box[3] <= fig.layout.height, box
            assert not any(_intersects(box, tile) for tile in tiles)
            assert box[0] >= plot_right if placement == "right" else box[1] >= plot_bottom
    else:
        colorbar = fig.data[0].marker.colorbar
        left, top = _px(fig, colorbar.x, colorbar.y)
        if placement == "right":
            assert colorbar.orientation == "v" and left >= plot_right
        else:
            assert colorbar.orientation == "h" and top >= plot_bottom and left + colorbar.len <= fig.layout.width


def test_a_height_limit_shrinks_and_centres_the_tiles(elements):
    free = periodic_table_figure(elements, layout="grid", width=720)
    capped = periodic_table_figure(elements, layout="grid", width=720, max_height=400)
    assert capped.layout.height <= 400 < free.layout.height
    assert capped.layout.meta["tile_px"] < free.layout.meta["tile_px"]
    tiles = _tile_boxes(capped)
    left, right = min(t[0] for t in tiles), max(t[2] for t in tiles)
    key_right = max(b[2] for b in _key_boxes(capped)) if capped.layout.meta["legend"] == "right" else right
    assert left - 0 == pytest.approx(720 - key_right, abs=40)  # the block of tiles and key is centred
    with pytest.raises(ValueError, match="max_height"):
        periodic_table_figure(elements, layout="grid", max_height=20)


def _chebyshev_gaps(x, y) -> np.ndarray:
    xy = np.column_stack([x, y]).astype(float)
    gaps = np.abs(xy[:, None, :] - xy[None, :, :]).max(axis=-1)
    return gaps[np.triu_indices(len(xy), k=1)]


def _clustered_elements() -> pd.DataFrame:
    """A learned map where elements crowd in clusters (as UMAP element maps do)."""
    rng = np.random.default_rng(7)
    centres = rng.uniform(-5, 5, size=(6, 2))
    frame = pd.DataFrame({"symbol": list(SYMBOLS)})
    xy = centres[np.arange(98) % 6] + rng.normal(scale=0.35, size=(98, 2))
    frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
    frame["has_data"] = ~frame["symbol"].isin(NO_DATA)
    frame.loc[~frame["has_data"], ["x", "y"]] = np.nan
    return element_frame(frame)


@pytest.mark.parametrize("source", ["ring", "clusters"])
def test_learned_tiles_never_overlap_and_keep_their_neighbours(elements, source):
    from fingerprints.map_quality import knn_preservation

    frame = elements if source == "ring" else _clustered_elements()
    raw = tile_positions(frame, "learned")
    assert (_chebyshev_gaps(raw.x[raw.placed], raw.y[raw.placed]) < raw.tile_fraction).any()  # they did overlap
    fig = periodic_table_figure(frame, layout="learned", width=720)
    trace = fig.data[0]
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    # In figure coordinates a tile is tile_fraction units wide: centres at least that far apart.
    side = fig.layout.meta["tile_px"] / (_data_to_px(fig, 1, 0)[0] - _data_to_px(fig, 0, 0)[0])
    assert _chebyshev_gaps(x, y).min() >= side - 1e-9
    placed = frame["has_data"].to_numpy() & np.isfinite(frame[["x", "y"]].to_numpy(dtype=float)).all(axis=1)
    preserved = knn_preservation(frame.loc[placed, ["x", "y"]].to_numpy(dtype=float), np.column_stack([x, y])[placed], k=5, sample=None)
    print(f"{source}: 5-NN preserved {preserved:.3f}")
    assert preserved >= 0.55, preserved
    again = periodic_table_figure(frame, layout="learned", width=720)
    assert np.array_equal(np.asarray(again.data[0].x), x) and np.array_equal(np.asarray(again.data[0].y), y)  # deterministic


def test_overlap_removal_handles_coincident_and_separate_tiles():
    from dashboard.figures._overlap import overlapping_pairs, separate_squares

    xy = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.3, 0.1], [10.0, 10.0]])
    spread = separate_squares(xy, side=1.0)
    assert len(overlapping_pairs(spread, 1.0)) == 0
    assert np.array_equal(spread[4], xy[4])  # a lone tile stays where it was
    assert np.array_equal(separate_squares(xy, side=1.0), spread)
    with pytest.raises(ValueError, match="finite"):
        separate_squares(np.array([[0.0, np.nan], [1.0, 1.0]]))


def test_dark_theme_and_bad_inputs(elements):
    fig = periodic_table_figure(elements, layout="standard", theme="dark")
    assert fig.layout.template.layout.paper_bgcolor == th.palette("dark")["paper"]
    with pytest.raises(ValueError, match="layout must be one of"):
        periodic_table_figure(elements, layout="spiral")
    with pytest.raises(ValueError, match="color_by must be one of"):
        periodic_table_figure(elements, color_by="density")
    with pytest.raises(ValueError, match="needs columns"):
        periodic_table_figure(element_table(), layout="learned")
    # Without a map, the standard table still works: every element has data.
    fig = periodic_table_figure(element_table(), layout="standard")
    assert len(fig.data[0].x) == 98


# --- similarity --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cosines() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    vectors = rng.random((98, 98))
    for symbol in NO_DATA:
        vectors[SYMBOL_TO_INDEX[symbol]] = 0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    vectors[SYMBOL_TO_INDEX["Co"]] = 0.95 * vectors[SYMBOL_TO_INDEX["Fe"]] + 0.05 * vectors[SYMBOL_TO_INDEX["Co"]]
    vectors[SYMBOL_TO_INDEX["Co"]] /= np.linalg.norm(vectors[SYMBOL_TO_INDEX["Co"]])
    return pd.DataFrame(vectors @ vectors.T, index=list(SYMBOLS), columns=list(SYMBOLS))


def test_top_similar_ranks_and_skips_elements_without_data(cosines):
    similar = top_similar(cosines, top=5)
    assert similar["Fe"][0][0] == "Co"
    assert len(similar["Fe"]) == 5
    values = [c for _, c in similar["Fe"]]
    assert values == sorted(values, reverse=True)
    assert similar["At"] == []
    assert all(other not in NO_DATA for pairs in similar.values() for other, _ in pairs)
    assert all(other != symbol for symbol, pairs in similar.items() for other, _ in pairs)


def test_similarity_bars_are_ranked(cosines):
    fig = similarity_bar_figure(cosines, "Fe", top=15)
    bar = fig.data[0]
    assert bar.orientation == "h" and len(bar.x) == 15
    assert bar.y[-1] == "Co"  # most similar drawn on top
    assert list(bar.x) == sorted(bar.x)
    assert "Fe" not in bar.y and not set(NO_DATA) & set(bar.y)
    empty = similarity_bar_figure(cosines, "At")
    assert "no substitution data" in empty.layout.annotations[0].text
    with pytest.raises(ValueError, match="unknown element"):
        similarity_bar_figure(cosines, "Xx")


def test_heatmap_orders_and_blanks_elements_without_data(cosines):
    fig = cosine_heatmap_figure(cosines)
    heat = fig.data[0]
    assert list(heat.x) == list(SYMBOLS) and list(heat.y) == list(SYMBOLS)
    z = np.asarray(heat.z, dtype=float)
    at = SYMBOL_TO_INDEX["At"]
    assert np.isnan(z[at]).all() and np.isnan(z[:, at]).all()
    assert z[SYMBOL_TO_INDEX["Fe"], SYMBOL_TO_INDEX["Co"]] == pytest.approx(cosines.loc["Fe", "Co"])
    order = list(SYMBOLS[::-1])
    fig = cosine_heatmap_figure(cosines, order=order)
    assert list(fig.data[0].x) == order
    assert list(fig.layout.xaxis.ticktext) == order
    with pytest.raises(ValueError, match="order must list each element"):
        cosine_heatmap_figure(cosines, order=order[:-1])


# --- materials map -----------------------------------------------------------------------


def synthetic_points(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": "mp-" + pd.Series(np.arange(n)).astype(str),
            "formula": np.array(["Fe2O3", "NaCl", "SiO2", "GaAs"], dtype=object)[rng.integers(0, 4, n)],
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "band_gap": rng.exponential(1.0, n),
            "e_above_hull": rng.exponential(0.2, n),
            "e_form": rng.normal(-1, 0.5, n),
            "magnetization": rng.exponential(0.5, n),
            "n_elements": rng.integers(1, 5, n).astype(np.int16),
            "crystal_system": np.array(["cubic", "tetragonal", "hexagonal"], dtype=object)[rng.integers(0, 3, n)],
        }
    )


def test_energy_above_hull_default_colouring_is_clipped_to_half_an_ev():
    points = synthetic_points(2000)
    points.loc[5, "e_above_hull"] = np.nan
    points.loc[6, "e_above_hull"] = 2.0
    fig = materials_map_figure(points, color_by="e_above_hull")
    marker = fig.data[0].marker
    color = np.asarray(marker.color, dtype=float)
    assert marker.cmax == 0.5
    assert color[6] == pytest.approx(0.5)  # capped
    assert np.all(color[np.isfinite(points["e_above_hull"])] <= 0.5 + 1e-6)
    assert is_grey(marker, color[5])
    assert not is_grey(marker, color[0])
    assert rgb(marker.colorscale[-1][1]) == rgb(th.E_HULL_SCALE[-1][1])  # red at the cap
    assert "eV/atom" in marker.colorbar.title.text
    assert marker.colorbar.ticktext[-1] == "≥ 0.5"
    # "≥ 0.5" sits at the very top of the bar: an empty line under the title keeps them apart,
    # and the long title breaks before its unit so the bar stays narrow.
    assert marker.colorbar.title.text.startswith("Energy above hull<br>(eV/atom)")
    assert marker.colorbar.title.text.endswith(th.TITLE_SPACER)
    unclipped = materials_map_figure(points, color_by="band_gap").data[0].marker.colorbar
    assert not unclipped.title.text.endswith(th.TITLE_SPACER)  # no top tick at the end: no gap


def test_explicit_clip_and_colorscale():
    points = synthetic_points(500)
    fig = materials_map_figure(points, color_by="band_gap", clip=(0.0, 2.0), colorscale="Cividis")
    marker = fig.data[0].marker
    color = np.asarray(marker.color, dtype=float)
    assert color.max() <= 2.0 + 1e-6 and marker.cmin == 0.0 and marker.cmax == 2.0
    assert "(eV)" in marker.colorbar.title.text
    with pytest.raises(ValueError, match="clip must be"):
        materials_map_figure(points, color_by="band_gap", clip=(2.0, 1.0))


def test_categorical_colouring_keeps_one_trace():
    points = synthetic_points(1000)
    fig = materials_map_figure(points, color_by="n_elements")  # few integers: categories
    assert len(fig.data) == 1
    marker = fig.data[0].marker
    assert list(marker.colorbar.ticktext) == ["1", "2", "3", "4"]
    codes = np.asarray(marker.color)
    # Same category, same code; the colour bar's tick for the code names the category.
    ticks = dict(zip(marker.colorbar.tickvals, marker.colorbar.ticktext))
    assert [ticks[c] for c in codes[:50]] == [str(v) for v in points["n_elements"][:50]]
    fig = materials_map_figure(points, color_by="crystal_system")
    ticks = dict(zip(fig.data[0].marker.colorbar.tickvals, fig.data[0].marker.colorbar.ticktext))
    assert [ticks[c] for c in np.asarray(fig.data[0].marker.color)[:50]] == list(points["crystal_system"][:50])
    fig = materials_map_figure(points, color_by="n_elements", categorical=False)
    assert np.asarray(fig.data[0].marker.color, dtype=float)[0] == points["n_elements"][0]


def test_highlight_fades_the_other_points():
    points = synthetic_points(300)
    highlight = np.zeros(300, dtype=bool)
    highlight[[3, 7]] = True
    fig = materials_map_figure(points, color_by="band_gap", highlight=highlight, opacity=0.8)
    opacity = np.asarray(fig.data[0].marker.opacity, dtype=float)
    assert opacity[3] == 1.0 and opacity[7] == 1.0
    assert np.allclose(np.delete(opacity, [3, 7]), FADED_OPACITY)
    assert materials_map_figure(points, opacity=0.5).data[0].marker.opacity == 0.5
    with pytest.raises(ValueError, match="highlight must be a boolean array"):
        materials_map_figure(points, highlight=np.ones(5, dtype=bool))


def test_customdata_maps_points_back_to_rows():
    points = synthetic_points(400)
    fig = materials_map_figure(points, color_by="band_gap")
    trace = fig.data[0]
    customdata = np.asarray(trace.customdata)
    np.testing.assert_array_equal(customdata[:, 0], np.arange(400))
    # Hover columns follow the row index, in hover_columns order.
    np.testing.assert_allclose(customdata[:, 1], points["band_gap"], rtol=1e-6)
    np.testing.assert_allclose(customdata[:, 2], points["e_above_hull"], rtol=1e-6)
    assert list(trace.hovertext[:3]) == ["mp-0", "mp-1", "mp-2"]
    assert list(trace.text[:3]) == list(points["formula"][:3])
    assert "%{customdata[1]" in trace.hovertemplate and "eV" in trace.hovertemplate
    # A dataset without some default hover columns simply lacks those lines.
    fig = materials_map_figure(points.drop(columns=["magnetization"]))
    assert np.asarray(fig.data[0].customdata).shape == (400, 4)


def test_selected_ids_become_plotly_selection():
    points = synthetic_points(100)
    fig = materials_map_figure(points, selected_ids=["mp-5", "mp-9"])
    assert list(fig.data[0].selectedpoints) == [5, 9]
    with pytest.raises(ValueError, match="not ids of points"):
        materials_map_figure(points, selected_ids=["mp-1000"])


def test_webgl_and_svg_trace_types_and_overlays():
    points = synthetic_points(200)
    assert isinstance(materials_map_figure(points).data[0], go.Scattergl)
    fig = materials_map_figure(points, webgl=False)
    assert isinstance(fig.data[0], go.Scatter) and not isinstance(fig.data[0], go.Scattergl)
    uploaded = pd.DataFrame({"formula": ["LiFePO4", "CsPbI3"], "x": [0.1, 0.2], "y": [0.3, 0.4]})
    add_overlay(fig, uploaded, name="uploaded")
    assert len(fig.data) == 2
    overlay = fig.data[1]
    assert type(overlay) is go.Scatter and overlay.marker.symbol == "star" and overlay.name == "uploaded"
    assert list(overlay.text) == ["LiFePO4", "CsPbI3"] and overlay.showlegend
    gl = add_overlay(materials_map_figure(points), uploaded, name="uploaded")
    assert isinstance(gl.data[1], go.Scattergl)
    with pytest.raises(ValueError, match="no map position"):
        add_overlay(fig, uploaded.assign(x=[np.nan, 0.0]), name="bad")


def test_points_without_position_are_reported_not_hidden():
    points = synthetic_points(50)
    points.loc[[1, 2], "x"] = np.nan
    fig = materials_map_figure(points)
    assert fig.layout.meta["n_without_position"] == 2
    assert "2 of 50 compounds have no map position" in fig.layout.annotations[0].text
    with pytest.raises(ValueError, match="lacks columns"):
        materials_map_figure(points.drop(columns=["formula"]))
    with pytest.raises(ValueError, match="is not a column"):
        materials_map_figure(points, color_by="density")


def _time_build(n: int) -> tuple[float, float]:
    points = synthetic_points(n)
    start = time.perf_counter()
    fig = materials_map_figure(points, color_by="e_above_hull")
    build = time.perf_counter() - start
    start = time.perf_counter()
    fig.to_json()
    return build, time.perf_counter() - start


def test_materials_map_builds_100k_points_fast():
    build, serialise = _time_build(100_000)
    print(f"\n100k points: build {build:.2f} s, to_json {serialise:.2f} s")
    assert build < 2.0


@pytest.mark.slow
def test_materials_map_builds_a_million_points():
    build, serialise = _time_build(1_000_000)
    print(f"\n1M points: build {build:.2f} s, to_json {serialise:.2f} s")
    assert build < 10.0
