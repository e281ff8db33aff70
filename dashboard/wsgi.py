"""WSGI entry point for production servers: ``gunicorn dashboard.wsgi:server``.

Configured from the environment (:class:`dashboard.settings.ServerSettings`, ``CHEMMAP_``
prefix): ``CHEMMAP_MAP`` (the map opened first; default the built-in map),
``CHEMMAP_MAPS_ROOT`` (the folder of selectable maps), ``CHEMMAP_MAX_REQUEST_MB`` and
``CHEMMAP_MAX_UPLOAD_MB``. ``gunicorn.conf.py`` at the repository root (read by gunicorn
when started from there) adds the bind address, the number of workers and the limits.

Importing this module builds the built-in default map if it is missing (about 3 minutes,
once; :func:`dashboard.app.start_map`), under a file lock, so that processes importing it at
the same time never build it concurrently: one builds, the others wait and then load it.
With ``preload_app`` (the default in ``gunicorn.conf.py``) the import happens once, in
gunicorn's master process, before the workers fork; the master also loads the start map and
compiles the placement of new formulas, and every worker inherits both. Without it, the
configuration's ``on_starting`` hook builds the map in the master first, so that no worker is
stopped by gunicorn's timeout in the middle of a build.

Exposes ``app`` (the Dash app) and ``server`` (its Flask app, the WSGI callable). Nothing a
worker keeps between requests changes its answers: maps are immutable files cached per
process, and per-user state (selections, overlays, searches) lives in the browser.
"""

from __future__ import annotations

import logging
import os
import sys


def _fork_safe_numba() -> None:
    """Make numba's parallel code survive gunicorn's fork of the workers.

    The master runs the placement code once before forking (``warm_up``). Numba's default
    threading layer on Linux is GNU OpenMP, and a worker forked from a process that used it
    is terminated the moment it runs parallel code itself ("fork() called from a process
    already using GNU OpenMP"). ``forksafe`` picks TBB when installed, else numba's own
    workqueue; both survive a fork. A layer chosen by the user is kept.
    """
    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    os.environ["NUMBA_THREADING_LAYER"] = "forksafe"
    if "numba" in sys.modules:  # numba read its configuration at import
        import numba

        numba.config.THREADING_LAYER = "forksafe"


_fork_safe_numba()

from dashboard.app import create_app, start_map, warm_up  # noqa: E402
from dashboard.settings import ServerSettings  # noqa: E402

log = logging.getLogger(__name__)


def build(settings: ServerSettings | None = None):
    """The production app: its start map ensured, loaded and warmed up in this process."""
    if not logging.getLogger().handlers:  # gunicorn configures only its own loggers
        logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    settings = settings or ServerSettings()
    if settings.debug:
        log.warning("CHEMMAP_DEBUG is ignored by the production server: Dash debug mode stays off")
    dash_app = create_app(map_dir=start_map(settings), maps_root=settings.maps_root, settings=settings)
    warm_up(dash_app)
    return dash_app


app = build()
server = app.server
