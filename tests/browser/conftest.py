"""Browser tests: one app server and one headless Chromium shared by the whole session.

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) and selenium (from ``dash[testing]``); skips with the reason when
they are missing. WebGL runs on SwiftShader (software), so scattergl draws without a GPU.
Screenshots at 1920x1080 go to ``build/screenshots/``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.browser.maps import build_test_map
ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = os.environ.get("CHEMMAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHEMMAP_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = Path(os.environ.get("CHEMMAP_SCREENSHOTS", ROOT / "build" / "screenshots"))
WIDTH, HEIGHT = 1920, 1080
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def browser_maps_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "maps"
    build_test_map(root, "small")
    build_test_map(root, "binaries", ternaries=False)
    return root


@pytest.fixture(scope="session")
def app_server(browser_maps_root):
    """The app on a free loopback port, in a thread (werkzeug, threaded)."""
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    app = create_app(map_dir=browser_maps_root / "small", maps_root=browser_maps_root)
    server = make_server("127.0.0.1", _free_port(), app.server, threaded=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    thread = threading.Thread(target=server.serve_forever, name="chemmap-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    from dashboard.export import close_browser

    close_browser()


@pytest.fixture(scope="session")
def download_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def driver(download_dir):
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(f"browser tests need {CHROMIUM} and {CHROMEDRIVER}: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (pip install 'dash[testing]==4.4.1')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False})
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    chrome.set_script_timeout(30)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
