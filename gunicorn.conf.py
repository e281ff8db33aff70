"""gunicorn settings for serving ChemMap in production (read by gunicorn when started here).

    gunicorn                                  # 127.0.0.1:8050, CHEMMAP_WORKERS (4) workers
    CHEMMAP_WORKERS=8 CHEMMAP_PORT=8080 gunicorn
    gunicorn --bind 127.0.0.1:9000 --workers 2 dashboard.wsgi:server   # options on the command line win

Defaults come from :class:`dashboard.settings.ServerSettings` (``CHEMMAP_`` environment
variables), the same settings ``python app.py serve`` reads. The app is loaded once in the
master process before the workers fork (``preload_app``): the built-in map is built there at
the first start (never by several workers at once), and the start map is loaded and warmed
up there, so the workers share it instead of loading it each.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Numba's default threading layer here (GNU OpenMP) does not survive a fork, and the master
# runs numba code before forking (building the default map, warming up): dashboard/wsgi.py.
os.environ.setdefault("NUMBA_THREADING_LAYER", "forksafe")

from dashboard.settings import ServerSettings  # noqa: E402

_settings = ServerSettings()

wsgi_app = "dashboard.wsgi:server"
chdir = str(ROOT)
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
# Synchronous workers: one request at a time each, so a slow request (an export) never slows
# the others in its process; the browser's parallel requests spread over the workers.
worker_class = "sync"
preload_app = True
timeout = _settings.timeout
graceful_timeout = 30
# Request line: a shared link's query string may be 4,000 characters (dashboard.state).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Request bodies are limited by the app itself (CHEMMAP_MAX_REQUEST_MB -> 413).
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "chemmap"
# No control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is shared by every gunicorn
# of the user, so two servers (a second map, a test) would take it from each other.
control_socket_disable = True


def on_starting(server):
    """Without ``preload_app``, build the built-in map here, in the master, before any worker.

    A worker that builds it would be stopped by ``timeout`` long before the 3-minute build
    ends. With ``preload_app`` the map was built while the app was loaded, just before this.
    """
    if server.cfg.preload_app:
        return
    from dashboard.app import start_map

    start_map(ServerSettings())
