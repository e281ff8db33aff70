"""Static export of figures (PNG, SVG, PDF) and of table rows (CSV): every quirk in one place.

How rendering works
-------------------
plotly renders static images with kaleido 1.x, which drives a headless Chrome/Chromium over
the DevTools protocol and loads plotly.js from the installed plotly package (no CDN). The
browser is found by :func:`find_chromium` and handed to kaleido explicitly:

1. ``$BROWSER_PATH`` if set (kaleido/choreographer's own variable); it must be executable;
2. ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable``, ``chrome``
   on ``PATH``;
3. the usual install locations (``/usr/bin/chromium`` ..., macOS application bundles).

kaleido is never asked to download a browser. On Debian/Ubuntu:
``apt-get install -y --no-install-recommends chromium fonts-liberation fonts-dejavu-core``.

One browser is started on the first export and reused (first export ~3 s, later ones
~0.2 s); :func:`close_browser` stops it (also done at interpreter exit). Exports are
serialised by a lock, so concurrent Dash callbacks are safe.

Quirks handled here
-------------------
- WebGL traces (``Scattergl``) are drawn by plotly.js into a canvas, which ends up as an
  embedded raster ``<image>`` in SVG/PDF. :func:`to_vector_figure` swaps them for ``Scatter``
  (identical properties) so every marker is a vector path. A million SVG markers make a
  file of ~100 MB: export subsets, or PNG, for very large maps.
- Heatmaps stay one raster image in every format (plotly.js draws them so); with one pixel
  per cell they stay sharp.
- MathJax is disabled (it would be fetched from a CDN; our figures use no LaTeX).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from dashboard import theme as th

FORMATS = ("png", "svg", "pdf")
VECTOR_FORMATS = ("svg", "pdf")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv"}
DEFAULT_WIDTH = 1200
DEFAULT_HEIGHT = 800
#: PNG pixels per layout pixel unless told otherwise: sharp on slides and in print.
DEFAULT_PNG_SCALE = 2.0
DEFAULT_TIMEOUT = 180.0
#: Vector export writes one path per marker: 100k markers take ~20 s and ~20 MB of SVG
#: (measured), so beyond this a PNG or a subset is the sensible choice.
MAX_VECTOR_POINTS = 300_000

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_PATHS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
INSTALL_HINT = (
    "Static export (PNG/SVG/PDF) needs Chrome or Chromium, which kaleido drives. Install it, e.g. on "
    "Debian/Ubuntu: `apt-get install -y --no-install-recommends chromium fonts-liberation fonts-dejavu-core`, "
    "or point BROWSER_PATH at a Chrome/Chromium executable. CSV export works without it."
)
_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<svg", "pdf": b"%PDF"}
#: Spreadsheets run cells starting with these as formulas.
_CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(RuntimeError):
    """A figure could not be exported."""


class ChromiumNotFoundError(ExportError):
    """No Chrome/Chromium for kaleido; the message says what to install."""


def find_chromium() -> str | None:
    """Path of the Chrome/Chromium kaleido will use, or None (see the module docstring).

    Raises
    ------
    ChromiumNotFoundError
        When ``BROWSER_PATH`` is set but is not an executable file (a typo should not fall
        back silently to another browser).
    """
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise ChromiumNotFoundError(f"BROWSER_PATH={configured!r} is not an executable file. {INSTALL_HINT}")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for path in CHROMIUM_PATHS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def to_vector_figure(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` with every ``Scattergl`` replaced by a ``Scatter`` with the same properties.

    ``Scatter`` accepts every ``Scattergl`` property, so nothing is lost; SVG/PDF export then
    writes one vector path per marker instead of an embedded raster image.
    """
    if not isinstance(fig, go.Figure):
        fig = go.Figure(fig)
    data = []
    for trace in fig.data:
        if isinstance(trace, go.Scattergl):
            properties = trace.to_plotly_json()
            properties.pop("type", None)
            data.append(go.Scatter(properties))
        else:
            data.append(trace)
    return go.Figure(data=data, layout=fig.layout, frames=fig.frames)


class _Browser:
    """One kaleido browser on a private event loop thread, reused across exports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._timeout = DEFAULT_TIMEOUT

    def _run(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def _open(self, timeout: float) -> None:
        try:
            import kaleido
        except ImportError:
            raise ExportError("static export needs kaleido: pip install kaleido==1.5.0") from None
        path = find_chromium()
        if path is None:
            raise ChromiumNotFoundError(f"no Chrome/Chromium found. {INSTALL_HINT}")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chemmap-kaleido", daemon=True)
        self._thread.start()

        async def start():
            browser = kaleido.Kaleido(path=path, mathjax=False, n=1, timeout=timeout)
            await browser.__aenter__()
            return browser

        try:
            self._kaleido = self._run(start(), timeout)
        except Exception as error:
            self._shutdown_loop()
            if type(error).__name__ == "ChromeNotFoundError":
                raise ChromiumNotFoundError(f"kaleido could not start {path}: {error}. {INSTALL_HINT}") from None
            raise ExportError(f"could not start the browser {path} for export: {error!r}. {INSTALL_HINT}") from error
        self._timeout = timeout

    def _shutdown_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        if self._loop is not None and not self._loop.is_running():
            self._loop.close()
        self._loop = self._thread = self._kaleido = None

    def close(self) -> None:
        with self._lock:
            self._close_unlocked()

    def _close_unlocked(self) -> None:
        if self._kaleido is not None:
            # The browser may already be gone; stop the loop anyway.
            with contextlib.suppress(Exception):
                self._run(self._kaleido.__aexit__(None, None, None), 15)
        if self._loop is not None:
            self._shutdown_loop()

    def render(self, figure: dict, options: dict, timeout: float) -> bytes:
        with self._lock:
            if self._kaleido is not None and timeout > self._timeout:
                self._close_unlocked()  # kaleido's per-render timeout is fixed when it opens
            if self._kaleido is None:
                self._open(timeout)
            try:
                return self._run(self._kaleido.calc_fig(figure, opts=options), timeout + 5)
            except concurrent.futures.TimeoutError:
                self._close_unlocked()
                raise ExportError(
                    f"export took longer than {timeout:g} s (a very large figure? try PNG or fewer points)"
                ) from None
            except Exception as error:
                # A crashed or wedged browser is restarted on the next export.
                self._close_unlocked()
                raise ExportError(f"export failed: {error!r}") from error


_BROWSER = _Browser()
atexit.register(_BROWSER.close)


def close_browser() -> None:
    """Stop the export browser (the next export starts a new one)."""
    _BROWSER.close()


def _resolve_template(template: str) -> str:
    if template in th.THEMES:
        return th.template_name(template)
    return template


def _base_font_size(spec: dict) -> float:
    layout = spec.get("layout", {})
    template_font = layout.get("template", {}).get("layout", {}).get("font", {})
    return float(layout.get("font", {}).get("size") or template_font.get("size") or 12)


def _scale_font_sizes(node, factor: float, *, inside_font: bool = False) -> None:
    """Multiply every ``size`` of a font-like dict (font, tickfont, textfont...) in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "size" and inside_font and isinstance(value, (int, float)):
                node[key] = round(value * factor, 2)
            else:
                _scale_font_sizes(value, factor, inside_font=key.endswith("font"))
    elif isinstance(node, list):
        for item in node:
            _scale_font_sizes(item, factor)


def _set_font_families(node, family: str, *, inside_font: bool = False) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "family" and inside_font:
                node[key] = family
            else:
                _set_font_families(value, family, inside_font=key.endswith("font"))
    elif isinstance(node, list):
        for item in node:
            _set_font_families(item, family)


def restyle_fonts(spec: dict, *, size: float | None = None, family: str | None = None) -> dict:
    """Change the fonts of a figure dict (``fig.to_dict()``), in place, and return it.

    ``size`` becomes the base font size, and every font size set in the layout, the template
    and the colour bars is scaled by the same factor (titles, ticks, legends, annotations keep
    their proportions). Text drawn inside marks (tile labels, bar values) keeps its size,
    because it was sized to fit them. ``family`` replaces every font family, marks included.
    """
    if size is not None:
        factor = size / _base_font_size(spec)
        layout = spec.setdefault("layout", {})
        _scale_font_sizes(layout, factor)
        layout.setdefault("font", {})["size"] = size
        for trace in spec.get("data", []):
            for container in (trace, trace.get("marker", {})):
                if isinstance(container.get("colorbar"), dict):
                    _scale_font_sizes(container["colorbar"], factor)
    if family is not None:
        spec.setdefault("layout", {}).setdefault("font", {})["family"] = family
        _set_font_families(spec, family)
    return spec


def export_figure(
    fig: go.Figure,
    *,
    fmt: str = "png",
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
    font_size: float | None = None,
    font_family: str | None = None,
    template: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_vector_points: int = MAX_VECTOR_POINTS,
) -> bytes:
    """Render ``fig`` to PNG, SVG or PDF bytes.

    Parameters
    ----------
    fig : go.Figure
        Not modified.
    fmt : {"png", "svg", "pdf"}
        SVG and PDF are vector: WebGL traces are converted first (:func:`to_vector_figure`).
    width, height : int, optional
        Size in layout pixels; default: the figure's own, else 1200 x 800.
    scale : float, optional
        Pixels per layout pixel (PNG resolution); default 2 for PNG, 1 for SVG/PDF.
    font_size, font_family : optional
        Override the figure's base font (e.g. larger text for a paper column).
    template : str, optional
        "light", "dark" or any registered plotly template name. Colours set explicitly on
        traces keep their values: rebuild the figure with ``theme=`` for a full theme change.
    timeout : float
        Seconds allowed for the rendering.
    max_vector_points : int
        SVG/PDF export refuses figures with more markers than this (one vector path each:
        100k markers take ~20 s and make ~20 MB of SVG); export PNG or a subset instead.

    Raises
    ------
    ValueError
        Bad format, size or scale, or too many markers for a vector format.
    ChromiumNotFoundError
        No browser to render with (the message says what to install).
    ExportError
        Rendering failed or timed out.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if not isinstance(fig, go.Figure):
        raise TypeError(f"fig must be a plotly go.Figure, got {type(fig).__name__}")
    width = int(width or fig.layout.width or DEFAULT_WIDTH)
    height = int(height or fig.layout.height or DEFAULT_HEIGHT)
    if width < 10 or height < 10:
        raise ValueError(f"width and height must be at least 10 px, got {width} x {height}")
    scale = float(scale if scale is not None else (DEFAULT_PNG_SCALE if fmt == "png" else 1.0))
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if font_size is not None and not font_size > 0:
        raise ValueError(f"font_size must be positive, got {font_size}")
    if fmt in VECTOR_FORMATS:
        markers = sum(
            len(trace.x) for trace in fig.data if isinstance(trace, (go.Scatter, go.Scattergl)) and trace.x is not None
        )
        if markers > max_vector_points:
            raise ValueError(
                f"{fmt.upper()} export of {markers:,} markers would write one vector path each (about "
                f"{markers * 200 / 1e6:,.0f} MB); export PNG, or a subset of at most {max_vector_points:,} points"
            )
    figure = to_vector_figure(fig) if fmt in VECTOR_FORMATS else go.Figure(fig)
    if template is not None:
        figure.update_layout(template=_resolve_template(template))
    spec = restyle_fonts(figure.to_dict(), size=font_size, family=font_family)
    options = {"format": fmt, "width": width, "height": height, "scale": scale}
    image = _BROWSER.render(spec, options, timeout)
    if not isinstance(image, (bytes, bytearray)) or not bytes(image[:16]).lstrip().startswith(_MAGIC[fmt]):
        raise ExportError(f"the browser returned something that is not a {fmt.upper()} file ({bytes(image[:16])!r}...)")
    return bytes(image)


def write_figure(fig: go.Figure, target: str | os.PathLike, **options) -> Path:
    """Export ``fig`` to a file atomically; the format comes from the suffix unless ``fmt`` is given."""
    from fingerprints.io import atomic_write

    target = Path(target)
    fmt = options.pop("fmt", target.suffix.lstrip(".").lower())
    atomic_write(target, export_figure(fig, fmt=fmt, **options))
    return target


def _neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula with a quote."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            text = frame[column]
            risky = text.astype(str).str.startswith(_CSV_FORMULA_PREFIXES) & text.notna()
            if risky.any():
                frame[column] = text.astype(object).where(~risky, "'" + text.astype(str))
    return frame


def export_table_csv(points: pd.DataFrame, ids: Sequence[str] | None = None) -> bytes:
    """UTF-8 CSV of the rows of ``points`` whose ``id`` is in ``ids`` (all rows if None).

    Rows keep the order of ``points``; every column is written. Text cells that a
    spreadsheet would evaluate (starting with ``= + - @``) are prefixed with a quote.

    Raises
    ------
    ValueError
        When ``points`` has no ``id`` column or some ``ids`` are not in it.
    """
    if not isinstance(points, pd.DataFrame):
        raise TypeError(f"points must be a DataFrame, got {type(points).__name__}")
    if "id" not in points.columns:
        raise ValueError(f"points has no 'id' column (columns: {list(points.columns)})")
    if ids is None:
        rows = points
    else:
        wanted = pd.Index(pd.unique(pd.Series(list(ids), dtype=object).astype(str)))
        point_ids = points["id"].astype(str)
        keep = point_ids.isin(wanted).to_numpy()
        unknown = wanted.difference(pd.Index(point_ids[keep].unique()))
        if len(unknown):
            raise ValueError(f"{len(unknown)} id(s) are not in the table, e.g. {list(unknown[:5])}")
        rows = points[keep]
    return _neutralise_formulas(rows).to_csv(index=False, lineterminator="\n").encode("utf-8")
