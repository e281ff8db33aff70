"""The export dialog: any figure as PNG, SVG or PDF, rebuilt on the server from the view state.

The materials map is exported with SVG markers (``webgl=False``), so SVG and PDF hold one
vector shape per compound, never a raster of the WebGL canvas; when the map is zoomed, only
the compounds in the visible window are exported.
"""

from __future__ import annotations

import logging

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.export import FORMATS, ExportError, export_figure
from dashboard.state import LAYOUTS, MODES, OPACITY_RANGE, ORDERS, SIZE_RANGE, THEMES

log = logging.getLogger(__name__)

#: Vector exports of more markers than this make files too large to open comfortably.
MAX_VECTOR_POINTS = 150_000


def export_options(values: dict) -> dict:
    """Validated ``export_figure`` options from the dialog's fields."""
    return {
        "fmt": validate.choice(values.get("format"), FORMATS, name="format"),
        "width": _int_or_none(validate.number(values.get("width"), name="width", low=200, high=6000, allow_none=True)),
        "height": _int_or_none(validate.number(values.get("height"), name="height", low=200, high=6000, allow_none=True)),
        "scale": validate.number(values.get("scale"), name="scale", low=0.5, high=8, allow_none=True),
        "font_size": validate.number(values.get("font"), name="font size", low=6, high=48, allow_none=True),
    }


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(round(value))


#: Figures whose tiles or cells are sized in pixels from the figure's width: an export at another
#: width rebuilds them at that width (their height follows from it).
SIZED_FROM_WIDTH = ("table", "heatmap")


def figure_to_export(context, target: str, values: dict):
    """The figure ``target`` in the export theme, rebuilt from the page's state."""
    loaded = context.load(values.get("map"))
    theme = validate.choice(values.get("template"), THEMES, name="template")
    width = _int_or_none(validate.number(values.get("width"), name="width", low=200, high=6000, allow_none=True))
    if target == "table":
        return build.table_figure(
            loaded,
            layout=validate.choice(values.get("layout"), LAYOUTS, name="layout"),
            color=validate.choice(values.get("table_color"), [o["value"] for o in build.table_color_options(loaded)], name="colouring"),
            elements=validate.elements(values.get("elements")),
            selection_rows=validate.rows(values.get("selection"), loaded.n_points),
            theme=theme,
            **({"width": width, "max_height": None} if width else {}),
        )
    if target == "similarity":
        return build.similarity_figure(loaded, validate.element(values.get("element")), theme=theme)
    if target == "heatmap":
        return build.heatmap_figure(loaded, order=validate.choice(values.get("order"), ORDERS, name="order"), theme=theme, width=width)
    if target == "map":
        view = values.get("view") if isinstance(values.get("view"), dict) else {}
        x_range, y_range = validate.axis_range(view.get("x")), validate.axis_range(view.get("y"))
        rows = build.visible_rows(loaded, x_range, y_range)
        n_markers = loaded.n_points if rows is None else rows.size
        if values.get("format") in ("svg", "pdf") and n_markers > MAX_VECTOR_POINTS:
            raise validate.InputError(
                f"the visible map holds {n_markers:,} compounds; vector export is limited to {MAX_VECTOR_POINTS:,} markers "
                "(the file would be too large): zoom in, or export PNG"
            )
        symbols = validate.elements(values.get("elements"))
        mode = validate.choice(values.get("mode"), MODES, name="highlight mode")
        color = values.get("color")
        if color not in loaded.color_columns:
            raise validate.InputError(f"this map has no column {str(color)[:40]!r} to colour by")
        return build.map_figure(
            loaded,
            color=color,
            cmin=validate.number(values.get("cmin"), name="colour minimum", low=-1e12, high=1e12, allow_none=True),
            cmax=validate.number(values.get("cmax"), name="colour maximum", low=-1e12, high=1e12, allow_none=True),
            size=validate.number(values.get("size"), name="point size", low=SIZE_RANGE[0], high=SIZE_RANGE[1]),
            opacity=validate.number(values.get("opacity"), name="opacity", low=OPACITY_RANGE[0] - 0.05, high=OPACITY_RANGE[1]),
            theme=theme,
            highlight=loaded.highlight(symbols, mode) if symbols else None,
            search=validate.search_result(values.get("search"), loaded.n_points),
            upload=validate.overlay(values.get("upload")),
            focus=validate.focus(values.get("focus"), loaded.n_points),
            x_range=x_range,
            y_range=y_range,
            webgl=False,
            rows=rows,
        )
    raise validate.InputError(f"unknown figure {str(target)[:40]!r} to export")


def export_file(context, target: object, values: dict) -> tuple[bytes, str]:
    """The exported bytes and a file name."""
    target = validate.choice(target, tuple(ids.EXPORT_TARGETS), name="figure")
    options = export_options(values)
    figure = figure_to_export(context, target, values)
    if target in SIZED_FROM_WIDTH:
        options["height"] = None  # the rebuilt figure's own height keeps tiles and cells square
    try:
        data = export_figure(figure, **options)
    except ExportError as err:
        raise validate.InputError(str(err)) from None
    return data, f"chemmap-{values.get('map')}-{target}.{options['fmt']}"


EXPORT_STATES = (
    ("format", ids.EXPORT_FORMAT, "value"),
    ("width", ids.EXPORT_WIDTH, "value"),
    ("height", ids.EXPORT_HEIGHT, "value"),
    ("scale", ids.EXPORT_SCALE, "value"),
    ("font", ids.EXPORT_FONT, "value"),
    ("template", ids.EXPORT_TEMPLATE, "value"),
    ("map", ids.MAP_NAME, "data"),
    ("layout", ids.TABLE_LAYOUT, "value"),
    ("table_color", ids.TABLE_COLOR, "value"),
    ("elements", ids.SELECTED_ELEMENTS, "data"),
    ("mode", ids.MODE, "value"),
    ("selection", ids.SELECTION_ROWS, "data"),
    ("element", ids.SIM_ELEMENT, "value"),
    ("order", ids.HEATMAP_ORDER, "value"),
    ("color", ids.MAP_COLOR, "value"),
    ("cmin", ids.MAP_CMIN, "value"),
    ("cmax", ids.MAP_CMAX, "value"),
    ("size", ids.MAP_SIZE, "value"),
    ("opacity", ids.MAP_OPACITY, "value"),
    ("search", ids.SEARCH_RESULT, "data"),
    ("upload", ids.UPLOAD_OVERLAY, "data"),
    ("focus", ids.FOCUS, "data"),
    ("view", ids.MAP_VIEW, "data"),
)


def register(app, context) -> None:
    @app.callback(
        Output(ids.EXPORT, "className"),
        Output(ids.EXPORT_TARGET, "data"),
        Output(ids.EXPORT_TITLE, "children"),
        Output(ids.EXPORT_MESSAGE, "children", allow_duplicate=True),
        Input({"type": ids.EXPORT_OPEN, "target": ALL}, "n_clicks"),
        Input(ids.EXPORT_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_dialog(_opens, _close):
        triggered = ctx.triggered_id
        if triggered == ids.EXPORT_CLOSE:
            return "modal", no_update, no_update, ""
        if not isinstance(triggered, dict) or not any(t.get("value") for t in ctx.triggered):
            return no_update, no_update, no_update, no_update
        target = triggered.get("target")
        if not isinstance(target, str) or target not in ids.EXPORT_TARGETS:
            log.warning("export dialog: refused unknown figure %s", validate.shortened(repr(target)))
            return no_update, no_update, no_update, no_update
        return "modal open", target, f"Figure: {ids.EXPORT_TARGETS[target]}", ""

    @app.callback(
        Output(ids.EXPORT_DOWNLOAD, "data"),
        Output(ids.EXPORT_MESSAGE, "children"),
        Input(ids.EXPORT_GO, "n_clicks"),
        State(ids.EXPORT_TARGET, "data"),
        [State(component, prop) for _, component, prop in EXPORT_STATES],
        prevent_initial_call=True,
    )
    @validate.guarded(lambda message: (no_update, html.Span(message, className="error")))
    def download(_clicks, target, *values):
        data, filename = export_file(context, target, dict(zip((name for name, _, _ in EXPORT_STATES), values)))
        return dcc.send_bytes(data, filename), html.Span(f"Exported {filename} ({len(data) / 1024:,.0f} kB).", className="ok")
