"""Static export: WebGL-to-vector conversion, fonts, CSV, browser discovery, and real renders.

The rendering tests need Chrome/Chromium (kaleido drives it); they are skipped, with the
install command in the reason, when none is found.
"""

from __future__ import annotations

import io
import os
import re
import struct

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import export
from dashboard.export import (
    ChromiumNotFoundError,
    export_figure,
    export_table_csv,
    find_chromium,
    restyle_fonts,
    to_vector_figure,
    write_figure,
)
from dashboard.figures import element_frame, materials_map_figure, periodic_table_figure


def points_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "id": [f"mp-{i}" for i in range(n)],
            "formula": ["Fe2O3", "NaCl", "SiO2"] * (n // 3) + ["GaAs"] * (n % 3),
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "e_above_hull": rng.exponential(0.2, n),
            "band_gap": rng.exponential(1.0, n),
        }
    )


# --- pure Python: no browser needed ----------------------------------------------------------


def test_to_vector_figure_swaps_webgl_for_svg_and_keeps_everything():
    fig = materials_map_figure(points_frame(90), color_by="e_above_hull")
    fig.add_trace(go.Bar(x=[1, 2], y=[3, 4]))
    vector = to_vector_figure(fig)
    assert isinstance(fig.data[0], go.Scattergl)  # the input is untouched
    assert type(vector.data[0]) is go.Scatter
    assert isinstance(vector.data[1], go.Bar)
    original, converted = fig.data[0].to_plotly_json(), vector.data[0].to_plotly_json()
    original.pop("type"), converted.pop("type")
    assert original.keys() == converted.keys()
    np.testing.assert_array_equal(np.asarray(converted["marker"]["color"]), np.asarray(original["marker"]["color"]))
    np.testing.assert_array_equal(np.asarray(converted["customdata"]), np.asarray(original["customdata"]))
    assert converted["hovertemplate"] == original["hovertemplate"]
    assert converted["marker"]["colorscale"] == original["marker"]["colorscale"]
    assert vector.layout.to_plotly_json() == fig.layout.to_plotly_json()


def test_restyle_fonts_scales_layout_and_colour_bars_but_not_tile_labels():
    fig = periodic_table_figure(element_frame(), layout="standard", values=pd.Series({"Fe": 1.0, "O": 2.0}, name="n"))
    spec = fig.to_dict()
    tile_size = spec["data"][0]["textfont"]["size"]
    colorbar_title = spec["data"][0]["marker"]["colorbar"]["title"]["font"]["size"]
    base = export._base_font_size(spec)
    restyle_fonts(spec, size=base * 2, family="Liberation Serif")
    assert spec["layout"]["font"]["size"] == base * 2
    assert spec["data"][0]["marker"]["colorbar"]["title"]["font"]["size"] == pytest.approx(colorbar_title * 2)
    assert spec["layout"]["template"]["layout"]["xaxis"]["tickfont"]["size"] == pytest.approx(16 * 2)
    assert spec["data"][0]["textfont"]["size"] == tile_size
    assert spec["data"][0]["textfont"]["family"] == "Liberation Serif"
    assert spec["layout"]["font"]["family"] == "Liberation Serif"


def test_export_table_csv_writes_selected_rows_in_table_order():
    points = points_frame(10)
    data = export_table_csv(points, ["mp-7", "mp-2"])
    table = pd.read_csv(io.BytesIO(data))
    assert list(table["id"]) == ["mp-2", "mp-7"]
    assert list(table.columns) == list(points.columns)
    assert table["band_gap"].tolist() == pytest.approx(points["band_gap"].iloc[[2, 7]].tolist())
    assert len(pd.read_csv(io.BytesIO(export_table_csv(points)))) == 10
    with pytest.raises(ValueError, match="not in the table"):
        export_table_csv(points, ["mp-2", "nope"])
    with pytest.raises(ValueError, match="no 'id' column"):
        export_table_csv(points.drop(columns=["id"]), ["mp-2"])


def test_export_table_csv_neutralises_spreadsheet_formulas():
    points = pd.DataFrame({"id": ["a", "b"], "formula": ["=HYPERLINK(1)", "NaCl"], "e": [-1.0, 2.0]})
    table = pd.read_csv(io.BytesIO(export_table_csv(points)))
    assert table["formula"].tolist() == ["'=HYPERLINK(1)", "NaCl"]
    assert table["e"].tolist() == [-1.0, 2.0]  # numbers untouched


def test_browser_path_must_point_at_an_executable(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing-chrome"))
    with pytest.raises(ChromiumNotFoundError, match="BROWSER_PATH=.*not an executable.*apt-get install"):
        find_chromium()
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    assert find_chromium() == str(fake)


def test_missing_chromium_gives_an_install_hint(monkeypatch, tmp_path):
    export.close_browser()
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(export, "CHROMIUM_PATHS", ())
    assert find_chromium() is None
    with pytest.raises(ChromiumNotFoundError, match="apt-get install -y --no-install-recommends chromium"):
        export_figure(go.Figure(go.Scatter(x=[1], y=[1])), fmt="png")


def test_bad_export_options_are_refused_before_rendering():
    fig = go.Figure(go.Scatter(x=[1], y=[1]))
    with pytest.raises(ValueError, match="fmt must be one of"):
        export_figure(fig, fmt="gif")
    with pytest.raises(ValueError, match="scale must be positive"):
        export_figure(fig, fmt="png", scale=0)
    with pytest.raises(ValueError, match="at least 10 px"):
        export_figure(fig, fmt="png", width=5)


# --- real renders --------------------------------------------------------------------------

try:
    CHROMIUM = find_chromium()
except ChromiumNotFoundError:
    CHROMIUM = None
try:
    import kaleido  # noqa: F401

    HAVE_KALEIDO = True
except ImportError:
    HAVE_KALEIDO = False

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_KALEIDO,
    reason=(
        "static export needs kaleido (pip install kaleido==1.5.0) and Chrome/Chromium, none found at "
        "BROWSER_PATH, on PATH or at /usr/bin/chromium: apt-get install -y --no-install-recommends chromium"
    ),
)


@pytest.fixture(scope="module")
def browser():
    yield
    export.close_browser()


@needs_browser
def test_png_has_the_requested_pixel_size(browser):
    fig = materials_map_figure(points_frame(60), color_by="band_gap")
    data = export_figure(fig, fmt="png", width=400, height=300, scale=2)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (800, 600)


@needs_browser
def test_svg_of_a_webgl_map_has_one_vector_path_per_marker_and_no_image(browser):
    n = 300
    fig = materials_map_figure(points_frame(n), color_by="e_above_hull")
    assert isinstance(fig.data[0], go.Scattergl)
    svg = export_figure(fig, fmt="svg", width=600, height=450).decode("utf-8")
    assert svg.lstrip().startswith("<svg")
    assert len(re.findall(r'<path class="point', svg)) == n
    assert "<image" not in svg
    # The check is meaningful: the same WebGL figure rendered as-is embeds a raster image.
    raw = export._BROWSER.render(fig.to_dict(), {"format": "svg", "width": 600, "height": 450, "scale": 1}, 60)
    assert b"<image" in raw


@needs_browser
def test_pdf_of_a_webgl_map_holds_no_image_xobject(browser):
    fig = materials_map_figure(points_frame(200), color_by="e_above_hull")
    pdf = export_figure(fig, fmt="pdf", width=600, height=450)
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" not in pdf
    raw = export._BROWSER.render(fig.to_dict(), {"format": "pdf", "width": 600, "height": 450, "scale": 1}, 60)
    assert b"/Subtype /Image" in raw  # what the conversion avoids


@needs_browser
def test_periodic_table_svg_has_98_tiles_and_labels(browser, tmp_path):
    fig = periodic_table_figure(element_frame(), layout="standard", selected=["Fe"])
    target = write_figure(fig, tmp_path / "table.svg", font_size=30)
    svg = target.read_text(encoding="utf-8")
    assert len(re.findall(r'<path class="point', svg)) == 98
    assert ">Fe<" in svg and ">Cf<" in svg
    # the category key (16 px in the figure) scaled by 30/18 like every other text
    assert re.search(r"font-size: 26.67px[^>]*>alkali metal<", svg)
    assert not list(tmp_path.glob("*.tmp*")) and os.listdir(tmp_path) == ["table.svg"]


def test_vector_export_of_too_many_markers_is_refused_with_advice():
    fig = materials_map_figure(points_frame(1000))
    with pytest.raises(ValueError, match="export PNG, or a subset of at most 500 points"):
        export_figure(fig, fmt="svg", max_vector_points=500)
