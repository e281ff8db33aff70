"""The app in real headless Chromium: load, element highlight, lasso, search, upload, export, URL.

One server and one browser for the module (see conftest); every scenario starts from a fresh
page load, ends with no error in the browser console, and saves 1920x1080 screenshots to
``build/screenshots/``.
"""

from __future__ import annotations

import itertools
import re
import time

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from data.map_artifact import load_map
from dashboard.maps import membership_matrix
from fingerprints.elements import SYMBOL_TO_INDEX
from tests.browser.helpers import (
    callbacks_idle,
    click_at,
    console_errors,
    drag_through,
    graph_js,
    map_pixels,
    open_app,
    save_screenshot,
    tile_position,
    wait_until,
)

# One server and one browser for all of them: keep them on one xdist worker (--dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def small_points(browser_maps_root) -> pd.DataFrame:
    return load_map(browser_maps_root / "small").points


def _text(chrome, element_id: str) -> str:
    return chrome.find_element(By.ID, element_id).text


def _clear_input(chrome, box) -> None:
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)


def _idle(chrome, timeout: float = 20.0) -> None:
    time.sleep(0.15)
    wait_until(lambda: callbacks_idle(chrome), timeout=timeout, message="callbacks to finish")


def _expected_count(points: pd.DataFrame, symbols, mode: str) -> int:
    membership, _ = membership_matrix(points["formula"].to_numpy())
    dense = membership.toarray()
    columns = [SYMBOL_TO_INDEX[s] for s in symbols]
    hits = dense[:, columns].sum(axis=1)
    if mode == "all":
        return int((hits == len(columns)).sum())
    if mode == "any":
        return int((hits > 0).sum())
    return int(((hits == dense.sum(axis=1)) & (hits > 0)).sum())


def test_loads_with_every_view_and_no_console_error(driver, app_server, screenshots, small_points):
    open_app(driver, app_server + "/")
    assert driver.title == "ChemMap"
    n_points = driver.execute_script(graph_js("map-graph", "return gd._fullData[0].x.length;"))
    assert n_points == len(small_points)
    assert driver.execute_script(graph_js("map-graph", "return gd._fullData[0].type;")) == "scattergl"
    tiles = driver.execute_script(graph_js("ptable-graph", "return gd._fullData[0].customdata.length;"))
    assert tiles == 98
    assert "Most similar to Iron" in driver.find_element(By.ID, "sim-bar").text
    assert f"all {len(small_points):,} compounds shown" in _text(driver, "highlight-count")
    # The address bar now holds the view.
    wait_until(lambda: "map=small" in driver.current_url, message="the query string")
    # The WebGL canvas really drew something (not a blank canvas).
    drawn = driver.execute_script(
        "var c = document.querySelector('#map-graph canvas.gl-canvas-context') || document.querySelector('#map-graph canvas');"
        "var g = c.getContext('webgl', {preserveDrawingBuffer: true}) || c.getContext('webgl2');"
        "return !!g;"
    )
    assert drawn
    save_screenshot(driver, screenshots, "01-overview")
    save_screenshot(driver, screenshots, "02-periodic-table-and-similarity", scroll_to=".card-similarity")
    assert console_errors(driver) == []


def test_clicking_elements_highlights_their_compounds(driver, app_server, screenshots, small_points):
    open_app(driver, app_server + "/?layout=standard")
    click_at(driver, *tile_position(driver, "O"))
    expected = _expected_count(small_points, ["O"], "all")
    wait_until(lambda: f"{expected:,} of {len(small_points):,} compounds" in _text(driver, "highlight-count"), message="the O count")
    click_at(driver, *tile_position(driver, "Fe"))
    expected = _expected_count(small_points, ["O", "Fe"], "all")
    wait_until(lambda: f"{expected:,} of {len(small_points):,} compounds" in _text(driver, "highlight-count"), message="the Fe+O count")
    assert "contain all of O, Fe" in _text(driver, "highlight-count")
    # The browser painted exactly those compounds over the faded WebGL map.
    _idle(driver)
    wait_until(lambda: driver.execute_script(graph_js("map-graph", "return gd.__chemmapHighlight && gd.__chemmapHighlight.rows && gd.__chemmapHighlight.rows.length;")) == expected, message="the highlight layer")
    painted = driver.execute_script(
        graph_js("map-graph", "var c = gd.querySelector('canvas.chemmap-highlight'); var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                 "var n = 0; for (var i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n;")
    )  # fmt: skip
    assert painted > 0
    assert driver.execute_script(graph_js("map-graph", "return gd.querySelector('.gl-container').style.opacity;")) == "0.13"
    # Mode "any" and "only" recount on the server.
    driver.find_element(By.CSS_SELECTOR, "#highlight-mode input[value='any']").click()
    expected_any = _expected_count(small_points, ["O", "Fe"], "any")
    wait_until(lambda: f"{expected_any:,} of" in _text(driver, "highlight-count"), message="the 'any' count")
    driver.find_element(By.CSS_SELECTOR, "#highlight-mode input[value='only']").click()
    expected_only = _expected_count(small_points, ["O", "Fe"], "only")
    wait_until(lambda: f"{expected_only:,} of" in _text(driver, "highlight-count"), message="the 'only' count")
    wait_until(lambda: "el=O,Fe" in driver.current_url and "mode=only" in driver.current_url, message="elements in the URL")
    _idle(driver)
    save_screenshot(driver, screenshots, "03-element-highlight")
    # Clicking a selected tile again deselects it.
    click_at(driver, *tile_position(driver, "Fe"))
    wait_until(lambda: "made only of O." in _text(driver, "highlight-count"), message="Fe deselected")
    assert console_errors(driver) == []


def _polygon_around(points: pd.DataFrame, centre_row: int, radius: float, n: int = 12):
    x0, y0 = float(points["x"].iat[centre_row]), float(points["y"].iat[centre_row])
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return x0 + radius * np.cos(angles), y0 + radius * np.sin(angles)


def _central_point_far_from(points: pd.DataFrame, row: int) -> int:
    """A point well inside the plot area, far from ``row`` (a lasso must start inside the axes)."""
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    central = (x > np.quantile(x, 0.25)) & (x < np.quantile(x, 0.75)) & (y > np.quantile(y, 0.25)) & (y < np.quantile(y, 0.75))
    distance = np.where(central, (x - x[row]) ** 2 + (y - y[row]) ** 2, -1)
    return int(np.argmax(distance))


def _inside(points: pd.DataFrame, xs, ys) -> set[int]:
    from matplotlib.path import Path as PolygonPath  # noqa: PLC0415 - only for this check

    polygon = PolygonPath(np.column_stack([xs, ys]))
    return set(np.flatnonzero(polygon.contains_points(points[["x", "y"]].to_numpy())).tolist())


def _grid_row_count(chrome) -> int:
    return chrome.execute_script(
        "var api = window.dash_ag_grid && window.dash_ag_grid.getApi && window.dash_ag_grid.getApi('selection-grid');"
        "return api ? api.getDisplayedRowCount() : -1;"
    )


def test_lassos_accumulate_into_the_table(driver, app_server, screenshots, small_points):
    open_app(driver, app_server + "/")
    driver.execute_script("document.querySelector('.card-map').scrollIntoView({block: 'start'});")
    time.sleep(0.3)
    span = float(np.ptp(small_points["x"].to_numpy()))
    first_xs, first_ys = _polygon_around(small_points, 0, 0.18 * span)
    first = _inside(small_points, first_xs, first_ys)
    assert first, "the test polygon should hold points"
    drag_through(driver, map_pixels(driver, first_xs, first_ys))
    wait_until(lambda: f"{len(first):,} of {len(small_points):,} compounds selected" in _text(driver, "selection-count"), message="the first lasso")
    _idle(driver)
    wait_until(lambda: _grid_row_count(driver) == len(first), message="the table rows")
    # The periodic table switched to "compounds in the selection".
    assert driver.execute_script(graph_js("ptable-graph", "return gd.layout.meta.coloring;")) == "selection"
    second_xs, second_ys = _polygon_around(small_points, _central_point_far_from(small_points, 0), 0.1 * span)
    both = first | _inside(small_points, second_xs, second_ys)
    drag_through(driver, map_pixels(driver, second_xs, second_ys))
    wait_until(lambda: f"{len(both):,} of {len(small_points):,} compounds selected" in _text(driver, "selection-count"), message="the second lasso adding up")
    _idle(driver)
    wait_until(lambda: _grid_row_count(driver) == len(both), message="the table rows after two lassos")
    table_formulas = set(driver.execute_script(
        "var api = window.dash_ag_grid.getApi('selection-grid'); var out = [];"
        "api.forEachNode(function (n) { out.push(n.data.formula); }); return out;"
    ))  # fmt: skip
    assert table_formulas == set(small_points["formula"].iloc[sorted(both)])
    # The map shows the accumulated selection, and the lassos stayed light: dcc.Graph's
    # selectedData holds no points, and the lasso outlines were not written into the figure.
    shown = driver.execute_script(graph_js("map-graph", "var s = gd.data[0].selectedpoints; return s ? Array.from(s) : null;"))
    assert shown is not None and set(shown) == both
    graph_props = driver.execute_script("return window.dash_component_api.getLayout('map-graph').props;")
    assert not (graph_props.get("selectedData") or {}).get("points")
    assert not graph_props["figure"]["layout"].get("selections")
    save_screenshot(driver, screenshots, "04-lasso-selection-map")
    save_screenshot(driver, screenshots, "05-selection-table", scroll_to=".below-map")
    # Sorting the table by formula works in the browser.
    driver.execute_script("window.dash_ag_grid.getApi('selection-grid').applyColumnState({state: [{colId: 'formula', sort: 'asc'}]});")
    first_row = driver.execute_script("return window.dash_ag_grid.getApi('selection-grid').getDisplayedRowAtIndex(0).data.formula;")
    assert first_row == sorted(table_formulas)[0]
    driver.find_element(By.ID, "selection-clear").click()
    wait_until(lambda: "No compounds selected" in _text(driver, "selection-count"), message="the cleared selection")
    assert console_errors(driver) == []


def test_search_known_new_and_invalid_formulas(driver, app_server, screenshots, small_points):
    open_app(driver, app_server + "/")
    box = driver.find_element(By.ID, "search-input")
    box.send_keys("Fe2O3", Keys.ENTER)
    wait_until(lambda: "is in this map" in _text(driver, "search-message"), message="the known formula")
    wait_until(lambda: "Fe2O3" in _text(driver, "details") and "Nearest compounds" in _text(driver, "details"), message="its details")
    # The neighbours are clickable: the first one becomes the focused compound.
    first = driver.find_element(By.CSS_SELECTOR, "#details .neighbours button")
    neighbour = first.find_element(By.CSS_SELECTOR, ".formula").text
    first.click()
    wait_until(lambda: _text(driver, "details").startswith(neighbour), message="the neighbour's details")
    _clear_input(driver, box)
    box.send_keys("LiFeO2", Keys.ENTER)
    wait_until(lambda: "placed by its fingerprint" in _text(driver, "search-message"), message="the placed formula")
    wait_until(lambda: driver.execute_script(graph_js("map-graph", "return gd._fullData[1].x.length;")) == 1, message="the star")
    assert "not in this map" in _text(driver, "details")
    _idle(driver)
    save_screenshot(driver, screenshots, "06-search-placed-formula")
    _clear_input(driver, box)
    box.send_keys("Xx2O", Keys.ENTER)
    wait_until(lambda: "Not a valid formula" in _text(driver, "search-message"), message="the parser's message")
    assert "Xx" in _text(driver, "search-message")
    assert console_errors(driver) == []


def test_upload_overlay_lists_skipped_rows(driver, app_server, tmp_path):
    open_app(driver, app_server + "/")
    upload = tmp_path / "mine.csv"
    upload.write_text("formula,band_gap\nLiFeO2,1.5\nNaCl,5\nnot a formula,1\nCo3O4,0.5\n")
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(upload))
    wait_until(lambda: "compounds placed on the map" in _text(driver, "upload-message"), message="the upload summary")
    message = _text(driver, "upload-message")
    assert "3 compounds placed" in message and "1 rows skipped" in message
    assert "not a formula" in message
    wait_until(lambda: driver.execute_script(graph_js("map-graph", "return gd._fullData[2].x.length;")) == 3, message="the overlay")
    assert console_errors(driver) == []


def test_a_too_large_upload_is_refused_with_a_message(driver, app_server, tmp_path):
    """dcc.Upload drops a file above max_size silently: chemmap.js must say so."""
    from dashboard.settings import upload_limit_bytes

    open_app(driver, app_server + "/")
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(upload_limit_bytes() + 1024 * 1024)
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(big))
    limit_mb = f"{upload_limit_bytes() / 2**20:.1f} MB"
    wait_until(lambda: f"accepts files up to {limit_mb}" in _text(driver, "upload-message"), message="the too-large message")
    assert "big.csv" in _text(driver, "upload-message")
    assert console_errors(driver) == []


def test_export_svg_of_the_map_is_vector(driver, app_server, download_dir, screenshots, small_points):
    open_app(driver, app_server + "/")
    for old in download_dir.glob("*"):
        old.unlink()
    driver.find_element(By.CSS_SELECTOR, ".card-map .card-tools button").click()
    wait_until(lambda: "open" in driver.find_element(By.ID, "export-modal").get_attribute("class"), message="the export dialog")
    assert "Materials map" in _text(driver, "export-title")
    save_screenshot(driver, screenshots, "07-export-dialog")
    driver.find_element(By.CSS_SELECTOR, "#export-format input[value='svg']").click()
    driver.find_element(By.ID, "export-go").click()
    svg = wait_until(lambda: next(iter(download_dir.glob("*.svg")), None), timeout=60, message="the SVG download")
    wait_until(lambda: svg.stat().st_size > 0 and not list(download_dir.glob("*.crdownload")), message="the download to finish")
    text = svg.read_text()
    assert text.lstrip().startswith("<svg")
    assert "<image" not in text, "the map must be vector markers, not an embedded raster"
    markers = len(re.findall(r'<path class="point\b', text))
    assert markers >= len(small_points)
    assert "Exported" in _text(driver, "export-message")
    driver.find_element(By.ID, "export-close").click()
    assert console_errors(driver) == []


def test_link_restores_the_view_and_garbage_falls_back(driver, app_server, screenshots):
    open_app(driver, app_server + "/?map=binaries&color=e_above_hull&el=O&mode=any&theme=dark&layout=standard&pt=count")
    assert driver.find_element(By.ID, "page-root").get_attribute("class") == "page theme-dark"
    assert driver.execute_script(graph_js("ptable-graph", "return gd.layout.meta.layout;")) == "standard"
    assert driver.execute_script(graph_js("map-graph", "return gd.layout.meta.map;")) == "binaries"
    assert "contain any of O" in _text(driver, "highlight-count")
    save_screenshot(driver, screenshots, "08-dark-theme")
    # Switching layout slides the tiles, then the table settles at the new figure's height.
    driver.find_element(By.CSS_SELECTOR, "#ptable-layout input[value='grid']").click()
    svg_height = "return [gd.querySelector('.main-svg').getAttribute('height'), String(gd.layout.height), gd.layout.meta.layout];"
    wait_until(lambda: driver.execute_script(graph_js("ptable-graph", "return gd.layout.meta.layout;")) == "grid", message="the grid layout")
    height, expected_height, _ = wait_until(
        lambda: (v := driver.execute_script(graph_js("ptable-graph", svg_height))) and v[0] == v[1] and v, timeout=10, message=f"the settled table {driver.execute_script(graph_js('ptable-graph', svg_height))}"
    )
    assert height == expected_height
    driver.find_element(By.ID, "about-open").click()
    wait_until(lambda: "open" in driver.find_element(By.ID, "about-modal").get_attribute("class"), message="the About dialog")
    assert "arXiv:2406.19761" in _text(driver, "about-modal")
    assert "CC BY 4.0" in _text(driver, "about-modal")
    save_screenshot(driver, screenshots, "09-about")
    open_app(driver, app_server + "/?map=../../etc&el=Fe,Qq&color=nope&x=1,b&theme=neon")
    notices = _text(driver, "notices")
    assert "Qq" in notices and "theme" in notices and "x=" in notices and "map=" in notices
    assert driver.find_element(By.ID, "page-root").get_attribute("class") == "page theme-light"
    assert console_errors(driver) == []


LABEL_BOXES_JS = """
function box(e) { var r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
var frame = box(gd);
var texts = [];
// One box per visible line: a multi-line text's box would include empty spacer lines.
Array.from(gd.querySelectorAll(arguments[0])).forEach(function (t) {
  var lines = Array.from(t.querySelectorAll('tspan.line'));
  (lines.length ? lines : [t]).forEach(function (e) { if (e.textContent.trim()) texts.push([e.textContent, box(e)]); });
});
var tiles = Array.from(gd.querySelectorAll('.scatterlayer .point')).map(box);
return {frame: frame, texts: texts, tiles: tiles};
"""


def _overlaps(a, b, slack: float = 0.5) -> bool:
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


def test_legends_and_colour_bars_are_inside_and_clear_of_everything(driver, app_server, screenshots):
    """Measured in the browser: no legend text is cut off, covers a tile, or overlaps another label."""
    for query in ("?layout=standard", "?layout=standard&pt=count&theme=dark", "?layout=grid&pt=block", "?layout=learned&pt=mean:band_gap"):
        open_app(driver, app_server + "/" + query + "&color=e_above_hull")
        _idle(driver)
        table = driver.execute_script(graph_js("ptable-graph", LABEL_BOXES_JS), ".annotation-text, .colorbar text")
        left, top, right, bottom = table["frame"]
        assert len(table["tiles"]) == 98
        for text, box in table["texts"]:
            assert left - 1 <= box[0] and box[2] <= right + 1 and top - 1 <= box[1] and box[3] <= bottom + 1, (query, text, box)
            assert not any(_overlaps(box, tile) for tile in table["tiles"]), (query, text)
        for (text_a, a), (text_b, b) in itertools.combinations(table["texts"], 2):
            assert not _overlaps(a, b), (query, text_a, text_b)
        # The energy above hull colour bar: its title and its "≥ 0.5" top tick do not overlap.
        colorbar = driver.execute_script(graph_js("map-graph", LABEL_BOXES_JS), ".colorbar text")
        title = [b for t, b in colorbar["texts"] if "Energy above hull" in t or "eV/atom" in t]
        cap = [b for t, b in colorbar["texts"] if t.startswith("≥")]
        assert len(title) == 2 and cap and not any(_overlaps(line, cap[0]) for line in title)
        assert all(colorbar["frame"][0] <= b[0] and b[2] <= colorbar["frame"][2] + 1 for _, b in colorbar["texts"])
    save_screenshot(driver, screenshots, "10-learned-map-and-energy-above-hull")
    assert console_errors(driver) == []
