"""Time from a click on a periodic-table tile to the updated materials map, in Chromium.

    python bench/bench_click_latency.py                       # default map + a 1M-point copy
    python bench/bench_click_latency.py --map DIR --sizes 100000 1000000 --repeats 20
    python bench/bench_click_latency.py --action lasso --sizes 100000 --repeats 5
    python bench/bench_click_latency.py --action recolor --sizes 100000 --repeats 5
    python bench/bench_click_latency.py --action first-search --repeats 2

For each size the app serves a map of that many compounds (the given map itself, or a copy
made by repeating its compounds with a small jitter, written as a real map artifact), headless
Chromium opens it, and a real mouse click on a tile is timed until the map has been redrawn:
``click`` event timestamp -> the animation frame after the highlight layer was painted (the
browser paints highlighted compounds over the faded WebGL map; the WebGL trace is not redrawn).
The server's share (the callback request, network included) is reported too. In the same run, a
baseline is timed on the same points: a plain Dash app whose element buttons make the server
send a whole new figure (what a straightforward Dash implementation does), and the ratio printed.

``--action lasso`` and ``--action recolor`` time a lasso on the map (to the redrawn selection and
the filled table) and a change of the colour column (to the redrawn map), and report the
server's share, the time spent in Plotly.react, the bytes the callbacks sent and the number
of map redraws. ``--action first-search`` starts fresh server processes on ``--map`` and times
the first search of a formula that is not in the map, with the background warm-up of the
map's projector switched off and on.

Chromium draws WebGL with SwiftShader (software) here: a machine with a GPU redraws faster, so
these figures are an upper bound. Goal: under 300 ms at 100k points.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.map_artifact import ELEMENTS_FILE, EMBEDDING_FILE, POINTS_FILE, read_metadata, write_metadata  # noqa: E402

GOAL_MS = 300.0
ELEMENTS = ("O", "Fe", "Li", "S", "Cu", "N", "Mn", "Si", "Co", "Ba")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--window-size=1920,1080",
)  # fmt: skip

ARM_JS = """
var gd = document.querySelector('#map-graph .js-plotly-plot');
window.__bench = {click: null, done: null};
document.addEventListener('click', function (e) { if (window.__bench.click === null) window.__bench.click = e.timeStamp; }, {capture: true, once: true});
var handler = function () {
  if (window.__bench.click === null) return;
  gd.removeEventListener('chemmap-highlight-drawn', handler);
  // the frame that shows the new highlight layer has been painted after two animation frames
  requestAnimationFrame(function () { requestAnimationFrame(function () { window.__bench.done = performance.now(); }); });
};
gd.addEventListener('chemmap-highlight-drawn', handler);
"""

#: Time of the Dash request that carried the patch (Resource Timing), for the server's share.
REQUEST_JS = """
var entries = performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('_dash-update-component') >= 0; });
var click = window.__bench.click;
var after = entries.filter(function (e) { return e.startTime >= click; });
return after.length ? Math.max.apply(null, after.map(function (e) { return e.responseEnd - e.startTime; })) : null;
"""


def synthetic_map(source: Path, target: Path, n_points: int, *, seed: int = 0) -> Path:
    """A map artifact of ``n_points`` compounds: the source map's rows repeated with jitter."""
    rng = np.random.default_rng(seed)
    points = pd.read_parquet(source / POINTS_FILE)
    take = rng.integers(0, len(points), n_points) if n_points > len(points) else rng.permutation(len(points))[:n_points]
    big = points.iloc[take].reset_index(drop=True)
    spread = 0.01 * float(np.ptp(points["x"].to_numpy()))
    big["x"] = (big["x"].to_numpy() + rng.normal(0, spread, n_points)).astype(np.float32)
    big["y"] = (big["y"].to_numpy() + rng.normal(0, spread, n_points)).astype(np.float32)
    big["id"] = [f"syn-{k}" for k in range(n_points)]
    target.mkdir(parents=True, exist_ok=True)
    big.to_parquet(target / POINTS_FILE, index=False)
    for name in (ELEMENTS_FILE, EMBEDDING_FILE):
        shutil.copy2(source / name, target / name)
    metadata = {k: v for k, v in read_metadata(source).items() if k not in ("files", "format", "format_version")}
    metadata.update(rows=n_points, dataset={**metadata.get("dataset", {}), "name": f"synthetic {n_points:,}"})
    write_metadata(target, metadata)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(maps_root: Path, start: Path, *, port: int | None = None):
    """The app on a loopback port; served in a daemon thread unless a ``port`` is given
    (then the caller runs ``serve_forever``)."""
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    app = create_app(map_dir=start, maps_root=maps_root)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port or _free_port(), app.server, threaded=True)
    if port is None:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    chrome.set_script_timeout(120)
    return chrome


IDLE_JS = """
var s = window.store && window.store.getState && window.store.getState();
if (!s) return false;
var c = Object.assign({}, s.callbacks); delete c.stored; delete c.completed;
return Object.values(c).every(function (v) { return !v || v.length === 0; }) && !s.isLoading;
"""


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError("the page did not update in time")


def measure(chrome, url: str, repeats: int, *, mode: str) -> tuple[list[float], list[float]]:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    chrome.get(url)
    ready = "var gd = document.querySelector('#map-graph .js-plotly-plot'); return !!(gd && gd._fullData && gd._fullData.length >= 4 && gd._fullData[0].x.length);"
    _wait(lambda: chrome.execute_script(ready), 300)
    time.sleep(2.0)
    if mode != "all":
        chrome.find_element("css selector", f"#highlight-mode input[value='{mode}']").click()
        time.sleep(1.0)
    position = (
        "var gd = document.querySelector('#ptable-graph .js-plotly-plot'); var t = gd._fullData[0];"
        "var i = t.customdata.indexOf(arguments[0]); var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;"
        "var r = gd.getBoundingClientRect(); return [r.left + xa._offset + xa.l2p(t.x[i]), r.top + ya._offset + ya.l2p(t.y[i])];"
    )
    def click(x, y):
        """Click when the page is idle; the timing, or None when no update came (a missed click)."""
        _wait(lambda: chrome.execute_script(IDLE_JS), 120)
        time.sleep(0.5)  # two clicks on one tile within plotly's 300 ms would be a double-click
        chrome.execute_script(ARM_JS)
        builder = ActionBuilder(chrome)
        builder.pointer_action.move_to_location(int(x), int(y))
        builder.pointer_action.click()
        builder.perform()
        try:
            return _wait(lambda: chrome.execute_script("return window.__bench.done !== null && window.__bench;"), 30)
        except TimeoutError:
            return None

    totals, requests, missed = [], [], 0
    for k in range(repeats + 1):  # the first click warms caches and is not counted
        symbol = ELEMENTS[k % len(ELEMENTS)]
        chrome.execute_script("window.scrollTo(0, 0);")
        x, y = chrome.execute_script(position, symbol)
        done = click(x, y)
        if done is None:
            missed += 1
            continue
        request = chrome.execute_script(REQUEST_JS)
        if k:
            totals.append(done["done"] - done["click"])
            requests.append(request if request is not None else float("nan"))
        click(x, y)  # deselect again, so that every timed click highlights one element
    if missed:
        print(f"  ({missed} clicks gave no update within 30 s and are not counted)")
    return totals, requests


#: Records, in the page, every redraw of the map and every Plotly.react call with its duration.
RECORD_JS = """
var gd = document.querySelector('#map-graph .js-plotly-plot');
window.__rec = {start: performance.now(), afterplot: [], react: []};
if (!gd.__benchRecording) {
  gd.__benchRecording = true;
  gd.on('plotly_afterplot', function () { if (window.__rec) window.__rec.afterplot.push(performance.now()); });
  var react = window.Plotly.react;
  window.Plotly.react = function (div) {
    var t0 = performance.now(), args = arguments;
    var result = react.apply(this, args);
    var mine = div === gd;  // the periodic table is another graph
    Promise.resolve(result).then(function () {
      if (window.__rec && mine) window.__rec.react.push([t0, performance.now()]);
    });
    return result;
  };
}
"""

#: Dash requests since the recording started: [start, end, response bytes] each.
REQUESTS_JS = """
var start = window.__rec.start;
return performance.getEntriesByType('resource')
  .filter(function (e) { return e.name.indexOf('_dash-update-component') >= 0 && e.startTime >= start; })
  .map(function (e) { return [e.startTime, e.responseEnd, e.encodedBodySize || e.transferSize || 0]; });
"""


def _idle(chrome, timeout: float = 120.0) -> None:
    _wait(lambda: chrome.execute_script(IDLE_JS), timeout)


def _record(chrome) -> None:
    chrome.execute_script("performance.clearResourceTimings(); performance.setResourceTimingBufferSize(10000);")
    chrome.execute_script(RECORD_JS)


def _finish(chrome, started: float) -> dict:
    """Times (ms after ``started``) of the last map redraw, the requests and the react calls."""
    time.sleep(0.3)
    _idle(chrome)
    time.sleep(0.5)  # a redraw can follow the last callback
    record = chrome.execute_script("return window.__rec;")
    requests = chrome.execute_script(REQUESTS_JS)
    last_redraw = max(record["afterplot"], default=float("nan"))
    return {
        "total": last_redraw - started,
        "server": sum(end - start for start, end, _ in requests),
        "bytes": sum(size for _, _, size in requests),
        "requests": len(requests),
        "react": sum(end - start for start, end in record["react"]),
        "redraws": len(record["afterplot"]),
    }


def _open(chrome, url: str) -> None:
    chrome.get(url)
    ready = "var gd = document.querySelector('#map-graph .js-plotly-plot'); return !!(gd && gd._fullData && gd._fullData.length >= 4 && gd._fullData[0].x.length);"
    _wait(lambda: chrome.execute_script(ready), 300)
    _idle(chrome)
    time.sleep(1.0)


def measure_lasso(chrome, url: str, repeats: int) -> list[dict]:
    """Lasso a region (each lasso adds to the selection), then clear: time to the redrawn map."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    _open(chrome, url)
    results = []
    for k in range(repeats + 1):
        chrome.execute_script("window.scrollTo(0, 0);")
        chrome.find_element("id", "selection-clear").click()
        _idle(chrome)
        time.sleep(0.8)
        corners = chrome.execute_script(
            "var gd = document.querySelector('#map-graph .js-plotly-plot'); var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;"
            "var r = gd.getBoundingClientRect(); return [r.left + xa._offset, r.top + ya._offset, xa._length, ya._length];"
        )
        left, top, width, height = corners
        cx, cy = left + width * (0.4 + 0.03 * (k % 4)), top + height * 0.5
        radius = 0.12 * min(width, height)
        path = [(cx + radius * np.cos(a), cy + radius * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 25)]
        _record(chrome)
        chrome.execute_script(
            "document.addEventListener('mousedown', function (e) { window.__rec.down = performance.now(); }, {capture: true, once: true});"
            "document.addEventListener('mouseup', function (e) { window.__rec.action = performance.now(); }, {capture: true, once: true});"
        )
        builder = ActionBuilder(chrome)
        pointer = builder.pointer_action
        pointer.move_to_location(int(path[0][0]), int(path[0][1]))
        pointer.pointer_down()
        for x, y in path[1:]:
            pointer.move_to_location(int(x), int(y))
        pointer.pointer_up()
        builder.perform()
        _wait(lambda: chrome.execute_script("return window.__rec.action !== undefined;"), 30)
        started, pressed = chrome.execute_script("return [window.__rec.action, window.__rec.down];")
        result = _finish(chrome, started)
        result["drag"] = started - pressed  # 24 pointer moves: plotly selects (and used to redraw) at each
        result["selected"] = chrome.execute_script("var s = window.store.getState(); return (s.layout && 0) || document.getElementById('selection-count').textContent;")
        if k:
            results.append(result)
    return results


def measure_recolor(chrome, url: str, repeats: int, columns=("e_above_hull", "band_gap", "e_form")) -> list[dict]:
    """Change the map's colour column (through the dropdown): time to the redrawn map."""
    _open(chrome, url)
    results = []
    for k in range(repeats + 1):
        column = columns[k % len(columns)]
        chrome.execute_script("window.scrollTo(0, 0);")
        _idle(chrome)
        time.sleep(0.5)
        _record(chrome)
        # The dropdown's value set as a user choice would set it (dash_clientside.set_props).
        started = chrome.execute_script(
            "var t = performance.now(); window.dash_clientside.set_props('map-color', {value: arguments[0]}); return t;", column
        )
        result = _finish(chrome, started)
        if k:
            results.append(result)
    return results


def measure_first_search(chrome, url: str, formula: str, *, wait_before: float) -> dict:
    """Open the page, wait ``wait_before`` s, search a formula that is not in the map."""
    opened = time.perf_counter()
    _open(chrome, url)
    page_s = time.perf_counter() - opened - 1.0  # _open waits 1 s after the page is idle
    time.sleep(wait_before)
    box = chrome.find_element("id", "search-input")
    box.send_keys(formula)
    started = time.perf_counter()
    chrome.find_element("id", "search-go").click()
    _wait(lambda: formula in chrome.find_element("id", "search-message").text, 120)
    return {"search_s": time.perf_counter() - started, "page_s": page_s, "message": chrome.find_element("id", "search-message").text}


def baseline_server(points: pd.DataFrame):
    """The baseline the app beats: a plain Dash app whose element buttons make the server send a
    whole new figure (all points faded plus the matching ones on top), as a straightforward
    Dash implementation would. Same points, same element-membership test, same scattergl."""
    import dash
    import plotly.graph_objects as go
    from dash import ALL, Input, Output, ctx, dcc, html
    from werkzeug.serving import make_server

    from dashboard.maps import highlight_mask, membership_matrix

    membership, _ = membership_matrix(points["formula"].to_numpy())
    membership_csc = membership.tocsc()
    row_counts = np.asarray(membership.sum(axis=1)).ravel()
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    color = points["band_gap"].to_numpy() if "band_gap" in points.columns else np.zeros(len(points))

    def figure(rows: np.ndarray | None) -> go.Figure:
        faded = 0.13 if rows is not None else 0.8
        traces = [go.Scattergl(x=x, y=y, mode="markers", marker={"size": 4, "color": color, "colorscale": "Viridis", "opacity": faded}, hoverinfo="skip")]
        if rows is not None:
            traces.append(go.Scattergl(x=x[rows], y=y[rows], mode="markers", marker={"size": 4, "color": color[rows], "colorscale": "Viridis"}))
        return go.Figure(traces, layout={"height": 800, "showlegend": False, "uirevision": "keep"})

    app = dash.Dash(__name__)
    app.layout = html.Div(
        [
            html.Div([html.Button(symbol, id={"type": "element", "symbol": symbol}) for symbol in ELEMENTS]),
            dcc.Graph(id="baseline-graph", figure=figure(None)),
        ]
    )

    @app.callback(Output("baseline-graph", "figure"), Input({"type": "element", "symbol": ALL}, "n_clicks"), prevent_initial_call=True)
    def highlight(_clicks):
        from fingerprints.elements import SYMBOL_TO_INDEX

        rows = np.flatnonzero(highlight_mask(membership_csc, row_counts, [SYMBOL_TO_INDEX[ctx.triggered_id["symbol"]]], "all"))
        return figure(rows)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", _free_port(), app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


BASELINE_ARM_JS = """
var gd = document.querySelector('#baseline-graph .js-plotly-plot');
window.__bench = {click: null, done: null};
document.addEventListener('click', function (e) { if (window.__bench.click === null) window.__bench.click = e.timeStamp; }, {capture: true, once: true});
if (!gd.__benchArmed) {
  gd.__benchArmed = true;
  gd.on('plotly_afterplot', function () {
    if (!window.__bench || window.__bench.click === null || window.__bench.done !== null) return;
    requestAnimationFrame(function () { requestAnimationFrame(function () { window.__bench.done = performance.now(); }); });
  });
}
"""


def measure_baseline(chrome, url: str, repeats: int) -> list[float]:
    """Element button click -> the server's new figure drawn (same end point as ``measure``)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    chrome.get(url)
    ready = "var gd = document.querySelector('#baseline-graph .js-plotly-plot'); return !!(gd && gd._fullData && gd._fullData.length && gd._fullData[0].x.length);"
    _wait(lambda: chrome.execute_script(ready), 300)
    time.sleep(2.0)
    totals = []
    for k in range(repeats + 1):  # the first click warms caches and is not counted
        symbol = ELEMENTS[k % len(ELEMENTS)]
        _wait(lambda: chrome.execute_script(IDLE_JS), 300)
        time.sleep(0.5)
        x, y = chrome.execute_script(
            "var symbol = arguments[0];"
            "var b = Array.from(document.querySelectorAll('button')).find(function (e) { return e.textContent === symbol; });"
            "var r = b.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2];",
            symbol,
        )
        chrome.execute_script(BASELINE_ARM_JS)
        builder = ActionBuilder(chrome)
        builder.pointer_action.move_to_location(int(x), int(y))
        builder.pointer_action.click()
        builder.perform()
        done = _wait(lambda: chrome.execute_script("return window.__bench.done !== null && window.__bench;"), 300)
        if k:
            totals.append(done["done"] - done["click"])
    return totals


def _summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(v for v in values if v == v)
    if not ordered:
        return float("nan"), float("nan")
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def _print_actions(label: str, results: list[dict]) -> None:
    def median(key):
        return _summary([r[key] for r in results])[0]

    drag = f" {median('drag'):>8.0f}" if "drag" in results[0] else ""
    print(
        f"{label:>10} {median('total'):>10.0f} {_summary([r['total'] for r in results])[1]:>8.0f} {median('server'):>10.0f} "
        f"{median('react'):>9.0f} {median('bytes') / 1e6:>9.2f} {median('requests'):>5.0f} {median('redraws'):>8.0f}{drag}",
        flush=True,
    )


def serve_child(map_dir: Path, port: int, *, warm: bool) -> int:
    """A fresh server process (the first search's cost is per process: numba compiles once)."""
    from dashboard import maps

    logging.basicConfig(level=logging.WARNING, format="  server: %(message)s")
    logging.getLogger("dashboard.maps").setLevel(logging.INFO)  # "map ... warmed up in ... s"
    maps.MAPS.warm_in_background = warm
    server = serve(map_dir.parent, map_dir, port=port)
    print("ready", flush=True)
    server.serve_forever()
    return 0


def first_search(args) -> int:
    import subprocess

    formula = "Li7La3Zr2O12Ta0.25"
    print(f"first search of a new formula ({formula}) on {args.map}, {args.repeats} fresh server processes each")
    for warm in (False, True):
        times = []
        for _ in range(args.repeats):
            port = _free_port()
            child = subprocess.Popen(
                [sys.executable, __file__, "--serve-child", str(args.map), str(port), "warm" if warm else "cold"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                started = time.perf_counter()
                assert child.stdout.readline().strip() == "ready"
                server_start = time.perf_counter() - started
                chrome = browser()
                try:
                    result = measure_first_search(chrome, f"http://127.0.0.1:{port}/", formula, wait_before=args.wait)
                finally:
                    chrome.quit()
            finally:
                child.terminate()
                child.wait(30)
            times.append(result["search_s"])
            print(
                f"  warm-up {'on ' if warm else 'off'}: server ready in {server_start:.1f} s, page loaded in "
                f"{result['page_s']:.1f} s, first search {result['search_s']:.2f} s"
            )
        print(f"warm-up {'on ' if warm else 'off'}: median first search {statistics.median(times):.2f} s", flush=True)
    return 0


def main(argv=None) -> int:
    from data.map_build import default_map_dir

    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--serve-child":
        return serve_child(Path(sys.argv[2]), int(sys.argv[3]), warm=sys.argv[4] == "warm")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--map", type=Path, default=default_map_dir(), help="source map (default: the built-in default map)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="numbers of points (default 100k and 1M)")
    parser.add_argument("--repeats", type=int, default=15, help="timed actions per size (default 15)")
    parser.add_argument("--mode", choices=("all", "any", "only"), default="all")
    parser.add_argument(
        "--action", choices=("click", "lasso", "recolor", "first-search"), default="click",
        help="click: element tile -> highlighted map (default); lasso: lasso on the map -> selection drawn and "
        "table filled; recolor: new colour column -> redrawn map; first-search: a new formula searched right "
        "after a fresh server start, with and without the background warm-up (on --map itself)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-repeats", type=int, default=5,
        help="click: timed clicks on the baseline app (the server sends a whole new figure) per size, 0 to skip (default 5)",
    )  # fmt: skip
    parser.add_argument("--wait", type=float, default=0.0, help="first-search: seconds between the page load and the search")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (args.map / "metadata.json").is_file():
        print(f"no map at {args.map}: build one with python app.py build-map ... --out {args.map}", file=sys.stderr)
        return 2
    if args.action == "first-search":
        return first_search(args)
    source_rows = read_metadata(args.map)["rows"]
    with tempfile.TemporaryDirectory(prefix="chemmap-bench-") as folder:
        root = Path(folder) / "maps"
        chrome = browser()
        try:
            print(f"source map {args.map} ({source_rows:,} compounds); {args.repeats} {args.action}s per size")
            if args.action == "click":
                print(f"mode '{args.mode}'")
                print(f"{'points':>10} {'median ms':>10} {'p95 ms':>8} {'server median ms':>17}  goal {GOAL_MS:.0f} ms")
            else:
                drag = f" {'drag ms':>8}" if args.action == "lasso" else ""
                print(f"{'points':>10} {'median ms':>10} {'p95 ms':>8} {'server ms':>10} {'react ms':>9} {'MB sent':>9} {'reqs':>5} {'redraws':>8}{drag}")
                print("  (median: mouse released / colour chosen -> map redrawn; react: time in Plotly.react of the map)")
            for size in args.sizes:
                name = f"bench-{size}"
                started = time.perf_counter()
                synthetic_map(args.map, root / name, size)
                built = time.perf_counter() - started
                server = serve(root, root / name)
                try:
                    url = f"http://127.0.0.1:{server.server_port}/?map={name}"
                    if args.action == "lasso":
                        _print_actions(f"{size:,}", measure_lasso(chrome, url, args.repeats))
                        continue
                    if args.action == "recolor":
                        _print_actions(f"{size:,}", measure_recolor(chrome, url, args.repeats))
                        continue
                    totals, requests = measure(chrome, url, args.repeats, mode=args.mode)
                finally:
                    server.shutdown()
                median, p95 = _summary(totals)
                server_median, _ = _summary(requests)
                verdict = "meets" if median < GOAL_MS else "misses"
                print(f"{size:>10,} {median:>10.0f} {p95:>8.0f} {server_median:>17.0f}  {verdict} the goal (map written in {built:.1f} s)", flush=True)
                if args.baseline_repeats and args.mode == "all":
                    baseline = baseline_server(pd.read_parquet(root / name / POINTS_FILE))
                    try:
                        base_median, base_p95 = _summary(measure_baseline(chrome, f"http://127.0.0.1:{baseline.server_port}/", args.baseline_repeats))
                    finally:
                        baseline.shutdown()
                    print(
                        f"{'baseline':>10} {base_median:>10.0f} {base_p95:>8.0f} {'':>17}  whole figure sent by the server; "
                        f"ours is x{base_median / median:.1f} faster (median)",
                        flush=True,
                    )
        finally:
            chrome.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
