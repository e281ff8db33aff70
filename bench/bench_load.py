"""Load test: simulated users sending the app's real callback requests to a multi-worker server.

    python bench/bench_load.py                                  # 20 users, 60 s, gunicorn -w 4, built-in map
    python bench/bench_load.py --users 20 --duration 20 --baseline-duration 10
    python bench/bench_load.py --map DIR --workers 2            # another map
    python bench/bench_load.py --url http://127.0.0.1:8050      # a server already running (no baseline)

Each simulated user opens the page, then repeats actions with think times (``--think``, default
0.2-1.0 s):

- click a periodic-table tile (toggle an element, at most three selected),
- change the colouring of the materials map (the full map figure),
- search a formula of the map or a new one (out-of-sample placement),
- lasso a region of the map (a box around a random compound; the selection is cleared when it
  grows past 5,000 compounds).

The requests are the ones Dash's renderer sends: read from ``/_dash-dependencies``, filled
with the values of the rendered page, and chained as the renderer chains them (an answer that
sets a property fires the server callbacks that take it as input; those of one step go out in
parallel). Clientside callbacks (``assets/chemmap.js``) are mimicked where they feed the
server (a tile click sets the selected elements and the similarity element; a lasso sends
row numbers). Each callback is reported under its own name (``highlight``, ``map-figure``,
``search``, ``lasso``, ...).

An error is a transport failure, a status other than 200 or 204 (Dash's "nothing to
update"), or a 200 whose body carries the app's error message (a component with class
``error`` or a figure that only says why nothing is drawn).

The bench starts the server itself, on a free loopback port: gunicorn with ``--workers``
(default 4) and the repository's ``gunicorn.conf.py``, on ``--map`` (default the built-in
map, which must exist: ``python app.py serve`` builds it). In the same run it measures the
baseline, the single-process development server (``python app.py serve``: werkzeug,
threaded) under the same load for ``--baseline-duration`` seconds, and prints the ratios.
Request loops are bounded in time (``--duration``) and count (``--max-actions``); the
servers are stopped at the end. Writes ``bench/results/load.json`` and ``load.md``.
Goal (issue #8): no error, p95 under 500 ms with 4 workers and 20 users.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

try:  # the client parses multi-megabyte map figures: orjson keeps its share of the CPU small
    from orjson import loads
except ImportError:  # pragma: no cover
    from json import loads

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
GOAL_P95_MS = 500.0
#: Request threads per user, shared by all users: the requests of one renderer step go out
#: together, as a browser's (which opens up to six connections per server) would.
PARALLEL_PER_USER = 4
THINK_SECONDS = (0.2, 1.0)
ACTION_WEIGHTS = {"click": 0.45, "colour": 0.10, "search": 0.25, "lasso": 0.20}
MAX_SELECTED_ELEMENTS = 3
MAX_SELECTION = 5_000
#: Share of the map's extent on each side of a lasso box.
LASSO_SHARE = 0.04
#: New compositions for out-of-sample searches (checked against the map at start-up).
NEW_FORMULAS = (
    "Na2Fe3Cl11", "K3Zr2Se9", "Ba7Cu3Te13", "Li5Ga3S7", "Rb3Sc2F11", "Sr4Ti3Br9", "Cs3Mn2I9",
    "Ca5Co2N7", "Mg3Ni4P9", "Zn5Al2Se11", "Li3Co7O13", "Na5Ti3S11",
)  # fmt: skip
#: Elements clicked by the users (common in most maps; absent ones are skipped).
CLICK_ELEMENTS = ("O", "Fe", "Li", "S", "Cu", "N", "Mn", "Si", "Co", "Ba", "Na", "Ti", "Zn", "Al", "Ca", "Mg")
#: Prefix of the requests that load the page (the render and the initial callbacks).
OPENING = "open/"
#: Report names of the callbacks, by their first output.
LABELS = {
    "page.children": "page",
    "url-query.data": "address",
    "url.search": "switch-map",
    "ptable-graph.figure": "periodic-table",
    "highlight-count.children": "highlight",
    "map-graph.figure": "map-figure",
    "selection-rows.data": "lasso",
    "selection-grid.rowData": "selection-table",
    "selection-download.data": "selection-csv",
    "search-result.data": "search",
    "focus-compound.data": "focus",
    "details.children": "details",
    "sim-bar.figure": "similarity",
    "heatmap.figure": "heatmap",
    "upload-overlay.data": "upload",
    "export-modal.className": "export-dialog",
    "export-download.data": "export",
}


# ------------------------------------------------------------------ Dash's callback protocol


def split_outputs(output: str) -> list[tuple[object, str]]:
    """``"..a.b...c.d@h.."`` or ``"a.b"`` -> ``[(id, prop), ...]`` (props keep their ``@hash``)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    result = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        result.append((json.loads(ident) if ident.startswith("{") else ident, prop))
    return result


def prop_key(ident: object, prop: str) -> str:
    """``"id.prop"`` as in ``changedPropIds`` (``@hash`` removed)."""
    ident = json.dumps(ident, sort_keys=True, separators=(",", ":")) if isinstance(ident, dict) else ident
    return f"{ident}.{prop.split('@')[0]}"


@dataclass(frozen=True)
class Callback:
    """One server-side callback of ``/_dash-dependencies``."""

    output: str
    outputs: tuple[tuple[object, str], ...]
    inputs: tuple[tuple[object, str], ...]
    states: tuple[tuple[object, str], ...]
    prevent_initial_call: bool

    @property
    def label(self) -> str:
        ident, prop = self.outputs[0]
        key = prop_key(ident, prop)
        name = LABELS.get(key, key)
        if "@" in prop:  # a second callback writing the same property (a patch)
            name += "-patch"
        return name

    @property
    def input_keys(self) -> set[str]:
        return {prop_key(i, p) for i, p in self.inputs}

    @property
    def has_wildcards(self) -> bool:
        return any(isinstance(i, dict) for i, _ in self.inputs + self.states)

    def payload(self, values: dict, changed: list[str]) -> dict:
        """The JSON body the renderer posts for this callback, filled from ``values``."""

        def entry(ident, prop):
            if isinstance(ident, dict):  # pattern-matching ALL: none of these components exist yet
                return []
            return {"id": ident, "property": prop, "value": values.get(prop_key(ident, prop))}

        outputs = [{"id": i, "property": p} for i, p in self.outputs]
        return {
            "output": self.output,
            "outputs": outputs if self.output.startswith("..") else outputs[0],
            "inputs": [entry(i, p) for i, p in self.inputs],
            "state": [entry(i, p) for i, p in self.states],
            "changedPropIds": [key for key in changed if key in self.input_keys],
        }


def server_callbacks(dependencies: list[dict]) -> list[Callback]:
    """The server-side callbacks (clientside ones run in the browser and are mimicked here)."""

    def pairs(items):
        return tuple((json.loads(x["id"]) if x["id"].startswith("{") else x["id"], x["property"]) for x in items)

    return [
        Callback(
            output=d["output"],
            outputs=tuple(split_outputs(d["output"])),
            inputs=pairs(d["inputs"]),
            states=pairs(d["state"]),
            prevent_initial_call=bool(d.get("prevent_initial_call")),
        )
        for d in dependencies
        if not d.get("clientside_function") and not d.get("no_output")
    ]


def walk_components(node, found: dict) -> dict:
    """Every component with a string id in a layout tree: ``{id: props}``."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found[props["id"]] = props
        for value in node.values():
            walk_components(value, found)
    elif isinstance(node, list):
        for value in node:
            walk_components(value, found)
    return found


def error_in(value) -> str | None:
    """The app's error message in a callback answer, if any (see ``validate.guarded``)."""
    if isinstance(value, dict):
        props = value.get("props")
        if isinstance(props, dict) and "error" in str(props.get("className", "")).split():
            return _text(props.get("children"))[:200] or "error"
        layout = value.get("layout")
        if "data" in value and isinstance(layout, dict) and value.get("data") == [] and layout.get("annotations"):
            return str(layout["annotations"][0].get("text", "message figure"))[:200]
        for item in value.values():
            found = error_in(item)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = error_in(item)
            if found:
                return found
    return None


def _text(children) -> str:
    if isinstance(children, str):
        return children
    if isinstance(children, list):
        return " ".join(_text(c) for c in children)
    if isinstance(children, dict):
        return _text(children.get("props", {}).get("children"))
    return ""


def decode_array(value) -> np.ndarray:
    """A plotly array: a plain list or ``{"dtype", "bdata"}`` (base64 typed array)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


# ------------------------------------------------------------------ one browser tab


def loopback_session() -> requests.Session:
    """A session that ignores proxy settings from the environment (all traffic stays on loopback)."""
    session = requests.Session()
    session.trust_env = False
    return session


@dataclass
class Record:
    label: str
    started: float
    seconds: float
    status: int
    error: str | None
    bytes: int = 0


@dataclass
class MapFacts:
    """What the users need to know about the served map (read from its page and figure)."""

    name: str
    colours: list[str]
    formulas: np.ndarray
    x: np.ndarray
    y: np.ndarray
    elements: list[str]

    @property
    def n_points(self) -> int:
        return len(self.formulas)


class Tab:
    """One browser tab: the page's property values, and the requests the renderer would send.

    ``act(changed)`` sends every server callback that takes one of ``changed`` as input, in
    parallel, applies the answers to the page's values and goes on with the properties they
    set, as Dash's renderer does. ``answers`` keeps every (label, JSON answer) in order when
    ``keep_answers`` is true (the determinism test compares them between servers).
    """

    def __init__(self, base_url: str, *, pool: ThreadPoolExecutor | None = None, records: list | None = None,
                 keep_answers: bool = False, timeout: float = 120.0, session_factory=None):  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.pool = pool
        self.records = records if records is not None else []
        self.keep_answers = keep_answers
        self.answers: list[tuple[str, object]] = []
        self.timeout = timeout
        self._local = threading.local()
        self._session_factory = session_factory or loopback_session
        self.callbacks = server_callbacks(self._get("/_dash-dependencies").json())
        self.values: dict[str, object] = {}
        self.tag = ""  # replaces the label of the next requests of that callback (e.g. "search-new")
        self.opening = False  # True while the page loads: its requests are reported apart

    # -- HTTP
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._session_factory()
        return session

    def _get(self, path: str) -> requests.Response:
        response = self._session().get(self.base_url + path, timeout=self.timeout)
        response.raise_for_status()
        return response

    def post(self, callback: Callback, changed: list[str]) -> dict | None:
        """Send one callback; record its time and outcome; the parsed answer or None."""
        body = callback.payload(self.values, changed)
        label = self.tag if self.tag and callback.label == self.tag.split("-")[0] else callback.label
        if self.opening:
            label = OPENING + label
        started = time.perf_counter()
        status, error, answer, size = 0, None, None, 0
        try:
            # The time is taken once the whole answer has arrived, before the client parses it.
            response = self._session().post(self.base_url + "/_dash-update-component", json=body, timeout=self.timeout)
            seconds = time.perf_counter() - started
            status, size = response.status_code, len(response.content)
            if status == 200:
                answer = loads(response.content)
                error = error_in(answer.get("response"))
            elif status != 204:
                error = f"HTTP {status}: {response.text[:200]}"
        except (requests.RequestException, ValueError) as err:
            seconds = time.perf_counter() - started
            error = f"{type(err).__name__}: {str(err)[:200]}"
        self.records.append(Record(label, started, seconds, status, error, size))
        if self.keep_answers:
            self.answers.append((label, answer if status == 200 else status))
        return answer

    # -- the renderer
    def open(self, search: str = "") -> None:
        """Render the page for ``?search``, then run its initial callbacks (as on page load)."""
        self.values = {"url.search": search}
        render = next(c for c in self.callbacks if c.label == "page")
        self.opening = True
        try:
            self._open(render)
        finally:
            self.opening = False

    def _open(self, render: Callback) -> None:
        answer = self.post(render, ["url.search"])
        if answer is None:
            raise RuntimeError("the page did not render")
        page = answer["response"]["page"]["children"]
        for ident, props in walk_components(page, {}).items():
            for prop, value in props.items():
                if prop not in ("id", "children"):
                    self.values[f"{ident}.{prop}"] = value
        present = {key.rsplit(".", 1)[0] for key in self.values}
        initial = [
            c for c in self.callbacks
            if not c.prevent_initial_call and c.label != "page" and not c.has_wildcards
            and all(isinstance(i, str) and i in present for i, _ in c.inputs)
        ]  # fmt: skip
        self._run_step(initial, [])

    def act(self, changed: dict[str, object], *, depth: int = 4) -> None:
        """Set ``changed`` (as a clientside callback or a control would) and run what follows."""
        self.values.update(changed)
        keys = list(changed)
        for _ in range(depth):
            fired = [c for c in self.callbacks if c.input_keys & set(keys) and not c.has_wildcards]
            if not fired:
                return
            keys = self._run_step(fired, keys)

    def _run_step(self, fired: list[Callback], changed: list[str]) -> list[str]:
        if self.pool is not None and len(fired) > 1:
            answers = list(self.pool.map(lambda c: self.post(c, changed), fired))
        else:
            answers = [self.post(c, changed) for c in fired]
        newly: list[str] = []
        for answer in answers:
            for ident, props in ((answer or {}).get("response") or {}).items():
                for prop, value in props.items():
                    key = f"{ident}.{prop}"
                    if isinstance(value, dict) and "__dash_patch_update" in value:
                        continue  # a figure patch: only the browser keeps the figure
                    self.values[key] = value
                    newly.append(key)
        return list(dict.fromkeys(newly))

    # -- what the users do
    def click(self, symbol: str) -> None:
        selected = list(self.values.get("selected-elements.data") or [])
        selected.remove(symbol) if symbol in selected else selected.append(symbol)
        self.act({"selected-elements.data": selected, "sim-element.value": symbol})

    def colour(self, column: str) -> None:
        self.act({"map-color.value": column})

    def search(self, formula: str) -> None:
        clicks = int(self.values.get("search-go.n_clicks") or 0) + 1
        self.act({"search-input.value": formula, "search-go.n_clicks": clicks})

    def lasso(self, rows: list[int]) -> None:
        self.act({"lasso-event.data": {"rows": [int(r) for r in rows], "time": 0}})

    def clear_selection(self) -> None:
        clicks = int(self.values.get("selection-clear.n_clicks") or 0) + 1
        self.act({"selection-clear.n_clicks": clicks})

    def upload(self, name: str, data: bytes) -> None:
        url = "data:text/csv;base64," + base64.b64encode(data).decode("ascii")
        self.act({"upload.contents": url, "upload.filename": name})

    def map_facts(self) -> MapFacts:
        """The served map, from the page's values and its full figure (after ``open``)."""
        figure = self.values.get("map-graph.figure")
        if not isinstance(figure, dict):
            raise RuntimeError("the map figure did not arrive: is a map served?")
        base = figure["data"][0]
        options = self.values.get("map-color.options") or []
        table = self.values.get("sim-element.options") or []
        return MapFacts(
            name=str(self.values.get("map-name.data")),
            colours=[o["value"] for o in options],
            formulas=np.asarray(decode_array(base["text"]), dtype=object),
            x=decode_array(base["x"]).astype(np.float64),
            y=decode_array(base["y"]).astype(np.float64),
            elements=[o["value"] for o in table if isinstance(o, dict)],
        )


def lasso_rows(facts: MapFacts, rng: random.Random, *, share: float = LASSO_SHARE) -> list[int]:
    """Rows inside a box around a random compound (what a box selection there would send)."""
    finite = np.isfinite(facts.x) & np.isfinite(facts.y)
    centre = rng.choice(np.flatnonzero(finite).tolist())
    half_x = share * float(np.ptp(facts.x[finite]) or 1.0)
    half_y = share * float(np.ptp(facts.y[finite]) or 1.0)
    inside = finite & (np.abs(facts.x - facts.x[centre]) <= half_x) & (np.abs(facts.y - facts.y[centre]) <= half_y)
    return np.flatnonzero(inside).tolist()


# ------------------------------------------------------------------ the load


@dataclass
class LoadResult:
    records: list[Record]
    seconds: float
    users: int
    actions: int
    setup_errors: list[str] = field(default_factory=list)
    server_cpu_seconds: float | None = None
    client_cpu_seconds: float | None = None


def user_loop(base_url: str, facts: MapFacts, known: list[str], new: list[str], *, seed: int, start: float, deadline: float,
              budget: threading.Semaphore, records: list, pool: ThreadPoolExecutor, done: list,
              think: tuple[float, float] = THINK_SECONDS) -> None:  # fmt: skip
    """One simulated user: arrive at ``start``, open the page, then random actions with think
    times until the deadline (or until the shared action budget is spent)."""
    rng = random.Random(seed)
    time.sleep(max(0.0, start - time.perf_counter()))
    if time.perf_counter() >= deadline:
        return
    tab = Tab(base_url, pool=pool, records=records)
    tab.open()
    clickable = [e for e in CLICK_ELEMENTS if e in facts.elements] or facts.elements[:10]
    actions, weights = zip(*ACTION_WEIGHTS.items())
    while time.perf_counter() < deadline:
        if not budget.acquire(blocking=False):
            return
        action = rng.choices(actions, weights)[0]
        if action == "click":
            selected = list(tab.values.get("selected-elements.data") or [])
            if len(selected) >= MAX_SELECTED_ELEMENTS:
                tab.click(rng.choice(selected))
            else:
                tab.click(rng.choice(clickable))
        elif action == "colour":
            current = tab.values.get("map-color.value")
            tab.colour(rng.choice([c for c in facts.colours if c != current] or facts.colours))
        elif action == "search":
            fresh = new and (not known or rng.random() < 0.5)
            tab.tag = "search-new" if fresh else "search-known"
            tab.search(rng.choice(new if fresh else known))
            tab.tag = ""
        else:
            if len(tab.values.get("selection-rows.data") or []) > MAX_SELECTION:
                tab.clear_selection()
            tab.lasso(lasso_rows(facts, rng))
        done.append(action)
        pause = rng.uniform(*think)
        time.sleep(max(0.0, min(pause, deadline - time.perf_counter())))


def run_load(base_url: str, *, users: int, duration: float, max_actions: int, seed: int = 0,
             think: tuple[float, float] = THINK_SECONDS, ramp_up: float = 0.0, cpu_seconds=None) -> LoadResult:  # fmt: skip
    """``users`` simulated users for ``duration`` seconds (at most ``max_actions`` actions in all).

    User ``i`` arrives ``i * ramp_up / users`` seconds after the start. ``cpu_seconds``, when
    given, returns the CPU time the server has used so far (read before and after the load).
    """
    probe = Tab(base_url)
    probe.open()
    facts = probe.map_facts()
    known = [str(f) for f in facts.formulas[:: max(1, facts.n_points // 50)][:50]]
    placed = set(facts.formulas.tolist())
    new = [f for f in NEW_FORMULAS if f not in placed]
    records: list[Record] = []
    budget = threading.Semaphore(max_actions)
    done: list[str] = []
    errors: list[str] = []
    pool = ThreadPoolExecutor(max_workers=users * PARALLEL_PER_USER, thread_name_prefix="request")
    cpu_before = cpu_seconds() if cpu_seconds else None
    client_before = time.process_time()
    started = time.perf_counter()
    deadline = started + duration

    def guarded(i):
        try:
            user_loop(base_url, facts, known, new, seed=seed + i, start=started + i * ramp_up / users, deadline=deadline,
                      budget=budget, records=records, pool=pool, done=done, think=think)  # fmt: skip
        except Exception as err:  # noqa: BLE001 - one broken user is reported, not fatal
            errors.append(f"user {i}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=guarded, args=(i,), name=f"user-{i}", daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 300)
    elapsed = time.perf_counter() - started
    pool.shutdown(wait=True)
    cpu = cpu_seconds() - cpu_before if cpu_seconds else None
    return LoadResult(records=list(records), seconds=elapsed, users=users, actions=len(done), setup_errors=errors,
                      server_cpu_seconds=cpu, client_cpu_seconds=time.process_time() - client_before)  # fmt: skip


def _stats(records: list[Record], seconds: float) -> dict:
    ms = np.array([r.seconds * 1000 for r in records]) if records else np.zeros(0)
    errors = [r for r in records if r.error]

    def percentile(q):
        return round(float(np.percentile(ms, q)), 1) if ms.size else None

    return {
        "requests": len(records),
        "throughput_rps": round(len(records) / seconds, 2) if seconds else None,
        "errors": len(errors),
        "p50_ms": percentile(50),
        "p95_ms": percentile(95),
        "p99_ms": percentile(99),
        "max_ms": round(float(ms.max()), 1) if ms.size else None,
        "mean_kb": round(sum(r.bytes for r in records) / len(records) / 1024, 1) if records else None,
        "error_examples": sorted({r.error for r in errors})[:5],
    }


def summarise(result: LoadResult) -> dict:
    """Throughput, latency percentiles and errors: every request, the interactions alone (the
    page loads apart), and each callback; plus the server's CPU time when it was measured."""
    interactions = [r for r in result.records if not r.label.startswith(OPENING)]
    overall = _stats(result.records, result.seconds)
    overall.update(
        actions=result.actions,
        seconds=round(result.seconds, 1),
        users=result.users,
        user_failures=result.setup_errors,
        server_cpu_seconds=None if result.server_cpu_seconds is None else round(result.server_cpu_seconds, 1),
        client_cpu_seconds=None if result.client_cpu_seconds is None else round(result.client_cpu_seconds, 1),
        server_cpu_ms_per_request=(
            round(1000 * result.server_cpu_seconds / len(result.records), 1) if result.server_cpu_seconds and result.records else None
        ),
    )
    labels = sorted({r.label for r in result.records}, key=lambda label: (label.startswith(OPENING), label))
    return {
        "overall": overall,
        "interactions": _stats(interactions, result.seconds),
        "by_callback": {label: _stats([r for r in result.records if r.label == label], result.seconds) for label in labels},
    }


# ------------------------------------------------------------------ servers


def is_loopback_url(url: str) -> bool:
    """True for an ``http://`` URL whose host is a loopback address or ``localhost``."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on a free loopback port, stopped (its whole process group) on exit."""

    def __init__(self, command: list[str], *, env: dict, port: int, log_path: Path, start_timeout: float = 300):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if loopback_session().get(self.url + "/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start ({' '.join(command)}); log: {log_path}\n{log_path.read_text()[-2000:]}")
            time.sleep(0.5)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (workers included)."""
        import psutil

        total = 0.0
        try:
            root = psutil.Process(self.process.pid)
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            pass
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def server_env(map_dir: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHEMMAP_") or k == "CHEMMAP_CACHE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    if map_dir is not None:
        env["CHEMMAP_MAP"] = str(map_dir)
    return env


def gunicorn_server(map_dir: Path | None, *, workers: int, log_path: Path, threads: int = 1) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    if threads > 1:  # gunicorn's gthread worker
        command += ["--threads", str(threads)]
    return Server(command, env=server_env(map_dir), port=port, log_path=log_path)


def dev_server(map_dir: Path | None, *, log_path: Path) -> Server:
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if map_dir is not None:
        command += ["--map", str(map_dir)]
    return Server(command, env=server_env(None), port=port, log_path=log_path)


# ------------------------------------------------------------------ report


def _row(name: str, o: dict) -> str:
    return f"| {name} | {o['requests']} | {o['throughput_rps']} | {o['errors']} | {o['p50_ms']} | {o['p95_ms']} | {o['p99_ms']} | {o['max_ms']} | {o['mean_kb']} |"


def markdown(report: dict) -> str:
    think = report["think_seconds"]
    lines = [
        "# Load test (bench/bench_load.py)",
        "",
        f"Machine: {report['machine']}. Map: {report['map']}. {report['users']} users arriving over "
        f"{report['ramp_up_seconds']} s, think time {think[0]}-{think[1]} s, up to {PARALLEL_PER_USER} parallel requests per user. "
        f"Command: `{report['command']}`.",
        "",
        "| server | seconds | actions | requests | req/s | errors | p50 ms | p95 ms | p99 ms | server CPU s (ms/request) | client CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in report["runs"].items():
        o = run["overall"]
        lines.append(
            f"| {name} | {o['seconds']} | {o['actions']} | {o['requests']} | {o['throughput_rps']} | {o['errors']} | "
            f"{o['p50_ms']} | {o['p95_ms']} | {o['p99_ms']} | {o['server_cpu_seconds']} ({o['server_cpu_ms_per_request']}) | {o['client_cpu_seconds']} |"
        )
    if "ratios" in report:
        r = report["ratios"]
        lines += ["", f"Against the development server in the same run: throughput x{r['throughput']}, p95 latency x{r['p95']} (lower is better)."]
    lines += ["", f"Goal (issue #8: 20 users, 4 workers, 60 s): no error and p95 under {GOAL_P95_MS:.0f} ms. This run: {report['goal']}."]
    for name, run in report["runs"].items():
        lines += [
            "", f"## {name}", "",
            "| requests | count | req/s | errors | p50 ms | p95 ms | p99 ms | max ms | answer kB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            _row("all", run["overall"]), _row("interactions (page loads apart)", run["interactions"]),
        ]  # fmt: skip
        lines += [_row(label, stats) for label, stats in run["by_callback"].items()]
        examples = run["overall"]["error_examples"] + run["overall"]["user_failures"]
        if examples:
            lines += ["", "Errors (examples): " + "; ".join(examples)]
    return "\n".join(lines) + "\n"


def print_run(name: str, summary: dict) -> None:
    o, i = summary["overall"], summary["interactions"]
    cpu = f", server CPU {o['server_cpu_seconds']} s ({o['server_cpu_ms_per_request']} ms/request)" if o["server_cpu_seconds"] is not None else ""
    cpu += f", client CPU {o['client_cpu_seconds']} s"
    print(f"{name}: {o['actions']} actions, {o['requests']} requests in {o['seconds']} s = {o['throughput_rps']} req/s, "
          f"{o['errors']} errors, p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, p99 {o['p99_ms']} ms{cpu}")  # fmt: skip
    print(f"  interactions alone: {i['requests']} requests, p50 {i['p50_ms']} ms, p95 {i['p95_ms']} ms, p99 {i['p99_ms']} ms")
    for label, s in summary["by_callback"].items():
        print(f"  {label:<24} {s['requests']:>6} req {s['errors']:>4} err  p50 {s['p50_ms']:>8} p95 {s['p95_ms']:>8} p99 {s['p99_ms']:>8} ms")
    for example in o["error_examples"] + o["user_failures"]:
        print(f"  error: {example}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--max-actions", type=int, default=20_000, help="at most this many user actions in all (default 20000)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1: sync workers; more: gthread)")
    parser.add_argument("--map", type=Path, default=None, help="map directory (default: the built-in map, which must exist)")
    parser.add_argument("--url", default=None, help="measure a server already running at this loopback URL instead (no baseline)")
    parser.add_argument("--baseline-duration", type=float, default=20.0, help="seconds of the same load on the development server (0: skip)")
    parser.add_argument("--think", type=float, nargs=2, default=THINK_SECONDS, metavar=("MIN", "MAX"),
                        help=f"think time between a user's actions, seconds (default {THINK_SECONDS[0]} {THINK_SECONDS[1]})")
    parser.add_argument("--ramp-up", type=float, default=10.0, help="seconds over which the users arrive (default 10; at most half the duration)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json", help="JSON report (a .md summary is written beside it)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 200 or not 0 < args.duration <= 3600 or args.max_actions < 1:
        parser.error("--users must be 1..200, --duration 0..3600 s and --max-actions positive")
    if not 0 <= args.think[0] <= args.think[1] <= 60:
        parser.error("--think MIN MAX must satisfy 0 <= MIN <= MAX <= 60")
    if args.url and not is_loopback_url(args.url):
        parser.error("--url must be an http:// address on this machine's loopback (127.0.0.0/8, localhost or [::1])")
    map_dir = args.map
    if map_dir is None and not args.url:
        from data.map_build import default_map_dir

        if not (default_map_dir() / "metadata.json").is_file():
            print(f"no built-in map at {default_map_dir()}: run `python app.py serve` once to build it, or give --map", file=sys.stderr)
            return 2
    ramp_up = min(args.ramp_up, args.duration / 2)
    report = {
        "machine": f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}, load average at start {os.getloadavg()[0]:.2f}",
        "command": "python bench/bench_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "map": str(map_dir or "built-in default map"),
        "users": args.users,
        "think_seconds": list(args.think),
        "ramp_up_seconds": ramp_up,
        "duration_seconds": args.duration,
        "runs": {},
    }
    load = dict(users=args.users, max_actions=args.max_actions, seed=args.seed, think=tuple(args.think), ramp_up=ramp_up)
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    if args.url:
        summary = summarise(run_load(args.url, duration=args.duration, **load))
        report["runs"][f"server at {args.url}"] = summary
        print_run(args.url, summary)
    else:
        name = f"gunicorn, {args.workers} workers" + (f" x {args.threads} threads" if args.threads > 1 else "")
        with gunicorn_server(map_dir, workers=args.workers, threads=args.threads, log_path=logs / "chemmap-bench-gunicorn.log") as server:
            summary = summarise(run_load(server.url, duration=args.duration, cpu_seconds=server.cpu_seconds, **load))
        report["runs"][name] = summary
        print_run(name, summary)
        if args.baseline_duration > 0:
            with dev_server(map_dir, log_path=logs / "chemmap-bench-dev.log") as server:
                base = summarise(run_load(server.url, duration=args.baseline_duration, cpu_seconds=server.cpu_seconds, **load))
            report["runs"]["development server (python app.py serve)"] = base
            print_run("development server (baseline)", base)
            ours, theirs = summary["overall"], base["overall"]
            if ours["throughput_rps"] and theirs["throughput_rps"] and ours["p95_ms"] and theirs["p95_ms"]:
                report["ratios"] = {
                    "throughput": round(ours["throughput_rps"] / theirs["throughput_rps"], 2),
                    "p95": round(ours["p95_ms"] / theirs["p95_ms"], 2),
                }
                print(f"gunicorn vs development server: throughput x{report['ratios']['throughput']}, p95 x{report['ratios']['p95']}")
    first = next(iter(report["runs"].values()))["overall"]
    met = first["errors"] == 0 and not first["user_failures"] and first["p95_ms"] is not None and first["p95_ms"] < GOAL_P95_MS
    report["goal"] = ("met" if met else "missed") + f" (errors {first['errors']}, p95 {first['p95_ms']} ms)"
    print(f"goal (no error, p95 < {GOAL_P95_MS:.0f} ms): {report['goal']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
