"""Serving the app: size limits, the routes a request can reach, debug off, the WSGI entry point,
gunicorn's configuration, and the same answers from two independent server processes."""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import os
import runpy
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

import app as cli
from dashboard.app import create_app
from dashboard.callbacks import export
from dashboard.callbacks.context import AppContext
from dashboard.maps import MapChoiceError
from dashboard.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import bench_load  # noqa: E402

#: A line of app.py, to recognise its source in a response.
APP_SOURCE_MARK = "ChemMap: explore chemical space as a map. Entry point"
#: The routes the app registers (Flask rules), and the only one taking POST.
KNOWN_ROUTES = {
    "/assets/<path:filename>",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_dash-layout",
    "/_dash-dependencies",
    "/_dash-update-component",
    "/_reload-hash",
    "/_favicon.ico",
    "/",
    "/<path:path>",
}


@pytest.fixture(autouse=True)
def _no_server_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CHEMMAP_") and name != "CHEMMAP_CACHE_DIR" and name != "CHEMMAP_SHARED_DATA":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def served(small_map):
    """The app on the small map, with small limits (3 MB requests, 1 MB uploads)."""
    settings = ServerSettings(max_request_mb=3, max_upload_mb=1)
    return create_app(map_dir=small_map, maps_root=small_map.parent, settings=settings)


@pytest.fixture(scope="module")
def live_url(served):
    """``served`` on a free loopback port (werkzeug, threaded), for requests no client rewrites."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, served.server, threaded=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


class _TestClientResponse:
    """The parts of a ``requests.Response`` that ``bench_load.Tab`` reads."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.content = response.get_data()
        self.text = response.get_data(as_text=True)

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self):
        assert self.status_code < 400, self.text[:200]


def session_for(app):
    """A ``requests.Session`` look-alike over Flask's test client of ``app`` (no socket)."""
    client = app.server.test_client()

    class Session:
        def get(self, url, timeout=None):
            return _TestClientResponse(client.get(url.removeprefix("http://test")))

        def post(self, url, json=None, timeout=None):
            return _TestClientResponse(client.post(url.removeprefix("http://test"), json=json))

    return Session


@pytest.fixture(scope="module")
def client_session(served):
    return session_for(served)


# ------------------------------------------------------------------------ settings and debug


def test_settings_defaults_are_safe_and_limits_consistent():
    settings = ServerSettings()
    assert (settings.host, settings.port, settings.debug) == ("127.0.0.1", 8050, False)
    assert (settings.max_request_mb, settings.max_upload_mb, settings.workers) == (64, 20, 4)
    assert settings.max_upload_bytes == 20 * 1024 * 1024
    for name in ("max_request_mb", "max_upload_mb", "map", "maps_root", "workers", "timeout"):
        assert ServerSettings.model_fields[name].description
    with pytest.raises(ValueError, match=r"max_request_mb \(10\) must be at least 27\.667"):
        ServerSettings(max_request_mb=10, max_upload_mb=20)
    with pytest.raises(ValueError, match="max_upload_mb"):
        ServerSettings(max_upload_mb=0)


def test_create_app_never_enables_debug(monkeypatch, small_map):
    monkeypatch.setenv("CHEMMAP_DEBUG", "true")
    app = create_app(map_dir=small_map, maps_root=small_map.parent)
    assert app.server.debug is False
    assert not app._dev_tools.ui and not app._dev_tools.hot_reload and not app._dev_tools.serve_dev_bundles
    page = app.server.test_client().get("/").get_data(as_text=True)
    assert "<title>ChemMap</title>" in page and '"ui":false,"props_check":false' in page


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"output": "nope.children", "inputs": [], "state": []}', b"[1, 2]"])
def test_garbage_callback_requests_get_no_traceback(served, body):
    response = served.server.test_client().post("/_dash-update-component", data=body, content_type="application/json")
    text = response.get_data(as_text=True)
    assert response.status_code in (400, 500)
    assert "Traceback" not in text and "File \"" not in text and len(text) < 1000


class _ServeCalled(Exception):
    pass


def test_serve_binds_loopback_without_debug_by_default(monkeypatch, small_map):
    import dashboard.app

    seen = {}

    class FakeApp:
        def run(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(dashboard.app, "create_app", lambda **kwargs: FakeApp())
    assert cli.main(["serve", "--map", str(small_map)]) == 0
    assert seen == {"host": "127.0.0.1", "port": 8050, "debug": False}


def test_serve_with_workers_runs_gunicorn_on_loopback(monkeypatch, small_map, capsys):
    seen = {}

    def fake_execve(path, command, env):
        seen.update(path=path, command=command, env=env)
        raise _ServeCalled

    monkeypatch.setattr(os, "execve", fake_execve)
    with pytest.raises(_ServeCalled):
        cli.main(["serve", "--map", str(small_map), "--workers", "3"])
    command = " ".join(seen["command"])
    assert "-m gunicorn -c " in command and str(ROOT / "gunicorn.conf.py") in command
    assert "--bind 127.0.0.1:8050 --workers 3" in command
    assert seen["env"]["CHEMMAP_MAP"] == str(small_map.resolve())
    assert cli.main(["serve", "--map", str(small_map), "--workers", "0"]) == 2
    assert "--workers must be between 1 and 64" in capsys.readouterr().err


# ------------------------------------------------------------------------ size limits


def test_an_oversized_request_gets_413_and_a_log_line(served, caplog):
    client = served.server.test_client()
    with caplog.at_level(logging.WARNING, logger="dashboard.app"):
        response = client.post("/_dash-update-component", data=b"x" * (4 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "request too large: 4.0 MB; this server accepts at most 3 MB per request"}
    assert any("refused POST /_dash-update-component" in r.getMessage() and "4.0 MB" in r.getMessage() for r in caplog.records)


def test_a_request_under_the_limit_is_served(served, client_session):
    tab = bench_load.Tab("http://test", session_factory=client_session)
    tab.open()
    assert tab.records and all(r.status == 200 and r.error is None for r in tab.records)


def _upload_props(tab) -> dict:
    return {key.split(".", 1)[1]: value for key, value in tab.values.items() if key.startswith("upload.")}


def test_upload_box_limit_comes_from_the_settings(served, small_map, client_session):
    tab = bench_load.Tab("http://test", session_factory=client_session)
    tab.open()
    assert _upload_props(tab)["max_size"] == 1024 * 1024  # served: max_upload_mb=1

    default = create_app(map_dir=small_map, maps_root=small_map.parent)
    Session = session_for(default)
    tab = bench_load.Tab("http://test", session_factory=Session)
    tab.open()
    assert _upload_props(tab)["max_size"] == 20 * 1024 * 1024


# ------------------------------------------------------------------------ routes


def test_every_route_is_known(served):
    rules = {rule.rule: rule.methods - {"HEAD", "OPTIONS"} for rule in served.server.url_map.iter_rules()}
    assert set(rules) == KNOWN_ROUTES
    assert [rule for rule, methods in rules.items() if "POST" in methods] == ["/_dash-update-component"]
    assert all(methods == {"GET"} for rule, methods in rules.items() if rule != "/_dash-update-component")


ESCAPES = [
    "/assets/../app.py",
    "/assets/%2e%2e/app.py",
    "/assets/..%2fapp.py",
    "/assets/%2e%2e%2fapp.py",
    "/assets/../../../../../../etc/passwd",
    "/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/assets//etc/passwd",
    "/assets/%2fetc%2fpasswd",
    "/assets/..\\app.py",
    "/_dash-component-suites/dash/../../../app.py",
    "/_dash-component-suites/dash/%2e%2e/%2e%2e/%2e%2e/app.py",
    "/_dash-component-suites/dash/../../../../../../etc/passwd",
    "/_dash-component-suites/dash//etc/passwd",
    "/_dash-component-suites/dashboard/app.py",
    "/_dash-component-suites/app/app.py",
    "/_dash-component-suites/os/os.py",
    "/static/../app.py",
    "/app.py",
    "/..%2fapp.py",
    "/etc/passwd",
    "//etc/passwd",
    "/_favicon.ico/../app.py",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_no_route_reads_a_path_from_the_request(live_url, path):
    # http.client sends the path as written (browsers and requests would normalise it first).
    connection = http.client.HTTPConnection(live_url, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    assert APP_SOURCE_MARK not in body and "root:x:0:0" not in body
    if response.status == 200:  # only the page itself (the catch-all route serves it for any address)
        assert "<title>ChemMap</title>" in body
    else:
        assert response.status in (308, 400, 404), (response.status, body[:200])


def test_assets_and_bundles_are_served(live_url):
    for path in ("/assets/chemmap.css", "/_dash-component-suites/dash/dcc/async-upload.js"):
        connection = http.client.HTTPConnection(live_url, timeout=10)
        connection.request("GET", path)
        assert connection.getresponse().status == 200
        connection.close()


@pytest.mark.parametrize("name", ["../small", "..", "/etc", "small/../small", "%2e%2e", "small/", "~", ".hidden", None, 3, ["small"]])
def test_map_names_from_requests_are_never_paths(small_map, name):
    context = AppContext(maps_root=small_map.parent, start_map=small_map)
    with pytest.raises(MapChoiceError):
        context.load(name)
    with pytest.raises(MapChoiceError):
        export.export_file(context, "table", {"map": name, "format": "png", "template": "light"})
    assert context.load("small").name == "small"
    with pytest.raises(MapChoiceError):
        context.load(str(small_map))  # an absolute path is not a name either


def test_a_forged_map_name_gets_a_message_not_a_file(served, client_session, small_map):
    tab = bench_load.Tab("http://test", session_factory=client_session)
    tab.open()
    tab.values["map-name.data"] = "../../../etc"
    tab.click("Fe")
    errors = {r.label: r.error for r in tab.records[-4:]}
    assert "map name '../../../etc' is not valid" in errors["highlight"]
    tab.open("?map=..%2F..%2Fetc")  # a link naming a path: the default map, with a notice
    assert tab.values["map-name.data"] == "small"


def test_no_module_of_the_app_serves_files_by_name():
    sources = "\n".join(p.read_text() for p in (ROOT / "dashboard").rglob("*.py"))
    for call in ("send_file(", "send_from_directory(", "safe_join(", "request.args", "request.files"):
        assert call not in sources, call


# ------------------------------------------------------------------------ WSGI and gunicorn


@pytest.fixture
def restore_numba_layer(monkeypatch):
    """The WSGI module picks numba's threading layer: keep the test process as it was."""
    monkeypatch.setenv("NUMBA_THREADING_LAYER", "placeholder")
    monkeypatch.delenv("NUMBA_THREADING_LAYER")
    if "numba" in sys.modules:
        import numba

        monkeypatch.setattr(numba.config, "THREADING_LAYER", numba.config.THREADING_LAYER)


def test_wsgi_module_exposes_the_configured_app(monkeypatch, small_map, restore_numba_layer):
    monkeypatch.setenv("CHEMMAP_MAP", str(small_map))
    monkeypatch.setenv("CHEMMAP_MAPS_ROOT", str(small_map.parent))
    monkeypatch.setenv("CHEMMAP_MAX_REQUEST_MB", "3")
    monkeypatch.setenv("CHEMMAP_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("CHEMMAP_DEBUG", "true")
    monkeypatch.delitem(sys.modules, "dashboard.wsgi", raising=False)
    wsgi = importlib.import_module("dashboard.wsgi")
    monkeypatch.delitem(sys.modules, "dashboard.wsgi")
    assert wsgi.server is wsgi.app.server and wsgi.server.debug is False and not wsgi.app._dev_tools.ui
    assert wsgi.server.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert os.environ["NUMBA_THREADING_LAYER"] == "forksafe"
    assert wsgi.server.test_client().get("/").status_code == 200
    entries = wsgi.server.extensions["chemmap"].entries()
    assert [e.name for e in entries] == ["small"]


def test_wsgi_refuses_a_broken_map(monkeypatch, tmp_path, restore_numba_layer):
    from data.map_artifact import MapArtifactError

    (tmp_path / "broken").mkdir()
    monkeypatch.setenv("CHEMMAP_MAP", str(tmp_path / "broken"))
    monkeypatch.delitem(sys.modules, "dashboard.wsgi", raising=False)
    with pytest.raises(MapArtifactError, match="no metadata.json"):
        importlib.import_module("dashboard.wsgi")
    monkeypatch.delitem(sys.modules, "dashboard.wsgi", raising=False)


def test_the_default_map_is_never_built_by_two_processes_at_once(monkeypatch, tmp_path, small_map):
    import dashboard.app

    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "cache"))
    inside, most, built = [0], [0], []
    guard = threading.Lock()

    def slow_build():
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        built.append(threading.current_thread().name)
        with guard:
            inside[0] -= 1
        return small_map

    monkeypatch.setattr(cli, "ensure_default_map", slow_build)
    threads = [threading.Thread(target=dashboard.app.start_map, args=(ServerSettings(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # flock locks are per open file, so threads exclude each other like processes do; each
    # waited for the one before (the real builder then finds the map built and returns it).
    assert len(built) == 3 and most[0] == 1
    assert (tmp_path / "cache" / "maps" / dashboard.app.LOCK_NAME).is_file()


def test_gunicorn_builds_the_map_in_the_master_without_preload(monkeypatch, restore_numba_layer):
    import dashboard.app

    calls = []
    monkeypatch.setattr(dashboard.app, "start_map", lambda settings: calls.append(settings))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    class Server:
        class cfg:
            preload_app = True

    config["on_starting"](Server)
    assert calls == []
    Server.cfg.preload_app = False
    config["on_starting"](Server)
    assert len(calls) == 1


def test_gunicorn_configuration(monkeypatch, restore_numba_layer):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert os.environ["NUMBA_THREADING_LAYER"] == "forksafe"
    assert config["bind"] == ["127.0.0.1:8050"] and config["workers"] == 4
    assert config["wsgi_app"] == "dashboard.wsgi:server" and config["preload_app"] is True
    assert config["timeout"] == 120 and config["worker_class"] == "sync"
    assert config["limit_request_line"] == 8190 and config["limit_request_field_size"] == 8190 and config["limit_request_fields"] == 100
    assert config["control_socket_disable"] is True
    monkeypatch.setenv("CHEMMAP_WORKERS", "2")
    monkeypatch.setenv("CHEMMAP_PORT", "9001")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["bind"] == ["127.0.0.1:9001"] and config["workers"] == 2


# ------------------------------------------------------------------------ the load bench's requests


def test_bench_requests_are_the_apps_real_callbacks(served, client_session):
    tab = bench_load.Tab("http://test", session_factory=client_session, keep_answers=True)
    tab.open()
    facts = tab.map_facts()
    assert facts.name == "small" and facts.n_points == 384 and "band_gap" in facts.colours
    tab.click("Fe")
    tab.click("O")
    tab.colour("kind")
    tab.tag = "search-known"
    tab.search("FeO")
    tab.tag = "search-new"
    tab.search("Li5Ga3S7")
    tab.tag = ""
    import random

    rows = bench_load.lasso_rows(facts, random.Random(0))
    assert rows
    tab.lasso(rows)
    labels = {r.label for r in tab.records}
    assert {"open/page", "open/map-figure", "open/heatmap", "periodic-table", "highlight", "similarity", "address", "map-figure",
            "search-known", "search-new", "details", "map-figure-patch", "lasso", "selection-table"} <= labels  # fmt: skip
    assert [(r.label, r.error) for r in tab.records if r.error or r.status not in (200, 204)] == []
    assert tab.values["selected-elements.data"] == ["Fe", "O"]
    assert tab.values["highlight-count.children"].startswith("3 of 384 compounds (0.8%) contain all of Fe, O")
    assert tab.values["search-result.data"]["status"] == "placed"
    assert tab.values["selection-rows.data"] == sorted(rows)
    assert bench_load.error_in({"props": {"className": "message error", "children": "bad"}}) == "bad"
    assert bench_load.is_loopback_url("http://127.0.0.1:8050") and bench_load.is_loopback_url("http://[::1]:80/")
    assert not bench_load.is_loopback_url("http://127.0.0.1.example.com/") and not bench_load.is_loopback_url("http://10.0.0.1:8050")
    assert bench_load.error_in({"data": [], "layout": {"annotations": [{"text": "why"}]}}) == "why"


# ------------------------------------------------------------------------ two servers, one answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _upload_csv() -> bytes:
    return b"formula,note\nLiFeO2,a\nNa5Ti3S11,b\nXx2O,c\nKCl,d\n"


def _run_script(tab) -> list:
    """The scripted session of one user in ``tab``: its (label, answer) pairs in order."""
    import random

    tab.open()
    facts = tab.map_facts()
    tab.click("Fe")
    tab.click("O")
    tab.act({"highlight-mode.value": "any"})
    tab.colour("kind")
    tab.search("Li1O1")  # a compound of the map
    tab.search("Li5Ga3S7")  # a new one, placed by the projector
    tab.search("Rb3Sc2F11")
    tab.lasso(bench_load.lasso_rows(facts, random.Random(1)))
    tab.upload("mine.csv", _upload_csv())
    tab.click("Fe")
    return tab.answers


def _scripted_session(url: str) -> list:
    return _run_script(bench_load.Tab(url, keep_answers=True, timeout=60))


class _AlternatingTab(bench_load.Tab):
    """One browser tab behind a load balancer: its k-th callback request goes to ``urls[k % len(urls)]``."""

    def __init__(self, urls: list[str], **kwargs):
        self.urls = [url.rstrip("/") for url in urls]
        self.sent_to: list[str] = []
        super().__init__(self.urls[0], **kwargs)

    def post(self, callback, changed):
        self.base_url = self.urls[len(self.sent_to) % len(self.urls)]
        self.sent_to.append(self.base_url)
        return super().post(callback, changed)


@pytest.fixture(scope="module")
def two_servers(small_map):
    """Two independent one-worker gunicorn servers (the production configuration) on loopback ports."""
    pytest.importorskip("gunicorn")
    servers = []
    try:
        for _ in range(2):
            port = _free_port()
            servers.append(
                bench_load.Server(
                    [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                    env={**bench_load.server_env(small_map), "CHEMMAP_MAPS_ROOT": str(small_map.parent)},
                    port=port,
                    log_path=small_map.parent / f"gunicorn-{len(servers)}.log",
                    start_timeout=120,
                )
            )
        yield servers
    finally:
        for server in servers:
            server.stop()


def _assert_same_answers(first: list, second: list) -> None:
    assert [label for label, _ in first] == [label for label, _ in second]
    for (label, one), (_, other) in zip(first, second):
        assert one == other, label


@pytest.mark.slow
def test_two_server_processes_give_the_same_answers(two_servers):
    first, second = (_scripted_session(server.url) for server in two_servers)
    # Nothing is removed before comparing: no answer carries a time, a process id or a random id.
    _assert_same_answers(first, second)
    answers = dict(first)
    assert answers["search"]["response"]["search-result"]["data"]["status"] == "placed"
    assert "mine.csv: 3 compounds placed on the map (diamonds), 1 rows skipped." in json.dumps(answers["upload"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_one_session_alternating_between_two_servers_gets_the_answers_of_one(two_servers):
    """Request k of one user goes to server k % 2, as behind a round-robin balancer: the page
    from one, its figures from the other, a search on one and the map's zoom to it on the
    other, a lasso on one and the table of its rows on the other... Every answer equals the
    one a single server gives, so nothing depends on a worker's own state. The session runs
    twice, starting on either server, so each request is answered by both."""
    a, b = (server.url for server in two_servers)
    single = _scripted_session(a)
    served_by: dict[str, set[str]] = {}
    for order in ([a, b], [b, a]):
        tab = _AlternatingTab(order, keep_answers=True, timeout=60)
        alternating = _run_script(tab)
        assert len(tab.sent_to) >= 20 and tab.sent_to == [order[k % 2] for k in range(len(tab.sent_to))]
        for (label, _), url in zip(alternating, tab.sent_to):
            served_by.setdefault(label, set()).add(url)
        _assert_same_answers(alternating, single)
    assert all(urls == {a, b} for urls in served_by.values()), served_by
    assert {"open/page", "search", "details", "map-figure-patch", "lasso", "selection-table", "upload"} <= set(served_by)
    answers = dict(single)
    assert answers["search"]["response"]["search-result"]["data"]["status"] == "placed"
    assert "mine.csv: 3 compounds placed on the map (diamonds), 1 rows skipped." in json.dumps(answers["upload"])
