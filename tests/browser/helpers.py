"""Helpers of the browser tests: waiting, console errors, pixel positions, screenshots."""

from __future__ import annotations

import time
from pathlib import Path

#: Console messages that are not errors of the app (software WebGL performance notes).
BENIGN_CONSOLE = ("GPU stall due to ReadPixels", "favicon.ico")



def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as err:  # noqa: BLE001 - the page may be mid-update
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {message} (last: {last!r})")


def console_errors(chrome) -> list[str]:
    """SEVERE console messages since the last call, minus known benign ones."""
    return [
        entry["message"]
        for entry in chrome.get_log("browser")
        if entry["level"] == "SEVERE" and not any(b in entry["message"] for b in BENIGN_CONSOLE)
    ]


def callbacks_idle(chrome) -> bool:
    """True when no Dash callback is pending or running (dash-renderer's redux state)."""
    return chrome.execute_script(
        "var s = window.store && window.store.getState && window.store.getState();"
        "if (!s) return false;"
        "var c = Object.assign({}, s.callbacks); delete c.stored; delete c.completed;"
        "return Object.values(c).every(function (v) { return !v || v.length === 0; }) && !s.isLoading;"
    )


def open_app(chrome, url: str, *, timeout: float = 30.0) -> None:
    """Load ``url`` and wait until the map and the periodic table are drawn and callbacks idle."""
    chrome.get(url)
    wait_until(lambda: chrome.execute_script(MAP_READY_JS), timeout=timeout, message="the map to render")
    wait_until(lambda: callbacks_idle(chrome), timeout=timeout, message="callbacks to finish")


MAP_READY_JS = """
var gd = document.querySelector('#map-graph .js-plotly-plot');
var table = document.querySelector('#ptable-graph .js-plotly-plot');
return !!(gd && gd._fullData && gd._fullData.length >= 4 && gd._fullData[0].x && gd._fullData[0].x.length
          && table && table._fullData && table._fullData.length && document.querySelector('#map-graph canvas'));
"""


def graph_js(graph_id: str, body: str):
    """JS evaluating ``body`` with ``gd`` bound to the plotly div of ``graph_id``."""
    return f"var gd = document.querySelector('#{graph_id} .js-plotly-plot'); {body}"


def tile_position(chrome, symbol: str) -> tuple[float, float]:
    """Viewport coordinates of a periodic-table tile's centre."""
    return tuple(
        chrome.execute_script(
            graph_js(
                "ptable-graph",
                "var t = gd._fullData[0]; var i = t.customdata.indexOf(arguments[0]);"
                "var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis; var r = gd.getBoundingClientRect();"
                "return [r.left + xa._offset + xa.l2p(t.x[i]), r.top + ya._offset + ya.l2p(t.y[i])];",
            ),
            symbol,
        )
    )


def map_pixels(chrome, xs, ys) -> list[tuple[float, float]]:
    """Viewport coordinates of map data coordinates."""
    return [
        tuple(p)
        for p in chrome.execute_script(
            graph_js(
                "map-graph",
                "var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis; var r = gd.getBoundingClientRect(); var ys = arguments[1];"
                "return arguments[0].map(function (x, k) { return [r.left + xa._offset + xa.l2p(x), r.top + ya._offset + ya.l2p(ys[k])]; });",
            ),
            list(map(float, xs)),
            list(map(float, ys)),
        )
    ]


def save_screenshot(chrome, folder: Path, name: str, *, scroll_to: str | None = None) -> Path:
    if scroll_to:
        chrome.execute_script("var e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'}); window.scrollBy(0, -8);", scroll_to)
        time.sleep(0.4)
    path = folder / f"{name}.png"
    chrome.save_screenshot(str(path))
    return path



def click_at(chrome, x: float, y: float) -> None:
    """A real mouse click at viewport coordinates (W3C pointer actions)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(chrome)
    builder.pointer_action.move_to_location(int(round(x)), int(round(y)))
    builder.pointer_action.click()
    builder.perform()


def drag_through(chrome, pixels) -> None:
    """Press at the first point, move through the others (closing the loop), release: a lasso."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(chrome)
    pointer = builder.pointer_action
    pointer.move_to_location(int(pixels[0][0]), int(pixels[0][1]))
    pointer.pointer_down()
    for x, y in list(pixels[1:]) + [pixels[0]]:
        pointer.move_to_location(int(x), int(y))
    pointer.pointer_up()
    builder.perform()
