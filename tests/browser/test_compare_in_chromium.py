"""The "Compare embeddings" view in real headless Chromium: table, figure, two maps, linked selection, links.

Uses the committed results (``bench/results/compare``: 11 embeddings, 10,000 mapped compounds)
and the session's server and browser (see conftest). Every scenario ends with no error in the
browser console; screenshots at 1920x1080 go to ``build/screenshots/``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from data.compare_results import default_results_dir, load_compare_results
from tests.browser.helpers import callbacks_idle, click_at, console_errors, graph_js, open_app, save_screenshot, tile_position, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

LEFT, RIGHT = "compare-map-left", "compare-map-right"


@pytest.fixture(scope="module")
def results():
    return load_compare_results(default_results_dir())


def _text(chrome, element_id: str) -> str:
    return chrome.find_element(By.ID, element_id).text


def _idle(chrome, timeout: float = 30.0) -> None:
    time.sleep(0.15)
    wait_until(lambda: callbacks_idle(chrome), timeout=timeout, message="callbacks to finish")


def _map_ready(chrome, graph_id: str, n_points: int) -> bool:
    return chrome.execute_script(
        graph_js(graph_id, "return !!(gd && gd._fullData && gd._fullData[0] && gd._fullData[0].x && gd._fullData[0].x.length === arguments[0] && gd.querySelector('canvas'));"),
        n_points,
    )


def _grid_rows(chrome, grid_id: str) -> int:
    return chrome.execute_script(
        "var api = window.dash_ag_grid && window.dash_ag_grid.getApi && window.dash_ag_grid.getApi(arguments[0]);"
        "return api ? api.getDisplayedRowCount() : -1;",
        grid_id,
    )


def open_compare(chrome, url: str, n_points: int, *, timeout: float = 60.0) -> None:
    chrome.get(url)
    wait_until(lambda: _map_ready(chrome, LEFT, n_points) and _map_ready(chrome, RIGHT, n_points), timeout=timeout, message="both maps")
    wait_until(lambda: chrome.execute_script(graph_js("compare-mae-graph", "return gd && gd._fullData ? gd._fullData.length : 0;")), timeout=timeout, message="the MAE figure")
    _idle(chrome, timeout)


def _store_data(chrome, store_id: str):
    """The ``data`` of a dcc.Store as the page holds it (dash-renderer's state)."""
    return chrome.execute_script(
        "var s = window.store.getState(); var path = s.paths.strs[arguments[0]]; if (!path) return null;"
        "var node = s.layout; for (var i = 0; i < path.length; i++) { node = node[path[i]]; } return node.props.data;",
        store_id,
    )


def _selected(chrome, graph_id: str):
    """The rows the figure highlights (plotly's selectedpoints of the base trace), or None."""
    return chrome.execute_script(graph_js(graph_id, "var s = gd.data[0].selectedpoints; return s == null ? null : Array.from(s);"))


def _box_drag(chrome, graph_id: str, corner_a, corner_b) -> tuple[float, float, float, float]:
    """Drag a selection box between two data-space corners; returns the box in data space as plotly sees it."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    pixels = chrome.execute_script(
        graph_js(
            graph_id,
            "var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis; var r = gd.getBoundingClientRect();"
            "return arguments[0].map(function (p) { return [Math.round(r.left + xa._offset + xa.l2p(p[0])), Math.round(r.top + ya._offset + ya.l2p(p[1]))]; });",
        ),
        [list(map(float, corner_a)), list(map(float, corner_b))],
    )
    (x0, y0), (x1, y1) = pixels
    builder = ActionBuilder(chrome)
    pointer = builder.pointer_action
    pointer.move_to_location(x0, y0)
    pointer.pointer_down()
    for step in range(1, 9):
        pointer.move_to_location(round(x0 + (x1 - x0) * step / 8), round(y0 + (y1 - y0) * step / 8))
    pointer.pointer_up()
    builder.perform()
    # The same pixels back in data space (what plotly's box test uses).
    box = chrome.execute_script(
        graph_js(
            graph_id,
            "var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis; var r = gd.getBoundingClientRect();"
            "return arguments[0].map(function (p) { return [xa.p2l(p[0] - r.left - xa._offset), ya.p2l(p[1] - r.top - ya._offset)]; });",
        ),
        pixels,
    )
    (bx0, by0), (bx1, by1) = box
    return min(bx0, bx1), max(bx0, bx1), min(by0, by1), max(by0, by1)


def test_compare_view_shows_table_figure_and_linked_maps(driver, app_server, screenshots, results):
    n = results.n_map
    left, right = "pettifor-mined", "magpie"
    open_compare(driver, app_server + "/?view=compare", n)
    # The address holds the view and its defaults.
    wait_until(lambda: "view=compare" in driver.current_url and f"left={left}" in driver.current_url and f"right={right}" in driver.current_url, message="the view in the URL")
    # The table lists every embedding; the best cells are marked.
    assert _grid_rows(driver, "compare-table") == len(results.embeddings)
    assert _grid_rows(driver, "compare-maps-table") == len(results.embeddings)
    table_text = _text(driver, "compare-table")
    assert "pettifor-mined" in table_text and "0.5951 ± 0.0030 ★" in table_text
    # The figure: one bar trace per embedding and target, the run's numbers.
    n_bars = driver.execute_script(graph_js("compare-mae-graph", "return gd._fullData.filter(function (t) { return t.type === 'bar' && !t.meta; }).length;"))
    assert n_bars == len(results.embeddings) * len(results.targets)
    # Both maps: WebGL, titled by their embedding.
    for graph, name in ((LEFT, left), (RIGHT, right)):
        assert driver.execute_script(graph_js(graph, "return gd._fullData[0].type;")) == "scattergl"
        assert driver.execute_script(graph_js(graph, "return gd.layout.meta.embedding;")) == name
    save_screenshot(driver, screenshots, "20-compare-overview")

    # A box on the left map highlights the same compounds on the right map.
    driver.execute_script("document.querySelector('.card-compare-maps').scrollIntoView({block: 'start'});")
    time.sleep(0.4)
    points = results.map_points(left)
    x, y = points["x"].to_numpy(np.float32), points["y"].to_numpy(np.float32)
    corner_a = (np.quantile(x, 0.3), np.quantile(y, 0.3))
    corner_b = (np.quantile(x, 0.7), np.quantile(y, 0.7))
    x0, x1, y0, y1 = _box_drag(driver, LEFT, corner_a, corner_b)
    # What plotly selected on the left (reduced to row numbers in the browser, before the server).
    chosen = wait_until(lambda: _store_data(driver, "compare-event-left"), message="the left map's selection event")["rows"]
    chosen = sorted(chosen)
    # It is the box: the compounds inside it in data space (a point on the edge may round either way).
    inside = set(np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).tolist())
    assert 50 < len(chosen) < n and len(inside.symmetric_difference(chosen)) <= 3
    wait_until(lambda: f"{len(chosen):,} of {n:,} compounds selected on the left map" in _text(driver, "compare-selection-count"), message="the selection count")
    _idle(driver)
    wait_until(lambda: _selected(driver, RIGHT) is not None, message="the highlight on the right map")
    assert sorted(_selected(driver, RIGHT)) == chosen
    assert sorted(_selected(driver, LEFT)) == chosen
    # The right map really draws them at full opacity and fades the rest.
    assert driver.execute_script(graph_js(RIGHT, "return gd._fullData[0].selected.marker.opacity;")) == 1
    assert driver.execute_script(graph_js(RIGHT, "return gd._fullData[0].unselected.marker.opacity;")) < 0.2
    assert "highlighted on both maps" in _text(driver, "compare-selection-count")
    save_screenshot(driver, screenshots, "21-compare-linked-selection", scroll_to=".card-compare-maps")

    # Clear resets both maps.
    driver.find_element(By.ID, "compare-clear").click()
    wait_until(lambda: "No compounds selected" in _text(driver, "compare-selection-count"), message="the cleared selection")
    _idle(driver)
    wait_until(lambda: _selected(driver, RIGHT) is None and _selected(driver, LEFT) is None, message="both highlights cleared")
    assert console_errors(driver) == []


def test_compare_link_restores_the_view_and_garbage_falls_back(driver, app_server, screenshots, results):
    n = results.n_map
    open_compare(driver, app_server + "/?view=compare&left=magpie&right=oliynyk&ccolor=e_above_hull&model=knn&theme=dark", n)
    assert driver.find_element(By.ID, "page-root").get_attribute("class") == "page theme-dark"
    assert driver.execute_script(graph_js(LEFT, "return gd.layout.meta.embedding;")) == "magpie"
    assert driver.execute_script(graph_js(RIGHT, "return gd.layout.meta.embedding;")) == "oliynyk"
    assert driver.execute_script(graph_js(RIGHT, "return gd.layout.meta.color_by;")) == "e_above_hull"
    assert driver.execute_script(graph_js("compare-mae-graph", "return gd.layout.meta.models;")) == ["knn"]
    save_screenshot(driver, screenshots, "22-compare-dark-knn")
    # The About dialog of this view opens and closes like the explorer's.
    driver.find_element(By.ID, "about-open").click()
    wait_until(lambda: "open" in driver.find_element(By.ID, "about-modal").get_attribute("class"), message="the About dialog")
    assert "Two maps" in _text(driver, "about-modal")
    driver.find_element(By.ID, "about-close").click()
    wait_until(lambda: "open" not in driver.find_element(By.ID, "about-modal").get_attribute("class"), message="the closed dialog")
    # Garbage in the link: defaults, and notices naming what was ignored.
    open_compare(driver, app_server + "/?view=compare&left=nope&right=../etc&model=zz&ccolor=wat&ccmin=x", n)
    notices = _text(driver, "notices")
    assert "nope" in notices and "zz" in notices and "wat" in notices and "ccmin" in notices and "right=" in notices
    assert driver.execute_script(graph_js(LEFT, "return gd.layout.meta.embedding;")) == "pettifor-mined"
    assert console_errors(driver) == []


def test_tabs_switch_views_and_keep_both_views_settings(driver, app_server, results):
    n = results.n_map
    open_compare(driver, app_server + "/?view=compare&left=mat2vec&right=skipatom&theme=dark", n)
    wait_until(lambda: "left=mat2vec" in (driver.find_element(By.ID, "nav-explorer").get_attribute("href") or ""), message="the explorer link")
    driver.find_element(By.ID, "nav-explorer").click()
    wait_until(lambda: driver.execute_script(graph_js("map-graph", "return !!(gd && gd._fullData && gd._fullData.length);")), timeout=60, message="the explorer's map")
    _idle(driver)
    assert "view=compare" not in driver.current_url
    assert driver.find_element(By.ID, "page-root").get_attribute("class") == "page theme-dark"
    link = driver.find_element(By.ID, "nav-compare").get_attribute("href")
    assert "view=compare" in link and "left=mat2vec" in link and "right=skipatom" in link
    # At once: the periodic table is still sliding into its first update (axes included), and
    # the explorer's graphs are removed mid-transition (chemmap.js defers their purge).
    driver.find_element(By.ID, "nav-compare").click()
    wait_until(lambda: _map_ready(driver, LEFT, n), timeout=60, message="the compare view again")
    time.sleep(1.0)  # past the end of the interrupted transition (errors come from its last frames)
    _idle(driver)
    assert driver.execute_script(graph_js(LEFT, "return gd.layout.meta.embedding;")) == "mat2vec"
    assert driver.execute_script(graph_js(RIGHT, "return gd.layout.meta.embedding;")) == "skipatom"
    assert console_errors(driver) == []


def _table_transitioning(chrome) -> bool:
    """True while plotly moves the periodic table's tiles to a new figure (its layout.transition)."""
    return chrome.execute_script(graph_js("ptable-graph", "return !!(gd && gd._transitionData && gd._transitioning);"))


def test_leaving_the_explorer_mid_animation_logs_no_error(driver, app_server, results):
    open_app(driver, app_server + "/")
    _idle(driver)
    console_errors(driver)  # only what follows counts
    click_at(driver, *tile_position(driver, "Fe"))
    wait_until(lambda: "el=Fe" in driver.current_url, message="Fe selected")
    _idle(driver)
    # New tile colours blend in for 0.6 s: leave in the middle of it.
    driver.execute_script("window.dash_clientside.set_props('ptable-color', {value: 'block'});")
    wait_until(lambda: _table_transitioning(driver), timeout=10, interval=0.02, message="the table's transition")
    driver.find_element(By.ID, "nav-compare").click()
    assert driver.execute_script("return !!window.Plotly.__chemmapPurge;")
    wait_until(lambda: _map_ready(driver, LEFT, results.n_map), timeout=60, message="the compare view")
    time.sleep(1.0)  # past the end of the interrupted transition and of its settle step
    _idle(driver)
    assert "el=Fe" in driver.current_url
    assert console_errors(driver) == []


def test_switching_maps_mid_animation_keeps_the_compare_fields(driver, app_server, results):
    open_app(driver, app_server + "/?map=small&theme=dark&left=mat2vec&right=skipatom&model=knn")
    _idle(driver)
    console_errors(driver)
    click_at(driver, *tile_position(driver, "O"))
    wait_until(lambda: "el=O" in driver.current_url, message="O selected")
    _idle(driver)
    driver.execute_script("window.dash_clientside.set_props('ptable-color', {value: 'block'});")
    wait_until(lambda: _table_transitioning(driver), timeout=10, interval=0.02, message="the table's transition")
    driver.execute_script("window.dash_clientside.set_props('map-select', {value: 'binaries'});")
    wait_until(lambda: "map=binaries" in driver.current_url, timeout=30, message="the new map's address")
    wait_until(lambda: driver.execute_script(graph_js("map-graph", "return !!(gd && gd._fullData && gd._fullData.length >= 4);")), timeout=60, message="the new map")
    time.sleep(1.0)  # past the end of the interrupted transition
    _idle(driver)
    assert "el=O" in driver.current_url and "theme=dark" in driver.current_url
    # The explorer writes its address from its own controls; the link to the compare view keeps that view's fields.
    link = driver.find_element(By.ID, "nav-compare").get_attribute("href")
    assert "view=compare" in link and "left=mat2vec" in link and "right=skipatom" in link and "model=knn" in link and "map=binaries" in link
    assert console_errors(driver) == []
