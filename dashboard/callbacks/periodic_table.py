"""The periodic table: its figure, and clicks on tiles selecting elements (in the browser)."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, ctx, no_update

from dashboard.callbacks import build, validate
from dashboard.components import ids
from dashboard.state import LAYOUTS, THEMES


def table_color_value(value: object, loaded) -> str:
    allowed = [o["value"] for o in build.table_color_options(loaded)]
    return validate.choice(value, allowed, name="periodic-table colouring")


def register(app, context) -> None:
    @app.callback(
        Output(ids.TABLE_GRAPH, "figure"),
        Output(ids.TABLE_GRAPH, "animate"),
        Input(ids.TABLE_LAYOUT, "value"),
        Input(ids.TABLE_COLOR, "value"),
        Input(ids.SELECTED_ELEMENTS, "data"),
        Input(ids.SELECTION_ROWS, "data"),
        Input(ids.THEME, "value"),
        State(ids.MAP_NAME, "data"),
    )
    @validate.guarded(lambda message: (build.message_figure(message), False))
    def table(layout, color, elements, selection_rows, theme, map_name):
        loaded = context.load(map_name)
        color = table_color_value(color, loaded)
        if ctx.triggered_id == ids.SELECTION_ROWS and color != "selection":
            return no_update, no_update
        view = {
            "layout": validate.choice(layout, LAYOUTS, name="layout"),
            "color": color,
            "elements": validate.elements(elements),
            "selection_rows": validate.rows(selection_rows, loaded.n_points),
            "theme": validate.choice(theme, THEMES, name="theme"),
        }
        if set(ctx.triggered_prop_ids.values()) == {ids.SELECTED_ELEMENTS}:  # a tile click: only the outlines change
            return build.table_outline_patch(loaded, **view), False
        # Only a change of layout slides the tiles (Plotly.animate); anything else is redrawn,
        # since an animation keeps the old colour bar and outlines.
        animate = ctx.triggered_id == ids.TABLE_LAYOUT
        return build.table_figure_dict(loaded, **view), animate

    # Plotly.animate slides the tiles but keeps the old figure height and tile size: once the
    # slide is over, the browser redraws the table with the full new figure.
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="settleAfterAnimation"),
        Output(ids.TABLE_SETTLED, "data"),
        Input(ids.TABLE_GRAPH, "figure"),
        State(ids.TABLE_GRAPH, "animate"),
        State(ids.TABLE_GRAPH, "animation_options"),
        prevent_initial_call=True,
    )

    # A click toggles the element in the browser (no round trip before the highlight request);
    # the server validates the list when it computes the highlight.
    app.clientside_callback(
        ClientsideFunction(namespace="chemmap", function_name="toggleElement"),
        Output(ids.SELECTED_ELEMENTS, "data"),
        Output(ids.SIM_ELEMENT, "value"),
        Input(ids.TABLE_GRAPH, "clickData"),
        Input(ids.CLEAR_ELEMENTS, "n_clicks"),
        State(ids.SELECTED_ELEMENTS, "data"),
        prevent_initial_call=True,
    )
